"""ONNX export with a dynamic input size: one file matches PyTorch at sizes that pick different upsamplings."""
import importlib.util
import sys

import pytest
import torch
import torch.nn.functional as F

from mmdet_scalenet import ScaleNet
from mmdet_scalenet.deploy.onnx import _stem, check_onnx, min_input_size
from mmdet_scalenet.models.scale_aggregation import downsample_by, upsample_to

# 224x224: stage-1 branches upsample by nearest (56 = 2 * 28); 257x319: stage 1 is 65x80 and its factor-2 branch
# (32x40) upsamples by bilinear. One exported graph must do both.
SIZES = [(224, 224), (257, 319)]


def missing_onnx_packages():
    return [name for name in ('onnx', 'onnxscript', 'onnxruntime') if importlib.util.find_spec(name) is None]


def test_min_input_size_is_where_no_branch_pool_is_clamped():
    light = ScaleNet(depth=50, structure='scalenet50_light').structure
    # scalenet50_light has a factor-7 branch in stage 4, whose map is 7x7 at 221 and 6x6 at 220
    assert min_input_size(light) == 221
    full = ScaleNet(depth=50, structure='scalenet50').structure
    assert min_input_size(full) <= 221
    assert min_input_size(light, num_stages=3) < 221
    # DC5 keeps stage 4 at stride 16: its factor-7 branch has a 7x7 map from a 109x109 input
    assert min_input_size(light, strides=(1, 2, 2, 1)) == 109


def test_the_two_sizes_take_different_upsamplings():
    stem = ScaleNet(depth=50, structure='scalenet50_light', num_stages=1, out_indices=(0, )).eval()
    modes = []
    for h, w in SIZES:
        with torch.no_grad():
            side = tuple(stem(torch.zeros(1, 3, h, w))[0].shape[-2:])
        assert side == (_stem(h), _stem(w))  # export's stage-1 size is the model's
        x = torch.randn(1, 1, *side)
        branch = downsample_by(x, 2)  # the factor-2 branch, resized back by the model's rule
        nearest = F.interpolate(branch, size=side, mode='nearest')
        modes.append('nearest' if torch.equal(upsample_to(branch, side), nearest) else 'bilinear')
    assert modes == ['nearest', 'bilinear']


@pytest.mark.parametrize('argv, message', [
    (['--structure', 'nope'], "error: unknown structure 'nope': expected one of scalenet50"),
    (['--structure', 'scalenet50_light', '--max-size', '100'],
     'error: --max-size 100 is below the minimum input size 221 of scalenet50_light'),
    (['--structure', 'scalenet50_light', '--check', '224x224', '220x320', '64x64'],
     'error: --check 220x320 64x64: each side must be in 221..4096 (the minimum input size of scalenet50_light '
     'is 221, --max-size 4096)'),
    (['--structure', 'scalenet50_light', '--max-size', '300', '--check', '224x224', '257x319'],
     'error: --check 257x319: each side must be in 221..300'),
])
def test_export_tool_rejects_bad_options_before_exporting(tmp_path, argv, message, load_tool):
    path = tmp_path / 'out.onnx'
    with pytest.raises(SystemExit) as exited:
        load_tool('export_onnx').main([str(path), *argv])
    assert str(exited.value.code).startswith(message)
    assert not path.exists()


def test_export_tool_rejects_small_check_sizes_in_the_parser(tmp_path, capsys, load_tool):
    with pytest.raises(SystemExit) as exited:
        load_tool('export_onnx').main([str(tmp_path / 'out.onnx'), '--check', '16x16'])
    assert exited.value.code == 2
    assert 'argument --check: 16x16: ScaleNet needs at least 32x32' in capsys.readouterr().err


def test_export_tool_needs_a_scalenet_config(tmp_path, load_tool):
    config = tmp_path / 'resnet.py'
    config.write_text("model = dict(backbone=dict(type='ResNet', depth=50))\n")
    with pytest.raises(SystemExit) as exited:
        load_tool('export_onnx').main([str(tmp_path / 'out.onnx'), '--config', str(config)])
    assert exited.value.code == f'error: {config}: model.backbone is ResNet, not ScaleNet'


@pytest.mark.slow
def test_onnx_round_trip_at_two_sizes(tmp_path, capsys, load_tool, randomised):
    missing = missing_onnx_packages()
    if missing:
        reason = (f'ONNX round trip skipped: {", ".join(missing)} not installed '
                  f'(pip install onnx onnxscript onnxruntime)')
        print(reason)
        pytest.skip(reason)
    import onnx

    model = randomised(ScaleNet(depth=50, structure='scalenet50_light', init_cfg=None), seed=5)
    checkpoint = tmp_path / 'weights.pth'
    torch.save(model.state_dict(), checkpoint)
    path = tmp_path / 'scalenet.onnx'
    tool = load_tool('export_onnx')
    tool.main([str(path), '--structure', 'scalenet50_light', '--checkpoint', str(checkpoint),
               '--check', '224x224', '257x319'])
    printed = capsys.readouterr().out
    assert '224x224: max relative error' in printed and '257x319: max relative error' in printed
    assert 'MISMATCH' not in printed

    proto = onnx.load(str(path))
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param != '' for d in dims] == [True, False, True, True]  # batch, height, width are symbolic
    assert {p.key: p.value for p in proto.metadata_props}['min_input_size'] == '221'
    modes = {a.s.decode() for n in proto.graph.node if n.op_type == 'Resize' for a in n.attribute if a.name == 'mode'}
    modes |= {a.s.decode() for f in proto.functions for n in f.node if n.op_type == 'Resize'
              for a in n.attribute if a.name == 'mode'}
    assert {'nearest', 'linear'} <= modes

    errors = check_onnx(str(path), model, SIZES, batch=2)
    for size, per_output in zip(SIZES, errors):
        assert len(per_output) == 4
        for name, error in per_output.items():
            assert error <= 1e-4, f'{name} at {size}: relative error {error:.2e}'
    print(f'onnx round trip errors: {errors}', file=sys.stderr)
