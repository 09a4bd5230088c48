"""ScaleNet against mmdet's ResNet of the same depth: latency, training step, peak memory, achieved GMAC/s.

Everything is measured in one process under identical settings, the candidates interleaved (one run of each per
repeat, in turn) so that load from other processes hits all of them alike; ratios are taken per repeat and then
summarised (median, min, max). ``tools/benchmark.py`` is the command line.

Measured per model (a backbone, or a whole detector built from an mmdet config):

* ``latency``: ``eval()``, ``torch.no_grad()``, one forward; plain and with the exact fast path (ScaleNet's
  :meth:`~mmdet_scalenet.ScaleNet.fuse`; mmcv's ``fuse_conv_bn`` for ResNet).
* ``train step``: ``train()``, forward, loss, backward, SGD step (momentum 0.9).
* ``peak memory`` of a training step: on CUDA ``torch.cuda.max_memory_allocated``; on CPU the peak of live tensor
  storage during the step (tracked exactly with a dispatch mode) plus the parameters, buffers and optimizer state.
* achieved GMAC/s of the backbone forward (multiply-accumulates counted by ``mmengine.analysis``) next to the
  machine's dense-conv throughput, measured in the same run on one large 3x3 conv.
"""
import copy
import importlib
import os
import statistics
import time
import weakref
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

__all__ = ['BenchmarkSettings', 'DEFAULT_DETECTOR_CONFIG', 'Timing', 'build_backbone_pair', 'build_detector_pair',
           'dense_conv_gmacs', 'format_report', 'interleaved', 'peak_train_memory', 'run_benchmark']

#: mmdet's Faster R-CNN FPN, the detector-level comparison when no config is given.
DEFAULT_DETECTOR_CONFIG = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
#: The backbone keys that mean the same for ScaleNet and ResNet and are kept when one is swapped for the other.
SHARED_BACKBONE_KEYS = ('num_stages', 'out_indices', 'frozen_stages', 'norm_cfg', 'norm_eval', 'with_cp')


@dataclass
class BenchmarkSettings:
    """What to measure and how. ``sizes`` are (height, width); ``device`` 'cpu' or 'cuda'."""
    depth: int = 50
    structure: Optional[str] = None
    detector: bool = False
    config: Optional[str] = None
    sizes: Sequence[Tuple[int, int]] = ((224, 224), (800, 1216))
    train_size: Optional[Tuple[int, int]] = None
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


@dataclass
class Timing:
    """Seconds of every repeat of one measurement."""
    name: str
    seconds: List[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def interleaved(cases: Dict[str, Callable[[], object]], repeats: int, warmup: int,
                device: torch.device) -> Dict[str, Timing]:
    """Time every case ``repeats`` times, in turn (case a, b, c, a, b, c, ...), after ``warmup`` untimed runs."""
    for fn in cases.values():
        for _ in range(warmup):
            fn()
    timings = {name: Timing(name) for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            _sync(device)
            start = time.perf_counter()
            fn()
            _sync(device)
            timings[name].seconds.append(time.perf_counter() - start)
    return timings


def ratio_stats(numerator: Timing, denominator: Timing) -> Tuple[float, float, float]:
    """Median, min and max of the per-repeat ratios (runs of the same repeat saw the same load)."""
    ratios = [a / b for a, b in zip(numerator.seconds, denominator.seconds)]
    return statistics.median(ratios), min(ratios), max(ratios)


class _LiveStorage(TorchDispatchMode):
    """Tracks the bytes of every tensor storage created while active and alive, and their peak."""

    def __init__(self):
        super().__init__()
        self.live: Dict[Tuple[int, str], object] = {}
        self.current = 0
        self.peak = 0

    def _free(self, key, nbytes):
        if self.live.pop(key, None) is not None:
            self.current -= nbytes

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for tensor in tree_flatten(out)[0]:
            if isinstance(tensor, torch.Tensor) and tensor.device.type != 'meta':
                storage = tensor.untyped_storage()
                key = (storage.data_ptr(), str(tensor.device))
                nbytes = storage.nbytes()
                if nbytes and key not in self.live:
                    self.live[key] = weakref.finalize(storage, self._free, key, nbytes)
                    self.current += nbytes
                    self.peak = max(self.peak, self.current)
        return out


def _state_bytes(model: nn.Module, optimizer: torch.optim.Optimizer) -> int:
    tensors = list(model.parameters()) + list(model.buffers())
    for state in optimizer.state.values():
        tensors += [v for v in state.values() if isinstance(v, torch.Tensor)]
    seen = {}
    for t in tensors:
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
    return sum(seen.values())


def peak_train_memory(step: Callable[[], object], model: nn.Module, optimizer: torch.optim.Optimizer,
                      device: torch.device) -> int:
    """Peak bytes of one training step (run ``step`` once before, so optimizer state exists).

    CUDA: ``torch.cuda.max_memory_allocated``. CPU: parameters, buffers and optimizer state plus the peak of the
    tensors created during the step and still alive (gradients, activations, temporaries), tracked exactly.
    """
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        step()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device)
    optimizer.zero_grad(set_to_none=True)
    static = _state_bytes(model, optimizer)
    with _LiveStorage() as tracker:
        step()
    return static + tracker.peak


def dense_conv_gmacs(device: torch.device, channels_last: bool, repeats: int = 5) -> Tuple[float, List[float]]:
    """The machine's dense-conv throughput: GMAC/s of one large 3x3 conv (256 -> 256 channels, 64x64 map),
    best of both memory layouts when ``channels_last`` is False (the network's own layout otherwise)."""
    conv = nn.Conv2d(256, 256, 3, padding=1, bias=False).to(device).eval()
    x = torch.randn(1, 256, 64, 64, device=device)
    macs = 256 * 256 * 9 * 64 * 64
    layouts = [torch.channels_last] if channels_last else [torch.contiguous_format, torch.channels_last]
    cases = {}
    for layout in layouts:
        c, xi = copy.deepcopy(conv).to(memory_format=layout), x.contiguous(memory_format=layout)
        cases[str(layout)] = (lambda c=c, xi=xi: c(xi))
    with torch.no_grad():
        timings = interleaved(cases, repeats, 1, device)
    best = max(timings.values(), key=lambda t: macs / t.median)
    return macs / best.median / 1e9, [macs / s / 1e9 for s in best.seconds]


def _count_macs(model: nn.Module, x: torch.Tensor) -> Optional[int]:
    from mmengine.analysis import FlopAnalyzer
    try:
        analyzer = FlopAnalyzer(model, (x, ))
        analyzer.unsupported_ops_warnings(False)
        analyzer.uncalled_modules_warnings(False)
        return int(analyzer.total())
    except Exception:  # noqa: BLE001 (a count is optional: report without it)
        return None


def resolve_config(path: str) -> str:
    """``'mmdet::faster_rcnn/x.py'`` -> the file inside the installed package's ``.mim/configs``."""
    if '::' not in path:
        return path
    package, relative = path.split('::', 1)
    root = os.path.dirname(importlib.import_module(package).__file__)
    resolved = os.path.join(root, '.mim', 'configs', relative)
    if not os.path.isfile(resolved):
        raise FileNotFoundError(f'{path}: no such config in {package} ({resolved})')
    return resolved


def _backbone_cfgs(base: dict, depth: int, structure: Optional[str]) -> Tuple[dict, dict]:
    """ScaleNet and ResNet backbone configs of ``depth`` sharing ``base``'s common settings, both init_cfg=None."""
    shared = {key: copy.deepcopy(base[key]) for key in SHARED_BACKBONE_KEYS if key in base}
    scalenet = dict(type='ScaleNet', depth=depth, init_cfg=None, **shared)
    if base.get('type') == 'ScaleNet' and structure is None:
        structure = base.get('structure')
    if structure is not None:
        scalenet['structure'] = structure
    resnet = dict(type='ResNet', depth=depth, style='pytorch', init_cfg=None, **shared)
    return scalenet, resnet


def build_backbone_pair(depth: int = 50, structure: Optional[str] = None) -> Dict[str, nn.Module]:
    """ScaleNet and mmdet's ResNet of ``depth``, mmdet's detection defaults (all stages out, nothing frozen)."""
    from mmdet.registry import MODELS

    import mmdet_scalenet  # noqa: F401 (registers ScaleNet)
    scalenet, resnet = _backbone_cfgs(dict(type='ResNet', norm_eval=True), depth, structure)
    return {'ScaleNet': MODELS.build(scalenet), 'ResNet': MODELS.build(resnet)}


def build_detector_pair(config: Optional[str] = None, depth: int = 50,
                        structure: Optional[str] = None) -> Dict[str, nn.Module]:
    """The detector of ``config`` (default: mmdet's Faster R-CNN R50 FPN) with a ScaleNet backbone and with mmdet's
    ResNet of the same depth, everything else identical; no pretrained weights are loaded."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config

    import mmdet_scalenet  # noqa: F401 (registers ScaleNet)
    register_all_modules()
    cfg = Config.fromfile(resolve_config(config or DEFAULT_DETECTOR_CONFIG))
    base = cfg.model.backbone
    if base.get('type') == 'ScaleNet':
        depth = base.get('depth', depth)
    elif base.get('type') != 'ResNet':
        raise ValueError(f'{config}: the backbone must be ScaleNet or ResNet to compare the two, '
                         f'got {base.get("type")}')
    models = {}
    for name, backbone in zip(('ScaleNet', 'ResNet'), _backbone_cfgs(base, depth, structure)):
        model_cfg = copy.deepcopy(cfg.model)
        model_cfg.backbone = backbone
        model_cfg.pop('init_cfg', None)
        models[name] = MODELS.build(model_cfg)
    return models


def _eval(model: nn.Module) -> nn.Module:
    """``model.eval()``, returning the model (mmdet's ResNet.train returns None)."""
    model.eval()
    return model


def _fast_path(name: str, model: nn.Module, detector: bool) -> nn.Module:
    """ScaleNet.fuse() for ScaleNet's backbone, mmcv's fuse_conv_bn for the rest (and all of ResNet)."""
    from mmcv.cnn import fuse_conv_bn
    model = _eval(copy.deepcopy(model))
    if name == 'ScaleNet':
        if detector:
            model.backbone = model.backbone.fuse()
        else:
            model = model.fuse()
    return fuse_conv_bn(model)


def _detector_batch(batch: int, size: Tuple[int, int], device: torch.device,
                    generator: torch.Generator):
    """Synthetic, already normalised images and data samples with random boxes for a detector."""
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    h, w = size
    inputs = torch.randn(batch, 3, h, w, generator=generator).to(device)
    samples = []
    for _ in range(batch):
        sample = DetDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w),
                                             batch_input_shape=(h, w), scale_factor=(1.0, 1.0), img_id=0))
        xy = torch.rand(4, 2, generator=generator) * torch.tensor([w * 0.7, h * 0.7])
        wh = torch.rand(4, 2, generator=generator) * torch.tensor([w * 0.3, h * 0.3]) + 8
        instances = InstanceData()
        instances.bboxes = torch.cat([xy, xy + wh], dim=1).to(device)
        instances.labels = torch.randint(0, 80, (4, ), generator=generator).to(device)
        sample.gt_instances = instances
        samples.append(sample)
    return inputs, samples


def _make_train_step(model: nn.Module, detector: bool, batch: int, size: Tuple[int, int], device: torch.device,
                     channels_last: bool, generator: torch.Generator):
    model.train()
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-4, momentum=0.9)
    if detector:
        inputs, samples = _detector_batch(batch, size, device, generator)
        if channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)

        def loss_fn():
            loss, _ = model.parse_losses(model.loss(inputs, samples))
            return loss
    else:
        inputs = torch.randn(batch, 3, *size, generator=generator).to(device)
        if channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)

        def loss_fn():
            return sum(out.float().square().mean() for out in model(inputs))

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        optimizer.step()
        return loss
    return step, optimizer


def _make_inference(model: nn.Module, detector: bool, x: torch.Tensor, samples=None):
    if detector:  # the whole test-time pipeline: backbone, neck, RPN proposals, RoI head, NMS
        return lambda: model.predict(x, samples)
    return lambda: model(x)


def run_benchmark(settings: BenchmarkSettings, log: Callable[[str], None] = print) -> dict:
    """Run the comparison; returns every timing and ratio (``format_report`` prints it)."""
    if settings.threads is not None:
        torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    device = torch.device(settings.device)
    detector = settings.detector or settings.config is not None
    models = (build_detector_pair(settings.config, settings.depth, settings.structure) if detector
              else build_backbone_pair(settings.depth, settings.structure))
    for model in models.values():
        model.to(device)
        if settings.channels_last:
            model.to(memory_format=torch.channels_last)
    result = dict(settings=settings, threads=torch.get_num_threads(), device=str(device), detector=detector,
                  latency={}, train=None, memory=None)

    eval_models = {}
    for name, model in models.items():
        eval_models[name] = _eval(copy.deepcopy(model))
        if settings.fast_path:
            eval_models[f'{name} fast'] = _fast_path(name, eval_models[name], detector)

    peak, peak_runs = dense_conv_gmacs(device, settings.channels_last)
    result['dense_conv_gmacs'] = (peak, peak_runs)
    for size in settings.sizes:
        log(f'[benchmark] inference at {size[0]}x{size[1]}, batch {settings.batch}, {settings.repeats} repeats')
        x, samples = _detector_batch(settings.batch, size, device, generator)
        if settings.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.no_grad():
            timings = interleaved({name: _make_inference(m, detector, x, samples) for name, m in eval_models.items()},
                                  settings.repeats, settings.warmup, device)
        macs = {}
        for name in ('ScaleNet', 'ResNet'):
            with torch.no_grad():
                macs[name] = _count_macs(models[name].backbone if detector else eval_models[name], x)
        result['latency'][tuple(size)] = dict(timings=timings, macs=macs)
        del x, samples

    if settings.train:
        size = tuple(settings.train_size or settings.sizes[0])
        log(f'[benchmark] training step at {size[0]}x{size[1]}, batch {settings.train_batch}, '
            f'{settings.repeats} repeats')
        steps, optimizers = {}, {}
        for name, model in models.items():
            steps[name], optimizers[name] = _make_train_step(model, detector, settings.train_batch, size, device,
                                                             settings.channels_last, generator)
        timings = interleaved(steps, settings.repeats, max(1, settings.warmup), device)
        memory = None
        if settings.memory:
            memory = {name: peak_train_memory(steps[name], models[name], optimizers[name], device)
                      for name in models}
        result['train'] = dict(size=size, timings=timings)
        result['memory'] = memory
    return result


def _ms(seconds: float) -> str:
    return f'{seconds * 1e3:.1f}'


def _spread(timing: Timing) -> str:
    return f'{_ms(timing.median)} [{_ms(min(timing.seconds))}-{_ms(max(timing.seconds))}]'


def _ratio(a: Timing, b: Timing) -> str:
    median, low, high = ratio_stats(a, b)
    return f'{median:.3f} [{low:.3f}-{high:.3f}]'


def format_report(result: dict) -> str:
    """A plain-text (Markdown) report of ``run_benchmark``'s result."""
    s = result['settings']
    what = ('detector ' + (s.config or DEFAULT_DETECTOR_CONFIG)) if result['detector'] else 'backbone'
    peak, _ = result['dense_conv_gmacs']
    lines = [f'# ScaleNet-{s.depth} vs ResNet-{s.depth}, {what}',
             f'device {result["device"]}, {result["threads"]} threads, batch {s.batch} (train {s.train_batch}), '
             f'{s.repeats} repeats interleaved, {"channels-last" if s.channels_last else "NCHW"} inputs; '
             f'times in ms as median [min-max], ratios per repeat',
             f'torch {torch.__version__}, OMP_WAIT_POLICY={os.environ.get("OMP_WAIT_POLICY", "unset")}, '
             f'dense 3x3 conv throughput (256->256, 64x64): {peak:.1f} GMAC/s', '']
    for size, entry in result['latency'].items():
        t = entry['timings']
        lines.append(f'## inference {size[0]}x{size[1]} (eval, no grad)')
        lines.append('| model | latency ms | backbone GMAC | GMAC/s | % of dense conv |')
        lines.append('|---|---|---|---|---|')
        for name, timing in t.items():
            macs = entry['macs'].get(name.split(' ')[0])
            if macs and not result['detector']:
                rate = macs / timing.median / 1e9
                lines.append(f'| {name} | {_spread(timing)} | {macs / 1e9:.2f} | {rate:.1f} | '
                             f'{100 * rate / peak:.0f}% |')
            else:
                gmac = f'{macs / 1e9:.2f}' if macs else '-'
                lines.append(f'| {name} | {_spread(timing)} | {gmac} | - | - |')
        lines.append(f'ratio ScaleNet / ResNet, plain eval: {_ratio(t["ScaleNet"], t["ResNet"])}')
        if 'ScaleNet fast' in t:
            lines.append(f'ratio ScaleNet fast path / ResNet fused: {_ratio(t["ScaleNet fast"], t["ResNet fast"])}')
        macs = entry['macs']
        if macs.get('ScaleNet') and macs.get('ResNet'):
            lines.append(f'MAC ratio ScaleNet / ResNet: {macs["ScaleNet"] / macs["ResNet"]:.3f}')
        lines.append('')
    if result['train']:
        t = result['train']['timings']
        size = result['train']['size']
        lines.append(f'## training step {size[0]}x{size[1]}, batch {s.train_batch} (forward, backward, SGD)')
        lines.append('| model | step ms | peak memory MiB |')
        lines.append('|---|---|---|')
        memory = result['memory'] or {}
        for name, timing in t.items():
            mem = f'{memory[name] / 2**20:.0f}' if name in memory else '-'
            lines.append(f'| {name} | {_spread(timing)} | {mem} |')
        lines.append(f'ratio ScaleNet / ResNet, training step: {_ratio(t["ScaleNet"], t["ResNet"])}')
        if memory:
            lines.append(f'ratio ScaleNet / ResNet, peak memory: {memory["ScaleNet"] / memory["ResNet"]:.3f}')
    return '\n'.join(lines)
