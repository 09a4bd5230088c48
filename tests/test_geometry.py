"""The network geometry: block layout and the branch kernel rule."""
import pytest

from mmdet_scalenet import ScaleNet
from mmdet_scalenet.geometry import STAGE_BLOCKS, block_specs, branch_kernel_size, branch_side, stage_inplanes
from mmdet_scalenet.structure import seed_structure


@pytest.mark.parametrize('side,index,kernel', [(56, 3, 3), (28, 3, 3), (14, 3, 3), (7, 3, 1), (7, 2, 3),
                                               (7, 0, 3), (14, 0, 3)])
def test_branch_kernel_size_uses_two_to_the_index(side, index, kernel):
    assert branch_kernel_size(side, index) == kernel


def test_branch_side_floors_and_stops_at_one():
    assert [branch_side(56, f) for f in (1, 2, 4, 7)] == [56, 28, 14, 8]
    assert [branch_side(7, f) for f in (1, 2, 4, 7, 9)] == [7, 3, 1, 1, 1]


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
