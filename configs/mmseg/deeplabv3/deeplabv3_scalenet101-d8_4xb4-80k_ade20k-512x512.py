# DeepLabV3 with a dilated ScaleNet-101 (output stride 8) on ADE20K (512x512 crops, 4x4 images, 80k iterations):
# mmseg's deeplabv3_r101-d8_4xb4-80k_ade20k-512x512.py with only the backbone changed.
_base_ = './deeplabv3_scalenet50-d8_4xb4-80k_ade20k-512x512.py'

model = dict(
    backbone=dict(depth=101, structure='scalenet101',
                  init_cfg=dict(type='Pretrained', checkpoint='checkpoints/scalenet101.pth')))
