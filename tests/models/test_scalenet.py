"""mmdet's backbone contract, as mmdet's own ResNet tests check it."""
import pytest
import torch
from mmdet.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm

from mmdet_scalenet import SABottleneck, ScaleNet, StructureError, load_structure


def small(**kwargs):
    kwargs.setdefault('structure', 'scalenet50_light')
    return ScaleNet(depth=50, **kwargs)


def stage_params(model, stage):
    if stage == 0:
        return list(model.conv1.parameters()) + list(model.norm1.parameters())
    return list(getattr(model, f'layer{stage}').parameters())


def stage_norms(model, stage):
    modules = [model.norm1] if stage == 0 else list(getattr(model, f'layer{stage}').modules())
    return [m for m in modules if isinstance(m, _BatchNorm)]


def test_registered_in_mmdet_models():
    import mmdet_scalenet  # noqa: F401  (registers)
    model = MODELS.build(dict(type='ScaleNet', depth=50, structure='scalenet50_light'))
    assert isinstance(model, ScaleNet)


def test_default_structure_follows_depth():
    for depth in (50, 101):
        model = ScaleNet(depth=depth)
        assert model.structure.name == f'scalenet{depth}'
        assert len(getattr(model, 'layer3')) == {50: 6, 101: 23}[depth]


def test_bad_arguments_raise():
    with pytest.raises(KeyError, match='invalid depth 18'):
        ScaleNet(depth=18)
    with pytest.raises(ValueError, match=r'frozen_stages must be -1\.\.4.*got 5'):
        small(frozen_stages=5)
    with pytest.raises(ValueError, match=r'frozen_stages must be -1\.\.4.*got -2'):
        small(frozen_stages=-2)
    with pytest.raises(ValueError, match=r'frozen_stages must be -1\.\.2 \(num_stages=2\), got 3'):
        small(num_stages=2, out_indices=(0, 1), frozen_stages=3)
    with pytest.raises(ValueError, match='init_cfg and pretrained cannot be specified at the same time'):
        small(pretrained='a.pth', init_cfg=dict(type='Pretrained', checkpoint='b.pth'))
    with pytest.raises(TypeError, match='pretrained must be a str or None'):
        small(pretrained=1)
    with pytest.raises(ValueError, match=r'out_indices.*0\.\.3.*got \(4,\)'):
        small(out_indices=(4, ))
    with pytest.raises(ValueError, match=r'out_indices.*0\.\.1.*got \(0, 2\)'):
        small(num_stages=2, out_indices=(0, 2))
    with pytest.raises(ValueError, match='num_stages must be 1..4'):
        small(num_stages=5)
    with pytest.raises(StructureError, match=r'depth.*expected 101, got 50'):
        ScaleNet(depth=101, structure='scalenet50')


def test_pretrained_is_deprecated_but_works():
    with pytest.warns(UserWarning, match='pretrained is deprecated'):
        model = small(pretrained='weights.pth')
    assert model.init_cfg == dict(type='Pretrained', checkpoint='weights.pth')


def test_train_returns_self_and_norm_eval_keeps_bn_in_eval():
    model = small(norm_eval=True)
    assert model.train() is model
    assert model.eval() is model
    model.train()
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert norms and all(not m.training for m in norms)
    model = small(norm_eval=False).train()
    assert all(m.training for m in model.modules() if isinstance(m, _BatchNorm))


@pytest.mark.parametrize('frozen', [-1, 0, 1, 2, 4])
def test_frozen_stages_freeze_stem_and_first_stages_only(frozen):
    model = small(frozen_stages=frozen, norm_eval=False)
    model.train()
    for stage in range(5):
        frozen_here = stage <= frozen
        assert all(p.requires_grad != frozen_here for p in stage_params(model, stage)), stage
        assert all(m.training != frozen_here for m in stage_norms(model, stage)), stage
    # re-applied by every train()
    model.eval().train()
    assert all(not m.training for s in range(frozen + 1) for m in stage_norms(model, s))


@pytest.mark.parametrize('size', [(224, 224), (800, 1216), (32, 32)])
def test_out_indices_channels_and_strides(size):
    model = small(out_indices=(0, 1, 2, 3)).eval()
    with torch.no_grad():
        outs = model(torch.rand(1, 3, *size))
    assert [o.shape[1] for o in outs] == [256, 512, 1024, 2048]
    assert model.out_channels == (256, 512, 1024, 2048)
    for out, stride in zip(outs, (4, 8, 16, 32)):
        assert tuple(out.shape[2:]) == (size[0] // stride, size[1] // stride)


def test_out_indices_subset_and_fewer_stages():
    model = small(out_indices=(1, 3)).eval()
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [512, 2048]
    model = small(num_stages=3, out_indices=(2, )).eval()
    assert not hasattr(model, 'layer4')
    with torch.no_grad():
        (out, ) = model(torch.rand(1, 3, 64, 64))
    assert out.shape == (1, 1024, 4, 4)


@pytest.mark.parametrize('size', [(33, 47), (45, 45), (97, 61)])
def test_odd_small_inputs_run(size):
    model = small().eval()
    with torch.no_grad():
        outs = model(torch.rand(1, 3, *size))
    assert all(torch.isfinite(o).all() for o in outs)


def test_with_cp_gives_equal_outputs_and_gradients():
    torch.manual_seed(0)
    plain = small(norm_eval=True)
    plain.init_weights()
    checkpointed = small(norm_eval=True, with_cp=True)
    checkpointed.load_state_dict(plain.state_dict())
    results = []
    for model in (plain, checkpointed):
        model.train()
        x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1), requires_grad=True)
        loss = sum((o ** 2).mean() for o in model(x))
        loss.backward()
        results.append((loss.detach(), x.grad, [p.grad for p in model.parameters()]))
    (loss_a, xg_a, grads_a), (loss_b, xg_b, grads_b) = results
    torch.testing.assert_close(loss_a, loss_b)
    torch.testing.assert_close(xg_a, xg_b)
    assert all(g is not None for g in grads_a)
    for a, b in zip(grads_a, grads_b):
        torch.testing.assert_close(a, b)


def test_group_norm_and_sync_bn_build():
    model = small(norm_cfg=dict(type='GN', num_groups=32, requires_grad=True)).eval()
    assert model.norm1_name == 'gn1'
    block = model.layer1[0]
    assert isinstance(block.norm2['1'], torch.nn.GroupNorm)
    # branch widths that 32 does not divide get the largest divisor below 32
    assert block.norm2['1'].num_groups == {8: 8, 9: 9, 27: 27}[block.norm2['1'].num_channels]
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 64, 64))
    assert all(torch.isfinite(o).all() for o in outs)
    model = small(norm_cfg=dict(type='SyncBN', requires_grad=True))
    assert model.norm1_name == 'bn1'
    assert isinstance(model.layer2[0].norm2['0'], torch.nn.SyncBatchNorm)


@pytest.mark.parametrize('zero_init', [True, False])
def test_zero_init_residual(zero_init):
    model = small(zero_init_residual=zero_init)
    model.init_weights()
    blocks = [m for m in model.modules() if isinstance(m, SABottleneck)]
    assert len(blocks) == 16
    for block in blocks:
        assert torch.all(block.bn3.weight == (0.0 if zero_init else 1.0))
        assert all(torch.all(n.weight == 1.0) for n in block.norm2.values())


def test_two_structures_in_one_process_are_both_right():
    full, light = ScaleNet(depth=50, structure='scalenet50'), small()
    for model, name in ((full, 'scalenet50'), (light, 'scalenet50_light')):
        rows = load_structure(name).to_rows()
        blocks = [m for m in model.modules() if isinstance(m, SABottleneck)]
        for block, row in zip(blocks, rows):
            widths = [block.conv2[str(i)].out_channels if str(i) in block.conv2 else 0 for i in range(4)]
            assert widths == row[:4]


def test_branch_kernels_follow_the_imagenet_side():
    model = small()
    # the factor-7 branch of side-7 blocks is the only 1x1 conv
    for block in model.modules():
        if isinstance(block, SABottleneck):
            for key, conv in block.conv2.items():
                expected = 1 if (block.side == 7 and key == '3') else 3
                assert conv.kernel_size == (expected, expected)
    assert '3' in model.layer4[1].conv2  # scalenet50_light has that branch


def test_stage_stride_is_a_max_pool_and_no_conv_has_stride():
    model = small()
    strided = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d) and m.stride != (1, 1)]
    assert strided == ['conv1']
    assert [b.stride for b in model.modules() if isinstance(b, SABottleneck)][:8] == [1, 1, 1, 2, 1, 1, 1, 2]
