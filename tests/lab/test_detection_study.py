"""The detection study. Fast: each ScaleNet config differs from its ResNet one only in the backbone (and C4's head),
every object of the data can be matched by an anchor, the data's size classes and scaling, the defaults are the
configs', the report's arithmetic. Slow: the whole study on tiny settings, every run through mmengine's Runner, one
of them interrupted and resumed, the report and its pictures, the cache (a re-run trains nothing), a work directory
made with other settings refused, and the command line."""
import json
import os
import re

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner.loops import IterBasedTrainLoop

from scalenet_lab.datasets import make_synthetic_shapes
from scalenet_lab.datasets.synthetic_shapes import SIZE_CLASSES, coco_size_class
from scalenet_lab.detection_study import (
    BACKBONES,
    CONFIGS,
    DETECTORS,
    METRICS,
    StudySettings,
    _cell,
    _comparison,
    _config_side,
    _metrics,
    result_to_json,
    run_study,
    write_report,
)

from ..common import quiet


def _flatten(value, prefix=''):
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _flatten(item, f'{prefix}{key}.').items()}
    if isinstance(value, (list, tuple)):
        return {k: v for i, item in enumerate(value) for k, v in _flatten(item, f'{prefix}{i}.').items()}
    return {prefix.rstrip('.'): value}


@pytest.mark.parametrize('detector', DETECTORS)
def test_scalenet_and_resnet_configs_differ_only_in_the_backbone(detector):
    scalenet, resnet = (_flatten(Config.fromfile(CONFIGS[(detector, b)]).to_dict()) for b in BACKBONES)
    differ = {key: (scalenet.get(key), resnet.get(key)) for key in scalenet.keys() | resnet.keys()
              if scalenet.get(key) != resnet.get(key)}
    expected = {'model.backbone.type': ('ScaleNet', 'ResNet')}
    if detector == 'C4':
        expected['model.roi_head.shared_head.type'] = ('ScaleNetResLayer', 'ResLayer')
    assert differ == expected


@pytest.fixture(scope='module')
def study_data(tmp_path_factory):
    """A sample of the study's data set, as the configs ask for it."""
    params = Config.fromfile(CONFIGS[('C4', 'ResNet-50')]).study_data
    root = tmp_path_factory.mktemp('data') / 'scales'
    paths = make_synthetic_shapes(str(root), num_train=60, num_val=1, seed=0, **params)
    with open(paths['train']) as f:
        return root, params, json.load(f)


@pytest.mark.parametrize('detector', DETECTORS)
def test_every_object_has_an_anchor_the_rpn_takes(detector, study_data):
    """A box of any size of the data (4 px drawn, the smallest, to 112 px) in the detector's pixels (C4 sees the
    image 2x larger), wherever it lies against the anchor grid, overlaps its best anchor at least as much as the
    RPN's low-quality match asks (``min_pos_iou``)."""
    from mmdet.registry import TASK_UTILS
    from mmdet.structures.bbox import bbox_overlaps
    from mmengine.registry import DefaultScope
    _, params, train = study_data
    boxes = np.array([a['bbox'] for a in train['annotations']]) / params['store_scale']  # drawn pixels
    assert boxes[:, 2:].min() >= 4 and boxes[:, 2:].max() <= params['max_side']
    cfg = Config.fromfile(CONFIGS[(detector, 'ResNet-50')])
    image = cfg.image_scale[0]
    zoom = image / params['image_size']
    assert zoom == {'C4': 2, 'FPN': 1}[detector]
    with DefaultScope.overwrite_default_scope('mmdet'):  # whatever scope an earlier test's Runner left
        generator = TASK_UTILS.build(cfg.model.rpn_head.anchor_generator)
    anchors = torch.cat(generator.grid_priors([(-(-image // s), -(-image // s)) for s, _ in generator.strides],
                                              device='cpu'))
    worst = 1.0
    for drawn in (4, 5, 6, 8, 11, 16, 23, 32, 45, 64, 90, params['max_side']):
        side = drawn * zoom
        # every position within a period of the strides that can matter: 16 px (finely) for small boxes
        offsets = torch.arange(0, 16, 0.5) if side <= 16 else torch.arange(0, min(64, image - side) + 1, 2.0)
        x, y = (v.flatten() for v in torch.meshgrid(offsets, offsets, indexing='ij'))
        boxes = torch.stack([x, y, x + side, y + side], dim=1)
        worst = min(worst, bbox_overlaps(boxes, anchors).max(dim=1).values.min().item())
    assert worst >= cfg.model.train_cfg.rpn.assigner.min_pos_iou
    assert cfg.model.train_cfg.rpn.assigner.match_low_quality


def test_a_config_whose_detector_sees_a_non_square_image_is_refused():
    cfg = Config.fromfile(CONFIGS[('FPN', 'ResNet-50')])
    cfg.image_scale = (160, 240)
    with pytest.raises(ValueError, match=r"image_scale: the study's images are square, got \(160, 240\)"):
        _config_side(cfg)
    cfg.image_scale = (160, 160)
    assert _config_side(cfg) == 160


def test_the_data_is_balanced_over_coco_size_classes_scaled_to_the_image(study_data):
    root, params, train = study_data
    k = params['store_scale']
    counts = {name: 0 for name in SIZE_CLASSES}
    for annotation in train['annotations']:
        counts[coco_size_class(annotation['area'])] += 1
    total = sum(counts.values())
    assert all(0.25 < n / total < 0.42 for n in counts.values()), counts
    image = train['images'][0]
    assert image['width'] == image['height'] == params['image_size'] * k
    # stored k times larger in k x k blocks: the configs' Resize gives back the drawn image (up to JPEG)
    stored = mmcv.imread(str(root / 'train' / image['file_name']))
    resized = mmcv.imresize(stored, (params['image_size'], params['image_size'])).astype(int)
    assert np.abs(resized - stored[k // 2::k, k // 2::k].astype(int)).mean() < 2.0


@pytest.mark.parametrize('changes, message', [
    (dict(sizes='coco'), "sizes: expected one of ['log-uniform', 'coco-balanced'], got 'coco'"),
    (dict(store_scale=0), 'store_scale: expected an integer >= 1, got 0'),
    (dict(min_side=12), "sizes='coco-balanced': no circle of side in [min_side=12, max_side=112] is small"),
    (dict(max_side=40), "sizes='coco-balanced': no triangle of side in [min_side=6, max_side=40] is large"),
])
def test_size_arguments_are_checked(tmp_path, changes, message):
    params = dict(Config.fromfile(CONFIGS[('FPN', 'ResNet-50')]).study_data, **changes)
    with pytest.raises(ValueError) as error:
        make_synthetic_shapes(str(tmp_path / 'scales'), num_train=1, num_val=1, **params)
    assert str(error.value).startswith(message)
    assert not list(tmp_path.iterdir())


def test_the_defaults_are_the_configs_schedule():
    defaults = StudySettings(work_dir='')
    for path in CONFIGS.values():
        cfg = Config.fromfile(path)
        assert cfg.train_cfg.max_iters == defaults.iters
        assert cfg.train_dataloader.batch_size == defaults.batch_size
        assert cfg.default_hooks.checkpoint.interval == defaults.checkpoint_interval
    assert defaults.differences_from_study() == []
    assert StudySettings(work_dir='', seeds=(3, 4, 5, 6), checkpoint_interval=7).differences_from_study() == []
    assert StudySettings(work_dir='', iters=3, seeds=(0, )).differences_from_study() == [
        'iters 3 (study: 200)', 'seeds (0,) (study: 3 seeds)']


def test_cells_comparisons_and_metrics():
    assert _cell([0.30, 0.32, 0.34]) == '32.0 ± 2.0 [30.0-34.0]'
    assert _cell([0.3, None]) == 'n/a'
    assert _comparison([0.40, 0.42], [0.30, 0.33]) == '+9.5 (**exceeds the spread**)'
    assert _comparison([0.40, 0.42], [0.30, 0.41]) == '+5.5 (within the spread)'
    assert _comparison([0.4], [0.3]) == '+10.0 (one seed: no spread)'
    values = {f'coco/bbox_{key}': 0.5 for key in METRICS}
    values['coco/bbox_mAP_s'] = -1.0  # COCOeval: no objects of that size
    assert _metrics(values) == (dict({key: 0.5 for key in METRICS}, mAP_s=None), False)
    assert _metrics({}) == ({key: 0.0 for key in METRICS}, True)  # no detection: CocoMetric returns nothing


# ---------------------------------------------------------------------------------------------------------------
# The whole study on tiny settings


class _Interrupted(Exception):
    pass


def _settings(work_dir, **changes):
    values = dict(work_dir=str(work_dir), num_train=4, num_val=3, iters=2, batch_size=2, seeds=(0, ),
                  checkpoint_interval=1)
    values.update(changes)
    return StudySettings(**values)


@pytest.fixture(scope='module')
def study(tmp_path_factory):
    """The tiny study, its first run stopped in its second iteration (after the first checkpoint), then run
    again: that run resumes, the others train."""
    work_dir = tmp_path_factory.mktemp('detection_study')
    run_iter = IterBasedTrainLoop.run_iter

    def interrupted(loop, data_batch):
        if loop.iter == 1:
            raise _Interrupted
        return run_iter(loop, data_batch)

    first, lines = [], []
    with quiet(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(IterBasedTrainLoop, 'run_iter', interrupted)
        with pytest.raises(_Interrupted):
            run_study(_settings(work_dir), log=first.append)
    checkpoint = work_dir / 'runs' / 'C4' / 'ScaleNet-50' / 'seed0' / 'iter_1.pth'
    before = torch.load(checkpoint, weights_only=True)['meta']['train_seconds']
    with quiet():
        result = run_study(_settings(work_dir), log=lines.append)
    return work_dir, result, first, lines, before


@pytest.mark.slow
def test_every_detector_and_backbone_is_trained_and_evaluated(study):
    _, result, first, lines, _ = study
    # the interrupted session: its start, then its progress at its one checkpoint
    assert first[0] == '[study] training C4/ScaleNet-50/seed0' and len(first) == 2, first
    assert re.fullmatch(r'\[study\] C4/ScaleNet-50/seed0: iteration 1/2, \d+\.\d s per iteration, about \d+ '
                        r'minutes of training left', first[1]), first[1]
    assert sorted((r.detector, r.backbone, r.seed) for r in result.runs) == sorted(
        (d, b, 0) for d in DETECTORS for b in BACKBONES)
    for run in result.runs:
        assert all(v is None or 0.0 <= v <= 1.0 for v in run.metrics.values()), run.metrics
        assert run.train_seconds > 0 and run.eval_seconds > 0
        assert os.path.isfile(os.path.join(result.settings.work_dir, run.predictions))
    gmacs = {(r.detector, r.backbone): (r.backbone_gmacs, r.head_gmacs) for r in result.runs}
    for detector in DETECTORS:  # ScaleNet-50 costs less than ResNet-50 (3.82 against 4.09 GMACs at 224 px)
        assert gmacs[(detector, 'ScaleNet-50')][0] < gmacs[(detector, 'ResNet-50')][0]
    assert gmacs[('C4', 'ScaleNet-50')][1] < gmacs[('C4', 'ResNet-50')][1]
    assert gmacs[('FPN', 'ResNet-50')][1] is None
    assert sum(result.val_objects.values()) > 0 and set(result.val_objects) == set(SIZE_CLASSES)


@pytest.mark.slow
def test_an_interrupted_run_resumes_from_its_checkpoint(study):
    _, result, _, lines, before = study
    assert lines[0] == '[study] resuming C4/ScaleNet-50/seed0'
    assert lines[1].startswith('[study] C4/ScaleNet-50/seed0: iteration 2/2, '), lines[1]
    assert sum(line.startswith('[study] training') for line in lines) == len(DETECTORS) * len(BACKBONES) - 1
    started = {r.name: r.started_at_iter for r in result.runs}
    assert started.pop('C4/ScaleNet-50/seed0') == 1 and set(started.values()) == {0}
    assert result.runs[0].train_seconds > before > 0  # the first session's time carried over


@pytest.mark.slow
def test_report_pictures_and_json(study, tmp_path):
    _, result, _, _, _ = study
    report = tmp_path / 'docs' / 'detection_study.md'
    report.parent.mkdir()
    write_report(result, str(report), str(tmp_path / 'docs' / 'images'))
    text = report.read_text()
    assert '**Made with test settings, not the study\'s: the numbers below mean nothing.**' in text
    for name in ('ap_by_size', 'detections_c4', 'detections_fpn'):
        picture = tmp_path / 'docs' / 'images' / f'detection_study_{name}.png'
        assert picture.read_bytes()[:4] == b'\x89PNG'
        assert f'](images/detection_study_{name}.png)' in text
    rows = [line for line in text.splitlines() if line.startswith(('| C4 |', '| FPN |'))]
    assert len(rows) == len(DETECTORS) * len(BACKBONES)
    assert all(line.count('one seed: no spread') == len(METRICS)
               for line in text.splitlines() if line.startswith(('- C4:', '- FPN:')))
    assert json.loads(json.dumps(result_to_json(result)))['runs'][0]['name'] == result.runs[0].name


@pytest.mark.slow
def test_a_rerun_comes_from_the_cache(study):
    work_dir, first, _, _, _ = study
    lines = []
    with quiet():
        again = run_study(_settings(work_dir), log=lines.append)
    assert lines == []
    assert [r.metrics for r in again.runs] == [r.metrics for r in first.runs]


@pytest.mark.slow
def test_a_work_dir_of_other_settings_or_configs_is_refused(study):
    work_dir, _, _, _, _ = study
    with pytest.raises(ValueError, match=r'other settings \(iters: 2 there, 3 asked\)'):
        run_study(_settings(work_dir, iters=3))
    path = work_dir / 'settings.json'
    recorded = path.read_text()
    changed = json.loads(recorded)
    changed['configs']['FPN/ResNet-50'] = 'edited'
    path.write_text(json.dumps(changed))
    try:
        with pytest.raises(ValueError, match=r'other settings \(config of FPN/ResNet-50 changed\)'):
            run_study(_settings(work_dir))
    finally:
        path.write_text(recorded)


@pytest.mark.slow
def test_the_tool_redraws_the_report_from_the_cache(study, tmp_path, load_tool, capsys):
    work_dir, _, _, _, _ = study
    tool = load_tool('detection_study')
    report = tmp_path / 'study.md'
    argv = ['--work-dir', str(work_dir), '--report', str(report), '--num-train', '4', '--num-val', '3', '--iters',
            '2', '--batch-size', '2', '--seeds', '0', '--checkpoint-interval', '1']
    assert tool.main(argv) == 0
    assert '[study] training' not in capsys.readouterr().out
    assert (tmp_path / 'images' / 'detection_study_detections_fpn.png').is_file()
    assert len(json.loads((work_dir / 'study.json').read_text())['runs']) == len(CONFIGS)
    with pytest.raises(SystemExit) as exit_:
        tool.main(argv)
    assert exit_.value.code == 2 and 'exists; pass overwrite=True (--overwrite)' in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        tool.main(argv + ['--overwrite', '--iters', '3'])
    assert exit_.value.code == 2 and 'other settings (iters: 2 there, 3 asked)' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tool.main(argv + ['--seeds', '0', '0'])
    assert 'each seed once' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tool.main(argv + ['--iters', '0'])
    assert 'argument --iters: expected an integer >= 1, got 0' in capsys.readouterr().err
