# ScaleNet-50 in the C4 Faster R-CNN: stages 1-3 as the backbone, stage 4 as the RoI head (ScaleNetResLayer).
# Weights: the authors' ImageNet checkpoint in checkpoints/ (see README). To start from random weights instead,
# --cfg-options model.backbone.init_cfg=None model.roi_head.shared_head.init_cfg=None
# and, from scratch, also make BatchNorm trainable and unfreeze the stem, as configs/demo does.
_base_ = './faster-rcnn_c4.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='ScaleNet',
        depth=50,
        structure='scalenet50',
        num_stages=3,
        out_indices=(2, ),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=False),
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/scalenet50.pth')),
    roi_head=dict(
        shared_head=dict(
            _delete_=True,
            type='ScaleNetResLayer',
            depth=50,
            structure='scalenet50',
            stage=3,
            norm_cfg=dict(type='BN', requires_grad=False),
            norm_eval=True,
            init_cfg=dict(type='Pretrained', checkpoint='checkpoints/scalenet50.pth'))))
