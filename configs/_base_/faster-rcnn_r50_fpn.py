# ResNet-50 (torchvision ImageNet weights) in Faster R-CNN FPN. Differs from faster-rcnn_scalenet50_fpn.py only in
# the network.
_base_ = './faster-rcnn_fpn.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNet',
        depth=50,
        style='pytorch',
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')))
