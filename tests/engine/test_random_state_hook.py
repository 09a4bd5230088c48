"""RandomStateHook restores the saved generator states on resume, and says when that cannot be exact."""
import random
from types import SimpleNamespace
from unittest import mock

import pytest

from mmdet_scalenet.engine import RandomStateHook


class Logger:
    def __init__(self):
        self.infos, self.warnings = [], []

    def info(self, message):
        self.infos.append(message)

    def warning(self, message):
        self.warnings.append(message)


@pytest.mark.parametrize('world_size', [1, 2])
def test_resume_restores_the_states_and_warns_with_several_ranks(world_size):
    hook, checkpoint = RandomStateHook(), {}
    random.seed(5)
    hook.before_save_checkpoint(None, checkpoint)
    expected = random.random()
    random.seed(7)
    runner = SimpleNamespace(iter=10, logger=Logger())
    hook.after_load_checkpoint(runner, checkpoint)
    with mock.patch('mmdet_scalenet.engine.random_state_hook.get_world_size', return_value=world_size):
        hook.before_train(runner)
    assert random.random() == expected
    assert runner.logger.infos == ['restored the random number generator states saved in the resumed checkpoint']
    assert len(runner.logger.warnings) == (world_size > 1)
    if world_size > 1:
        assert 'random states of rank 0 only' in runner.logger.warnings[0]
