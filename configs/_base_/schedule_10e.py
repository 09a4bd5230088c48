# The paper's detection schedule: 8 GPUs x 2 images, SGD lr 0.01, momentum 0.9, weight decay 1e-4, 10 epochs,
# lr x0.1 after epochs 4 and 8, linear warm-up over the first 500 iterations.
_base_ = 'mmdet::_base_/schedules/schedule_1x.py'

train_cfg = dict(max_epochs=10, val_interval=1)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', begin=0, end=10, by_epoch=True, milestones=[4, 8], gamma=0.1),
]
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001))
auto_scale_lr = dict(enable=False, base_batch_size=16)
