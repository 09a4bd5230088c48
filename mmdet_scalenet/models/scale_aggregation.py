"""The scale-aggregation (SA) block and the bottleneck built around it.

Li et al., "Data-Driven Neuron Allocation for Scale Aggregation Networks", CVPR 2019, Sec. 3.1 and Fig. 2.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmengine.model import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm

from ..structure import branch_kernel_size

__all__ = ['SABottleneck', 'branch_kernel_size', 'build_norm', 'downsample_by', 'nearest_fits', 'upsample_to']


def build_norm(norm_cfg: dict, num_features: int, postfix=''):
    """``mmcv.cnn.build_norm_layer``, except that GroupNorm uses the largest divisor of ``num_features`` that is
    at most the configured ``num_groups``: allocated branch widths (9, 62, ...) are rarely multiples of 32."""
    if norm_cfg.get('type') == 'GN':
        groups = max(g for g in range(1, min(norm_cfg['num_groups'], num_features) + 1) if num_features % g == 0)
        norm_cfg = dict(norm_cfg, num_groups=groups)
    return build_norm_layer(norm_cfg, num_features, postfix=postfix)


def downsample_by(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Max-pool with kernel = stride = ``factor`` (floor), clamped to the map's size.

    A map smaller than ``factor`` along a dimension is pooled to 1 along it, so small inputs run.
    """
    if factor == 1:
        return x
    kernel = (min(factor, x.shape[-2]), min(factor, x.shape[-1]))
    return F.max_pool2d(x, kernel_size=kernel, stride=kernel)


def nearest_fits(size: Tuple[int, int], low: Tuple[int, int]) -> bool:
    """Whether :func:`upsample_to` takes nearest from ``low`` to ``size``: ``size`` a whole multiple of ``low``."""
    return size[0] % low[0] == 0 and size[1] % low[1] == 0


def upsample_to(x: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Resize a pooled branch back to ``size``: nearest where ``size`` is a whole multiple of ``x``'s size
    (an exact inverse of the pooling grid), bilinear with ``align_corners=False`` otherwise, as the authors do."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if nearest_fits(size, x.shape[-2:]):
        return F.interpolate(x, size=size, mode='nearest')
    return F.interpolate(x, size=size, mode='bilinear', align_corners=False)


class SABottleneck(BaseModule):
    """ResNet bottleneck whose 3x3 conv is a scale-aggregation block (ScaleNet, Li et al., CVPR 2019).

    ``x -> [2x2 max-pool if stride 2] -> conv1 1x1 -> norm -> ReLU -> SA -> conv3 1x1 -> norm -> + shortcut -> ReLU``.

    The SA block runs one branch per scale factor ``s`` with ``c_s > 0`` channels: max-pool by ``s``, conv
    (3x3 or 1x1, see :func:`branch_kernel_size`) to ``c_s`` channels, upsample back, norm; the branches are
    concatenated and passed through ReLU. Branch convs and norms live in ``conv2[str(i)]`` and ``bn2[str(i)]``
    (``gn2`` etc. for other norms), keyed by the branch's position ``i``, so a state dict has the authors' keys
    (``conv2.0``, ``conv2.1``, ``conv2.3`` when the factor-4 branch is empty).

    Args:
        inplanes: input channels.
        planes: width of conv1; the block outputs ``planes * 4``.
        branch_channels: output channels of each branch (0 = no branch).
        side: the block's feature-map side for a 224x224 input (decides kernel sizes).
        scale_factors: downsampling factor of each branch.
        stride: 2 starts the block with a 2x2 max-pool (applied before both paths), 1 does not.
        downsample: the shortcut projection, or None for identity.
        with_cp: use gradient checkpointing (``use_reentrant=False``).
        conv_cfg, norm_cfg: mmcv layer configs.
        init_cfg: mmengine init config.
    """
    expansion = 4

    def __init__(self,
                 inplanes: int,
                 planes: int,
                 branch_channels: Sequence[int],
                 side: int,
                 scale_factors: Sequence[int] = (1, 2, 4, 7),
                 stride: int = 1,
                 downsample: Optional[nn.Module] = None,
                 with_cp: bool = False,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),  # noqa: B008 (never mutated)
                 init_cfg=None):
        super().__init__(init_cfg)
        if stride not in (1, 2):
            raise ValueError(f'stride must be 1 or 2, got {stride}')
        if len(branch_channels) != len(scale_factors):
            raise ValueError(f'branch_channels {list(branch_channels)} and scale_factors {list(scale_factors)} '
                             f'differ in length')
        if sum(branch_channels) == 0:
            raise ValueError('branch_channels are all 0: an SA block needs at least one branch')
        self.stride = stride
        self.with_cp = with_cp
        self.scale_factors = tuple(scale_factors)
        self.branch_channels = tuple(branch_channels)
        self.side = side

        self.conv1 = build_conv_layer(conv_cfg, inplanes, planes, kernel_size=1, bias=False)
        self.norm1_name, norm1 = build_norm(norm_cfg, planes, postfix=1)
        self.add_module(self.norm1_name, norm1)

        self.conv2 = nn.ModuleDict()
        norms2 = nn.ModuleDict()
        for i, channels in enumerate(branch_channels):
            if channels == 0:
                continue
            kernel = branch_kernel_size(side, i)
            self.conv2[str(i)] = build_conv_layer(
                conv_cfg, planes, channels, kernel_size=kernel, padding=kernel // 2, bias=False)
            self.norm2_name, norms2[str(i)] = build_norm(norm_cfg, channels, postfix=2)
        self.add_module(self.norm2_name, norms2)

        self.conv3 = build_conv_layer(conv_cfg, sum(branch_channels), planes * self.expansion, kernel_size=1,
                                      bias=False)
        self.norm3_name, norm3 = build_norm(norm_cfg, planes * self.expansion, postfix=3)
        self.add_module(self.norm3_name, norm3)

        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    @property
    def norm1(self) -> nn.Module:
        return getattr(self, self.norm1_name)

    @property
    def norm2(self) -> nn.ModuleDict:
        """The branch norms, keyed like ``conv2``."""
        return getattr(self, self.norm2_name)

    @property
    def norm3(self) -> nn.Module:
        return getattr(self, self.norm3_name)

    def scale_aggregation(self, x: torch.Tensor) -> torch.Tensor:
        """The SA block: per branch pool, conv, upsample, norm; concatenate; ReLU."""
        size = (x.shape[-2], x.shape[-1])
        outs = []
        for key, conv in self.conv2.items():
            y = conv(downsample_by(x, self.scale_factors[int(key)]))
            norm = self.norm2[key]
            if isinstance(norm, _BatchNorm) and not norm.training and norm.running_mean is not None:
                # An eval-mode BN (running statistics) is a per-channel affine map and both upsamplings are convex
                # combinations, so BN(up(y)) == up(BN(y)): normalising the small map saves a full-resolution pass.
                outs.append(upsample_to(norm(y), size))
            else:
                outs.append(norm(upsample_to(y, size)))
        return self.relu(torch.cat(outs, dim=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:

        def _inner_forward(x):
            if self.stride == 2:
                x = downsample_by(x, 2)
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.norm1(self.conv1(x)))
            out = self.scale_aggregation(out)
            out = self.norm3(self.conv3(out))
            return out + identity

        if self.with_cp and x.requires_grad:
            out = cp.checkpoint(_inner_forward, x, use_reentrant=False)
        else:
            out = _inner_forward(x)
        return self.relu(out)
