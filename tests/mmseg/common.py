"""Helpers for the mmseg tests: the project's segmentation configs, segmentors built as mmseg's Runner builds them
on one process, one training step on random images and masks."""
import copy
import os

import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import DefaultScope

from ..common import ROOT, optimizer_step, quiet

CONFIG_DIR = os.path.join(ROOT, 'configs', 'mmseg')
#: The project's configs and the mmseg config each one changes only the backbone of.
CONFIGS = {
    f'{algo}/{algo}_scalenet{depth}-d8_{data}.py': f'{algo}/{algo}_r{depth}-d8_{data}.py'
    for algo in ('pspnet', 'deeplabv3') for depth in (50, 101)
    for data in ('4xb2-80k_cityscapes-512x1024', '4xb4-80k_ade20k-512x512')
}


def config_path(name):
    return os.path.join(CONFIG_DIR, name)


def load_config(path, tmp_path=None):
    """A project config (a path under configs/mmseg), or an mmseg one (``'mmseg::...'``, through a one-line config
    in ``tmp_path`` that inherits it, as users write)."""
    if path.startswith('mmseg::'):
        wrapper = tmp_path / 'inherits.py'
        wrapper.write_text(f'_base_ = {path!r}\n')
        return Config.fromfile(str(wrapper))
    return Config.fromfile(path if os.path.isabs(path) else config_path(path))


def build_segmentor(cfg, size=32):
    """``cfg.model`` as mmseg's Runner builds it on one process (SyncBN reverted to BN, ``init_weights()``), without
    the pretrained weights (absent here), padding inputs to ``size`` instead of the config's crop."""
    from mmseg.registry import MODELS
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.init_cfg = None
    model_cfg.pretrained = None
    model_cfg.data_preprocessor.size = (size, size)
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = revert_sync_batchnorm(MODELS.build(model_cfg))
    with quiet():
        model.init_weights()
    return model


def training_step(model, cfg, size=32, batch_size=2, seed=0):
    """One step of the config's optimizer on random images and label maps (some pixels ignored, 255); returns the
    log variables and the parameters before the step."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    torch.manual_seed(seed)
    num_classes = cfg.model.decode_head.num_classes
    inputs = [torch.randint(0, 256, (3, size, size), dtype=torch.uint8) for _ in range(batch_size)]
    samples = []
    for _ in range(batch_size):
        sample = SegDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size)))
        labels = torch.randint(0, num_classes, (1, size, size))
        labels[:, :2] = 255
        sample.gt_sem_seg = PixelData(data=labels)
        samples.append(sample)
    return optimizer_step(model, cfg, 'mmseg', inputs, samples)
