"""ScaleNet (Li et al., "Data-Driven Neuron Allocation for Scale Aggregation Networks", CVPR 2019) for MMDetection.

Importing this package registers ``ScaleNet`` (backbone), ``ScaleNetResLayer`` (C4 shared head) and
``RandomStateHook`` in mmdet's registries, and lets ``torch.load(weights_only=True)`` read the checkpoints
mmengine's Runner writes (see :mod:`mmdet_scalenet.utils.safe_checkpoint`). In a config::

    custom_imports = dict(imports=['mmdet_scalenet'], allow_failed_imports=False)
    model = dict(backbone=dict(type='ScaleNet', depth=50, structure='scalenet50'))
"""
from .engine import RandomStateHook
from .models import CheckpointMismatchError, SABottleneck, ScaleNet, ScaleNetLayer, ScaleNetResLayer
from .structure import Structure, StructureError, load_structure, save_structure
from .utils import allow_mmengine_checkpoints

allow_mmengine_checkpoints()

__version__ = '0.1.0'
__all__ = [
    'CheckpointMismatchError', 'RandomStateHook', 'SABottleneck', 'ScaleNet', 'ScaleNetLayer', 'ScaleNetResLayer',
    'Structure', 'StructureError', 'load_structure', 'save_structure', '__version__'
]
