"""ScaleNet dropped into mmpretrain's own ResNet classifier configs as docs/configs.md says (the backbone's type, and
trained BatchNorm statistics as mmpretrain's ResNet has them): each builds and trains one step."""
import pytest
import torch

from .common import build_classifier, load_config, training_step

#: Representative ResNet configs of mmpretrain 1.2.0: plain, deeper, Mixup with a multi-label head, label smoothing.
CONFIGS = ['resnet/resnet50_8xb32_in1k.py', 'resnet/resnet101_8xb32_in1k.py', 'resnet/resnet50_8xb32-mixup_in1k.py',
           'resnet/resnet50_8xb32-lbs_in1k.py']


@pytest.mark.parametrize('config', CONFIGS)
def test_drop_in_replacement_in_mmpretrain_configs(config, tmp_path):
    path = tmp_path / 'drop_in.py'
    path.write_text(f"_base_ = 'mmpretrain::{config}'\n"
                    "custom_imports = dict(imports=['mmdet_scalenet'], allow_failed_imports=False)\n"
                    "model = dict(backbone=dict(type='ScaleNet', norm_eval=False))\n")
    cfg = load_config(str(path))
    model = build_classifier(cfg)
    assert type(model.backbone).__name__ == 'ScaleNet'
    assert model.backbone.depth == (101 if 'resnet101' in config else 50)
    assert model.backbone.out_indices == (3, )
    log_vars, before = training_step(model, cfg)
    assert torch.isfinite(torch.as_tensor(log_vars['loss']))
    after = dict(model.named_parameters())
    for key in ('backbone.conv1.weight', 'head.fc.weight'):
        assert not torch.equal(before[key], after[key]), f'{key} did not change'
