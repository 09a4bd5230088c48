"""Greedy selection of the neurons a ScaleNet keeps (Li et al., CVPR 2019, Sec. 3.2, Algorithm 1, Eq. 6).

Given the scores ``p = |gamma| / O ** b`` of a trained seed network's branch neurons (:mod:`.importance`), every
SA block keeps its best-scoring neurons; the rest are discarded and the result is retrained from scratch. Two
budgets decide how many:

``block-flops`` (the paper's Eq. 6)
    Per block, walk the neurons best first and keep each one whose cost still fits the block's budget: the cost of
    the ResNet 3x3 conv the block replaces (``planes * planes * 9 * side**2``), times ``factor``. A neuron that
    does not fit is skipped and the walk goes on, so cheaper neurons further down can still fill the budget.

``network-flops`` (the pattern of the authors' released structure files)
    Every block keeps its top ``k = round(m * planes)`` neurons (half rounds up; at least 1, at most the block's
    neurons), with one width multiplier ``m`` for the whole network: the largest ``m`` whose network
    multiply-accumulates at 224x224 (:func:`~mmdet_scalenet.costs.structure_macs`) do not exceed the target.
    All blocks of a stage then keep the same number of neurons, as in the released files.

Ranking is deterministic: by descending score, ties to the lower branch index, then to the lower channel index.
A block never ends with zero neurons: where not even its best neuron fits a ``block-flops`` budget, that neuron
is kept anyway and the block is listed in :attr:`Allocation.over_budget`.
"""
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import List, Optional, Sequence, Tuple

from ..costs import branch_macs, neuron_macs, resnet_conv_macs, structure_macs
from ..geometry import SCALE_FACTORS, block_specs
from ..structure import Structure, seed_structure
from .errors import AllocationError
from .importance import SeedGammas, neuron_scores

__all__ = [
    'MODES', 'Allocation', 'allocate', 'rank_neurons', 'select_block_flops', 'select_network_flops', 'select_uniform'
]

MODES = ('block-flops', 'network-flops')

Kept = Tuple[Tuple[Tuple[int, ...], ...], ...]


@dataclass(frozen=True)
class Allocation:
    """The neurons kept from a seed network.

    Attributes:
        structure: the allocated structure (neurons kept per branch of every block).
        seed: the seed's structure (neurons per branch in the checkpoint).
        kept: ``kept[block][branch]``: the seed's channel indices kept there, ascending.
        mode: ``'block-flops'``, ``'network-flops'`` or ``'uniform'`` (:func:`select_uniform`, no seed).
        budget: the block budget factor (``block-flops``) or the target GMACs at 224 (``network-flops``).
        b: the cost exponent of the score.
        block_budgets: per block, the MAC budget of its branch convs (``block-flops``; empty otherwise).
        width_multiplier: ``m`` (``network-flops``; None otherwise).
        over_budget: blocks (network-order indices) whose single kept neuron exceeds their budget.
        prefix, norm_name, source: where the seed's keys came from (see :class:`~.importance.SeedGammas`).
    """
    structure: Structure
    seed: Structure
    kept: Kept
    mode: str
    budget: float
    b: float
    block_budgets: Tuple[int, ...] = ()
    width_multiplier: Optional[float] = None
    over_budget: Tuple[int, ...] = ()
    prefix: str = ''
    norm_name: str = 'bn2'
    source: str = 'state dict'

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the allocated classifier at 224x224 (convs + fc)."""
        return structure_macs(self.structure)

    def branch_macs(self, block: int) -> int:
        """Multiply-accumulates of the kept neurons' branch convs in ``block`` (what Eq. 6 budgets)."""
        spec = block_specs(self.structure.depth)[block]
        return branch_macs(spec, self.structure.blocks[block], self.structure.scale_factors)


def rank_neurons(block_scores: Sequence[Sequence[float]]) -> List[Tuple[int, int]]:
    """The ``(branch, channel)`` pairs of one block, best first: descending score, ties to the lower branch,
    then the lower channel."""
    order = sorted((-score, branch, channel)
                   for branch, scores in enumerate(block_scores) for channel, score in enumerate(scores))
    return [(branch, channel) for _, branch, channel in order]


def _group(selected: Sequence[Tuple[int, int]], num_branches: int) -> Tuple[Tuple[int, ...], ...]:
    return tuple(tuple(sorted(c for i, c in selected if i == branch)) for branch in range(num_branches))


def _name(gammas: SeedGammas, mode: str, budget: float, b: float) -> str:
    return f'scalenet{gammas.depth}_{mode}_{budget:g}' + (f'_b{b:g}' if b else '')


def _structure(gammas: SeedGammas, kept: Kept, name: str) -> Structure:
    return Structure(depth=gammas.depth, blocks=tuple(tuple(len(k) for k in block) for block in kept),
                     scale_factors=gammas.scale_factors, name=name)


def _positive(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise AllocationError(f'{what}: expected a finite number > 0, got {value!r}')
    return float(value)


def select_block_flops(gammas: SeedGammas, b: float = 0.0, factor: float = 1.0,
                       name: Optional[str] = None) -> Allocation:
    """The paper's Eq. 6: per block, the best-scoring neurons whose branch-conv cost fits ``factor`` times the
    cost of the ResNet 3x3 conv the block replaces (see the module docstring for the greedy walk)."""
    factor = _positive(factor, 'block-flops budget factor')
    scores = neuron_scores(gammas, b)
    kept, budgets, over = [], [], []
    for index, (spec, block_scores) in enumerate(zip(block_specs(gammas.depth), scores)):
        budget = math.floor(factor * resnet_conv_macs(spec.planes, spec.side))
        costs = [neuron_macs(spec.planes, spec.side, i, f) for i, f in enumerate(gammas.scale_factors)]
        ranked = rank_neurons(block_scores)
        selected, used = [], 0
        for branch, channel in ranked:
            if used + costs[branch] <= budget:
                selected.append((branch, channel))
                used += costs[branch]
        if not selected:
            selected = ranked[:1]
            over.append(index)
        kept.append(_group(selected, len(gammas.scale_factors)))
        budgets.append(budget)
    kept = tuple(kept)
    return Allocation(structure=_structure(gammas, kept, name or _name(gammas, 'block-flops', factor, b)),
                      seed=gammas.structure, kept=kept, mode='block-flops', budget=factor, b=float(b),
                      block_budgets=tuple(budgets), over_budget=tuple(over), prefix=gammas.prefix,
                      norm_name=gammas.norm_name, source=gammas.source)


def _top_k(m: Fraction, planes: int, available: int) -> int:
    """``round(m * planes)``, half up, clamped to ``1..available``."""
    return min(available, max(1, math.floor(m * planes + Fraction(1, 2))))


def _network_flops(depth: int, scale_factors: Sequence[int], rankings: Sequence[Sequence[Tuple[int, int]]],
                   target_gmacs: float, label: str) -> Tuple[Kept, Structure, Fraction]:
    """Every block keeps the first ``round(m * planes)`` neurons of its ranking, with the largest ``m`` whose
    network GMACs at 224 do not exceed ``target_gmacs``; returns ``(kept, structure, m)``."""
    target = _positive(target_gmacs, 'network-flops target GMACs') * 1e9
    specs = block_specs(depth)
    num_branches = len(scale_factors)

    def at(m: Fraction) -> Tuple[Kept, Structure]:
        kept = tuple(_group(ranked[:_top_k(m, spec.planes, len(ranked))], num_branches)
                     for spec, ranked in zip(specs, rankings))
        blocks = tuple(tuple(len(k) for k in block) for block in kept)
        return kept, Structure(depth=depth, blocks=blocks, scale_factors=tuple(scale_factors), name=label)

    # k changes only where m * planes crosses j + 1/2; between those points the allocation is constant.
    candidates = sorted({Fraction(0)} | {Fraction(2 * j + 1, 2 * spec.planes)
                                         for spec, ranked in zip(specs, rankings) for j in range(len(ranked))})
    smallest = structure_macs(at(candidates[0])[1])
    if smallest > target:
        raise AllocationError(f'network-flops: target {target_gmacs:g} GMACs is below the smallest allocation '
                              f'(one neuron per block): {smallest / 1e9:.4f} GMACs')
    largest = structure_macs(at(candidates[-1])[1])
    if largest < target:
        raise AllocationError(f'network-flops: target {target_gmacs:g} GMACs is above the seed network '
                              f'({largest / 1e9:.4f} GMACs with every neuron kept): nothing to select')
    low, high = 0, len(candidates) - 1  # macs(candidates[low]) <= target; find the last such candidate
    while low < high:
        middle = (low + high + 1) // 2
        if structure_macs(at(candidates[middle])[1]) <= target:
            low = middle
        else:
            high = middle - 1
    return (*at(candidates[low]), candidates[low])


def select_network_flops(gammas: SeedGammas, target_gmacs: float, b: float = 0.0,
                         name: Optional[str] = None) -> Allocation:
    """The released files' pattern: every block keeps its top ``round(m * planes)`` neurons, with the largest
    width multiplier ``m`` whose network GMACs at 224 (convs + 1000-way fc) do not exceed ``target_gmacs``."""
    rankings = [rank_neurons(block_scores) for block_scores in neuron_scores(gammas, b)]
    kept, structure, m = _network_flops(gammas.depth, gammas.scale_factors, rankings, target_gmacs,
                                        name or _name(gammas, 'network-flops', target_gmacs, b))
    return Allocation(structure=structure, seed=gammas.structure, kept=kept, mode='network-flops',
                      budget=float(target_gmacs), b=float(b), width_multiplier=float(m), prefix=gammas.prefix,
                      norm_name=gammas.norm_name, source=gammas.source)


def select_uniform(depth: int, target_gmacs: float, scale_factors: Sequence[int] = SCALE_FACTORS,
                   name: Optional[str] = None) -> Allocation:
    """The baseline without data: as ``network-flops`` (one width multiplier, the largest within
    ``target_gmacs``), but every block splits its ``round(m * planes)`` neurons evenly over the scales (a
    remainder to the finest), as a hand-designed multi-scale block would. ``kept`` indexes a seed of ``depth``."""
    seed = seed_structure(depth, scale_factors)
    rankings = [[(branch, channel) for channel in range(planes[0]) for branch in range(len(planes))]
                for planes in seed.blocks]
    label = name or f'scalenet{depth}_uniform_{target_gmacs:g}'
    kept, structure, m = _network_flops(depth, scale_factors, rankings, target_gmacs, label)
    return Allocation(structure=structure, seed=seed, kept=kept, mode='uniform', budget=float(target_gmacs), b=0.0,
                      width_multiplier=float(m), source='uniform')


def allocate(gammas: SeedGammas, mode: str, budget: Optional[float] = None, b: float = 0.0,
             name: Optional[str] = None) -> Allocation:
    """Run one mode: ``block-flops`` with ``budget`` = the factor on the ResNet 3x3 cost (default 1.0), or
    ``network-flops`` with ``budget`` = the target GMACs at 224 (required)."""
    if mode == 'block-flops':
        return select_block_flops(gammas, b=b, factor=1.0 if budget is None else budget, name=name)
    if mode == 'network-flops':
        if budget is None:
            raise AllocationError('network-flops: a budget (target GMACs at 224, e.g. 3.8) is required')
        return select_network_flops(gammas, budget, b=b, name=name)
    raise AllocationError(f'mode: expected one of {list(MODES)}, got {mode!r}')
