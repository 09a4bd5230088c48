"""Every tool answers a user's mistake (a path, a device, a size, a config, an output) with one line on stderr and
exit status 2, before any work and without a traceback; a bug keeps its traceback. The tools' own output checks
are tested beside each tool (tests/allocation/test_cli.py, tests/lab/test_plot.py, tests/deploy/test_onnx.py)."""
import os

import pytest
import torch

from scalenet_lab import cli

from ..common import ROOT, python, run_tool

DEMO_CONFIG = os.path.join(ROOT, 'configs', 'demo', 'faster-rcnn_scalenet50-light_fpn_synthetic-shapes.py')


def user_error(tool, argv, capsys):
    """Run ``tool.main(argv)``; assert that it exits with status 2 and no traceback; return its stderr."""
    with pytest.raises(SystemExit) as exited:
        tool.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert exited.value.code == 2, (out, err)
    assert 'Traceback' not in out + err
    return err


def one_line(err, prog, message):
    assert err.startswith(f'{prog}: error: {message}') and err.count('\n') == 1, err


@pytest.fixture(autouse=True)
def local_rank(monkeypatch):
    """tools/train.py and tools/test.py set LOCAL_RANK as torch.distributed's launcher does: keep it to the test."""
    monkeypatch.setenv('LOCAL_RANK', '0')


def test_user_errors_exit_with_status_2_and_bugs_keep_their_traceback(capsys):
    with pytest.raises(SystemExit) as exited, cli.user_errors('tools/x.py'):
        raise FileNotFoundError('a.pth: checkpoint file not found')
    assert exited.value.code == 2
    assert capsys.readouterr().err == 'tools/x.py: error: a.pth: checkpoint file not found\n'
    with pytest.raises(KeyError), cli.user_errors('tools/x.py'):
        raise KeyError('a bug')


def test_check_outputs(tmp_path):
    (tmp_path / 'old.txt').write_text('old')
    cli.check_outputs([None, str(tmp_path / 'new.txt'), str(tmp_path / 'old.txt')], overwrite=True,
                      inputs=[None, str(tmp_path / 'in.pth')])
    with pytest.raises(FileExistsError, match='old.txt: exists'):
        cli.check_outputs([str(tmp_path / 'old.txt')], overwrite=False)
    with pytest.raises(ValueError, match=r'given for two outputs'):
        cli.check_outputs([str(tmp_path / 'a'), str(tmp_path / '.' / 'a')], overwrite=True)


@pytest.mark.parametrize('argv, message', [
    (['--size', '0'], 'argument --size: expected an integer >= 32, got 0'),
    (['--size', 'big'], "argument --size: expected an integer, got 'big'"),
])
def test_summary_sizes(load_tool, capsys, argv, message):
    assert message in user_error(load_tool('summary'), argv, capsys)


def test_summary_checks_every_structure_before_printing(load_tool, capsys, tmp_path):
    broken = tmp_path / 'broken.json'
    broken.write_text('{')
    err = user_error(load_tool('summary'), ['scalenet50_light', broken], capsys)
    one_line(err, 'tools/summary.py', f'{broken}')


def test_summary_counts_at_the_smallest_size(load_tool, capsys):
    assert load_tool('summary').main(['scalenet50_light', '--size', '32']) == 0
    assert 'scalenet50_light' in capsys.readouterr().out


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the message for a machine without a GPU')
def test_benchmark_on_a_missing_gpu_fails_at_once(load_tool, capsys):
    err = user_error(load_tool('benchmark'), ['--device', 'cuda', '--sizes', '64x64'], capsys)
    one_line(err, 'tools/benchmark.py', "device 'cuda': no CUDA GPU is available here")


@pytest.mark.parametrize('case', ['device', 'missing folder', 'exists', 'directory', 'config', 'not a detector'])
def test_benchmark_checks_before_measuring(load_tool, capsys, tmp_path, case):
    argv = ['--sizes', '64x64', '--repeats', '1', '--no-train']
    if case == 'device':
        argv += ['--device', 'tpu']
        message = "device 'tpu': expected 'cpu', 'cuda' or 'cuda:N'"
    elif case == 'missing folder':
        argv += ['--out', tmp_path / 'no' / 'report.md']
        message = f'{tmp_path / "no" / "report.md"}: directory {tmp_path / "no"} does not exist'
    elif case == 'exists':
        (tmp_path / 'report.md').write_text('old')
        argv += ['--out', tmp_path / 'report.md']
        message = f'{tmp_path / "report.md"}: exists; pass overwrite=True (--overwrite) to replace it'
    elif case == 'directory':
        argv += ['--out', tmp_path]
        message = f'{tmp_path}: is a directory'
    elif case == 'config':
        argv += ['--config', tmp_path / 'nope.py']
        message = f'{tmp_path / "nope.py"}: config file not found'
    else:
        config = tmp_path / 'vgg.py'
        config.write_text("model = dict(type='FasterRCNN', backbone=dict(type='VGG'))\n")
        argv += ['--config', config]
        message = f'{config}: the backbone must be ScaleNet or ResNet to compare the two, got VGG'
    err = user_error(load_tool('benchmark'), argv, capsys)
    one_line(err, 'tools/benchmark.py', message)
    assert '[benchmark]' not in err
    if case == 'exists':
        assert (tmp_path / 'report.md').read_text() == 'old'


@pytest.mark.parametrize('tool', ['train', 'test'])
def test_a_config_that_does_not_exist(load_tool, capsys, tmp_path, tool):
    argv = [tmp_path / 'nope.py'] + ([tmp_path / 'x.pth'] if tool == 'test' else [])
    err = user_error(load_tool(tool), argv, capsys)
    one_line(err, f'tools/{tool}.py', f'{tmp_path / "nope.py"}: config file not found')


def test_a_config_that_does_not_parse(load_tool, capsys, tmp_path):
    config = tmp_path / 'broken.py'
    config.write_text('model = dict(\n')
    err = user_error(load_tool('train'), [config], capsys)
    assert err.startswith('tools/train.py: error: ') and str(config) in err


@pytest.mark.parametrize('case', ['checkpoint', 'out folder', 'out exists', 'out is the checkpoint', 'out type'])
def test_test_tool_checks_before_the_run(load_tool, capsys, tmp_path, case):
    checkpoint = tmp_path / 'epoch_1.pth'
    torch.save({'state_dict': {'w': torch.zeros(1)}}, checkpoint)
    weights = checkpoint.read_bytes()
    (tmp_path / 'old.pkl').write_bytes(b'old')
    argv = [DEMO_CONFIG, checkpoint, '--data-root', tmp_path / 'no_data']
    if case == 'checkpoint':
        argv[1] = tmp_path / 'nope.pth'
        message = f'{tmp_path / "nope.pth"}: checkpoint file not found'
    elif case == 'out folder':
        argv += ['--out', tmp_path / 'no' / 'p.pkl']
        message = f'{tmp_path / "no" / "p.pkl"}: directory {tmp_path / "no"} does not exist'
    elif case == 'out exists':
        argv += ['--out', tmp_path / 'old.pkl']
        message = f'{tmp_path / "old.pkl"}: exists; pass overwrite=True (--overwrite) to replace it'
    elif case == 'out is the checkpoint':
        link = tmp_path / 'link.pkl'
        link.symlink_to(checkpoint)
        argv += ['--out', link, '--overwrite']
        message = f'{link}: is also an input ({checkpoint})'
    else:
        argv += ['--out', tmp_path / 'p.json']
        message = f'--out {tmp_path / "p.json"}: the dump file must be a .pkl or .pickle file'
    err = user_error(load_tool('test'), argv, capsys)
    one_line(err, 'tools/test.py', message)
    assert checkpoint.read_bytes() == weights and (tmp_path / 'old.pkl').read_bytes() == b'old'


def test_demos_leave_a_folder_that_is_not_their_data_alone(load_tool, capsys, tmp_path):
    data = tmp_path / 'coco'
    data.mkdir()
    (data / 'mine.txt').write_text('keep')
    for tool in ('demo', 'allocation_demo'):
        err = user_error(load_tool(tool), ['--work-dir', tmp_path / 'work', '--data-root', data], capsys)
        assert f'tools/{tool}.py: error: {data}: exists and does not look like a synthetic shapes data set' in err
    assert sorted(p.name for p in tmp_path.rglob('*')) == ['coco', 'mine.txt']


def test_allocation_study_refuses_an_existing_report_before_training(load_tool, capsys, tmp_path):
    report = tmp_path / 'study.md'
    report.write_text('old')
    err = user_error(load_tool('allocation_study'), ['--work-dir', tmp_path / 'work', '--report', report], capsys)
    one_line(err, 'tools/allocation_study.py', f'{report}: exists; pass overwrite=True (--overwrite)')
    assert sorted(os.listdir(tmp_path)) == ['study.md'] and report.read_text() == 'old'


def test_a_user_sees_one_line_and_status_2():
    """As a user runs it: a separate process, its real exit status and stderr."""
    out = run_tool([python(), 'tools/train.py', 'configs/nope.py'], timeout=300)
    assert out.returncode == 2 and 'Traceback' not in out.stderr, out.stderr
    assert out.stderr.splitlines()[-1] == 'tools/train.py: error: configs/nope.py: config file not found', out.stderr
