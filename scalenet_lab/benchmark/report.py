"""A benchmark result as a Markdown report: tables of timings, then the ratios ScaleNet / ResNet."""
import os
from typing import List

import torch

from .compiled import compile_kwargs
from .models import DEFAULT_DETECTOR_CONFIG, NUM_PROPOSALS
from .run import BenchmarkResult
from .timing import Timing

__all__ = ['format_report']

#: Each inference ratio line: label, numerator row, denominator row (printed where both rows were measured).
RATIOS = (
    ('ratio ScaleNet / ResNet, plain eval', 'ScaleNet', 'ResNet'),
    ('ratio ScaleNet fast path / ResNet fused', 'ScaleNet fast', 'ResNet fast'),
    ('ratio ScaleNet fast path / ResNet fused channels-last (equal treatment)', 'ScaleNet fast', 'ResNet fast-cl'),
    ('ratio ScaleNet / ResNet, compiled', 'ScaleNet compiled', 'ResNet compiled'),
    ('ratio ScaleNet / ResNet, compiled + CUDA graphs', 'ScaleNet compiled-graphs', 'ResNet compiled-graphs'),
    ('ratio ScaleNet compiled + CUDA graphs / ResNet eager', 'ScaleNet compiled-graphs', 'ResNet'),
)
#: The same for the training step.
TRAIN_RATIOS = (
    ('ratio ScaleNet / ResNet, training step', 'ScaleNet', 'ResNet'),
    ('ratio ScaleNet / ResNet, training step, compiled', 'ScaleNet compiled', 'ResNet compiled'),
    ('ratio ScaleNet / ResNet, training step, compiled + CUDA graphs', 'ScaleNet compiled-graphs',
     'ResNet compiled-graphs'),
    ('ratio ScaleNet compiled / ResNet eager, training step', 'ScaleNet compiled', 'ResNet'),
)


def _ms(seconds: float) -> str:
    return f'{seconds * 1e3:.1f}'


def _spread(timing: Timing) -> str:
    return f'{_ms(timing.median)} [{_ms(min(timing.seconds))}-{_ms(max(timing.seconds))}]'


def _stats(stats) -> str:
    median, low, high = stats
    return f'{median:.3f} [{low:.3f}-{high:.3f}]'


def _treatments(result: BenchmarkResult) -> List[str]:
    s = result.settings
    lines = [f'treatments, the same for both networks: {", ".join(s.modes)}']
    for mode in s.compiled_modes:
        kwargs = compile_kwargs(mode, s.compile_backend, s.compile_dynamic)
        arguments = ', '.join(f'{k}={v!r}' for k, v in kwargs.items())
        where = 'backbone and neck in place, as CompileHook' if s.compares_detectors else 'the backbone in place'
        lines.append(f'{mode}: torch.compile({arguments}) of {where}; the rest eager')
    if 'compiled-graphs' in s.modes and result.device.startswith('cpu'):
        lines.append('compiled-graphs on CPU: no CUDA graphs (inductor applies them to CUDA only); these rows run '
                     'the compiled code as compiled does')
    if 'compiled-graphs' in s.modes and s.compile_backend != 'inductor':
        lines.append(f'compiled-graphs with backend {s.compile_backend!r}: mode is inductor\'s option; these rows '
                     'run as compiled does')
    return lines


def _first_calls(first_call, graphs) -> List[str]:
    if not first_call:
        return []
    return ['first call (compilation included, with inductor\'s on-disk caches as earlier runs left them; '
            'TORCHINDUCTOR_FORCE_DISABLE_CACHES=1 compiles cold), s: ' + ', '.join(
        f'{name} {seconds:.1f} ({graphs[name]} graph{"s" if graphs[name] != 1 else ""})'
        for name, seconds in first_call.items())]


def _launches(result: BenchmarkResult) -> List[str]:
    s = result.settings
    h, w = s.launch_size
    counts = result.launches
    columns = list(next(iter(counts.values())))
    lines = [f'## kernel launches per call at {h}x{w}, batch {s.batch} (backbones; train = forward and backward '
             'with norm_eval)',
             'eager: aten compute ops dispatched (views, metadata and allocations left out); compiled: kernel '
             'calls in the code inductor generates (fullgraph, static shapes); GPU kernels: device activities the '
             'profiler records (scalenet_lab/benchmark/launches.py)',
             '| model | ' + ' | '.join(columns) + ' |', '|---' * (len(columns) + 1) + '|']
    for name, row in counts.items():
        lines.append(f'| {name} | ' + ' | '.join(str(row[column]) for column in columns) + ' |')
    if {'ScaleNet', 'ResNet'} <= set(counts):
        lines.append('ratio ScaleNet / ResNet, launches: ' + ', '.join(
            f'{column} {counts["ScaleNet"][column] / counts["ResNet"][column]:.3f}' for column in columns))
    return lines + ['']


def format_report(result: BenchmarkResult) -> str:
    s = result.settings
    detector = s.compares_detectors
    peak = result.dense_conv_gmacs[0]
    if detector:
        what = (f'detector {s.config or DEFAULT_DETECTOR_CONFIG}; inference = identical work: backbone, neck, dense '
                f'heads and the RoI head on {NUM_PROPOSALS} fixed proposals per image (no score threshold, no NMS)')
    else:
        what = 'backbone'
    lines: List[str] = [
        f'# ScaleNet-{s.depth} vs ResNet-{s.depth}, {what}',
        f'device {result.device}, {result.threads} threads, batch {s.batch} (train {s.train_batch}), {s.repeats} '
        f'repeats interleaved, {"channels-last" if s.channels_last else "NCHW"} plain models; times in ms as median '
        f'[min-max], ratios per repeat',
        f'torch {torch.__version__}, OMP_WAIT_POLICY={os.environ.get("OMP_WAIT_POLICY", "unset")}, '
        f'dense 3x3 conv throughput (256->256, 64x64): {peak:.1f} GMAC/s', *_treatments(result), '']
    for entry in result.inference:
        lines += [f'## inference {entry.size[0]}x{entry.size[1]} (eval, no grad)',
                  '| model | latency ms | backbone GMAC | GMAC/s | % of dense conv |', '|---|---|---|---|---|']
        for name, timing in entry.timings.items():
            macs = entry.macs.get(name.split(' ')[0])
            if not detector:
                rate = macs / timing.median / 1e9
                lines.append(f'| {name} | {_spread(timing)} | {macs / 1e9:.2f} | {rate:.1f} | '
                             f'{100 * rate / peak:.0f}% |')
            else:
                lines.append(f'| {name} | {_spread(timing)} | {macs / 1e9:.2f} | - | - |')
        for label, numerator, denominator in RATIOS:
            if numerator in entry.timings and denominator in entry.timings:
                lines.append(f'{label}: {_stats(entry.ratio(numerator, denominator))}')
        lines += [f'MAC ratio ScaleNet / ResNet: {entry.macs["ScaleNet"] / entry.macs["ResNet"]:.3f}',
                  *_first_calls(entry.first_call, entry.graphs)]
        if entry.kernels:
            lines.append('GPU kernels per call (device activities the profiler records): ' + ', '.join(
                f'{name} {count}' for name, count in entry.kernels.items()))
        lines.append('')
    if result.train:
        train = result.train
        lines += [f'## training step {train.size[0]}x{train.size[1]}, batch {train.batch} (forward, backward, SGD)',
                  '| model | step ms | peak memory MiB |', '|---|---|---|']
        memory = train.memory or {}
        for name, timing in train.timings.items():
            mem = f'{memory[name] / 2**20:.0f}' if name in memory else '-'
            lines.append(f'| {name} | {_spread(timing)} | {mem} |')
        for label, numerator, denominator in TRAIN_RATIOS:
            if numerator in train.timings and denominator in train.timings:
                lines.append(f'{label}: {_stats(train.ratio(numerator, denominator))}')
        for suffix in ('', ' compiled', ' compiled-graphs'):
            if f'ScaleNet{suffix}' in memory and f'ResNet{suffix}' in memory:
                label = f', {suffix.strip()}' if suffix else ''
                lines.append(f'ratio ScaleNet / ResNet, peak memory{label}: '
                             f'{memory[f"ScaleNet{suffix}"] / memory[f"ResNet{suffix}"]:.3f}')
        if train.first_call and not result.device.startswith('cuda') and s.memory:
            lines.append('peak memory of compiled rows: not measured on CPU (inductor allocates outside the '
                         'dispatcher that the tracker watches)')
        lines += _first_calls(train.first_call, {name: graphs for name, (graphs, _) in train.graphs.items()})
        if train.graph_sizes:
            sizes = ', '.join(f'{h}x{w}' for h, w in train.graph_sizes)
            lines.append(f'graphs built over the training size and {sizes} (dynamic={s.compile_dynamic}), graph '
                         'breaks, seconds of the steps at those sizes: ' + ', '.join(
                             f'{name} {graphs} graphs, {breaks} breaks, {train.graph_seconds[name]:.1f} s'
                             for name, (graphs, breaks) in train.graphs.items()))
        lines.append('')
    if result.launches:
        lines += _launches(result)
    return '\n'.join(lines).rstrip('\n')
