# Step 1 of the paper's data-driven neuron allocation (Sec. 3.2, Algorithm 1): the seed ScaleNet-50 classifier,
# every SA block with `planes` neurons at each of the scales 1, 2, 4, 7 (mmdet_scalenet.structure.seed_structure),
# trained on ImageNet. Step 2: tools/allocate_neurons.py on its checkpoint; step 3: this same config with
# --cfg-options model.backbone.structure=ALLOCATED.json, trained from scratch (README, "Data-driven neuron
# allocation").
_base_ = './scalenet50_8xb32-coslr-120e_in1k.py'

model = dict(backbone=dict(structure='scalenet50_seed'))
