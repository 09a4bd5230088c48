# DeepLabV3 with a dilated ScaleNet-50 (output stride 8) on Cityscapes (512x1024 crops, 4x2 images, 80k iterations):
# mmseg's deeplabv3_r50-d8_4xb2-80k_cityscapes-512x1024.py with only the backbone changed.
# Weights: the authors' ImageNet ScaleNet-50 in checkpoints/ (README); to start from random weights,
# --cfg-options model.backbone.init_cfg=None.
_base_ = 'mmseg::deeplabv3/deeplabv3_r50-d8_4xb2-80k_cityscapes-512x1024.py'
custom_imports = dict(imports=['mmdet_scalenet'], allow_failed_imports=False)
# Checkpoints written atomically (a run killed while saving keeps the previous one and last_checkpoint) and
# checked when loaded: mmdet_scalenet.engine.SafeCheckpointHook.
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook'))
# Random generator states travel with checkpoints, so that a resumed run continues exactly.
custom_hooks = [dict(type='RandomStateHook')]

norm_cfg = dict(type='SyncBN', requires_grad=True)  # as the base's (its variables are not visible here)
model = dict(
    pretrained=None,  # the inherited open-mmlab://resnet50_v1c weights are ResNet's, not ScaleNet's
    backbone=dict(
        _delete_=True,  # ResNetV1c's deep_stem, contract_dilation... are no ScaleNet arguments
        type='ScaleNet',
        depth=50,
        structure='scalenet50',
        out_indices=(0, 1, 2, 3),
        # output stride 8, as mmseg's r50-d8: stages 3 and 4 keep stride 1 and dilate their 3x3 branch convs by
        # 2 and 4 (every block of a stage alike; pooling factors unchanged)
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/scalenet50.pth')))
