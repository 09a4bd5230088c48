"""Strict loading of pretrained weights, such as the authors' ImageNet ScaleNet checkpoints.

mmengine's ``PretrainedInit`` loads with ``strict=False`` and only logs what did not match; a silently
half-loaded backbone wastes a training run, so ScaleNet modules load their ``Pretrained`` init_cfg here instead:
every key the module has must be in the file with the same shape, and every key of the file must be used, except
those the caller names as ignorable (the classifier's ``fc.*``, stages the module does not build).
"""
import copy
from collections import OrderedDict
from typing import Callable, Collection, Optional, Tuple

import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model.weight_init import PretrainedInit, update_init_info

from ..utils.checkpoint import CheckpointMismatchError, read_state_dict

__all__ = ['StrictPretrainedMixin', 'is_pretrained_cfg', 'load_pretrained', 'split_pretrained']


def is_pretrained_cfg(cfg) -> bool:
    """Whether an init_cfg entry loads a checkpoint: ``type='Pretrained'`` (mmengine's registered name) or
    ``type=PretrainedInit`` (the class itself, as pure-Python configs write it), or a subclass of it."""
    kind = cfg.get('type') if isinstance(cfg, dict) else None
    return kind == 'Pretrained' or (isinstance(kind, type) and issubclass(kind, PretrainedInit))


def split_pretrained(init_cfg) -> Tuple[Optional[dict], Optional[list]]:
    """Split an init_cfg into its ``Pretrained`` entry (or None) and the list of the other entries."""
    if init_cfg is None:
        return None, None
    cfgs = [init_cfg] if isinstance(init_cfg, dict) else list(init_cfg)
    pretrained = [cfg for cfg in cfgs if is_pretrained_cfg(cfg)]
    if len(pretrained) > 1:
        raise ValueError(f'init_cfg has {len(pretrained)} Pretrained entries; expected at most one')
    others = [cfg for cfg in cfgs if not is_pretrained_cfg(cfg)]
    return (copy.deepcopy(pretrained[0]) if pretrained else None), others


def _summary(keys, limit: int = 20) -> str:
    keys = sorted(keys)
    more = f' ... (+{len(keys) - limit} more)' if len(keys) > limit else ''
    return ', '.join(keys[:limit]) + more


def load_pretrained(module: nn.Module, cfg: dict, ignore: Callable[[str], bool] = lambda key: False,
                    optional: Collection[str] = ()) -> None:
    """Load ``cfg['checkpoint']`` into ``module`` strictly.

    Args:
        module: the module to fill.
        cfg: a ``Pretrained`` init_cfg: ``checkpoint``, optional ``prefix`` (keep only keys under it, stripped)
            and ``map_location``.
        ignore: keys of the file (after prefix stripping) that may be left unused.
        optional: keys of ``module`` that the file may lack (parts the pretrained network does not have, such as
            plugins); those keep their initialisation and are listed in the log.

    Raises:
        FileNotFoundError: the file does not exist.
        CheckpointMismatchError: keys missing from the file, unexpected keys, or shape mismatches, all listed.
    """
    filename = cfg['checkpoint']
    prefix = cfg.get('prefix')
    if prefix and not prefix.endswith('.'):
        prefix += '.'  # as mmengine's PretrainedInit: prefix='backbone' selects 'backbone.*'
    state = read_state_dict(filename, cfg.get('map_location', 'cpu'))
    if prefix:
        state = OrderedDict((k[len(prefix):], v) for k, v in state.items() if k.startswith(prefix))
        if not state:
            raise CheckpointMismatchError(f'{filename}: no key starts with prefix {prefix!r}')
    own = module.state_dict()
    # BatchNorm itself tolerates a missing num_batches_tracked (checkpoints from PyTorch < 0.4.1 lack it).
    absent = [k for k in own if k not in state and not k.endswith('num_batches_tracked')]
    missing = [k for k in absent if k not in optional]
    kept = [k for k in absent if k in optional]
    unexpected = [k for k in state if k not in own and not ignore(k)]
    mismatched = [f'{k} (checkpoint {tuple(state[k].shape)}, model {tuple(own[k].shape)})'
                  for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or mismatched:
        lines = [f'{filename}: does not match {type(module).__name__}'
                 + (f' (prefix {prefix!r})' if prefix else '') + ':']
        if missing:
            lines.append(f'  missing from the checkpoint ({len(missing)}): {_summary(missing)}')
        if unexpected:
            lines.append(f'  unexpected in the checkpoint ({len(unexpected)}): {_summary(unexpected)}')
        if mismatched:
            lines.append(f'  shape mismatch ({len(mismatched)}): {_summary(mismatched)}')
        lines.append('  Check that the structure (and depth) matches the one the checkpoint was trained with.')
        raise CheckpointMismatchError('\n'.join(lines))
    module.load_state_dict(OrderedDict((k, v) for k, v in state.items() if k in own), strict=False)
    print_log(f'loaded {len(own) - len(kept)} tensors into {type(module).__name__} from {filename}',
              logger='current')
    if kept:
        modules = sorted({key.rsplit('.', 1)[0] for key in kept})
        print_log(f'{len(kept)} tensors of {type(module).__name__} are not in {filename} (parts the pretrained '
                  f'network does not have) and keep their initialisation, in {len(modules)} modules: '
                  + ', '.join(modules), logger='current')
    if hasattr(module, '_params_init_info'):
        update_init_info(module, init_info=f'Pretrained (strict): load from {filename}')


class StrictPretrainedMixin:
    """For an mmengine ``BaseModule``: a ``Pretrained`` entry of ``init_cfg`` is loaded by :func:`load_pretrained`
    (strict) after every other initialisation, instead of by mmengine's lenient ``PretrainedInit``.

    Subclasses name the keys of the file they may leave unused in :meth:`ignored_checkpoint_key`, and their own
    keys that the file may lack in :meth:`extension_keys`.
    """

    def ignored_checkpoint_key(self, key: str) -> bool:
        return False

    def extension_keys(self) -> Collection[str]:
        return ()

    def init_weights(self) -> None:
        original = self.init_cfg
        pretrained_cfg, self.init_cfg = split_pretrained(original)
        try:
            super().init_weights()
        finally:
            self.init_cfg = original
        if pretrained_cfg is not None:
            load_pretrained(self, pretrained_cfg, ignore=self.ignored_checkpoint_key, optional=self.extension_keys())
