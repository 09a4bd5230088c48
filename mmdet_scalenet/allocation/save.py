"""Writing an allocation: its structure file and, optionally, the seed's weights for the kept neurons.

The paper retrains the allocated network from scratch (Li et al., CVPR 2019, Sec. 3.2, Algorithm 1, step 5). The
kept weights serve warm starts and checks: loaded into the allocated ScaleNet, they reproduce the seed network's
branch outputs for the kept channels exactly (every layer but the branch convs, their norms and conv3 is
unchanged; those keep the rows, channels and input columns of the kept neurons).

Every file is written atomically: to a temporary file beside it, then renamed, so a failure leaves no partial file.
"""
import os
import re
from collections import OrderedDict, defaultdict
from typing import Dict, Mapping, Optional, Union

import torch

from ..geometry import block_specs
from ..structure import save_structure
from ..utils.fileio import check_writable, same_file, temp_beside
from .errors import AllocationError
from .select import Allocation

__all__ = ['allocation_meta', 'export_kept_weights', 'save_allocation']

PathLike = Union[str, os.PathLike]


def export_kept_weights(state: Mapping[str, torch.Tensor], allocation: Allocation,
                        source: Optional[str] = None) -> 'OrderedDict[str, torch.Tensor]':
    """The seed checkpoint ``state`` cut down to ``allocation``'s kept neurons.

    Under ``allocation.prefix``, every block's branch conv and branch norm tensors keep the kept channels (a
    branch with none kept is dropped) and ``conv3.weight`` keeps the matching input columns; every other key
    (the other layers, ``fc.*``, a detector's neck and heads) is copied unchanged, in the original order.

    Raises:
        AllocationError: a branch conv or ``conv3.weight`` is missing, or a tensor's channel count does not match
            the seed the allocation was made from.
    """
    source = source or allocation.source
    prefix, norm = allocation.prefix, allocation.norm_name
    pattern = re.compile(rf'^{re.escape(prefix)}(layer\d+\.\d+)\.(conv2|{re.escape(norm)})\.(\d+)\.')
    branch_keys: Dict[tuple, list] = defaultdict(list)
    for key in state:
        match = pattern.match(key)
        if match:
            branch_keys[(match.group(1), int(match.group(3)))].append(key)

    new: Dict[str, Optional[torch.Tensor]] = {}
    for block, spec in enumerate(block_specs(allocation.seed.depth)):
        base = f'{prefix}{spec.name}.'
        columns, offset = [], 0
        for branch, count in enumerate(allocation.seed.blocks[block]):
            kept = allocation.kept[block][branch]
            columns.extend(offset + channel for channel in kept)
            offset += count
            conv_key = f'{base}conv2.{branch}.weight'
            if count and conv_key not in state:
                raise AllocationError(f'{source}: missing key {conv_key!r}: the branch conv of block {spec.name}, '
                                      f'branch {branch}, whose kept channels are exported')
            index = torch.tensor(kept, dtype=torch.long)
            for key in branch_keys[(spec.name, branch)]:
                value = state[key]
                if not kept:
                    new[key] = None
                elif value.dim() == 0:
                    new[key] = value
                elif value.shape[0] == count:
                    new[key] = value.index_select(0, index)
                else:
                    raise AllocationError(f'{source}: key {key!r}: expected {count} channels along dim 0 (the '
                                          f'seed\'s branch), got shape {tuple(value.shape)}')
        conv3_key = f'{base}conv3.weight'
        if conv3_key not in state:
            raise AllocationError(f'{source}: missing key {conv3_key!r}: the conv after the branches of block '
                                  f'{spec.name}')
        conv3 = state[conv3_key]
        if conv3.dim() != 4 or conv3.shape[1] != offset:
            raise AllocationError(f'{source}: key {conv3_key!r}: expected {offset} input channels (the seed\'s '
                                  f'branches of block {spec.name}), got shape {tuple(conv3.shape)}')
        new[conv3_key] = conv3.index_select(1, torch.tensor(columns, dtype=torch.long))

    out = OrderedDict()
    for key, value in state.items():
        if key in new:
            if new[key] is not None:
                out[key] = new[key]
        else:
            out[key] = value
    return out


def allocation_meta(allocation: Allocation) -> dict:
    """What an exported checkpoint records about its allocation (plain containers, safe to load)."""
    return {
        'structure': allocation.structure.to_dict(),
        'mode': allocation.mode,
        'budget': allocation.budget,
        'b': allocation.b,
        'width_multiplier': allocation.width_multiplier,
        'seed_checkpoint': allocation.source,
        'prefix': allocation.prefix,
    }


def _save_to_temp(obj, path: str) -> str:
    """``torch.save`` into a new temporary file beside ``path``; return its name (removed again on failure)."""
    tmp = temp_beside(path)
    try:
        torch.save(obj, tmp)
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def save_allocation(allocation: Allocation, path: PathLike, layout: str = 'schema', overwrite: bool = False,
                    weights: Optional[Mapping[str, torch.Tensor]] = None,
                    weights_path: Optional[PathLike] = None) -> None:
    """Write the allocated structure (``layout`` ``'schema'`` or ``'authors'``, validated by
    :func:`~mmdet_scalenet.structure.save_structure`) and, if given, the exported ``weights``.

    Both targets are checked before anything is written, and neither may be the seed checkpoint
    (``allocation.source``), even with ``overwrite``; the weights are renamed into place only after the structure
    file was written, so a failure leaves neither a partial file nor weights without their structure.
    """
    path = os.fspath(path)
    if (weights is None) != (weights_path is None):
        raise ValueError('weights and weights_path go together: give both or neither')
    if layout not in ('schema', 'authors'):
        raise ValueError(f'layout must be "schema" or "authors", got {layout!r}')
    seed = [allocation.source] if os.path.isfile(allocation.source) else []
    check_writable(path, overwrite, inputs=seed)
    if weights_path is None:
        save_structure(allocation.structure, path, layout=layout, overwrite=overwrite)
        return
    weights_path = os.fspath(weights_path)
    if same_file(weights_path, path):
        raise ValueError(f'{path}: the structure and the weights need different files')
    check_writable(weights_path, overwrite, inputs=seed)
    tmp = _save_to_temp({'state_dict': OrderedDict(weights), 'meta': allocation_meta(allocation)}, weights_path)
    try:
        save_structure(allocation.structure, path, layout=layout, overwrite=overwrite)
        os.replace(tmp, weights_path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
