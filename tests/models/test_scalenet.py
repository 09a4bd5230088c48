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
        assert len(model.layer3) == {50: 6, 101: 23}[depth]


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


# mmdet's ResNet-50 variants, as its configs spell them (dcn/, gcnet/, empirical_attention/, faster_rcnn/ DC5,
# mmseg's D8), and the output strides they give.
RESNET_VARIANTS = {
    'dcn-c3-c5': (dict(dcn=dict(type='DCN', deform_groups=1, fallback_on_stride=False),
                       stage_with_dcn=(False, True, True, True)), (4, 8, 16, 32)),
    'dcnv2-c3-c5': (dict(dcn=dict(type='DCNv2', deform_groups=1, fallback_on_stride=False),
                         stage_with_dcn=(False, True, True, True)), (4, 8, 16, 32)),
    'gcb-c3-c5': (dict(plugins=[dict(cfg=dict(type='ContextBlock', ratio=1. / 4), stages=(False, True, True, True),
                                     position='after_conv3')]), (4, 8, 16, 32)),
    'attention-c4-c5': (dict(plugins=[dict(cfg=dict(type='GeneralizedAttention', spatial_range=-1, num_heads=8,
                                                    attention_type='0010', kv_stride=2),
                                           stages=(False, False, True, True), position='after_conv2')]),
                        (4, 8, 16, 32)),
    # all four terms, the geometric ones included (their embedding width must divide by 4)
    'attention-1111-c4-c5': (dict(plugins=[dict(cfg=dict(type='GeneralizedAttention', spatial_range=-1,
                                                         num_heads=8, attention_type='1111', kv_stride=2),
                                                stages=(False, False, True, True), position='after_conv2')]),
                             (4, 8, 16, 32)),
    'dc5': (dict(strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2)), (4, 8, 16, 16)),
    'd8': (dict(strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4)), (4, 8, 8, 8)),
    'caffe': (dict(style='caffe'), (4, 8, 16, 32)),
}


@pytest.mark.parametrize('variant', sorted(RESNET_VARIANTS))
def test_resnet_variants_load_released_weights_and_train(variant, authors_checkpoint, authors_state, monkeypatch):
    from mmdet_scalenet.models import pretrained
    logged = []
    monkeypatch.setattr(pretrained, 'print_log', lambda message, logger=None: logged.append(message))
    kwargs, strides = RESNET_VARIANTS[variant]
    model = small(init_cfg=dict(type='Pretrained', checkpoint=authors_checkpoint), norm_eval=False, **kwargs)
    model.init_weights()

    # every tensor of the released network is loaded; the new ones are named in the log and kept at their init
    own = model.state_dict()
    new = sorted(set(own) - set(authors_state))
    assert set(model.extension_keys()) == set(new)
    for key in own:
        if key not in new:
            assert torch.equal(own[key], authors_state[key]), key
    if new:
        assert any(f'{len(new)} tensors of ScaleNet are not in' in line for line in logged), logged
        listed = logged[-1]
        assert all(key.rsplit('.', 1)[0] in listed for key in new)
        offsets = [v for k, v in own.items() if '.conv_offset.' in k]
        assert all(torch.all(v == 0) for v in offsets)  # deformable convs start as their plain conv
    else:
        assert not any('keep their initialisation' in line for line in logged)

    size = 128
    model.train()
    outs = model(torch.randn(2, 3, size, size))
    assert [tuple(o.shape[2:]) for o in outs] == [(size // s, size // s) for s in strides]
    loss = sum(o.square().mean() for o in outs)
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    grads = {k: p.grad.abs().sum().item() for k, p in model.named_parameters() if k in new}
    assert not new or any(g > 0 for g in grads.values()), grads


def test_variants_build_what_they_name():
    model = small(**RESNET_VARIANTS['dcnv2-c3-c5'][0])
    from mmcv.ops import ModulatedDeformConv2dPack
    assert not any(isinstance(c, ModulatedDeformConv2dPack) for c in model.layer1[0].conv2.values())
    for block in model.layer4:
        for key, conv in block.conv2.items():
            # the 1x1 factor-7 branch of the side-7 blocks stays a plain conv
            assert isinstance(conv, ModulatedDeformConv2dPack) == (conv.kernel_size == (3, 3)), key
    model = small(**RESNET_VARIANTS['d8'][0])
    assert model.layer3[0].stride == 1 and model.layer4[0].stride == 1
    assert {c.dilation for c in model.layer4[2].conv2.values() if c.kernel_size == (3, 3)} == {(4, 4)}
    assert {c.padding for c in model.layer3[1].conv2.values()} == {(2, 2)}
    model = small(**RESNET_VARIANTS['gcb-c3-c5'][0])
    assert not hasattr(model.layer1[0], 'context_block') and hasattr(model.layer2[0], 'context_block')
    model = small(**RESNET_VARIANTS['attention-c4-c5'][0])
    attention = model.layer3[0].gen_attention_block
    assert attention.in_channels == sum(model.layer3[0].branch_channels)  # after the SA block: its width
    model = small(dcn=dict(type='DCN', fallback_on_stride=True), stage_with_dcn=(True, ) * 4)
    assert all(type(c) is torch.nn.Conv2d for b in model.modules() if isinstance(b, SABottleneck)
               for c in b.conv2.values())  # mmdet's meaning of fallback_on_stride=True: plain convs


def test_caffe_and_pytorch_style_are_the_same_network():
    torch.manual_seed(0)
    pytorch = small(style='pytorch').eval()
    caffe = small(style='caffe').eval()
    caffe.load_state_dict(pytorch.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(pytorch(x), caffe(x)):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize('kwargs,error,message', [
    (dict(style='tensorflow'), ValueError, r"style must be one of \['pytorch', 'caffe'\], got 'tensorflow'"),
    (dict(deep_stem=True), ValueError, r'deep_stem=True is not supported: .*single 7x7 conv'),
    (dict(avg_down=True), ValueError, r'avg_down=True is not supported: .*2x2 max-pool'),
    (dict(stem_channels=32), ValueError, r'stem_channels must be 64 \(or None\).*got 32'),
    (dict(base_channels=32), ValueError, r'base_channels must be 64: .*structure.*got 32'),
    (dict(strides=(1, 2, 2)), ValueError, r'strides must have one entry per stage \(num_stages=4\), got \(1, 2, 2\)'),
    (dict(num_stages=3, out_indices=(2, ), dilations=(1, 1, 1, 1)), ValueError,
     r'dilations must have one entry per stage \(num_stages=3\), got \(1, 1, 1, 1\)'),
    (dict(strides=(1, 2, 3, 2)), ValueError, r'stage 3: stride must be 1 or 2 \(2 = a 2x2 max-pool.*got 3'),
    (dict(dilations=(1, 1, 0, 1)), ValueError, r'stage 3: dilation must be a positive integer, got 0'),
    (dict(dcn=dict(type='DCN'), stage_with_dcn=(True, True)), ValueError,
     r'stage_with_dcn must have one entry per stage \(num_stages=4\), got \(True, True\)'),
    (dict(dcn='DCN', stage_with_dcn=(True, ) * 4), TypeError, r'dcn must be an mmcv conv config dict'),
    (dict(dcn=dict(type='DCN'), stage_with_dcn=(True, ) * 4, conv_cfg=dict(type='Conv2d')), ValueError,
     r'conv_cfg must be None when dcn is set'),
    (dict(plugins=[dict(cfg=dict(type='ContextBlock', ratio=0.25), position='after_conv4')]), ValueError,
     r"plugins: expected dict\(cfg=\.\.\., position=one of \['after_conv1', 'after_conv2', 'after_conv3'\]"),
    (dict(plugins=[dict(cfg=dict(type='ContextBlock', ratio=0.25), position='after_conv3', stages=(True, ))]),
     ValueError, r'plugins: "stages" must have one entry per stage \(num_stages=4\), got \(True,\)'),
    (dict(plugins=dict(cfg=dict(type='ContextBlock'))), TypeError, r'plugins must be a list of plugin specs'),
    (dict(plugins=[dict(cfg=dict(type='ContextBlock', ratio=0.25), position='after_conv3')] * 2), ValueError,
     r"plugins: two plugins named 'context_block' in one block; give them a \"postfix\""),
])
def test_refused_resnet_arguments_say_why(kwargs, error, message):
    with pytest.raises(error, match=message):
        small(**kwargs)


def test_dcn_without_a_stage_warns():
    with pytest.warns(UserWarning, match='dcn is set but stage_with_dcn selects no stage'):
        small(dcn=dict(type='DCN'))


def test_every_resnet_argument_is_accepted():
    import inspect

    from mmdet.models.backbones import ResNet
    resnet = set(inspect.signature(ResNet.__init__).parameters) - {'self'}
    assert resnet <= set(inspect.signature(ScaleNet.__init__).parameters)
    # the defaults a config may leave out mean the same network
    model = ScaleNet(depth=50, structure='scalenet50_light', stem_channels=None, base_channels=64, style='pytorch',
                     deep_stem=False, avg_down=False, strides=(1, 2, 2, 2), dilations=(1, 1, 1, 1),
                     stage_with_dcn=(False, ) * 4)
    assert model.state_dict().keys() == small().state_dict().keys()
