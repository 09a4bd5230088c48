"""Atomic output files: written beside their target under a temporary name, then renamed into place, so a failed
write never leaves a partial file. Temporary files are created with the process umask (unlike ``tempfile.mkstemp``,
whose 0600 would carry over to the output). Imports no torch, like :mod:`mmdet_scalenet.structure`."""
import os
import uuid
from typing import Callable

__all__ = ['check_writable', 'temp_beside', 'write_atomically']


def check_writable(path: str, overwrite: bool) -> None:
    """Raise if ``path`` exists (unless ``overwrite``) or its directory does not."""
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f'{path}: exists; pass overwrite=True (--overwrite) to replace it')
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f'{path}: directory {directory} does not exist')


def temp_beside(path: str, suffix: str = '.tmp') -> str:
    """Create an empty, new file beside ``path`` (hidden name, ``suffix``) and return its name."""
    directory, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(directory, f'.{name}.{uuid.uuid4().hex[:12]}{suffix}')
    with open(tmp, 'xb'):
        pass
    return tmp


def write_atomically(path: str, write: Callable[[str], None], overwrite: bool = False, suffix: str = '.tmp') -> None:
    """Check ``path`` (:func:`check_writable`), call ``write(tmp)`` on a temporary file beside it, then rename
    the temporary file to ``path``; on any failure the temporary file is removed and ``path`` is untouched."""
    check_writable(path, overwrite)
    tmp = temp_beside(path, suffix)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
