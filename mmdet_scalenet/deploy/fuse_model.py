"""A whole model (detector, classifier, segmentor) on the inference fast path, in place: what ``tools/test.py --fuse``
and :class:`~mmdet_scalenet.engine.FuseConvBNHook` run, and the one-liner for mmdet's ``DetInferencer``::

    inferencer = DetInferencer(config, weights)
    fuse_model(inferencer.model)

Every :class:`~mmdet_scalenet.ScaleNet` becomes its exact fast path (:class:`~.fuse.FusedScaleNet`, every
BatchNorm folded, fused oneDNN convs, channels-last inside; its outputs NCHW, because mmcv 2.1's CPU ``roi_align``
reads channels-last input as NCHW and returns wrong values), the SA blocks of a C4 head (:class:`~mmdet_scalenet.models
.ScaleNetResLayer`) become :class:`~.fuse.FusedSABottleneck`, and mmcv's ``fuse_conv_bn`` (mmdet 2.x's
``--fuse-conv-bn``) folds the BatchNorms of the rest of the model (necks, heads). Outputs equal the eval-mode model's
up to float rounding. A ScaleNet the fast path cannot run (``dcn``, ``plugins``, GroupNorm) is an error naming the
argument, not a silent half-fused model.
"""
import torch.nn as nn

from ..models.scale_aggregation import SABottleneck
from .fuse import FusedSABottleneck

# ScaleNet and ScaleNetResLayer are recognised by their stages of SA blocks, as FusedScaleNet does: models.scalenet
# imports deploy.fuse (for ScaleNet.fuse()), so this package does not import it back.

__all__ = ['fuse_model']


def _is_sa_stage(module) -> bool:
    return isinstance(module, nn.Sequential) and len(module) > 0 and all(isinstance(b, SABottleneck) for b in module)


def _is_scalenet(module: nn.Module) -> bool:
    stages = getattr(module, 'res_layers', None)
    return bool(stages) and all(_is_sa_stage(getattr(module, name, None)) for name in stages)


def _is_shared_head(module: nn.Module) -> bool:
    name = getattr(module, 'layer_name', None)
    return isinstance(name, str) and _is_sa_stage(getattr(module, name, None))


def _fuse_shared_head(name: str, head: nn.Module) -> None:
    try:
        fused = [FusedSABottleneck(block) for block in getattr(head, head.layer_name)]
    except ValueError as error:
        raise ValueError(f'{name} (ScaleNetResLayer): {error}; run this model unfused') from None
    setattr(head, head.layer_name, nn.Sequential(*fused).eval())


def fuse_model(model: nn.Module) -> nn.Module:
    """Put ``model`` on the inference fast path in place (see the module docstring) and return it in eval mode.

    Raises:
        ValueError: a ScaleNet or ScaleNetResLayer in ``model`` that the fast path cannot run, named.
    """
    from mmcv.cnn import fuse_conv_bn
    if _is_scalenet(model):
        raise TypeError('fuse_model: got a ScaleNet itself; use backbone.fuse(), which returns the fused copy')
    for name, module in list(model.named_modules()):
        if _is_shared_head(module):
            _fuse_shared_head(name, module)
        elif _is_scalenet(module):
            try:
                fused = module.fuse(nchw_outputs=True)  # mmcv 2.1's CPU roi_align misreads channels-last
            except ValueError as error:
                raise ValueError(f'{name} (ScaleNet): {error}') from None
            parent, _, attribute = name.rpartition('.')
            setattr(model.get_submodule(parent) if parent else model, attribute, fused)
    fuse_conv_bn(model)
    return model.eval()
