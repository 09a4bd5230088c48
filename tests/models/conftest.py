"""Fixtures shared by the model tests: released-layout weights for the -light structure."""
from collections import OrderedDict

import pytest
import torch

from mmdet_scalenet import ScaleNet

#: The structure the model tests use: the authors' smallest, so that tests run fast.
STRUCTURE = 'scalenet50_light'


@pytest.fixture(scope='session')
def authors_state():
    """A state dict in the authors' classifier layout: the backbone's keys plus ``fc.*``, random values."""
    torch.manual_seed(0)
    source = ScaleNet(depth=50, structure=STRUCTURE)
    source.init_weights()
    for p in source.parameters():
        p.data.normal_()
    state = OrderedDict(source.state_dict())
    state['fc.weight'] = torch.randn(1000, 2048)
    state['fc.bias'] = torch.randn(1000)
    return state


@pytest.fixture(scope='session')
def authors_checkpoint(authors_state, tmp_path_factory):
    """``authors_state`` saved as a checkpoint file; returns its path."""
    path = tmp_path_factory.mktemp('released') / 'scalenet50_light.pth'
    torch.save(authors_state, path)
    return str(path)
