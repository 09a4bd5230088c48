"""The three-step neuron allocation on a detector (docs/allocation.md): train the seed detector, allocate from its
checkpoint, retrain the allocated detector, all through the project's own tools on a tiny generated data set."""
import pytest
import torch

from mmdet_scalenet import ScaleNet, load_structure
from mmdet_scalenet.allocation import allocate, read_branch_gammas, seed_structure

from ..common import python, run_tool
from .common import DEMO_CONFIG, SEED_CONFIG, TINY_OPTIONS

pytestmark = pytest.mark.slow


def train(config, work_dir, data_root, *options):
    out = run_tool([python(), 'tools/train.py', config, '--work-dir', str(work_dir), '--data-root', data_root,
                    '--cfg-options', *TINY_OPTIONS, 'train_cfg.max_epochs=1', *options])
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return torch.load(work_dir / 'epoch_1.pth', map_location='cpu', weights_only=True)['state_dict']


def branch_widths(state, prefix='backbone.'):
    """Output channels of every branch conv, per block in network order, read from a detector checkpoint."""
    widths = {}
    for key, value in state.items():
        if key.startswith(prefix + 'layer') and '.conv2.' in key and key.endswith('.weight'):
            layer, block, _, branch, _ = key[len(prefix):].split('.')
            widths.setdefault((int(layer[5:]), int(block)), {})[int(branch)] = value.shape[0]
    return [tuple(branches.get(i, 0) for i in range(4)) for _, branches in sorted(widths.items())]


def test_seed_detector_allocate_retrain(tiny_shapes, tmp_path):
    seed = seed_structure(50)
    # 1. the seed detector
    # no warm-up, so that two iterations move the gammas by more than float32's resolution at 1.0
    seed_state = train(SEED_CONFIG, tmp_path / 'seed', tiny_shapes, 'param_scheduler.0.start_factor=1.0')
    assert branch_widths(seed_state) == list(seed.blocks)

    # 2. allocate from the detector checkpoint (its backbone sits under "backbone.")
    structure_file = tmp_path / 'allocated.json'
    out = run_tool([python(), 'tools/allocate_neurons.py', str(tmp_path / 'seed' / 'epoch_1.pth'),
                    '--mode', 'block-flops', '-o', str(structure_file)])
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert 'wrote ' + str(structure_file) in out.stdout
    allocated = load_structure(str(structure_file), depth=50)
    assert allocated.blocks != seed.blocks
    assert all(sum(a) < sum(s) for a, s in zip(allocated.blocks, seed.blocks))
    # data-driven: the trained gammas, not the tie-break order of an untrained seed (every gamma 1), decided it
    untrained = read_branch_gammas(ScaleNet(depth=50, structure=seed).state_dict(), depth=50)
    assert allocate(untrained, 'block-flops').structure.blocks != allocated.blocks

    # 3. retrain the demo detector with the allocated structure, from scratch
    state = train(DEMO_CONFIG, tmp_path / 'allocated', tiny_shapes, f'model.backbone.structure={structure_file}')
    assert branch_widths(state) == list(allocated.blocks)
