"""The coarse branches of an SA block as one convolution over an "atlas" (Li et al., "Data-Driven Neuron Allocation
for Scale Aggregation Networks", CVPR 2019, Sec. 3.1 and Fig. 2: the branches of a block convolve the same input,
pooled by different factors, with kernels of the same size).

The pooled maps of the coarse branches are laid side by side along the width in one tensor, the atlas, separated by
zero columns as wide as the conv's padding and zero-filled below where a map is shorter than the atlas; one conv with
the branches' weights stacked along its output channels runs over it, and each branch takes its channels of its own
tile. Exact: an output pixel of a tile reads that tile or zeros, the zero padding the branch's own conv reads.

The trade: every branch's channels are computed over the whole atlas (more multiply-accumulates, :func:`atlas_macs`)
in exchange for one conv call instead of two or three. It pays where launches, not arithmetic, set the time: on a
GPU at small maps and under ``torch.compile``, where the packing and unpacking fuse into the kernels around the conv
(docs/benchmark.md, "Kernel launches", has the measurements behind where it runs: in compiled graphs, where every
stage's launch count drops, not in eager on CPU, where every stage measured slower).
"""
import contextlib
import contextvars
from typing import Callable, Dict, List, Mapping, NamedTuple, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ['Atlas', 'atlas_gap', 'atlas_keys', 'atlas_macs', 'eager_atlas', 'eager_atlas_requested',
           'pack', 'run_atlas', 'stacked_conv', 'unpack']

_EAGER_ATLAS = contextvars.ContextVar('eager_atlas', default=False)


@contextlib.contextmanager
def eager_atlas():
    """Within this context the trainable block (:class:`~.bottleneck.SABottleneck`) runs its atlas in eager too
    (to compare and measure it); outside, only in a compiled graph."""
    token = _EAGER_ATLAS.set(True)
    try:
        yield
    finally:
        _EAGER_ATLAS.reset(token)


def eager_atlas_requested() -> bool:
    """Whether :func:`eager_atlas` is active."""
    return _EAGER_ATLAS.get()


class Atlas(NamedTuple):
    """Branches of an SA block run as one conv over their pooled maps (what
    :func:`~.scale_aggregation.aggregate` needs).

    Attributes:
        keys: the branches, finest factor first (the tallest tile: floor pooling, clamped to the map, never gives a
            coarser factor a larger map); the conv's output channels are theirs in this order.
        channels: each branch's output channels.
        gap: the conv's padding, ``dilation * (kernel // 2)``: the zero columns between tiles.
        conv: the stacked conv, on the packed atlas.
        finish: ``finish(key, y, size)``: the rest of branch ``key`` (norm, ReLU, upsampling back to ``size``) on its
            conv output ``y``.
    """
    keys: Tuple[str, ...]
    channels: Tuple[int, ...]
    gap: int
    conv: Callable[[torch.Tensor], torch.Tensor]
    finish: Callable[[str, torch.Tensor, Tuple[int, int]], torch.Tensor]


def _geometry(conv: nn.Module) -> Tuple:
    """What the convs of one atlas must share: kernel, dilation and padding."""
    return conv.kernel_size, conv.dilation, conv.padding


def _fits(conv: nn.Module) -> bool:
    """Whether ``conv`` can be a slice of an atlas conv: a plain ``nn.Conv2d`` (not deformable, not a wrapper with
    its own forward), stride 1, one group, 'same' zero padding ``dilation * (kernel // 2)``."""
    if type(conv) is not nn.Conv2d or conv.groups != 1 or conv.padding_mode != 'zeros' or conv.stride != (1, 1):
        return False
    return all(p == d * (k // 2) for p, d, k in zip(conv.padding, conv.dilation, conv.kernel_size))


def atlas_keys(convs: Mapping[str, nn.Module], factors: Mapping[str, int]) -> Tuple[str, ...]:
    """The coarse branches (factor > 1) that can run as one atlas conv, finest factor first: of the plain convs
    (:func:`_fits`) the largest set sharing kernel, dilation and padding (stage 4's factor-7 branch, 1x1 where the
    others are 3x3, stays apart); ``()`` where fewer than two share."""
    groups: Dict[Tuple, List[str]] = {}
    for key in sorted(convs, key=lambda k: factors[k]):
        if factors[key] > 1 and _fits(convs[key]):
            groups.setdefault(_geometry(convs[key]), []).append(key)
    best = max(groups.values(), key=len, default=[])
    return tuple(best) if len(best) > 1 else ()


def atlas_gap(conv: nn.Module) -> int:
    """The zero columns between tiles: the conv's padding along the width, as many columns as an output pixel reads
    beyond its tile. (Below a tile, zero rows or the conv's own padding: nothing to reserve.)"""
    return conv.padding[1]


def stacked_conv(convs: Sequence[nn.Conv2d]) -> Callable[[torch.Tensor], torch.Tensor]:
    """``convs`` as one conv (the trainable block's atlas conv): their weights (and biases, zero where a conv has
    none) concatenated along the output channels on every call, so that gradients reach each conv's own weight."""
    first = convs[0]

    def conv(x: torch.Tensor) -> torch.Tensor:
        weight = torch.cat([c.weight for c in convs])
        bias = None
        if any(c.bias is not None for c in convs):
            bias = torch.cat([c.bias if c.bias is not None else c.weight.new_zeros(c.out_channels) for c in convs])
        return F.conv2d(x, weight, bias, 1, first.padding, first.dilation)

    return conv


def pack(tiles: Sequence[torch.Tensor], gap: int) -> torch.Tensor:
    """The atlas: ``tiles`` side by side along the width, ``gap`` zero columns between them, each zero-filled below
    to the first (tallest) tile's height.

    The pad amounts may be symbolic (``torch.compile(dynamic=True)``): nothing here branches on a size.
    """
    height = tiles[0].shape[-2]
    last = len(tiles) - 1
    padded = [F.pad(tile, (0, gap if i < last else 0, 0, height - tile.shape[-2])) for i, tile in enumerate(tiles)]
    if not torch.compiler.is_compiling() and tiles[0].is_contiguous(memory_format=torch.channels_last):
        # A 1x1 tile is contiguous in both layouts and pads to NCHW; one NCHW input makes the atlas NCHW, and the
        # conv on it reorders. (In a compiled graph the layouts are the compiler's.)
        padded = [tile.contiguous(memory_format=torch.channels_last) for tile in padded]
    return torch.cat(padded, dim=-1)


def unpack(y: torch.Tensor, tiles: Sequence[torch.Tensor], channels: Sequence[int], gap: int) -> List[torch.Tensor]:
    """Each tile's branch output from the atlas conv's output ``y``: its channels (in ``channels``' order) over its
    tile (views, no copy)."""
    outs, channel, column = [], 0, 0
    for tile, width in zip(tiles, channels):
        outs.append(y[:, channel:channel + width, :tile.shape[-2], column:column + tile.shape[-1]])
        channel += width
        column += tile.shape[-1] + gap
    return outs


def run_atlas(tiles: Sequence[torch.Tensor], conv: Callable[[torch.Tensor], torch.Tensor], channels: Sequence[int],
              gap: int) -> List[torch.Tensor]:
    """``[conv_i(tile_i)]`` for the branch convs stacked in ``conv``: :func:`pack`, one conv, :func:`unpack`."""
    return unpack(conv(pack(tiles, gap)), tiles, channels, gap)


def atlas_macs(sizes: Sequence[Tuple[int, int]], channels: Sequence[int], in_channels: int, kernel: int,
               gap: int) -> Tuple[int, int]:
    """``(separate, atlas)``: the multiply-accumulates of the branch convs on their pooled maps of ``sizes``, run
    apart and as one atlas conv (every branch's channels over the whole atlas)."""
    per_pixel = kernel * kernel * in_channels
    separate = sum(per_pixel * c * h * w for (h, w), c in zip(sizes, channels))
    width = sum(w for _, w in sizes) + gap * (len(sizes) - 1)
    return separate, per_pixel * sum(channels) * sizes[0][0] * width
