# Faster R-CNN FPN, ScaleNet-101, paper schedule, COCO at 600/1000.
_base_ = [
    './_base_/faster-rcnn_scalenet101_fpn.py', './_base_/coco-600x1000.py', './_base_/schedule_10e.py',
    './_base_/default_runtime.py'
]
