# The classifier of the allocation study (tools/allocation_study.py, docs/allocation_study.md): the seed ScaleNet-50
# (`planes` neurons at each of the scales 1, 2, 4, 7) + global average pooling + a linear head, on one regime of the
# synthetic shapes (4 classes, 48x48 images written by scalenet_lab.datasets.make_synthetic_classification). A
# short from-scratch schedule that fits a 2-core CPU: AdamW, cosine decay after a 20-iteration warm-up. The study
# sets the data root, the backbone (the seed, each allocation, the baselines), the epochs and the random seed.
_base_ = 'mmpretrain::_base_/default_runtime.py'
custom_imports = dict(imports=['mmdet_scalenet'], allow_failed_imports=False)

data_root = 'data/synthetic_scales/small/'
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ScaleNet', depth=50, structure='scalenet50_seed', out_indices=(3, ), norm_eval=False),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=4, in_channels=2048, loss=dict(type='CrossEntropyLoss'),
              topk=(1, )))
data_preprocessor = dict(
    num_classes=4, mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)

pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=64,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='CustomDataset', data_root=data_root, ann_file='meta/train.txt', data_prefix='train',
                 pipeline=pipeline))
val_dataloader = dict(
    batch_size=100,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='CustomDataset', data_root=data_root, ann_file='meta/val.txt', data_prefix='val',
                 pipeline=pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator

max_epochs = 3
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.05, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, begin=0, end=max_epochs,
         convert_to_iter_based=True),
]
# Validation once, after training (the study reads the final top-1).
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict()
test_cfg = dict()
# SafeCheckpointHook: checkpoints written atomically and checked when loaded (mmdet_scalenet.engine).
default_hooks = dict(logger=dict(interval=10),
                     checkpoint=dict(type='SafeCheckpointHook', interval=1, max_keep_ckpts=1, save_optimizer=False))
# Random generator states travel with checkpoints, so that a resumed run continues exactly.
custom_hooks = [dict(type='RandomStateHook')]
randomness = dict(seed=0, deterministic=False)
