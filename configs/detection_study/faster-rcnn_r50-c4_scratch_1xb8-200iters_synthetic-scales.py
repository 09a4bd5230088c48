# The detection study's Faster R-CNN C4 (the paper's detector: RPN and RoIAlign 14x14 on stage-3 features, stage 4
# run on every RoI as the head), ResNet-50, from scratch. configs/detection_study/
# faster-rcnn_scalenet50-c4_scratch_1xb8-200iters_synthetic-scales.py differs only in the backbone and head types.
_base_ = ['../_base_/faster-rcnn_r50-c4.py', './_base_/synthetic-scales_scratch.py']

norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    backbone=dict(init_cfg=None, frozen_stages=-1, norm_cfg=norm_cfg, norm_eval=False),
    # Anchors of 16-256 px (scales 1-16 at stride 16) for boxes of 8-224 px at 320 px. At stride 16 an 8x8 box can
    # lie across four anchors: its best one then has IoU 0.05, so the RPN's low-quality match takes each object's
    # best anchors from IoU 0.01 (instead of 0.3): every object has a positive anchor (a test checks it).
    rpn_head=dict(anchor_generator=dict(scales=[1, 2, 4, 8, 16], strides=[16])),
    roi_head=dict(
        shared_head=dict(init_cfg=None, norm_cfg=norm_cfg, norm_eval=False),
        bbox_head=dict(num_classes=4)),
    # The head runs a whole stage on every RoI (0.8 GMACs each; 32 RoIs per image took twice the measured step
    # time of 16): 16 sampled RoIs per image for training (up to half positive, the ground truth among them), 50
    # proposals per image at test (at most 10 objects per image).
    train_cfg=dict(
        rpn=dict(assigner=dict(min_pos_iou=0.01)),
        rpn_proposal=dict(nms_pre=2000, max_per_img=300),
        rcnn=dict(sampler=dict(num=16, pos_fraction=0.5))),
    test_cfg=dict(rpn=dict(nms_pre=1000, max_per_img=50)))

# C4 reads every RoI at stride 16: at the drawn 160 px a medium object spans one or two cells of it, so C4 sees the
# image at 320 px (the stored image halved), FPN at 160 px (scalenet_lab/detection_study.py has the measurement).
image_scale = (320, 320)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
