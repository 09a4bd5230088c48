"""Seed networks for the data-driven neuron allocation (Li et al., CVPR 2019, Sec. 3.2, Algorithm 1, step 1).

The seed network has abundant neurons: every SA block gets ``C = planes`` neurons at each of its ``L`` scales
(``N_k = L * C``). It is trained to convergence, its branch neurons are scored, and the best ones are kept
(:mod:`.select`). A seed structure is an ordinary :class:`~mmdet_scalenet.structure.Structure`, so the backbone
builds from it like from any other: ``ScaleNet(depth=50, structure=seed_structure(50))``, or by name in a config,
``structure='scalenet50_seed'``. It lives in :mod:`mmdet_scalenet.structure` (no torch) so the loader can build
it by name; this module is where the allocation's steps are found.
"""
from ..structure import seed_structure

__all__ = ['seed_structure']
