# ScaleNet-101 in the C4 Faster R-CNN (see faster-rcnn_scalenet50-c4.py).
_base_ = './faster-rcnn_scalenet50-c4.py'

model = dict(
    backbone=dict(depth=101, structure='scalenet101', init_cfg=dict(checkpoint='checkpoints/scalenet101.pth')),
    roi_head=dict(
        shared_head=dict(depth=101, structure='scalenet101', init_cfg=dict(checkpoint='checkpoints/scalenet101.pth'))))
