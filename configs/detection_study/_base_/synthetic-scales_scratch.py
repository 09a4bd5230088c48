# What every detector of the detection study shares (scalenet_lab/detection_study.py, tools/detection_study.py): the
# synthetic-scales data set, its pipelines and CocoMetric, training from scratch, the schedule. The tool writes the
# data set (scalenet_lab.datasets.make_synthetic_shapes with study_data below) and points data_root at it.
_base_ = '../../_base_/default_runtime.py'

data_root = 'data/synthetic_scales/'
metainfo = dict(classes=('circle', 'square', 'triangle', 'star'))
# Images drawn at 160 px and stored 4x larger (640 px, COCO's image side), so that CocoMetric's fixed area limits
# (32**2, 96**2 stored px) are COCO's scaled to the drawn image: small < 8**2, medium < 24**2 px at 160 px.
# Object sizes balanced over small, medium and large; sides 6-112 px drawn, boxes of at least 4x4 px.
study_data = dict(image_size=160, store_scale=4, sizes='coco-balanced', max_objects=10, min_side=6, max_side=112)
image_scale = (160, 160)  # the drawn size: Resize gives back the drawn image exactly (integer factor)

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
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    batch_sampler=None,
    dataset=dict(
        type='CocoDataset',
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/train.json',
        data_prefix=dict(img='train/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=0),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='CocoDataset',
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/val.json',
        data_prefix=dict(img='val/'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/val.json', metric='bbox', format_only=False)
test_evaluator = val_evaluator

# From scratch (no ImageNet weights): AdamW (the demo's recipe, measured against SGD in docs/tools.md) with a linear
# warm-up, cosine decay, gradients clipped, by iteration: 200 iterations of 8 images, each training image seen once
# (scalenet_lab/detection_study.py says why). One evaluation, after the last iteration (val_begin past it: the
# study calls the Runner's val() once).
max_iters = 200
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_begin=max_iters + 1, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', T_max=max_iters, eta_min_ratio=0.01, begin=0, end=max_iters, by_epoch=False),
]
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=0.001, weight_decay=0.05),
                     clip_grad=dict(max_norm=10, norm_type=2))
auto_scale_lr = dict(enable=False, base_batch_size=8)
# A checkpoint every 50 iterations, where an interrupted run resumes.
default_hooks = dict(logger=dict(interval=10, log_metric_by_epoch=False),
                     checkpoint=dict(by_epoch=False, interval=50, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
