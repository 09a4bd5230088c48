# Faster R-CNN C4, the detector of the paper's COCO experiments (jwyang/faster-rcnn.pytorch): RPN and RoIAlign on
# stage-3 features, stage 4 run as the RoI head. Leaf configs set `backbone` and `roi_head.shared_head`.
_base_ = 'mmdet::_base_/models/faster-rcnn_r50-caffe-c4.py'

# As in the paper's detector: BatchNorm fixed (statistics and affine), stem and stage 1 frozen.
norm_cfg = dict(type='BN', requires_grad=False)
model = dict(
    # RGB, ImageNet mean/std on 0-255 pixels: torchvision's convention. The ScaleNet authors do not state the
    # normalisation of their released weights; their ImageNet code follows this PyTorch practice (an assumption).
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_size_divisor=32),
    # RoIAlign to 14x14: the head's 2x2 max-pool (ScaleNet) or stride-2 conv (ResNet) gives 7x7, as on ImageNet.
    roi_head=dict(bbox_roi_extractor=dict(roi_layer=dict(output_size=14))))
