"""Arguments checked once, at the builders (ScaleNet and its C4 head): types and values named in the message; and
mmdet ResNet's public attributes, with ResNet's meanings."""
import pytest
import torch
from mmdet.models.backbones import ResNet
from mmdet.models.roi_heads.shared_heads import ResLayer

from mmdet_scalenet import ScaleNet, ScaleNetResLayer
from mmdet_scalenet.deploy import fuse_scalenet


def small(**kwargs):
    kwargs.setdefault('structure', 'scalenet50_light')
    kwargs.setdefault('depth', 50)
    return ScaleNet(**kwargs)


@pytest.mark.parametrize('kwargs,error,message', [
    (dict(frozen_stages='1'), TypeError, r"frozen_stages must be an integer \(num_stages=4\), got str '1'"),
    (dict(frozen_stages=True), TypeError, r'frozen_stages must be an integer.*got bool True'),
    (dict(out_indices=3), TypeError, r'out_indices must be a sequence of stage indices, e\.g\. \(0, 1, 2, 3\), got 3'),
    (dict(out_indices=(3, 0)), ValueError, r'out_indices must be increasing without repeats.*got \(3, 0\)'),
    (dict(out_indices=(0, 0)), ValueError, r'out_indices must be increasing without repeats.*got \(0, 0\)'),
    (dict(out_indices=()), ValueError, r'out_indices must be non-empty'),
    (dict(norm_cfg=dict(requires_grad=True)), TypeError, r'norm_cfg must be an mmcv norm config dict with a "type"'),
    (dict(norm_cfg=dict(type='GN', num_groups=0)), ValueError, r'norm_cfg num_groups \(GN\) must be a positive '
                                                                r'integer, got 0'),
    (dict(norm_cfg=dict(type='GN')), TypeError, r'norm_cfg num_groups \(GN\) must be an integer, got NoneType'),
    (dict(in_channels=0), ValueError, r'in_channels must be a positive integer, got 0'),
    (dict(in_channels=3.0), TypeError, r'in_channels must be an integer, got float 3\.0'),
    (dict(num_stages='4'), TypeError, r"num_stages must be an integer, got str '4'"),
    (dict(conv_cfg='Conv2d'), TypeError, r'conv_cfg must be None or an mmcv conv config dict'),
    (dict(strides=2), TypeError, r'strides must be a sequence with one entry per stage, got 2'),
    (dict(dilations=(1, 1, True, 1)), TypeError, r'stage 3: dilation must be an integer, got bool True'),
    (dict(stage_with_dcn=(0, 0, 1, 1), dcn=dict(type='DCN')), TypeError, r'stage_with_dcn\[0\] must be True or '
                                                                          r'False, got 0'),
    (dict(with_cp=1), TypeError, r'with_cp must be True or False, got 1'),
    (dict(norm_eval='yes'), TypeError, r"norm_eval must be True or False, got 'yes'"),
    (dict(depth=50.5), KeyError, r'invalid depth 50\.5 for ScaleNet'),
    (dict(depth=50.0), KeyError, r'invalid depth 50\.0 for ScaleNet'),
])
def test_argument_types_and_values_are_named(kwargs, error, message):
    with pytest.raises(error, match=message):
        small(**kwargs)


def test_out_channels_describe_the_outputs_one_for_one():
    model = small(out_indices=(1, 3)).eval()
    outs = model(torch.randn(1, 3, 64, 64))
    assert [out.shape[1] for out in outs] == list(model.out_channels) == [512, 2048]


@pytest.mark.parametrize('kwargs,error,message', [
    (dict(stage='3'), TypeError, r"stage must be an integer \(a stage after the stem and stage 1\), got str '3'"),
    (dict(stage=0), ValueError, r'stage must be 1\.\.3 \(a stage after the stem and stage 1\), got 0'),
    (dict(dilation=0), ValueError, r'dilation must be a positive integer, got 0'),
    (dict(stride=3), ValueError, r'stride must be 1 or 2'),
    (dict(norm_cfg=None, with_cp='no'), TypeError, r"with_cp must be True or False, got 'no'"),
    (dict(dcn='DCN'), TypeError, r'dcn must be an mmcv conv config dict'),
    (dict(depth=34), KeyError, r'invalid depth 34 for ScaleNet'),
])
def test_the_c4_head_shares_the_checks(kwargs, error, message):
    kwargs.setdefault('structure', 'scalenet50_light')
    with pytest.raises(error, match=message):
        ScaleNetResLayer(**kwargs)


def test_resnet_public_attributes_mean_what_they_mean_in_resnet():
    """Code that inspects a backbone reads these; side by side with mmdet's ResNet-50 built the same way."""
    kwargs = dict(depth=50, num_stages=3, out_indices=(0, 2), frozen_stages=1, with_cp=False,
                  stage_with_dcn=(False, ) * 3, norm_cfg=dict(type='BN', requires_grad=False), strides=(1, 2, 2),
                  dilations=(1, 1, 2))
    ours, resnet = ScaleNet(structure='scalenet50_light', **kwargs), ResNet(**kwargs)
    for name in ('depth', 'stem_channels', 'base_channels', 'num_stages', 'strides', 'dilations', 'out_indices',
                 'style', 'deep_stem', 'avg_down', 'frozen_stages', 'conv_cfg', 'norm_cfg', 'with_cp', 'norm_eval',
                 'dcn', 'stage_with_dcn', 'plugins', 'zero_init_residual', 'stage_blocks', 'inplanes', 'feat_dim',
                 'res_layers'):
        assert hasattr(ours, name), name
        assert tuple(getattr(ours, name)) == tuple(getattr(resnet, name)) if isinstance(
            getattr(resnet, name), (list, tuple)) else getattr(ours, name) == getattr(resnet, name), name
    assert ours.block.expansion == resnet.block.expansion == 4
    assert ours.block.__name__ == 'SABottleneck'


def test_c4_head_attributes_like_mmdets_res_layer():
    head = ScaleNetResLayer(depth=50, structure='scalenet50_light')
    reference = ResLayer(depth=50)
    assert head.stage == reference.stage and head.norm_eval == reference.norm_eval
    assert head.out_channels == 2048


@pytest.mark.parametrize('shape', [(3, 64, 64), (1, 1, 64, 64), (1, 4, 64, 64)], ids=['3-D', '1-channel', '4-channel'])
def test_model_and_fast_path_refuse_the_same_inputs(shape):
    model = small().eval()
    fused = fuse_scalenet(model)
    message = r'expects images of shape \(N, 3, H, W\) \(in_channels=3\), got a tensor of shape'
    with torch.no_grad():
        with pytest.raises(ValueError, match='ScaleNet ' + message):
            model(torch.randn(*shape))
        with pytest.raises(ValueError, match='FusedScaleNet ' + message):
            fused(torch.randn(*shape))


def test_fast_path_propagates_nan_and_inf_as_the_model():
    torch.manual_seed(0)
    model = small().eval()
    fused = fuse_scalenet(model)
    x = torch.randn(1, 3, 96, 96)
    x[0, 1, 40, 50] = float('nan')
    x[0, 2, 10, 10] = float('inf')
    with torch.no_grad():
        expected, actual = model(x), fused(x)
    for a, e in zip(actual, expected):
        assert torch.equal(torch.isnan(a), torch.isnan(e))
        assert torch.equal(torch.isinf(a), torch.isinf(e))
        assert torch.isnan(e).any()
        finite = torch.isfinite(e)
        if finite.any():
            torch.testing.assert_close(a[finite], e[finite], rtol=1e-4,
                                       atol=1e-4 * max(1.0, e[finite].abs().max().item()))
