from .pretrained import CheckpointMismatchError, load_pretrained, read_state_dict
from .scale_aggregation import SABottleneck
from .scalenet import ScaleNet, ScaleNetLayer

__all__ = ['CheckpointMismatchError', 'SABottleneck', 'ScaleNet', 'ScaleNetLayer', 'load_pretrained',
           'read_state_dict']
