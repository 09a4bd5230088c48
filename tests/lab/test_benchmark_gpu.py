"""The GPU table's script (tools/benchmark_gpu.sh, tools/benchmark_gpu.py, scalenet_lab/benchmark/suite.py) runs on
CPU as a dry run, keeps to its budget, refuses what it cannot run; the stand-in for mmcv's compiled ops it installs
on the GPU machine computes what mmcv's ops compute, and a Faster R-CNN trains on it."""
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from scalenet_lab.benchmark import BenchmarkResult, BenchmarkSettings, Timing, TrainResult
from scalenet_lab.benchmark import mmcv_ext_shim as shim
from scalenet_lab.benchmark.run import InferenceResult
from scalenet_lab.benchmark.suite import gpu_sections, summary_rows

ROOT = Path(__file__).resolve().parents[2]


def _rois(generator, count=50, batch=2):
    xy = torch.rand(count, 2, generator=generator) * 80
    wh = torch.rand(count, 2, generator=generator) * 60 + 1
    index = torch.randint(0, batch, (count, 1), generator=generator).float()
    return torch.cat([index, xy, xy + wh], dim=1)


@pytest.mark.parametrize('aligned', [True, False])
def test_the_stand_in_ops_equal_mmcv_compiled_ops(aligned):
    from mmcv.utils import ext_loader
    ext = ext_loader.load_ext('_ext', ['roi_align_forward', 'roi_align_backward', 'nms'])
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 8, 20, 24, generator=generator)
    rois = _rois(generator)
    grad = torch.randn(50, 8, 7, 7, generator=generator)
    results = []
    for module in (ext, shim):
        out, grad_input, empty = x.new_zeros(50, 8, 7, 7), torch.zeros_like(x), x.new_zeros(0)
        options = dict(aligned_height=7, aligned_width=7, spatial_scale=0.25, sampling_ratio=0, pool_mode=1,
                       aligned=aligned)
        module.roi_align_forward(x, rois, out, empty, empty, **options)
        module.roi_align_backward(grad, rois, empty, empty, grad_input, **options)
        results.append((out, grad_input))
    (out, grad_input), (shim_out, shim_grad_input) = results
    assert out.abs().max() > 0.5 and grad_input.abs().max() > 0.1  # not comparing zeros
    torch.testing.assert_close(shim_out, out, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(shim_grad_input, grad_input, rtol=1e-6, atol=1e-6)
    boxes, scores = rois[:, 1:], torch.rand(50, generator=generator)
    kept = ext.nms(boxes, scores, iou_threshold=0.5, offset=0)
    assert 5 < len(kept) < 50 and torch.equal(shim.nms(boxes, scores, iou_threshold=0.5, offset=0), kept)


def test_the_stand_in_refuses_what_it_does_not_compute():
    with pytest.raises(NotImplementedError, match="mmcv op 'deform_conv_forward' is not available"):
        shim.deform_conv_forward()
    with pytest.raises(NotImplementedError, match='offset=1'):
        shim.nms(torch.zeros(1, 4), torch.zeros(1), 0.5, offset=1)
    with pytest.raises(NotImplementedError, match="pool_mode='max'"):
        shim.roi_align_forward(*[None] * 9, 0, True)


@pytest.mark.slow
def test_a_faster_rcnn_trains_on_the_stand_in(tmp_path):
    """mmcv's Python sources with the stand-in as its ``_ext`` (as tools/benchmark_gpu.sh installs them on the GPU
    machine): mmcv.ops and mmdet import, and the benchmark's detector training step runs."""
    import mmcv
    site = tmp_path / 'site'
    shutil.copytree(Path(mmcv.__file__).parent, site / 'mmcv', ignore=shutil.ignore_patterns('_ext*.so', '*.pyc'))
    assert not list((site / 'mmcv').glob('_ext*'))
    shutil.copy(ROOT / 'scalenet_lab' / 'benchmark' / 'mmcv_ext_shim.py', site / 'mmcv' / '_ext.py')
    script = '\n'.join([
        'import torch, mmcv._ext',
        'from scalenet_lab.benchmark.models import build_pair, train_step',
        'assert mmcv._ext.TORCHVISION_SHIM, mmcv._ext.__file__',
        "model = build_pair(detector=True, structure='scalenet50_light')['ScaleNet']",
        "generator = torch.Generator().manual_seed(0)",
        "step, _ = train_step(model, True, 1, (128, 128), torch.device('cpu'), False, generator)",
        'losses = [float(step()) for _ in range(2)]',
        "assert all(map(torch.isfinite, map(torch.tensor, losses))), losses",
        "print('losses', losses)",
    ])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(ROOT)]), OMP_WAIT_POLICY='PASSIVE')
    done = subprocess.run([sys.executable, '-c', script], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith('losses [')


@pytest.mark.slow
def test_the_gpu_script_dry_run_on_cpu(tmp_path):
    """tools/benchmark_gpu.sh run --dry-run: every section in its own process, every treatment in the table."""
    out = tmp_path / 'gpu.md'
    env = dict(os.environ, PYTHON=sys.executable)
    env.pop('OUT', None)
    done = subprocess.run(['bash', str(ROOT / 'tools' / 'benchmark_gpu.sh'), 'run', '--dry-run', '--device', 'cpu',
                           '--out', str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    text = out.read_text()
    assert text.startswith('# ScaleNet-50 / ResNet-50 on cpu (dry run')
    assert 'mmcv ops: compiled' in text
    for name in gpu_sections('cpu', dry_run=True):
        assert re.search(rf'^- {name}: \d+ s$', text, re.M), name  # each section finished
        assert f'## section {name}' in text
    table = [line for line in text.splitlines() if line.startswith('| ') and ': ' in line.split('|')[1]]
    treatments = {line.split(' | ')[1] for line in table}
    assert {'eager', 'compiled', 'compiled + CUDA graphs', 'ScaleNet compiled + CUDA graphs / ResNet eager',
            'fast path / ResNet BN-folded channels-last', 'eager eval', 'eager train'} <= treatments
    assert any('Faster R-CNN FPN training step 128x128' in line for line in table)
    assert re.search(r'graphs over 2 sizes, training step batch 1 \| .* \| graphs \d+ / \d+, 0 breaks', text)


def _gpu_tool(load_tool, argv):
    return load_tool('benchmark_gpu').main(argv)


def test_a_budget_too_small_for_any_section_skips_them_all(tmp_path, capsys, load_tool):
    out = tmp_path / 'gpu.md'
    with pytest.raises(SystemExit) as exited:
        _gpu_tool(load_tool, ['--dry-run', '--device', 'cpu', '--out', str(out), '--budget', '5'])
    assert exited.value.code == 2
    text = out.read_text()
    for name in gpu_sections('cpu', dry_run=True):
        assert re.search(rf'^- {name}: skipped, \d+ s of the 5 s budget left$', text, re.M)
    assert 'no section finished' in capsys.readouterr().err


@pytest.mark.parametrize('argv, message', [
    (['--device', 'cpu'], '--device cpu: the GPU table needs a GPU; use --dry-run'),
    (['--dry-run', '--device', 'cpu', '--sections', 'nope'], "--sections: unknown ['nope']"),
    (['--dry-run', '--device', 'cpu', '--budget', '0'], '--budget: expected seconds > 0, got 0.0'),
    (['--dry-run', '--device', 'tpu'], "device 'tpu': expected 'cpu', 'cuda' or 'cuda:N'"),
])
def test_what_the_gpu_tool_cannot_run_is_an_error(tmp_path, capsys, load_tool, argv, message):
    out = tmp_path / 'gpu.md'
    with pytest.raises(SystemExit) as exited:
        _gpu_tool(load_tool, argv + ['--out', str(out)])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_an_existing_table_is_kept_without_overwrite(tmp_path, capsys, load_tool):
    out = tmp_path / 'gpu.md'
    out.write_text('earlier table')
    with pytest.raises(SystemExit):
        _gpu_tool(load_tool, ['--dry-run', '--device', 'cpu', '--out', str(out)])
    assert out.read_text() == 'earlier table' and 'exists' in capsys.readouterr().err


def test_a_section_past_the_budget_is_stopped_with_its_children(tmp_path, load_tool):
    """A section that outruns its time is killed with the processes it started (inductor's compile workers)."""
    marker = tmp_path / 'grandchild-alive'
    grandchild = f'import time, pathlib; time.sleep(2); pathlib.Path({str(marker)!r}).write_text("x")'
    child = f'import subprocess, sys, time; subprocess.Popen([sys.executable, "-c", {grandchild!r}]); time.sleep(60)'
    run_within = load_tool('benchmark_gpu')._run_within
    assert run_within([sys.executable, '-c', child], 1.0) is None
    assert run_within([sys.executable, '-c', 'import sys; sys.exit(3)'], 30) == 3
    time.sleep(3)
    assert not marker.exists()


def test_summary_rows_pair_each_treatment_and_compute_ratios_per_repeat():
    settings = BenchmarkSettings(modes=('eager', 'compiled-graphs'), batch=8, detector=True)
    timing = {
        'ScaleNet': Timing('ScaleNet', [0.030, 0.040]), 'ResNet': Timing('ResNet', [0.020, 0.020]),
        'ScaleNet compiled-graphs': Timing('s', [0.010, 0.012]), 'ResNet compiled-graphs': Timing('r', [0.010, 0.010])
    }
    result = BenchmarkResult(settings=settings, device='cuda', threads=1, dense_conv_gmacs=(1.0, [1.0]))
    result.inference.append(InferenceResult(size=(224, 224), timings=timing, macs={}, first_call={
        'ScaleNet compiled-graphs': 31.0, 'ResNet compiled-graphs': 12.0}))
    result.train = TrainResult(size=(800, 1216), batch=2, timings=dict(timing), memory={
        'ScaleNet': 3 * 2**20, 'ResNet': 2 * 2**20})
    rows = {(row[0], row[1]): row[2:] for row in summary_rows('s', result)}
    assert rows[('s: backbone inference 224x224, batch 8', 'eager')] == (
        '35.0', '20.0', '1.750 [1.500-2.000]', '-', '-')
    assert rows[('s: backbone inference 224x224, batch 8', 'compiled + CUDA graphs')] == (
        '11.0', '10.0', '1.100 [1.000-1.200]', '31.0 / 12.0', '-')
    assert rows[('s: backbone inference 224x224, batch 8', 'ScaleNet compiled + CUDA graphs / ResNet eager')][2] == (
        '0.550 [0.500-0.600]')
    assert rows[('s: Faster R-CNN FPN training step 800x1216, batch 2', 'eager')][4] == '3 / 2'
    assert not any(treatment == 'compiled' for _, treatment in rows)  # not measured, not reported
