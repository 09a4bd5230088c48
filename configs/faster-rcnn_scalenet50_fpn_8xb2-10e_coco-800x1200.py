# The ResNet-50 config with ScaleNet-50 as the backbone, the authors' ImageNet weights in checkpoints/ (README). From
# random weights: --cfg-options model.backbone.init_cfg=None; from scratch, also train BatchNorm and unfreeze the stem
# (as configs/demo does).
_base_ = './faster-rcnn_r50_fpn_8xb2-10e_coco-800x1200.py'

model = dict(backbone=dict(type='ScaleNet', init_cfg=dict(checkpoint='checkpoints/scalenet50.pth')))
