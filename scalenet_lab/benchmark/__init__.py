"""ScaleNet against mmdet's ResNet of the same depth, in one process: latency (plain, the fast paths, equal
treatment; eager, compiled, compiled + CUDA graphs), a training step, peak memory, kernel launches, and the achieved
GMAC/s beside the machine's dense-conv throughput.

By job: :mod:`.timing` measures, :mod:`.models` builds the pair and what runs, :mod:`.compiled` gives both the same
compiled treatments, :mod:`.launches` counts kernel launches, :mod:`.run` runs it all into a
:class:`BenchmarkResult`, :mod:`.report` writes it out; :mod:`.suite` is the GPU table (its sections and summary) and
:mod:`.mmcv_ext_shim` stands in for mmcv's compiled ops where the GPU table runs. ``tools/benchmark.py`` and
``tools/benchmark_gpu.py`` are the command lines.
"""
from .compiled import MODES, compile_in_place
from .launches import count_launches
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
    'DEFAULT_DETECTOR_CONFIG', 'MODES', 'BenchmarkResult', 'BenchmarkSettings', 'InferenceResult', 'Timing',
    'TrainResult', 'build_pair', 'check_device', 'check_settings', 'compile_in_place', 'count_launches',
    'dense_conv_gmacs', 'format_report', 'interleaved', 'peak_train_memory', 'ratio_stats', 'resolve_config',
    'run_benchmark'
]
