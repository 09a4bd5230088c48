# Faster R-CNN C4, the detector of the paper's COCO experiments (jwyang/faster-rcnn.pytorch): RPN and RoIAlign (14x14)
# on stage-3 features, stage 4 run on every RoI as the head. mmdet's C4 model with ResNet-50 in PyTorch style
# (torchvision ImageNet weights) instead of caffe style; BatchNorm fixed and stem and stage 1 frozen, as in that code.
_base_ = 'mmdet::_base_/models/faster-rcnn_r50-caffe-c4.py'

model = dict(
    # RGB, ImageNet mean/std on 0-255 pixels: torchvision's convention, which the ScaleNet weights are taken to
    # follow too (the authors do not state their normalisation; their ImageNet code follows the PyTorch practice).
    data_preprocessor=dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(style='pytorch', init_cfg=dict(checkpoint='torchvision://resnet50')),
    roi_head=dict(shared_head=dict(style='pytorch', init_cfg=dict(checkpoint='torchvision://resnet50'))))
