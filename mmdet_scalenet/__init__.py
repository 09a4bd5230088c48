"""ScaleNet (Li et al., "Data-Driven Neuron Allocation for Scale Aggregation Networks", CVPR 2019) for MMDetection.

Importing this package registers the ``ScaleNet`` backbone in ``mmdet.registry.MODELS``; in a config::

    custom_imports = dict(imports=['mmdet_scalenet'], allow_failed_imports=False)
    model = dict(backbone=dict(type='ScaleNet', depth=50, structure='scalenet50'))
"""
from .models import CheckpointMismatchError, SABottleneck, ScaleNet, ScaleNetLayer, ScaleNetResLayer
from .structure import Structure, StructureError, load_structure, save_structure

__version__ = '0.1.0'
__all__ = ['CheckpointMismatchError', 'SABottleneck', 'ScaleNet', 'ScaleNetLayer', 'ScaleNetResLayer', 'Structure', 'StructureError',
           'load_structure', 'save_structure', '__version__']
