_base_ = './faster-rcnn_scalenet50-c4_8xb2-10e_coco-600x1000.py'

model = dict(
    backbone=dict(depth=101, init_cfg=dict(checkpoint='checkpoints/scalenet101.pth')),
    roi_head=dict(shared_head=dict(depth=101, init_cfg=dict(checkpoint='checkpoints/scalenet101.pth'))))
