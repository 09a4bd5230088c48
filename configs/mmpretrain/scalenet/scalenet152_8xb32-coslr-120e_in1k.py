# ScaleNet-152 ImageNet classifier, the authors' recipe (see scalenet50_8xb32-coslr-120e_in1k.py).
_base_ = './scalenet50_8xb32-coslr-120e_in1k.py'

model = dict(backbone=dict(depth=152, structure='scalenet152'))
