# Faster R-CNN C4 (the paper's detector), ScaleNet-50, paper schedule, COCO at 800/1200.
# Weights: the authors' ImageNet checkpoint in checkpoints/ (see README); to start from random weights instead
# (from scratch, also make BatchNorm trainable and unfreeze the stem, as configs/demo does):
#   --cfg-options model.backbone.init_cfg=None model.roi_head.shared_head.init_cfg=None
_base_ = [
    './_base_/faster-rcnn_c4.py', './_base_/coco-800x1200.py', './_base_/schedule_10e.py',
    './_base_/default_runtime.py'
]

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
