"""Helpers for the detection tests: configs, models and a tiny generated data set."""
import glob
import os

import torch
from mmengine.config import Config

from ..common import ROOT

CONFIG_DIR = os.path.join(ROOT, 'configs')
DEMO_CONFIG = os.path.join(CONFIG_DIR, 'demo', 'faster-rcnn_scalenet50-light_fpn_synthetic-shapes.py')
SEED_CONFIG = os.path.join(CONFIG_DIR, 'allocation', 'faster-rcnn_scalenet50-seed_fpn_synthetic-shapes.py')


def project_configs():
    nested = [p for p in glob.glob(os.path.join(CONFIG_DIR, '*', '*.py')) if os.sep + '_base_' + os.sep not in p]
    return sorted(glob.glob(os.path.join(CONFIG_DIR, '*.py')) + nested)


def load_config(path):
    from mmdet.utils import register_all_modules
    register_all_modules()
    return Config.fromfile(path)


def build_detector(cfg_model):
    from mmdet.registry import MODELS
    model = MODELS.build(cfg_model)
    model.init_weights()
    return model


def loss_step(model, batch_size=2, size=128, num_classes=80, with_mask=False, seed=0):
    """One forward/backward pass on random images with random boxes; returns the loss dict."""
    from mmdet.testing import demo_mm_inputs
    torch.manual_seed(seed)
    packed = demo_mm_inputs(batch_size=batch_size, image_shapes=[(3, size, size)] * batch_size,
                            num_items=[3] * batch_size, num_classes=num_classes, with_mask=with_mask)
    model.train()
    data = model.data_preprocessor(packed, True)
    losses = model(**data, mode='loss')
    total, _ = model.parse_losses(losses)
    total.backward()
    return losses, total


# Options that shrink the demo config to a few seconds of training on the tiny data set.
TINY_OPTIONS = [
    'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
    'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False', 'val_dataloader.batch_size=4',
    'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False', 'test_dataloader.batch_size=4',
    'default_hooks.logger.interval=1', 'model.train_cfg.rpn.sampler.num=32', 'model.train_cfg.rcnn.sampler.num=16',
]
