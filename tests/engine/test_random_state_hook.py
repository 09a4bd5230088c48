"""RandomStateHook saves and restores each generator (Python, NumPy, torch, CUDA) on resume, keeps every rank's
states in a multi-process run, and says when a checkpoint's states do not fit the run."""
import random
from types import SimpleNamespace
from unittest import mock

import numpy as np
import pytest
import torch
from mmengine.hooks import CheckpointHook

from mmdet_scalenet.engine import RandomStateHook

MODULE = 'mmdet_scalenet.engine.random_state_hook'
RESTORED = 'restored the random number generator states saved in the resumed checkpoint'


class Logger:
    def __init__(self):
        self.infos, self.warnings = [], []

    def info(self, message):
        self.infos.append(message)

    def warning(self, message):
        self.warnings.append(message)


def make_runner(iteration=10, epoch=0, max_epochs=2, hooks=()):
    return SimpleNamespace(iter=iteration, epoch=epoch, max_epochs=max_epochs, hooks=list(hooks), logger=Logger())


def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # every CUDA device too


def cuda_draw():
    return torch.rand(4, device='cuda').tolist()


# One generator each: the hook forgetting any one of them fails its case alone.
DRAWS = {
    'python': lambda: random.random(),
    'numpy': lambda: np.random.rand(4).tolist(),
    'torch': lambda: torch.rand(4).tolist(),
    'cuda': pytest.param(cuda_draw, marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                               reason='needs a CUDA device')),
}


@pytest.mark.parametrize('draw', DRAWS.values(), ids=DRAWS.keys())
def test_resume_restores_each_generator(draw):
    hook, checkpoint = RandomStateHook(), {}
    seed_all(5)
    hook.before_save_checkpoint(make_runner(), checkpoint)
    expected = draw()
    seed_all(7)
    assert draw() != expected  # the test would pass without a restore otherwise
    runner = make_runner()
    hook.after_load_checkpoint(runner, checkpoint)
    hook.before_train(runner)
    assert draw() == expected
    assert runner.logger.infos == [RESTORED] and not runner.logger.warnings


def test_load_from_restores_nothing():
    hook, checkpoint = RandomStateHook(), {}
    seed_all(5)
    hook.before_save_checkpoint(make_runner(), checkpoint)
    seed_all(7)
    expected = random.random()
    seed_all(7)
    runner = make_runner(iteration=0)  # load_from: the run starts at iteration 0
    hook.after_load_checkpoint(runner, checkpoint)
    hook.before_train(runner)
    assert random.random() == expected
    assert not runner.logger.infos


def two_ranks(rank, gathered=None):
    """Patches for rank ``rank`` of 2 processes; ``all_gather_object`` returns ``gathered``."""
    return (mock.patch(f'{MODULE}.get_world_size', return_value=2), mock.patch(f'{MODULE}.get_rank', return_value=rank),
            mock.patch(f'{MODULE}.all_gather_object', return_value=gathered))


def test_every_rank_saves_its_states_before_the_checkpoint_hook_saves():
    hook, checkpoint = RandomStateHook(), {}
    runner = make_runner(iteration=20, epoch=0, hooks=[CheckpointHook(interval=1)])
    states = [{'rank': 0}, {'rank': 1}]
    world, rank, gather = two_ranks(0, states)
    with world, rank, gather as gathered:
        hook.after_train_epoch(runner)
        hook.before_save_checkpoint(runner, checkpoint)
    gathered.assert_called_once()
    assert checkpoint['random_state'] == {'ranks': states}


@pytest.mark.parametrize('interval, iteration_at_save', [(2, 20), (1, 21)], ids=['no save due', 'another iteration'])
def test_states_are_gathered_only_for_the_save_that_follows(interval, iteration_at_save):
    hook, checkpoint = RandomStateHook(), {}
    runner = make_runner(iteration=20, epoch=0, max_epochs=4, hooks=[CheckpointHook(interval=interval)])
    world, rank, gather = two_ranks(0, [{'rank': 0}, {'rank': 1}])
    with world, rank, gather as gathered:
        hook.after_train_epoch(runner)
        runner.iter = iteration_at_save
        hook.before_save_checkpoint(runner, checkpoint)
    assert gathered.call_count == (interval == 1)
    assert len(checkpoint['random_state']['ranks']) == 1  # rank 0's own, not the others'


def test_each_rank_restores_its_own_states():
    states = []
    for seed in (11, 12):
        seed_all(seed)
        checkpoint = {}
        RandomStateHook().before_save_checkpoint(make_runner(), checkpoint)
        states.append(checkpoint['random_state']['ranks'][0])
    expected = torch.rand(4).tolist()  # what rank 1 (seed 12) draws next
    seed_all(7)
    hook, runner = RandomStateHook(), make_runner()
    hook.after_load_checkpoint(runner, {'random_state': {'ranks': states}})
    world, rank, gather = two_ranks(1)
    with world, rank, gather:
        hook.before_train(runner)
    assert torch.rand(4).tolist() == expected
    assert runner.logger.infos == [RESTORED]


def test_another_number_of_ranks_restores_nothing_and_warns():
    hook, checkpoint = RandomStateHook(), {}
    seed_all(5)
    hook.before_save_checkpoint(make_runner(), checkpoint)  # one process
    seed_all(7)
    expected = random.random()
    seed_all(7)
    runner = make_runner()
    hook.after_load_checkpoint(runner, checkpoint)
    world, rank, gather = two_ranks(0)
    with world, rank, gather:
        hook.before_train(runner)
    assert random.random() == expected
    assert not runner.logger.infos
    assert runner.logger.warnings == [
        'the checkpoint holds the random number generator states of 1 process(es), this run has 2: no states '
        'restored, so this resumed run does not repeat the uninterrupted one']


def test_a_single_unranked_state_is_one_process_states():
    seed_all(5)
    unranked = {'python': random.getstate(), 'numpy': np.random.get_state(), 'torch': torch.get_rng_state(),
                'cuda': []}
    expected = random.random()
    seed_all(7)
    hook, runner = RandomStateHook(), make_runner()
    hook.after_load_checkpoint(runner, {'random_state': unranked})
    hook.before_train(runner)
    assert random.random() == expected
