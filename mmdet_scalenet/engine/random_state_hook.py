"""Save random number generator states in checkpoints so that a resumed run continues bit for bit."""
import random
from typing import List, Optional, Tuple

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import CheckpointHook, Hook
from mmengine.registry import HOOKS

__all__ = ['RandomStateHook']


def _random_state() -> dict:
    """This process's Python, NumPy and torch (CPU and every visible CUDA device) generator states."""
    return {
        'python': random.getstate(),
        'numpy': np.random.get_state(),
        'torch': torch.get_rng_state(),
        'cuda': torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def _set_random_state(state: dict) -> None:
    random.setstate(state['python'])
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'])
    if state['cuda'] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


def _checkpoint_saved_now(runner, by_epoch: bool) -> bool:
    """Whether a ``CheckpointHook`` of ``runner`` saves in this ``after_train_epoch`` (``by_epoch``) or
    ``after_train_iter``: the hook's own tests, as its methods of those stages apply them."""
    for hook in runner.hooks:
        if not isinstance(hook, CheckpointHook) or hook.by_epoch != by_epoch:
            continue
        if by_epoch:
            due = hook.every_n_epochs(runner, hook.interval, hook.save_begin) or (
                hook.save_last and hook.is_last_train_epoch(runner))
        else:
            due = hook.every_n_train_iters(runner, hook.interval, hook.save_begin) or (
                hook.save_last and hook.is_last_train_iter(runner))
        if due:
            return True
    return False


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Store the Python, NumPy and torch (CPU and CUDA) generator states of every process in every checkpoint and
    restore them when training resumes from it.

    mmengine re-seeds a resumed run with its original seed, so the random draws after the resume point (data
    augmentation, RPN and RoI sampling) differ from those of an uninterrupted run. With this hook, a run stopped after
    epoch k and resumed draws exactly what the uninterrupted run drew in epoch k + 1 (given deterministic kernels and
    no validation between the checkpoint and the next epoch). Loading weights with ``load_from`` restores nothing.

    Several processes: each draws from its own generators, but only rank 0 writes checkpoints. So when a
    ``CheckpointHook`` is about to save (this hook runs just before it, at ``LOW`` priority, and asks it), every rank
    sends its states to all (one ``all_gather_object``); the checkpoint holds them by rank and on resume each rank
    takes its own. A checkpoint saved elsewhere (the best checkpoint, during validation, which rank 0 saves alone)
    holds rank 0's states only. When the checkpoint holds another number of ranks than the resumed run has, nothing
    is restored and a warning says so: the run goes on, without repeating the uninterrupted one.
    """
    priority = 'LOW'  # CheckpointHook's is VERY_LOW: the states are gathered before it saves

    def __init__(self):
        self._resumed_states: Optional[List[dict]] = None
        self._gathered: Optional[Tuple[int, List[dict]]] = None  # (runner.iter, the states by rank)

    def _gather_if_saving(self, runner, by_epoch: bool) -> None:
        if get_world_size() > 1 and _checkpoint_saved_now(runner, by_epoch):
            self._gathered = runner.iter, all_gather_object(_random_state())

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._gather_if_saving(runner, by_epoch=False)

    def after_train_epoch(self, runner) -> None:
        self._gather_if_saving(runner, by_epoch=True)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        gathered, self._gathered = self._gathered, None
        if gathered is not None and gathered[0] == runner.iter:
            checkpoint['random_state'] = {'ranks': gathered[1]}
        else:
            checkpoint['random_state'] = {'ranks': [_random_state()]}

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('random_state')
        # a single state, not by rank: the format of a checkpoint written before the states of every rank were kept
        self._resumed_states = None if state is None else state['ranks'] if 'ranks' in state else [state]

    def before_train(self, runner) -> None:
        # runner.iter > 0 only when the checkpoint was resumed from, not merely loaded with load_from.
        states, self._resumed_states = self._resumed_states, None
        if states is None or runner.iter == 0:
            return
        world_size = get_world_size()
        if len(states) != world_size:
            runner.logger.warning(
                f'the checkpoint holds the random number generator states of {len(states)} process(es), this run has '
                f'{world_size}: no states restored, so this resumed run does not repeat the uninterrupted one')
            return
        _set_random_state(states[get_rank()])
        runner.logger.info('restored the random number generator states saved in the resumed checkpoint')
