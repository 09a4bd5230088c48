"""tools/benchmark.py runs end to end (tiny sizes, one repeat) and prints its ratios; the memory tracker is exact."""
import os
import re

import pytest
import torch

from scalenet_lab.benchmark import Timing, ratio_stats, resolve_config
from scalenet_lab.benchmark.timing import _LiveStorage

NUMBER = r'(\d+\.\d+) \[(\d+\.\d+)-(\d+\.\d+)\]'


def ratio(text, label):
    match = re.search(re.escape(label) + r': ' + NUMBER, text)
    assert match, f'{label!r} not in the report:\n{text}'
    median, low, high = (float(v) for v in match.groups())
    assert 0 < low <= median <= high
    return median


def test_backbone_benchmark_smoke(capsys, tmp_path, load_tool):
    out = tmp_path / 'report.md'
    load_tool('benchmark').main(['--threads', '1', '--sizes', '64x64', '--repeats', '1', '--warmup', '0',
                                 '--train-batch', '1', '--structure', 'scalenet50_light', '--out', str(out)])
    text = capsys.readouterr().out
    ratio(text, 'ratio ScaleNet / ResNet, plain eval')
    ratio(text, 'ratio ScaleNet fast path / ResNet fused')
    ratio(text, 'ratio ScaleNet fast path / ResNet fused channels-last (equal treatment)')
    ratio(text, 'ratio ScaleNet / ResNet, training step')
    assert re.search(r'ratio ScaleNet / ResNet, peak memory: \d+\.\d+', text)
    assert re.search(r'dense 3x3 conv throughput .*: \d+\.\d GMAC/s', text)
    # GMAC/s and the share of the dense-conv throughput, for all five inference rows
    assert len(re.findall(r'^\| (ScaleNet|ResNet)( fast| fast-cl)? \| .* \| \d+\.\d\d \| \d+\.\d \| \d+% \|$', text,
                          re.M)) == 5
    mac_ratio = float(re.search(r'MAC ratio ScaleNet / ResNet: (\d+\.\d+)', text).group(1))
    assert 0.5 < mac_ratio < 1.0  # scalenet50_light has 29% fewer MACs than ResNet-50
    assert out.read_text().startswith('command: python tools/benchmark.py --threads 1')


@pytest.mark.slow
def test_detector_benchmark_smoke(capsys, load_tool):
    load_tool('benchmark').main(['--detector', '--threads', '1', '--sizes', '128x128', '--repeats', '1',
                                 '--warmup', '0', '--train-batch', '1', '--structure', 'scalenet50_light'])
    text = capsys.readouterr().out
    assert 'faster-rcnn_r50_fpn_1x_coco.py' in text and 'RoI head on 1000 fixed proposals' in text
    ratio(text, 'ratio ScaleNet / ResNet, plain eval')
    ratio(text, 'ratio ScaleNet fast path / ResNet fused')
    ratio(text, 'ratio ScaleNet / ResNet, training step')
    assert re.search(r'ratio ScaleNet / ResNet, peak memory: \d+\.\d+', text)
    assert 'ResNet fast-cl' not in text  # mmcv's CPU roi_align misreads channels-last features


@pytest.mark.parametrize('argv, message', [
    (['--repeats', '0'], 'argument --repeats: expected an integer >= 1, got 0'),
    (['--repeats', 'ten'], "argument --repeats: expected an integer, got 'ten'"),
    (['--warmup', '-1'], 'argument --warmup: expected an integer >= 0, got -1'),
    (['--batch', '0'], 'argument --batch: expected an integer >= 1, got 0'),
    (['--train-batch', '0'], 'argument --train-batch: expected an integer >= 1, got 0'),
    (['--threads', '0'], 'argument --threads: expected an integer >= 1, got 0'),
    (['--sizes', '64x64', '16x64'], 'argument --sizes: 16x64: ScaleNet needs at least 32x32'),
    (['--train-size', '64'], "argument --train-size: expected HxW (e.g. 224x224), got '64'"),
])
def test_bad_options_are_rejected_by_the_parser(capsys, argv, message, load_tool):
    with pytest.raises(SystemExit) as exited:
        load_tool('benchmark').main(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_unknown_structure_is_an_error_not_a_traceback(load_tool, capsys):
    with pytest.raises(SystemExit) as exited:  # fails before any model is built
        load_tool('benchmark').main(['--structure', 'nope', '--sizes', '64x64', '--repeats', '1', '--no-train'])
    assert exited.value.code == 2
    out, err = capsys.readouterr()
    assert err.startswith("tools/benchmark.py: error: unknown structure 'nope': expected one of scalenet50")
    assert out == '' and '[benchmark]' not in err


def test_resolve_config_finds_mmdet_configs():
    assert resolve_config('mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py').endswith(
        os.path.join('.mim', 'configs', 'faster_rcnn', 'faster-rcnn_r50_fpn_1x_coco.py'))
    with pytest.raises(FileNotFoundError, match='no such config'):
        resolve_config('mmdet::nope/nope.py')


def test_live_storage_tracks_peak_bytes_exactly():
    with _LiveStorage() as tracker:
        a = torch.ones(1000)  # 4000 bytes
        b = a * 2  # 8000 live
        view = b[10:]  # a view allocates nothing
        del a
        c = b + 1  # 8000 live again
        del b, view, c
    assert tracker.peak == 8000
    assert tracker.current == 0


def test_ratio_stats_pairs_runs_of_the_same_repeat():
    a, b = Timing('a', [2.0, 4.0, 9.0]), Timing('b', [1.0, 4.0, 3.0])
    assert ratio_stats(a, b) == (2.0, 1.0, 3.0)


def test_detectors_run_identical_work_apart_from_the_backbone():
    from scalenet_lab.benchmark.models import build_pair, fixed_proposals, inference, inference_variant
    models = build_pair(detector=True, structure='scalenet50_light')
    assert type(models['ScaleNet'].backbone).__name__ == 'ScaleNet'
    assert type(models['ResNet'].backbone).__name__ == 'ResNet'
    rois = fixed_proposals(1, (128, 128), torch.device('cpu'), torch.Generator().manual_seed(0))
    assert rois.shape == (1000, 5)
    x = torch.randn(1, 3, 128, 128)
    shapes = {}
    for name, model in models.items():
        plain = inference_variant(name, model, 'plain', detector=True)
        fast = inference_variant(name, model, 'fast', detector=True)
        with torch.no_grad():
            feats = inference(plain, True, x, rois)()
            cls_score, _ = plain.roi_head._bbox_forward(feats, rois)['cls_score'], None
            fast_feats = inference(fast, True, x, rois)()
        shapes[name] = ([tuple(f.shape) for f in feats], tuple(cls_score.shape))
        for a, e in zip(fast_feats, feats):  # the fast path is the same function
            torch.testing.assert_close(a, e, rtol=1e-3, atol=1e-3)
    assert shapes['ScaleNet'] == shapes['ResNet']  # same feature maps, same 1000 RoIs through the same head
