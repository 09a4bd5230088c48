"""Reading and writing state dicts: safe to load (``torch.load(weights_only=True)``), checked, atomic to write.

A checkpoint is refused, with a :class:`CheckpointError` that names the file and what is wrong, when it is not a
PyTorch checkpoint at all (empty, truncated, text, another kind of file), when safe loading refuses it, and when its
weights are not usable: NaN or infinite values, or integer/bool tensors where floats belong (loading those into a
float parameter would cast them silently).
"""
import os
import pickle
import zipfile
from collections import OrderedDict
from typing import Dict, Iterable, Mapping, Optional, Union

import torch
from mmengine.runner.checkpoint import CheckpointLoader

from .fileio import write_atomically

__all__ = [
    'INTEGER_BUFFERS', 'CheckpointError', 'check_checkpoint_file', 'check_weights',
    'read_state_dict', 'save_state_dict', 'summarize_keys'
]

#: The integer tensors of the networks this package reads (BatchNorm's step counter); every other tensor of a
#: state dict must be floating point when no module says otherwise (see :func:`check_weights`).
INTEGER_BUFFERS = ('num_batches_tracked', )

#: How the first bytes of a PyTorch checkpoint look: a zip archive (torch >= 1.6), or a pickle (the legacy format).
_ZIP_MAGIC = b'PK\x03\x04'
_PICKLE_PROTOCOL = b'\x80'


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used: not a PyTorch checkpoint (empty, truncated, text...), refused by safe
    loading, holding non-finite or non-float weights, or whose keys or shapes do not fit the module it is loaded
    into. The message names the file (when one is known) and the keys."""


def summarize_keys(keys: Iterable[str], limit: int = 20) -> str:
    """``'a, b, c ... (+N more)'``: the first ``limit`` keys in sorted order, then how many more."""
    keys = sorted(keys)
    more = f' ... (+{len(keys) - limit} more)' if len(keys) > limit else ''
    return ', '.join(keys[:limit]) + more


def _describe_start(head: bytes) -> str:
    """What a file that is not a checkpoint looks like, from its first bytes."""
    text = head.decode('utf-8', errors='replace')
    body = text[:-3] if len(text) > 3 else text  # the read may cut a multi-byte character at the end
    if '\ufffd' not in body and all(c.isprintable() or c.isspace() for c in body):
        first = (text.strip().splitlines() or [''])[0][:60]
        return f'it is a text file (it starts with {first!r})'
    return f'it starts with the bytes {head[:8]!r}'


def check_checkpoint_file(filename: Union[str, os.PathLike]) -> None:
    """Check, without loading its tensors, that ``filename`` is a PyTorch checkpoint file that is all there.

    Reads the first bytes and, for the zip format ``torch.save`` writes, the archive's directory, which sits at the
    end of the file: an interrupted save or download lacks it.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: a directory, an empty file, a truncated or corrupt archive, or not a PyTorch checkpoint
            (a text file, another format), with what it is instead.
    """
    filename = os.fspath(filename)
    if os.path.isdir(filename):
        raise CheckpointError(f'{filename}: is a directory, not a checkpoint file')
    if not os.path.isfile(filename):
        raise FileNotFoundError(f'{filename}: checkpoint file not found')
    size = os.path.getsize(filename)
    if size == 0:
        raise CheckpointError(f'{filename}: empty file (0 bytes), not a checkpoint (an interrupted save or copy?)')
    with open(filename, 'rb') as f:
        head = f.read(64)
    if head.startswith(_ZIP_MAGIC):
        try:
            with zipfile.ZipFile(filename) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError) as e:
            raise CheckpointError(f'{filename}: truncated or corrupt checkpoint ({size} bytes): the zip archive '
                                  f'torch.save writes is incomplete ({e}); an interrupted save or download?') from None
        if not any(name == 'data.pkl' or name.endswith('/data.pkl') for name in names):
            raise CheckpointError(f'{filename}: a zip archive, but not a PyTorch checkpoint (no data.pkl in it)')
    elif not head.startswith(_PICKLE_PROTOCOL):
        raise CheckpointError(f'{filename}: not a PyTorch checkpoint: {_describe_start(head)}')


def _load(filename: str, map_location) -> object:
    check_checkpoint_file(filename)
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(
            f'{filename}: refused by safe loading (weights_only=True): it holds objects other than tensors '
            f'and plain containers, possibly code. Load only checkpoints you trust. Detail: {e}') from None
    except (RuntimeError, EOFError, KeyError, ValueError, AttributeError, OSError) as e:
        detail = str(e).strip().splitlines()[0] if str(e).strip() else 'no detail'
        raise CheckpointError(f'{filename}: unreadable checkpoint (torch.load: {type(e).__name__}: {detail}); a '
                              'truncated or corrupt file?') from None


def _state_dict_of(checkpoint, filename: str) -> Dict[str, torch.Tensor]:
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get('state_dict'), dict):
        checkpoint = checkpoint['state_dict']
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f'{filename}: expected a state dict of tensors (optionally under "state_dict"), got '
                              f'{type(checkpoint).__name__}')
    others = [key for key, value in checkpoint.items() if not isinstance(value, torch.Tensor)]
    if others:
        raise CheckpointError(f'{filename}: expected a state dict of tensors (optionally under "state_dict"), but '
                              f'{len(others)} entries are not tensors: {summarize_keys(map(str, others), 5)}')
    if not checkpoint:
        raise CheckpointError(f'{filename}: the state dict is empty (no tensors)')
    if all(key.startswith('module.') for key in checkpoint):
        checkpoint = OrderedDict((key[len('module.'):], value) for key, value in checkpoint.items())
    return checkpoint


def _floating(tensor: torch.Tensor) -> bool:
    return tensor.is_floating_point() or tensor.is_complex()


def check_weights(state: Mapping[str, torch.Tensor], source: str,
                  expected: Optional[Mapping[str, torch.Tensor]] = None) -> None:
    """Refuse tensors that would load silently wrong: NaN or infinite values, and integer or bool tensors where
    floats belong (``load_state_dict`` would cast them: small float weights stored as integers become 0).

    Floats belong where ``expected`` (the state dict of the module it is loaded into) has a floating tensor, and
    keys ``expected`` lacks are not type-checked (they are not loaded); without ``expected``, everywhere but the
    :data:`INTEGER_BUFFERS`.

    Raises:
        CheckpointError: naming ``source`` and the keys (the first few and how many).
    """
    def float_expected(key: str) -> bool:
        if expected is None:
            return key.rsplit('.', 1)[-1] not in INTEGER_BUFFERS
        return key in expected and _floating(expected[key])

    not_float = {key: value.dtype for key, value in state.items() if not _floating(value) and float_expected(key)}
    if not_float:
        dtypes = sorted({str(dtype).replace('torch.', '') for dtype in not_float.values()})
        raise CheckpointError(
            f'{source}: {len(not_float)} weight tensors are {"/".join(dtypes)} where floats belong (loading would '
            f'cast them, silently): {summarize_keys(not_float, 5)}')
    not_finite = [key for key, value in state.items() if _floating(value) and not bool(torch.isfinite(value).all())]
    if not_finite:
        raise CheckpointError(f'{source}: {len(not_finite)} tensors hold NaN or infinite values (a diverged or '
                              f'corrupted run?): {summarize_keys(not_finite, 5)}')


def read_state_dict(filename: Union[str, os.PathLike], map_location: str = 'cpu') -> Dict[str, torch.Tensor]:
    """Read a checkpoint's state dict with ``weights_only=True`` and check it (:func:`check_checkpoint_file`,
    :func:`check_weights`).

    Unwraps a ``state_dict`` entry (mmengine and many trainers) and strips a ``module.`` prefix (DataParallel).
    Local files are read with ``torch.load(..., weights_only=True)``; other schemes (``http://``, ...) go through
    mmengine's loaders, which on torch >= 2.6 load with ``weights_only=True`` too.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: the file is not a usable checkpoint; the message names it and says why.
    """
    filename = os.fspath(filename)
    if '://' in filename:
        checkpoint = CheckpointLoader.load_checkpoint(filename, map_location=map_location)
    else:
        checkpoint = _load(filename, map_location)
    state = _state_dict_of(checkpoint, filename)
    check_weights(state, filename)
    return state


def save_state_dict(state: Mapping[str, torch.Tensor], path: Union[str, os.PathLike], overwrite: bool = False,
                    meta: Optional[dict] = None) -> None:
    """Write ``{'state_dict': state, 'meta': meta}`` to ``path`` atomically; an existing file is an error unless
    ``overwrite``. :func:`read_state_dict` and mmengine read it back."""
    obj = {'state_dict': OrderedDict(state), 'meta': meta or {}}
    write_atomically(os.fspath(path), lambda tmp: torch.save(obj, tmp), overwrite)
