# ScaleNet-50 ImageNet classifier (backbone, global average pooling, linear head), the authors' recipe: 8 GPUs x 32
# images, SGD lr 0.1, cosine over 120 epochs: resnet50_8xb32-coslr-120e_in1k.py with the backbone's type changed.
# Data: mmpretrain's ImageNet pipeline with PIL resizing (torchvision's, which the authors' PyTorch code used).
# Evaluate the released weights: tools/test.py THIS_CONFIG checkpoints/scalenet50.pth (README).
_base_ = './resnet50_8xb32-coslr-120e_in1k.py'

# mmpretrain's ResNet-50 arguments (depth, num_stages, out_indices, style) mean the same in ScaleNet.
model = dict(
    backbone=dict(
        type='ScaleNet',
        structure='scalenet50',
        norm_eval=False))  # BatchNorm statistics are trained here (ScaleNet's default, mmdet's, fixes them)
