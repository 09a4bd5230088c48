"""The inference fast path (``fuse_scalenet``) equals the eval-mode model and the independent reference network,
and leaves training alone.

Weights and BatchNorm statistics come from the ``randomised`` fixture (trained-like: 5% of each norm's channels at
running variance 1e-4, where a dropped eps moves the output by 5%; means far from 0). ``assert_close`` bounds the
max abs error by 1e-4 times the output's scale ``max(1, max |expected|)``.
"""
import copy
import io

import pytest
import torch
import torch._dynamo
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.modules.batchnorm import _BatchNorm

from mmdet_scalenet import ScaleNet
from mmdet_scalenet.deploy import FusedConv2d, FusedScaleNet, fold_conv_bn, fuse_scalenet

from ..common import GraphCounter
from ..models.reference import SEPARATING_SIZES

STRUCTURES = [('scalenet50', 50), ('scalenet50_light', 50), ('scalenet101', 101), ('scalenet152', 152)]
# As tests/models/reference.py's upsampling_cases computes them, for all four structures: at 224x224 (stages 56, 28,
# 14, 7) every branch upsamples by nearest except stage 3's factor-4 one (14 from 3) and stage 4's factor-2 one
# (7 from 3), bilinear; at 257x319 (stages 65x80, 32x40, 16x20, 8x10) stage 1's branches are bilinear (factors 2
# and 4 fit the width only, 7 neither side) and stages 2-4 all nearest; at 32x32 the pooling is clamped to the map.
# The sizes that meet every case in every stage are in test_every_case_of_the_upsampling_rule_matches_the_reference.
SIZES = [(224, 224), (257, 319), (32, 32)]


@pytest.fixture(scope='module', params=STRUCTURES, ids=[s for s, _ in STRUCTURES])
def model_and_fused(request, randomised):
    """One fused model per structure, reused at every size (its cached oneDNN weights must serve them all)."""
    name, depth = request.param
    model = randomised(ScaleNet(depth=depth, structure=name, init_cfg=None))
    return model, fuse_scalenet(model)


@pytest.mark.parametrize('size', SIZES, ids=[f'{h}x{w}' for h, w in SIZES])
def test_fast_path_equals_eval_model(model_and_fused, size, assert_close):
    model, fused = model_and_fused
    x = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, actual = model(x), fused(x)
    assert len(actual) == len(expected) == 4
    for stage, (a, e) in enumerate(zip(actual, expected)):
        assert_close(a, e, f'{model.structure.name} stage {stage + 1} at {size}')


@pytest.mark.parametrize('size', SEPARATING_SIZES, ids=[f'{h}x{w}' for h, w in SEPARATING_SIZES])
def test_every_case_of_the_upsampling_rule_matches_the_reference(size, reference_and_model, assert_close):
    """The fast path against the independent reference (not only against the model, which shares the rule) at
    sizes where, in every stage, some branch has both sides, only the height, only the width or neither side of its
    upsampling a whole multiple (nearest only in the first case)."""
    reference, model = reference_and_model('scalenet50_light', 50, seed=6)
    x = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        for stage, (a, e) in enumerate(zip(fuse_scalenet(model)(x), reference(x))):
            assert_close(a, e, f'fast path stage {stage + 1} at {size}')


@pytest.mark.parametrize('merge_shortcut,channels_last', [(False, False), (True, False), (False, True)])
def test_every_fast_path_option_is_exact(merge_shortcut, channels_last, randomised, assert_close):
    model = randomised(ScaleNet(depth=50, structure='scalenet50_light', init_cfg=None), seed=3)
    fused = fuse_scalenet(model, merge_shortcut=merge_shortcut, channels_last=channels_last)
    x = torch.randn(2, 3, 97, 131, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        for a, e in zip(fused(x), model(x)):
            assert_close(a, e, f'merge={merge_shortcut} channels_last={channels_last}')


def test_fused_model_has_no_norms_and_keeps_the_backbone_contract(randomised, assert_close):
    model = randomised(ScaleNet(depth=50, structure='scalenet50_light', out_indices=(1, 3), init_cfg=None))
    fused = fuse_scalenet(model)
    assert isinstance(fused, FusedScaleNet) and not fused.training
    assert not any(isinstance(m, (_BatchNorm, nn.GroupNorm)) for m in fused.modules())
    assert all(not p.requires_grad for p in fused.parameters())
    assert fused.out_indices == (1, 3) and fused.out_channels == (512, 2048)
    assert not fused.layer2[0].merged and fused.layer2[0].downsample.out_channels == 512
    # on request, the first block of every stage runs conv1 and the shortcut projection as one conv
    merged = fuse_scalenet(model, merge_shortcut=True)
    assert merged.layer2[0].merged and merged.layer2[0].conv1.out_channels == 128 + 512
    with torch.no_grad():
        outs = fused(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(1, 512, 8, 8), (1, 2048, 2, 2)]
    three = randomised(ScaleNet(depth=50, structure='scalenet50_light', num_stages=3, out_indices=(2, ),
                                init_cfg=None))
    with torch.no_grad():
        x = torch.randn(1, 3, 80, 96)
        (a, ), (e, ) = fuse_scalenet(three)(x), three(x)
    assert_close(a, e, 'num_stages=3')


def test_fusing_leaves_the_model_and_its_training_untouched(randomised):
    model = randomised(ScaleNet(depth=50, structure='scalenet50_light', init_cfg=None))
    model.train()
    before = copy.deepcopy(model.state_dict())
    fused = fuse_scalenet(model)
    assert model.training
    after = model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    # the model still trains: gradients reach every branch conv and norm
    loss = sum(o.mean() for o in model(torch.randn(2, 3, 64, 64)))
    loss.backward()
    assert model.layer1[0].conv2['3'].weight.grad is not None
    assert model.layer1[0].norm2['3'].weight.grad is not None
    with pytest.raises(RuntimeError, match='inference-only'):
        fused.train()
    assert fused.eval() is fused


def test_fold_conv_bn_matches_conv_then_norm(randomised, assert_close):
    conv = nn.Conv2d(5, 7, 3, padding=1, bias=True)
    norm = nn.BatchNorm2d(7)
    randomised(nn.Sequential(conv, norm))
    fused = fold_conv_bn(conv, norm)
    x = torch.randn(2, 5, 9, 11)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), norm(conv(x)), rtol=1e-5, atol=1e-5)


def test_branch_norm_folds_through_the_upsample(randomised, assert_close):
    """BN(upsample(y)) == upsample(BN(y)) for nearest and bilinear: why branch norms fold into branch convs."""
    norm = randomised(nn.Sequential(nn.BatchNorm2d(6)))[0]
    y = torch.randn(1, 6, 5, 7)
    with torch.no_grad():
        for mode, size in (('nearest', (10, 14)), ('bilinear', (13, 17))):
            kwargs = {} if mode == 'nearest' else dict(align_corners=False)
            up = nn.functional.interpolate
            torch.testing.assert_close(norm(up(y, size=size, mode=mode, **kwargs)),
                                       up(norm(y), size=size, mode=mode, **kwargs))


def test_only_batch_norm_models_can_be_fused():
    model = ScaleNet(depth=50, structure='scalenet50_light', norm_cfg=dict(type='GN', num_groups=32),
                     init_cfg=None)
    with pytest.raises(ValueError, match='only BatchNorm'):
        fuse_scalenet(model)


@pytest.mark.parametrize('relu', [True, False])
def test_fused_conv_onednn_path_equals_the_reference_path(relu, randomised, assert_close):
    conv = fold_conv_bn(*randomised(nn.Sequential(nn.Conv2d(16, 24, 3, padding=1), nn.BatchNorm2d(24))))
    fused = FusedConv2d(conv, relu=relu)
    x = torch.randn(1, 16, 13, 17)
    residual = torch.randn(1, 24, 13, 17)
    expected = nn.functional.conv2d(x, conv.weight, conv.bias, padding=1) + residual
    expected = expected.relu() if relu else expected
    reference = fused(x, residual=residual)  # gradients enabled: F.conv2d, add, ReLU
    with torch.no_grad():
        onednn = fused(x, residual=residual)  # oneDNN with add and ReLU as post-ops (where available)
        onednn_cl = fused(x.contiguous(memory_format=torch.channels_last), residual=residual)
        plain = fused(x, relu=False)
    for actual in (reference, onednn, onednn_cl):
        torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(plain, nn.functional.conv2d(x, conv.weight, conv.bias, padding=1), rtol=1e-5,
                               atol=1e-5)
    # the cached oneDNN weight is neither saved nor copied
    assert set(fused.state_dict()) == {'weight', 'bias'}
    clone = copy.deepcopy(fused)
    with torch.no_grad():
        torch.testing.assert_close(clone(x, residual=residual), expected, rtol=1e-5, atol=1e-5)


def test_non_finite_inputs_give_the_models_non_finite_outputs(randomised):
    """Where the input holds NaN or inf the fast path gives NaN and inf exactly where the model does (oneDNN's fused
    ReLU would map NaN to 0), and the model's values elsewhere."""
    model = randomised(ScaleNet(depth=50, structure='scalenet50_light', init_cfg=None), seed=8)
    fused = fuse_scalenet(model)
    x = torch.randn(1, 3, 64, 96, generator=torch.Generator().manual_seed(9))
    x[0, 1, 5, 7], x[0, 2, 40, 80] = float('nan'), float('inf')
    with torch.no_grad():
        for stage, (a, e) in enumerate(zip(fused(x), model(x))):
            assert torch.equal(a.isnan(), e.isnan()) and torch.equal(a.isinf(), e.isinf()), f'stage {stage + 1}'
            assert e.isnan().any(), f'stage {stage + 1}: the NaN did not reach the output'
            finite = e.isfinite()
            torch.testing.assert_close(a[finite], e[finite], rtol=1e-4, atol=1e-4)


def test_fused_conv_exports_as_a_plain_convolution(randomised):
    """Under ``torch.export`` (the ONNX path) a fused conv is a plain convolution, not oneDNN's CPU-only kernel."""
    conv = FusedConv2d(fold_conv_bn(*randomised(nn.Sequential(nn.Conv2d(4, 6, 3, padding=1), nn.BatchNorm2d(6)))),
                       relu=True)
    x = torch.randn(1, 4, 8, 8)
    with torch.no_grad():
        program = torch.export.export(conv, (x, ))
        torch.testing.assert_close(program.module()(x), F.relu(F.conv2d(x, conv.weight, conv.bias, padding=1)))
    targets = {str(node.target) for node in program.graph.nodes if node.op == 'call_function'}
    assert any('conv' in t for t in targets) and not any('mkldnn' in t for t in targets), targets


def test_only_scalenets_can_be_fused():
    with pytest.raises(TypeError, match='only a ScaleNet can be fused, got Sequential'):
        fuse_scalenet(nn.Sequential(nn.Conv2d(3, 8, 3)))


@pytest.mark.parametrize('strides,dilations', [((1, 2, 2, 1), (1, 1, 1, 2)), ((1, 2, 1, 1), (1, 1, 2, 4))],
                         ids=['dc5', 'd8'])
def test_dilated_networks_fuse_exactly(strides, dilations, randomised, assert_close):
    model = randomised(ScaleNet(depth=50, structure='scalenet50_light', strides=strides, dilations=dilations,
                                init_cfg=None), seed=4)
    fused = fuse_scalenet(model)
    x = torch.randn(1, 3, 97, 131, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        for stage, (a, e) in enumerate(zip(fused(x), model(x))):
            assert_close(a, e, f'strides {strides} dilations {dilations} stage {stage + 1}')


@pytest.mark.parametrize('kwargs,message', [
    (dict(dcn=dict(type='DCN', deform_groups=1), stage_with_dcn=(False, True, True, True)),
     r'dcn: the fast path .* does not run deformable convs'),
    (dict(plugins=[dict(cfg=dict(type='ContextBlock', ratio=0.25), position='after_conv3')]),
     r'plugins: the fast path does not run plugins'),
])
def test_variants_the_fast_path_cannot_run_are_refused_by_name(kwargs, message):
    model = ScaleNet(depth=50, structure='scalenet50_light', init_cfg=None, **kwargs)
    with pytest.raises(ValueError, match=message):
        fuse_scalenet(model)


def _storages(module):
    """The distinct storages behind a module's parameters, by address: their total size in elements."""
    storages = {p.untyped_storage().data_ptr(): p.untyped_storage().nbytes() // p.element_size()
                for p in module.parameters()}
    return sum(storages.values())


def test_atlas_branches_hold_views_of_the_atlas_conv_through_conversion_copy_and_pickling(randomised,
                                                                                          assert_close):
    """The fast path keeps the coarse branches' folded weights once: each atlas branch's own conv (eager inference)
    holds its rows of the stacked conv (compiled graphs), after ``.double()``, ``copy.deepcopy`` and pickling too."""
    model = randomised(ScaleNet(depth=50, structure='scalenet50_light', init_cfg=None))
    fused = fuse_scalenet(model)
    stacked = sum(b.atlas_conv.weight.numel() + b.atlas_conv.bias.numel()
                  for name in fused.res_layers for b in getattr(fused, name) if b.atlas_keys)
    assert stacked > 0
    unique = _storages(fused)
    assert sum(p.numel() for p in fused.parameters()) == unique + stacked
    buffer = io.BytesIO()
    torch.save(fused, buffer)
    buffer.seek(0)
    x = torch.randn(1, 3, 97, 131, generator=torch.Generator().manual_seed(3))
    for copied in (copy.deepcopy(fused), torch.load(buffer, weights_only=False), fused.double()):
        block = copied.layer1[0]
        rows = 0
        for key, width in zip(block.atlas_keys, block.atlas_channels):
            assert block.conv2[key].weight.data_ptr() == block.atlas_conv.weight[rows].data_ptr()
            rows += width
        assert _storages(copied) == unique
    with torch.no_grad():
        for stage, (a, e) in enumerate(zip(fused(x.double()), model.double()(x.double()))):
            assert_close(a, e, f'stage {stage + 1}')


def test_the_fast_path_compiles_into_one_graph_with_the_models_values(randomised, assert_close):
    """Compiled (``CompileHook`` after ``tools/test.py --fuse``), the fast path is one graph with no break for every
    size (its eager-only kernel choices, oneDNN's and cuDNN's, are decided without tracing ``torch.backends``), and
    gives the eval model's values."""
    model = randomised(ScaleNet(depth=50, structure='scalenet50_light', init_cfg=None))
    fused = fuse_scalenet(model)
    torch._dynamo.reset()
    counter = GraphCounter()
    compiled = torch.compile(fused, backend=counter, dynamic=True, fullgraph=True)  # fullgraph: a break is an error
    with torch.no_grad(), torch._dynamo.config.patch(cache_size_limit=64):
        # stage 4's maps at least 7x7: smaller, the pooling is clamped to the map, a size guard in any ScaleNet
        for size in ((224, 288), (256, 320), (288, 224)):
            x = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(1))
            for stage, (a, e) in enumerate(zip(compiled(x), model(x))):
                assert_close(a, e, f'stage {stage + 1} at {size}')
    torch._dynamo.reset()
    assert counter.graphs <= 2
