"""A benchmark result as a Markdown report: tables of timings, then the ratios ScaleNet / ResNet."""
import os
from typing import List

import torch

from .models import DEFAULT_DETECTOR_CONFIG, NUM_PROPOSALS
from .run import BenchmarkResult
from .timing import Timing

__all__ = ['format_report']

#: Each ratio line: label, numerator row, denominator row.
RATIOS = (
    ('ratio ScaleNet / ResNet, plain eval', 'ScaleNet', 'ResNet'),
    ('ratio ScaleNet fast path / ResNet fused', 'ScaleNet fast', 'ResNet fast'),
    ('ratio ScaleNet fast path / ResNet fused channels-last (equal treatment)', 'ScaleNet fast', 'ResNet fast-cl'),
)


def _ms(seconds: float) -> str:
    return f'{seconds * 1e3:.1f}'


def _spread(timing: Timing) -> str:
    return f'{_ms(timing.median)} [{_ms(min(timing.seconds))}-{_ms(max(timing.seconds))}]'


def _stats(stats) -> str:
    median, low, high = stats
    return f'{median:.3f} [{low:.3f}-{high:.3f}]'


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
        f'dense 3x3 conv throughput (256->256, 64x64): {peak:.1f} GMAC/s', '']
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
        lines += [f'MAC ratio ScaleNet / ResNet: {entry.macs["ScaleNet"] / entry.macs["ResNet"]:.3f}', '']
    if result.train:
        train = result.train
        lines += [f'## training step {train.size[0]}x{train.size[1]}, batch {train.batch} (forward, backward, SGD)',
                  '| model | step ms | peak memory MiB |', '|---|---|---|']
        memory = train.memory or {}
        for name, timing in train.timings.items():
            mem = f'{memory[name] / 2**20:.0f}' if name in memory else '-'
            lines.append(f'| {name} | {_spread(timing)} | {mem} |')
        lines.append(f'ratio ScaleNet / ResNet, training step: {_stats(train.ratio())}')
        if memory:
            lines.append(f'ratio ScaleNet / ResNet, peak memory: {memory["ScaleNet"] / memory["ResNet"]:.3f}')
    return '\n'.join(lines)
