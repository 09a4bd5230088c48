"""Shared fixtures: a depth-50 seed network's state dict with hand-set BN gammas, and the two tools."""
import importlib.util
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from mmdet_scalenet import ScaleNet
from mmdet_scalenet.allocation import seed_structure

TOOLS = Path(__file__).resolve().parents[2] / 'tools'


def hand_set_gammas(state, seed=0):
    """A shallow copy of ``state`` whose branch-BN gammas are set by hand: values in [-1, 1] with two decimals,
    so many neurons tie (also +x against -x), and every block differs."""
    generator = torch.Generator().manual_seed(seed)
    out = OrderedDict(state)
    for key, value in state.items():
        if '.bn2.' in key and key.endswith('.weight'):
            out[key] = torch.round((torch.rand(value.shape, generator=generator) * 2 - 1) * 100) / 100
    return out


@pytest.fixture(scope='session')
def seed50_state():
    """The state dict of a depth-50 seed ScaleNet (64/128/256/512 neurons at each of the 4 scales) with random
    weights, random BN statistics and hand-set branch gammas. Treat as read-only: copy before changing."""
    torch.manual_seed(0)
    model = ScaleNet(depth=50, structure=seed_structure(50))
    state = OrderedDict(model.state_dict())
    generator = torch.Generator().manual_seed(1)
    for key, value in state.items():
        if key.endswith('running_mean'):
            state[key] = torch.randn(value.shape, generator=generator) * 0.1
        elif key.endswith('running_var'):
            state[key] = torch.rand(value.shape, generator=generator) + 0.5
        elif key.endswith('.bias') and value.dim() == 1:
            state[key] = torch.randn(value.shape, generator=generator) * 0.1
    return hand_set_gammas(state)


@pytest.fixture(scope='session')
def seed50_file(tmp_path_factory, seed50_state):
    """``seed50_state`` saved as the authors' classifier layout (plus ``fc.*``), wrapped like mmengine does."""
    path = tmp_path_factory.mktemp('seed') / 'seed50.pth'
    state = OrderedDict(seed50_state)
    state['fc.weight'] = torch.zeros(1000, 2048)
    state['fc.bias'] = torch.zeros(1000)
    torch.save({'state_dict': state, 'meta': {'epoch': 100}}, path)
    return path


def _load_tool(name):
    spec = importlib.util.spec_from_file_location(f'tools_{name}', TOOLS / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='session')
def allocate_tool():
    return _load_tool('allocate_neurons')


@pytest.fixture(scope='session')
def plot_tool():
    return _load_tool('plot_structure')
