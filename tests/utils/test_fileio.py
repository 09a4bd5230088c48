"""Atomic files: a failed write leaves nothing, an existing file is kept unless replacing it is asked for."""
import os

import pytest

from mmdet_scalenet.utils.fileio import check_writable, write_atomically


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
