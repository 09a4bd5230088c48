# Faster R-CNN C4 (the paper's detector), ResNet-50 (torchvision weights), the paper's schedule, COCO at 600/1000.
_base_ = [
    './_base_/faster-rcnn_r50-c4.py', './_base_/coco-600x1000.py', './_base_/schedule_10e.py',
    './_base_/default_runtime.py'
]
