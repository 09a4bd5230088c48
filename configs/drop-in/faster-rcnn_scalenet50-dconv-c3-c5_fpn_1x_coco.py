# mmdet's DCN Faster R-CNN (deformable 3x3 convs in stages 3-5) with ScaleNet-50: the backbone's type is the only
# change to the network; in ScaleNet, the 3x3 branch convs of those stages become deformable (1x1 ones stay plain).
# Weights: the authors' ImageNet checkpoint (README); the offsets it lacks start at zero and are listed in the log.
_base_ = 'mmdet::dcn/faster-rcnn_r50-dconv-c3-c5_fpn_1x_coco.py'
custom_imports = dict(imports=['mmdet_scalenet'], allow_failed_imports=False)
# Checkpoints written atomically (a run killed while saving keeps the previous one and last_checkpoint) and
# checked when loaded: mmdet_scalenet.engine.SafeCheckpointHook.
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook'))
# Random generator states travel with checkpoints, so that a resumed run continues exactly.
custom_hooks = [dict(type='RandomStateHook')]

model = dict(
    # RGB, ImageNet mean/std: the normalisation of the ScaleNet weights (an assumption: the authors do not say).
    data_preprocessor=dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(type='ScaleNet', init_cfg=dict(checkpoint='checkpoints/scalenet50.pth')))
