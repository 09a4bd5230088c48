from .pretrained import CheckpointMismatchError, StrictPretrainedMixin, load_pretrained, read_state_dict
from .scale_aggregation import SABottleneck
from .scalenet import ScaleNet, ScaleNetLayer
from .shared_head import ScaleNetResLayer

__all__ = ['CheckpointMismatchError', 'SABottleneck', 'ScaleNet', 'ScaleNetLayer', 'ScaleNetResLayer',
           'StrictPretrainedMixin', 'load_pretrained', 'read_state_dict']
