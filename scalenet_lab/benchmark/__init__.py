"""ScaleNet against mmdet's ResNet of the same depth, in one process: latency (plain, the fast paths, equal
treatment), a training step, peak memory, and the achieved GMAC/s beside the machine's dense-conv throughput.

By job: :mod:`.timing` measures, :mod:`.models` builds the pair and what runs, :mod:`.run` runs it into a
:class:`BenchmarkResult`, :mod:`.report` writes it out. ``tools/benchmark.py`` is the command line.
"""
from .models import DEFAULT_DETECTOR_CONFIG, build_pair, resolve_config
from .report import format_report
from .run import (
    BenchmarkResult,
    BenchmarkSettings,
    InferenceResult,
    TrainResult,
    check_device,
    check_settings,
    run_benchmark,
)
from .timing import Timing, dense_conv_gmacs, interleaved, peak_train_memory, ratio_stats

__all__ = [
    'DEFAULT_DETECTOR_CONFIG', 'BenchmarkResult', 'BenchmarkSettings', 'InferenceResult', 'Timing', 'TrainResult',
    'build_pair', 'check_device', 'check_settings', 'dense_conv_gmacs', 'format_report', 'interleaved',
    'peak_train_memory', 'ratio_stats', 'resolve_config', 'run_benchmark'
]
