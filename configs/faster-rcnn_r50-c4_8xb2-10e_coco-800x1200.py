# Faster R-CNN C4 (the paper's detector), ResNet-50 (torchvision weights), paper schedule, COCO at 800/1200.
_base_ = [
    './_base_/faster-rcnn_c4.py', './_base_/coco-800x1200.py', './_base_/schedule_10e.py',
    './_base_/default_runtime.py'
]

model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNet',
        depth=50,
        style='pytorch',
        strides=(1, 2, 2),
        dilations=(1, 1, 1),
        num_stages=3,
        out_indices=(2, ),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=False),
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    roi_head=dict(
        shared_head=dict(
            _delete_=True,
            type='ResLayer',
            depth=50,
            style='pytorch',
            stride=2,
            dilation=1,
            stage=3,
            norm_cfg=dict(type='BN', requires_grad=False),
            norm_eval=True,
            init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50'))))
