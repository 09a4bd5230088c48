"""Seed networks for the data-driven neuron allocation (Li et al., CVPR 2019, Sec. 3.2, Algorithm 1, step 1).

The seed network has abundant neurons: every SA block gets ``C = planes`` neurons at each of its ``L`` scales
(``N_k = L * C``). It is trained to convergence, its branch neurons are scored, and the best ones are kept
(:mod:`.select`). A seed structure is an ordinary :class:`~mmdet_scalenet.structure.Structure`, so the backbone
builds from it like from any other: ``ScaleNet(depth=50, structure=seed_structure(50))``.
"""
from typing import Optional, Sequence

from ..structure import SCALE_FACTORS, STAGE_BLOCKS, Structure
from .cost import block_specs

__all__ = ['seed_structure']


def seed_structure(depth: int, scale_factors: Sequence[int] = SCALE_FACTORS, name: Optional[str] = None) -> Structure:
    """The seed structure of ``depth``: ``planes`` neurons at every scale of every block.

    Args:
        depth: 50, 101 or 152.
        scale_factors: the branch downsampling factors; ``L = len(scale_factors)`` (default the paper's
            ``(1, 2, 4, 7)``). Branch ``i`` uses a 3x3 conv while ``side / 2**i > 1`` (the backbone's rule).
        name: the structure's label; default ``scalenet{depth}_seed``.
    """
    if depth not in STAGE_BLOCKS:
        raise ValueError(f'seed structure: depth must be one of {sorted(STAGE_BLOCKS)}, got {depth!r}')
    factors = tuple(scale_factors)
    specs = block_specs(depth)
    return Structure(depth=depth,
                     blocks=tuple((spec.planes, ) * len(factors) for spec in specs),
                     sides=tuple(spec.side for spec in specs),
                     scale_factors=factors,
                     name=name or f'scalenet{depth}_seed')
