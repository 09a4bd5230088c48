"""tools/benchmark.py runs end to end (tiny sizes, one repeat) and prints its ratios, for every treatment (eager,
compiled, compiled + CUDA graphs); the memory tracker is exact; kernel launch counts are pinned."""
import os
import re

import pytest
import torch

from scalenet_lab.benchmark import Timing, ratio_stats, resolve_config
from scalenet_lab.benchmark.launches import (
    compiled_kernel_calls,
    count_launches,
    eager_compute_ops,
    wrapper_kernel_calls,
)
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
    (['--modes', 'eager,jit'], "argument --modes: expected a comma-separated list of eager, compiled, "
                               "compiled-graphs, got 'eager,jit'"),
    (['--no-inference', '--no-train'], 'nothing to measure'),
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


#: Kernel launches per call of the backbones at 224x224, batch 1 (scalenet_lab/benchmark/launches.py): aten compute
#: ops dispatched in an eval forward, and in a training step (forward and backward, norm_eval). Deterministic for a
#: torch version; a change to the SA block that adds or removes launches changes them: re-measure with
#: `python tools/benchmark.py --sizes 224x224 --no-inference --no-train --launches` and update the pin.
EAGER_LAUNCHES = {'ScaleNet': {'eager eval': 391, 'eager train': 813},
                  'ResNet': {'eager eval': 172, 'eager train': 351}}


def test_eager_launch_counts_are_pinned():
    from scalenet_lab.benchmark.models import build_pair
    models = build_pair(detector=False)
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    assert count_launches(models, x) == EAGER_LAUNCHES


def test_eager_counts_leave_out_views_and_allocations():
    x = torch.randn(4, 4)
    # transpose, view, slice and empty launch nothing; add, relu_ and the copy of contiguous() one kernel each
    assert eager_compute_ops(lambda: (x + 1).view(2, 8).t()[1:].relu_()) == 2
    assert eager_compute_ops(lambda: (torch.empty(3), x.t().contiguous())) == 1


WRAPPER = '''
cpp_fused_add_0 = async_compile.cpp_pybinding(['float*'], r"""
extern "C" void kernel(float* x) { aten.view.default(x); }
""")
class Runner:
    def call(self, args):
        arg0_1, arg1_1 = args
        buf0 = empty_strided_cpu((1, 8, 4, 4), (128, 1, 32, 8), torch.float32)
        cpp_fused_add_0(arg0_1, buf0)  # a generated kernel
        buf1 = extern_kernels.convolution(buf0, arg1_1, None, stride=(1, 1), padding=(0, 0), dilation=(1, 1))
        assert_tensor_metadata(buf1, (1, 8, 4, 4), (128, 1, 32, 8), torch.float32, 'torch.ops.aten.convolution.default')
        buf2 = reinterpret_tensor(buf1, (128, ), (1, ), 0); del buf1  # reuse
        buf3 = torch.ops.aten.convolution_backward.default(buf0, buf0, arg1_1, [8], (1, 1))
        aten.scatter_reduce_.two(buf2, 0, buf2, buf2, reduce='sum')
        buf4 = torch.ops.aten.view.default(buf2, [2, 64])
        triton_poi_fused_relu_1.run(buf4, stream=stream0)
        return (buf4, )
runner = Runner()
'''


def test_wrapper_kernel_calls_count_kernels_externs_and_fallbacks_only():
    # cpp_fused_add_0, the extern convolution, the two aten fallbacks; not the view, the allocation, the
    # reinterpretation, the metadata check, the kernel's source, nor triton_poi_fused_relu_1 (not generated here)
    assert wrapper_kernel_calls(WRAPPER) == 4
    triton = "triton_poi_fused_relu_1 = async_compile.triton('k', 'src')\n"
    generated = WRAPPER.replace('class Runner:', triton + 'class Runner:')
    assert wrapper_kernel_calls(generated) == 5


class _PointwiseChain(torch.nn.Module):
    """conv, BN, ReLU, three pointwise ops, a pool, conv: eight eager ops, of which inductor fuses the middle six."""

    def __init__(self):
        super().__init__()
        self.conv1, self.norm, self.conv2 = torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.Conv2d(8, 8, 1)

    def forward(self, x):
        y = torch.sigmoid(torch.relu(self.norm(self.conv1(x))) * 2 + 1)
        return self.conv2(torch.nn.functional.max_pool2d(y, 2))


@pytest.mark.slow
def test_inductor_fuses_pointwise_ops_into_fewer_calls_than_eager_ops():
    """The count on inductor's real code (its C++ backend): the pointwise chain fuses around the two extern
    convolutions (on CPU inductor adds layout conversions before and after)."""
    model = _PointwiseChain().eval()
    x = torch.randn(1, 3, 16, 16)

    def forward(module):
        with torch.no_grad():
            return module(x)

    eager = eager_compute_ops(lambda: forward(model))
    compiled = compiled_kernel_calls(model, forward, graphs=1)
    assert eager == 8 and 3 <= compiled <= 6, (eager, compiled)


@pytest.mark.slow
def test_the_atlas_cuts_the_compiled_launches_of_an_sa_block():
    """An SA block with four branches, compiled by inductor (eval, static 28x28): the atlas runs the three coarse
    convs as one, and the packing fuses into the pooling and the unpacking into the upsampling."""
    from mmdet_scalenet.models.bottleneck import SABottleneck
    from scalenet_lab.benchmark.atlas import without_atlas
    block = SABottleneck(64, 16, branch_channels=(8, 8, 8, 8), side=56).eval()
    apart = without_atlas(block)
    x = torch.randn(1, 64, 28, 28)

    def forward(module):
        with torch.no_grad():
            return module(x)

    with_atlas, without = compiled_kernel_calls(block, forward, graphs=1), compiled_kernel_calls(apart, forward, 1)
    print(f'compiled SA block launches: {with_atlas} with the atlas, {without} without')
    assert with_atlas <= without - 2, (with_atlas, without)


@pytest.mark.slow
def test_compiled_modes_and_launches_are_reported(capsys, load_tool):
    """Every treatment's rows and ratios, traced by dynamo's eager backend (quick; inductor is exercised above)."""
    load_tool('benchmark').main(['--threads', '1', '--sizes', '64x64', '--repeats', '1', '--warmup', '0',
                                 '--no-train', '--no-fast-path', '--structure', 'scalenet50_light', '--launches',
                                 '--modes', 'eager,compiled,compiled-graphs', '--compile-backend', 'eager',
                                 '--static-shapes'])
    text = capsys.readouterr().out
    ratio(text, 'ratio ScaleNet / ResNet, compiled')
    ratio(text, 'ratio ScaleNet / ResNet, compiled + CUDA graphs')
    ratio(text, 'ratio ScaleNet compiled + CUDA graphs / ResNet eager')
    assert 'compiled-graphs on CPU: no CUDA graphs' in text
    assert re.search(r'first call \(compilation included[^)]*\), s: ScaleNet compiled \d+\.\d \(1 graph\)', text)
    assert re.search(r'^\| ScaleNet \| 416 \| 868 \|$', text, re.M)  # launches of the light structure at 64x64
    assert re.search(r'^\| ResNet \| 172 \| 351 \|$', text, re.M)


@pytest.mark.slow
def test_compiled_rows_alone(capsys, load_tool):
    """Without the eager treatment: compiled rows only, their MACs still counted."""
    load_tool('benchmark').main(['--threads', '1', '--sizes', '64x64', '--repeats', '1', '--warmup', '0',
                                 '--no-train', '--structure', 'scalenet50_light', '--modes', 'compiled',
                                 '--compile-backend', 'eager', '--static-shapes'])
    text = capsys.readouterr().out
    ratio(text, 'ratio ScaleNet / ResNet, compiled')
    rows = re.findall(r'^\| (\w+(?: [\w-]+)?) \| \d+\.\d \[', text, re.M)
    assert rows == ['ScaleNet compiled', 'ResNet compiled']


def test_compiled_ratios_pair_each_scalenet_with_resnet_and_with_each_other():
    """The compiled CPU comparison's plumbing (dynamo's eager backend, no code generated, 64x64, one repeat): three
    paired ratios, each a median with its range."""
    import torch._dynamo

    from scalenet_lab.benchmark.atlas import compiled_ratios
    torch._dynamo.reset()
    lines = compiled_ratios(size=(64, 64), repeats=1, backend='eager').splitlines()
    torch._dynamo.reset()
    assert lines[0].startswith('compiled eval, 64x64, batch 1, ') and lines[0].endswith('1 paired repeats:'), lines
    assert [line.split(':')[0] for line in lines[1:]] == [
        'ScaleNet-50 / ResNet-50', 'ScaleNet-50, branches apart / ResNet-50',
        'ScaleNet-50 / ScaleNet-50, branches apart']
    for line in lines[1:]:
        median, low, high = (float(v) for v in re.fullmatch(r'.*: ([0-9.]+) \[([0-9.]+)-([0-9.]+)\]', line).groups())
        assert 0 < low <= median <= high, line
