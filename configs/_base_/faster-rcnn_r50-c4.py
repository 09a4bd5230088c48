# ResNet-50 (torchvision ImageNet weights) in the C4 Faster R-CNN: stages 1-3 as the backbone, stage 4 as the
# RoI head (mmdet's ResLayer). Differs from faster-rcnn_scalenet50-c4.py only in the network.
_base_ = './faster-rcnn_c4.py'

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
