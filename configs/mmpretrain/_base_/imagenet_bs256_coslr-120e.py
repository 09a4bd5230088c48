# The authors' ImageNet recipe for their released ScaleNets: the paper's (Sec. 4, the usual ResNet recipe: SGD,
# batch 256, lr 0.1, momentum 0.9, weight decay 1e-4) with 120 epochs and a cosine learning rate instead of the
# paper's steps (the authors' README). mmpretrain's cosine schedule, stretched to 120 epochs and updated every
# iteration.
_base_ = 'mmpretrain::_base_/schedules/imagenet_bs256_coslr.py'

param_scheduler = dict(type='CosineAnnealingLR', T_max=120, by_epoch=True, begin=0, end=120,
                       convert_to_iter_based=True)
train_cfg = dict(by_epoch=True, max_epochs=120, val_interval=1)
