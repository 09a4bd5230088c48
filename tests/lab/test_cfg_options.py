"""--cfg-options reads dicts as a config file writes them (so a hook can be added from the command line), everything
else as mmengine's DictAction, and names the value it cannot read."""
import argparse
import os

import pytest
from mmengine.config import DictAction
from mmengine.runner import Runner
from torch import nn

from mmdet_scalenet.engine import RandomStateHook
from scalenet_lab import cli

from ..common import ROOT

DEMO_CONFIG = os.path.join(ROOT, 'configs', 'demo', 'faster-rcnn_scalenet50-light_fpn_synthetic-shapes.py')
ADD_HOOK = "custom_hooks=[dict(type='RandomStateHook')]"


def parse(*options, action=cli.ConfigOptionsAction):
    parser = argparse.ArgumentParser(prog='tools/train.py')
    parser.add_argument('--cfg-options', nargs='+', action=action)
    return parser.parse_args(['--cfg-options', *options]).cfg_options


def test_a_hook_given_on_the_command_line_reaches_the_runner(load_tool, tmp_path, monkeypatch):
    monkeypatch.setenv('LOCAL_RANK', '0')  # tools/train.py sets it as torch.distributed's launcher does
    args = load_tool('train').parse_args([DEMO_CONFIG, '--work-dir', str(tmp_path), '--cfg-options', ADD_HOOK])
    cfg = cli.load_config(args)
    assert cfg.custom_hooks == [dict(type='RandomStateHook')]
    runner = Runner(model=nn.Linear(1, 1), work_dir=str(tmp_path), custom_hooks=cfg.custom_hooks)
    assert sum(isinstance(hook, RandomStateHook) for hook in runner.hooks) == 1


def test_dicts_read_as_in_a_config_file():
    assert parse(ADD_HOOK) == {'custom_hooks': [{'type': 'RandomStateHook'}]}
    assert parse("a={'b': (1, -2.5, None)}", 'c=dict(d=dict(e=[True]))') == {
        'a': {'b': (1, -2.5, None)}, 'c': {'d': {'e': [True]}}}
    # mmengine's reading of the same: a string, which the Runner refuses ("hook should be an instance of Hook or dict")
    assert parse(ADD_HOOK, action=DictAction) == {'custom_hooks': ["dict(type='RandomStateHook')"]}


def test_other_values_read_as_mmengine_reads_them():
    values = ['a=1', 'b=0.5', 'c=None', 'd=true', 'e=[x,y]', 'f=1,2', 'g=(1,[2,3])', 'h=mmdet::x.py', 'i=/data/c c',
              "j='quoted'", 'k=text']
    assert parse(*values) == parse(*values, action=DictAction)


@pytest.mark.parametrize('option, message', [
    ("custom_hooks=[dict(type=RandomStateHook)]", 'RandomStateHook is not a literal (strings need quotes'),
    ('x=dict(**other)', 'dict(**other) is not a literal'),
    ("x={'a': len([])}", 'len([]) is not a literal'),
    ('model.backbone', 'expected KEY=VALUE'),
])
def test_an_unreadable_value_is_an_argument_error(option, message, capsys):
    with pytest.raises(SystemExit) as exited:
        parse(option)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f'tools/train.py: error: --cfg-options {option}: ' in err and message in err, err
