"""CompileHook, the one config line that compiles the backbone (and the neck) with torch.compile, through
tools/train.py and tools/test.py on the tiny demo: training runs, and testing gives the eager mAP."""
import re

import pytest

from ..common import python, run_tool
from .common import DEMO_CONFIG, TINY_OPTIONS

pytestmark = pytest.mark.slow


def bbox_map(log: str) -> float:
    found = re.findall(r'coco/bbox_mAP: (-?[0-9.]+)', log)
    assert found, log[-3000:]
    return float(found[-1])


def test_compiled_backbone_and_neck_train_and_test_like_eager(tiny_shapes, tmp_path):
    config = tmp_path / 'compiled.py'
    config.write_text(f'_base_ = {DEMO_CONFIG!r}\n'
                      "custom_hooks = [dict(type='RandomStateHook'), "
                      "dict(type='CompileHook', modules=('backbone', 'neck'), dynamic=False)]\n")
    # static shapes (the demo's images all pad to one size): inductor's code for symbolic sizes takes minutes to
    # generate on 2 cores; the graph count over sizes is tests/models/test_compile.py's
    options = ['--cfg-options', *TINY_OPTIONS, 'train_cfg.max_epochs=1', 'train_cfg.val_interval=2']
    trained = run_tool([python(), 'tools/train.py', str(config), '--work-dir', str(tmp_path / 'train'),
                        '--data-root', tiny_shapes, *options])
    log = trained.stdout + trained.stderr
    assert trained.returncode == 0, log[-4000:]
    assert 'CompileHook: backbone (ScaleNet) compiled' in log and 'CompileHook: neck (FPN) compiled' in log
    assert re.search(r'Epoch\(train\) \[1\]\[2/2\].*loss: [0-9.]+', log), log[-3000:]
    checkpoint = str(tmp_path / 'train' / 'epoch_1.pth')

    def test(cfg, *extra):
        out = run_tool([python(), 'tools/test.py', str(cfg), checkpoint, '--work-dir', str(tmp_path / 'test'),
                        '--data-root', tiny_shapes, *extra, '--cfg-options', *TINY_OPTIONS])
        assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
        return out.stdout + out.stderr

    eager = test(DEMO_CONFIG)
    compiled = test(config)
    assert 'CompileHook: backbone (ScaleNet) compiled' in compiled
    assert abs(bbox_map(compiled) - bbox_map(eager)) <= 0.005
    fused = test(config, '--fuse')
    assert 'CompileHook: backbone (FusedScaleNet) compiled' in fused
    assert abs(bbox_map(fused) - bbox_map(eager)) <= 0.005


def test_a_missing_module_is_named(tiny_shapes, tmp_path):
    config = tmp_path / 'compiled.py'
    config.write_text(f'_base_ = {DEMO_CONFIG!r}\n'
                      "custom_hooks = [dict(type='CompileHook', modules=('backbone', 'nek'))]\n")
    out = run_tool([python(), 'tools/train.py', str(config), '--work-dir', str(tmp_path / 'train'),
                    '--data-root', tiny_shapes, '--cfg-options', *TINY_OPTIONS, 'train_cfg.max_epochs=1'])
    assert out.returncode != 0
    assert "CompileHook: the model (FasterRCNN) has no submodule 'nek'" in out.stderr
