"""mmseg end to end on CPU, through the project's tools and mmengine's Runner: PSPNet with the dilated ScaleNet-50
trained a few iterations on a synthetic data set, evaluated with mmseg's IoUMetric (mIoU), its checkpoint reloaded
with safe loading by tools/test.py."""
import glob
import pickle
import re

import pytest
import torch

from scalenet_lab.datasets import make_synthetic_segmentation
from scalenet_lab.datasets.synthetic_segmentation import CLASSES, PALETTE

from ..common import python, run_tool
from .common import config_path

pytestmark = pytest.mark.slow

MIOU = re.compile(r'mIoU: ([0-9.]+)')

#: The project's Cityscapes PSPNet config, changed only in what the synthetic data needs: its classes, 64x64
#: images and crops, a mmseg BaseSegDataset, four iterations, no pretrained weights.
CONFIG = """_base_ = {base!r}
crop_size = (64, 64)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(init_cfg=None),
    decode_head=dict(num_classes={num_classes}),
    auxiliary_head=dict(num_classes={num_classes}))
dataset = dict(
    _delete_=True, type='BaseSegDataset', data_root='data/synthetic_segmentation', img_suffix='.png',
    seg_map_suffix='.png', reduce_zero_label=False, metainfo=dict(classes={classes!r}, palette={palette!r}))
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(**dataset, data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'),
                 pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                           dict(type='RandomFlip', prob=0.5), dict(type='PackSegInputs')]))
val_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    dataset=dict(**dataset, data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
                 pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                           dict(type='PackSegInputs')]))
test_dataloader = val_dataloader
train_cfg = dict(max_iters=4, val_interval=4)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=4))
"""


@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
    """8 training and 4 validation images of 64x64 with per-pixel labels (5 classes, rims ignored)."""
    root = tmp_path_factory.mktemp('data') / 'segmentation'
    make_synthetic_segmentation(str(root), num_train=8, num_val=4, image_size=64, seed=0)
    return str(root)


def test_train_then_test_prints_miou(shapes, tmp_path):
    config = tmp_path / 'pspnet_scalenet50-d8_synthetic.py'
    config.write_text(CONFIG.format(base=config_path('pspnet/pspnet_scalenet50-d8_4xb2-80k_cityscapes-512x1024.py'),
                                    num_classes=len(CLASSES), classes=CLASSES, palette=[list(c) for c in PALETTE]))
    out = run_tool([python(), 'tools/train.py', str(config), '--work-dir', str(tmp_path / 'run'),
                    '--data-root', shapes])
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-4000:]
    assert 'Iter(train) [4/4]' in log
    assert all(re.search(rf'\|\s+{name}\s+\|', log) for name in CLASSES)  # mmseg's per-class IoU table
    (trained, ) = [float(v) for v in MIOU.findall(log)]
    assert 0 <= trained <= 100
    ckpt = tmp_path / 'run' / 'iter_4.pth'
    state = torch.load(ckpt, map_location='cpu', weights_only=True)['state_dict']  # safe loading reads it
    assert state['decode_head.conv_seg.weight'].shape[0] == len(CLASSES)
    assert 'backbone.layer4.2.conv2.0.weight' in state
    # reloaded with torch.load(weights_only=True) by the Runner, evaluated again: the same mIoU
    show = tmp_path / 'show'
    out = run_tool([python(), 'tools/test.py', str(config), str(ckpt), '--work-dir', str(tmp_path / 'test'),
                    '--data-root', shapes, '--out', str(tmp_path / 'preds.pkl'), '--show-dir', str(show)])
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-4000:]
    assert [float(v) for v in MIOU.findall(log)] == [trained]
    with open(tmp_path / 'preds.pkl', 'rb') as f:
        predictions = pickle.load(f)
    assert len(predictions) == 4 and tuple(predictions[0]['pred_sem_seg']['data'].shape) == (1, 64, 64)
    assert len(glob.glob(str(show / '**' / '*.png'), recursive=True)) == 4
