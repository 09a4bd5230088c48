"""ScaleNet's last stage as the RoI head of a C4 Faster R-CNN (the detector of the paper's COCO experiments)."""
import warnings
from typing import Optional

import torch
from mmdet.registry import MODELS
from mmengine.model import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm

from ..structure import DEFAULT_STRUCTURES, STAGE_BLOCKS, STAGE_PLANES, load_structure
from .pretrained import StrictPretrainedMixin
from .scale_aggregation import SABottleneck
from .scalenet import ScaleNetLayer

__all__ = ['ScaleNetResLayer']


@MODELS.register_module()
class ScaleNetResLayer(StrictPretrainedMixin, BaseModule):
    """One ScaleNet stage run on RoI features, like mmdet's ``ResLayer`` shared head (Li et al., CVPR 2019).

    In a C4 detector the backbone stops after stage 3 (``num_stages=3``) and this head runs stage 4 with the
    structure's stage-4 rows on every RoI. With ``RoIAlign(output_size=14)`` the stage's 2x2 max-pool gives 7x7
    maps, exactly as on ImageNet. The submodule is named ``layer4``, so the authors' checkpoint loads directly:
    ``init_cfg=dict(type='Pretrained', checkpoint=PATH)`` takes its ``layer4.*`` keys strictly (everything else in
    the file is ignored; a missing or mis-shaped ``layer4`` key is an error).

    Args:
        depth: 50, 101 or 152.
        stage: the stage to run (0-based), 3 for C4.
        structure: as for :class:`ScaleNet`; default: the released structure of ``depth``.
        norm_cfg, conv_cfg, with_cp: as for :class:`ScaleNet`.
        norm_eval: keep BatchNorms in eval mode during training.
        pretrained: deprecated, use ``init_cfg``.
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 depth: int = 50,
                 stage: int = 3,
                 structure=None,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),  # noqa: B008 (never mutated)
                 conv_cfg: Optional[dict] = None,
                 norm_eval: bool = True,
                 with_cp: bool = False,
                 pretrained: Optional[str] = None,
                 init_cfg=None):
        super().__init__(init_cfg)
        if depth not in STAGE_BLOCKS:
            raise KeyError(f'invalid depth {depth} for ScaleNet: expected one of {sorted(STAGE_BLOCKS)}')
        if not 1 <= stage <= 3:
            raise ValueError(f'stage must be 1..3 (a stage after the stem and stage 1), got {stage}')
        if init_cfg is not None and pretrained is not None:
            raise ValueError('init_cfg and pretrained cannot be specified at the same time')
        if pretrained is not None:
            warnings.warn('DeprecationWarning: pretrained is deprecated, please use "init_cfg" instead')
            self.init_cfg = dict(type='Pretrained', checkpoint=pretrained)
        elif init_cfg is None:
            self.init_cfg = [
                dict(type='Kaiming', layer='Conv2d'),
                dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm']),
            ]
        self.structure = load_structure(structure if structure is not None else DEFAULT_STRUCTURES[depth],
                                        depth=depth)
        self.stage = stage
        self.norm_eval = norm_eval
        self.layer_name = f'layer{stage + 1}'
        self.add_module(self.layer_name, ScaleNetLayer(
            inplanes=STAGE_PLANES[stage - 1] * SABottleneck.expansion,
            planes=STAGE_PLANES[stage],
            blocks=self.structure.stage(stage),
            scale_factors=self.structure.scale_factors,
            stride=2,
            with_cp=with_cp,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg))

    def ignored_checkpoint_key(self, key: str) -> bool:
        """Everything in the authors' classifier but this stage."""
        return not key.startswith(self.layer_name + '.')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(self, self.layer_name)(x)

    def train(self, mode: bool = True) -> 'ScaleNetResLayer':
        super().train(mode)
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    @property
    def out_channels(self) -> int:
        return STAGE_PLANES[self.stage] * SABottleneck.expansion

