# Step 1 of the neuron allocation on a detector (README, "Allocating neurons on the detector"): the demo's
# Faster R-CNN FPN on the synthetic shapes, with the seed ScaleNet-50 as its backbone: every SA block has `planes`
# neurons at each of the scales 1, 2, 4, 7 (mmdet_scalenet.structure.seed_structure). The structure and the
# optimizer differ from the demo config; step 3 retrains that same config with the allocated structure.
_base_ = '../demo/faster-rcnn_scalenet50-light_fpn_synthetic-shapes.py'

model = dict(backbone=dict(structure='scalenet50_seed'))
# SGD, not the demo's AdamW: the allocation ranks neurons by the size of their BN gammas (Sec. 3.3), which SGD's
# steps, proportional to each gradient, let grow apart; Adam's steps, normalised per parameter, do not.
optim_wrapper = dict(optimizer=dict(_delete_=True, type='SGD', lr=0.04, momentum=0.9, weight_decay=0.0001))
