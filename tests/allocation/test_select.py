"""Greedy selection in both modes against by-hand passes, budgets, the effect of b, and bad budgets."""
import math
import re
from collections import OrderedDict

import pytest
import torch

from mmdet_scalenet import ScaleNet, Structure
from mmdet_scalenet.allocation import (
    AllocationError,
    allocate,
    format_allocation,
    rank_neurons,
    read_branch_gammas,
    select_block_flops,
    select_network_flops,
)
from mmdet_scalenet.costs import structure_macs
from mmdet_scalenet.geometry import STAGE_BLOCKS, STAGE_PLANES, STAGE_SIDES
from scalenet_lab import classifier_complexity

FACTORS = (1, 2, 4, 7)


def blocks_by_hand(depth=50):
    """(planes, side) of every block, written out from the ResNet layout."""
    return [(STAGE_PLANES[s], STAGE_SIDES[s]) for s, n in enumerate(STAGE_BLOCKS[depth]) for _ in range(n)]


def cost_by_hand(planes, side, index, factor):
    """One output channel of branch ``index``: planes x k x k x (pooled side)^2, k = 3 unless side / 2**index <= 1."""
    kernel = 3 if side / 2**index > 1 else 1
    pooled = max(1, side // factor)
    return planes * kernel * kernel * pooled * pooled


def ranked_by_hand(block_gammas, planes, side, b):
    neurons = []
    for index, (factor, gammas) in enumerate(zip(FACTORS, block_gammas)):
        cost = cost_by_hand(planes, side, index, factor)
        neurons += [(abs(g) / cost**b, index, channel, cost) for channel, g in enumerate(gammas)]
    # best score first; ties: lower branch, then lower channel
    return sorted(neurons, key=lambda n: (-n[0], n[1], n[2]))


def block_flops_by_hand(all_gammas, b, factor):
    kept = []
    for block_gammas, (planes, side) in zip(all_gammas, blocks_by_hand()):
        budget = factor * planes * planes * 9 * side * side
        chosen, used = set(), 0
        for _, index, channel, cost in ranked_by_hand(block_gammas, planes, side, b):
            if used + cost <= budget:
                chosen.add((index, channel))
                used += cost
        kept.append(chosen)
    return kept


def as_sets(allocation):
    return [{(i, c) for i, channels in enumerate(block) for c in channels} for block in allocation.kept]


def uniform_gammas(seed50_state, value=1.0):
    state = OrderedDict(seed50_state)
    for key in state:
        if '.bn2.' in key and key.endswith('.weight'):
            state[key] = torch.full_like(state[key], value)
    return read_branch_gammas(state)


@pytest.fixture(scope='module')
def gammas(seed50_state):
    return read_branch_gammas(seed50_state)


@pytest.mark.parametrize('b, factor', [(0, 1.0), (0, 0.5), (1, 1.0), (0.5, 0.8)])
def test_block_flops_equals_a_greedy_pass_by_hand(gammas, b, factor):
    allocation = select_block_flops(gammas, b=b, factor=factor)
    assert as_sets(allocation) == block_flops_by_hand(gammas.gammas, b, factor)
    assert allocation.over_budget == ()
    for block, (planes, side) in enumerate(blocks_by_hand()):
        assert allocation.branch_macs(block) <= factor * planes * planes * 9 * side * side
        assert allocation.block_budgets[block] == math.floor(factor * planes * planes * 9 * side * side)
    assert allocation.structure.blocks == tuple(tuple(len(k) for k in block) for block in allocation.kept)


def test_block_flops_one_block_by_hand(seed50_state):
    """layer4.0 (512 planes, side 7): one neuron costs 225792 (x1), 41472 (x2), 4608 (x4), 512 (x7) MACs."""
    state = OrderedDict(seed50_state)
    values = [torch.full((512, ), 0.01) for _ in range(4)]
    values[0][5], values[1][7], values[0][9], values[3][0], values[0][11] = 0.9, -0.8, 0.7, 0.6, 0.5
    for i in range(4):
        state[f'layer4.0.bn2.{i}.weight'] = values[i]
    allocation = select_block_flops(read_branch_gammas(state), factor=3 / 512)  # budget 3 x 225792 = 677376
    # 0.9, 0.8, 0.7 and 0.6 fit (493568); 0.5 (x1) does not and is skipped; then the 0.01 ties, by branch and
    # channel: no x1 fits, four x2 (659456), three x4 (673280), eight x7 (677376, the budget exactly)
    assert allocation.kept[13] == ((5, 9), (0, 1, 2, 3, 7), (0, 1, 2), tuple(range(9)))
    assert allocation.structure.blocks[13] == (2, 5, 3, 9)
    assert allocation.branch_macs(13) == allocation.block_budgets[13] == 677376


def test_b_shifts_neurons_to_cheap_scales_as_the_formula_says(seed50_state):
    gammas = uniform_gammas(seed50_state)
    # b = 0: all scores tie, so branch 0 goes first and its 512 neurons fill layer4.0's budget exactly
    assert select_block_flops(gammas, b=0).structure.blocks[13] == (512, 0, 0, 0)
    # b = 1: score 1 / cost, cheapest first: all of x7, x4 and x2 (23855104 MACs), then as many x1 as still fit
    shifted = select_block_flops(gammas, b=1).structure.blocks[13]
    assert shifted == (406, 512, 512, 512)
    assert 23855104 + 406 * 225792 <= 512 * 512 * 9 * 49 < 23855104 + 407 * 225792
    # on the hand-set gammas too: more b, a larger share of the coarse scales, everywhere
    hand_set = read_branch_gammas(seed50_state)
    shares = []
    for b in (0, 0.5, 1):
        blocks = select_block_flops(hand_set, b=b).structure.blocks
        shares.append(sum(c[2] + c[3] for c in blocks) / sum(sum(c) for c in blocks))
    assert shares[0] < shares[1] < shares[2]


def test_a_block_never_ends_empty(gammas):
    allocation = select_block_flops(gammas, factor=1e-9)
    assert allocation.over_budget == tuple(range(16))
    summary = format_allocation(allocation).splitlines()
    assert len([line for line in summary if line.startswith('warning: block ')]) == 16
    assert 'warning: block layer1.0: no neuron fits the budget of 0 MACs; kept its best neuron (' in summary[-16]
    for block, kept in enumerate(as_sets(allocation)):
        planes, side = blocks_by_hand()[block]
        best = ranked_by_hand(gammas.gammas[block], planes, side, 0)[0]
        assert kept == {best[1:3]}


def test_ranking_ties_break_by_branch_then_channel():
    assert rank_neurons([[0.5, 0.9], [0.9, 0.1], [0.5]]) == [(0, 1), (1, 0), (0, 0), (2, 0), (1, 1)]


def network_flops_by_hand(all_gammas, m, b):
    kept = []
    for block_gammas, (planes, side) in zip(all_gammas, blocks_by_hand()):
        ranked = ranked_by_hand(block_gammas, planes, side, b)
        k = min(len(ranked), max(1, math.floor(m * planes + 0.5)))
        kept.append({n[1:3] for n in ranked[:k]})
    return kept


@pytest.mark.parametrize('target, b', [(3.8, 0), (2.9, 0.5)])
def test_network_flops_equals_top_k_by_hand_with_the_largest_fitting_m(gammas, target, b):
    allocation = select_network_flops(gammas, target, b=b)
    m = allocation.width_multiplier
    assert as_sets(allocation) == network_flops_by_hand(gammas.gammas, m, b)
    assert allocation.macs <= target * 1e9
    # the next larger k anywhere (the next m at which round(m * planes) grows) exceeds the target
    next_m = min((math.floor(m * p + 0.5) + 0.5) / p for p in STAGE_PLANES)
    larger = Structure(
        depth=50, blocks=[[sum(1 for n in kept if n[0] == i) for i in range(4)]
                          for kept in network_flops_by_hand(gammas.gammas, next_m, b)])
    assert structure_macs(larger) > target * 1e9


def test_network_flops_3_8_gmacs_on_a_depth_50_seed(gammas):
    allocation = allocate(gammas, 'network-flops', 3.8)
    traced = classifier_complexity(ScaleNet(depth=50, structure=allocation.structure)).conv_macs
    assert abs(traced / 1e9 - 3.8) <= 0.01 * 3.8
    assert traced == allocation.macs
    for stage in range(4):
        totals = {sum(channels) for channels in allocation.structure.stage(stage)}
        assert totals == {math.floor(allocation.width_multiplier * STAGE_PLANES[stage] + 0.5)}


def test_modes_and_budgets_are_checked(gammas):
    with pytest.raises(AllocationError, match=re.escape("mode: expected one of ['block-flops', 'network-flops'], "
                                                        "got 'eq6'")):
        allocate(gammas, 'eq6', 1.0)
    with pytest.raises(AllocationError, match='network-flops: a budget .* is required'):
        allocate(gammas, 'network-flops')
    with pytest.raises(AllocationError, match=r'block-flops budget factor: expected a finite number > 0, got 0'):
        allocate(gammas, 'block-flops', 0)
    with pytest.raises(AllocationError, match=r'network-flops target GMACs: expected a finite number > 0, got inf'):
        allocate(gammas, 'network-flops', float('inf'))
    with pytest.raises(AllocationError, match=r'target 0\.5 GMACs is below the smallest allocation \(one neuron '
                       r'per block\): 1\.\d{4} GMACs'):
        allocate(gammas, 'network-flops', 0.5)
    with pytest.raises(AllocationError, match=r'target 38 GMACs is above the seed network \(6\.8846 GMACs with '
                       r'every neuron kept\)'):
        allocate(gammas, 'network-flops', 38)


def test_block_flops_default_budget_is_the_resnet_conv(gammas):
    assert allocate(gammas, 'block-flops').kept == select_block_flops(gammas, factor=1.0).kept


def test_uniform_allocation_splits_every_block_evenly_within_the_budget():
    from mmdet_scalenet.allocation import select_uniform
    from mmdet_scalenet.structure import load_structure
    target = structure_macs(load_structure('scalenet50_light')) / 1e9
    allocation = select_uniform(50, target)
    assert allocation.mode == 'uniform' and allocation.structure.depth == 50
    assert allocation.macs <= target * 1e9
    for channels in allocation.structure.blocks:
        assert max(channels) - min(channels) <= 1 and list(channels) == sorted(channels, reverse=True)
    # one neuron more per block anywhere would exceed the budget: the multiplier is the largest that fits
    larger = select_uniform(50, allocation.macs / 1e9 * 1.02)
    assert larger.macs > allocation.macs
    for kept, channels in zip(allocation.kept, allocation.structure.blocks):
        assert [len(k) for k in kept] == list(channels) and all(k == tuple(range(len(k))) for k in kept)
    with pytest.raises(AllocationError, match='below the smallest allocation'):
        select_uniform(50, 0.1)
