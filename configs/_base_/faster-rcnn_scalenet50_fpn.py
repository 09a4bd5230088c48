# ScaleNet-50 in Faster R-CNN FPN.
# Weights: the authors' ImageNet checkpoint in checkpoints/ (see README). To start from random weights instead,
# --cfg-options model.backbone.init_cfg=None
# and, from scratch, also make BatchNorm trainable and unfreeze the stem, as configs/demo does.
_base_ = './faster-rcnn_fpn.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='ScaleNet',
        depth=50,
        structure='scalenet50',
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/scalenet50.pth')))
