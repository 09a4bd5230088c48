# PSPNet with a dilated ScaleNet-101 (output stride 8) on Cityscapes (512x1024 crops, 4x2 images, 80k iterations):
# mmseg's pspnet_r101-d8_4xb2-80k_cityscapes-512x1024.py with only the backbone changed.
_base_ = './pspnet_scalenet50-d8_4xb2-80k_cityscapes-512x1024.py'

model = dict(
    backbone=dict(depth=101, structure='scalenet101',
                  init_cfg=dict(type='Pretrained', checkpoint='checkpoints/scalenet101.pth')))
