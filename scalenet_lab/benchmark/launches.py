"""Kernel launches per forward and per training step: on a GPU at small sizes a network's latency is its launch count
times the launch cost, not its arithmetic (docs/benchmark.md), so the count is measured like a latency.

Three counts, each deterministic for a given torch version, model and input size:

* **eager**: the aten compute ops dispatched (a :class:`~torch.utils._python_dispatch.TorchDispatchMode` sees every
  op below autograd). Views and metadata ops (``op.is_view``: ``view``, ``slice``, ``detach``, ...) and bare
  allocations (``empty*``) launch no kernel and are left out. Each remaining op is one kernel on most backends (a
  cuDNN convolution may run two or three).
* **compiled**: the kernel calls of the code inductor generates, read from its wrapper (the Python function that
  runs a compiled graph): calls of the kernels it generated (C++ on CPU, Triton on CUDA), of ``extern_kernels``
  (convolutions, matrix products) and of aten fallbacks, views and allocations left out as above. The model is
  compiled with ``fullgraph=True`` (a graph break is an error), so a forward runs exactly one graph and a training
  step one forward and one backward graph: calls in the wrapper are calls per forward. Inductor's caches are off
  while counting (a cache hit generates no code to read). ``torch._inductor.metrics.generated_kernel_count`` counts
  generated kernels only, not the convolutions, hence the wrapper.
* **GPU kernels** (CUDA only): the kernels, copies and memsets the profiler (CUPTI) records on the device in one
  call after a warm-up call: what the GPU really runs, cuDNN's and inductor's alike.

A training step here is forward and backward of the backbone (``norm_eval``: BatchNorms in eval mode, as mmdet
trains detectors), without the optimizer: its update is the same per-parameter work for any network.
"""
import functools
import re
from typing import Callable, Dict, Sequence

import torch
import torch.nn as nn
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ['compiled_kernel_calls', 'count_launches', 'cuda_kernels', 'eager_compute_ops', 'is_compute_op',
           'wrapper_kernel_calls']

#: Ops that allocate without writing: no kernel runs.
ALLOCATIONS = frozenset({'empty', 'empty_like', 'empty_strided', 'new_empty', 'new_empty_strided'})


def is_compute_op(op: torch._ops.OpOverload) -> bool:
    """Whether dispatching ``op`` runs a kernel: not a view or metadata op, not a bare allocation."""
    return not op.is_view and op.overloadpacket.__name__ not in ALLOCATIONS


class _ComputeOps(TorchDispatchMode):
    """Counts the compute ops (:func:`is_compute_op`) dispatched while active."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if is_compute_op(func):
            self.count += 1
        return func(*args, **(kwargs or {}))


def eager_compute_ops(fn: Callable[[], object]) -> int:
    """The aten compute ops one call of ``fn`` dispatches."""
    with _ComputeOps() as counter:
        fn()
    return counter.count


def _function_bodies(code: str, names: str) -> str:
    """The bodies of the functions of ``code`` whose name matches the regex ``names``."""
    lines, bodies = code.splitlines(), []
    for index, line in enumerate(lines):
        match = re.match(rf'(\s*)def ({names})\(', line)
        if not match:
            continue
        indent = len(match.group(1))
        for body_line in lines[index + 1:]:
            if body_line.strip() and len(body_line) - len(body_line.lstrip()) <= indent:
                break
            bodies.append(body_line)
    return '\n'.join(bodies)


def _resolves_to_compute(namespace: str, name: str, overload: str) -> bool:
    try:
        op = getattr(getattr(getattr(torch.ops, namespace), name), overload)
    except (AttributeError, RuntimeError):
        return True  # not an op this torch knows by that name: counted, the safe side for a regression guard
    return not isinstance(op, torch._ops.OpOverload) or is_compute_op(op)


def wrapper_kernel_calls(code: str) -> int:
    """Kernel calls in the graph-running functions (``call``, and ``partition_N`` where inductor splits a graph) of
    one module of inductor's generated code; see the module docstring for what counts."""
    generated = set(re.findall(r'^(\w+) = async_compile\.\w+\(', code, re.M))
    count = 0
    for line in _function_bodies(code, r'call|partition_\d+').splitlines():
        line = line.split('#', 1)[0]
        for name in re.findall(r'(?<![\w.])(\w+)(?:\.run)?\(', line):
            count += name in generated
        count += len(re.findall(r'(?<![\w.])extern_kernels\.\w+\(', line))
        for namespace, name, overload in re.findall(r'(?<![\w])(?:torch\.ops\.)?(aten|mkldnn|quantized|prims)\.'
                                                    r'(\w+)\.(\w+)\(', line):
            count += _resolves_to_compute(namespace, name, overload)
    return count


def compiled_kernel_calls(model: nn.Module, run: Callable[[nn.Module], object], graphs: int) -> int:
    """Kernel calls per ``run(compiled_model)`` of ``model`` compiled by inductor (``fullgraph=True``, static
    shapes), counted in the code it generates; ``graphs``: how many graphs one run must compile (1 for a forward, 2
    for forward and backward), checked."""
    import torch._dynamo
    from torch._inductor import config
    from torch._inductor.utils import run_and_get_code

    compiled = torch.compile(model, fullgraph=True, dynamic=False)
    with config.patch(force_disable_caches=True):
        _, codes = run_and_get_code(lambda: run(compiled))
    torch._dynamo.reset()
    if len(codes) != graphs:
        raise RuntimeError(f'expected inductor to generate {graphs} graph(s) for one run, got {len(codes)}')
    return sum(wrapper_kernel_calls(code) for code in codes)


def cuda_kernels(fn: Callable[[], object], device: torch.device) -> int:
    """Device activities (kernels, copies, memsets) the profiler records in one call of ``fn`` after a warm-up
    call (CUDA only)."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile
    fn()
    torch.cuda.synchronize(device)
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize(device)
    return sum(1 for event in prof.events() if event.device_type == DeviceType.CUDA)


def _runs(x: torch.Tensor) -> Dict[str, Callable[[nn.Module], object]]:
    """The two measured runs of a backbone on ``x``: an eval forward, and a training step (forward, backward)."""

    def forward(model):
        model.eval()
        with torch.no_grad():
            return model(x)

    def train_step(model):
        model.train()  # a backbone built with norm_eval keeps its BatchNorms in eval mode
        outs = model(x)
        torch.autograd.backward(outs, [torch.ones_like(out) for out in outs])

    return {'eval': forward, 'train': train_step}


def _count_one(model: nn.Module, x: torch.Tensor, compiled: bool, kinds: Sequence[str]) -> Dict[str, int]:
    runs = {kind: run for kind, run in _runs(x).items() if kind in kinds}
    counts = {f'eager {kind}': eager_compute_ops(functools.partial(run, model)) for kind, run in runs.items()}
    if compiled:
        for kind, run in runs.items():
            counts[f'compiled {kind}'] = compiled_kernel_calls(model, run, 2 if kind == 'train' else 1)
    if x.device.type == 'cuda' and 'eval' in runs:
        counts['GPU kernels eager eval'] = cuda_kernels(functools.partial(runs['eval'], model), x.device)
        if compiled:
            fast = torch.compile(model, fullgraph=True, dynamic=False)
            counts['GPU kernels compiled eval'] = cuda_kernels(functools.partial(runs['eval'], fast), x.device)
            torch._dynamo.reset()
    model.zero_grad(set_to_none=True)
    model.eval()
    return counts


def count_launches(models: Dict[str, nn.Module], x: torch.Tensor, compiled: bool = False,
                   kinds: Sequence[str] = ('eval', 'train')) -> Dict[str, Dict[str, int]]:
    """``{name: {count: n}}`` for each backbone of ``models`` on ``x``: ``'eager eval'``, ``'eager train'`` and,
    with ``compiled``, ``'compiled eval'``, ``'compiled train'``; on CUDA also ``'GPU kernels eager eval'`` (and
    compiled). The models are left in eval mode, their parameters' gradients cleared."""
    return {name: _count_one(model, x, compiled, kinds) for name, model in models.items()}
