"""ScaleNet's last stage as the RoI head of a C4 Faster R-CNN (the detector of the paper's COCO experiments)."""
from typing import Optional

import torch
from mmengine.registry import MODELS

from ..geometry import EXPANSION, STAGE_PLANES
from . import checks
from .scalenet import ScaleNetLayer, ScaleNetModule

__all__ = ['ScaleNetResLayer']


@MODELS.register_module()
class ScaleNetResLayer(ScaleNetModule):
    """One ScaleNet stage run on RoI features, like mmdet's ``ResLayer`` shared head (Li et al., CVPR 2019).

    In a C4 detector the backbone stops after stage 3 (``num_stages=3``) and this head runs stage 4 with the
    structure's stage-4 rows on every RoI. With ``RoIAlign(output_size=14)`` the stage's 2x2 max-pool gives 7x7
    maps, exactly as on ImageNet. The submodule is named ``layer4``, so the authors' checkpoint loads directly:
    ``init_cfg=dict(type='Pretrained', checkpoint=PATH)`` takes its ``layer4.*`` keys strictly (everything else in
    the file is ignored; a missing or mis-shaped ``layer4`` key is an error).

    Takes the arguments of mmdet's ``ResLayer``, with their :class:`~.scalenet.ScaleNet` meanings: ``stride`` 2 is
    the stage's 2x2 max-pool, ``dilation`` dilates the 3x3 branch convs, ``style`` is ``'pytorch'`` or ``'caffe'``
    (the same network), ``dcn`` makes every 3x3 branch conv deformable (its offsets keep their initialisation when
    released weights are loaded, and are listed in the log).

    Args:
        depth: 50, 101 or 152.
        stage: the stage to run (0-based), 3 for C4.
        stride: 2 (default, max-pool at the start of the stage) or 1.
        dilation: dilation of the stage's 3x3 branch convs.
        style: ``'pytorch'`` or ``'caffe'``.
        norm_cfg, conv_cfg, with_cp, dcn: as for :class:`ScaleNet`.
        norm_eval: keep BatchNorms in eval mode during training.
        structure: as for :class:`ScaleNet`; default: the released structure of ``depth``.
        pretrained: deprecated, use ``init_cfg``.
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 depth: int = 50,
                 stage: int = 3,
                 stride: int = 2,
                 dilation: int = 1,
                 style: str = 'pytorch',
                 norm_cfg: Optional[dict] = None,
                 norm_eval: bool = True,
                 with_cp: bool = False,
                 dcn: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 init_cfg=None,
                 structure=None,
                 conv_cfg: Optional[dict] = None):
        super().__init__(depth, structure, style, norm_eval, pretrained, init_cfg)
        self.stage = checks.check_int('stage', stage, 1, 3, ' (a stage after the stem and stage 1)')
        checks.check_stride_dilation(stride, dilation)
        checks.check_bool('with_cp', with_cp)
        conv_cfg = checks.check_conv_cfg(conv_cfg)
        norm_cfg = checks.check_norm_cfg(norm_cfg if norm_cfg is not None else dict(type='BN', requires_grad=True))
        self.layer_name = f'layer{stage + 1}'
        self.add_module(self.layer_name, ScaleNetLayer.from_structure(
            self.structure, stage, stride=stride, dilation=dilation, dcn=checks.branch_dcn(dcn, conv_cfg),
            with_cp=with_cp, conv_cfg=conv_cfg, norm_cfg=norm_cfg))

    def ignored_checkpoint_key(self, key: str) -> bool:
        """Everything in the authors' classifier but this stage."""
        return not key.startswith(self.layer_name + '.')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(self, self.layer_name)(x)

    @property
    def out_channels(self) -> int:
        return STAGE_PLANES[self.stage] * EXPANSION
