"""The README's main command (tools/demo.py) and the allocation demo: end to end on a few images (slow), and the
checks that stop them before any work (fast)."""
import glob
import json
import re

import pytest

from mmdet_scalenet.allocation import MODES

from ..common import python, run_tool
from .common import TINY_OPTIONS

TINY_DEMO = ['--num-train', '8', '--num-val', '4', '--cfg-options', *TINY_OPTIONS, 'train_cfg.max_epochs=1']
#: How far ``tools/test.py --fuse`` may move a detection: the fast path is exact up to float rounding (measured on
#: the tiny demo: 1.5e-5 px and 5e-8 in score), so these bounds are far above rounding and far below any real change
#: (the demo's images are 96-128 px; its scores after two training iterations spread over about 0.02).
BOX_TOLERANCE_PX = 1e-2
SCORE_TOLERANCE = 1e-4


def unmatched_detections(plain, fused):
    """Indices of the detections of ``plain`` and of ``fused`` (one image's ``pred_instances``) with no partner in
    the other: same label, score within ``SCORE_TOLERANCE``, every box coordinate within ``BOX_TOLERANCE_PX``.
    Partners are paired greedily, best score first."""
    import torch
    a, b = ({k: torch.as_tensor(p[k]) for k in ('bboxes', 'scores', 'labels')} for p in (plain, fused))
    close = ((a['labels'][:, None] == b['labels'][None, :])
             & ((a['scores'][:, None] - b['scores'][None, :]).abs() <= SCORE_TOLERANCE)
             & ((a['bboxes'][:, None, :] - b['bboxes'][None, :, :]).abs().amax(-1) <= BOX_TOLERANCE_PX))
    taken, lonely = set(), []
    for i in torch.argsort(a['scores'], descending=True).tolist():
        partners = [j for j in close[i].nonzero().flatten().tolist() if j not in taken]
        if partners:
            taken.add(partners[0])
        else:
            lonely.append(i)
    return lonely, [j for j in range(len(b['scores'])) if j not in taken]


def assert_same_detections(plain_path, fused_path):
    """Every detection of one run has a partner in the other (see :func:`unmatched_detections`), except where a
    score lies within ``SCORE_TOLERANCE`` of the run's lowest kept score (a near-tie at the per-image cut-off may
    fall either side)."""
    from scalenet_lab.detections import load_predictions
    plain, fused = load_predictions(plain_path), load_predictions(fused_path)
    assert [r['img_path'] for r in plain] == [r['img_path'] for r in fused]
    for a, b in zip(plain, fused):
        a, b = a['pred_instances'], b['pred_instances']
        assert len(a['scores']) > 0, f'{plain_path}: no detection to compare'
        lonely_a, lonely_b = unmatched_detections(a, b)
        for lonely, run in ((lonely_a, a), (lonely_b, b)):
            cutoff = float(run['scores'].min())
            far = [i for i in lonely if float(run['scores'][i]) > cutoff + SCORE_TOLERANCE]
            assert not far, (f'{plain_path} vs {fused_path}: detections {far} have no partner within '
                             f'{BOX_TOLERANCE_PX} px and {SCORE_TOLERANCE} in score')


@pytest.mark.parametrize('tool', ['demo', 'allocation_demo'])
@pytest.mark.parametrize('flag, value, message', [('--num-train', '0', 'expected an integer >= 1, got 0'),
                                                   ('--num-val', '-3', 'expected an integer >= 1, got -3'),
                                                   ('--num-train', 'many', "expected an integer, got 'many'")])
def test_demos_reject_image_counts_below_one(tmp_path, tool, flag, value, message):
    out = run_tool([python(), f'tools/{tool}.py', '--work-dir', str(tmp_path / 'work'), '--data-root',
                    str(tmp_path / 'data'), flag, value], timeout=120)
    assert out.returncode == 2, out.stdout + out.stderr
    assert f'error: argument {flag}: {message}' in out.stderr
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize('args, message', [
    (['--mode', 'network-flops'], '--mode network-flops needs --budget'),
    (['--budget', '0'], '--budget: expected a finite number > 0, got 0'),
    (['--mode', 'network-flops', '--budget', '-3.8'], '--budget: expected a finite number > 0, got -3.8'),
    (['--budget', 'nan'], '--budget: expected a finite number > 0, got nan'),
    (['--budget', 'inf'], '--budget: expected a finite number > 0, got inf'),
])
def test_allocation_demo_checks_the_budget_up_front(tmp_path, args, message):
    out = run_tool([python(), 'tools/allocation_demo.py', '--work-dir', str(tmp_path / 'work'), '--data-root',
                    str(tmp_path / 'data'), *args], timeout=120)
    assert out.returncode == 2, out.stdout + out.stderr
    assert f'error: {message}' in out.stderr
    assert not list(tmp_path.iterdir())


def test_allocation_demo_modes_are_the_allocators(tmp_path):
    out = run_tool([python(), 'tools/allocation_demo.py', '--mode', 'other'], timeout=120)
    assert out.returncode == 2 and 'invalid choice' in out.stderr
    assert all(mode in out.stderr for mode in MODES)


def test_demo_leaves_a_folder_that_is_not_synthetic_shapes_alone(tmp_path):
    data = tmp_path / 'coco'
    (data / 'annotations').mkdir(parents=True)
    (data / 'annotations' / 'instances_train2017.json').write_text('{}')
    out = run_tool([python(), 'tools/demo.py', '--work-dir', str(tmp_path / 'work'), '--data-root', str(data)],
                   timeout=120)
    assert out.returncode == 2, out.stdout + out.stderr
    assert f'tools/demo.py: error: {data}: exists and does not look like a synthetic shapes data set' in out.stderr
    assert '[demo] training' not in out.stdout
    assert [str(p.relative_to(tmp_path)) for p in sorted(tmp_path.rglob('*'))] == [
        'coco', 'coco/annotations', 'coco/annotations/instances_train2017.json']


@pytest.mark.slow
def test_demo_trains_evaluates_and_draws(tmp_path):
    out = run_tool([python(), 'tools/demo.py', '--work-dir', str(tmp_path / 'work'), '--data-root',
                    str(tmp_path / 'data'), *TINY_DEMO])
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-4000:]
    assert 'eta:' in log  # mmengine's progress lines
    assert 'Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]' in log
    assert '[demo] done in ' in out.stdout and 'bbox mAP@[.5:.95] = ' in out.stdout
    assert 'on the 4 validation images' in out.stdout
    # tools/test.py --fuse: the same COCO mAP as the unfused model
    plain = re.search(r'\[demo\] done in .*?: (bbox mAP@\[\.5:\.95\] = \S+, mAP@\.5 = \d\.\d+)', out.stdout)
    fused = re.search(r'--fuse \(inference fast path\): (bbox mAP@\[\.5:\.95\] = \S+, mAP@\.5 = \d\.\d+)',
                      out.stdout)
    assert plain and fused and fused.group(1) == plain.group(1), out.stdout[-2000:]
    # and the same detections, box by box, on the 4 validation images
    assert_same_detections(tmp_path / 'work' / 'test' / 'predictions.pkl',
                           tmp_path / 'work' / 'test_fused' / 'predictions.pkl')
    assert 'FuseConvBNHook: the model runs on the inference fast path' in log
    assert len(json.load(open(tmp_path / 'data' / 'annotations' / 'train.json'))['images']) == 8
    drawn = sorted(glob.glob(str(tmp_path / 'work' / 'detections' / '*.png')))
    assert len(drawn) == 5 and drawn[-1].endswith('overview.png')  # 4 images and the overview
    from matplotlib.image import imread
    assert imread(drawn[0]).shape[:2][1] >= 4 * 96  # drawn 4x, legend below


@pytest.mark.slow
def test_allocation_demo_runs_the_three_steps(tmp_path):
    out = run_tool([python(), 'tools/allocation_demo.py', '--work-dir', str(tmp_path / 'work'), '--data-root',
                    str(tmp_path / 'data'), *TINY_DEMO, 'param_scheduler.0.start_factor=1.0'])
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-4000:]
    for step in ('step 1, training the seed detector', 'step 2, allocating the neurons',
                 'step 3, retraining the detector with the allocated structure'):
        assert f'[allocation] {step}' in out.stdout
    lines = [line for line in out.stdout.splitlines() if 'GMACs   mAP@[.5:.95] = ' in line]
    assert [line.split()[1] for line in lines] == ['seed', 'allocated']
    assert (tmp_path / 'work' / 'allocation.png').stat().st_size > 10_000
    assert (tmp_path / 'work' / 'allocated_structure.json').is_file()
