# Faster R-CNN FPN (mmdet's model), ResNet-50 (torchvision weights), the paper's schedule, COCO at 800/1200.
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py', './_base_/coco-800x1200.py', './_base_/schedule_10e.py',
    './_base_/default_runtime.py'
]
