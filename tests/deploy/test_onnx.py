"""ONNX export with a dynamic input size: one file matches PyTorch, and the independent reference network, at sizes
that meet every case of the upsampling rule."""
import importlib.util
import os
import sys

import pytest
import torch

from mmdet_scalenet import ScaleNet
from mmdet_scalenet.deploy.onnx import _stem, check_onnx, min_input_size

from ..models.reference import SEPARATING_SIZES, stage_sizes

# Together, in every stage, branches whose upsampling fits both sides (nearest), only the height, only the width or
# neither side (bilinear): the table is tests/models/reference.py's SEPARATING_CASES. One exported graph must
# choose right in all four cases.
SIZES = SEPARATING_SIZES


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


def test_the_check_sizes_are_in_the_exported_range():
    """The export's own count of the stage-1 size (behind ``min_input_size``) is the network's, and the sizes the
    round trip checks are ones the graph is declared for."""
    low = min_input_size(ScaleNet(depth=50, structure='scalenet50_light').structure)
    for size in SIZES:
        assert (_stem(size[0]), _stem(size[1])) == stage_sizes(size)[0]
        assert min(size) >= low


PROG = 'tools/export_onnx.py'


@pytest.mark.parametrize('argv, message', [
    (['--structure', 'nope'], "unknown structure 'nope': expected one of scalenet50"),
    (['--structure', 'scalenet50_light', '--max-size', '100'],
     '--max-size 100 is below the minimum input size 221 of scalenet50_light'),
    (['--structure', 'scalenet50_light', '--check', '224x224', '220x320', '64x64'],
     '--check 220x320 64x64: each side must be in 221..4096 (the minimum input size of scalenet50_light '
     'is 221, --max-size 4096)'),
    (['--structure', 'scalenet50_light', '--max-size', '300', '--check', '224x224', '257x319'],
     '--check 257x319: each side must be in 221..300'),
    (['--checkpoint', 'nope.pth'], 'nope.pth: checkpoint file not found'),
    (['--config', 'nope.py'], 'nope.py: config file not found'),
])
def test_export_tool_rejects_bad_options_before_exporting(tmp_path, argv, message, load_tool, capsys):
    path = tmp_path / 'out.onnx'
    with pytest.raises(SystemExit) as exited:
        load_tool('export_onnx').main([str(path), *argv])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f'{PROG}: error: {message}') and err.count('\n') == 1, err
    assert not path.exists()


@pytest.mark.parametrize('case', ['exists', 'the checkpoint', 'directory', 'missing folder'])
def test_export_tool_checks_its_output_first(tmp_path, load_tool, capsys, case):
    checkpoint = tmp_path / 'weights.pth'
    checkpoint.write_bytes(b'weights')
    (tmp_path / 'old.onnx').write_bytes(b'old')
    out = {'exists': tmp_path / 'old.onnx', 'the checkpoint': checkpoint, 'directory': tmp_path,
           'missing folder': tmp_path / 'no' / 'out.onnx'}[case]
    expected = {'exists': f'{out}: exists; pass overwrite=True (--overwrite)',
                'the checkpoint': f'{out}: is also an input ({checkpoint})',
                'directory': f'{out}: is a directory', 'missing folder': f'directory {tmp_path / "no"} does not exist'}
    argv = [str(out), '--checkpoint', str(checkpoint)] + (['--overwrite'] if case == 'the checkpoint' else [])
    with pytest.raises(SystemExit) as exited:
        load_tool('export_onnx').main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f'{PROG}: error: ') and expected[case] in err and err.count('\n') == 1, err
    assert checkpoint.read_bytes() == b'weights' and (tmp_path / 'old.onnx').read_bytes() == b'old'
    assert sorted(os.listdir(tmp_path)) == ['old.onnx', 'weights.pth']


def test_export_tool_rejects_small_check_sizes_in_the_parser(tmp_path, capsys, load_tool):
    with pytest.raises(SystemExit) as exited:
        load_tool('export_onnx').main([str(tmp_path / 'out.onnx'), '--check', '16x16'])
    assert exited.value.code == 2
    assert 'argument --check: 16x16: ScaleNet needs at least 32x32' in capsys.readouterr().err


def test_export_tool_needs_a_scalenet_config(tmp_path, load_tool, capsys):
    config = tmp_path / 'resnet.py'
    config.write_text("model = dict(backbone=dict(type='ResNet', depth=50))\n")
    with pytest.raises(SystemExit) as exited:
        load_tool('export_onnx').main([str(tmp_path / 'out.onnx'), '--config', str(config)])
    assert exited.value.code == 2
    assert capsys.readouterr().err == f'{PROG}: error: {config}: model.backbone is ResNet, not ScaleNet\n'


@pytest.mark.slow
def test_onnx_round_trip_meets_every_case_of_the_upsampling_rule(tmp_path, capsys, load_tool, reference_and_model):
    missing = missing_onnx_packages()
    if missing:
        reason = (f'ONNX round trip skipped: {", ".join(missing)} not installed '
                  f'(pip install onnx onnxscript onnxruntime)')
        print(reason)
        pytest.skip(reason)
    import onnx

    reference, model = reference_and_model('scalenet50_light', 50, seed=5)
    checkpoint = tmp_path / 'weights.pth'
    torch.save(reference.state_dict(), checkpoint)  # the authors' classifier layout, fc included
    path = tmp_path / 'scalenet.onnx'
    tool = load_tool('export_onnx')
    checked = [f'{h}x{w}' for h, w in SIZES]
    tool.main([str(path), '--structure', 'scalenet50_light', '--checkpoint', str(checkpoint), '--check', *checked])
    printed = capsys.readouterr().out
    assert all(f'{size}: max relative error' in printed for size in checked), printed
    assert 'MISMATCH' not in printed

    proto = onnx.load(str(path))
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param != '' for d in dims] == [True, False, True, True]  # batch, height, width are symbolic
    assert {p.key: p.value for p in proto.metadata_props}['min_input_size'] == '221'
    modes = {a.s.decode() for n in proto.graph.node if n.op_type == 'Resize' for a in n.attribute if a.name == 'mode'}
    modes |= {a.s.decode() for f in proto.functions for n in f.node if n.op_type == 'Resize'
              for a in n.attribute if a.name == 'mode'}
    assert {'nearest', 'linear'} <= modes

    # against the package's eval-mode model, and against the reference (which shares no code with the package, so
    # a rule wrong in both the model and the graph still shows); errors relative to the output scale
    for against, network in (('model', model), ('reference', reference)):
        errors = check_onnx(str(path), network, SIZES, batch=2)
        for size, per_output in zip(SIZES, errors):
            assert len(per_output) == 4
            for name, error in per_output.items():
                assert error <= 1e-4, f'{name} at {size} against the {against}: relative error {error:.2e}'
        print(f'onnx round trip errors against the {against}: {errors}', file=sys.stderr)
