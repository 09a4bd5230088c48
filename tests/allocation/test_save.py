"""Exported kept weights: the allocated ScaleNet reproduces the seed's branch outputs for the kept channels; files
are written atomically."""
import os
import re
from collections import OrderedDict

import pytest
import torch

from mmdet_scalenet import ScaleNet
from mmdet_scalenet.allocation import (
    AllocationError,
    export_kept_weights,
    read_branch_gammas,
    save_allocation,
    seed_structure,
    select_block_flops,
    select_network_flops,
)
from mmdet_scalenet.allocation import save as save_module
from mmdet_scalenet.models.scale_aggregation import downsample_by, upsample_to


@pytest.fixture(scope='module')
def seed_model(seed50_state):
    model = ScaleNet(depth=50, structure=seed_structure(50))
    model.load_state_dict(seed50_state)
    return model.eval()


@pytest.fixture(scope='module')
def exported(tmp_path_factory, seed50_file, allocate_tool):
    """The tool's network-flops allocation at 3.8 GMACs, with --export-weights, and the allocated ScaleNet."""
    directory = tmp_path_factory.mktemp('exported')
    out, weights = directory / 'alloc.json', directory / 'alloc.pth'
    assert allocate_tool.main([str(seed50_file), '--mode', 'network-flops', '--budget', '3.8', '-o', str(out),
                               '--export-weights', str(weights)]) == 0
    model = ScaleNet(depth=50, structure=str(out), init_cfg=dict(type='Pretrained', checkpoint=str(weights)))
    model.init_weights()  # a strict load: every key of the allocated network, right shapes, nothing left over
    return out, weights, model.eval()


def branch_outputs(block, x):
    """conv1's output and each branch's output (after its norm, before the ReLU), keyed by branch index."""
    if block.stride == 2:
        x = downsample_by(x, 2)
    y = block.relu(block.norm1(block.conv1(x)))
    size = tuple(y.shape[-2:])
    return y, {int(key): block.norm2[key](upsample_to(conv(downsample_by(y, block.scale_factors[int(key)])), size))
               for key, conv in block.conv2.items()}


def blocks(model):
    return [block for name in model.res_layers for block in getattr(model, name)]


@torch.no_grad()
def test_kept_channels_reproduce_the_seed_branch_outputs(seed50_state, seed_model, exported):
    _, _, allocated = exported
    allocation = select_network_flops(read_branch_gammas(seed50_state), 3.8)
    assert allocated.structure.blocks == allocation.structure.blocks
    generator = torch.Generator().manual_seed(2)
    for index, (seed_block, block) in enumerate(zip(blocks(seed_model), blocks(allocated))):
        x = torch.randn(2, seed_block.conv1.in_channels, 14, 14, generator=generator)
        seed_y, seed_branches = branch_outputs(seed_block, x)
        y, branches = branch_outputs(block, x)
        torch.testing.assert_close(y, seed_y, rtol=0, atol=0)
        kept = allocation.kept[index]
        assert sorted(branches) == [i for i, channels in enumerate(kept) if channels]
        for i, out in branches.items():
            torch.testing.assert_close(out, seed_branches[i][:, list(kept[i])], rtol=1e-5, atol=1e-6)


@torch.no_grad()
def test_the_whole_network_equals_the_seed_with_dropped_neurons_silenced(seed50_state, exported):
    """Zeroing a dropped neuron's BN scale and shift makes its output 0 after the ReLU, which is what removing it
    does, so the seed and the allocated network then compute the same features."""
    _, _, allocated = exported
    allocation = select_network_flops(read_branch_gammas(seed50_state), 3.8)
    silenced = OrderedDict(seed50_state)
    names = [f'layer{s + 1}.{j}' for s, n in enumerate((3, 4, 6, 3)) for j in range(n)]
    for name, kept in zip(names, allocation.kept):
        for i, channels in enumerate(kept):
            dropped = sorted(set(range(silenced[f'{name}.bn2.{i}.weight'].numel())) - set(channels))
            for field in ('weight', 'bias'):
                value = silenced[f'{name}.bn2.{i}.{field}'].clone()
                value[dropped] = 0
                silenced[f'{name}.bn2.{i}.{field}'] = value
    seed = ScaleNet(depth=50, structure=seed_structure(50))
    seed.load_state_dict(silenced)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    for seed_out, out in zip(seed.eval()(x), allocated(x)):
        scale = seed_out.abs().max().item()
        assert scale > 0
        torch.testing.assert_close(out, seed_out, rtol=1e-4, atol=1e-5 * scale)


def test_empty_branches_are_dropped_and_conv3_keeps_the_kept_columns(seed50_state):
    state = OrderedDict(seed50_state)
    for i in range(4):
        state[f'layer4.0.bn2.{i}.weight'] = torch.ones(512)
    allocation = select_block_flops(read_branch_gammas(state))
    assert allocation.structure.blocks[13] == (512, 0, 0, 0)   # all tie: branch 0 fills the budget
    out = export_kept_weights(state, allocation)
    assert not [k for k in out if re.match(r'layer4\.0\.(conv2|bn2)\.[123]\.', k)]
    assert torch.equal(out['layer4.0.conv3.weight'], state['layer4.0.conv3.weight'][:, :512])
    assert torch.equal(out['layer4.0.conv2.0.weight'], state['layer4.0.conv2.0.weight'])
    assert out['layer4.0.conv1.weight'] is state['layer4.0.conv1.weight']
    assert out['layer4.0.bn2.0.num_batches_tracked'] is state['layer4.0.bn2.0.num_batches_tracked']


def test_a_detector_keeps_its_prefix_and_its_other_keys(seed50_state):
    plain = export_kept_weights(seed50_state, select_block_flops(read_branch_gammas(seed50_state)))
    detector = OrderedDict((f'backbone.{k}', v) for k, v in seed50_state.items())
    detector['neck.fpn_convs.0.conv.weight'] = torch.randn(256, 256, 3, 3)
    out = export_kept_weights(detector, select_block_flops(read_branch_gammas(detector)))
    assert list(out) == [f'backbone.{k}' for k in plain] + ['neck.fpn_convs.0.conv.weight']
    assert all(torch.equal(out[f'backbone.{k}'], v) for k, v in plain.items())
    assert out['neck.fpn_convs.0.conv.weight'] is detector['neck.fpn_convs.0.conv.weight']


def test_mismatched_tensors_are_named(seed50_state):
    allocation = select_block_flops(read_branch_gammas(seed50_state))
    state = OrderedDict(seed50_state)
    state['layer2.3.conv3.weight'] = torch.zeros(512, 100, 1, 1)
    with pytest.raises(AllocationError, match=re.escape("seed.pth: key 'layer2.3.conv3.weight': expected 512 "
                                                        "input channels (the seed's branches of block layer2.3), "
                                                        "got shape (512, 100, 1, 1)")):
        export_kept_weights(state, allocation, source='seed.pth')
    state = OrderedDict(seed50_state)
    state['layer1.1.bn2.2.running_mean'] = torch.zeros(32)
    with pytest.raises(AllocationError, match=re.escape("key 'layer1.1.bn2.2.running_mean': expected 64 channels "
                                                        "along dim 0 (the seed's branch), got shape (32,)")):
        export_kept_weights(state, allocation)
    state = OrderedDict(seed50_state)
    del state['layer1.2.conv3.weight']
    with pytest.raises(AllocationError, match=re.escape("missing key 'layer1.2.conv3.weight': the conv after the "
                                                        "branches of block layer1.2")):
        export_kept_weights(state, allocation)
    state = OrderedDict(seed50_state)
    del state['layer3.4.conv2.1.weight']
    with pytest.raises(AllocationError, match=re.escape("missing key 'layer3.4.conv2.1.weight': the branch conv of "
                                                        "block layer3.4, branch 1")):
        export_kept_weights(state, allocation)


def test_a_failed_structure_write_leaves_no_weights(tmp_path, monkeypatch, seed50_state):
    allocation = select_block_flops(read_branch_gammas(seed50_state))
    weights = export_kept_weights(seed50_state, allocation)

    def broken_structure(*args, **kwargs):
        raise OSError('structure failed')

    monkeypatch.setattr(save_module, 'save_structure', broken_structure)
    with pytest.raises(OSError, match='structure failed'):
        save_allocation(allocation, tmp_path / 's.json', weights=weights, weights_path=tmp_path / 'w.pth')
    assert os.listdir(tmp_path) == []   # no weights without their structure, no temporary file


def test_save_allocation_checks_both_targets_first(tmp_path, seed50_state):
    allocation = select_block_flops(read_branch_gammas(seed50_state))
    (tmp_path / 'w.pth').write_bytes(b'old')
    with pytest.raises(FileExistsError, match=re.escape(f"{tmp_path / 'w.pth'}: exists")):
        save_allocation(allocation, tmp_path / 's.json', weights={}, weights_path=tmp_path / 'w.pth')
    assert sorted(os.listdir(tmp_path)) == ['w.pth'] and (tmp_path / 'w.pth').read_bytes() == b'old'


def test_save_allocation_arguments(tmp_path, seed50_state):
    allocation = select_block_flops(read_branch_gammas(seed50_state))
    with pytest.raises(ValueError, match='weights and weights_path go together'):
        save_allocation(allocation, tmp_path / 's.json', weights={})
    with pytest.raises(ValueError, match='the structure and the weights need different files'):
        save_allocation(allocation, tmp_path / 's.json', weights={}, weights_path=tmp_path / 's.json')
    with pytest.raises(ValueError, match='layout must be "schema" or "authors", got \'rows\''):
        save_allocation(allocation, tmp_path / 's.json', layout='rows')
    missing = tmp_path / 'no' / 's.json'
    with pytest.raises(FileNotFoundError, match=re.escape(f'{missing}: directory {missing.parent} does not exist')):
        save_allocation(allocation, missing)
    assert os.listdir(tmp_path) == []
