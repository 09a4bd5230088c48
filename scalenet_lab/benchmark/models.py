"""The models a benchmark compares: ScaleNet and mmdet's ResNet of the same depth built from the same arguments (a
backbone, or a whole detector whose backbone type is swapped), their inference variants, and the work they run.

Inference variants (``eval()``, no grad):

* ``plain``: the model as ``tools/test.py`` runs it;
* ``fast``: the deployment path of each: ``fuse_scalenet(backbone)`` (BatchNorms folded, fused oneDNN convs,
  channels-last; in a detector :func:`~mmdet_scalenet.deploy.fuse_model`, as ``tools/test.py --fuse``) and, for
  ResNet and a detector's other modules, mmcv's ``fuse_conv_bn``;
* ``fast-cl``: ResNet fused *and* channels-last, the same generic optimisations as ScaleNet's fast path (backbones
  only: in a detector, mmcv 2.1's CPU ``roi_align`` reads channels-last features as NCHW, wrong values).

A detector's inference runs identical work in both: backbone and neck, the dense heads' forward, and the RoI head
on a fixed set of proposals, without any score threshold or NMS. With random weights the two detectors would keep
different numbers of boxes after the threshold, so timing ``predict`` would compare different work.
"""
import copy
import importlib
import os
from typing import Callable, Dict, Optional, Tuple

import torch
import torch.nn as nn

__all__ = ['DEFAULT_DETECTOR_CONFIG', 'build_pair', 'detector_batch', 'detector_config', 'inference_variant',
           'resolve_config', 'train_step']

#: mmdet's Faster R-CNN FPN, the detector-level comparison when no config is given.
DEFAULT_DETECTOR_CONFIG = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
#: ScaleNet's arguments that ResNet does not take.
SCALENET_ONLY = ('structure', )
#: Proposals per image the RoI head runs on, in the detector's inference: as many as mmdet's RPN keeps at test time.
NUM_PROPOSALS = 1000


def resolve_config(path: str) -> str:
    """``'mmdet::faster_rcnn/x.py'`` -> the file inside the installed package's ``.mim/configs``; a plain path
    stays as it is. Either must exist (``FileNotFoundError``)."""
    if '::' not in path:
        if not os.path.isfile(path):
            raise FileNotFoundError(f'{path}: config file not found')
        return path
    package, relative = path.split('::', 1)
    root = os.path.dirname(importlib.import_module(package).__file__)
    resolved = os.path.join(root, '.mim', 'configs', relative)
    if not os.path.isfile(resolved):
        raise FileNotFoundError(f'{path}: no such config in {package} ({resolved})')
    return resolved


def detector_config(config: Optional[str] = None):
    """The detector config the pair is built from (default :data:`DEFAULT_DETECTOR_CONFIG`), checked: its
    backbone must be ScaleNet or ResNet, so that swapping the type compares the two (``ValueError``)."""
    from mmengine.config import Config
    cfg = Config.fromfile(resolve_config(config or DEFAULT_DETECTOR_CONFIG))
    backbone = cfg.get('model', {}).get('backbone')
    kind = backbone.get('type') if isinstance(backbone, dict) else None
    if kind not in ('ScaleNet', 'ResNet'):
        raise ValueError(f'{config}: the backbone must be ScaleNet or ResNet to compare the two, got {kind}')
    return cfg


def _backbone_pair(base: dict, depth: Optional[int], structure: Optional[str]) -> Tuple[dict, dict]:
    """ScaleNet and ResNet configs from the same arguments (``base``, a ResNet or ScaleNet dict), no weights."""
    base = {k: copy.deepcopy(v) for k, v in base.items() if k not in ('init_cfg', 'pretrained', '_delete_')}
    if depth is not None:
        base['depth'] = depth
    scalenet = dict(base, type='ScaleNet', init_cfg=None)
    if structure is not None:
        scalenet['structure'] = structure
    resnet = {k: v for k, v in base.items() if k not in SCALENET_ONLY}
    return scalenet, dict(resnet, type='ResNet', init_cfg=None)


def build_pair(detector: bool, config: Optional[str] = None, depth: Optional[int] = None,
               structure: Optional[str] = None) -> Dict[str, nn.Module]:
    """``{'ScaleNet': ..., 'ResNet': ...}``: two backbones (mmdet's detection defaults: every stage out, norms in
    eval) or two detectors of ``config`` (default :data:`DEFAULT_DETECTOR_CONFIG`) that differ only in the backbone
    type. No pretrained weights are loaded."""
    from mmdet.utils import register_all_modules
    from mmengine.registry import MODELS

    import mmdet_scalenet  # noqa: F401 (registers ScaleNet)
    register_all_modules()
    if not detector:
        scalenet, resnet = _backbone_pair(dict(norm_eval=True), depth or 50, structure)
        return {'ScaleNet': MODELS.build(scalenet), 'ResNet': MODELS.build(resnet)}
    cfg = detector_config(config)
    base = cfg.model.backbone
    models = {}
    for name, backbone in zip(('ScaleNet', 'ResNet'), _backbone_pair(base, depth, structure)):
        model_cfg = copy.deepcopy(cfg.model)
        model_cfg.backbone = backbone
        model_cfg.pop('init_cfg', None)
        models[name] = MODELS.build(model_cfg)
    return models


def _eval(model: nn.Module) -> nn.Module:
    model.eval()  # mmdet's ResNet.train returns None
    return model


def inference_variant(name: str, model: nn.Module, variant: str, detector: bool) -> nn.Module:
    """A new eval-mode copy of ``model`` (``'ScaleNet'`` or ``'ResNet'``) for ``variant`` ``'plain'``, ``'fast'`` or
    ``'fast-cl'`` (see the module docstring)."""
    from mmcv.cnn import fuse_conv_bn

    from mmdet_scalenet.deploy import fuse_model, fuse_scalenet
    model = _eval(copy.deepcopy(model))
    if variant == 'plain':
        return model
    if name == 'ScaleNet':
        model = fuse_model(model) if detector else fuse_scalenet(model)
    model = fuse_conv_bn(model)
    if variant == 'fast-cl':
        model = model.to(memory_format=torch.channels_last)
    return model


def detector_batch(batch: int, size: Tuple[int, int], device: torch.device, generator: torch.Generator,
                   num_classes: int = 80):
    """Synthetic, already normalised images and data samples with random boxes for a detector."""
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    h, w = size
    inputs = torch.randn(batch, 3, h, w, generator=generator).to(device)
    samples = []
    for _ in range(batch):
        sample = DetDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w),
                                             batch_input_shape=(h, w), scale_factor=(1.0, 1.0), img_id=0))
        xy = torch.rand(4, 2, generator=generator) * torch.tensor([w * 0.7, h * 0.7])
        wh = torch.rand(4, 2, generator=generator) * torch.tensor([w * 0.3, h * 0.3]) + 8
        instances = InstanceData()
        instances.bboxes = torch.cat([xy, xy + wh], dim=1).to(device)
        instances.labels = torch.randint(0, num_classes, (4, ), generator=generator).to(device)
        sample.gt_instances = instances
        samples.append(sample)
    return inputs, samples


def fixed_proposals(batch: int, size: Tuple[int, int], device: torch.device, generator: torch.Generator,
                    count: int = NUM_PROPOSALS) -> torch.Tensor:
    """``count`` random boxes per image as RoIs (``[image index, x1, y1, x2, y2]``), the same for both detectors."""
    h, w = size
    rois = []
    for index in range(batch):
        xy = torch.rand(count, 2, generator=generator) * torch.tensor([w * 0.8, h * 0.8])
        wh = torch.rand(count, 2, generator=generator) * torch.tensor([w * 0.5, h * 0.5]) + 4
        boxes = torch.cat([xy, torch.minimum(xy + wh, torch.tensor([w, h]))], dim=1)
        rois.append(torch.cat([torch.full((count, 1), float(index)), boxes], dim=1))
    return torch.cat(rois).to(device)


def inference(model: nn.Module, detector: bool, x: torch.Tensor, rois: Optional[torch.Tensor]) -> Callable:
    """The forward to time: the backbone, or the detector's identical work (see the module docstring)."""
    if not detector:
        return lambda: model(x)

    def forward():
        feats = model.extract_feat(x)
        for head in ('rpn_head', 'bbox_head'):  # dense heads: forward only, no proposals, no NMS
            if getattr(model, head, None) is not None:
                getattr(model, head)(feats)
        if getattr(model, 'roi_head', None) is not None:
            model.roi_head._bbox_forward(feats, rois)
        return feats

    return forward


def train_step(model: nn.Module, detector: bool, batch: int, size: Tuple[int, int], device: torch.device,
               channels_last: bool, generator: torch.Generator):
    """``(step, optimizer)``: one training step (forward, loss, backward, SGD with momentum) on fixed inputs."""
    model.train()
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-4, momentum=0.9)
    if detector:
        inputs, samples = detector_batch(batch, size, device, generator)
    else:
        inputs = torch.randn(batch, 3, *size, generator=generator).to(device)
    if channels_last:
        inputs = inputs.contiguous(memory_format=torch.channels_last)

    def loss_fn():
        if detector:
            return model.parse_losses(model.loss(inputs, samples))[0]
        return sum(out.float().square().mean() for out in model(inputs))

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        optimizer.step()
        return loss

    return step, optimizer
