# The detection study's Faster R-CNN FPN with ScaleNet-50, from scratch: the ResNet-50 config with only the backbone
# type changed.
_base_ = './faster-rcnn_r50_fpn_scratch_1xb8-200iters_synthetic-scales.py'

model = dict(backbone=dict(type='ScaleNet'))
