"""The network geometry: block layout, kernel rule, and the analytic MAC counts against the traced ones."""
import pytest

from mmdet_scalenet import ScaleNet, load_structure
from mmdet_scalenet.analysis import classifier_complexity
from mmdet_scalenet.geometry import (
    STAGE_BLOCKS,
    block_specs,
    branch_kernel_size,
    neuron_macs,
    resnet_conv_macs,
    resnet_macs,
    stage_inplanes,
    structure_macs,
    structure_macs_by_part,
)
from mmdet_scalenet.structure import BUILTIN_STRUCTURES, seed_structure


@pytest.mark.parametrize('name', sorted(BUILTIN_STRUCTURES))
def test_analytic_count_equals_classifier_complexity(name):
    structure = load_structure(name)
    traced = classifier_complexity(ScaleNet(depth=structure.depth, structure=structure)).conv_macs
    assert abs(structure_macs(structure) - traced) <= 0.001 * traced


def test_analytic_count_of_a_three_scale_seed_equals_classifier_complexity():
    structure = seed_structure(50, scale_factors=(1, 3, 5))
    traced = classifier_complexity(ScaleNet(depth=50, structure=structure)).conv_macs
    assert abs(structure_macs(structure) - traced) <= 0.001 * traced


def test_parts_add_up_and_stage_one_by_hand():
    structure = load_structure('scalenet50')
    parts = structure_macs_by_part(structure)
    assert sorted(parts) == ['fc', 'stage1', 'stage2', 'stage3', 'stage4', 'stem']
    assert sum(parts.values()) == structure_macs(structure)
    assert parts['stem'] == 3 * 64 * 49 * 112 * 112 and parts['fc'] == 2048 * 1000
    # stage 1: rows [62, 9, 5, 12], [55, 27, 5, 1], [59, 26, 0, 3]; pooled sides 56, 28, 14, 8; all 3x3
    area = 56 * 56
    branch = lambda c: 64 * 9 * (c[0] * 56**2 + c[1] * 28**2 + c[2] * 14**2 + c[3] * 8**2)  # noqa: E731
    rows = [[62, 9, 5, 12], [55, 27, 5, 1], [59, 26, 0, 3]]
    expected = (64 * 64 * area + 64 * 256 * area                       # conv1 + shortcut of block 1
                + 2 * 256 * 64 * area                                  # conv1 of blocks 2, 3
                + sum(branch(r) + sum(r) * 256 * area for r in rows))  # branches + conv3
    assert parts['stage1'] == expected


def test_neuron_costs_by_hand():
    assert neuron_macs(64, 56, 0, 1) == 64 * 9 * 56 * 56
    assert neuron_macs(64, 56, 3, 7) == 64 * 9 * 8 * 8
    assert neuron_macs(256, 14, 2, 4) == 256 * 9 * 3 * 3       # 14 // 4 = 3, 14 / 4 > 1: 3x3
    assert neuron_macs(512, 7, 2, 4) == 512 * 9 * 1 * 1        # 7 // 4 = 1, 7 / 4 > 1: 3x3
    assert neuron_macs(512, 7, 3, 7) == 512                    # 7 / 8 <= 1: 1x1 on a 1x1 map
    assert neuron_macs(512, 7, 1, 9) == 512 * 9                # a factor above the side pools to 1
    assert resnet_conv_macs(128, 28) == 128 * 128 * 9 * 28 * 28


def test_resnet_counts():
    assert abs(resnet_macs(50) / 1e9 - 4.09) <= 0.005        # the paper's 4.1 GFLOPs (Table 2): conv + fc
    assert resnet_macs(50) < resnet_macs(101) < resnet_macs(152)
    assert structure_macs(load_structure('scalenet50')) < resnet_macs(50)


@pytest.mark.parametrize('side,index,kernel', [(56, 3, 3), (28, 3, 3), (14, 3, 3), (7, 3, 1), (7, 2, 3),
                                               (7, 0, 3), (14, 0, 3)])
def test_branch_kernel_size_uses_two_to_the_index(side, index, kernel):
    assert branch_kernel_size(side, index) == kernel


@pytest.mark.parametrize('depth', sorted(STAGE_BLOCKS))
def test_block_specs_follow_the_built_network(depth):
    model = ScaleNet(depth=depth, structure=seed_structure(depth))
    specs = block_specs(depth)
    assert [spec.name for spec in specs] == [f'{name}.{i}' for name in model.res_layers
                                             for i in range(len(getattr(model, name)))]
    for spec in specs:
        block = model.get_submodule(spec.name)
        assert (block.conv1.in_channels, block.conv1.out_channels, block.side) == (spec.inplanes, spec.planes,
                                                                                   spec.side)
    assert [stage_inplanes(s) for s in range(4)] == [64, 256, 512, 1024]
    with pytest.raises(ValueError, match=r'depth must be one of \[50, 101, 152\], got 18'):
        block_specs(18)
