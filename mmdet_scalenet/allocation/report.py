"""Text summaries of structures and allocations: neurons per scale and GMACs per stage, against ResNet."""
from typing import List

from ..costs import resnet_macs_by_part, structure_macs_by_part
from ..geometry import STAGE_SIDES, block_specs
from ..structure import Structure
from .select import Allocation

__all__ = ['format_comparison', 'format_allocation']


def _scale_totals(structure: Structure, stage: int) -> List[int]:
    rows = structure.stage(stage)
    return [sum(channels[i] for channels in rows) for i in range(len(structure.scale_factors))]


def format_comparison(before: Structure, after: Structure) -> str:
    """A per-stage table: neurons per scale (summed over the stage's blocks) and GMACs at 224 of ``before``,
    ``after`` and the ResNet of the same depth, then the totals with stem and fc."""
    if before.depth != after.depth:
        raise ValueError(f'structures of different depths: {before.depth} and {after.depth}')
    depth = before.depth
    macs_before, macs_after = structure_macs_by_part(before), structure_macs_by_part(after)
    macs_resnet = resnet_macs_by_part(depth)
    scales = lambda s: '/'.join(f'x{f}' for f in s.scale_factors)  # noqa: E731
    width = max(6 * len(before.scale_factors), 6 * len(after.scale_factors), 26)
    lines = [f'{"stage":>5} {"side":>4} {"blocks":>6}  {"neurons before " + scales(before):<{width}}  '
             f'{"neurons after " + scales(after):<{width}}  {"GMACs before":>12} {"after":>7} '
             f'{"ResNet-" + str(depth):>10}']
    for stage in range(4):
        rows = after.stage(stage)
        key = f'stage{stage + 1}'
        lines.append(
            f'{stage + 1:>5} {STAGE_SIDES[stage]:>4} {len(rows):>6}  '
            f'{" ".join(f"{n:>5}" for n in _scale_totals(before, stage)):<{width}}  '
            f'{" ".join(f"{n:>5}" for n in _scale_totals(after, stage)):<{width}}  '
            f'{macs_before[key] / 1e9:>12.3f} {macs_after[key] / 1e9:>7.3f} {macs_resnet[key] / 1e9:>10.3f}')
    total_before, total_after = sum(macs_before.values()), sum(macs_after.values())
    total_resnet = sum(macs_resnet.values())
    lines.append(f'GMACs at 224x224 (all convs + 1000-way fc): {before.name} {total_before / 1e9:.3f}, '
                 f'{after.name} {total_after / 1e9:.3f}, ResNet-{depth} {total_resnet / 1e9:.3f} '
                 f'({after.name} {100 * (total_after / total_resnet - 1):+.1f}% vs ResNet-{depth})')
    return '\n'.join(lines)


def format_allocation(allocation: Allocation) -> str:
    """What :func:`format_comparison` prints for seed -> allocation, headed by the allocation's settings and
    followed by the blocks (if any) that had to keep a neuron beyond their budget."""
    if allocation.mode == 'block-flops':
        setting = f'budget {allocation.budget:g} x the ResNet 3x3 conv per block'
    else:
        setting = (f'target {allocation.budget:g} GMACs, width multiplier m = {allocation.width_multiplier:.4f} '
                   f'(top round(m * planes) neurons per block)')
    lines = [f'{allocation.structure.name}: {allocation.mode} allocation from {allocation.source} '
             f'(depth {allocation.structure.depth}, {setting}, b = {allocation.b:g})',
             format_comparison(allocation.seed, allocation.structure)]
    specs = block_specs(allocation.structure.depth)
    for block in allocation.over_budget:
        lines.append(f'warning: block {specs[block].name}: no neuron fits the budget of '
                     f'{allocation.block_budgets[block]} MACs; kept its best neuron '
                     f'({allocation.branch_macs(block)} MACs)')
    return '\n'.join(lines)
