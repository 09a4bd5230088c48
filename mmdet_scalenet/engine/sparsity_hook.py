"""L1 sparsity on the BatchNorm scales that rank a seed network's neurons, as a Runner hook.

The neuron allocation scores every branch neuron of a trained seed network by the gamma of the BatchNorm after it
(Li et al., CVPR 2019, Sec. 3.2), the BN-scale importance of Network Slimming (Liu et al., "Learning Efficient
Convolutional Networks through Network Slimming", ICCV 2017), which trains with an L1 penalty on those gammas so that
unimportant neurons go to zero and the ranking becomes clear. This hook adds that penalty as its proximal step: after
every optimizer step each branch gamma is soft-thresholded, ``gamma <- sign(gamma) * max(|gamma| - lr * weight, 0)``,
with ``lr`` the current learning rate of its parameter group.
"""
import re
from typing import List, Tuple

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

__all__ = ['BranchSparsityHook']


@HOOKS.register_module()
class BranchSparsityHook(Hook):
    """L1 on the scale-aggregation branches' BatchNorm gammas (Network Slimming), as a proximal step after each
    optimizer step.

    Args:
        weight: the L1 weight ``lambda`` of ``lambda * sum |gamma|``; each step shrinks every gamma by
            ``lr * lambda`` towards 0 (0 is a valid value: no penalty).
        pattern: a regular expression for the gammas' parameter names (default: every branch norm of a ScaleNet,
            ``...layer1.0.bn2.3.weight``, in a backbone, a classifier or a detector).
    """
    priority = 'LOW'  # after the optimizer step of the train loop

    def __init__(self, weight: float, pattern: str = r'(^|\.)layer\d+\.\d+\.bn2\.\d+\.weight$'):
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight >= 0:
            raise ValueError(f'BranchSparsityHook: weight must be a number >= 0, got {weight!r}')
        self.weight = float(weight)
        self.pattern = re.compile(pattern)
        self._gammas: List[Tuple[torch.nn.Parameter, dict]] = []

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        optimizer = runner.optim_wrapper.optimizer
        group_of = {id(p): group for group in optimizer.param_groups for p in group['params']}
        self._gammas = [(p, group_of[id(p)]) for name, p in model.named_parameters()
                        if self.pattern.search(name) and id(p) in group_of]
        if not self._gammas:
            raise ValueError(f'BranchSparsityHook: no trained parameter matches {self.pattern.pattern!r}: the model '
                             f'has no scale-aggregation branch norms (a ScaleNet with BatchNorm) to make sparse')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not self.weight:
            return
        with torch.no_grad():
            for gamma, group in self._gammas:
                threshold = group['lr'] * self.weight
                gamma.copy_(gamma.sign() * (gamma.abs() - threshold).clamp_min(0))
