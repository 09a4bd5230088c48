"""The SA block's maths (pooling, upsampling, the order of norm and upsample) and the bottleneck's layout."""
import copy

import pytest
import torch

from mmdet_scalenet import ScaleNet, StructureError
from mmdet_scalenet.models.bottleneck import SABottleneck, conv_at_least_kernel
from mmdet_scalenet.models.checks import branch_dcn
from mmdet_scalenet.models.scale_aggregation import downsample_by, norm_relu_upsample, upsample_to
from mmdet_scalenet.structure import Structure


def test_downsample_by_floors_and_clamps_to_the_map():
    x = torch.arange(2 * 15 * 9, dtype=torch.float).reshape(1, 2, 15, 9)
    assert downsample_by(x, 1) is x
    assert downsample_by(x, 4).shape == (1, 2, 3, 2)
    assert downsample_by(x, 7).shape == (1, 2, 2, 1)
    tiny = torch.randn(1, 1, 3, 5)
    out = downsample_by(tiny, 7)
    assert out.shape == (1, 1, 1, 1)
    assert out.item() == tiny.max().item()


def test_upsample_to_nearest_on_whole_multiples_else_bilinear():
    y = torch.randn(1, 1, 2, 3)
    up = upsample_to(y, (4, 6))
    assert torch.equal(up, y.repeat_interleave(2, -2).repeat_interleave(2, -1))
    up = upsample_to(y, (5, 6))
    expected = torch.nn.functional.interpolate(y, size=(5, 6), mode='bilinear', align_corners=False)
    assert torch.equal(up, expected)
    assert upsample_to(y, (2, 3)) is y


def test_zero_channel_branches_do_not_exist():
    block = SABottleneck(64, 64, branch_channels=(10, 0, 6, 0), side=56,
                         downsample=torch.nn.Conv2d(64, 256, 1))
    assert list(block.conv2) == ['0', '2'] and list(block.bn2) == ['0', '2']
    assert block.conv3.in_channels == 16
    keys = [k for k in block.state_dict() if k.startswith(('conv2', 'bn2'))]
    assert 'conv2.2.weight' in keys and not any(k.startswith(('conv2.1', 'conv2.3')) for k in keys)
    assert block.eval()(torch.randn(1, 64, 9, 9)).shape == (1, 256, 9, 9)


def test_stride_two_pools_before_both_paths():
    block = SABottleneck(64, 32, branch_channels=(8, 8, 8, 8), side=28, stride=2,
                         downsample=torch.nn.Conv2d(64, 128, 1)).eval()
    assert block(torch.randn(1, 64, 15, 15)).shape == (1, 128, 7, 7)


def test_bad_block_arguments_are_refused_by_the_builders():
    """The blocks trust their builders: the structure refuses empty blocks and rows of the wrong length, the
    backbone refuses strides other than 1 and 2."""
    blocks = [(16, 16, 16, 16)] * 16
    with pytest.raises(StructureError, match=r'row 5, field "channels": every branch has 0 channels'):
        Structure(depth=50, blocks=blocks[:5] + [(0, 0, 0, 0)] + blocks[6:], name='empty')
    with pytest.raises(StructureError, match=r'row 0\b'):
        Structure(depth=50, blocks=[(1, 2)] + blocks[1:], name='short')
    with pytest.raises(ValueError, match='stride must be 1 or 2'):
        ScaleNet(depth=50, structure='scalenet50_light', strides=(1, 2, 3, 2))


@pytest.mark.parametrize('size', [(1, 1), (2, 5), (3, 3), (6, 4)])
@pytest.mark.parametrize('dilation', [1, 2])
def test_conv_at_least_kernel_pads_exactly(size, dilation):
    conv = torch.nn.Conv2d(4, 5, 3, padding=dilation, dilation=dilation)
    x = torch.randn(2, 4, *size)
    torch.testing.assert_close(conv_at_least_kernel(conv, x), conv(x))


def test_deformable_branches_run_on_maps_smaller_than_their_kernel():
    dcn = branch_dcn(dict(type='DCN', deform_groups=1), conv_cfg=None)  # as the builders resolve it
    block = SABottleneck(64, 16, branch_channels=(4, 4, 4, 4), side=56, dcn=dcn)
    block.init_weights()
    out = block(torch.randn(1, 64, 8, 8))  # the factor-4 and -7 branches see 2x2 and 1x1 maps
    assert out.shape == (1, 64, 8, 8) and torch.isfinite(out).all()


@pytest.mark.parametrize('kind', ['bn-train', 'bn-eval', 'gn', 'gn-one-value-groups'])
@pytest.mark.parametrize('low,size', [((3, 5), (6, 15)), ((1, 1), (7, 7)), ((3, 4), (7, 9))],
                         ids=['nearest', 'nearest-from-1x1', 'bilinear'])
def test_norm_relu_upsample_equals_the_full_resolution_order(kind, low, size):
    """The block normalises (and rectifies) a branch on its small map where that is exact; in float64 it equals
    relu(norm(upsample(y))), running statistics included."""
    channels = 6
    if kind.startswith('bn'):
        norm = torch.nn.BatchNorm2d(channels).double().train(kind == 'bn-train')
        norm.running_var.uniform_(0.5, 2.0)
    else:
        norm = torch.nn.GroupNorm(channels if kind == 'gn-one-value-groups' else 2, channels).double()
    torch.nn.init.uniform_(norm.weight, 0.5, 1.5)
    torch.nn.init.uniform_(norm.bias, -0.5, 0.5)
    reference = copy.deepcopy(norm)
    y = torch.randn(2, channels, *low, dtype=torch.float64, requires_grad=True)
    actual = norm_relu_upsample(norm, y, size)
    expected = torch.relu(reference(upsample_to(y, size)))
    torch.testing.assert_close(actual, expected, rtol=1e-12, atol=1e-12)
    weights = torch.randn_like(expected)
    grad_actual, = torch.autograd.grad((actual * weights).sum(), y)
    grad_expected, = torch.autograd.grad((expected * weights).sum(), y)
    torch.testing.assert_close(grad_actual, grad_expected, rtol=1e-10, atol=1e-10)
    for name, buffer in reference.named_buffers():
        torch.testing.assert_close(getattr(norm, name), buffer, rtol=1e-12, atol=1e-12)
