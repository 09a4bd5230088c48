"""State dicts written atomically and read back safely; files that are not usable checkpoints named with why."""
import os
import re
import zipfile
from collections import OrderedDict

import pytest
import torch

from mmdet_scalenet import CheckpointError
from mmdet_scalenet.utils import checkpoint as checkpoint_module
from mmdet_scalenet.utils.checkpoint import check_weights, read_state_dict, save_state_dict


def test_weights_round_trip_and_refuse_to_overwrite(tmp_path):
    state = OrderedDict(a=torch.arange(3.0))
    path = tmp_path / 'w.pth'
    save_state_dict(state, path, meta={'mode': 'block-flops'})
    assert torch.equal(read_state_dict(str(path))['a'], state['a'])
    assert torch.load(path, weights_only=True)['meta'] == {'mode': 'block-flops'}
    with pytest.raises(FileExistsError, match=re.escape(f'{path}: exists; pass overwrite=True')):
        save_state_dict(OrderedDict(b=torch.zeros(1)), path)
    assert list(read_state_dict(str(path))) == ['a']
    save_state_dict(OrderedDict(b=torch.zeros(1)), path, overwrite=True)
    assert list(read_state_dict(str(path))) == ['b']


def test_a_failed_write_leaves_no_file(tmp_path, monkeypatch):
    def broken_save(obj, f):
        with open(f, 'wb') as stream:
            stream.write(b'half')
        raise OSError('disk full')

    monkeypatch.setattr(checkpoint_module.torch, 'save', broken_save)
    with pytest.raises(OSError, match='disk full'):
        save_state_dict(OrderedDict(a=torch.zeros(1)), tmp_path / 'w.pth')
    assert os.listdir(tmp_path) == []


def saved(tmp_path, obj, name='w.pth', **kwargs):
    path = tmp_path / name
    torch.save(obj, path, **kwargs)
    return str(path)


@pytest.mark.parametrize('content, problem', [
    (b'', 'empty file (0 bytes), not a checkpoint'),
    (b'{"name": "scalenet50", "stages": []}\n', 'not a PyTorch checkpoint: it is a text file (it starts with '
                                                  '\'{"name": "scalenet50", "stages": []}\')'),
    (bytes(range(200, 256)), "not a PyTorch checkpoint: it starts with the bytes b'\\xc8\\xc9"),
])
def test_files_that_are_not_checkpoints_are_named_with_what_they_are(tmp_path, content, problem):
    path = tmp_path / 'w.pth'
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=re.escape(f'{path}: {problem}')):
        read_state_dict(path)


def test_a_truncated_checkpoint_is_named_as_such(tmp_path):
    path = saved(tmp_path, OrderedDict(a=torch.randn(1000)))
    data = open(path, 'rb').read()
    for size in (len(data) // 2, len(data) - 1, 10):
        with open(path, 'wb') as f:
            f.write(data[:size])
        with pytest.raises(CheckpointError, match=re.escape(f'{path}: truncated or corrupt checkpoint ({size} bytes)')):
            read_state_dict(path)


def test_a_truncated_legacy_checkpoint_is_named(tmp_path):
    path = saved(tmp_path, OrderedDict(a=torch.randn(1000)), _use_new_zipfile_serialization=False)
    assert torch.equal(read_state_dict(path)['a'], torch.load(path, weights_only=True)['a'])  # the format reads
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match=re.escape(f'{path}: unreadable checkpoint (torch.load: ')):
        read_state_dict(path)


def test_a_directory_or_a_foreign_zip_is_not_a_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match=re.escape(f'{tmp_path}: is a directory, not a checkpoint file')):
        read_state_dict(tmp_path)
    path = tmp_path / 'w.pth'
    with zipfile.ZipFile(path, 'w') as archive:
        archive.writestr('notes.txt', 'hello')
    with pytest.raises(CheckpointError, match=re.escape(f'{path}: a zip archive, but not a PyTorch checkpoint')):
        read_state_dict(path)
    with pytest.raises(FileNotFoundError, match=re.escape(f'{tmp_path / "nowhere.pth"}: checkpoint file not found')):
        read_state_dict(tmp_path / 'nowhere.pth')


def test_a_checkpoint_that_is_not_a_state_dict(tmp_path):
    path = saved(tmp_path, {'state_dict': {'a': torch.zeros(1), 'epoch': 3, 'note': 'x'}})
    with pytest.raises(CheckpointError, match=re.escape(f'{path}: expected a state dict of tensors (optionally under '
                                                        '"state_dict"), but 2 entries are not tensors: epoch, note')):
        read_state_dict(path)
    with pytest.raises(CheckpointError, match=re.escape(f'{path}: the state dict is empty')):
        read_state_dict(saved(tmp_path, {'state_dict': {}}))


def test_non_finite_weights_are_refused_with_their_keys(tmp_path):
    state = OrderedDict((f'layer{i}.weight', torch.ones(4)) for i in range(8))
    for i, value in enumerate((float('nan'), float('inf'), -float('inf'), float('nan'), float('nan'), float('nan'))):
        state[f'layer{i}.weight'][i % 4] = value
    path = saved(tmp_path, {'state_dict': state})
    with pytest.raises(CheckpointError, match=re.escape(
            f'{path}: 6 tensors hold NaN or infinite values (a diverged or corrupted run?): layer0.weight, '
            'layer1.weight, layer2.weight, layer3.weight, layer4.weight ... (+1 more)')):
        read_state_dict(path)


def test_integer_weights_are_refused_but_the_batchnorm_counter_is_not(tmp_path):
    state = OrderedDict([('conv.weight', torch.randn(2, 2)), ('bn.weight', torch.ones(2, dtype=torch.int64)),
                         ('bn.bias', torch.zeros(2, dtype=torch.bool)),
                         ('bn.num_batches_tracked', torch.tensor(7))])
    path = saved(tmp_path, state)
    with pytest.raises(CheckpointError, match=re.escape(
            f'{path}: 2 weight tensors are bool/int64 where floats belong (loading would cast them, silently): '
            'bn.bias, bn.weight')):
        read_state_dict(path)
    del state['bn.weight'], state['bn.bias']
    assert read_state_dict(saved(tmp_path, state))['bn.num_batches_tracked'].item() == 7


def test_the_module_says_where_floats_belong():
    expected = {'w': torch.zeros(2), 'index': torch.zeros(2, dtype=torch.long)}
    check_weights({'w': torch.ones(2), 'index': torch.arange(2), 'extra': torch.arange(2)}, 'x', expected)
    with pytest.raises(CheckpointError, match=re.escape('x: 1 weight tensors are int32 where floats belong')):
        check_weights({'w': torch.ones(2, dtype=torch.int32)}, 'x', expected)


class Custom:
    """A class of this module: safe loading refuses to import it."""


def test_pickles_with_code_are_a_checkpoint_error(tmp_path):
    path = saved(tmp_path, {'state_dict': {'a': torch.zeros(1)}, 'extra': Custom()})
    with pytest.raises(CheckpointError, match=re.escape(f'{path}: refused by safe loading (weights_only=True)')):
        read_state_dict(path)
