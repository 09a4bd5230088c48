"""The shape of a ScaleNet, in one place: stages, widths, feature-map sides and branch kernels (Li et al.,
"Data-Driven Neuron Allocation for Scale Aggregation Networks", CVPR 2019, Sec. 3 and Table 1).

The models build from these numbers, :mod:`mmdet_scalenet.structure` checks structures against them and
:mod:`mmdet_scalenet.costs` prices layers with them; none of them redefines any. This module imports nothing else
of the package (the structure and the costs build on it, never the reverse) and no torch.

Layout at 224x224: a 7x7/2 stem conv (64 channels, 112x112) and a 3x3/2 max-pool, then four stages of bottleneck
blocks (expansion 4) at sides 56, 28, 14 and 7. The first block of stages 2-4 starts with a 2x2 max-pool that feeds
both paths; every block runs conv1 1x1, one branch conv per scale factor (on the map max-pooled by that factor),
conv3 1x1 on the concatenated branches, and, in the first block of a stage, a 1x1 projection shortcut.
"""
from dataclasses import dataclass
from typing import List

__all__ = [
    'EXPANSION', 'IMAGENET_SIZE', 'SCALE_FACTORS', 'STAGE_BLOCKS', 'STAGE_PLANES', 'STAGE_SIDES', 'STEM_CHANNELS',
    'BlockSpec', 'block_specs', 'branch_kernel_size', 'branch_side', 'is_depth', 'stage_inplanes',
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


def is_depth(depth) -> bool:
    """Whether ``depth`` is one of ScaleNet's depths (ResNet's bottleneck depths), as an int: ``50.0 == 50`` in
    Python, so membership alone would let a float through, and ``True`` is an int."""
    return isinstance(depth, int) and not isinstance(depth, bool) and depth in STAGE_BLOCKS


def block_specs(depth: int) -> List[BlockSpec]:
    """One :class:`BlockSpec` per block of a ScaleNet (or ResNet) of ``depth``, in network order."""
    if not is_depth(depth):
        raise ValueError(f'depth must be one of {sorted(STAGE_BLOCKS)}, got {depth!r}')
    return [BlockSpec(stage, index, STAGE_PLANES[stage], STAGE_SIDES[stage],
                      stage_inplanes(stage) if index == 0 else STAGE_PLANES[stage] * EXPANSION)
            for stage, count in enumerate(STAGE_BLOCKS[depth]) for index in range(count)]
