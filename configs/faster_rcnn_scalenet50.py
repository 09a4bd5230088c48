# The entry point: ScaleNet-50 in the paper's C4 Faster R-CNN, COCO at 800/1200, the paper's 10-epoch schedule.
_base_ = './faster-rcnn_scalenet50-c4_8xb2-10e_coco-800x1200.py'
