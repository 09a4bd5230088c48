# ScaleNet-50 ImageNet classifier (backbone, global average pooling, linear head), the authors' recipe: 8 GPUs x 32
# images, SGD lr 0.1, cosine over 120 epochs. The same as resnet50_8xb32-coslr-120e_in1k.py but the backbone.
# Data: mmpretrain's ImageNet pipeline with PIL resizing (torchvision's, which the authors' PyTorch code used).
# Evaluate the released weights: tools/test.py THIS_CONFIG checkpoints/scalenet50.pth (README).
_base_ = [
    'mmpretrain::_base_/models/resnet50.py', 'mmpretrain::_base_/datasets/imagenet_bs32_pil_resize.py',
    '../_base_/imagenet_bs256_coslr-120e.py', 'mmpretrain::_base_/default_runtime.py'
]
custom_imports = dict(imports=['mmdet_scalenet'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='ScaleNet',
        depth=50,
        structure='scalenet50',
        out_indices=(3, ),
        frozen_stages=-1,
        norm_eval=False,  # BatchNorm statistics are trained here (ScaleNet's default, mmdet's, fixes them)
        style='pytorch'))
