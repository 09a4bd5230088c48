"""The scale-aggregation (SA) block and the bottleneck built around it.

Li et al., "Data-Driven Neuron Allocation for Scale Aggregation Networks", CVPR 2019, Sec. 3.1 and Fig. 2.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import build_conv_layer, build_norm_layer, build_plugin_layer
from mmengine.model import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm

from ..geometry import EXPANSION, SCALE_FACTORS, branch_kernel_size

__all__ = [
    'PLUGIN_POSITIONS', 'SABottleneck', 'batch_norm_as_upsampled', 'build_norm', 'conv_at_least_kernel',
    'downsample_by', 'nearest_fits', 'pool_branches', 'upsample_to'
]

#: Where a block runs mmdet-style plugins, as mmdet's ``Bottleneck``.
PLUGIN_POSITIONS = ('after_conv1', 'after_conv2', 'after_conv3')


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


def pool_branches(x: torch.Tensor, factors: Sequence[int]) -> Dict[int, torch.Tensor]:
    """``{factor: downsample_by(x, factor)}`` for each factor, the factor-4 map pooled from the factor-2 one.

    Where the map is at least 4x4, ``max_pool(4) == max_pool(2)`` applied twice (the same windows, floor rounding
    included), and the second pool reads a quarter of the data.
    """
    pooled: Dict[int, torch.Tensor] = {}
    for factor in sorted(set(factors)):
        if factor == 4 and 2 in pooled and min(x.shape[-2:]) >= 4:
            pooled[4] = F.max_pool2d(pooled[2], kernel_size=2, stride=2)
        else:
            pooled[factor] = downsample_by(x, factor)
    return pooled


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


def batch_norm_as_upsampled(norm: nn.BatchNorm2d, y: torch.Tensor, repeats: int) -> torch.Tensor:
    """``norm(nearest(y))`` computed on ``y``, for a training-mode BatchNorm and a nearest upsampling by whole
    factors that repeats every value ``repeats`` times (then ``nearest(result)`` is the full-resolution output).

    Repeating every value the same number of times leaves the batch mean and (biased) variance unchanged, so the
    normalisation, its gradient and the running mean are those of the upsampled map; only the running variance's
    unbiased estimate counts the ``N * H * W`` values of the upsampled map, and is updated with that count here.
    """
    out = F.batch_norm(y, None, None, norm.weight, norm.bias, True, 0.0, norm.eps)
    if norm.track_running_stats and norm.running_mean is not None:
        with torch.no_grad():
            norm.num_batches_tracked.add_(1)
            factor = 1.0 / float(norm.num_batches_tracked) if norm.momentum is None else norm.momentum
            count = y.numel() // y.shape[1] * repeats
            var, mean = torch.var_mean(y, dim=(0, 2, 3), unbiased=False)
            norm.running_mean.mul_(1 - factor).add_(mean, alpha=factor)
            norm.running_var.mul_(1 - factor).add_(var * (count / (count - 1)), alpha=factor)
    return out


def conv_at_least_kernel(conv: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``conv(x)`` for a 'same'-padded conv, also where ``x`` is smaller than the kernel.

    mmcv's deformable convs refuse such maps, and a pooled branch can be one (the factor-7 map of stage 4 is 2x2
    at 640x640). Zero-padding ``x`` at the bottom and right to the kernel size and cropping the output is exact:
    the conv reads zeros there anyway (mmcv's own ``DeformConv2d`` pads the same way).
    """
    kernel_h, kernel_w = conv.kernel_size if isinstance(conv.kernel_size, tuple) else (conv.kernel_size, ) * 2
    pad_h, pad_w = max(kernel_h - x.shape[-2], 0), max(kernel_w - x.shape[-1], 0)
    if not (pad_h or pad_w):
        return conv(x)
    y = conv(F.pad(x, (0, pad_w, 0, pad_h)))
    return y[..., :y.shape[-2] - pad_h, :y.shape[-1] - pad_w]


class SABottleneck(BaseModule):
    """ResNet bottleneck whose 3x3 conv is a scale-aggregation block (ScaleNet, Li et al., CVPR 2019, Sec. 3.1).

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
        dilation: dilation (and padding) of the 3x3 branch convs; pooling factors and kernels are unchanged.
        downsample: the shortcut projection, or None for identity.
        with_cp: use gradient checkpointing (``use_reentrant=False``).
        conv_cfg, norm_cfg: mmcv layer configs.
        dcn: mmcv conv config (``DCN``, ``DCNv2``) for the 3x3 branch convs, as mmdet's ``Bottleneck`` builds its
            3x3 conv; 1x1 branch convs stay plain. ``fallback_on_stride=True`` in it builds plain convs, as mmdet.
        plugins: mmcv plugin configs, each ``dict(cfg=..., position=...)`` with position ``after_conv1``,
            ``after_conv2`` (after the SA block's ReLU) or ``after_conv3`` (before the residual add), run where
            mmdet's ``Bottleneck`` runs them.
        init_cfg: mmengine init config.
    """
    expansion = EXPANSION

    def __init__(self,
                 inplanes: int,
                 planes: int,
                 branch_channels: Sequence[int],
                 side: int,
                 scale_factors: Sequence[int] = SCALE_FACTORS,
                 stride: int = 1,
                 dilation: int = 1,
                 downsample: Optional[nn.Module] = None,
                 with_cp: bool = False,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),  # noqa: B006 (never mutated)
                 dcn: Optional[dict] = None,
                 plugins: Optional[Sequence[dict]] = None,
                 init_cfg=None):
        super().__init__(init_cfg)
        if stride not in (1, 2):
            raise ValueError(f'stride must be 1 or 2, got {stride}')
        if not isinstance(dilation, int) or dilation < 1:
            raise ValueError(f'dilation must be a positive integer, got {dilation!r}')
        if len(branch_channels) != len(scale_factors):
            raise ValueError(f'branch_channels {list(branch_channels)} and scale_factors {list(scale_factors)} '
                             f'differ in length')
        if sum(branch_channels) == 0:
            raise ValueError('branch_channels are all 0: an SA block needs at least one branch')
        self.stride = stride
        self.dilation = dilation
        self.with_cp = with_cp
        self.scale_factors = tuple(scale_factors)
        self.branch_channels = tuple(branch_channels)
        self.side = side

        self.conv1 = build_conv_layer(conv_cfg, inplanes, planes, kernel_size=1, bias=False)
        self.norm1_name, norm1 = build_norm(norm_cfg, planes, postfix=1)
        self.add_module(self.norm1_name, norm1)

        dcn = _branch_dcn(dcn, conv_cfg)
        self.with_dcn = dcn is not None
        self.conv2 = nn.ModuleDict()
        norms2 = nn.ModuleDict()
        for i, channels in enumerate(branch_channels):
            if channels == 0:
                continue
            kernel = branch_kernel_size(side, i)
            if kernel == 1:  # nothing to dilate or deform
                conv = build_conv_layer(conv_cfg, planes, channels, kernel_size=1, bias=False)
            else:
                conv = build_conv_layer(dcn if dcn is not None else conv_cfg, planes, channels, kernel_size=kernel,
                                        padding=dilation * (kernel // 2), dilation=dilation, bias=False)
            self.conv2[str(i)] = conv
            self.norm2_name, norms2[str(i)] = build_norm(norm_cfg, channels, postfix=2)
        self.add_module(self.norm2_name, norms2)
        #: Branches whose conv is deformable (mmcv's ``*Pack`` convs compute their offsets with ``conv_offset``).
        self.deformable = frozenset(key for key, conv in self.conv2.items() if hasattr(conv, 'conv_offset'))

        self.conv3 = build_conv_layer(conv_cfg, sum(branch_channels), planes * self.expansion, kernel_size=1,
                                      bias=False)
        self.norm3_name, norm3 = build_norm(norm_cfg, planes * self.expansion, postfix=3)
        self.add_module(self.norm3_name, norm3)

        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

        widths = {'after_conv1': planes, 'after_conv2': sum(branch_channels),
                  'after_conv3': planes * self.expansion}
        self.plugin_names = {position: [] for position in PLUGIN_POSITIONS}
        for plugin in plugins or ():
            position = plugin.get('position')
            if position not in widths or 'cfg' not in plugin:
                raise ValueError(f'plugins: expected dict(cfg=..., position=one of {list(PLUGIN_POSITIONS)}), '
                                 f'got {plugin!r}')
            cfg = dict(plugin['cfg'])
            if cfg.get('type') == 'GeneralizedAttention' and cfg.get('position_embedding_dim', -1) == -1:
                # Its geometric terms need an embedding width divisible by 4, which mmcv takes from in_channels by
                # default: after the SA block that is the allocated width (349, ...). Use ResNet's width there.
                cfg['position_embedding_dim'] = planes * self.expansion if position == 'after_conv3' else planes
            name, layer = build_plugin_layer(cfg, in_channels=widths[position], postfix=cfg.pop('postfix', ''))
            if hasattr(self, name):
                raise ValueError(f'plugins: two plugins named {name!r} in one block; give them a "postfix"')
            self.add_module(name, layer)
            self.plugin_names[position].append(name)
        self.with_plugins = any(self.plugin_names.values())

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

    def extension_modules(self) -> List[str]:
        """Names of the submodules that the authors' network does not have: the plugins and the offset convs of
        deformable branch convs. Their parameters keep their initialisation when released weights are loaded."""
        names = [name for position in PLUGIN_POSITIONS for name in self.plugin_names[position]]
        names += [f'conv2.{key}.conv_offset' for key in sorted(self.deformable)]
        return names

    def init_weights(self) -> None:
        super().init_weights()
        # A deformable conv starts as its plain conv (zero offsets), as in mmcv and the DCN papers; the backbone's
        # Kaiming init of every Conv2d would otherwise have reached the offset convs too.
        for key in self.deformable:
            offset = self.conv2[key].conv_offset
            nn.init.zeros_(offset.weight)
            if offset.bias is not None:
                nn.init.zeros_(offset.bias)

    def _plugins(self, x: torch.Tensor, position: str) -> torch.Tensor:
        for name in self.plugin_names[position]:
            x = getattr(self, name)(x)
        return x

    def scale_aggregation(self, x: torch.Tensor) -> torch.Tensor:
        """The SA block: per branch pool, conv, upsample, norm; concatenate; ReLU."""
        size = (x.shape[-2], x.shape[-1])
        pooled = pool_branches(x, [self.scale_factors[int(key)] for key in self.conv2])
        outs = []
        for key, conv in self.conv2.items():
            low = pooled[self.scale_factors[int(key)]]
            y = conv_at_least_kernel(conv, low) if key in self.deformable else conv(low)
            outs.append(self._norm_relu_upsample(self.norm2[key], y, size))
        return torch.cat(outs, dim=1)

    def _norm_relu_upsample(self, norm: nn.Module, y: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
        """``relu(norm(upsample_to(y, size)))``, with the norm (and ReLU) on the small map where that is exact."""
        low = (y.shape[-2], y.shape[-1])
        repeats = (size[0] // low[0]) * (size[1] // low[1])
        if nearest_fits(size, low):
            # A nearest upsample by whole factors repeats every value equally: it commutes with ReLU, with an
            # eval-mode BN (a per-channel affine map), with GroupNorm (per-sample statistics unchanged) and, with the
            # running variance's count corrected, with a training-mode BN. SyncBN keeps the full-resolution order.
            per_group = y.shape[1] // norm.num_groups * low[0] * low[1] if isinstance(norm, nn.GroupNorm) else 0
            if isinstance(norm, _BatchNorm) and not norm.training and norm.running_mean is not None \
                    or per_group > 1 or repeats == 1:  # (GroupNorm refuses groups of one value)
                return upsample_to(self.relu(norm(y)), size)
            if type(norm) is nn.BatchNorm2d and y.numel() > y.shape[1]:
                return upsample_to(self.relu(batch_norm_as_upsampled(norm, y, repeats)), size)
        elif isinstance(norm, _BatchNorm) and not norm.training and norm.running_mean is not None:
            # Bilinear weights are convex, so an affine map (eval-mode BN) commutes with it; ReLU does not.
            return self.relu(upsample_to(norm(y), size))
        return self.relu(norm(upsample_to(y, size)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:

        def _inner_forward(x):
            if self.stride == 2:
                x = downsample_by(x, 2)
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.norm1(self.conv1(x)))
            out = self._plugins(out, 'after_conv1')
            out = self._plugins(self.scale_aggregation(out), 'after_conv2')
            out = self._plugins(self.norm3(self.conv3(out)), 'after_conv3')
            out += identity
            return out

        if self.with_cp and x.requires_grad:
            out = cp.checkpoint(_inner_forward, x, use_reentrant=False)
        else:
            out = _inner_forward(x)
        return self.relu(out)


def _branch_dcn(dcn: Optional[dict], conv_cfg: Optional[dict]) -> Optional[dict]:
    """The conv config of the deformable 3x3 branch convs, or None (no dcn, or mmdet's ``fallback_on_stride``)."""
    if dcn is None:
        return None
    if not isinstance(dcn, dict) or 'type' not in dcn:
        raise TypeError(f'dcn must be an mmcv conv config dict with a "type" (e.g. dict(type="DCNv2", '
                        f'deform_groups=1)), got {dcn!r}')
    dcn = dict(dcn)
    if dcn.pop('fallback_on_stride', False):
        return None
    import mmcv.ops  # noqa: F401  (registers DCN and DCNv2 with mmcv's conv layers; compiled, so imported on use)
    if conv_cfg is not None:
        raise ValueError(f'conv_cfg must be None when dcn is set (as in mmdet\'s ResNet), got {conv_cfg!r}')
    return dcn
