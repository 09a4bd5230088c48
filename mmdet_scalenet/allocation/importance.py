"""Importance of the branch neurons of a trained seed network (Li et al., CVPR 2019, Sec. 3.2).

Every output neuron ``n`` of an SA block (one output channel of one branch conv) is scored by

    p_n = V_n / O_n ** b

where ``V_n = |gamma_n|`` is the scale of the BatchNorm that follows the branch (after its upsample): the
*BN-scale importance* of Network Slimming (Liu et al., "Learning Efficient Convolutional Networks through Network
Slimming", ICCV 2017); ``O_n`` is the neuron's cost, the multiply-accumulates of its output channel at the block's
224x224 ``side`` (:func:`~mmdet_scalenet.costs.neuron_macs`); ``b = 0`` in the paper, so the ranking is by
``|gamma|`` alone, and ``b > 0`` favours cheap (coarse-scale) neurons.

The gammas are read from a state dict in any of three layouts: a backbone's (``layer1.0.bn2.0.weight``), the
authors' classifier (the same plus ``fc.*``), or an mmdet detector (``backbone.layer1.0.bn2.0.weight``); the
prefix is found, or given. Reading the state dict is the only part that needs torch (:func:`load_seed_gammas`).
"""
import math
import os
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Sequence, Tuple

from ..costs import neuron_macs
from ..geometry import SCALE_FACTORS, STAGE_BLOCKS, block_specs, branch_kernel_size
from ..structure import Structure
from ..utils.checkpoint import read_state_dict
from .errors import AllocationError

__all__ = ['SeedGammas', 'find_backbone_prefix', 'load_seed_gammas', 'neuron_scores', 'read_branch_gammas']


@dataclass(frozen=True)
class SeedGammas:
    """The BN gammas of every branch neuron of a seed network.

    Attributes:
        depth: the network depth, found from the checkpoint's blocks.
        scale_factors: the branch downsampling factors; branch ``i`` has factor ``scale_factors[i]``.
        gammas: ``gammas[block][branch][channel]``, blocks in network order.
        prefix: the prefix of the backbone's keys in the checkpoint (``''`` or e.g. ``'backbone.'``).
        norm_name: the name of the branch norms in the checkpoint (``'bn2'`` for BN and SyncBN).
        source: the file (or a label) the gammas came from, for messages.
    """
    depth: int
    scale_factors: Tuple[int, ...]
    gammas: Tuple[Tuple[Tuple[float, ...], ...], ...]
    prefix: str = ''
    norm_name: str = 'bn2'
    source: str = 'state dict'

    @property
    def structure(self) -> Structure:
        """The seed's structure: how many neurons each branch of each block has in the checkpoint."""
        blocks = tuple(tuple(len(branch) for branch in block) for block in self.gammas)
        return Structure(depth=self.depth, blocks=blocks, scale_factors=self.scale_factors,
                         name=f'seed of {os.path.basename(self.source)}')


def _examples(keys: Sequence[str], limit: int = 5) -> str:
    shown = ', '.join(repr(k) for k in list(keys)[:limit])
    return shown + (f' ... ({len(keys)} keys)' if len(keys) > limit else '')


def find_backbone_prefix(keys: Iterable[str], norm_name: str = 'bn2', source: str = 'state dict') -> str:
    """The prefix before ``layer1.0.<norm_name>.<i>.weight`` in ``keys``: ``''`` for a backbone or classifier,
    ``'backbone.'`` for an mmdet detector.

    Raises:
        AllocationError: no such key, or several prefixes (e.g. a teacher and a student); pass the prefix then.
    """
    keys = list(keys)
    pattern = re.compile(rf'^(.*)layer1\.0\.{re.escape(norm_name)}\.\d+\.weight$')
    prefixes = sorted({m.group(1) for m in map(pattern.match, keys)
                       if m and (m.group(1) == '' or m.group(1).endswith('.'))})
    if not prefixes:
        raise AllocationError(
            f'{source}: no BN gamma of an SA branch: expected a key like "layer1.0.{norm_name}.0.weight" '
            f'(backbone or classifier) or "backbone.layer1.0.{norm_name}.0.weight" (detector), got none among '
            f'{_examples(keys)}. Is this a trained ScaleNet seed checkpoint?')
    if len(prefixes) > 1:
        raise AllocationError(f'{source}: several ScaleNet backbones, under prefixes {prefixes}; '
                              f'pass the prefix of the one to allocate')
    return prefixes[0]


def _stage_blocks(keys: Sequence[str], prefix: str, source: str) -> Tuple[int, ...]:
    pattern = re.compile(rf'^{re.escape(prefix)}layer(\d+)\.(\d+)\.')
    found = defaultdict(set)
    for key in keys:
        match = pattern.match(key)
        if match:
            found[int(match.group(1))].add(int(match.group(2)))
    where = f' under prefix {prefix!r}' if prefix else ''
    if sorted(found) != [1, 2, 3, 4]:
        raise AllocationError(f'{source}: expected the blocks of stages layer1..layer4{where}, got stages '
                              f'{["layer%d" % s for s in sorted(found)]}: a structure covers all four stages')
    counts = []
    for stage in (1, 2, 3, 4):
        indices = sorted(found[stage])
        if indices != list(range(len(indices))):
            raise AllocationError(f'{source}: the blocks of layer{stage}{where} are not numbered 0..n-1: '
                                  f'got {indices}')
        counts.append(len(indices))
    return tuple(counts)


def _depth_text(depth: int) -> str:
    return f'depth {depth} ({"+".join(map(str, STAGE_BLOCKS[depth]))} blocks)'


def _floats(key: str, value, source: str) -> Tuple[float, ...]:
    shape = tuple(value.shape)
    if len(shape) != 1 or shape[0] == 0:
        raise AllocationError(f'{source}: key {key!r}: expected a 1-D BN gamma with at least one channel, '
                              f'got shape {shape}')
    values = tuple(float(v) for v in value.tolist())
    bad = [i for i, v in enumerate(values) if not math.isfinite(v)]
    if bad:
        raise AllocationError(f'{source}: key {key!r}: expected finite gammas, got {len(bad)} NaN or infinite '
                              f'(channels {bad[:10]}{" ..." if len(bad) > 10 else ""})')
    return values


def read_branch_gammas(state: Mapping[str, object],
                       depth: Optional[int] = None,
                       scale_factors: Sequence[int] = SCALE_FACTORS,
                       prefix: Optional[str] = None,
                       norm_name: str = 'bn2',
                       source: str = 'state dict') -> SeedGammas:
    """Read the BN gamma of every branch channel of a seed network from ``state``.

    Args:
        state: a state dict (tensors or arrays: anything with ``shape`` and ``tolist``).
        depth: the expected depth; default: found from the number of blocks per stage.
        scale_factors: the seed's branch factors; every block must have a branch norm for each of them.
        prefix: the prefix of the backbone's keys; default: found (:func:`find_backbone_prefix`).
        norm_name: the branch norms' name (``bn2`` for BN and SyncBN, ``gn2`` for GN).
        source: the file name, for messages.

    Raises:
        AllocationError: no branch gammas, an unknown or unexpected depth, a missing or extra branch, a gamma
            that is not 1-D or not finite, or a branch conv whose shape does not match the depth and factors.
    """
    keys = list(state)
    factors = tuple(scale_factors)
    if not factors or len(set(factors)) != len(factors) or not all(isinstance(f, int) and f >= 1 for f in factors):
        raise AllocationError(f'scale_factors: expected distinct positive integers, got {list(factors)}')
    if prefix is None:
        prefix = find_backbone_prefix(keys, norm_name, source)
    elif not any(key.startswith(prefix) for key in keys):
        raise AllocationError(f'{source}: no key starts with prefix {prefix!r}; keys look like {_examples(keys)}')
    counts = _stage_blocks(keys, prefix, source)
    by_counts = {blocks: d for d, blocks in STAGE_BLOCKS.items()}
    if counts not in by_counts:
        raise AllocationError(
            f'{source}: {"+".join(map(str, counts))} blocks per stage match no ScaleNet depth; expected '
            + ', '.join(_depth_text(d) for d in sorted(STAGE_BLOCKS)))
    found_depth = by_counts[counts]
    if depth is not None and depth != found_depth:
        raise AllocationError(f'{source}: expected {_depth_text(depth)}, got {_depth_text(found_depth)}')

    branch_pattern = re.compile(rf'^{re.escape(prefix)}(layer\d+\.\d+)\.{re.escape(norm_name)}\.(\d+)\.weight$')
    branches = defaultdict(set)
    for key in keys:
        match = branch_pattern.match(key)
        if match:
            branches[match.group(1)].add(int(match.group(2)))

    gammas = []
    for spec in block_specs(found_depth):
        extra = sorted(i for i in branches[spec.name] if i >= len(factors))
        if extra:
            raise AllocationError(
                f'{source}: key {f"{prefix}{spec.name}.{norm_name}.{extra[0]}.weight"!r}: block {spec.name} has '
                f'branch {extra[0]}, but the scale factors {list(factors)} give branches 0..{len(factors) - 1}; '
                f'pass the seed\'s scale factors')
        block = []
        for i, factor in enumerate(factors):
            key = f'{prefix}{spec.name}.{norm_name}.{i}.weight'
            if key not in state:
                raise AllocationError(
                    f'{source}: missing key {key!r}: the BN gamma of block {spec.name}, branch {i} (scale factor '
                    f'{factor}); a seed network has a branch norm at each of the scale factors {list(factors)}')
            values = _floats(key, state[key], source)
            conv_key = f'{prefix}{spec.name}.conv2.{i}.weight'
            if conv_key in state:
                kernel = branch_kernel_size(spec.side, i)
                expected = (len(values), spec.planes, kernel, kernel)
                got = tuple(state[conv_key].shape)
                if got != expected:
                    raise AllocationError(
                        f'{source}: key {conv_key!r}: expected shape {expected} (block {spec.name} of a depth-'
                        f'{found_depth} ScaleNet, {spec.planes} planes, side {spec.side}, branch {i}), got {got}')
            block.append(values)
        gammas.append(tuple(block))
    return SeedGammas(depth=found_depth, scale_factors=factors, gammas=tuple(gammas), prefix=prefix,
                      norm_name=norm_name, source=source)


def load_seed_gammas(path: str,
                     depth: Optional[int] = None,
                     scale_factors: Sequence[int] = SCALE_FACTORS,
                     prefix: Optional[str] = None,
                     norm_name: str = 'bn2') -> SeedGammas:
    """:func:`read_branch_gammas` of a checkpoint file, read safely (``weights_only=True``) by
    :func:`mmdet_scalenet.utils.read_state_dict`."""
    return read_branch_gammas(read_state_dict(path), depth=depth, scale_factors=scale_factors, prefix=prefix,
                              norm_name=norm_name, source=os.fspath(path))


def neuron_scores(gammas: SeedGammas, b: float = 0.0) -> Tuple[Tuple[Tuple[float, ...], ...], ...]:
    """``p = |gamma| / O ** b`` of every neuron (``scores[block][branch][channel]``), ``O`` from
    :func:`~mmdet_scalenet.costs.neuron_macs`. ``b = 0`` (the paper's choice) ranks by ``|gamma|`` alone."""
    if isinstance(b, bool) or not (isinstance(b, (int, float)) and math.isfinite(b) and b >= 0):
        raise AllocationError(f'b: expected a finite number >= 0, got {b!r}')
    scores = []
    for spec, block in zip(block_specs(gammas.depth), gammas.gammas):
        row = []
        for i, (factor, values) in enumerate(zip(gammas.scale_factors, block)):
            divisor = float(neuron_macs(spec.planes, spec.side, i, factor))**b
            row.append(tuple(abs(v) / divisor for v in values))
        scores.append(tuple(row))
    return tuple(scores)
