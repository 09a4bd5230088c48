"""Atomic output files: written beside their target under a temporary name, then renamed into place, so a failed
write never leaves a partial file. Temporary files are created with the process umask (unlike ``tempfile.mkstemp``,
whose 0600 would carry over to the output). Imports no torch, like :mod:`mmdet_scalenet.structure`.

A temporary is named ``.<target name>.tmp-<pid>-<12 hex digits>[suffix]``: the process that writes it is in the
name, so a later write to the same target removes the ones whose process is gone (killed mid-write) and leaves
those of a write still running alone (:func:`remove_stale_temps`). Process ids are those of this machine: on a
folder that several machines write at once, another machine's running write can look stale.
"""
import json
import os
import re
import shutil
import uuid
from typing import Callable, Iterable, List, Optional

__all__ = [
    'check_writable', 'remove_stale_temps', 'same_file', 'sync_to_disk', 'temp_beside', 'write_atomically',
    'write_folder_atomically'
]


def same_file(a: str, b: str) -> bool:
    """Whether paths ``a`` and ``b`` name the same file: the same inode if both exist (hard and symbolic links
    included), else the same real path."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return os.path.realpath(a) == os.path.realpath(b)


def check_writable(path: str, overwrite: bool, inputs: Iterable[Optional[str]] = ()) -> None:
    """Raise unless ``path`` can take a new file: it must not be a directory, one of ``inputs`` (the files the
    output is made from; refused even with ``overwrite``), an existing file (unless ``overwrite``), and its directory
    must exist and be writable."""
    for source in inputs:
        if source and '://' not in source and same_file(path, source):
            raise shutil.SameFileError(f'{path}: is also an input ({source}); writing it would destroy that input, '
                                       'so choose another output file')
    if os.path.isdir(path):
        raise IsADirectoryError(f'{path}: is a directory; expected a file name')
    if os.path.lexists(path) and not overwrite:
        raise FileExistsError(f'{path}: exists; pass overwrite=True (--overwrite) to replace it')
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f'{path}: directory {directory} does not exist')
    if not os.access(directory, os.W_OK | os.X_OK):
        raise PermissionError(f'{path}: directory {directory} is not writable')


def _temp_pattern(name: str) -> 're.Pattern':
    """The names :func:`temp_beside` gives the temporaries of a target called ``name``; group 1 is the pid."""
    return re.compile(rf'\.{re.escape(name)}\.tmp-(\d+)-[0-9a-f]{{12}}(?:\.[A-Za-z0-9_]+)*')


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    except (OverflowError, ValueError):
        return False
    return True


def remove_stale_temps(path: str) -> List[str]:
    """Remove the temporaries of target ``path`` (files or folders named by :func:`temp_beside`) whose writing
    process is no longer running; return their paths. A missing directory has none."""
    directory, name = os.path.split(os.path.abspath(path))
    pattern = _temp_pattern(name)
    try:
        entries = os.listdir(directory)
    except OSError:
        return []
    removed = []
    for entry in entries:
        match = pattern.fullmatch(entry)
        if not match or _running(int(match.group(1))):
            continue
        stale = os.path.join(directory, entry)
        try:
            if os.path.isdir(stale) and not os.path.islink(stale):
                shutil.rmtree(stale)
            else:
                os.unlink(stale)
        except FileNotFoundError:  # another process cleaned it first
            continue
        removed.append(stale)
    return removed


def temp_beside(path: str, suffix: str = '', folder: bool = False) -> str:
    """Create an empty, new file (or ``folder``) beside ``path`` under a hidden temporary name ending in ``suffix``
    and return its name, after removing the temporaries a killed earlier write to ``path`` left
    (:func:`remove_stale_temps`)."""
    remove_stale_temps(path)
    directory, name = os.path.split(os.path.abspath(path))
    tmp = os.path.join(directory, f'.{name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:12]}{suffix}')
    if folder:
        os.mkdir(tmp)
    else:
        with open(tmp, 'xb'):
            pass
    return tmp


def write_atomically(path: str, write: Callable[[str], None], overwrite: bool = False, suffix: str = '',
                     inputs: Iterable[Optional[str]] = ()) -> None:
    """Check ``path`` (:func:`check_writable`, with the ``inputs`` it must not replace), call ``write(tmp)`` on a
    temporary file beside it (:func:`temp_beside`), then rename the temporary file to ``path``; on any failure the
    temporary file is removed and ``path`` is untouched."""
    check_writable(path, overwrite, inputs)
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
    in a temporary sibling of ``out_dir`` (:func:`temp_beside`), then rename it into place: an interrupted run
    leaves nothing half-written, and the next run removes what it left.

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
    parent = os.path.dirname(os.path.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = temp_beside(out_dir, folder=True)
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


def sync_to_disk(path: str) -> None:
    """Flush ``path`` to disk: a file's data, or a directory's entries (the name a rename just gave). Together with
    :func:`write_atomically` this makes a file survive a power loss, not only a killed process."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
