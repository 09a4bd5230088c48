"""Helpers for the mmpretrain tests: the project's ImageNet classifier configs, classifiers built as mmpretrain's
Runner builds them, one training step on random images."""
import copy
import os

import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from ..common import ROOT, optimizer_step, quiet

CONFIG_DIR = os.path.join(ROOT, 'configs', 'mmpretrain', 'scalenet')
#: config name -> (depth, structure) of the ScaleNet classifiers.
SCALENETS = {
    'scalenet50_8xb32-coslr-120e_in1k': (50, 'scalenet50'),
    'scalenet50-light_8xb32-coslr-120e_in1k': (50, 'scalenet50_light'),
    'scalenet101_8xb32-coslr-120e_in1k': (101, 'scalenet101'),
    'scalenet152_8xb32-coslr-120e_in1k': (152, 'scalenet152'),
}
SEED = 'scalenet50-seed_8xb32-coslr-120e_in1k'
BASELINE = 'resnet50_8xb32-coslr-120e_in1k'


def config_path(name):
    return os.path.join(CONFIG_DIR, f'{name}.py')


def load_config(name_or_path):
    path = name_or_path if name_or_path.endswith('.py') else config_path(name_or_path)
    return Config.fromfile(path)


def build_classifier(cfg, init_weights=True):
    """``cfg.model`` built as mmpretrain's Runner builds it (the top-level data preprocessor merged in, then
    ``init_weights()``), in the mmpretrain scope (an earlier Runner of another toolbox in this process may have
    left its own default scope). ``init_weights=False`` skips the initialisation (seconds), for weights that are
    loaded next."""
    from mmpretrain.registry import MODELS
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(model_cfg)
    if init_weights:
        with quiet():
            model.init_weights()
    return model


def training_step(model, cfg, size=32, batch_size=2, seed=0):
    """One step of the config's optimizer on random images and labels through ``model.train_step`` (data
    preprocessor, loss, backward, update); returns the log variables and the parameters before the step."""
    from mmpretrain.structures import DataSample
    torch.manual_seed(seed)
    num_classes = cfg.model.head.num_classes
    inputs = [torch.randint(0, 256, (3, size, size), dtype=torch.uint8) for _ in range(batch_size)]
    samples = [DataSample().set_gt_label(int(torch.randint(num_classes, ()))) for _ in range(batch_size)]
    return optimizer_step(model, cfg, 'mmpretrain', inputs, samples)
