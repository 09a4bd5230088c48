# ResNet-101 in Faster R-CNN FPN (see faster-rcnn_r50_fpn.py).
_base_ = './faster-rcnn_r50_fpn.py'

model = dict(backbone=dict(depth=101, init_cfg=dict(checkpoint='torchvision://resnet101')))
