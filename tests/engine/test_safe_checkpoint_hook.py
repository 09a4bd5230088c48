"""SafeCheckpointHook: a run killed while saving keeps its previous checkpoint and a valid last_checkpoint; the
Runner's loads (load_from, resume) refuse weights that would load silently wrong, and a ScaleNet of another
structure, while fine-tuning to another number of classes still loads; tools/train.py and tools/test.py name a
checkpoint file that is not whole in one line."""
import os
import re
import signal
import subprocess
import sys
import uuid

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.fileio import LocalBackend
from mmengine.model import BaseModel
from mmengine.runner import Runner

from mmdet_scalenet import CheckpointError, ScaleNet
from mmdet_scalenet.engine.safe_checkpoint_hook import checkpoint_to_load
from mmdet_scalenet.utils.checkpoint import check_checkpoint_file
from tests.common import ROOT

STRUCTURE = 'scalenet50_light'


class ToyClassifier(BaseModel):
    """A one-stage ScaleNet (stem and stage 1) with a linear head: small enough to train a few steps in seconds."""

    def __init__(self, num_classes=3, structure=STRUCTURE):
        super().__init__()
        self.backbone = ScaleNet(depth=50, structure=structure, num_stages=1, out_indices=(0, ), frozen_stages=-1)
        self.head = nn.Linear(256, num_classes)

    def forward(self, inputs, labels=None, mode='tensor'):
        logits = self.head(self.backbone(inputs)[0].mean((2, 3)))
        return {'loss': F.cross_entropy(logits, labels)} if mode == 'loss' else logits


class ToyData(torch.utils.data.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return torch.full((3, 16, 16), float(i)), i % 3


def make_runner(work_dir, max_epochs=2, model=None, **kwargs):
    return Runner(
        model=model or ToyClassifier(), work_dir=str(work_dir), experiment_name=f'safe_ckpt_{uuid.uuid4().hex}',
        train_dataloader=dict(dataset=ToyData(), sampler=dict(type='DefaultSampler', shuffle=False), batch_size=2,
                              num_workers=0, collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs), optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(checkpoint=dict(type='SafeCheckpointHook', interval=1, max_keep_ckpts=1)),
        default_scope=None, **kwargs)


def train_and_die(work_dir: str) -> None:
    """Train 2 epochs; while epoch 2's checkpoint is being written, half of it on disk, the process is killed."""
    put = LocalBackend.put

    def put_then_die(self, obj, filepath):
        if 'epoch_2' not in os.path.basename(filepath):
            return put(self, obj, filepath)
        with open(filepath, 'wb') as f:
            f.write(obj[:len(obj) // 2])
            f.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    LocalBackend.put = put_then_die
    make_runner(work_dir).train()


def last_checkpoint(work_dir):
    with open(os.path.join(work_dir, 'last_checkpoint')) as f:
        return f.read()


@pytest.mark.slow  # a subprocess: about 10 s
def test_a_run_killed_while_saving_keeps_the_previous_checkpoint_and_resumes(tmp_path):
    work_dir = str(tmp_path)
    killed = subprocess.run([sys.executable, '-c', 'import sys; from tests.engine.test_safe_checkpoint_hook import '
                             'train_and_die; train_and_die(sys.argv[1])', work_dir],
                            cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True,
                            timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    epoch_1 = os.path.join(work_dir, 'epoch_1.pth')
    files = os.listdir(work_dir)
    assert 'epoch_1.pth' in files and 'epoch_2.pth' not in files  # max_keep_ckpts=1 did not remove it first
    assert last_checkpoint(work_dir) == epoch_1
    check_checkpoint_file(epoch_1)
    assert torch.load(epoch_1, map_location='cpu', weights_only=True)['meta']['epoch'] == 1
    stale = [name for name in files if name.startswith('.epoch_2.pth.tmp-')]
    assert len(stale) == 1  # the half-written temporary, under a hidden name

    resumed = make_runner(work_dir, resume=True)
    resumed.train()
    assert resumed.epoch == 2
    files = os.listdir(work_dir)
    assert 'epoch_2.pth' in files and 'epoch_1.pth' not in files
    assert not [name for name in files if name.startswith('.epoch_')]  # the killed run's temporary is removed
    assert last_checkpoint(work_dir) == os.path.join(work_dir, 'epoch_2.pth')
    assert torch.load(os.path.join(work_dir, 'epoch_2.pth'), map_location='cpu', weights_only=True)['meta'][
        'epoch'] == 2


def trained_checkpoint(tmp_path, model, edit=None):
    path = str(tmp_path / f'trained_{uuid.uuid4().hex[:6]}.pth')
    state = {k: v.clone() for k, v in model.state_dict().items()}
    if edit:
        edit(state)
    torch.save({'state_dict': state, 'meta': {}}, path)
    return path


def test_load_from_refuses_non_finite_weights_anywhere_naming_the_file(tmp_path):
    path = trained_checkpoint(tmp_path, ToyClassifier(), lambda state: state['head.bias'].fill_(float('nan')))
    runner = make_runner(tmp_path / 'run', load_from=path)
    with pytest.raises(CheckpointError, match=re.escape(f'{path}: 1 tensors hold NaN or infinite values (a diverged '
                                                        'or corrupted run?): head.bias')):
        runner.load_or_resume()


def test_load_from_refuses_integer_weights_where_the_model_has_floats(tmp_path):
    path = trained_checkpoint(tmp_path, ToyClassifier(),
                              lambda state: state.update({'head.weight': state['head.weight'].long()}))
    with pytest.raises(CheckpointError, match=re.escape(f'{path}: 1 weight tensors are int64 where floats belong')):
        make_runner(tmp_path / 'run', load_from=path).load_or_resume()


@pytest.mark.parametrize('route', ['load_from', 'resume'])
def test_a_backbone_of_another_structure_stops_the_run(tmp_path, route):
    path = trained_checkpoint(tmp_path, ToyClassifier(structure='scalenet50'))
    runner = make_runner(tmp_path / 'run', load_from=path, resume=route == 'resume')
    with pytest.raises(CheckpointError, match=re.escape(
            "checkpoint does not fit the configured ScaleNet (the keys under 'backbone.'):\n")) as info:
        runner.train()
    assert '\n  shape mismatch (' in str(info.value)


def test_fine_tuning_to_another_number_of_classes_loads_the_backbone(tmp_path):
    source = ToyClassifier(num_classes=5)
    for p in source.parameters():
        p.data.normal_()
    runner = make_runner(tmp_path / 'run', model=ToyClassifier(num_classes=3), load_from=trained_checkpoint(
        tmp_path, source))
    runner.load_or_resume()
    loaded = runner.model.backbone.state_dict()
    assert all(torch.equal(value, loaded[key]) for key, value in source.backbone.state_dict().items())
    assert runner.model.head.weight.shape == (3, 256)


def test_checkpoint_to_load_finds_the_file_the_runner_loads(tmp_path):
    work_dir = str(tmp_path)
    assert checkpoint_to_load('a.pth', True, work_dir) == 'a.pth'
    assert checkpoint_to_load(None, False, work_dir) is None
    assert checkpoint_to_load(None, True, work_dir) is None  # nothing to resume: the Runner starts afresh
    record = tmp_path / 'last_checkpoint'
    record.write_text('')
    with pytest.raises(CheckpointError, match=re.escape(f'{record}: empty; it should name the checkpoint')):
        checkpoint_to_load(None, True, work_dir)
    epoch_3 = str(tmp_path / 'epoch_3.pth')
    record.write_text(epoch_3)
    with pytest.raises(FileNotFoundError, match=re.escape(f'{epoch_3}: checkpoint file not found (named by {record}')):
        checkpoint_to_load(None, True, work_dir)
    torch.save({}, epoch_3)
    assert checkpoint_to_load(None, True, work_dir) == epoch_3


DEMO_CONFIG = os.path.join(ROOT, 'configs', 'demo', 'faster-rcnn_scalenet50-light_fpn_synthetic-shapes.py')


@pytest.mark.parametrize('how', ['path', 'auto'])
def test_resuming_from_a_truncated_checkpoint_is_a_one_line_error(tmp_path, load_tool, capsys, how):
    path = trained_checkpoint(tmp_path, nn.Linear(20, 20))
    with open(path, 'r+b') as f:
        f.truncate(os.path.getsize(path) // 2)
    if how == 'auto':
        (tmp_path / 'last_checkpoint').write_text(path)
    resume = ['--resume', path] if how == 'path' else ['--resume']
    with pytest.raises(SystemExit) as exit:
        load_tool('train').main([DEMO_CONFIG, '--work-dir', str(tmp_path), *resume])
    assert exit.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith(f'tools/train.py: error: {path}: truncated or corrupt checkpoint (')
    assert error.count('\n') == 1


def test_testing_a_file_that_is_not_a_checkpoint_is_a_one_line_error(tmp_path, load_tool, capsys):
    path = tmp_path / 'structure.json'
    path.write_text('{"name": "mine"}')
    with pytest.raises(SystemExit) as exit:
        load_tool('test').main([DEMO_CONFIG, str(path), '--work-dir', str(tmp_path)])
    assert exit.value.code == 2
    assert capsys.readouterr().err == (f'tools/test.py: error: {path}: not a PyTorch checkpoint: it is a text file '
                                       '(it starts with \'{"name": "mine"}\')\n')
