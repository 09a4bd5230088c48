"""Save random number generator states in checkpoints so that a resumed run continues bit for bit."""
import random

import numpy as np
import torch
from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

__all__ = ['RandomStateHook']


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Store the Python, NumPy and torch (CPU and CUDA) generator states in every checkpoint and restore them when
    training resumes from it.

    mmengine re-seeds a resumed run with its original seed, so the random draws after the resume point (data
    augmentation, RPN and RoI sampling) differ from those of an uninterrupted run. With this hook, a run stopped after
    epoch k and resumed draws exactly what the uninterrupted run drew in epoch k + 1 (given deterministic kernels and
    no validation between the checkpoint and the next epoch). Loading weights with ``load_from`` restores nothing.
    Only rank 0 writes checkpoints, so in a multi-process run every rank restores rank 0's states: the resumed run
    is then not bit for bit the uninterrupted one (a warning says so).
    """
    priority = 'VERY_LOW'

    def __init__(self):
        self._resumed_state = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['random_state'] = {
            'python': random.getstate(),
            'numpy': np.random.get_state(),
            'torch': torch.get_rng_state(),
            'cuda': torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        }

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._resumed_state = checkpoint.get('random_state')

    def before_train(self, runner) -> None:
        # runner.iter > 0 only when the checkpoint was resumed from, not merely loaded with load_from.
        state, self._resumed_state = self._resumed_state, None
        if state is None or runner.iter == 0:
            return
        random.setstate(state['python'])
        np.random.set_state(state['numpy'])
        torch.set_rng_state(state['torch'])
        if state['cuda'] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state['cuda'])
        runner.logger.info('restored the random number generator states saved in the resumed checkpoint')
        if get_world_size() > 1:
            runner.logger.warning('the checkpoint holds the random states of rank 0 only; every rank restored them, '
                                  'so this resumed run does not repeat the uninterrupted one bit for bit')
