# Step 1 of the neuron allocation on a detector (README, "Allocating neurons on the detector"): the demo's
# Faster R-CNN FPN on the synthetic shapes, with the seed ScaleNet-50 as its backbone: every SA block has `planes`
# neurons at each of the scales 1, 2, 4, 7 (mmdet_scalenet.structure.seed_structure). Only the structure differs
# from the demo config; step 3 retrains that same config with the allocated structure.
_base_ = '../demo/faster-rcnn_scalenet50-light_fpn_synthetic-shapes.py'

model = dict(backbone=dict(structure='scalenet50_seed'))
