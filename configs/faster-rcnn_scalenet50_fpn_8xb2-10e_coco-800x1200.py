# Faster R-CNN FPN, ScaleNet-50, paper schedule, COCO at 800/1200.
_base_ = [
    './_base_/faster-rcnn_scalenet50_fpn.py', './_base_/coco-800x1200.py', './_base_/schedule_10e.py',
    './_base_/default_runtime.py'
]
