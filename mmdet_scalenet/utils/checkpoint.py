"""Reading and writing state dicts: safe to load (``torch.load(weights_only=True)``), atomic to write."""
import os
import pickle
from collections import OrderedDict
from typing import Dict, Mapping, Optional, Union

import torch
from mmengine.runner.checkpoint import CheckpointLoader

from .fileio import write_atomically

__all__ = ['CheckpointMismatchError', 'read_state_dict', 'save_state_dict']


class CheckpointMismatchError(RuntimeError):
    """A checkpoint's keys or shapes do not match the module it is loaded into, or it holds no state dict."""


def read_state_dict(filename: Union[str, os.PathLike], map_location: str = 'cpu') -> Dict[str, torch.Tensor]:
    """Read a checkpoint's state dict with ``weights_only=True``.

    Unwraps a ``state_dict`` entry (mmengine and many trainers) and strips a ``module.`` prefix (DataParallel).
    Local files are read with ``torch.load(..., weights_only=True)``; other schemes (``http://``, ...) go through
    mmengine's loaders, which on torch >= 2.6 load with ``weights_only=True`` too.
    """
    filename = os.fspath(filename)
    if '://' in filename:
        checkpoint = CheckpointLoader.load_checkpoint(filename, map_location=map_location)
    else:
        if not os.path.isfile(filename):
            raise FileNotFoundError(f'{filename}: checkpoint file not found')
        try:
            checkpoint = torch.load(filename, map_location=map_location, weights_only=True)
        except pickle.UnpicklingError as e:
            raise pickle.UnpicklingError(
                f'{filename}: refused by safe loading (weights_only=True): it holds objects other than tensors '
                f'and plain containers, possibly code. Load only checkpoints you trust. Detail: {e}') from None
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get('state_dict'), dict):
        checkpoint = checkpoint['state_dict']
    if not isinstance(checkpoint, dict) or not all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        raise CheckpointMismatchError(f'{filename}: expected a state dict of tensors (optionally under '
                                      f'"state_dict"), got {type(checkpoint).__name__}')
    if checkpoint and all(key.startswith('module.') for key in checkpoint):
        checkpoint = OrderedDict((key[len('module.'):], value) for key, value in checkpoint.items())
    return checkpoint


def save_state_dict(state: Mapping[str, torch.Tensor], path: Union[str, os.PathLike], overwrite: bool = False,
                    meta: Optional[dict] = None) -> None:
    """Write ``{'state_dict': state, 'meta': meta}`` to ``path`` atomically; an existing file is an error unless
    ``overwrite``. :func:`read_state_dict` and mmengine read it back."""
    obj = {'state_dict': OrderedDict(state), 'meta': meta or {}}
    write_atomically(os.fspath(path), lambda tmp: torch.save(obj, tmp), overwrite)
