# ScaleNet-50-light ImageNet classifier: the authors' light allocation (29% fewer FLOPs than ResNet-50).
_base_ = './scalenet50_8xb32-coslr-120e_in1k.py'

model = dict(backbone=dict(structure='scalenet50_light'))
