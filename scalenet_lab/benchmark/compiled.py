"""The benchmark's treatments: eager, compiled, compiled with CUDA graphs, given to ScaleNet and ResNet alike.

* ``eager``: the models as they are.
* ``compiled``: ``torch.compile`` with inductor, ``dynamic=True`` by default (the default of
  :class:`~mmdet_scalenet.engine.CompileHook`, what a config that turns compilation on gets: one graph for every
  input size).
* ``compiled-graphs``: the same with ``mode='reduce-overhead'``: inductor replays each graph as a CUDA graph (one per
  input shape), so the CPU issues one launch per graph instead of one per kernel. On CPU there are no CUDA graphs:
  inductor runs the compiled code as in ``compiled``, and the report says so.

Inference and the training step compile as :class:`~mmdet_scalenet.engine.CompileHook` does, through the hook
itself: the backbone and, in a detector, the neck, in place; the rest of a detector (heads, assigners, samplers,
NMS, losses) stays eager.
"""
import argparse
import logging
from types import SimpleNamespace
from typing import Tuple

import torch.nn as nn

__all__ = ['COMPILE_MODES', 'MODES', 'compile_in_place', 'compile_kwargs', 'dynamo_graphs', 'parse_modes',
           'raise_recompile_limit']

#: The treatments, in report order.
MODES = ('eager', 'compiled', 'compiled-graphs')
#: ``torch.compile``'s ``mode`` for each compiled treatment.
COMPILE_MODES = {'compiled': None, 'compiled-graphs': 'reduce-overhead'}
#: Recompiles allowed per function during a benchmark. Dynamo's default (8; mmdet sets 4) falls back to eager
#: silently once reached, and the benchmark compiles several copies of the same classes at several sizes.
RECOMPILE_LIMIT = 64


def parse_modes(text: str) -> Tuple[str, ...]:
    """``'eager,compiled'`` -> ``('eager', 'compiled')``, each one of :data:`MODES`, in report order; an ``argparse``
    type."""
    modes = [mode.strip() for mode in text.split(',') if mode.strip()]
    unknown = [mode for mode in modes if mode not in MODES]
    if unknown or not modes:
        raise argparse.ArgumentTypeError(f'expected a comma-separated list of {", ".join(MODES)}, got {text!r}')
    return tuple(mode for mode in MODES if mode in modes)


def compile_kwargs(mode: str, backend: str = 'inductor', dynamic: bool = True) -> dict:
    """``torch.compile`` arguments of treatment ``mode`` (``'compiled'`` or ``'compiled-graphs'``); ``mode`` is
    inductor's option, left out for other backends (``'eager'``, ``'aot_eager'``: quick checks of the plumbing)."""
    if mode not in COMPILE_MODES:
        raise ValueError(f'mode {mode!r}: expected one of {sorted(COMPILE_MODES)}')
    kwargs = dict(backend=backend, dynamic=dynamic)
    if backend == 'inductor' and COMPILE_MODES[mode] is not None:
        kwargs['mode'] = COMPILE_MODES[mode]
    return kwargs


def raise_recompile_limit(limit: int = RECOMPILE_LIMIT) -> None:
    """Let each compiled function hold ``limit`` graphs (never lowers the current limit)."""
    import torch._dynamo.config as dynamo_config
    for name in ('recompile_limit', 'cache_size_limit'):  # the name changed across torch versions
        if hasattr(dynamo_config, name):
            setattr(dynamo_config, name, max(getattr(dynamo_config, name), limit))


def compile_in_place(model: nn.Module, detector: bool, mode: str, backend: str = 'inductor',
                     dynamic: bool = True) -> nn.Module:
    """Compile ``model`` in place as :class:`~mmdet_scalenet.engine.CompileHook` does (``nn.Module.compile``:
    parameters and state-dict keys unchanged): a detector's ``backbone`` and ``neck`` (the hook's ``modules``, through
    the hook itself), or a bare backbone itself, with treatment ``mode``'s arguments. Returns ``model``."""
    kwargs = compile_kwargs(mode, backend, dynamic)
    if not detector:
        model.compile(**kwargs)  # what the hook runs on each of its modules
        return model
    from mmdet_scalenet.engine import CompileHook
    modules = tuple(name for name in ('backbone', 'neck') if getattr(model, name, None) is not None)
    hook = CompileHook(modules=modules, mode=kwargs.pop('mode', None), **kwargs)
    hook.before_train(SimpleNamespace(model=model, logger=logging.getLogger('benchmark')))
    return model


def dynamo_graphs() -> Tuple[int, int]:
    """``(graphs, graph breaks)`` dynamo has compiled in this process so far (its counters; diff two readings)."""
    from torch._dynamo.utils import counters
    return counters['stats']['unique_graphs'], sum(counters['graph_break'].values())

