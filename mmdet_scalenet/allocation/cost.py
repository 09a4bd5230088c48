"""Multiply-accumulates of ScaleNet and ResNet at 224x224, counted analytically (no torch).

The allocation needs the cost ``O`` of one neuron (Li et al., CVPR 2019, Sec. 3.2) and, for the
``network-flops`` mode, the whole network's cost for many candidate structures, so both are computed here from
the layer shapes rather than by tracing a model. The count is the package's (:mod:`mmdet_scalenet.complexity`):
every convolution plus the ``num_classes``-way fc; norms, pooling and upsampling are not counted. A test checks
that :func:`structure_macs` equals ``classifier_complexity`` for the built-in structures.

Layout, as built by :class:`~mmdet_scalenet.ScaleNet` (REFERENCE.md section 2): a 7x7/2 stem conv at 112x112,
then per block, all at the block's ``side`` (the first block of stages 2-4 max-pools its input 2x2 before
everything): conv1 1x1, one conv per branch at ``max(1, side // factor)`` (3x3, or 1x1 where
:func:`branch_kernel_size` says so), conv3 1x1 on the concatenated branches, and in the first block of every
stage a 1x1 projection shortcut.
"""
from dataclasses import dataclass
from typing import Dict, List, Sequence

from ..structure import STAGE_BLOCKS, STAGE_PLANES, STAGE_SIDES, Structure, branch_kernel_size

__all__ = [
    'BlockSpec', 'block_specs', 'branch_kernel_size', 'branch_side', 'neuron_macs', 'resnet_conv_macs',
    'resnet_macs', 'resnet_macs_by_part', 'structure_macs', 'structure_macs_by_part',
]

#: Bottleneck expansion (output channels = ``planes * EXPANSION``).
EXPANSION = 4
#: Stem: 7x7 stride-2 conv from 3 to 64 channels on a 224x224 input, output 112x112.
STEM_MACS = 3 * 64 * 7 * 7 * 112 * 112
STEM_CHANNELS = 64


@dataclass(frozen=True)
class BlockSpec:
    """Where a bottleneck block sits and the shapes that decide its cost.

    Attributes:
        stage: 0-based stage.
        index: 0-based position within the stage.
        planes: bottleneck width (input channels of every branch conv).
        side: feature-map side at 224x224 (all of the block's convs run at it).
        inplanes: input channels of the block.
    """
    stage: int
    index: int
    planes: int
    side: int
    inplanes: int

    @property
    def name(self) -> str:
        """The block's module path in the backbone, e.g. ``layer2.0``."""
        return f'layer{self.stage + 1}.{self.index}'


def block_specs(depth: int) -> List[BlockSpec]:
    """One :class:`BlockSpec` per block of a ScaleNet (or ResNet) of ``depth``, in network order."""
    if depth not in STAGE_BLOCKS:
        raise ValueError(f'depth must be one of {sorted(STAGE_BLOCKS)}, got {depth!r}')
    specs = []
    inplanes = STEM_CHANNELS
    for stage, count in enumerate(STAGE_BLOCKS[depth]):
        planes = STAGE_PLANES[stage]
        for index in range(count):
            specs.append(BlockSpec(stage, index, planes, STAGE_SIDES[stage], inplanes))
            inplanes = planes * EXPANSION
    return specs


def branch_side(side: int, factor: int) -> int:
    """Side of the map a branch convolves: max-pooling by ``factor`` (floor), at least 1."""
    return max(1, side // factor)


def neuron_macs(planes: int, side: int, index: int, factor: int) -> int:
    """Cost ``O`` of one neuron (Sec. 3.2): the multiply-accumulates of one output channel of branch ``index``'s
    conv, which reads ``planes`` channels at ``branch_side(side, factor)`` with a
    ``branch_kernel_size(side, index)`` kernel."""
    kernel = branch_kernel_size(side, index)
    return planes * kernel * kernel * branch_side(side, factor)**2


def resnet_conv_macs(planes: int, side: int) -> int:
    """Cost of the ResNet 3x3 conv (``planes`` to ``planes``, output ``side`` x ``side``) that an SA block
    replaces: the per-block budget of the paper's Eq. 6."""
    return planes * planes * 9 * side * side


def _block_fixed_macs(spec: BlockSpec, first: bool) -> int:
    """conv1 and, in a stage's first block, the projection shortcut (both at ``side``)."""
    area = spec.side * spec.side
    macs = spec.inplanes * spec.planes * area
    if first:
        macs += spec.inplanes * spec.planes * EXPANSION * area
    return macs


def _branch_macs(spec: BlockSpec, channels: Sequence[int], factors: Sequence[int]) -> int:
    """The branch convs and conv3 of an SA block with ``channels`` neurons per scale."""
    macs = sum(count * neuron_macs(spec.planes, spec.side, i, factor)
               for i, (count, factor) in enumerate(zip(channels, factors)))
    return macs + sum(channels) * spec.planes * EXPANSION * spec.side * spec.side


def structure_macs_by_part(structure: Structure, num_classes: int = 1000) -> Dict[str, int]:
    """Multiply-accumulates at 224x224 by part: ``stem``, ``stage1`` .. ``stage4`` and ``fc``."""
    parts = {'stem': STEM_MACS}
    for spec, channels in zip(block_specs(structure.depth), structure.blocks):
        key = f'stage{spec.stage + 1}'
        parts[key] = (parts.get(key, 0) + _block_fixed_macs(spec, spec.index == 0)
                      + _branch_macs(spec, channels, structure.scale_factors))
    parts['fc'] = STAGE_PLANES[-1] * EXPANSION * num_classes
    return parts


def structure_macs(structure: Structure, num_classes: int = 1000) -> int:
    """Multiply-accumulates of a ScaleNet classifier at 224x224: all convs plus the fc, as
    ``classifier_complexity(...).conv_macs`` counts them."""
    return sum(structure_macs_by_part(structure, num_classes).values())


def resnet_macs_by_part(depth: int, num_classes: int = 1000) -> Dict[str, int]:
    """The same parts for the ResNet of ``depth`` (torchvision / mmdet ``style='pytorch'``: stride on the 3x3
    conv, so a stage's first conv1 runs at twice its side, and the shortcut is a 1x1 stride-2 conv)."""
    parts = {'stem': STEM_MACS}
    for spec in block_specs(depth):
        key = f'stage{spec.stage + 1}'
        area = spec.side * spec.side
        first = spec.index == 0
        in_side = spec.side * 2 if first and spec.stage > 0 else spec.side
        macs = spec.inplanes * spec.planes * in_side * in_side
        macs += resnet_conv_macs(spec.planes, spec.side)
        macs += spec.planes * spec.planes * EXPANSION * area
        if first:
            macs += spec.inplanes * spec.planes * EXPANSION * area
        parts[key] = parts.get(key, 0) + macs
    parts['fc'] = STAGE_PLANES[-1] * EXPANSION * num_classes
    return parts


def resnet_macs(depth: int, num_classes: int = 1000) -> int:
    """Multiply-accumulates of the ResNet classifier of ``depth`` at 224x224 (ResNet-50: 4.09 G)."""
    return sum(resnet_macs_by_part(depth, num_classes).values())
