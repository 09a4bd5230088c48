# The ResNet-50 baseline of scalenet50_8xb32-coslr-120e_in1k.py: everything the same but the backbone
# (mmpretrain's ResNet-50 classifier, trained with the ScaleNet recipe).
_base_ = [
    'mmpretrain::_base_/models/resnet50.py', 'mmpretrain::_base_/datasets/imagenet_bs32_pil_resize.py',
    '../_base_/imagenet_bs256_coslr-120e.py', 'mmpretrain::_base_/default_runtime.py'
]
custom_imports = dict(imports=['mmdet_scalenet'], allow_failed_imports=False)
# Checkpoints written atomically (a run killed while saving keeps the previous one and last_checkpoint) and
# checked when loaded: mmdet_scalenet.engine.SafeCheckpointHook.
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook'))
# Random generator states travel with checkpoints, so that a resumed run continues exactly.
custom_hooks = [dict(type='RandomStateHook')]
