"""What several test modules share: released-layout weights, a trained-looking seed network, the tools as modules,
and two checks."""
import importlib.util
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmdet_scalenet import ScaleNet, load_structure
from mmdet_scalenet.structure import seed_structure

ROOT = Path(__file__).resolve().parents[1]
#: The structure of the ``authors_state`` fixture: the authors' smallest, so that tests run fast.
LIGHT = 'scalenet50_light'


@pytest.fixture(scope='session')
def authors_state():
    """A state dict in the authors' classifier layout for ``scalenet50_light``: the backbone's keys plus ``fc.*``,
    random values. Treat as read-only."""
    torch.manual_seed(0)
    source = ScaleNet(depth=50, structure=LIGHT)
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


@pytest.fixture(scope='session')
def load_tool():
    """``load_tool(name)``: the script ``tools/<name>.py`` imported as a module (to call its ``main(argv)``)."""

    def load(name):
        spec = importlib.util.spec_from_file_location(f'tools_{name}', ROOT / 'tools' / f'{name}.py')
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


def _assert_close(actual, expected, name, tolerance=1e-4):
    assert actual.shape == expected.shape, f'{name}: shape {tuple(actual.shape)}, expected {tuple(expected.shape)}'
    scale = max(1.0, expected.abs().max().item())
    error = (actual - expected).abs().max().item()
    assert error <= tolerance * scale, f'{name}: max abs error {error:.3g} (scale {scale:.3g})'


@pytest.fixture(scope='session')
def assert_close():
    """``assert_close(actual, expected, name, tolerance=1e-4)``: max abs error at most ``tolerance`` times
    ``max(1, max |expected|)``: relative for large outputs, absolute for small ones."""
    return _assert_close


#: Share of each BatchNorm's channels that ``randomised`` gives a running variance near 0 (and, separately, a gamma
#: near 0): trained networks have such channels (filters that barely respond, channels switched off), and they are
#: where a dropped eps or a misplaced statistic shows (at variance 1e-4, eps = 1e-5 moves the scale by 5%).
NEAR_ZERO_SHARE = 0.05


def _randomised(model, seed=0):
    """Random conv weights, and BatchNorm statistics and affine parameters like a trained network's, so that every
    BN matters and eps, folding and ordering bugs show:

    * running means far from 0 (uniform in [-3, 3]), with betas that cancel them (``beta = mean * gamma /
      sqrt(var + eps)`` plus noise in [-0.2, 0.2], as training makes them), so activations stay of order 1 and a
      dropped or mis-scaled mean is an error of order 1;
    * running variances in [0.5, 2], except ``NEAR_ZERO_SHARE`` of the channels (at least one) at 1e-4, whose gammas
      are scaled by 0.01 so their gain ``gamma / sqrt(var + eps)`` stays of order 1;
    * gammas in [0.5, 1] (times 0.3 in ``bn3``, keeping the residual stream bounded over 50 blocks), except another
      ``NEAR_ZERO_SHARE`` of the channels with gammas in [-1e-3, 1e-3].
    """
    generator = torch.Generator().manual_seed(seed)

    def uniform(n, low, high):
        return torch.rand(n, generator=generator, dtype=torch.float64) * (high - low) + low

    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            fan_out = m.out_channels * m.kernel_size[0] * m.kernel_size[1]
            m.weight.data = torch.randn(m.weight.shape, generator=generator) * (2.0 / fan_out) ** 0.5
        elif isinstance(m, _BatchNorm):
            n = m.num_features
            mean, var, gamma = uniform(n, -3.0, 3.0), uniform(n, 0.5, 2.0), uniform(n, 0.5, 1.0)
            order = torch.randperm(n, generator=generator)
            k = max(1, round(NEAR_ZERO_SHARE * n))
            var[order[:k]] = 1e-4
            gamma[order[:k]] *= 0.01
            gamma[order[k:2 * k]] = uniform(len(order[k:2 * k]), -1e-3, 1e-3)
            if name.endswith('bn3'):
                gamma *= 0.3
            m.running_mean.copy_(mean)
            m.running_var.copy_(var)
            if m.affine:
                m.weight.data.copy_(gamma)
                m.bias.data.copy_(mean * gamma / torch.sqrt(var + m.eps) + uniform(n, -0.2, 0.2))
    return model.eval()


@pytest.fixture(scope='session')
def randomised():
    """``randomised(model, seed=0)``: ``model`` in eval mode with random conv weights and trained-like BatchNorm
    statistics (running variances and gammas near 0 on some channels, means far from 0)."""
    return _randomised


@pytest.fixture(scope='session')
def reference_and_model(randomised):
    """``reference_and_model(name, depth, seed=0)``: the independent reference network
    (``tests/models/reference.py``) with ``randomised`` weights and statistics, and the package's ScaleNet holding
    the same weights; both in eval mode."""
    from .models.reference import ReferenceScaleNet

    def build(name, depth, seed=0):
        reference = randomised(ReferenceScaleNet(depth, load_structure(name).to_rows()), seed=seed)
        model = ScaleNet(depth=depth, structure=name, init_cfg=None)
        model.load_state_dict({k: v for k, v in reference.state_dict().items() if not k.startswith('fc.')})
        return reference, model.eval()

    return build


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
