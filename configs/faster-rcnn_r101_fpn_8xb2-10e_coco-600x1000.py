_base_ = './faster-rcnn_r50_fpn_8xb2-10e_coco-600x1000.py'

model = dict(backbone=dict(depth=101, init_cfg=dict(checkpoint='torchvision://resnet101')))
