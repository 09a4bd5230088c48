"""ScaleNet backbone for MMDetection (Li et al., "Data-Driven Neuron Allocation for Scale Aggregation Networks",
CVPR 2019, arXiv 1904.09460)."""
import warnings
from typing import Optional, Sequence, Set, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import build_conv_layer
from mmengine.model import BaseModule, Sequential
from mmengine.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm

from ..geometry import EXPANSION, STAGE_BLOCKS, STAGE_PLANES, STAGE_SIDES, STEM_CHANNELS, stage_inplanes
from ..structure import DEFAULT_STRUCTURES, Structure, load_structure
from . import checks
from .bottleneck import SABottleneck
from .classifier import authors_to_classifier
from .norm import build_norm
from .pretrained import StrictPretrainedMixin

__all__ = ['BackboneFlow', 'ScaleNet', 'ScaleNetLayer', 'ScaleNetModule']


class ScaleNetLayer(Sequential):
    """One ScaleNet stage: SA bottlenecks with per-block branch channels taken from a structure.

    Every stage starts with a projection shortcut (1x1 conv, stride 1, + norm) to ``planes * 4``; a stage with
    ``stride=2`` starts its first block with a 2x2 max-pool that feeds both paths.

    Args:
        inplanes: input channels.
        planes: bottleneck width; the stage outputs ``planes * 4``.
        blocks: the branch channels of every block, e.g. ``Structure.stage(i)``.
        side: the stage's feature-map side at 224x224 (decides the branch kernels).
        scale_factors: the branch downsampling factors.
        stride: 1 or 2, for the first block.
        **block_kwargs: ``dilation``, ``dcn``, ``plugins``, ``with_cp``, ``conv_cfg``, ``norm_cfg``, ``init_cfg``
            for every block (see :class:`SABottleneck`).
    """

    def __init__(self,
                 inplanes: int,
                 planes: int,
                 blocks: Sequence[Sequence[int]],
                 side: int,
                 scale_factors: Sequence[int],
                 stride: int = 1,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 **block_kwargs):
        norm_cfg = norm_cfg if norm_cfg is not None else dict(type='BN', requires_grad=True)
        outplanes = planes * EXPANSION
        downsample = nn.Sequential(
            build_conv_layer(conv_cfg, inplanes, outplanes, kernel_size=1, bias=False),
            build_norm(norm_cfg, outplanes)[1])
        layers = []
        for index, branch_channels in enumerate(blocks):
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
        """Stage ``stage`` (0-based) of ``structure``, with the widths and side it has in a ScaleNet; ``stride``
        defaults to the network's (1 for the first stage, 2 after)."""
        kwargs.setdefault('stride', 1 if stage == 0 else 2)
        return cls(inplanes=stage_inplanes(stage), planes=STAGE_PLANES[stage], blocks=structure.stage(stage),
                   side=STAGE_SIDES[stage], scale_factors=structure.scale_factors, **kwargs)


class BackboneFlow:
    """The backbone's data flow, written once for :class:`ScaleNet` and its fused inference copy
    (:class:`~mmdet_scalenet.deploy.fuse.FusedScaleNet`): the stem, then the stages in ``res_layers``, returning
    the outputs of the stages in ``out_indices`` (in stage order)."""
    in_channels: int
    res_layers: Sequence[str]
    out_indices: Tuple[int, ...]

    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f'{type(self).__name__} expects images of shape (N, {self.in_channels}, H, W) '
                             f'(in_channels={self.in_channels}), got a tensor of shape {tuple(x.shape)}')
        x = self.forward_stem(x)
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)


class ScaleNetModule(StrictPretrainedMixin, BaseModule):
    """What :class:`ScaleNet` and its C4 head :class:`~.shared_head.ScaleNetResLayer` share, as mmdet's ResNet
    and ResLayer do: ``depth`` and ``structure``, ``style``, the deprecated ``pretrained``, the default
    initialisation, strict ``Pretrained`` loading, and ``norm_eval`` in :meth:`train` (which returns ``self``)."""

    def __init__(self, depth: int, structure, style: str, norm_eval: bool, pretrained: Optional[str], init_cfg):
        super().__init__(init_cfg)
        depth = checks.check_depth(depth)
        checks.check_choice('style', style, checks.STYLES)
        checks.check_bool('norm_eval', norm_eval)
        if init_cfg is not None and pretrained is not None:
            raise ValueError('init_cfg and pretrained cannot be specified at the same time')
        if pretrained is not None:
            if not isinstance(pretrained, str):
                raise TypeError(f'pretrained must be a str or None, got {type(pretrained).__name__}')
            warnings.warn('DeprecationWarning: pretrained is deprecated, please use "init_cfg" instead', stacklevel=2)
            self.init_cfg = dict(type='Pretrained', checkpoint=pretrained)
        elif init_cfg is None:
            self.init_cfg = [
                dict(type='Kaiming', layer='Conv2d'),
                dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm']),
            ]
        self.structure: Structure = load_structure(
            structure if structure is not None else DEFAULT_STRUCTURES[depth], depth=depth)
        self.depth = depth
        self.style = style
        self.norm_eval = norm_eval

    def extension_keys(self) -> Set[str]:
        """State-dict keys the authors' network does not have (plugins, deformable offsets): a released
        checkpoint loads without them and they keep their initialisation (see :class:`StrictPretrainedMixin`)."""
        prefixes = tuple(f'{name}.{extension}.' for name, module in self.named_modules()
                         if isinstance(module, SABottleneck) for extension in module.extension_modules())
        return {key for key in self.state_dict() if key.startswith(prefixes)} if prefixes else set()

    def train(self, mode: bool = True) -> 'ScaleNetModule':
        """Set training mode; with ``norm_eval``, keep every BatchNorm in eval mode."""
        super().train(mode)
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self


@MODELS.register_module()
class ScaleNet(BackboneFlow, ScaleNetModule):
    """ScaleNet backbone: a ResNet whose bottleneck 3x3 convs are scale-aggregation blocks with data-driven
    neuron allocation (Li et al., "Data-Driven Neuron Allocation for Scale Aggregation Networks", CVPR 2019).

    A drop-in for mmdet's ``ResNet``: it takes every ResNet argument, so ``type='ResNet'`` -> ``type='ScaleNet'``
    is the only change a config needs, and it loads the authors' ImageNet weights directly:
    ``init_cfg=dict(type='Pretrained', checkpoint=PATH)`` (also given as mmengine's ``PretrainedInit`` class).
    That load is strict: ``fc.*`` (and the stages beyond ``num_stages``) are ignored, parameters the released
    network does not have (plugins, deformable offsets) keep their initialisation and are listed in the log, and
    any other missing, unexpected or mis-shaped key is an error. ``prefix`` (e.g. ``'backbone.'``) selects a
    sub-dict as in mmengine.

    What ResNet's arguments mean here:

    ==================================  ==========================================================================
    ``style``                           ``'pytorch'`` or ``'caffe'``: the same network. ResNet's styles differ in
                                        which conv strides; ScaleNet strides by a 2x2 max-pool before the block.
    ``strides``                         per stage, 1 or 2 (2 = the 2x2 max-pool at the start of the stage).
    ``dilations``                       per stage: dilation (and padding) of every 3x3 branch conv; pooling
                                        factors and kernel sizes are unchanged. DC5: ``strides=(1, 2, 2, 1),
                                        dilations=(1, 1, 1, 2)`` (output stride 16); D8: ``(1, 2, 1, 1)``,
                                        ``(1, 1, 2, 4)`` (output stride 8). The released weights still load.
    ``dcn``, ``stage_with_dcn``         the 3x3 branch convs of those stages are built from ``dcn`` (mmcv
                                        ``DCN``, ``DCNv2``); 1x1 branch convs stay plain. ``fallback_on_stride``
                                        in ``dcn``: as mmdet, ``True`` builds plain convs.
    ``plugins``                         mmdet's plugin specs (``cfg``, ``stages``, ``position``), run where mmdet's
                                        Bottleneck runs them; ``after_conv2`` is after the SA block's ReLU and has
                                        the block's branch channels as input width.
    ``stem_channels``, ``base_channels``  64 (``stem_channels=None`` means 64): the structure fixes the widths.
    ``deep_stem``, ``avg_down``         ``False``: ScaleNet's stem is one 7x7 conv and its shortcut is pooled by
                                        the same max-pool as the main path, so neither option has a meaning.
    ==================================  ==========================================================================

    Any input of at least 32x32 runs (at output stride 32); where a feature map is smaller than a branch's pooling
    factor, that branch pools it to 1 along that side (the authors' code fails there).

    Args:
        depth: 50, 101 or 152.
        structure: a built-in name (``'scalenet50'``, ``'scalenet50_light'``, ``'scalenet101'``,
            ``'scalenet152'``, or a seed ``'scalenet50_seed'``...), a path to a structure file (our schema or the
            authors' rows) or a :class:`~mmdet_scalenet.structure.Structure`. Default: the released structure of
            ``depth``.
        in_channels: input image channels.
        stem_channels, base_channels: see the table; only 64.
        num_stages: stages to build, 1-4.
        strides, dilations: one per stage (see the table); default ``(1, 2, 2, 2)`` and ``(1, 1, 1, 1)``, cut
            to ``num_stages``.
        out_indices: stages whose outputs are returned (0-based).
        style: ``'pytorch'`` or ``'caffe'`` (the same network).
        deep_stem, avg_down: only ``False``.
        frozen_stages: stages to freeze (parameters fixed, norms in eval); 0 freezes the stem only,
            -1 nothing. Re-applied in every ``train()``.
        conv_cfg: conv layer config for every conv (must be None with ``dcn``).
        norm_cfg: norm layer config (BN, SyncBN, GN...). GN uses, per layer, the largest divisor of the layer's
            width that is at most ``num_groups`` (allocated branch widths are rarely multiples of 32).
        norm_eval: keep every BatchNorm in eval mode (running statistics fixed) during training.
        dcn, stage_with_dcn: deformable 3x3 branch convs in the selected stages (one bool per stage).
        plugins: mmdet plugin specs (see the table).
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
                 stem_channels: Optional[int] = None,
                 base_channels: int = 64,
                 num_stages: int = 4,
                 strides: Optional[Sequence[int]] = None,
                 dilations: Optional[Sequence[int]] = None,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 style: str = 'pytorch',
                 deep_stem: bool = False,
                 avg_down: bool = False,
                 frozen_stages: int = -1,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = None,
                 norm_eval: bool = True,
                 dcn: Optional[dict] = None,
                 stage_with_dcn: Optional[Sequence[bool]] = None,
                 plugins: Optional[Sequence[dict]] = None,
                 with_cp: bool = False,
                 zero_init_residual: bool = True,
                 pretrained: Optional[str] = None,
                 init_cfg=None):
        super().__init__(depth, structure, style, norm_eval, pretrained, init_cfg)
        self._check_widths(stem_channels, base_channels, deep_stem, avg_down)
        num_stages = checks.check_int('num_stages', num_stages, 1, 4)
        in_channels = checks.check_int('in_channels', in_channels, low=1)
        self.out_indices = checks.check_out_indices(out_indices, num_stages)
        frozen_stages = checks.check_int('frozen_stages', frozen_stages, -1, num_stages, f' (num_stages={num_stages})')
        norm_cfg = checks.check_norm_cfg(norm_cfg if norm_cfg is not None else dict(type='BN', requires_grad=True))
        conv_cfg = checks.check_conv_cfg(conv_cfg)
        self.strides = checks.per_stage('strides', strides, num_stages, (1, 2, 2, 2))
        self.dilations = checks.per_stage('dilations', dilations, num_stages, (1, 1, 1, 1))
        for i, (stride, dilation) in enumerate(zip(self.strides, self.dilations)):
            checks.check_stride_dilation(stride, dilation, f'stage {i + 1}: ')
        self.stage_with_dcn = checks.per_stage('stage_with_dcn', stage_with_dcn, num_stages, (False, ) * 4)
        for i, flag in enumerate(self.stage_with_dcn):
            checks.check_bool(f'stage_with_dcn[{i}]', flag)
        branch_dcn = checks.branch_dcn(dcn, conv_cfg)
        if dcn is not None and not any(self.stage_with_dcn):
            warnings.warn('ScaleNet: dcn is set but stage_with_dcn selects no stage, so no conv is deformable',
                          stacklevel=2)
        plugins_per_stage = checks.stage_plugins(plugins, num_stages)
        for name, flag in (('with_cp', with_cp), ('zero_init_residual', zero_init_residual)):
            checks.check_bool(name, flag)

        # mmdet ResNet's public attributes, with their meanings there
        self.in_channels = in_channels
        self.stem_channels = STEM_CHANNELS
        self.base_channels = base_channels
        self.num_stages = num_stages
        self.deep_stem = deep_stem
        self.avg_down = avg_down
        self.frozen_stages = frozen_stages
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.with_cp = with_cp
        self.zero_init_residual = zero_init_residual
        self.dcn = dcn
        self.plugins = plugins
        self.block = SABottleneck
        self.stage_blocks = STAGE_BLOCKS[self.depth][:num_stages]

        block_init_cfg = None
        if zero_init_residual and init_cfg is None and pretrained is None:
            # Every block's last norm starts at 0, so each block starts as the identity (Goyal et al., 2017).
            block_init_cfg = dict(type='Constant', val=0, override=dict(name='norm3'))
        self.conv1 = build_conv_layer(conv_cfg, in_channels, STEM_CHANNELS, kernel_size=7, stride=2, padding=3,
                                      bias=False)
        self.norm1_name, norm1 = build_norm(norm_cfg, STEM_CHANNELS, postfix=1)
        self.add_module(self.norm1_name, norm1)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

        self.res_layers = []
        for i in range(num_stages):
            layer = self.make_res_layer(
                structure=self.structure, stage=i, stride=self.strides[i], dilation=self.dilations[i],
                dcn=branch_dcn if self.stage_with_dcn[i] else None, plugins=plugins_per_stage[i], with_cp=with_cp,
                conv_cfg=conv_cfg, norm_cfg=norm_cfg, init_cfg=block_init_cfg)
            self.add_module(f'layer{i + 1}', layer)
            self.res_layers.append(f'layer{i + 1}')
        #: As in mmdet's ResNet: the last stage's output width (after building, ``inplanes`` is it too).
        self.feat_dim = self.inplanes = STAGE_PLANES[num_stages - 1] * EXPANSION
        self.out_channels = tuple(STAGE_PLANES[i] * EXPANSION for i in self.out_indices)

        self._freeze_stages()

    @staticmethod
    def _check_widths(stem_channels, base_channels, deep_stem, avg_down) -> None:
        if stem_channels not in (None, STEM_CHANNELS):
            raise ValueError(f'stem_channels must be {STEM_CHANNELS} (or None): ScaleNet\'s stem width is fixed, '
                             f'as every width is by the structure and the released weights; got {stem_channels!r}')
        if base_channels != STAGE_PLANES[0]:
            raise ValueError(f'base_channels must be {STAGE_PLANES[0]}: ScaleNet\'s widths are fixed by its '
                             f'structure (planes {list(STAGE_PLANES)}, branch channels per block); to change them, '
                             f'use another structure; got {base_channels!r}')
        if deep_stem is not False:
            raise ValueError('deep_stem=True is not supported: ScaleNet\'s stem is a single 7x7 conv (as in the '
                             'paper and the released weights); a deep stem (three 3x3 convs) is another network')
        if avg_down is not False:
            raise ValueError('avg_down=True is not supported: ScaleNet strides by a 2x2 max-pool that feeds both '
                             'the shortcut and the main path, so there is no strided shortcut conv to replace by '
                             'average pooling')

    def make_res_layer(self, structure: Structure, stage: int, **kwargs) -> ScaleNetLayer:
        """Build stage ``stage``; a subclass overrides this to change how a stage is made."""
        return ScaleNetLayer.from_structure(structure, stage, **kwargs)

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

    #: A classifier holding this backbone loads the authors' classifier checkpoints (see :mod:`.classifier`).
    loads_authors_classifier = True

    def _checkpoint_filter(self, state_dict, prefix, *args) -> None:
        """A load pre-hook that mmpretrain's ``ImageClassifier`` registers for its backbone: a checkpoint in the
        authors' classifier layout (``conv1.*``... ``fc.*``) is checked strictly and renamed to the classifier's
        (``backbone.*``, ``head.fc.*``) in place; any other state dict is left as it is (see
        :func:`~mmdet_scalenet.models.classifier.authors_to_classifier`)."""
        authors_to_classifier(self, state_dict, prefix)

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

    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.maxpool(self.relu(self.norm1(self.conv1(x))))

    def train(self, mode: bool = True) -> 'ScaleNet':
        """Set training mode, then re-freeze ``frozen_stages`` and, with ``norm_eval``, every BatchNorm."""
        super().train(mode)
        self._freeze_stages()
        return self
