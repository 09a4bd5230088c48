# Faster R-CNN FPN, ScaleNet-50, paper schedule, COCO at 600/1000.
# Weights: the authors' ImageNet checkpoint in checkpoints/ (see README); to start from random weights instead
# (from scratch, also make BatchNorm trainable and unfreeze the stem, as configs/demo does):
#   --cfg-options model.backbone.init_cfg=None
_base_ = [
    './_base_/faster-rcnn_fpn.py', './_base_/coco-600x1000.py', './_base_/schedule_10e.py',
    './_base_/default_runtime.py'
]

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
