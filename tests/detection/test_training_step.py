"""One training iteration of the project's ScaleNet detectors, and ScaleNet dropped into mmdet's own configs."""
import copy
import os

import pytest
import torch

from .common import CONFIG_DIR, build_detector, load_config, loss_step


def small_detector(name, **train_overrides):
    cfg = load_config(os.path.join(CONFIG_DIR, name))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.init_cfg = None
    model_cfg.backbone.structure = 'scalenet50_light'
    model_cfg.backbone.zero_init_residual = False  # as with loaded weights: C4 configs fix BN, so a zero bn3 stays 0
    if model_cfg.roi_head.get('shared_head'):
        model_cfg.roi_head.shared_head.init_cfg = None
        model_cfg.roi_head.shared_head.structure = 'scalenet50_light'
    # few RoIs: the C4 head runs stage 4 on every one of them
    model_cfg.train_cfg.rcnn.sampler.num = 8
    model_cfg.train_cfg.rpn_proposal.max_per_img = 50
    return build_detector(model_cfg)


@pytest.mark.parametrize('name', ['faster-rcnn_scalenet50-c4_8xb2-10e_coco-800x1200.py',
                                  'faster-rcnn_scalenet50_fpn_8xb2-10e_coco-800x1200.py'])
def test_one_iteration_gives_finite_losses_and_gradients(name):
    model = small_detector(name)
    losses, total = loss_step(model, size=128)
    assert torch.isfinite(total)
    assert {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox'} <= set(losses)
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert trainable
    for n, p in trainable.items():
        assert p.grad is not None, f'{n} got no gradient'
        assert torch.isfinite(p.grad).all(), n
    frozen = [(n, p) for n, p in model.named_parameters()
              if n.startswith(('backbone.conv1', 'backbone.bn1', 'backbone.layer1.'))]
    assert frozen
    assert all(not p.requires_grad and p.grad is None for _, p in frozen)
    # stages after the frozen ones do learn (conv weights; this config's BN affine is fixed or trained per config)
    assert model.backbone.layer2[0].conv2['0'].weight.grad.abs().sum() > 0


SCALENET = dict(_delete_=True, type='ScaleNet', depth=50, structure='scalenet50_light', frozen_stages=1,
                norm_cfg=dict(type='BN', requires_grad=True), norm_eval=True, init_cfg=None)


@pytest.mark.parametrize('config,with_mask', [
    ('mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', False),
    ('mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py', True),
    ('mmdet::cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py', False),
])
def test_drop_in_replacement_in_mmdet_configs(config, with_mask, tmp_path):
    # what a user writes: inherit mmdet's config, replace only the backbone
    path = tmp_path / 'drop_in.py'
    path.write_text(f"_base_ = '{config}'\n"
                    "custom_imports = dict(imports=['mmdet_scalenet'], allow_failed_imports=False)\n"
                    f"model = dict(backbone={SCALENET!r})\n")
    cfg = load_config(str(path))
    assert cfg.model.backbone.type == 'ScaleNet' and 'style' not in cfg.model.backbone
    model = build_detector(cfg.model)
    losses, total = loss_step(model, size=128, with_mask=with_mask)
    assert torch.isfinite(total)
    if with_mask:
        assert 'loss_mask' in losses
    assert all(p.grad is not None for n, p in model.backbone.named_parameters() if p.requires_grad)
