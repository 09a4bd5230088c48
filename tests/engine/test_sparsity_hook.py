"""BranchSparsityHook: Network Slimming's L1 on the branch gammas as a proximal step after each optimizer step."""
from types import SimpleNamespace

import pytest
import torch

from mmdet_scalenet import ScaleNet
from mmdet_scalenet.engine import BranchSparsityHook


def _runner(model, lr=0.1, branch_lr_mult=1.0):
    branch = [p for n, p in model.named_parameters() if '.bn2.' in n]
    rest = [p for n, p in model.named_parameters() if '.bn2.' not in n]
    optimizer = torch.optim.SGD([dict(params=rest, lr=lr), dict(params=branch, lr=lr * branch_lr_mult)], lr=lr)
    return SimpleNamespace(model=model, optim_wrapper=SimpleNamespace(optimizer=optimizer))


def _tiny_scalenet():
    return ScaleNet(depth=50, structure='scalenet50_light', out_indices=(3, ))


def test_soft_thresholds_exactly_the_branch_gammas_by_their_group_lr():
    model = _tiny_scalenet()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith('weight') and p.dim() == 1:
                p.copy_(torch.linspace(-1, 1, p.numel()))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    runner = _runner(model, lr=0.1, branch_lr_mult=10.0)
    hook = BranchSparsityHook(weight=0.25)
    hook.before_train(runner)
    hook.after_train_iter(runner, 0)
    threshold = 0.1 * 10.0 * 0.25
    touched = 0
    for name, p in model.named_parameters():
        if '.bn2.' in name and name.endswith('.weight'):
            old = before[name]
            torch.testing.assert_close(p, old.sign() * (old.abs() - threshold).clamp_min(0))
            touched += 1
        else:
            assert torch.equal(p, before[name]), name
    # one branch norm per scale that has neurons, in each block
    assert touched == sum(1 for block in model.structure.blocks for neurons in block if neurons) > 16


def test_weight_zero_changes_nothing():
    model = _tiny_scalenet()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    runner = _runner(model)
    hook = BranchSparsityHook(weight=0)
    hook.before_train(runner)
    hook.after_train_iter(runner, 0)
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())


@pytest.mark.parametrize('weight', [-0.1, 'strong', True, float('nan')])
def test_bad_weight_is_refused(weight):
    with pytest.raises(ValueError, match='weight must be a number >= 0'):
        BranchSparsityHook(weight=weight)


def test_a_model_without_branch_norms_is_an_error():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    with pytest.raises(ValueError, match='no trained parameter matches'):
        BranchSparsityHook(weight=0.1).before_train(_runner(model))
