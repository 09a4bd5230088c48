"""Atomic files: a failed write leaves nothing, an existing file is kept unless replacing it is asked for."""
import os
import re
import shutil
import signal
import subprocess
import sys

import pytest

from mmdet_scalenet.utils import fileio
from mmdet_scalenet.utils.fileio import check_writable, remove_stale_temps, same_file, write_atomically


def test_writes_into_place_with_the_process_umask(tmp_path):
    path = tmp_path / 'out.txt'
    write_atomically(str(path), lambda tmp: open(tmp, 'w').write('done'))
    assert path.read_text() == 'done'
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert os.listdir(tmp_path) == ['out.txt']


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / 'out.txt'
    path.write_text('old')

    def broken(tmp):
        with open(tmp, 'w') as f:
            f.write('half')
        raise OSError('disk full')

    with pytest.raises(OSError, match='disk full'):
        write_atomically(str(path), broken, overwrite=True)
    assert path.read_text() == 'old'
    assert os.listdir(tmp_path) == ['out.txt']


def test_existing_files_and_missing_folders_are_errors(tmp_path):
    (tmp_path / 'x').write_text('keep')
    with pytest.raises(FileExistsError, match=r'x: exists; pass overwrite=True \(--overwrite\)'):
        check_writable(str(tmp_path / 'x'), overwrite=False)
    check_writable(str(tmp_path / 'x'), overwrite=True)
    with pytest.raises(FileNotFoundError, match='does not exist'):
        check_writable(str(tmp_path / 'no' / 'x'), overwrite=False)


def dead_pid():
    """The id of a process that has exited (ids are reused only after the kernel's pid space wraps)."""
    child = subprocess.Popen([sys.executable, '-c', ''])
    child.wait()
    return child.pid


def test_temporaries_name_their_process_and_stale_ones_are_removed(tmp_path):
    path = tmp_path / 'out.txt'
    pid = dead_pid()
    stale = [tmp_path / f'.out.txt.tmp-{pid}-0123456789ab', tmp_path / f'.out.txt.tmp-{pid}-ba9876543210.json.tmp']
    for file in stale:
        file.write_bytes(b'half')
    stale_folder = tmp_path / f'.out.txt.tmp-{pid}-00000000000a'
    (stale_folder / 'inner').mkdir(parents=True)
    kept = [tmp_path / f'.out.txt.tmp-{os.getppid()}-0123456789ab',  # a write still running
            tmp_path / f'.other.txt.tmp-{pid}-0123456789ab',  # another target's
            tmp_path / '.out.txt.tmp-1x-0123456789ab']  # not a temporary's name
    for file in kept:
        file.write_bytes(b'keep')

    def write(tmp):
        assert re.fullmatch(rf'\.out\.txt\.tmp-{os.getpid()}-[0-9a-f]{{12}}\.txt', os.path.basename(tmp))
        with open(tmp, 'w') as f:
            f.write('done')

    write_atomically(str(path), write, suffix='.txt')
    assert path.read_text() == 'done'
    assert sorted(os.listdir(tmp_path)) == sorted(['out.txt', *(file.name for file in kept)])
    assert remove_stale_temps(str(tmp_path / 'nowhere' / 'x')) == []


def test_a_killed_write_leaves_a_temporary_that_the_next_write_removes(tmp_path):
    path = tmp_path / 'big.bin'
    path.write_bytes(b'previous')
    # the module alone, without the package (which imports torch): a fast child process
    script = ('import importlib.util, sys, time\n'
              f'spec = importlib.util.spec_from_file_location("fileio", {fileio.__file__!r})\n'
              'fileio = importlib.util.module_from_spec(spec); spec.loader.exec_module(fileio)\n'
              'def write(tmp):\n'
              '    open(tmp, "wb").write(b"partial"); print("writing", flush=True); time.sleep(60)\n'
              f'fileio.write_atomically({str(path)!r}, write, overwrite=True)\n')
    child = subprocess.Popen([sys.executable, '-c', script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == 'writing\n'
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    left = [name for name in os.listdir(tmp_path) if name != 'big.bin']
    assert len(left) == 1 and left[0].startswith(f'.big.bin.tmp-{child.pid}-')
    assert path.read_bytes() == b'previous'  # the kill kept the previous file
    write_atomically(str(path), lambda tmp: open(tmp, 'wb').write(b'new'), overwrite=True)
    assert os.listdir(tmp_path) == ['big.bin'] and path.read_bytes() == b'new'


def test_an_output_that_is_an_input_is_refused_even_with_overwrite(tmp_path):
    source = tmp_path / 'seed.pth'
    source.write_bytes(b'weights')
    (tmp_path / 'link.pth').symlink_to(source)
    os.link(source, tmp_path / 'hard.pth')
    for output in (source, tmp_path / 'link.pth', tmp_path / 'hard.pth', tmp_path / '.' / 'seed.pth'):
        with pytest.raises(shutil.SameFileError, match=rf'{re.escape(str(output))}: is also an input \('):
            write_atomically(str(output), lambda tmp: open(tmp, 'w').write('{}'), overwrite=True,
                             inputs=[str(source)])
    assert source.read_bytes() == b'weights'
    # two outputs that do not exist yet, spelled differently
    with pytest.raises(shutil.SameFileError):
        check_writable(str(tmp_path / 'a.json'), overwrite=True, inputs=[str(tmp_path / 'x' / '..' / 'a.json')])
    check_writable(str(tmp_path / 'b.json'), overwrite=False, inputs=[str(source), None, 'http://host/seed.pth'])


def test_a_directory_is_not_an_output_file(tmp_path):
    with pytest.raises(IsADirectoryError, match=f'{re.escape(str(tmp_path))}: is a directory; expected a file'):
        check_writable(str(tmp_path), overwrite=True)
    assert same_file(str(tmp_path), str(tmp_path / '.'))


def test_an_unwritable_folder_is_named(tmp_path, monkeypatch):
    # as root every folder is writable, so the permission check is made to answer no
    monkeypatch.setattr(fileio.os, 'access', lambda path, mode: False)
    with pytest.raises(PermissionError, match=f'x.json: directory {re.escape(str(tmp_path))} is not writable'):
        check_writable(str(tmp_path / 'x.json'), overwrite=False)
