"""Atomic output files: written beside their target under a temporary name, then renamed into place, so a failed
write never leaves a partial file. Temporary files are created with the process umask (unlike ``tempfile.mkstemp``,
whose 0600 would carry over to the output). Imports no torch, like :mod:`mmdet_scalenet.structure`."""
import json
import os
import shutil
import tempfile
import uuid
from typing import Callable

__all__ = ['check_writable', 'temp_beside', 'write_atomically', 'write_folder_atomically']


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


def write_folder_atomically(out_dir: str, marker: str, overwrite: bool, write: Callable[[str], dict],
                        what: str) -> None:
    """Build a data set folder with ``write(tmp)`` (which returns the generation parameters, saved as ``marker``)
    in a temporary sibling of ``out_dir``, then rename it into place: an interrupted run leaves nothing half-written.

    An existing ``out_dir`` is replaced only with ``overwrite=True``, and only if it is empty or holds ``marker``
    (an earlier data set of the same generator): any other folder is left alone (``FileExistsError``).
    """
    if os.path.lexists(out_dir):
        if not overwrite:
            raise FileExistsError(f'{out_dir}: exists; pass overwrite=True to replace it')
        replaceable = os.path.isdir(out_dir) and (not os.listdir(out_dir)
                                                  or os.path.isfile(os.path.join(out_dir, marker)))
        if not replaceable:
            raise FileExistsError(f'{out_dir}: exists and does not look like a {what} data set (not an empty '
                                  f'folder, no {marker}), so it is left alone; remove it yourself or choose another '
                                  f'folder')
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='.' + os.path.basename(out_dir) + '.', dir=parent)
    try:
        params = write(tmp)
        with open(os.path.join(tmp, marker), 'w') as f:
            json.dump(params, f, indent=1)
        if os.path.exists(out_dir):
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
