# Faster R-CNN FPN, ResNet-101 (torchvision weights), paper schedule, COCO at 800/1200.
_base_ = [
    './_base_/faster-rcnn_fpn.py', './_base_/coco-800x1200.py', './_base_/schedule_10e.py',
    './_base_/default_runtime.py'
]

model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNet',
        depth=101,
        style='pytorch',
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet101')))
