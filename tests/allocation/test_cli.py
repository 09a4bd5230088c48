"""tools/allocate_neurons.py: the summary, the files it writes, and a clear error (and no file) for bad input."""
import json
import os
import re
from collections import OrderedDict

import pytest
import torch

from mmdet_scalenet import load_structure
from mmdet_scalenet.allocation import read_branch_gammas, select_block_flops
from mmdet_scalenet.costs import structure_macs

PROG = 'tools/allocate_neurons.py'


def run(tool, capsys, *args):
    """``(exit status, stdout, stderr)`` of the tool's ``main``: its return value, or the status it exits with."""
    try:
        code = tool.main([str(a) for a in args])
    except SystemExit as exited:
        code = exited.code
    out, err = capsys.readouterr()
    assert 'Traceback' not in out + err
    return code, out, err


def test_block_flops_in_the_authors_layout(allocate_tool, capsys, tmp_path, seed50_file, seed50_state):
    out = tmp_path / 'alloc.json'
    code, stdout, stderr = run(allocate_tool, capsys, seed50_file, '--mode', 'block-flops', '--depth', 50,
                               '--format', 'authors', '-o', out)
    assert code == 0, stderr
    rows = json.loads(out.read_text())
    assert isinstance(rows, list) and len(rows) == 16 and rows[0][-1] == 56
    expected = select_block_flops(read_branch_gammas(seed50_state)).structure
    assert load_structure(str(out)).blocks == expected.blocks
    lines = stdout.splitlines()
    assert 'block-flops allocation from' in lines[0] and 'budget 1 x the ResNet 3x3 conv per block' in lines[0]
    assert re.match(r'stage\s+side\s+blocks\s+neurons before x1/x2/x4/x7\s+neurons after x1/x2/x4/x7\s+'
                    r'GMACs before\s+after\s+ResNet-50$', lines[1])
    stage1 = lines[2].split()
    assert stage1[:7] == ['1', '56', '3', '192', '192', '192', '192']
    assert [int(n) for n in stage1[7:11]] == [sum(c[i] for c in expected.blocks[:3]) for i in range(4)]
    assert f'{structure_macs(expected) / 1e9:.3f}' in lines[6] and 'ResNet-50 4.089' in lines[6]
    assert lines[-1] == f'wrote {out} (authors)'


def test_network_flops_on_a_detector_checkpoint(allocate_tool, capsys, tmp_path, seed50_state):
    detector = OrderedDict((f'backbone.{k}', v) for k, v in seed50_state.items())
    detector['roi_head.bbox_head.fc_cls.weight'] = torch.zeros(81, 1024)
    checkpoint = tmp_path / 'detector.pth'
    torch.save({'meta': {}, 'state_dict': detector}, checkpoint)
    out = tmp_path / 'alloc.json'
    code, stdout, stderr = run(allocate_tool, capsys, checkpoint, '--mode', 'network-flops', '--budget', 3.8,
                               '--name', 'my_scalenet', '-o', out)
    assert code == 0, stderr
    structure = load_structure(str(out))
    assert structure.name == 'my_scalenet'
    assert abs(structure_macs(structure) / 1e9 - 3.8) <= 0.038
    assert 'target 3.8 GMACs, width multiplier m = ' in stdout


def test_refuses_to_overwrite_unless_told(allocate_tool, capsys, tmp_path, seed50_file):
    out = tmp_path / 'alloc.json'
    out.write_text('keep me')
    args = (seed50_file, '--mode', 'block-flops', '-o', out)
    code, _, stderr = run(allocate_tool, capsys, *args)
    assert code == 2 and stderr == f'{PROG}: error: {out}: exists; pass overwrite=True (--overwrite) to replace it\n'
    assert out.read_text() == 'keep me'
    weights = tmp_path / 'w.pth'
    weights.write_text('keep me too')
    code, _, stderr = run(allocate_tool, capsys, *args, '--overwrite', '--export-weights', tmp_path / 'new.pth')
    assert code == 0 and load_structure(str(out)).depth == 50 and (tmp_path / 'new.pth').stat().st_size > 0
    code, _, stderr = run(allocate_tool, capsys, seed50_file, '--mode', 'block-flops', '-o', tmp_path / 'b.json',
                          '--export-weights', weights)
    assert code == 2 and f'{weights}: exists' in stderr and weights.read_text() == 'keep me too'
    assert not (tmp_path / 'b.json').exists()


@pytest.mark.parametrize('option', ['-o', '--export-weights'])
def test_never_writes_over_the_seed_checkpoint(allocate_tool, capsys, tmp_path, seed50_state, option):
    seed = tmp_path / 'seed.pth'
    torch.save(seed50_state, seed)
    before = seed.read_bytes()
    (tmp_path / 'link.pth').symlink_to(seed)
    for target in (seed, tmp_path / 'link.pth', tmp_path / 'sub' / '..' / 'seed.pth'):
        (tmp_path / 'sub').mkdir(exist_ok=True)
        outputs = ['-o', target] if option == '-o' else ['-o', tmp_path / 'a.json', '--export-weights', target]
        code, stdout, stderr = run(allocate_tool, capsys, seed, '--mode', 'block-flops', *outputs, '--overwrite')
        assert code == 2 and stdout == ''
        assert stderr == (f'{PROG}: error: {target}: is also an input ({seed}); writing it would destroy that '
                          'input, so choose another output file\n')
    assert seed.read_bytes() == before and not (tmp_path / 'a.json').exists()


@pytest.mark.parametrize('case', ['directory', 'missing folder', 'same file twice'])
def test_outputs_that_cannot_be_written_are_refused_before_reading(allocate_tool, capsys, tmp_path, case):
    checkpoint = tmp_path / 'never_read.pth'  # does not exist: the outputs are checked first
    if case == 'directory':
        outputs, expected = ['-o', tmp_path], f'{tmp_path}: is a directory; expected a file name'
    elif case == 'missing folder':
        outputs = ['-o', tmp_path / 'no' / 'a.json']
        expected = f'{tmp_path / "no" / "a.json"}: directory {tmp_path / "no"} does not exist'
    else:
        outputs = ['-o', tmp_path / 'a.json', '--export-weights', tmp_path / '.' / 'a.json']
        expected = f'{tmp_path / "." / "a.json"}: given for two outputs'
    code, _, stderr = run(allocate_tool, capsys, checkpoint, '--mode', 'block-flops', *outputs)
    assert code == 2 and stderr.startswith(f'{PROG}: error: {expected}') and stderr.count('\n') == 1, stderr
    assert sorted(os.listdir(tmp_path)) == []


def bad_checkpoint(tmp_path, state):
    path = tmp_path / 'bad.pth'
    torch.save(state, path)
    return path


@pytest.mark.parametrize('case', ['not found', 'not a scalenet', 'wrong depth', 'missing gamma', 'no budget',
                                  'unreachable target', 'unsafe pickle'])
def test_bad_input_gets_a_clear_error_and_no_file(allocate_tool, capsys, tmp_path, seed50_state, case):
    args = ['--mode', 'block-flops']
    if case == 'not found':
        checkpoint, expected = tmp_path / 'nope.pth', f'{tmp_path / "nope.pth"}: checkpoint file not found'
    elif case == 'not a scalenet':
        checkpoint = bad_checkpoint(tmp_path, {'conv1.weight': torch.zeros(64, 3, 7, 7)})
        expected = f'{checkpoint}: no BN gamma of an SA branch: expected a key like "layer1.0.bn2.0.weight"'
    elif case == 'wrong depth':
        checkpoint = bad_checkpoint(tmp_path, seed50_state)
        args += ['--depth', '152']
        expected = f'{checkpoint}: expected depth 152 (3+8+36+3 blocks), got depth 50 (3+4+6+3 blocks)'
    elif case == 'missing gamma':
        state = OrderedDict((k, v) for k, v in seed50_state.items() if k != 'layer3.2.bn2.0.weight')
        checkpoint = bad_checkpoint(tmp_path, state)
        expected = f"{checkpoint}: missing key 'layer3.2.bn2.0.weight': the BN gamma of block layer3.2, branch 0"
    elif case == 'no budget':
        checkpoint = bad_checkpoint(tmp_path, seed50_state)
        args = ['--mode', 'network-flops']
        expected = 'network-flops: a budget (target GMACs at 224, e.g. 3.8) is required'
    elif case == 'unreachable target':
        checkpoint = bad_checkpoint(tmp_path, seed50_state)
        args = ['--mode', 'network-flops', '--budget', '0.2']
        expected = 'network-flops: target 0.2 GMACs is below the smallest allocation (one neuron per block)'
    else:
        checkpoint = tmp_path / 'code.pth'
        torch.save({'model': torch.nn.Linear(1, 1)}, checkpoint)
        expected = f'{checkpoint}: refused by safe loading (weights_only=True)'
    out = tmp_path / 'alloc.json'
    code, stdout, stderr = run(allocate_tool, capsys, checkpoint, *args, '-o', out,
                               '--export-weights', tmp_path / 'w.pth')
    assert code == 2 and stdout == ''
    assert stderr.startswith(f'{PROG}: error: ') and expected in stderr, stderr
    assert not out.exists() and not (tmp_path / 'w.pth').exists()
    assert not [name for name in os.listdir(tmp_path) if '.tmp-' in name]
