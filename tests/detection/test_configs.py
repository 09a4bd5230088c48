"""Every project config loads and builds; ScaleNet and ResNet variants differ only in the backbone."""
import copy
import os

import numpy as np
import pytest

from .common import CONFIG_DIR, build_detector, load_config, project_configs

PAPER = [f'{arch}_8xb2-10e_coco-{scale}' for arch in ('c4', 'fpn') for scale in ('600x1000', '800x1200')]


def config_path(net, depth, arch, scale):
    sep = '-' if arch == 'c4' else '_'
    return os.path.join(CONFIG_DIR, f'faster-rcnn_{net}{depth}{sep}{arch}_8xb2-10e_coco-{scale}.py')


def test_all_paper_configs_exist():
    for net in ('scalenet', 'r'):
        for depth in (50, 101):
            for arch in ('c4', 'fpn'):
                for scale in ('600x1000', '800x1200'):
                    assert os.path.isfile(config_path(net, depth, arch, scale))


@pytest.mark.parametrize('path', project_configs(), ids=os.path.basename)
def test_config_loads_and_builds(path):
    cfg = load_config(path)
    model_cfg = copy.deepcopy(cfg.model)
    # build without the (absent) pretrained weights: only the structure is checked here
    model_cfg.backbone.init_cfg = None
    if model_cfg.roi_head.get('shared_head'):
        model_cfg.roi_head.shared_head.init_cfg = None
    model = build_detector(model_cfg)
    assert type(model).__name__ == 'FasterRCNN'
    assert cfg.custom_imports.imports == ['mmdet_scalenet']
    if 'scalenet' in os.path.basename(path):
        assert type(model.backbone).__name__ == 'ScaleNet'


def strip(cfg):
    d = copy.deepcopy(cfg.to_dict())
    d['model'].pop('backbone')
    d['model']['roi_head'].pop('shared_head', None)
    return d


@pytest.mark.parametrize('arch', ['c4', 'fpn'])
@pytest.mark.parametrize('scale', ['600x1000', '800x1200'])
@pytest.mark.parametrize('depth', [50, 101])
def test_scalenet_and_resnet_differ_only_in_backbone(arch, scale, depth):
    scalenet = load_config(config_path('scalenet', depth, arch, scale))
    resnet = load_config(config_path('r', depth, arch, scale))
    assert scalenet.model.backbone.type == 'ScaleNet' and resnet.model.backbone.type == 'ResNet'
    assert strip(scalenet) == strip(resnet)
    # the settings that matter for a fair comparison are the same in both backbones
    for key in ('depth', 'num_stages', 'out_indices', 'frozen_stages', 'norm_cfg', 'norm_eval'):
        assert scalenet.model.backbone[key] == resnet.model.backbone[key], key
    if arch == 'c4':
        assert scalenet.model.roi_head.shared_head.type == 'ScaleNetResLayer'
        assert resnet.model.roi_head.shared_head.type == 'ResLayer'


def test_paper_schedule_and_entry_point():
    cfg = load_config(os.path.join(CONFIG_DIR, 'faster_rcnn_scalenet50.py'))
    assert cfg.model.backbone.type == 'ScaleNet' and cfg.model.backbone.depth == 50
    assert cfg.model.roi_head.shared_head.type == 'ScaleNetResLayer'
    assert cfg.model.roi_head.bbox_roi_extractor.roi_layer.output_size == 14
    assert cfg.train_dataloader.batch_size * 8 == 16
    assert cfg.optim_wrapper.optimizer == dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001)
    assert cfg.train_cfg.max_epochs == 10
    steps = [s for s in cfg.param_scheduler if s.type == 'MultiStepLR']
    assert steps[0].milestones == [4, 8] and steps[0].gamma == 0.1
    assert any(s.type == 'LinearLR' for s in cfg.param_scheduler)
    assert cfg.train_dataloader.dataset.ann_file == 'annotations/instances_train2017.json'
    assert cfg.val_evaluator.type == 'CocoMetric'
    assert cfg.val_evaluator.ann_file == 'data/coco/annotations/instances_val2017.json'


@pytest.mark.parametrize('scale,image,expected', [
    ('600x1000', (480, 800), (600, 1000)),
    ('600x1000', (300, 1000), (300, 1000)),
    ('800x1200', (400, 600), (800, 1200)),
    ('800x1200', (1000, 700), (1143, 800)),
])
def test_test_pipeline_resizes_to_the_paper_scales(scale, image, expected):
    from mmcv.transforms import Compose
    cfg = load_config(config_path('scalenet', 50, 'c4', scale))
    steps = [t for t in cfg.test_dataloader.dataset.pipeline if t.type == 'Resize']
    from mmdet.registry import TRANSFORMS
    resize = Compose([TRANSFORMS.build(t) for t in steps])
    out = resize(dict(img=np.zeros((*image, 3), np.uint8), img_shape=image, ori_shape=image))
    h, w = out['img'].shape[:2]
    assert (h, w) == expected
    assert min(h, w) <= int(scale.split('x')[0]) and max(h, w) <= int(scale.split('x')[1])


def test_seed_detector_configs_change_only_the_backbone():
    """Step 1 of the allocation recipe: the seed ScaleNet-50 in the demo's and the paper's FPN detectors. On the
    demo's data the seed trains with SGD where the demo uses AdamW: the allocation compares gamma sizes, which
    Adam's per-parameter normalised steps blur."""
    sgd = dict(type='SGD', lr=0.04, momentum=0.9, weight_decay=0.0001)
    pairs = [('allocation/faster-rcnn_scalenet50-seed_fpn_synthetic-shapes.py',
              'demo/faster-rcnn_scalenet50-light_fpn_synthetic-shapes.py', sgd),
             ('allocation/faster-rcnn_scalenet50-seed_fpn_8xb2-10e_coco-800x1200.py',
              'faster-rcnn_scalenet50_fpn_8xb2-10e_coco-800x1200.py', None)]
    for seed_path, base_path, optimizer in pairs:
        seed, base = (load_config(os.path.join(CONFIG_DIR, p)) for p in (seed_path, base_path))
        assert seed.model.backbone.structure == 'scalenet50_seed'
        if optimizer is not None:
            assert seed.optim_wrapper.optimizer == optimizer and base.optim_wrapper.optimizer.type == 'AdamW'
            seed.optim_wrapper.optimizer = base.optim_wrapper.optimizer
        assert strip(seed) == strip(base), seed_path
    coco_seed = load_config(os.path.join(CONFIG_DIR, pairs[1][0])).model.backbone
    assert coco_seed.init_cfg is None and coco_seed.frozen_stages == -1 and not coco_seed.norm_eval
