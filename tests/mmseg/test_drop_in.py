"""ScaleNet dropped into mmseg's own ResNet-50 configs as docs/configs.md says (the backbone replaced, with the
config's strides, dilations and outputs; mmseg's ResNet-V1c weights dropped): each builds and trains one step."""
import pytest
import torch

from .common import build_segmentor, load_config, training_step

#: Representative ResNet-50 configs of mmseg 1.2.2: output stride 8 with PSP, ASPP, FCN and DeepLabV3+ (which also
#: reads stage 1) heads, and output stride 32 with UPerNet.
CONFIGS = ['pspnet/pspnet_r50-d8_4xb2-80k_cityscapes-512x1024.py',
           'deeplabv3/deeplabv3_r50-d8_4xb4-80k_ade20k-512x512.py',
           'fcn/fcn_r50-d8_4xb2-80k_cityscapes-512x1024.py',
           'deeplabv3plus/deeplabv3plus_r50-d8_4xb2-80k_cityscapes-512x1024.py',
           'upernet/upernet_r50_4xb4-80k_ade20k-512x512.py']

OVERRIDE = """
custom_imports = dict(imports=['mmdet_scalenet'], allow_failed_imports=False)
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    pretrained=None,
    backbone=dict(_delete_=True, type='ScaleNet', depth=50, out_indices={out_indices}, strides={strides},
                  dilations={dilations}, norm_cfg=norm_cfg, norm_eval=False, init_cfg=None))
"""


@pytest.mark.parametrize('config', CONFIGS)
def test_drop_in_replacement_in_mmseg_configs(config, tmp_path):
    resnet = load_config(f'mmseg::{config}', tmp_path).model.backbone
    path = tmp_path / 'drop_in.py'
    path.write_text(f"_base_ = 'mmseg::{config}'\n" + OVERRIDE.format(
        out_indices=resnet.out_indices, strides=resnet.strides, dilations=resnet.dilations))
    cfg = load_config(str(path))
    model = build_segmentor(cfg)
    assert type(model.backbone).__name__ == 'ScaleNet'
    assert (model.backbone.strides, model.backbone.dilations) == (tuple(resnet.strides), tuple(resnet.dilations))
    log_vars, before = training_step(model, cfg)
    assert torch.isfinite(torch.as_tensor(log_vars['loss']))
    after = dict(model.named_parameters())
    for key in ('backbone.conv1.weight', 'backbone.layer4.2.conv3.weight', 'decode_head.conv_seg.weight'):
        assert not torch.equal(before[key], after[key]), f'{key} did not change'
