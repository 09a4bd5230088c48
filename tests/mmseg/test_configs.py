"""The PSPNet and DeepLabV3 configs: mmseg's r50/r101-d8 configs with only the backbone changed, to a dilated
ScaleNet of output stride 8; one training step each; a missing data set says what to download."""
import copy

import pytest
import torch

from scalenet_lab.run_checks import RunSetupError, check_data, set_data_root
from scalenet_lab.run_options import use_tta

from .common import CONFIGS, build_segmentor, load_config, training_step


def without_backbone(cfg):
    d = copy.deepcopy(cfg.to_dict())
    d['model'].pop('backbone')
    d['model'].pop('pretrained')
    d.pop('custom_imports', None)
    d['default_hooks']['checkpoint'].pop('type')  # ours: SafeCheckpointHook (checked below), mmseg's arguments
    d.pop('custom_hooks', None)  # ours: RandomStateHook (checked below); mmseg's configs have none
    return d


@pytest.mark.parametrize('name', CONFIGS)
def test_only_the_backbone_differs_from_mmseg(name, tmp_path):
    ours = load_config(name)
    theirs = load_config(f'mmseg::{CONFIGS[name]}', tmp_path)
    assert ours.custom_imports == dict(imports=['mmdet_scalenet'], allow_failed_imports=False)
    assert ours.default_hooks.checkpoint.type == 'SafeCheckpointHook'
    assert ours.custom_hooks == [dict(type='RandomStateHook')] and 'custom_hooks' not in theirs
    assert without_backbone(ours) == without_backbone(theirs)
    assert theirs.model.backbone.type == 'ResNetV1c' and ours.model.pretrained is None
    depth = 101 if 'scalenet101' in name else 50
    assert ours.model.backbone == dict(
        type='ScaleNet', depth=depth, structure=f'scalenet{depth}', out_indices=(0, 1, 2, 3),
        strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4), norm_cfg=dict(type='SyncBN', requires_grad=True),
        norm_eval=False, style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint=f'checkpoints/scalenet{depth}.pth'))
    # what ScaleNet shares with mmseg's ResNet there: stride, dilation and outputs per stage, norm
    for key in ('depth', 'out_indices', 'strides', 'dilations', 'norm_cfg', 'norm_eval'):
        assert ours.model.backbone[key] == theirs.model.backbone[key], key


@pytest.mark.parametrize('name', CONFIGS)
def test_one_training_step(name):
    cfg = load_config(name)
    model = build_segmentor(cfg)
    assert type(model.backbone).__name__ == 'ScaleNet'
    with torch.no_grad():  # output stride 8: stages 3 and 4 at 1/8 of the input, 1024 and 2048 channels
        shapes = [tuple(f.shape) for f in model.backbone.eval()(torch.zeros(1, 3, 64, 64))]
    assert shapes == [(1, 256, 16, 16), (1, 512, 8, 8), (1, 1024, 8, 8), (1, 2048, 8, 8)]
    log_vars, before = training_step(model, cfg)
    assert torch.isfinite(torch.as_tensor(log_vars['loss']))
    assert {'decode.loss_ce', 'aux.loss_ce'} <= set(log_vars)
    after = dict(model.named_parameters())
    for key in ('backbone.conv1.weight', 'backbone.layer4.2.conv3.weight', 'decode_head.conv_seg.weight',
                'auxiliary_head.conv_seg.weight'):
        assert not torch.equal(before[key], after[key]), f'{key} did not change'


@pytest.mark.parametrize('name,expected', [
    ('pspnet/pspnet_scalenet50-d8_4xb2-80k_cityscapes-512x1024.py',
     ['image folder {root}/leftImg8bit/train', 'label folder {root}/gtFine/train', 'cityscapes-dataset.com',
      'tools/dataset_converters/cityscapes.py']),
    ('deeplabv3/deeplabv3_scalenet101-d8_4xb4-80k_ade20k-512x512.py',
     ['image folder {root}/images/training', 'label folder {root}/annotations/validation',
      'ADEChallengeData2016.zip']),
])
def test_a_missing_data_set_says_what_to_download(name, expected, tmp_path):
    cfg = load_config(name)
    set_data_root(cfg, str(tmp_path))
    with pytest.raises(RunSetupError) as error:
        check_data(cfg, ['train_dataloader', 'val_dataloader'])
    message = str(error.value)
    for text in expected:
        assert text.format(root=tmp_path) in message, message
    assert 'docs/configs.md, "On a CPU, without downloads"' in message


def test_test_time_augmentation_uses_mmsegs_tta_model_and_pipeline(tmp_path):
    cfg = load_config('pspnet/pspnet_scalenet50-d8_4xb2-80k_cityscapes-512x1024.py')
    use_tta(cfg, 'mmseg')
    assert cfg.model.type == 'SegTTAModel' and cfg.model.module.backbone.type == 'ScaleNet'
    assert cfg.test_dataloader.dataset.pipeline[-1].type == 'TestTimeAug'
    cfg = load_config('pspnet/pspnet_scalenet50-d8_4xb2-80k_cityscapes-512x1024.py')
    cfg.pop('tta_pipeline')  # a config without one
    with pytest.raises(RunSetupError, match='--tta: the config needs tta_model and tta_pipeline'):
        use_tta(cfg, 'mmseg')
