# The seed detector for the neuron allocation on COCO: the paper's Faster R-CNN FPN schedule at 800/1200 with the
# seed ScaleNet-50 (`planes` neurons at each of the scales 1, 2, 4, 7 in every SA block). Train it, then
#   python tools/allocate_neurons.py work_dirs/<this config>/epoch_10.pth --mode block-flops -o scalenet50_coco.json
# and retrain this config with the allocated structure, from scratch:
#   --work-dir work_dirs/scalenet50_coco --cfg-options model.backbone.structure=scalenet50_coco.json
# No ImageNet weights exist for the seed, so it trains from scratch: BatchNorm statistics are learned (SyncBN
# across the 8 GPUs; mmengine reverts it to BN in a single process) and no stage is frozen. From-scratch detectors
# need longer schedules than 10 epochs (He et al., "Rethinking ImageNet Pre-training", ICCV 2019); with a seed
# classifier trained on ImageNet, point init_cfg at it instead and keep mmdet's usual frozen_stages/norm_eval.
_base_ = '../faster-rcnn_scalenet50_fpn_8xb2-10e_coco-800x1200.py'

model = dict(
    backbone=dict(
        structure='scalenet50_seed',
        init_cfg=None,
        frozen_stages=-1,
        norm_eval=False,
        norm_cfg=dict(type='SyncBN', requires_grad=True)))
