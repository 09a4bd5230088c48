"""The scale-aggregation maths (Li et al., "Data-Driven Neuron Allocation for Scale Aggregation Networks", CVPR 2019,
Sec. 3.1 and Fig. 2), in one place: pooling a map by each branch's factor, the rule that upsamples a branch back,
and where a branch's norm and ReLU may run on its small map.

An SA block runs one branch per scale factor ``s``: max-pool by ``s``, conv, upsample back, norm; the branches are
concatenated and rectified. The trainable block (:class:`~.bottleneck.SABottleneck`), the fused inference fast path
(:mod:`mmdet_scalenet.deploy.fuse`) and the ONNX export (:mod:`mmdet_scalenet.deploy.onnx`) all call the functions
here; none of them writes a rule again. In a compiled graph the coarse branches' convs run as one over their pooled
maps side by side (:mod:`.atlas`), which saves kernel launches.
"""
from typing import Callable, Dict, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.modules.batchnorm import _BatchNorm

from .atlas import Atlas, run_atlas
from .norm import batch_norm_as_upsampled

__all__ = ['aggregate', 'downsample_by', 'is_affine', 'norm_relu_upsample', 'pool_branches', 'repeats_values',
           'upsample_to']

#: A branch: its key, its pooled input and the full size in, its upsampled output out.
Branch = Callable[[str, torch.Tensor, Tuple[int, int]], torch.Tensor]


def downsample_by(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Max-pool with kernel = stride = ``factor`` (floor), clamped to the map's size.

    A map smaller than ``factor`` along a dimension is pooled to 1 along it, so small inputs run (the authors' code
    fails there).
    """
    if factor == 1:
        return x
    kernel = (min(factor, x.shape[-2]), min(factor, x.shape[-1]))
    if torch.compiler.is_compiling() and kernel[0] * kernel[1] > 25:
        # Inductor leaves a window of more than 25 values (the factor-7 branch) to a separate reduction and aten's
        # backward; pooling along the width, then the height, gives the same maxima and fuses.
        x = F.max_pool2d(x, kernel_size=(1, kernel[1]), stride=(1, kernel[1]))
        return F.max_pool2d(x, kernel_size=(kernel[0], 1), stride=(kernel[0], 1))
    return F.max_pool2d(x, kernel_size=kernel, stride=kernel)


def pool_branches(x: torch.Tensor, factors: Sequence[int]) -> Dict[int, torch.Tensor]:
    """``{factor: downsample_by(x, factor)}`` for each factor, the factor-4 map pooled from the factor-2 one.

    Where the map is at least 4x4, ``max_pool(4) == max_pool(2)`` applied twice (the same windows, floor rounding
    included), and the second pool reads a quarter of the data. (A compiled graph pools each factor from ``x``:
    the compiler fuses the pools, and the size check would be a guard.)
    """
    pooled: Dict[int, torch.Tensor] = {}
    for factor in sorted(set(factors)):
        if factor == 4 and 2 in pooled and not _one_graph_for_all_sizes() and min(x.shape[-2:]) >= 4:
            pooled[4] = F.max_pool2d(pooled[2], kernel_size=2, stride=2)
        else:
            pooled[factor] = downsample_by(x, factor)
    return pooled


def _misfit(size: Sequence[int], low: Sequence[int]):
    """0 exactly when ``size`` is a whole multiple of ``low`` on both sides (ints, or symbolic ints in a graph)."""
    return size[0] % low[0] + size[1] % low[1]


def _one_graph_for_all_sizes() -> bool:
    """Whether the sizes may be symbolic (``torch.export``, ``torch.compile``): the upsampling is then chosen in the
    graph, not here, so that a graph holds for every input size (no guard, no recompile per size)."""
    return torch.compiler.is_exporting() or torch.compiler.is_compiling()


def upsample_to(x: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Upsample a pooled branch back to ``size``: THE rule of the SA block.

    Nearest where ``size`` is a whole multiple of ``x``'s size on both sides (an exact inverse of the pooling grid),
    bilinear with ``align_corners=False`` otherwise, as the authors do. In an exported or compiled graph both are
    computed and the same rule selects one at run time, so one graph serves every input size.
    """
    low = (x.shape[-2], x.shape[-1])
    if _one_graph_for_all_sizes():
        nearest = F.interpolate(x, size=size, mode='nearest')
        bilinear = F.interpolate(x, size=size, mode='bilinear', align_corners=False)
        return torch.where(torch.scalar_tensor(_misfit(size, low)) == 0, nearest, bilinear)
    if low == tuple(size):
        return x
    if _misfit(size, low) == 0:
        return F.interpolate(x, size=size, mode='nearest')
    return F.interpolate(x, size=size, mode='bilinear', align_corners=False)


def repeats_values(size: Tuple[int, int], low: Tuple[int, int]) -> bool:
    """Whether :func:`upsample_to` from ``low`` to ``size`` repeats every value the same number of times (the
    identity, or nearest by whole factors): it then commutes with every per-value function (ReLU) and leaves
    per-channel statistics unchanged. False in an exported or compiled graph, where the choice is made at run
    time."""
    return not _one_graph_for_all_sizes() and _misfit(size, low) == 0


def is_affine(norm: nn.Module) -> bool:
    """Whether ``norm`` is a fixed per-channel affine map: a BatchNorm in eval mode with running statistics.

    Such a map commutes with any per-channel convex combination of pixels, nearest and bilinear upsampling alike.
    """
    return isinstance(norm, _BatchNorm) and not norm.training and norm.running_mean is not None


def _commutes_with_repeats(norm: nn.Module, y: torch.Tensor) -> bool:
    """Whether ``norm`` gives the same values before and after repeating every value of ``y`` equally: an affine
    map, or a GroupNorm whose groups hold more than one value (its per-sample statistics are unchanged; GroupNorm
    refuses groups of one value, so on a 1x1 map with one channel per group it must see the upsampled map)."""
    if is_affine(norm):
        return True
    if isinstance(norm, nn.GroupNorm):
        return y.shape[1] // norm.num_groups * y.shape[-2] * y.shape[-1] > 1
    return False


def norm_relu_upsample(norm: nn.Module, y: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """A branch's ``relu(norm(upsample_to(y, size)))``, with the norm and the ReLU on the small map where exact.

    Where the upsampling repeats values (:func:`repeats_values`), ReLU commutes with it, and so do an affine norm,
    a GroupNorm and, with the running variance's count corrected (:func:`~.norm.batch_norm_as_upsampled`), a
    training-mode ``BatchNorm2d``. SyncBN keeps the full-resolution order. Where it is bilinear, an affine norm
    still commutes (convex weights); ReLU does not.
    """
    low = (y.shape[-2], y.shape[-1])
    if repeats_values(size, low):
        if low == tuple(size) or _commutes_with_repeats(norm, y):
            return upsample_to(F.relu(norm(y), inplace=True), size)
        if type(norm) is nn.BatchNorm2d and y.numel() > y.shape[1]:
            repeats = (size[0] // low[0]) * (size[1] // low[1])
            return upsample_to(F.relu(batch_norm_as_upsampled(norm, y, repeats), inplace=True), size)
    elif is_affine(norm):
        return F.relu(upsample_to(norm(y), size), inplace=True)
    return F.relu(norm(upsample_to(y, size)), inplace=True)


def aggregate(x: torch.Tensor, factors: Mapping[str, int], branch: Branch,
              atlas: Optional[Atlas] = None) -> torch.Tensor:
    """The SA block's data flow: pool ``x`` by each branch's factor (:func:`pool_branches`), run each branch
    ``branch(key, pooled, size)`` (conv, norm, ReLU, upsampled back to ``x``'s size), concatenate in ``factors``'
    order. The branches of ``atlas`` run their convs as one (:mod:`.atlas`), then ``atlas.finish``."""
    size = (x.shape[-2], x.shape[-1])
    pooled = pool_branches(x, list(factors.values()))
    done: Dict[str, torch.Tensor] = {}
    if atlas is not None:
        lows = run_atlas([pooled[factors[key]] for key in atlas.keys], atlas.conv, atlas.channels, atlas.gap)
        done = {key: atlas.finish(key, y, size) for key, y in zip(atlas.keys, lows)}
    outs = [done[key] if key in done else branch(key, pooled[factor], size) for key, factor in factors.items()]
    return outs[0] if len(outs) == 1 else torch.cat(outs, dim=1)
