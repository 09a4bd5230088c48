# mmdet's DC5 Faster R-CNN (stage 5 dilated instead of strided: output stride 16, one feature map) with
# ScaleNet-50: the backbone's type is the only change to the network. style='caffe' stays: in ScaleNet it names
# the same network as 'pytorch'. The 3x3 branch convs of stage 5 are dilated by 2; the released weights load as is.
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50-caffe-dc5_1x_coco.py'
custom_imports = dict(imports=['mmdet_scalenet'], allow_failed_imports=False)
# Checkpoints written atomically (a run killed while saving keeps the previous one and last_checkpoint) and
# checked when loaded: mmdet_scalenet.engine.SafeCheckpointHook.
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook'))
# Random generator states travel with checkpoints, so that a resumed run continues exactly.
custom_hooks = [dict(type='RandomStateHook')]

model = dict(
    # RGB, ImageNet mean/std: the normalisation of the ScaleNet weights (an assumption: the authors do not say),
    # instead of the caffe weights' BGR mean.
    data_preprocessor=dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(type='ScaleNet', init_cfg=dict(checkpoint='checkpoints/scalenet50.pth')))
