"""The README's main command (tools/demo.py) and the allocation demo, end to end on a few images."""
import glob
import json

import pytest

from .common import TINY_OPTIONS, python, run_tool

pytestmark = pytest.mark.slow

TINY_DEMO = ['--num-train', '8', '--num-val', '4', '--cfg-options', *TINY_OPTIONS, 'train_cfg.max_epochs=1']


def test_demo_trains_evaluates_and_draws(tmp_path):
    out = run_tool([python(), 'tools/demo.py', '--work-dir', str(tmp_path / 'work'), '--data-root',
                    str(tmp_path / 'data'), *TINY_DEMO])
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-4000:]
    assert 'eta:' in log  # mmengine's progress lines
    assert 'Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]' in log
    assert '[demo] done in ' in out.stdout and 'bbox mAP@[.5:.95] = ' in out.stdout
    assert 'on the 4 validation images' in out.stdout
    assert len(json.load(open(tmp_path / 'data' / 'annotations' / 'train.json'))['images']) == 8
    assert len(glob.glob(str(tmp_path / 'work' / 'detections' / '*.jpg'))) == 4


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
