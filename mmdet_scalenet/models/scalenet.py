"""ScaleNet backbone for MMDetection (Li et al., "Data-Driven Neuron Allocation for Scale Aggregation Networks",
CVPR 2019, arXiv 1904.09460)."""
import warnings
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import build_conv_layer
from mmdet.registry import MODELS
from mmengine.model import BaseModule, Sequential
from torch.nn.modules.batchnorm import _BatchNorm

from ..structure import DEFAULT_STRUCTURES, STAGE_BLOCKS, STAGE_PLANES, Structure, load_structure
from .pretrained import StrictPretrainedMixin
from .scale_aggregation import SABottleneck, build_norm

__all__ = ['ScaleNet', 'ScaleNetLayer', 'ScaleNetModule']

#: Output channels of the stem (7x7 conv), the input of stage 1.
STEM_CHANNELS = 64


class ScaleNetLayer(Sequential):
    """One ScaleNet stage: SA bottlenecks with per-block branch channels taken from a structure.

    Every stage starts with a projection shortcut (1x1 conv, stride 1, + norm) to ``planes * 4``; a stage with
    ``stride=2`` starts its first block with a 2x2 max-pool that feeds both paths.

    Args:
        inplanes: input channels.
        planes: bottleneck width; the stage outputs ``planes * 4``.
        blocks: ``(branch_channels, side)`` of every block, e.g. ``Structure.stage(i)``.
        scale_factors: the branch downsampling factors.
        stride: 1 or 2, for the first block.
        **block_kwargs: ``with_cp``, ``conv_cfg``, ``norm_cfg``, ``init_cfg`` for every block.
    """

    def __init__(self,
                 inplanes: int,
                 planes: int,
                 blocks: Sequence[Tuple[Sequence[int], int]],
                 scale_factors: Sequence[int],
                 stride: int = 1,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),  # noqa: B008 (never mutated)
                 **block_kwargs):
        if not blocks:
            raise ValueError('a ScaleNet stage needs at least one block')
        outplanes = planes * SABottleneck.expansion
        downsample = nn.Sequential(
            build_conv_layer(conv_cfg, inplanes, outplanes, kernel_size=1, bias=False),
            build_norm(norm_cfg, outplanes)[1])
        layers = []
        for index, (branch_channels, side) in enumerate(blocks):
            first = index == 0
            layers.append(SABottleneck(
                inplanes=inplanes if first else outplanes,
                planes=planes,
                branch_channels=branch_channels,
                side=side,
                scale_factors=scale_factors,
                stride=stride if first else 1,
                downsample=downsample if first else None,
                conv_cfg=conv_cfg,
                norm_cfg=norm_cfg,
                **block_kwargs))
        super().__init__(*layers)

    @classmethod
    def from_structure(cls, structure: Structure, stage: int, **kwargs) -> 'ScaleNetLayer':
        """Stage ``stage`` (0-based) of ``structure``, with the input width and stride it has in a ScaleNet."""
        return cls(inplanes=STEM_CHANNELS if stage == 0 else STAGE_PLANES[stage - 1] * SABottleneck.expansion,
                   planes=STAGE_PLANES[stage],
                   blocks=structure.stage(stage),
                   scale_factors=structure.scale_factors,
                   stride=1 if stage == 0 else 2,
                   **kwargs)


class ScaleNetModule(StrictPretrainedMixin, BaseModule):
    """What :class:`ScaleNet` and its C4 head :class:`~.shared_head.ScaleNetResLayer` share, as mmdet's ResNet
    and ResLayer do: ``depth`` and ``structure``, the deprecated ``pretrained``, the default initialisation,
    strict ``Pretrained`` loading, and ``norm_eval`` in :meth:`train` (which returns ``self``)."""

    def __init__(self, depth: int, structure, norm_eval: bool, pretrained: Optional[str], init_cfg):
        super().__init__(init_cfg)
        if depth not in STAGE_BLOCKS:
            raise KeyError(f'invalid depth {depth} for ScaleNet: expected one of {sorted(STAGE_BLOCKS)}')
        if init_cfg is not None and pretrained is not None:
            raise ValueError('init_cfg and pretrained cannot be specified at the same time')
        if pretrained is not None:
            if not isinstance(pretrained, str):
                raise TypeError(f'pretrained must be a str or None, got {type(pretrained).__name__}')
            warnings.warn('DeprecationWarning: pretrained is deprecated, please use "init_cfg" instead')
            self.init_cfg = dict(type='Pretrained', checkpoint=pretrained)
        elif init_cfg is None:
            self.init_cfg = [
                dict(type='Kaiming', layer='Conv2d'),
                dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm']),
            ]
        self.structure: Structure = load_structure(
            structure if structure is not None else DEFAULT_STRUCTURES[depth], depth=depth)
        self.depth = depth
        self.norm_eval = norm_eval

    def train(self, mode: bool = True) -> 'ScaleNetModule':
        """Set training mode; with ``norm_eval``, keep every BatchNorm in eval mode."""
        super().train(mode)
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self


@MODELS.register_module()
class ScaleNet(ScaleNetModule):
    """ScaleNet backbone: a ResNet whose bottleneck 3x3 convs are scale-aggregation blocks with data-driven
    neuron allocation (Li et al., "Data-Driven Neuron Allocation for Scale Aggregation Networks", CVPR 2019).

    Behaves like mmdet's ``ResNet`` (same arguments where they apply, same outputs and freezing rules) and loads
    the authors' ImageNet weights directly: ``init_cfg=dict(type='Pretrained', checkpoint=PATH)``. That load is
    strict: ``fc.*`` (and the stages beyond ``num_stages``) are ignored, any other missing, unexpected or
    mis-shaped key is an error. ``prefix`` (e.g. ``'backbone.'``) selects a sub-dict as in mmengine.

    Any input of at least 32x32 runs; where a feature map is smaller than a branch's pooling factor, that
    branch pools it to 1 along that side (the authors' code fails there).

    Args:
        depth: 50, 101 or 152.
        structure: a built-in name (``'scalenet50'``, ``'scalenet50_light'``, ``'scalenet101'``,
            ``'scalenet152'``), a path to a structure file (our schema or the authors' rows) or a
            :class:`~mmdet_scalenet.structure.Structure`. Default: the released structure of ``depth``.
        in_channels: input image channels.
        num_stages: stages to build, 1-4.
        out_indices: stages whose outputs are returned (0-based).
        frozen_stages: stages to freeze (parameters fixed, norms in eval); 0 freezes the stem only,
            -1 nothing. Re-applied in every ``train()``.
        conv_cfg: conv layer config (e.g. for DCN-free custom convs).
        norm_cfg: norm layer config (BN, SyncBN, GN...). GN uses, per layer, the largest divisor of the layer's
            width that is at most ``num_groups`` (allocated branch widths are rarely multiples of 32).
        norm_eval: keep every BatchNorm in eval mode (running statistics fixed) during training.
        with_cp: gradient checkpointing per block (saves memory, costs time).
        zero_init_residual: zero the last norm of every block when ``init_cfg`` is left at its default (as mmdet's
            ResNet).
        pretrained: deprecated; use ``init_cfg=dict(type='Pretrained', checkpoint=...)``.
        init_cfg: mmengine init config.

    Example:
        >>> import torch
        >>> from mmdet_scalenet import ScaleNet
        >>> model = ScaleNet(depth=50).eval()
        >>> outs = model(torch.rand(1, 3, 224, 224))
        >>> [tuple(out.shape) for out in outs]
        [(1, 256, 56, 56), (1, 512, 28, 28), (1, 1024, 14, 14), (1, 2048, 7, 7)]
    """

    def __init__(self,
                 depth: int = 50,
                 structure=None,
                 in_channels: int = 3,
                 num_stages: int = 4,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 frozen_stages: int = -1,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),  # noqa: B008 (never mutated)
                 norm_eval: bool = True,
                 with_cp: bool = False,
                 zero_init_residual: bool = True,
                 pretrained: Optional[str] = None,
                 init_cfg=None):
        super().__init__(depth, structure, norm_eval, pretrained, init_cfg)
        if not 1 <= num_stages <= 4:
            raise ValueError(f'num_stages must be 1..4, got {num_stages}')
        out_indices = tuple(out_indices)
        if not out_indices or any(not 0 <= i < num_stages for i in out_indices):
            raise ValueError(f'out_indices must be non-empty and each in 0..{num_stages - 1} '
                             f'(num_stages={num_stages}), got {out_indices}')
        if not -1 <= frozen_stages <= num_stages:
            raise ValueError(f'frozen_stages must be -1..{num_stages} (num_stages={num_stages}), got {frozen_stages}')
        block_init_cfg = None
        if zero_init_residual and init_cfg is None and pretrained is None:
            # Every block's last norm starts at 0, so each block starts as the identity (Goyal et al., 2017).
            block_init_cfg = dict(type='Constant', val=0, override=dict(name='norm3'))
        self.num_stages = num_stages
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.zero_init_residual = zero_init_residual

        self.conv1 = build_conv_layer(conv_cfg, in_channels, STEM_CHANNELS, kernel_size=7, stride=2, padding=3,
                                      bias=False)
        self.norm1_name, norm1 = build_norm(norm_cfg, STEM_CHANNELS, postfix=1)
        self.add_module(self.norm1_name, norm1)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

        self.res_layers = []
        for i in range(num_stages):
            layer = ScaleNetLayer.from_structure(
                self.structure, i, with_cp=with_cp, conv_cfg=conv_cfg, norm_cfg=norm_cfg, init_cfg=block_init_cfg)
            self.add_module(f'layer{i + 1}', layer)
            self.res_layers.append(f'layer{i + 1}')
        self.feat_dim = STAGE_PLANES[num_stages - 1] * SABottleneck.expansion
        self.out_channels = tuple(STAGE_PLANES[i] * SABottleneck.expansion for i in out_indices)

        self._freeze_stages()

    @property
    def norm1(self) -> nn.Module:
        return getattr(self, self.norm1_name)

    def ignored_checkpoint_key(self, key: str) -> bool:
        """Keys of the authors' classifier that this backbone does not have by design: ``fc.*`` and the stages
        beyond ``num_stages``."""
        if key.startswith('fc.'):
            return True
        if key.startswith('layer'):
            stage = key[len('layer'):].split('.', 1)[0]
            return stage.isdigit() and int(stage) > self.num_stages
        return False

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0:
            self.norm1.eval()
            for m in (self.conv1, self.norm1):
                for param in m.parameters():
                    param.requires_grad = False
        for i in range(1, self.frozen_stages + 1):
            m = getattr(self, f'layer{i}')
            m.eval()
            for param in m.parameters():
                param.requires_grad = False

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        x = self.maxpool(self.relu(self.norm1(self.conv1(x))))
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def fuse(self, merge_shortcut: bool = False, channels_last: bool = True) -> nn.Module:
        """The exact inference fast path: a new, eval-only copy with every BatchNorm folded into its conv (see
        :mod:`mmdet_scalenet.models.fuse`). ``self`` is unchanged and stays trainable."""
        from .fuse import fuse_scalenet
        return fuse_scalenet(self, merge_shortcut=merge_shortcut, channels_last=channels_last)

    def train(self, mode: bool = True) -> 'ScaleNet':
        """Set training mode, then re-freeze ``frozen_stages`` and, with ``norm_eval``, every BatchNorm."""
        super().train(mode)
        self._freeze_stages()
        return self
