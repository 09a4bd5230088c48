"""The shape of a ScaleNet, in one place: stages, widths, feature-map sides, branch kernels, and what each layer
costs (Li et al., "Data-Driven Neuron Allocation for Scale Aggregation Networks", CVPR 2019, Sec. 3 and Table 1).

The models build from these numbers, the allocation scores neurons by their cost, and the analysis counts whole
networks with them; none of them redefines any. Like :mod:`mmdet_scalenet.structure`, this module imports no torch.

Layout at 224x224: a 7x7/2 stem conv (64 channels, 112x112) and a 3x3/2 max-pool, then four stages of bottleneck
blocks (expansion 4) at sides 56, 28, 14 and 7. The first block of stages 2-4 starts with a 2x2 max-pool that feeds
both paths; every block runs conv1 1x1, one branch conv per scale factor (on the map max-pooled by that factor),
conv3 1x1 on the concatenated branches, and, in the first block of a stage, a 1x1 projection shortcut.

Costs are multiply-accumulates (the paper's "FLOPs") of the convolutions and the ``num_classes``-way fc of the
ImageNet classifier at 224x224; norms, pooling and upsampling are not counted. A test checks them against
``mmengine.analysis`` on the built models.
"""
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Sequence

if TYPE_CHECKING:
    from .structure import Structure

__all__ = [
    'EXPANSION', 'IMAGENET_SIZE', 'SCALE_FACTORS', 'STAGE_BLOCKS', 'STAGE_PLANES', 'STAGE_SIDES', 'STEM_CHANNELS',
    'BlockSpec', 'block_specs', 'branch_kernel_size', 'branch_macs', 'branch_side', 'neuron_macs', 'resnet_conv_macs',
    'resnet_macs', 'resnet_macs_by_part', 'stage_inplanes', 'structure_macs', 'structure_macs_by_part',
]

#: Downsampling factors of the four branches of an SA block (Sec. 3.1).
SCALE_FACTORS = (1, 2, 4, 7)
#: Bottleneck blocks per stage, as in ResNet.
STAGE_BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
#: Width (``planes``) of each stage's bottleneck, as in ResNet.
STAGE_PLANES = (64, 128, 256, 512)
#: Bottleneck expansion: a block outputs ``planes * EXPANSION`` channels.
EXPANSION = 4
#: Output channels of the stem, the input width of stage 1.
STEM_CHANNELS = 64
#: The ImageNet input side at which sides, kernels and costs are defined.
IMAGENET_SIZE = 224
#: Feature-map side of each stage for a 224x224 input.
STAGE_SIDES = (56, 28, 14, 7)
_STEM_MACS = 3 * STEM_CHANNELS * 7 * 7 * (IMAGENET_SIZE // 2)**2


def branch_kernel_size(side: int, index: int) -> int:
    """Kernel size of branch ``index``'s conv in a block whose 224x224 feature map has ``side``.

    The authors use a 3x3 conv while the branch's ImageNet map, taken as ``side / 2**index`` (note: ``2**index``,
    not the branch's factor), is larger than 1x1, and a 1x1 conv otherwise: only the factor-7 branch of the
    side-7 blocks is 1x1. The rule depends on the ImageNet side, never on the runtime input size.
    """
    return 3 if side / 2**index > 1 else 1


def branch_side(side: int, factor: int) -> int:
    """Side of the map a branch convolves at 224x224: max-pooling by ``factor`` (floor), at least 1."""
    return max(1, side // factor)


def stage_inplanes(stage: int) -> int:
    """Input channels of stage ``stage`` (0-based): the stem's width, then the previous stage's output."""
    return STEM_CHANNELS if stage == 0 else STAGE_PLANES[stage - 1] * EXPANSION


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
    return [BlockSpec(stage, index, STAGE_PLANES[stage], STAGE_SIDES[stage],
                      stage_inplanes(stage) if index == 0 else STAGE_PLANES[stage] * EXPANSION)
            for stage, count in enumerate(STAGE_BLOCKS[depth]) for index in range(count)]


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


def structure_macs_by_part(structure: 'Structure', num_classes: int = 1000) -> Dict[str, int]:
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


def structure_macs(structure: 'Structure', num_classes: int = 1000) -> int:
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
