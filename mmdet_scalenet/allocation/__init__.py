"""Data-driven neuron allocation (Li et al., "Data-Driven Neuron Allocation for Scale Aggregation Networks",
CVPR 2019, Sec. 3.2, Algorithm 1), as pure functions:

1. :func:`seed_structure`: the seed network, ``planes`` neurons at every scale of every SA block;
2. train it (outside this package), then :func:`load_seed_gammas` / :func:`read_branch_gammas` read the BN gamma
   of every branch neuron (BN-scale importance, as in Network Slimming, Liu et al., ICCV 2017) from the
   checkpoint: a backbone, the authors' classifier, or an mmdet detector (backbone under ``backbone.``);
3. :func:`allocate` (:func:`select_block_flops`, the paper's Eq. 6, or :func:`select_network_flops`, the released
   files' pattern) keeps the best neurons under a budget, scored ``p = |gamma| / cost ** b``;
4. :func:`save_allocation` writes the structure (and optionally :func:`export_kept_weights`), to retrain.

Costs come from :mod:`mmdet_scalenet.costs`. ``tools/allocate_neurons.py`` runs these from the command line;
``tools/plot_structure.py`` draws structures (:mod:`scalenet_lab.plot`).
"""
from ..structure import seed_structure
from .errors import AllocationError
from .importance import SeedGammas, find_backbone_prefix, load_seed_gammas, neuron_scores, read_branch_gammas
from .report import format_allocation, format_comparison
from .save import export_kept_weights, save_allocation
from .select import (
    MODES,
    Allocation,
    allocate,
    rank_neurons,
    select_block_flops,
    select_network_flops,
    select_uniform,
)

__all__ = [
    'MODES', 'Allocation', 'AllocationError', 'SeedGammas', 'allocate', 'export_kept_weights', 'find_backbone_prefix',
    'format_allocation', 'format_comparison', 'load_seed_gammas', 'neuron_scores', 'rank_neurons',
    'read_branch_gammas', 'save_allocation', 'seed_structure', 'select_block_flops', 'select_network_flops',
    'select_uniform',
]
