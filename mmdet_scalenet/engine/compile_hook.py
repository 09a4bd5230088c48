"""``torch.compile`` for the parts of a model that compile cleanly (the backbone, the neck), in training and testing,
with the rest of the model (data preprocessor, assigners, samplers, NMS, losses) left eager.

mmengine's own ``compile=True`` compiles the whole ``train_step``, where detectors' Python-level logic breaks graphs
and recompiles per image size. In a config, after the base's hooks (mmengine replaces a ``custom_hooks`` list)::

    custom_hooks = [dict(type='RandomStateHook'), dict(type='CompileHook', modules=('backbone', 'neck'))]
"""
from typing import Optional, Sequence

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

__all__ = ['CompileHook']


@HOOKS.register_module()
class CompileHook(Hook):
    """Compile submodules of the model in place (``nn.Module.compile``: parameters, state-dict keys and checkpoints
    unchanged) before training, validation and testing.

    ScaleNet compiles with ``dynamic=True`` into one graph for every input size a detector pads to, without graph
    breaks (its size-dependent choices are made inside the graph, :mod:`mmdet_scalenet.models.scale_aggregation`).
    Runs after :class:`~.fuse_hook.FuseConvBNHook` (lower priority), so ``tools/test.py --fuse`` compiles the fused
    fast path.

    Args:
        modules: names of the submodules to compile (``model.get_submodule`` paths), e.g. ``('backbone', 'neck')``.
        mode, dynamic, fullgraph, backend, options: passed to ``torch.compile``.
    """
    priority = 'LOW'

    def __init__(self,
                 modules: Sequence[str] = ('backbone', ),
                 mode: Optional[str] = None,
                 dynamic: Optional[bool] = True,
                 fullgraph: bool = False,
                 backend: str = 'inductor',
                 options: Optional[dict] = None):
        if isinstance(modules, str) or not modules or not all(isinstance(m, str) and m for m in modules):
            raise TypeError(f'CompileHook: modules must be a non-empty list of submodule names, e.g. '
                            f'("backbone", "neck"), got {modules!r}')
        if mode is not None and options is not None:
            raise ValueError('CompileHook: give mode or options, not both (torch.compile takes one of them)')
        self.modules = tuple(modules)
        self.kwargs = dict(mode=mode, dynamic=dynamic, fullgraph=fullgraph, backend=backend, options=options)
        self._compiled = set()

    def _compile(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        for name in self.modules:
            try:
                module = model.get_submodule(name)
            except AttributeError:
                children = [child for child, _ in model.named_children()]
                raise ValueError(f'CompileHook: the model ({type(model).__name__}) has no submodule {name!r}; its '
                                 f'submodules: {children}') from None
            if id(module) in self._compiled:
                continue
            module.compile(**self.kwargs)
            self._compiled.add(id(module))
            runner.logger.info(f'CompileHook: {name} ({type(module).__name__}) compiled with torch.compile('
                               + ', '.join(f'{k}={v!r}' for k, v in self.kwargs.items() if v is not None) + ')')

    def before_train(self, runner) -> None:
        self._compile(runner)

    def before_val(self, runner) -> None:
        self._compile(runner)

    def before_test(self, runner) -> None:
        self._compile(runner)
