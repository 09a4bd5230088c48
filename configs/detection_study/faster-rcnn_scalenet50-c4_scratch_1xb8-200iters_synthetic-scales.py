# The detection study's Faster R-CNN C4 with ScaleNet-50 (backbone stages 1-3, head stage 4), from scratch: the
# ResNet-50 config with only the backbone and head types changed.
_base_ = './faster-rcnn_r50-c4_scratch_1xb8-200iters_synthetic-scales.py'

model = dict(backbone=dict(type='ScaleNet'), roi_head=dict(shared_head=dict(type='ScaleNetResLayer')))
