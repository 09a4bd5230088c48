"""Running a benchmark: the settings, the typed result, and the run that fills it."""
import copy
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch

from mmdet_scalenet.structure import load_structure

from ..complexity import count_macs
from .compiled import MODES, compile_in_place, dynamo_graphs, raise_recompile_limit
from .launches import count_launches, cuda_kernels
from .models import (
    build_pair,
    detector_batch,
    detector_config,
    fixed_proposals,
    inference,
    inference_variant,
    train_step,
)
from .timing import Timing, dense_conv_gmacs, interleaved, peak_train_memory, ratio_stats, time_once

__all__ = [
    'BenchmarkResult', 'BenchmarkSettings', 'InferenceResult', 'TrainResult', 'check_device', 'check_settings',
    'run_benchmark'
]

Size = Tuple[int, int]


@dataclass
class BenchmarkSettings:
    """What to measure and how. ``sizes`` are (height, width); ``device`` ``'cpu'`` or ``'cuda'``.

    ``modes``: the treatments (:data:`~.compiled.MODES`), each given to both networks: ``'eager'`` (the plain rows and,
    with ``fast_path``, the fused ones), ``'compiled'``, ``'compiled-graphs'`` (:mod:`.compiled`), compiled with
    ``compile_backend`` and ``compile_dynamic``. ``graph_sizes``: after timing, the compiled training steps run once
    at each of these sizes, counting the graphs dynamo builds. ``launches``: count kernel launches
    (:mod:`.launches`) at the first inference size (or the training size)."""
    depth: int = 50
    structure: Optional[str] = None
    detector: bool = False
    config: Optional[str] = None
    sizes: Sequence[Size] = ((224, 224), (800, 1216))
    train_size: Optional[Size] = None
    batch: int = 1
    train_batch: int = 2
    threads: Optional[int] = None
    device: str = 'cpu'
    repeats: int = 10
    warmup: int = 2
    channels_last: bool = False
    fast_path: bool = True
    train: bool = True
    memory: bool = True
    seed: int = 0
    modes: Sequence[str] = ('eager', )
    compile_backend: str = 'inductor'
    compile_dynamic: bool = True
    inference: bool = True
    graph_sizes: Sequence[Size] = ()
    launches: bool = False

    @property
    def compiled_modes(self) -> Tuple[str, ...]:
        return tuple(mode for mode in self.modes if mode != 'eager')

    @property
    def launch_size(self) -> Size:
        return tuple(self.sizes[0] if self.inference and self.sizes else self.train_size or self.sizes[0])

    @property
    def compares_detectors(self) -> bool:
        return self.detector or self.config is not None


@dataclass
class InferenceResult:
    """Latency at one input size. ``timings`` by row: ``'ScaleNet'`` and ``'ResNet'`` (plain eval), and with the fast
    path ``'ScaleNet fast'``, ``'ResNet fast'`` (BNs folded) and ``'ResNet fast-cl'`` (also channels-last); compiled
    treatments ``'ScaleNet compiled'``, ``'ResNet compiled-graphs'``, ...; ``macs``: the backbones'
    multiply-accumulates at this size, counted by ``mmengine.analysis``; ``first_call``: seconds of each compiled
    row's first call at this size (compilation included), ``graphs``: the graphs dynamo built in it; on CUDA
    ``kernels``: the device activities of one call of each row (:func:`~.launches.cuda_kernels`)."""
    size: Size
    timings: Dict[str, Timing]
    macs: Dict[str, int]
    first_call: Dict[str, float] = field(default_factory=dict)
    graphs: Dict[str, int] = field(default_factory=dict)
    kernels: Dict[str, int] = field(default_factory=dict)

    def ratio(self, numerator: str, denominator: str) -> Tuple[float, float, float]:
        return ratio_stats(self.timings[numerator], self.timings[denominator])


@dataclass
class TrainResult:
    """A training step at ``size`` and ``batch``: its timings by row (as :class:`InferenceResult`'s) and, if
    measured, peak memory in bytes (on CPU not for compiled rows: inductor allocates outside the dispatcher the
    tracker watches). Compiled rows: ``first_call`` seconds (compilation of forward and backward included), and
    ``graphs``: ``(graphs, graph breaks)`` dynamo built over the training size and ``graph_sizes``, with
    ``graph_seconds`` the time of the runs at ``graph_sizes`` (recompilation included)."""
    size: Size
    batch: int
    timings: Dict[str, Timing]
    memory: Optional[Dict[str, int]] = None
    first_call: Dict[str, float] = field(default_factory=dict)
    graphs: Dict[str, Tuple[int, int]] = field(default_factory=dict)
    graph_sizes: Sequence[Size] = ()
    graph_seconds: Dict[str, float] = field(default_factory=dict)

    def ratio(self, numerator: str = 'ScaleNet', denominator: str = 'ResNet') -> Tuple[float, float, float]:
        return ratio_stats(self.timings[numerator], self.timings[denominator])


@dataclass
class BenchmarkResult:
    """Everything :func:`run_benchmark` measured (``format_report`` writes it out)."""
    settings: BenchmarkSettings
    device: str
    threads: int
    dense_conv_gmacs: Tuple[float, List[float]]
    inference: List[InferenceResult] = field(default_factory=list)
    train: Optional[TrainResult] = None
    launches: Optional[Dict[str, Dict[str, int]]] = None


def check_device(name: str) -> torch.device:
    """``name`` as a device of this machine: ``'cpu'``, or ``'cuda'`` / ``'cuda:N'`` when that GPU exists.

    Raises:
        ValueError: another device type, or no such GPU here.
    """
    try:
        device = torch.device(name)
    except RuntimeError:
        device = None
    if device is None or device.type not in ('cpu', 'cuda'):
        raise ValueError(f"device {name!r}: expected 'cpu', 'cuda' or 'cuda:N'")
    if device.type == 'cuda':
        if not torch.cuda.is_available():
            raise ValueError(f'device {name!r}: no CUDA GPU is available here (torch.cuda.is_available() is '
                             'False); use cpu')
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise ValueError(f'device {name!r}: this machine has {count} CUDA GPU(s), cuda:0 to cuda:{count - 1}')
    return device


def check_settings(settings: BenchmarkSettings) -> None:
    """What can fail before any model is built: the device (:func:`check_device`), the treatments, the structure,
    the detector config (:func:`~.models.detector_config`). Raises their errors (``ValueError``, ``StructureError``,
    ``FileNotFoundError``)."""
    check_device(settings.device)
    unknown = [mode for mode in settings.modes if mode not in MODES]
    if unknown or not settings.modes:
        raise ValueError(f'modes {list(settings.modes)}: expected one or more of {", ".join(MODES)}')
    if settings.inference and not settings.sizes:
        raise ValueError('no inference sizes: give sizes or turn inference off')
    if not settings.inference and not settings.train and not settings.launches:
        raise ValueError('nothing to measure: inference, the training step and launch counts are all off')
    if settings.structure is not None:
        load_structure(settings.structure)
    if settings.compares_detectors:
        detector_config(settings.config)


def _step_begin(mode: str, device: torch.device, fn: Callable[[], object]) -> Callable[[], object]:
    """``fn``, marking a new step for inductor's CUDA graphs first (``compiled-graphs`` on CUDA): each call's outputs
    may then be overwritten by the next, which the benchmark never reads."""
    if mode != 'compiled-graphs' or device.type != 'cuda':
        return fn

    def marked():
        torch.compiler.cudagraph_mark_step_begin()
        return fn()

    return marked


def _timed_first_calls(cases: Dict[str, Callable[[], object]], device: torch.device):
    """Each case's first call: ``({name: seconds}, {name: (graphs, breaks) dynamo built})``."""
    seconds, graphs = {}, {}
    for name, fn in cases.items():
        before = dynamo_graphs()
        seconds.update(time_once({name: fn}, device))
        after = dynamo_graphs()
        graphs[name] = (after[0] - before[0], after[1] - before[1])
    return seconds, graphs


def _inference_rows(settings: BenchmarkSettings, models: Dict[str, torch.nn.Module],
                    detector: bool) -> Dict[str, Tuple[str, torch.nn.Module]]:
    """``{row: (mode, eval-mode model)}`` for every treatment of both networks."""
    rows = {}
    if 'eager' in settings.modes:
        rows.update({name: ('eager', inference_variant(name, model, 'plain', detector))
                     for name, model in models.items()})
        if settings.fast_path:
            rows['ScaleNet fast'] = ('eager', inference_variant('ScaleNet', models['ScaleNet'], 'fast', detector))
            rows['ResNet fast'] = ('eager', inference_variant('ResNet', models['ResNet'], 'fast', detector))
            if not detector:  # in a detector, mmcv 2.1's CPU roi_align misreads channels-last features
                rows['ResNet fast-cl'] = ('eager', inference_variant('ResNet', models['ResNet'], 'fast-cl',
                                                                     detector))
    for mode in settings.compiled_modes:
        for name, model in models.items():
            variant = inference_variant(name, model, 'plain', detector)
            rows[f'{name} {mode}'] = (mode, compile_in_place(variant, detector, mode, settings.compile_backend,
                                                             settings.compile_dynamic))
    return rows


def _train_rows(settings: BenchmarkSettings, models: Dict[str, torch.nn.Module],
                detector: bool) -> Dict[str, Tuple[str, torch.nn.Module]]:
    """``{row: (mode, model)}`` for the training step: the models themselves (eager), compiled copies."""
    rows = {name: ('eager', model) for name, model in models.items()} if 'eager' in settings.modes else {}
    for mode in settings.compiled_modes:
        for name, model in models.items():
            rows[f'{name} {mode}'] = (mode, compile_in_place(copy.deepcopy(model), detector, mode,
                                                             settings.compile_backend, settings.compile_dynamic))
    return rows


def _warmup(settings: BenchmarkSettings, device: torch.device, minimum: int = 0) -> int:
    # inductor records a CUDA graph on a later call than the first: time replays only
    graphs = 'compiled-graphs' in settings.modes and device.type == 'cuda'
    return max(settings.warmup, minimum, 2 if graphs else 0)


def run_benchmark(settings: BenchmarkSettings, log: Callable[[str], None] = print) -> BenchmarkResult:
    """Check the settings (:func:`check_settings`), build the pair (:func:`~.models.build_pair`), give each
    treatment to both, and time inference at each size and a training step; count launches last (counting
    compiles its own copies and resets dynamo)."""
    check_settings(settings)
    if settings.threads is not None:
        torch.set_num_threads(settings.threads)
    if settings.compiled_modes:
        raise_recompile_limit()
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    device = torch.device(settings.device)
    detector = settings.compares_detectors
    models = build_pair(detector, settings.config, settings.depth, settings.structure)
    for model in models.values():
        model.to(device)
        if settings.channels_last:
            model.to(memory_format=torch.channels_last)
    result = BenchmarkResult(settings=settings, device=str(device), threads=torch.get_num_threads(),
                             dense_conv_gmacs=dense_conv_gmacs(device, settings.channels_last))

    rows = _inference_rows(settings, models, detector) if settings.inference else {}
    # the backbones' MACs are counted on eval-mode copies, whatever treatments run
    counted = {name: inference_variant(name, model, 'plain', detector) for name, model in models.items()
               } if settings.inference else {}
    for size in settings.sizes if settings.inference else ():
        log(f'[benchmark] inference at {size[0]}x{size[1]}, batch {settings.batch}, {settings.repeats} repeats')
        x, _ = detector_batch(settings.batch, size, device, generator)
        rois = fixed_proposals(settings.batch, size, device, generator) if detector else None
        inputs = {name: x.contiguous(memory_format=torch.channels_last)
                  if settings.channels_last or name.endswith('fast-cl') else x for name in rows}
        cases = {name: _step_begin(mode, device, inference(model, detector, inputs[name], rois))
                 for name, (mode, model) in rows.items()}
        with torch.no_grad():
            first, graphs = _timed_first_calls({name: fn for name, fn in cases.items() if rows[name][0] != 'eager'},
                                               device)
            timings = interleaved(cases, settings.repeats, _warmup(settings, device), device)
            macs = {name: sum(count_macs(model.backbone if detector else model, x).values())
                    for name, model in counted.items()}
            kernels = ({name: cuda_kernels(fn, device) for name, fn in cases.items()} if device.type == 'cuda'
                       else {})
        result.inference.append(InferenceResult(size=tuple(size), timings=timings, macs=macs, first_call=first,
                                                graphs={name: g for name, (g, _) in graphs.items()},
                                                kernels=kernels))

    if settings.train:
        size = tuple(settings.train_size or settings.sizes[0])
        log(f'[benchmark] training step at {size[0]}x{size[1]}, batch {settings.train_batch}, '
            f'{settings.repeats} repeats')
        train_rows = _train_rows(settings, models, detector)
        steps, optimizers = {}, {}
        for name, (mode, model) in train_rows.items():
            step, optimizers[name] = train_step(model, detector, settings.train_batch, size, device,
                                                settings.channels_last, generator)
            steps[name] = _step_begin(mode, device, step)
        first, graphs = _timed_first_calls({name: fn for name, fn in steps.items() if train_rows[name][0] != 'eager'},
                                           device)
        timings = interleaved(steps, settings.repeats, _warmup(settings, device, minimum=1), device)
        memory = None
        if settings.memory:
            memory = {name: peak_train_memory(steps[name], train_rows[name][1], optimizers[name], device)
                      for name in train_rows if device.type == 'cuda' or train_rows[name][0] == 'eager'}
        graph_seconds = {}
        for name in first:
            if not settings.graph_sizes:
                break
            log(f'[benchmark] {name}: training steps at {len(settings.graph_sizes)} sizes, counting graphs')
            mode, model = train_rows[name]
            before = dynamo_graphs()
            cases = {f'{name} {h}x{w}': _step_begin(mode, device, train_step(
                model, detector, settings.train_batch, (h, w), device, settings.channels_last, generator)[0])
                for h, w in settings.graph_sizes}
            graph_seconds[name] = sum(time_once(cases, device).values())
            after = dynamo_graphs()
            graphs[name] = (graphs[name][0] + after[0] - before[0], graphs[name][1] + after[1] - before[1])
        result.train = TrainResult(size=size, batch=settings.train_batch, timings=timings, memory=memory,
                                   first_call=first, graphs=graphs, graph_sizes=tuple(settings.graph_sizes),
                                   graph_seconds=graph_seconds)

    if settings.launches:
        size = settings.launch_size
        log(f'[benchmark] launch counts at {size[0]}x{size[1]}, batch {settings.batch}')
        backbones = {name: copy.deepcopy(model.backbone if detector else model) for name, model in models.items()}
        x = torch.randn(settings.batch, 3, *size, generator=generator).to(device)
        result.launches = count_launches(backbones, x, compiled=bool(settings.compiled_modes)
                                         and settings.compile_backend == 'inductor')
    return result
