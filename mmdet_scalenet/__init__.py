"""ScaleNet (Li et al., "Data-Driven Neuron Allocation for Scale Aggregation Networks", CVPR 2019) for OpenMMLab.

Importing this package registers ``ScaleNet`` (backbone), ``ScaleNetResLayer`` (C4 RoI head), ``RandomStateHook`` and
``SafeCheckpointHook`` in mmengine's root registries, so that mmdet, mmpretrain and mmseg configs all find them
without this package importing any of those toolboxes, and lets ``torch.load(weights_only=True)`` read the
checkpoints mmengine's Runner writes (:mod:`mmdet_scalenet.utils.safe_checkpoint`). In a config::

    custom_imports = dict(imports=['mmdet_scalenet'], allow_failed_imports=False)
    model = dict(backbone=dict(type='ScaleNet', depth=50, structure='scalenet50'))

The package, layer by layer:

* :mod:`.geometry`: the network's shape (stages, widths, sides, kernel rule); no torch.
* :mod:`.structure`: the structure format (neurons per scale of every block): load, validate, save; no torch.
* :mod:`.costs`: what a structure costs (multiply-accumulates of a neuron, a block, a network); no torch.
* :mod:`.models`: the scale-aggregation maths, the SA bottleneck, the backbone, the C4 head, strict pretrained
  loading.
* :mod:`.allocation`: the paper's data-driven neuron allocation (Sec. 3.2), as pure functions.
* :mod:`.deploy`: the exact inference fast path and ONNX export (depends on :mod:`.models`, never the reverse).
* :mod:`.engine`: Runner glue: hooks a config names, CPU distributed training.
* :mod:`.utils`: checkpoint and file I/O, safe loading.

Studies, the benchmark, synthetic data sets, the demo and the tools' command-line plumbing are the lab, the
``scalenet_lab`` package beside this one; it imports this package, never the reverse.
"""
import warnings

# mmengine 0.10.7 imports setuptools' pkg_resources, whose deprecation notice (a UserWarning, about mmengine, not
# this package) would otherwise print on every run of every tool; silenced here, for that one message only.
warnings.filterwarnings('ignore', message='pkg_resources is deprecated', category=UserWarning)

from .engine import RandomStateHook, SafeCheckpointHook  # noqa: E402
from .models import SABottleneck, ScaleNet, ScaleNetLayer, ScaleNetResLayer  # noqa: E402
from .structure import Structure, StructureError, load_structure, save_structure  # noqa: E402
from .utils.checkpoint import CheckpointError  # noqa: E402
from .utils.safe_checkpoint import allow_mmengine_checkpoints  # noqa: E402

allow_mmengine_checkpoints()

__version__ = '0.1.0'
__all__ = [
    'CheckpointError', 'RandomStateHook', 'SABottleneck', 'SafeCheckpointHook', 'ScaleNet', 'ScaleNetLayer',
    'ScaleNetResLayer', 'Structure', 'StructureError', 'load_structure', 'save_structure', '__version__'
]
