"""The ImageNet classifier configs: the authors' recipe, ResNet-50 baseline differing only in the backbone, one
training step each; ScaleNet found from mmpretrain's scope without importing a toolbox."""
import copy
import subprocess
import sys

import pytest
import torch

from mmdet_scalenet import ScaleNet
from scalenet_lab.run_checks import RunSetupError, check_data, set_data_root
from scalenet_lab.run_options import use_tta

from ..common import python, run_tool
from .common import BASELINE, SCALENETS, SEED, build_classifier, config_path, load_config, training_step

ALL = [*SCALENETS, SEED, BASELINE]


def test_importing_the_package_imports_no_toolbox():
    code = ('import sys, mmdet_scalenet; '
            'print(sorted(m for m in ("mmdet", "mmpretrain", "mmseg") if m in sys.modules))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == '[]'


@pytest.mark.parametrize('scope', ['mmpretrain', 'mmseg', 'mmdet'])
def test_scalenet_resolves_from_every_toolbox_scope(scope):
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    assert registry.get('ScaleNet') is ScaleNet


@pytest.mark.parametrize('name', ALL)
def test_the_authors_recipe(name):
    cfg = load_config(name)
    assert cfg.custom_imports == dict(imports=['mmdet_scalenet'], allow_failed_imports=False)
    assert cfg.default_scope == 'mmpretrain'
    # 8 GPUs x 32 images = 256, SGD lr 0.1, momentum 0.9, weight decay 1e-4 (the paper's ImageNet recipe)
    assert cfg.train_dataloader.batch_size * 8 == 256 and cfg.auto_scale_lr.base_batch_size == 256
    optimizer = {k: v for k, v in cfg.optim_wrapper.optimizer.items() if k != '_scope_'}
    assert optimizer == dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.0001)
    # 120 epochs of cosine learning rate (the authors' README), updated every iteration
    assert cfg.train_cfg.max_epochs == 120
    assert cfg.param_scheduler.type == 'CosineAnnealingLR'
    assert (cfg.param_scheduler.T_max, cfg.param_scheduler.begin, cfg.param_scheduler.end) == (120, 0, 120)
    assert cfg.param_scheduler.convert_to_iter_based
    # ImageNet, torchvision-style PIL resizing: random-resized 224 crops, flips; resize 256 + centre crop 224
    assert cfg.train_dataloader.dataset.type == 'ImageNet' and cfg.test_dataloader.dataset.split == 'val'
    assert [t.type for t in cfg.train_dataloader.dataset.pipeline] == [
        'LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip', 'PackInputs']
    test = cfg.test_dataloader.dataset.pipeline
    assert (test[1].scale, test[1].backend, test[2].crop_size) == (256, 'pillow', 224)
    assert cfg.data_preprocessor.mean == [123.675, 116.28, 103.53] and cfg.data_preprocessor.to_rgb
    assert cfg.model.type == 'ImageClassifier' and cfg.model.neck.type == 'GlobalAveragePooling'
    assert (cfg.model.head.type, cfg.model.head.num_classes, cfg.model.head.in_channels) == (
        'LinearClsHead', 1000, 2048)
    backbone = cfg.model.backbone
    if name == BASELINE:
        assert backbone == dict(type='ResNet', depth=50, num_stages=4, out_indices=(3, ), style='pytorch')
    else:
        depth, structure = SCALENETS.get(name, (50, 'scalenet50_seed'))
        assert backbone == dict(type='ScaleNet', depth=depth, num_stages=4, structure=structure, out_indices=(3, ),
                                norm_eval=False, style='pytorch')


def without_backbone(cfg):
    d = copy.deepcopy(cfg.to_dict())
    d['model'].pop('backbone')
    return d


@pytest.mark.parametrize('name', [*SCALENETS, SEED])
def test_scalenet_and_resnet_differ_only_in_backbone(name):
    assert without_backbone(load_config(name)) == without_backbone(load_config(BASELINE))


@pytest.mark.parametrize('name', ALL)
def test_one_training_step(name):
    cfg = load_config(name)
    model = build_classifier(cfg)
    expected = 'ScaleNet' if name != BASELINE else 'ResNet'
    assert type(model).__name__ == 'ImageClassifier' and type(model.backbone).__name__ == expected
    log_vars, before = training_step(model, cfg)
    assert torch.isfinite(torch.as_tensor(log_vars['loss']))
    after = dict(model.named_parameters())
    for name in ('backbone.conv1.weight', 'backbone.layer4.2.conv3.weight', 'head.fc.weight'):
        assert not torch.equal(before[name], after[name]), f'{name} did not change'
    # BatchNorm statistics are trained (norm_eval=False), as in mmpretrain's ResNet
    assert model.backbone.bn1.num_batches_tracked.item() == 1


def test_a_missing_imagenet_says_what_to_download(tmp_path):
    cfg = load_config(SEED)
    set_data_root(cfg, str(tmp_path))
    with pytest.raises(RunSetupError) as error:
        check_data(cfg, ['train_dataloader', 'val_dataloader'])
    message = str(error.value)
    assert f'train_dataloader: image folder {tmp_path}/train' in message
    assert f'val_dataloader: image folder {tmp_path}/val' in message
    assert 'image-net.org' in message and 'make_synthetic_classification' in message


def test_the_tools_take_mmpretrain_configs(tmp_path):
    out = run_tool([python(), 'tools/train.py', config_path(SEED), '--work-dir', str(tmp_path),
                    '--data-root', str(tmp_path / 'nowhere')])
    assert out.returncode == 2 and 'tools/train.py: error: the data set is missing' in out.stderr
    assert 'image-net.org' in out.stderr


def test_test_time_augmentation_wraps_the_classifier():
    cfg = load_config(SEED)
    use_tta(cfg, 'mmpretrain')
    assert cfg.model.type == 'mmpretrain.AverageClsScoreTTA' and cfg.model.module.type == 'ImageClassifier'
    tta = cfg.test_dataloader.dataset.pipeline[-1]
    assert tta.type == 'TestTimeAug' and tta.transforms[1] == [dict(type='PackInputs')]
