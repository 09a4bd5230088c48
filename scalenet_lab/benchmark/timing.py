"""Measuring: interleaved timing (every case once per repeat, in turn, so that load from other processes hits all
alike), ratios per repeat, the exact peak memory of a training step, and the machine's dense-conv throughput."""
import copy
import statistics
import time
import weakref
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Tuple

import torch
import torch.nn as nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

__all__ = ['Timing', 'dense_conv_gmacs', 'interleaved', 'peak_train_memory', 'ratio_stats', 'time_once']


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
        for name, seconds in time_once(cases, device).items():
            timings[name].seconds.append(seconds)
    return timings


def time_once(cases: Dict[str, Callable[[], object]], device: torch.device) -> Dict[str, float]:
    """Seconds of one call of each case, in turn (synchronised on CUDA). A compiled model's first call includes its
    compilation."""
    seconds = {}
    for name, fn in cases.items():
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        seconds[name] = time.perf_counter() - start
    return seconds


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
