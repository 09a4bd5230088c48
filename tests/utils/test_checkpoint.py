"""State dicts written atomically and read back safely."""
import os
import re
from collections import OrderedDict

import pytest
import torch

from mmdet_scalenet.utils import checkpoint as checkpoint_module
from mmdet_scalenet.utils.checkpoint import read_state_dict, save_state_dict


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
