# The detection study's Faster R-CNN FPN (mmdet's model), ResNet-50, from scratch. configs/detection_study/
# faster-rcnn_scalenet50_fpn_scratch_1xb8-200iters_synthetic-scales.py differs only in the backbone type.
_base_ = ['mmdet::_base_/models/faster-rcnn_r50_fpn.py', './_base_/synthetic-scales_scratch.py']

model = dict(
    backbone=dict(init_cfg=None, frozen_stages=-1, norm_eval=False),
    # Anchors of 8-128 px (scale 2 at strides 4-64) for boxes of 4-112 px. At stride 4 a 4x4 box's best anchor has
    # IoU at least 0.25 wherever it lies: the RPN's low-quality match takes each object's best anchors from IoU 0.2
    # (instead of 0.3), so every object has a positive anchor (a test checks it).
    rpn_head=dict(anchor_generator=dict(scales=[2])),
    roi_head=dict(
        # RoIs to pyramid levels as mmdet does on COCO (below 112 px to P2, ...), scaled by 160/640 with the image
        bbox_roi_extractor=dict(finest_scale=14),
        bbox_head=dict(num_classes=4)),
    train_cfg=dict(
        rpn=dict(assigner=dict(min_pos_iou=0.2)),
        rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(rpn=dict(nms_pre=1000, max_per_img=100)))
