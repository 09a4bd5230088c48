# The ResNet-50 config with ScaleNet-50 as the backbone (stages 1-3) and the RoI head (stage 4), the authors' ImageNet
# weights in checkpoints/ (README). From random weights: --cfg-options model.backbone.init_cfg=None
# model.roi_head.shared_head.init_cfg=None; from scratch, also train BatchNorm and unfreeze the stem (configs/demo).
_base_ = './faster-rcnn_r50-c4_8xb2-10e_coco-600x1000.py'

model = dict(
    backbone=dict(type='ScaleNet', init_cfg=dict(checkpoint='checkpoints/scalenet50.pth')),
    roi_head=dict(shared_head=dict(type='ScaleNetResLayer', init_cfg=dict(checkpoint='checkpoints/scalenet50.pth'))))
