"""What a ScaleNet costs: multiply-accumulates of one neuron, of a block's branches, of a whole structure, and of
the ResNet it replaces (Li et al., "Data-Driven Neuron Allocation for Scale Aggregation Networks", CVPR 2019,
Sec. 3.2 and Table 2).

Costs are multiply-accumulates (the paper's "FLOPs") of the convolutions and the ``num_classes``-way fc of the
ImageNet classifier at 224x224; norms, pooling and upsampling are not counted. The shapes come from
:mod:`mmdet_scalenet.geometry`, the branch widths from a :class:`~mmdet_scalenet.structure.Structure`. A test
checks the counts against ``mmengine.analysis`` on the built models. This module imports no torch.
"""
from typing import Dict, Sequence

from .geometry import (
    EXPANSION,
    IMAGENET_SIZE,
    STAGE_PLANES,
    STEM_CHANNELS,
    BlockSpec,
    block_specs,
    branch_kernel_size,
    branch_side,
)
from .structure import Structure

__all__ = [
    'branch_macs', 'neuron_macs', 'resnet_conv_macs', 'resnet_macs', 'resnet_macs_by_part', 'structure_macs',
    'structure_macs_by_part',
]

_STEM_MACS = 3 * STEM_CHANNELS * 7 * 7 * (IMAGENET_SIZE // 2)**2


def neuron_macs(planes: int, side: int, index: int, factor: int) -> int:
    """Cost ``O`` of one neuron (Sec. 3.2): the multiply-accumulates of one output channel of branch ``index``'s
    conv, which reads ``planes`` channels at ``branch_side(side, factor)`` with a
    ``branch_kernel_size(side, index)`` kernel."""
    kernel = branch_kernel_size(side, index)
    return planes * kernel * kernel * branch_side(side, factor)**2


def branch_macs(spec: BlockSpec, channels: Sequence[int], factors: Sequence[int]) -> int:
    """The branch convs of an SA block with ``channels`` neurons at each of the scale ``factors``."""
    return sum(count * neuron_macs(spec.planes, spec.side, i, factor)
               for i, (count, factor) in enumerate(zip(channels, factors)))


def resnet_conv_macs(planes: int, side: int) -> int:
    """Cost of the ResNet 3x3 conv (``planes`` to ``planes``, output ``side`` x ``side``) that an SA block
    replaces: the per-block budget of the paper's Eq. 6."""
    return planes * planes * 9 * side * side


def _fixed_macs(spec: BlockSpec) -> int:
    """conv1 and, in a stage's first block, the projection shortcut (both at ``side``)."""
    macs = spec.inplanes * spec.planes * spec.side**2
    if spec.index == 0:
        macs += spec.inplanes * spec.planes * EXPANSION * spec.side**2
    return macs


def _fc_macs(num_classes: int) -> int:
    return STAGE_PLANES[-1] * EXPANSION * num_classes


def structure_macs_by_part(structure: Structure, num_classes: int = 1000) -> Dict[str, int]:
    """Multiply-accumulates of a ScaleNet classifier at 224x224 by part: ``stem``, ``stage1`` .. ``stage4``,
    ``fc``."""
    parts = {'stem': _STEM_MACS}
    for spec, channels in zip(block_specs(structure.depth), structure.blocks):
        key = f'stage{spec.stage + 1}'
        conv3 = sum(channels) * spec.planes * EXPANSION * spec.side**2
        parts[key] = (parts.get(key, 0) + _fixed_macs(spec) + branch_macs(spec, channels, structure.scale_factors)
                      + conv3)
    parts['fc'] = _fc_macs(num_classes)
    return parts


def structure_macs(structure: Structure, num_classes: int = 1000) -> int:
    """Multiply-accumulates of a ScaleNet classifier at 224x224: every conv plus the fc."""
    return sum(structure_macs_by_part(structure, num_classes).values())


def resnet_macs_by_part(depth: int, num_classes: int = 1000) -> Dict[str, int]:
    """The same parts for the ResNet of ``depth`` (torchvision / mmdet ``style='pytorch'``: stride on the 3x3
    conv, so a stage's first conv1 runs at twice its side, and the shortcut is a 1x1 stride-2 conv)."""
    parts = {'stem': _STEM_MACS}
    for spec in block_specs(depth):
        key = f'stage{spec.stage + 1}'
        in_side = spec.side * 2 if spec.index == 0 and spec.stage > 0 else spec.side
        macs = spec.inplanes * spec.planes * in_side**2 + resnet_conv_macs(spec.planes, spec.side)
        macs += spec.planes * spec.planes * EXPANSION * spec.side**2
        if spec.index == 0:
            macs += spec.inplanes * spec.planes * EXPANSION * spec.side**2
        parts[key] = parts.get(key, 0) + macs
    parts['fc'] = _fc_macs(num_classes)
    return parts


def resnet_macs(depth: int, num_classes: int = 1000) -> int:
    """Multiply-accumulates of the ResNet classifier of ``depth`` at 224x224 (ResNet-50: 4.09 G)."""
    return sum(resnet_macs_by_part(depth, num_classes).values())
