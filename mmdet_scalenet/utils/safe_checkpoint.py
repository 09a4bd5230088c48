"""Let ``torch.load(weights_only=True)`` read the checkpoints mmengine's Runner writes, and nothing more.

torch >= 2.6 loads with ``weights_only=True`` by default and mmengine 0.10.7 does not say otherwise, so resuming,
``load_from`` and mmdet's ``tools/test.py`` refuse mmengine's own checkpoints: their message hub pickles a
``HistoryBuffer`` and numpy arrays and scalars. Rather than turning safe loading off, this module allow-lists exactly
those classes. Their pickles also call ``builtins.getattr`` (for ``HistoryBuffer.min``/``max``/``mean``/``current``
and for ``numpy.dtypes.<X>DType``); getattr itself is never allowed: a restricted getattr that permits only those
lookups stands in for it.
"""
import numpy as np
import numpy.dtypes
import torch
from mmengine.logging import HistoryBuffer

__all__ = ['allow_mmengine_checkpoints', 'restricted_getattr']

_HISTORY_BUFFER_METHODS = frozenset({'min', 'max', 'mean', 'current'})
_NUMPY_DTYPE_CLASSES = {name: cls for name, cls in vars(numpy.dtypes).items()
                        if isinstance(cls, type) and issubclass(cls, np.dtype)}


def restricted_getattr(obj, name):
    """``getattr`` for the lookups mmengine checkpoints make; any other lookup raises."""
    if obj is HistoryBuffer and name in _HISTORY_BUFFER_METHODS:
        return getattr(HistoryBuffer, name)
    if obj is numpy.dtypes and name in _NUMPY_DTYPE_CLASSES:
        return _NUMPY_DTYPE_CLASSES[name]
    raise AttributeError(f'refused by safe loading: getattr({obj!r}, {name!r}) is not a lookup mmengine '
                         f'checkpoints make')


def _numpy_globals():
    core = getattr(np, '_core', None) or np.core  # numpy 2 moved numpy.core to numpy._core
    found = [core.multiarray._reconstruct, core.multiarray.scalar, np.ndarray, np.dtype]
    found += list(_NUMPY_DTYPE_CLASSES.values())
    return found


def allow_mmengine_checkpoints() -> None:
    """Register the allow-list with ``torch.serialization.add_safe_globals`` (idempotent)."""
    safe = [HistoryBuffer, *_numpy_globals(), (restricted_getattr, 'builtins.getattr')]
    # numpy 1.x pickles refer to numpy.core.multiarray; numpy 2 keeps that path importable.
    core = getattr(np, '_core', None)
    if core is not None:
        safe += [(core.multiarray._reconstruct, 'numpy.core.multiarray._reconstruct'),
                 (core.multiarray.scalar, 'numpy.core.multiarray.scalar')]
    torch.serialization.add_safe_globals(safe)
