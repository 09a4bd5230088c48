# ScaleNet-101 in Faster R-CNN FPN (see faster-rcnn_scalenet50_fpn.py).
_base_ = './faster-rcnn_scalenet50_fpn.py'

model = dict(
    backbone=dict(depth=101, structure='scalenet101', init_cfg=dict(checkpoint='checkpoints/scalenet101.pth')))
