"""ONNX export with a dynamic input size: one file matches PyTorch at sizes that pick different upsamplings."""
import importlib.util
import os
import sys

import pytest
import torch

from mmdet_scalenet import ScaleNet
from mmdet_scalenet.export import min_input_size

from .models.test_fuse import randomised

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# 224x224: stage-1 branches upsample by nearest (56 = 2 * 28); 257x319: stage 1 is 65x80 and its factor-2 branch
# (32x40) upsamples by bilinear. One exported graph must do both.
SIZES = [(224, 224), (257, 319)]


def missing_onnx_packages():
    return [name for name in ('onnx', 'onnxscript', 'onnxruntime') if importlib.util.find_spec(name) is None]


def load_tool(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_min_input_size_is_where_no_branch_pool_is_clamped():
    light = ScaleNet(depth=50, structure='scalenet50_light').structure
    # scalenet50_light has a factor-7 branch in stage 4, whose map is 7x7 at 221 and 6x6 at 220
    assert min_input_size(light) == 221
    full = ScaleNet(depth=50, structure='scalenet50').structure
    assert min_input_size(full) <= 221
    assert min_input_size(light, num_stages=3) < 221


def test_the_two_sizes_take_different_upsamplings():
    def stage1(side):
        return ((side - 1) // 2 + 1 - 1) // 2 + 1
    nearest = [stage1(h) % (stage1(h) // 2) == 0 and stage1(w) % (stage1(w) // 2) == 0 for h, w in SIZES]
    assert nearest == [True, False]


@pytest.mark.slow
def test_onnx_round_trip_at_two_sizes(tmp_path, capsys):
    missing = missing_onnx_packages()
    if missing:
        reason = (f'ONNX round trip skipped: {", ".join(missing)} not installed '
                  f'(pip install onnx onnxscript onnxruntime)')
        print(reason)
        pytest.skip(reason)
    import onnx

    from mmdet_scalenet.export import check_onnx

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
