"""The C4 RoI head: stage 4 run on RoI features, with mmdet ResLayer's arguments and strict weight loading."""
import pytest
import torch
from mmdet.registry import MODELS

from mmdet_scalenet import CheckpointError, ScaleNetResLayer

STRUCTURE = 'scalenet50_light'  # the structure of the authors_state fixture


def test_runs_stage_four_on_14x14_rois_to_7x7():
    head = MODELS.build(dict(type='ScaleNetResLayer', depth=50, structure=STRUCTURE)).eval()
    with torch.no_grad():
        out = head(torch.randn(3, 1024, 14, 14))
    assert out.shape == (3, 2048, 7, 7)
    assert head.out_channels == 2048
    assert [name for name, _ in head.named_children()] == ['layer4']


def test_stride_dilation_style_and_dcn_as_in_resnet_layer():
    head = ScaleNetResLayer(depth=50, structure=STRUCTURE, stride=1, dilation=2, style='caffe').eval()
    with torch.no_grad():
        assert head(torch.randn(1, 1024, 14, 14)).shape == (1, 2048, 14, 14)
    assert {c.dilation for b in head.layer4 for c in b.conv2.values() if c.kernel_size == (3, 3)} == {(2, 2)}
    head = ScaleNetResLayer(depth=50, structure=STRUCTURE, dcn=dict(type='DCNv2', deform_groups=1))
    assert all(hasattr(c, 'conv_offset') for b in head.layer4 for c in b.conv2.values() if c.kernel_size == (3, 3))
    with pytest.raises(ValueError, match=r'stride must be 1 or 2 .* got 4'):
        ScaleNetResLayer(depth=50, structure=STRUCTURE, stride=4)
    with pytest.raises(ValueError, match=r"style must be one of \['pytorch', 'caffe'\]"):
        ScaleNetResLayer(depth=50, structure=STRUCTURE, style='other')
    with pytest.raises(ValueError, match='stage must be 1..3'):
        ScaleNetResLayer(depth=50, structure=STRUCTURE, stage=0)


def test_loads_the_released_stage_strictly(authors_checkpoint, authors_state, tmp_path):
    head = ScaleNetResLayer(depth=50, structure=STRUCTURE, dcn=dict(type='DCN', deform_groups=1),
                            init_cfg=dict(type='Pretrained', checkpoint=authors_checkpoint))
    head.init_weights()
    for key, value in head.state_dict().items():
        if '.conv_offset.' in key:
            assert torch.all(value == 0), key
        else:
            assert torch.equal(value, authors_state[key]), key
    state = {k: v for k, v in authors_state.items() if k != 'layer4.1.conv3.weight'}
    torch.save(state, tmp_path / 'partial.pth')
    head = ScaleNetResLayer(depth=50, structure=STRUCTURE,
                            init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'partial.pth')))
    with pytest.raises(CheckpointError, match=r'missing from the checkpoint \(1\): layer4.1.conv3.weight'):
        head.init_weights()


def test_norm_eval_keeps_batch_norms_fixed():
    head = ScaleNetResLayer(depth=50, structure=STRUCTURE, norm_eval=True).train()
    assert all(not m.training for m in head.modules() if isinstance(m, torch.nn.BatchNorm2d))
    head = ScaleNetResLayer(depth=50, structure=STRUCTURE, norm_eval=False).train()
    assert all(m.training for m in head.modules() if isinstance(m, torch.nn.BatchNorm2d))
