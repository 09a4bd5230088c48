"""ScaleNet's bottleneck: a ResNet bottleneck whose 3x3 conv is a scale-aggregation block (Li et al., "Data-Driven
Neuron Allocation for Scale Aggregation Networks", CVPR 2019, Sec. 3.1 and Fig. 2)."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn import build_conv_layer, build_plugin_layer
from mmengine.model import BaseModule

from ..geometry import EXPANSION, SCALE_FACTORS, branch_kernel_size
from .atlas import Atlas, atlas_gap, atlas_keys, eager_atlas_requested, stacked_conv
from .checks import PLUGIN_POSITIONS
from .norm import build_norm
from .scale_aggregation import aggregate, downsample_by, norm_relu_upsample

__all__ = ['BottleneckFlow', 'SABottleneck', 'conv_at_least_kernel']


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
    y = conv(nn.functional.pad(x, (0, pad_w, 0, pad_h)))
    return y[..., :y.shape[-2] - pad_h, :y.shape[-1] - pad_w]


class BottleneckFlow:
    """The data flow of a ScaleNet bottleneck, written once for the trainable block and its fused inference copy
    (:class:`~mmdet_scalenet.deploy.fuse.FusedSABottleneck`), which differ only in the three steps they implement::

        x -> [2x2 max-pool if stride 2] -> reduce (conv1 and the shortcut) -> scale aggregation -> expand (conv3,
        + shortcut, ReLU)

    Attributes a block sets: ``stride``; ``factors`` (``{branch key: scale factor}``, in branch order);
    ``atlas_keys``, the coarse branches that can run their convs as one (:func:`~.atlas.atlas_keys`).
    """
    stride: int
    factors: Dict[str, int]
    atlas_keys: Tuple[str, ...] = ()

    def reduce(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(relu(norm(conv1(x))), shortcut(x))``."""
        raise NotImplementedError

    def branch(self, key: str, low: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
        """Branch ``key`` on its pooled map ``low``: conv, norm and ReLU, upsampled back to ``size``."""
        raise NotImplementedError

    def atlas(self) -> Optional[Atlas]:
        """The branches that run their convs as one in this call (:mod:`.atlas`), or None."""
        return None

    def expand(self, out: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        """``relu(norm(conv3(out)) + identity)``."""
        raise NotImplementedError

    def scale_aggregation(self, x: torch.Tensor) -> torch.Tensor:
        """The SA block: every branch on ``x`` pooled by its factor, concatenated (and rectified)."""
        return aggregate(x, self.factors, self.branch, self.atlas())

    def flow(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 2:
            x = downsample_by(x, 2)
        out, identity = self.reduce(x)
        return self.expand(self.scale_aggregation(out), identity)


class SABottleneck(BottleneckFlow, BaseModule):
    """ResNet bottleneck whose 3x3 conv is a scale-aggregation block (ScaleNet, Li et al., CVPR 2019, Sec. 3.1).

    ``x -> [2x2 max-pool if stride 2] -> conv1 1x1 -> norm -> ReLU -> SA -> conv3 1x1 -> norm -> + shortcut -> ReLU``.

    The SA block runs one branch per scale factor ``s`` with ``c_s > 0`` channels: max-pool by ``s``, conv
    (3x3 or 1x1, see :func:`~mmdet_scalenet.geometry.branch_kernel_size`) to ``c_s`` channels, upsample back, norm;
    the branches are concatenated and passed through ReLU (:mod:`.scale_aggregation` holds these rules). Branch
    convs and norms live in ``conv2[str(i)]`` and ``bn2[str(i)]`` (``gn2`` etc. for other norms), keyed by the
    branch's position ``i``, so a state dict has the authors' keys (``conv2.0``, ``conv2.1``, ``conv2.3`` when the
    factor-4 branch is empty).

    The block trusts its builder (:class:`~.scalenet.ScaleNetLayer`, from :class:`~.scalenet.ScaleNet` or
    :class:`~.shared_head.ScaleNetResLayer`), which checks every argument.

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
        conv_cfg, norm_cfg: mmcv layer configs (``norm_cfg=None``: BatchNorm).
        dcn: mmcv conv config (``DCN``, ``DCNv2``) for the 3x3 branch convs, as mmdet's ``Bottleneck`` builds its
            3x3 conv; 1x1 branch convs stay plain (see :func:`~.checks.branch_dcn`).
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
                 norm_cfg: Optional[dict] = None,
                 dcn: Optional[dict] = None,
                 plugins: Sequence[dict] = (),
                 init_cfg=None):
        super().__init__(init_cfg)
        norm_cfg = norm_cfg if norm_cfg is not None else dict(type='BN', requires_grad=True)
        self.stride = stride
        self.dilation = dilation
        self.with_cp = with_cp
        self.scale_factors = tuple(scale_factors)
        self.branch_channels = tuple(branch_channels)
        self.side = side

        self.conv1 = build_conv_layer(conv_cfg, inplanes, planes, kernel_size=1, bias=False)
        self.norm1_name, norm1 = build_norm(norm_cfg, planes, postfix=1)
        self.add_module(self.norm1_name, norm1)
        self._build_branches(planes, conv_cfg, norm_cfg, dcn)
        self.conv3 = build_conv_layer(conv_cfg, sum(branch_channels), planes * self.expansion, kernel_size=1,
                                      bias=False)
        self.norm3_name, norm3 = build_norm(norm_cfg, planes * self.expansion, postfix=3)
        self.add_module(self.norm3_name, norm3)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self._build_plugins(plugins, planes)

    def _build_branches(self, planes: int, conv_cfg: Optional[dict], norm_cfg: dict, dcn: Optional[dict]) -> None:
        self.conv2 = nn.ModuleDict()
        norms2 = nn.ModuleDict()
        for i, channels in enumerate(self.branch_channels):
            if channels == 0:
                continue
            kernel = branch_kernel_size(self.side, i)
            if kernel == 1:  # nothing to dilate or deform
                conv = build_conv_layer(conv_cfg, planes, channels, kernel_size=1, bias=False)
            else:
                conv = build_conv_layer(dcn if dcn is not None else conv_cfg, planes, channels, kernel_size=kernel,
                                        padding=self.dilation * (kernel // 2), dilation=self.dilation, bias=False)
            self.conv2[str(i)] = conv
            self.norm2_name, norms2[str(i)] = build_norm(norm_cfg, channels, postfix=2)
        self.add_module(self.norm2_name, norms2)
        self.factors = {key: self.scale_factors[int(key)] for key in self.conv2}
        #: Branches whose conv is deformable (mmcv's ``*Pack`` convs compute their offsets with ``conv_offset``).
        self.deformable = frozenset(key for key, conv in self.conv2.items() if hasattr(conv, 'conv_offset'))
        self.atlas_keys = atlas_keys(self.conv2, self.factors)

    def _build_plugins(self, plugins: Sequence[dict], planes: int) -> None:
        widths = {'after_conv1': planes, 'after_conv2': sum(self.branch_channels),
                  'after_conv3': planes * self.expansion}
        self.plugin_names: Dict[str, List[str]] = {position: [] for position in PLUGIN_POSITIONS}
        for plugin in plugins:
            position, cfg = plugin['position'], dict(plugin['cfg'])
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

    def reduce(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        identity = x if self.downsample is None else self.downsample(x)
        return self._plugins(self.relu(self.norm1(self.conv1(x))), 'after_conv1'), identity

    def branch(self, key: str, low: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
        conv = self.conv2[key]
        y = conv_at_least_kernel(conv, low) if key in self.deformable else conv(low)
        return self._finish_branch(key, y, size)

    def _finish_branch(self, key: str, y: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
        return norm_relu_upsample(self.norm2[key], y, size)

    def atlas(self) -> Optional[Atlas]:
        """The atlas in a compiled graph, where it removes launches (docs/benchmark.md, "Kernel launches"); the
        eager block runs its branches apart (the arithmetic the released weights were trained with) unless asked
        (:func:`~.atlas.eager_atlas`). Each branch's norm still sees only its own map: a training-mode BatchNorm's
        statistics are the branch's."""
        if not self.atlas_keys or not (torch.compiler.is_compiling() or eager_atlas_requested()):
            return None
        convs = [self.conv2[key] for key in self.atlas_keys]
        return Atlas(self.atlas_keys, tuple(conv.out_channels for conv in convs), atlas_gap(convs[0]),
                     stacked_conv(convs), self._finish_branch)

    def scale_aggregation(self, x: torch.Tensor) -> torch.Tensor:
        return self._plugins(super().scale_aggregation(x), 'after_conv2')

    def expand(self, out: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        out = self._plugins(self.norm3(self.conv3(out)), 'after_conv3')
        out += identity
        return self.relu(out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self.flow, x, use_reentrant=False)
        return self.flow(x)
