"""A whole model (detector, classifier, segmentor) on the inference fast path, in place: what ``tools/test.py --fuse``
and :class:`~mmdet_scalenet.engine.FuseConvBNHook` run, and the one-liner for mmdet's ``DetInferencer``::

    inferencer = DetInferencer(config, weights)
    fuse_model(inferencer.model)

Every :class:`~mmdet_scalenet.ScaleNet` becomes its exact fast path (:class:`~.fuse.FusedScaleNet`, every
BatchNorm folded, fused oneDNN convs, channels-last inside; its outputs NCHW, because mmcv 2.1's CPU ``roi_align``
reads channels-last input as NCHW and returns wrong values), the SA blocks of a C4 head
(:class:`~mmdet_scalenet.models.ScaleNetResLayer`) become :class:`~.fuse.FusedSABottleneck` (run by
:class:`~.fuse.FusedBlocks`), and mmcv's ``fuse_conv_bn`` (mmdet 2.x's ``--fuse-conv-bn``) folds the BatchNorms of
the rest of the model (necks, heads). Outputs equal the eval-mode model's up to float rounding, NaN and inf
included. A ScaleNet the fast path cannot run (``dcn``, ``plugins``, GroupNorm) is an error naming the
argument, not a silent half-fused model.
"""
import torch.nn as nn

from ..models import ScaleNet, ScaleNetResLayer
from .fuse import FusedBlocks, FusedSABottleneck, fuse_scalenet

__all__ = ['fuse_model']


def _fuse_shared_head(name: str, head: ScaleNetResLayer) -> None:
    try:
        fused = [FusedSABottleneck(block) for block in getattr(head, head.layer_name)]
    except ValueError as error:
        raise ValueError(f'{name} (ScaleNetResLayer): {error}; run this model unfused') from None
    setattr(head, head.layer_name, FusedBlocks(*fused).eval())


def fuse_model(model: nn.Module) -> nn.Module:
    """Put ``model`` on the inference fast path in place (see the module docstring) and return it in eval mode.

    Raises:
        ValueError: a ScaleNet or ScaleNetResLayer in ``model`` that the fast path cannot run, named.
    """
    from mmcv.cnn import fuse_conv_bn
    if isinstance(model, ScaleNet):
        raise TypeError('fuse_model: got a ScaleNet itself; use fuse_scalenet(backbone), which returns the fused '
                        'copy')
    for name, module in list(model.named_modules()):
        if isinstance(module, ScaleNetResLayer):
            _fuse_shared_head(name, module)
        elif isinstance(module, ScaleNet):
            try:
                fused = fuse_scalenet(module, nchw_outputs=True)  # mmcv 2.1's CPU roi_align misreads channels-last
            except ValueError as error:
                raise ValueError(f'{name} (ScaleNet): {error}') from None
            parent, _, attribute = name.rpartition('.')
            setattr(model.get_submodule(parent) if parent else model, attribute, fused)
    fuse_conv_bn(model)
    return model.eval()
