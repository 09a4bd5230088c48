# ResNet-101 in the C4 Faster R-CNN (see faster-rcnn_r50-c4.py).
_base_ = './faster-rcnn_r50-c4.py'

model = dict(
    backbone=dict(depth=101, init_cfg=dict(checkpoint='torchvision://resnet101')),
    roi_head=dict(shared_head=dict(depth=101, init_cfg=dict(checkpoint='torchvision://resnet101'))))
