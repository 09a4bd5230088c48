"""The networks: the scale-aggregation block (:mod:`.scale_aggregation`), the ScaleNet backbone
(:mod:`.scalenet`), its C4 RoI head (:mod:`.shared_head`), and strict loading of pretrained weights
(:mod:`.pretrained`)."""
from .pretrained import StrictPretrainedMixin, load_pretrained
from .scale_aggregation import SABottleneck
from .scalenet import ScaleNet, ScaleNetLayer
from .shared_head import ScaleNetResLayer

__all__ = ['SABottleneck', 'ScaleNet', 'ScaleNetLayer', 'ScaleNetResLayer', 'StrictPretrainedMixin', 'load_pretrained']
