"""The coarse-branch atlas (one conv over the pooled maps side by side) gives the SA block's values and gradients,
and runs where it is meant to: in compiled graphs (the trainable block's and the fast path's), not in the plain eager
block, the fast path's eager inference or an exported graph."""
import contextlib
import copy

import pytest
import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmdet_scalenet import ScaleNet
from mmdet_scalenet.deploy import fuse_scalenet
from mmdet_scalenet.models.atlas import atlas_keys, atlas_macs, eager_atlas, pack, run_atlas, unpack
from mmdet_scalenet.models.bottleneck import SABottleneck

# Odd sizes (bilinear branches, floor pooling leaving rows and columns out; 21x9's factor-7 map, 3x1, is nearest) and
# a whole multiple (28x28: every branch nearest).
SIZES = [(13, 17), (21, 9), (33, 47), (28, 28)]


def block_pair(randomised, branch_channels=(4, 5, 6, 7), side=56, dilation=1, seed=0):
    block = SABottleneck(16, 8, branch_channels=branch_channels, side=side, dilation=dilation,
                         downsample=nn.Conv2d(16, 32, 1, bias=False))
    return randomised(block, seed=seed).double()


def set_mode(block, mode):
    """``eval``; ``train-norm_eval``: training with the BatchNorms in eval mode (mmdet's detectors); ``train-bn``:
    training-mode BatchNorm (batch statistics, running statistics updated)."""
    block.train(mode != 'eval')
    if mode == 'train-norm_eval':
        for m in block.modules():
            if isinstance(m, _BatchNorm):
                m.eval()
    return block


def run(block, x, mode, atlas):
    """The block's output and, in training, the gradients of a weighted sum w.r.t. the input and every parameter."""
    x = x.clone().requires_grad_(mode != 'eval')
    block.zero_grad(set_to_none=True)
    with eager_atlas() if atlas else contextlib.nullcontext(), torch.set_grad_enabled(mode != 'eval'):
        out = block(x)
    if mode == 'eval':
        return out, {}
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(5), dtype=out.dtype)
    (out * weights).sum().backward()
    grads = {name: p.grad for name, p in block.named_parameters()}
    return out, dict(grads, input=x.grad)


def assert_same(actual, expected):
    torch.testing.assert_close(actual, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize('mode', ['eval', 'train-norm_eval', 'train-bn'])
@pytest.mark.parametrize('size', SIZES, ids=[f'{h}x{w}' for h, w in SIZES])
def test_atlas_block_equals_branches_apart(randomised, mode, size):
    apart = set_mode(block_pair(randomised), mode)
    atlas = copy.deepcopy(apart)
    assert atlas.atlas_keys == ('1', '2', '3')
    x = torch.randn(2, 16, *size, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    out_apart, grads_apart = run(apart, x, mode, atlas=False)
    out_atlas, grads_atlas = run(atlas, x, mode, atlas=True)
    assert_same(out_atlas, out_apart)
    assert grads_atlas.keys() == grads_apart.keys()
    for name, grad in grads_apart.items():
        assert grad is not None, name
        assert_same(grads_atlas[name], grad)
    if mode == 'train-bn':  # each branch's BatchNorm saw its own map only: the same running statistics
        for buffer, other in zip(apart.buffers(), atlas.buffers()):
            assert_same(other, buffer)


@pytest.mark.parametrize('branch_channels,side,dilation,keys', [
    ((4, 5, 6, 7), 56, 2, ('1', '2', '3')),  # dilation 2: gaps of 2 columns
    ((4, 0, 6, 7), 56, 1, ('2', '3')),  # the factor-2 branch missing
    ((0, 5, 0, 7), 56, 1, ('1', '3')),
    ((4, 5, 6, 7), 7, 1, ('1', '2')),  # stage 4: the factor-7 branch is 1x1, the others 3x3
    ((4, 5, 6, 7), 2, 1, ('1', '2', '3')),  # 1x1 coarse branches: no gap
], ids=['dilation-2', 'no-factor-2', 'factors-2-and-7', 'stage-4-kernels', '1x1'])
def test_atlas_layouts_are_exact(randomised, branch_channels, side, dilation, keys):
    apart = set_mode(block_pair(randomised, branch_channels, side, dilation, seed=2), 'train-norm_eval')
    atlas = copy.deepcopy(apart)
    assert atlas.atlas_keys == keys
    for size in ((21, 9), (28, 28)):
        x = torch.randn(1, 16, *size, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
        out_apart, grads_apart = run(apart, x, 'train-norm_eval', atlas=False)
        out_atlas, grads_atlas = run(atlas, x, 'train-norm_eval', atlas=True)
        assert_same(out_atlas, out_apart)
        for name, grad in grads_apart.items():
            assert_same(grads_atlas[name], grad)


def test_only_plain_coarse_convs_that_share_a_kernel_form_an_atlas():
    conv = nn.Conv2d(4, 4, 3, padding=1, bias=False)
    factors = {'0': 1, '1': 2, '2': 4, '3': 7}
    convs = {'0': conv, '1': conv, '2': conv, '3': nn.Conv2d(4, 4, 1)}
    assert atlas_keys(convs, factors) == ('1', '2')  # the factor-1 branch is not coarse; the 1x1 one differs
    assert atlas_keys(dict(convs, **{'2': nn.Conv2d(4, 4, 3, padding=2, dilation=2)}), factors) == ()
    assert atlas_keys(dict(convs, **{'2': nn.Conv2d(4, 4, 3, padding=1, stride=2)}), factors) == ()
    assert atlas_keys(dict(convs, **{'2': nn.Conv2d(4, 4, 3, padding=0)}), factors) == ()  # not 'same'

    class Deformable(nn.Conv2d):  # anything but a plain nn.Conv2d runs its own forward
        pass

    assert atlas_keys(dict(convs, **{'2': Deformable(4, 4, 3, padding=1)}), factors) == ()
    # keys come finest factor first whatever the branch order
    assert atlas_keys({'a': conv, 'b': conv}, {'a': 7, 'b': 2}) == ('b', 'a')


def test_pack_separates_tiles_by_zero_gaps_and_unpack_returns_them():
    tiles = [torch.full((1, 2, 4, 5), 1.0), torch.full((1, 2, 2, 2), 2.0), torch.full((1, 2, 1, 1), 3.0)]
    atlas = pack(tiles, gap=2)
    assert atlas.shape == (1, 2, 4, 5 + 2 + 2 + 2 + 1)
    expected = torch.zeros(4, 12)
    expected[:, :5], expected[:2, 7:9], expected[:1, 11:] = 1, 2, 3
    assert torch.equal(atlas[0, 0], expected)
    # an identity conv: every tile's channels come back over its own tile
    outs = unpack(torch.cat([atlas, 10 + atlas]), tiles, (1, 1, 0), gap=2)
    assert [o.shape for o in outs] == [(2, 1, 4, 5), (2, 1, 2, 2), (2, 0, 1, 1)]
    assert torch.equal(outs[0][0], tiles[0][:, :1][0]) and torch.equal(outs[1][1], 10 + tiles[1][0, 1:])


def test_run_atlas_equals_each_conv_on_its_own_tile():
    generator = torch.Generator().manual_seed(0)
    convs = [nn.Conv2d(3, c, 3, padding=2, dilation=2).double() for c in (4, 2, 5)]
    tiles = [torch.randn(2, 3, h, w, generator=generator, dtype=torch.float64) for h, w in ((9, 6), (4, 3), (1, 2))]
    weight, bias = torch.cat([c.weight for c in convs]), torch.cat([c.bias for c in convs])
    outs = run_atlas(tiles, lambda a: nn.functional.conv2d(a, weight, bias, padding=2, dilation=2), (4, 2, 5), gap=2)
    for out, conv, tile in zip(outs, convs, tiles):
        assert_same(out, conv(tile))


def test_atlas_macs_count_every_channel_over_the_whole_atlas():
    # tiles 7x7, 3x3, 2x2 (stage 3 at 224x224) side by side with gaps of 1: 7 x 14
    assert atlas_macs([(7, 7), (3, 3), (2, 2)], [10, 20, 30], 8, 3, 1) == (
        9 * 8 * (10 * 49 + 20 * 9 + 30 * 4), 9 * 8 * 60 * 7 * 14)


def test_the_atlas_runs_in_compiled_graphs_and_the_plain_eager_block_runs_its_branches_apart(randomised,
                                                                                              monkeypatch):
    """The eager block keeps the separate convs' numerics (no atlas unless asked), in eval and training; a compiled
    graph (and the fast path's, compiled) runs the atlas; the fast path in eager runs none (slower on CPU)."""
    block = block_pair(randomised)
    fused = fuse_scalenet(randomised(ScaleNet(depth=50, structure='scalenet50_light', init_cfg=None))).layer1[0]
    assert block.atlas() is None and fused.atlas() is None
    with eager_atlas():
        assert block.atlas().keys == ('1', '2', '3')
    block.train()
    assert block.atlas() is None
    monkeypatch.setattr(torch.compiler, 'is_compiling', lambda: True)
    assert block.atlas().keys == ('1', '2', '3') and fused.atlas().keys == ('1', '2', '3')
    monkeypatch.setattr(torch.compiler, 'is_exporting', lambda: True)  # ONNX runtimes run the branches in parallel
    assert fused.atlas() is None


def test_fast_path_with_every_atlas_on_equals_the_eval_model(randomised, assert_close):
    model = randomised(ScaleNet(depth=50, structure='scalenet50_light', init_cfg=None), seed=4)
    fused = fuse_scalenet(model)
    blocks = [b for name in fused.res_layers for b in getattr(fused, name)]
    for block in blocks:
        block.eager_atlas = True
    assert all(block.atlas() is not None for block in blocks)
    for size in ((97, 131), (224, 224)):
        x = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(2))
        with torch.no_grad():
            for stage, (a, e) in enumerate(zip(fused(x), model(x))):
                assert_close(a, e, f'stage {stage + 1} at {size}')
