"""fuse_model: a whole detector on the inference fast path gives the eval-mode detector's outputs; the Runner hook
and tools/test.py --fuse use it."""
import os

import pytest
import torch

from mmdet_scalenet.deploy import FusedBlocks, FusedSABottleneck, FusedScaleNet, fuse_model
from mmdet_scalenet.engine import FuseConvBNHook

from ..common import ROOT
from ..detection.common import build_detector, load_config

FPN = os.path.join(ROOT, 'configs', 'faster-rcnn_scalenet50_fpn_8xb2-10e_coco-600x1000.py')
C4 = os.path.join(ROOT, 'configs', 'faster-rcnn_scalenet50-c4_8xb2-10e_coco-600x1000.py')


def _detector(path, randomised, **backbone):
    cfg = load_config(path)
    cfg.model.backbone.init_cfg = None
    cfg.model.backbone.update(backbone)
    if cfg.model.roi_head.get('shared_head'):
        cfg.model.roi_head.shared_head.init_cfg = None
    return randomised(build_detector(cfg.model), seed=3)


def _outputs(model, images, rois):
    """Backbone + neck features, the RPN's maps and the RoI head on fixed proposals (no score threshold or NMS:
    identical work for both models)."""
    with torch.no_grad():
        feats = model.extract_feat(images)
        rpn = model.rpn_head(feats)
        roi = model.roi_head._bbox_forward(feats, rois)
    return [*feats, *rpn[0], *rpn[1], roi['cls_score'], roi['bbox_pred']]


@pytest.mark.parametrize('path', [FPN, C4], ids=['fpn', 'c4'])
def test_fused_detector_gives_the_same_outputs(path, randomised, assert_close):
    model = _detector(path, randomised)
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(2, 3, 160, 192, generator=generator)
    corners = torch.rand(2, 40, 2, generator=generator) * torch.tensor([96.0, 80.0])
    boxes = torch.cat([corners, corners + 16 + torch.rand(2, 40, 2, generator=generator) * 80], dim=-1)
    rois = torch.cat([torch.arange(2).repeat_interleave(40)[:, None].float(), boxes.reshape(-1, 4)], dim=1)
    expected = _outputs(model, images, rois)

    assert fuse_model(model) is model and not model.training
    assert isinstance(model.backbone, FusedScaleNet)
    if path == C4:
        assert all(isinstance(b, FusedSABottleneck) for b in model.roi_head.shared_head.layer4)
    assert not [n for n, m in model.named_modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    actual = _outputs(model, images, rois)
    assert len(actual) == len(expected)
    for i, (a, e) in enumerate(zip(actual, expected)):
        assert_close(a, e, f'output {i}')


def test_a_backbone_the_fast_path_cannot_run_is_named(randomised):
    model = _detector(FPN, randomised, dcn=dict(type='DCN', deform_groups=1, fallback_on_stride=False),
                      stage_with_dcn=(False, True, True, True))
    with pytest.raises(ValueError, match=r'^backbone \(ScaleNet\): dcn: the fast path'):
        fuse_model(model)


def test_a_scalenet_itself_is_sent_to_its_own_fuse(randomised):
    with pytest.raises(TypeError, match=r'got a ScaleNet itself; use fuse_scalenet\(backbone\)'):
        fuse_model(_detector(FPN, randomised).backbone)


def test_the_hook_fuses_the_runners_model(randomised):
    from types import SimpleNamespace

    from mmengine.logging import MMLogger
    model = _detector(FPN, randomised)
    runner = SimpleNamespace(model=model, logger=MMLogger.get_current_instance())
    FuseConvBNHook().before_test(runner)
    assert isinstance(model.backbone, FusedScaleNet)


def test_det_inferencer_one_liner_gives_the_same_detections(tmp_path):
    import numpy as np
    from mmdet.apis import DetInferencer

    from ..detection.common import DEMO_CONFIG
    torch.manual_seed(0)
    inferencer = DetInferencer(model=DEMO_CONFIG, weights=None, device='cpu', show_progress=False)
    image = np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    before = inferencer(image, return_datasamples=True)['predictions'][0].pred_instances
    fuse_model(inferencer.model)
    assert isinstance(inferencer.model.backbone, FusedScaleNet)
    after = inferencer(image, return_datasamples=True)['predictions'][0].pred_instances
    assert len(after) == len(before) > 0
    torch.testing.assert_close(after.scores, before.scores, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(after.bboxes, before.bboxes, rtol=1e-4, atol=1e-3)


def test_fused_c4_head_gives_the_models_non_finite_outputs(randomised):
    """RoI features holding NaN and inf reach the C4 head's fused blocks (``FusedBlocks``): they give NaN and inf
    where the model's blocks do (oneDNN's fused ReLU would map NaN to 0), and the model's values elsewhere."""
    model = _detector(C4, randomised)
    head = model.roi_head.shared_head
    x = torch.randn(3, 1024, 14, 14, generator=torch.Generator().manual_seed(4))
    x[0, 5, 3, 4], x[2, 7, 10, 1] = float('nan'), float('inf')
    with torch.no_grad():
        expected = head.eval()(x)
        fuse_model(model)
        actual = head(x)
    assert isinstance(getattr(head, head.layer_name), FusedBlocks)
    assert expected.isnan().any() and expected[1].isfinite().all()
    assert torch.equal(actual.isnan(), expected.isnan()) and torch.equal(actual.isinf(), expected.isinf())
    finite = expected.isfinite()
    torch.testing.assert_close(actual[finite], expected[finite], rtol=1e-4, atol=1e-4)
