"""The networks: the scale-aggregation maths (:mod:`.scale_aggregation`), the bottleneck built around it
(:mod:`.bottleneck`), the ScaleNet backbone (:mod:`.scalenet`), its C4 RoI head (:mod:`.shared_head`), the checks of
their arguments (:mod:`.checks`), and strict loading of pretrained weights (:mod:`.pretrained`)."""
from .bottleneck import SABottleneck
from .pretrained import StrictPretrainedMixin, load_pretrained
from .scalenet import ScaleNet, ScaleNetLayer
from .shared_head import ScaleNetResLayer

__all__ = ['SABottleneck', 'ScaleNet', 'ScaleNetLayer', 'ScaleNetResLayer', 'StrictPretrainedMixin', 'load_pretrained']
