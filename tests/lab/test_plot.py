"""tools/plot_structure.py: stacked-bar pictures of structures, alone or before/after; errors for bad input."""
import os

import pytest
from matplotlib.image import imread

from mmdet_scalenet import save_structure
from mmdet_scalenet.allocation import read_branch_gammas, select_network_flops
from mmdet_scalenet.structure import BUILTIN_STRUCTURES, load_structure
from scalenet_lab.plot import plot_structures

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


@pytest.fixture(scope='module')
def plot_tool(load_tool):
    return load_tool('plot_structure')


def run(tool, capsys, *args):
    """``(exit status, stdout, stderr)`` of the tool's ``main``: its return value, or the status it exits with."""
    try:
        code = tool.main([str(a) for a in args])
    except SystemExit as exited:
        code = exited.code
    out, err = capsys.readouterr()
    assert 'Traceback' not in out + err
    return code, out, err


def test_every_builtin_structure(plot_tool, capsys, tmp_path):
    code, out, err = run(plot_tool, capsys, '--builtins', tmp_path)
    assert code == 0, err
    assert sorted(os.listdir(tmp_path)) == sorted(f'{name}.png' for name in BUILTIN_STRUCTURES)
    for name in BUILTIN_STRUCTURES:
        data = (tmp_path / f'{name}.png').read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000
        assert f'wrote {tmp_path / name}.png' in out
    # a wider picture for more blocks
    assert imread(tmp_path / 'scalenet152.png').shape[1] > imread(tmp_path / 'scalenet50.png').shape[1]


def test_an_allocation_before_and_after(plot_tool, capsys, tmp_path, seed50_state):
    allocation = select_network_flops(read_branch_gammas(seed50_state), 3.8)
    save_structure(allocation.seed, tmp_path / 'seed.json')
    save_structure(allocation.structure, tmp_path / 'alloc.json')
    code, _, err = run(plot_tool, capsys, tmp_path / 'alloc.json', '-o', tmp_path / 'alone.png')
    assert code == 0, err
    code, _, err = run(plot_tool, capsys, tmp_path / 'seed.json', tmp_path / 'alloc.json', '-o',
                       tmp_path / 'pair.png', '--titles', 'seed', 'allocated')
    assert code == 0, err
    pair = (tmp_path / 'pair.png').read_bytes()
    assert pair.startswith(PNG_SIGNATURE) and len(pair) > 10_000
    assert imread(tmp_path / 'pair.png').shape[1] > 1.5 * imread(tmp_path / 'alone.png').shape[1]
    code, _, err = run(plot_tool, capsys, tmp_path / 'seed.json', tmp_path / 'alloc.json', '-o',
                       tmp_path / 'pair.svg')
    assert code == 0, err
    svg = (tmp_path / 'pair.svg').read_text()
    assert svg.lstrip().startswith('<?xml') and '<svg' in svg


@pytest.mark.parametrize('case', ['format', 'exists', 'unknown', 'titles', 'directory', 'missing folder'])
def test_bad_input_gets_a_clear_error(plot_tool, capsys, tmp_path, case):
    out = tmp_path / 'picture.png'
    args = ['scalenet50', '-o', out]
    if case == 'directory':
        args = ['scalenet50', '-o', tmp_path]
        expected = f'{tmp_path}: is a directory; expected a file name'
    elif case == 'missing folder':
        args = ['scalenet50', '-o', tmp_path / 'no' / 'p.png']
        expected = f'{tmp_path / "no" / "p.png"}: directory {tmp_path / "no"} does not exist'
    elif case == 'format':
        args = ['scalenet50', '-o', tmp_path / 'picture.jpg']
        expected = f"{tmp_path / 'picture.jpg'}: unknown picture format 'jpg': expected a file ending in .png, " \
                   '.svg, .pdf'
    elif case == 'exists':
        out.write_bytes(b'old')
        expected = f'{out}: exists; pass overwrite=True (--overwrite) to replace it'
    elif case == 'unknown':
        args = ['scalenet51', '-o', out]
        expected = "unknown structure 'scalenet51': expected one of scalenet50, scalenet50_light"
    else:
        args += ['--titles', 'a', 'b']
        expected = 'plot_structures: 1 structures but 2 titles'
    code, _, err = run(plot_tool, capsys, *args)
    assert code == 2 and err.startswith('tools/plot_structure.py: error: ') and expected in err, err
    assert err.count('\n') == 1
    assert os.listdir(tmp_path) == (['picture.png'] if case == 'exists' else [])
    if case == 'exists':
        assert out.read_bytes() == b'old'


def test_builtins_are_all_checked_before_the_first_is_drawn(plot_tool, capsys, tmp_path):
    last = f'{list(BUILTIN_STRUCTURES)[-1]}.png'
    (tmp_path / last).write_bytes(b'old')
    code, out, err = run(plot_tool, capsys, '--builtins', tmp_path)
    assert code == 2 and out == '' and f'{last}: exists' in err
    assert os.listdir(tmp_path) == [last]
    code, _, err = run(plot_tool, capsys, '--builtins', tmp_path / 'no')
    assert code == 2 and f'directory {tmp_path / "no"} does not exist' in err


def test_arguments_that_do_not_go_together(plot_tool, capsys, tmp_path):
    with pytest.raises(SystemExit):
        plot_tool.main(['scalenet50', '--builtins', str(tmp_path)])
    assert '--builtins takes no structures' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        plot_tool.main(['scalenet50'])
    assert 'give one or more structures and -o OUT' in capsys.readouterr().err


def test_the_function_rejects_non_structures(tmp_path):
    with pytest.raises(TypeError, match=r"expected Structures, got \['str'\]"):
        plot_structures(['scalenet50'], tmp_path / 'p.png')
    with pytest.raises(ValueError, match='expected at least one structure'):
        plot_structures([], tmp_path / 'p.png')
    plot_structures([load_structure('scalenet50_light')], tmp_path / 'p.pdf')
    assert (tmp_path / 'p.pdf').read_bytes().startswith(b'%PDF')
