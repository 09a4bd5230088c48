"""Running a benchmark: the settings, the typed result, and the run that fills it."""
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch

from mmdet_scalenet.structure import load_structure

from ..complexity import count_macs
from .models import (
    build_pair,
    detector_batch,
    detector_config,
    fixed_proposals,
    inference,
    inference_variant,
    train_step,
)
from .timing import Timing, dense_conv_gmacs, interleaved, peak_train_memory, ratio_stats

__all__ = [
    'BenchmarkResult', 'BenchmarkSettings', 'InferenceResult', 'TrainResult', 'check_device', 'check_settings',
    'run_benchmark'
]

Size = Tuple[int, int]


@dataclass
class BenchmarkSettings:
    """What to measure and how. ``sizes`` are (height, width); ``device`` ``'cpu'`` or ``'cuda'``."""
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

    @property
    def compares_detectors(self) -> bool:
        return self.detector or self.config is not None


@dataclass
class InferenceResult:
    """Latency at one input size. ``timings`` by row: ``'ScaleNet'`` and ``'ResNet'`` (plain eval), and with the fast
    path ``'ScaleNet fast'``, ``'ResNet fast'`` (BNs folded) and ``'ResNet fast-cl'`` (also channels-last);
    ``macs``: the backbones' multiply-accumulates at this size, counted by ``mmengine.analysis``."""
    size: Size
    timings: Dict[str, Timing]
    macs: Dict[str, int]

    def ratio(self, numerator: str, denominator: str) -> Tuple[float, float, float]:
        return ratio_stats(self.timings[numerator], self.timings[denominator])


@dataclass
class TrainResult:
    """A training step at ``size`` and ``batch``: its timings and, if measured, peak memory in bytes."""
    size: Size
    batch: int
    timings: Dict[str, Timing]
    memory: Optional[Dict[str, int]] = None

    def ratio(self) -> Tuple[float, float, float]:
        return ratio_stats(self.timings['ScaleNet'], self.timings['ResNet'])


@dataclass
class BenchmarkResult:
    """Everything :func:`run_benchmark` measured (``format_report`` writes it out)."""
    settings: BenchmarkSettings
    device: str
    threads: int
    dense_conv_gmacs: Tuple[float, List[float]]
    inference: List[InferenceResult] = field(default_factory=list)
    train: Optional[TrainResult] = None


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
    """What can fail before any model is built: the device (:func:`check_device`), the structure, the detector
    config (:func:`~.models.detector_config`). Raises their errors (``ValueError``, ``StructureError``,
    ``FileNotFoundError``)."""
    check_device(settings.device)
    if settings.structure is not None:
        load_structure(settings.structure)
    if settings.compares_detectors:
        detector_config(settings.config)


def run_benchmark(settings: BenchmarkSettings, log: Callable[[str], None] = print) -> BenchmarkResult:
    """Check the settings (:func:`check_settings`), build the pair (:func:`~.models.build_pair`) and time
    inference at each size and a training step."""
    check_settings(settings)
    if settings.threads is not None:
        torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    device = torch.device(settings.device)
    detector = settings.compares_detectors
    models = build_pair(detector, settings.config, settings.depth, settings.structure)
    for model in models.values():
        model.to(device)
        if settings.channels_last:
            model.to(memory_format=torch.channels_last)
    variants = {name: inference_variant(name, model, 'plain', detector) for name, model in models.items()}
    if settings.fast_path:
        variants['ScaleNet fast'] = inference_variant('ScaleNet', models['ScaleNet'], 'fast', detector)
        variants['ResNet fast'] = inference_variant('ResNet', models['ResNet'], 'fast', detector)
        if not detector:  # in a detector, mmcv 2.1's CPU roi_align misreads channels-last features
            variants['ResNet fast-cl'] = inference_variant('ResNet', models['ResNet'], 'fast-cl', detector)
    result = BenchmarkResult(settings=settings, device=str(device), threads=torch.get_num_threads(),
                             dense_conv_gmacs=dense_conv_gmacs(device, settings.channels_last))

    for size in settings.sizes:
        log(f'[benchmark] inference at {size[0]}x{size[1]}, batch {settings.batch}, {settings.repeats} repeats')
        x, _ = detector_batch(settings.batch, size, device, generator)
        rois = fixed_proposals(settings.batch, size, device, generator) if detector else None
        inputs = {name: x.contiguous(memory_format=torch.channels_last)
                  if settings.channels_last or name.endswith('fast-cl') else x for name in variants}
        with torch.no_grad():
            timings = interleaved({name: inference(model, detector, inputs[name], rois)
                                   for name, model in variants.items()}, settings.repeats, settings.warmup, device)
            macs = {name: sum(count_macs(models[name].backbone if detector else variants[name], x).values())
                    for name in models}
        result.inference.append(InferenceResult(size=tuple(size), timings=timings, macs=macs))

    if settings.train:
        size = tuple(settings.train_size or settings.sizes[0])
        log(f'[benchmark] training step at {size[0]}x{size[1]}, batch {settings.train_batch}, '
            f'{settings.repeats} repeats')
        steps, optimizers = {}, {}
        for name, model in models.items():
            steps[name], optimizers[name] = train_step(model, detector, settings.train_batch, size, device,
                                                       settings.channels_last, generator)
        timings = interleaved(steps, settings.repeats, max(1, settings.warmup), device)
        memory = ({name: peak_train_memory(steps[name], models[name], optimizers[name], device) for name in models}
                  if settings.memory else None)
        result.train = TrainResult(size=size, batch=settings.train_batch, timings=timings, memory=memory)
    return result
