"""Seed structures: planes neurons at every scale, any depth, configurable scales; the backbone builds from them."""
import pytest

from mmdet_scalenet import ScaleNet, StructureError, load_structure, save_structure
from mmdet_scalenet.allocation import seed_structure
from mmdet_scalenet.structure import STAGE_BLOCKS, STAGE_PLANES, STAGE_SIDES


@pytest.mark.parametrize('depth', sorted(STAGE_BLOCKS))
def test_every_block_gets_planes_neurons_per_scale(depth):
    structure = seed_structure(depth)
    assert structure.depth == depth and structure.name == f'scalenet{depth}_seed'
    assert structure.scale_factors == (1, 2, 4, 7)
    for stage in range(4):
        rows = structure.stage(stage)
        assert len(rows) == STAGE_BLOCKS[depth][stage]
        assert all(channels == (STAGE_PLANES[stage], ) * 4 and side == STAGE_SIDES[stage] for channels, side in rows)


def test_scale_factors_are_configurable_and_the_backbone_builds():
    structure = seed_structure(50, scale_factors=(1, 2, 4))
    assert structure.blocks[0] == (64, 64, 64) and structure.blocks[-1] == (512, 512, 512)
    model = ScaleNet(depth=50, structure=structure)
    block = model.layer4[2]
    assert sorted(block.conv2) == ['0', '1', '2']
    assert [tuple(block.conv2[k].weight.shape) for k in '012'] == [(512, 512, 3, 3)] * 3
    assert block.conv3.weight.shape[1] == 3 * 512


def test_default_seed_builds_with_a_1x1_coarsest_branch_in_stage_4():
    model = ScaleNet(depth=50, structure=seed_structure(50))
    assert tuple(model.layer4[0].conv2['3'].weight.shape) == (512, 512, 1, 1)
    assert tuple(model.layer3[0].conv2['3'].weight.shape) == (256, 256, 3, 3)


def test_round_trip_through_a_file(tmp_path):
    structure = seed_structure(101, scale_factors=(1, 2, 3, 5, 8))
    save_structure(structure, tmp_path / 'seed.json')
    assert load_structure(str(tmp_path / 'seed.json')) == structure


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r'depth must be one of \[50, 101, 152\], got 34'):
        seed_structure(34)
    with pytest.raises(StructureError, match='scale_factors.*distinct positive integers'):
        seed_structure(50, scale_factors=(1, 2, 2))


@pytest.mark.parametrize('depth', sorted(STAGE_BLOCKS))
def test_seed_structures_load_by_name(depth):
    assert load_structure(f'scalenet{depth}_seed') == seed_structure(depth)
    assert load_structure(f'scalenet{depth}_seed', depth=depth).depth == depth


def test_a_config_selects_the_seed_by_name():
    model = ScaleNet(depth=50, structure='scalenet50_seed')
    assert sorted(model.layer1[0].conv2) == ['0', '1', '2', '3']
    assert model.layer1[0].conv3.weight.shape[1] == 4 * 64
    with pytest.raises(StructureError, match=r"structure 'scalenet50_seed': field \"depth\": expected 101, got 50"):
        ScaleNet(depth=101, structure='scalenet50_seed')
