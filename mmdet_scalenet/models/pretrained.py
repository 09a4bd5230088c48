"""Strict loading of pretrained weights, such as the authors' ImageNet ScaleNet checkpoints.

mmengine's ``PretrainedInit`` loads with ``strict=False`` and only logs what did not match; a silently
half-loaded backbone wastes a training run, so ScaleNet modules load their ``Pretrained`` init_cfg here instead:
every key the module has must be in the file with the same shape, and every key of the file must be used, except
those the caller names as ignorable (the classifier's ``fc.*``, stages the module does not build).

The same rule guards every other load into a ScaleNet module (:meth:`StrictPretrainedMixin._load_from_state_dict`):
mmengine's Runner loads ``load_from``, ``resume`` and ``tools/test.py``'s checkpoint with ``strict=False`` too, and
would only log that a checkpoint of another structure leaves the backbone half-loaded.
"""
import copy
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Collection, Mapping, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model.weight_init import PretrainedInit, update_init_info

from ..utils.checkpoint import CheckpointError, check_weights, read_state_dict, summarize_keys

__all__ = [
    'StateMismatch', 'StrictPretrainedMixin', 'check_state_fits', 'compare_state', 'is_pretrained_cfg',
    'load_pretrained', 'split_pretrained'
]

#: What a mismatch most often means.
STRUCTURE_HINT = 'Check that the structure (and depth) matches the one the checkpoint was trained with.'


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


@dataclass(frozen=True)
class StateMismatch:
    """How a state dict differs from the one a module expects: every key is listed, in sorted order.

    Attributes:
        missing: the module's keys the state lacks (not counting ``num_batches_tracked``, which BatchNorm itself
            tolerates, nor the ``optional`` keys).
        unexpected: the state's keys the module does not have (not counting the ``ignore``d ones).
        mismatched: ``'key (checkpoint shape, model shape)'`` for keys in both with different shapes.
        absent_optional: the ``optional`` keys the state lacks (they keep their initialisation).
    """
    missing: Tuple[str, ...]
    unexpected: Tuple[str, ...]
    mismatched: Tuple[str, ...]
    absent_optional: Tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.mismatched)

    def error(self, title: str, hint: str) -> CheckpointError:
        """The error to raise: ``title``, the keys by kind, then ``hint``."""
        lines = [title]
        for label, keys in (('missing from the checkpoint', self.missing),
                            ('unexpected in the checkpoint', self.unexpected), ('shape mismatch', self.mismatched)):
            if keys:
                lines.append(f'  {label} ({len(keys)}): {summarize_keys(keys)}')
        lines.append('  ' + hint)
        return CheckpointError('\n'.join(lines))


def compare_state(expected: Mapping[str, torch.Size], state: Mapping[str, torch.Tensor],
                  ignore: Callable[[str], bool] = lambda key: False, optional: Collection[str] = ()) -> StateMismatch:
    """Compare ``state`` with the shapes a module ``expected``: what :func:`load_pretrained` and the classifier's
    checkpoint filter refuse (:class:`StateMismatch`)."""
    absent = [k for k in expected if k not in state and not k.endswith('num_batches_tracked')]
    return StateMismatch(
        missing=tuple(sorted(k for k in absent if k not in optional)),
        unexpected=tuple(sorted(k for k in state if k not in expected and not ignore(k))),
        mismatched=tuple(sorted(f'{k} (checkpoint {tuple(state[k].shape)}, model {tuple(expected[k])})'
                                for k in expected if k in state and state[k].shape != expected[k])),
        absent_optional=tuple(sorted(k for k in absent if k in optional)))


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
        CheckpointError: the file is not a usable checkpoint (:func:`~mmdet_scalenet.utils.checkpoint.read_state_dict`),
            or keys missing from the file, unexpected keys, or shape mismatches, all listed.
    """
    filename = cfg['checkpoint']
    prefix = cfg.get('prefix')
    if prefix and not prefix.endswith('.'):
        prefix += '.'  # as mmengine's PretrainedInit: prefix='backbone' selects 'backbone.*'
    state = read_state_dict(filename, cfg.get('map_location', 'cpu'))
    if prefix:
        state = OrderedDict((k[len(prefix):], v) for k, v in state.items() if k.startswith(prefix))
        if not state:
            raise CheckpointError(f'{filename}: no key starts with prefix {prefix!r}')
    own = module.state_dict()
    mismatch = compare_state({k: v.shape for k, v in own.items()}, state, ignore, optional)
    if mismatch:
        raise mismatch.error(f'{filename}: does not match {type(module).__name__}'
                             + (f' (prefix {prefix!r})' if prefix else '') + ':', STRUCTURE_HINT)
    kept = mismatch.absent_optional
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


def check_state_fits(module: nn.Module, state_dict: Mapping[str, torch.Tensor], prefix: str = '') -> None:
    """Check the keys of ``state_dict`` under ``prefix`` against ``module``, with the rule of
    :func:`load_pretrained` (``module.ignored_checkpoint_key``, ``module.extension_keys``), and their values with
    :func:`~mmdet_scalenet.utils.checkpoint.check_weights` (finite, floating where the module's tensor is).

    Raises:
        CheckpointError: keys missing, unexpected or mis-shaped, all listed; or non-finite or non-float weights.
    """
    own = module.state_dict()
    state = OrderedDict((k[len(prefix):], v) for k, v in state_dict.items() if k.startswith(prefix))
    where = type(module).__name__ + (f' (the keys under {prefix!r})' if prefix else '')
    mismatch = compare_state({k: v.shape for k, v in own.items()}, state,
                             ignore=getattr(module, 'ignored_checkpoint_key', lambda key: False),
                             optional=getattr(module, 'extension_keys', lambda: ())())
    if mismatch:
        raise mismatch.error(f'checkpoint does not fit the configured {where}:', STRUCTURE_HINT)
    check_weights(state, f'checkpoint loaded into {where}', expected=own)


class StrictPretrainedMixin:
    """For an mmengine ``BaseModule``: a ``Pretrained`` entry of ``init_cfg`` is loaded by :func:`load_pretrained`
    (strict) after every other initialisation, instead of by mmengine's lenient ``PretrainedInit``.

    Every other load into the module is checked with the same rule (:meth:`_load_from_state_dict`).

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

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        """torch calls this on every load into this module, whatever the route: ``load_state_dict``, mmengine's
        ``load_checkpoint`` (``strict=False``: the Runner's ``load_from``, ``resume`` and ``tools/test.py``), the
        ``Pretrained`` init above. The module's keys under ``prefix`` must fit it (:func:`check_state_fits`);
        the rest of ``state_dict`` belongs to other modules and stays their loader's business."""
        check_state_fits(self, state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
