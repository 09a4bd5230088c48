"""The authors' ImageNet classifier checkpoints in an mmpretrain ``ImageClassifier``, with no conversion step.

The released files hold one state dict in the layout of the authors' ``ScaleNet`` classifier: the backbone's keys
(``conv1.weight``, ``bn1.*``, ``layer1.0.conv2.0.weight``...) and the 1000-way ``fc.weight`` / ``fc.bias`` on the
globally pooled stage-4 features. mmpretrain's ``ImageClassifier`` (``backbone`` + ``GlobalAveragePooling`` +
``LinearClsHead``) names the same tensors ``backbone.*`` and ``head.fc.*``, and registers its backbone's
``_checkpoint_filter`` as a hook that runs before every load into the classifier: mmengine's ``load_from`` and
``tools/test.py CONFIG CKPT``, a classifier ``init_cfg=Pretrained``, and torch's ``load_state_dict``.
:meth:`ScaleNet._checkpoint_filter <mmdet_scalenet.models.ScaleNet._checkpoint_filter>` hands the state dict to
:func:`authors_to_classifier`, which renames such a file's keys in place and checks them strictly first.

mmengine loads with ``strict=False`` and only warns about what does not match, so the check is made here: every
key the classifier has must be in the file with the same shape, and every key of the file must be used; anything
else is a :class:`~mmdet_scalenet.CheckpointError` that lists the keys. Checkpoints already in the
classifier's layout (those mmengine's Runner writes) are left to mmengine as they are.
"""
import weakref
from collections import OrderedDict
from typing import Dict, MutableMapping, Optional

import torch
import torch.nn as nn
from mmengine.logging import print_log
from torch.nn.modules.module import register_module_module_registration_hook

from .pretrained import STRUCTURE_HINT, compare_state

__all__ = ['authors_to_classifier', 'is_authors_layout']

#: The classifier's names for the backbone's tensors and for the authors' ``fc``.
BACKBONE = 'backbone.'
HEAD_FC = 'head.fc.'


def is_authors_layout(state_dict: MutableMapping[str, torch.Tensor], prefix: str = '') -> bool:
    """Whether the keys under ``prefix`` are the authors' classifier's: a ``conv1.weight`` and no ``backbone.*``."""
    marker = prefix + BACKBONE
    return prefix + 'conv1.weight' in state_dict and not any(key.startswith(marker) for key in state_dict)


def _renamed(key: str) -> str:
    return HEAD_FC + key[len('fc.'):] if key.startswith('fc.') else BACKBONE + key


#: backbone -> (a weak reference to) the module that holds it as ``backbone``: the classifier that loads it.
_HOLDERS: 'weakref.WeakKeyDictionary[nn.Module, weakref.ref]' = weakref.WeakKeyDictionary()


def _remember_holder(module: nn.Module, name: str, submodule: nn.Module) -> None:
    """torch's module-registration hook: note which module takes a ScaleNet (a module that loads the authors'
    layout) as its ``backbone``. mmpretrain registers the backbone's checkpoint filter on the classifier without
    the classifier as an argument, and only the classifier knows its head's shape (the number of classes)."""
    if name == 'backbone' and getattr(submodule, 'loads_authors_classifier', False):
        _HOLDERS[submodule] = weakref.ref(module)


register_module_module_registration_hook(_remember_holder)


def _loading_classifier(backbone: nn.Module) -> Optional[nn.Module]:
    """The classifier that holds ``backbone`` (whose load runs the filter), or None."""
    holder = _HOLDERS.get(backbone)
    classifier = holder() if holder is not None else None
    return classifier if classifier is not None and classifier._modules.get('backbone') is backbone else None


def _expected_state(backbone: nn.Module, classifier: Optional[nn.Module]) -> Dict[str, torch.Size]:
    if classifier is not None:
        return OrderedDict((key, value.shape) for key, value in classifier.state_dict().items())
    return OrderedDict((BACKBONE + key, value.shape) for key, value in backbone.state_dict().items())


def authors_to_classifier(backbone: nn.Module, state_dict: MutableMapping[str, torch.Tensor], prefix: str = '') -> bool:
    """Rename a state dict in the authors' classifier layout to the ``ImageClassifier``'s, in place, after checking
    it strictly against the classifier; return whether it was in that layout (otherwise nothing changes).

    ``fc.*`` becomes ``head.fc.*`` and every other key ``backbone.*``. Then each key the classifier has must be
    there with its shape (``num_batches_tracked`` may be absent, as BatchNorm allows, and so may the parts the
    authors' network does not have, plugins and deformable offsets: they keep their initialisation), and each key
    of the file must be one of the classifier's. When the classifier cannot be found (the hook called outside a
    classifier's load), the backbone's keys are checked and ``fc.weight`` must take the backbone's output width.

    Raises:
        mmdet_scalenet.CheckpointError: keys missing from the file, unexpected keys, or shape mismatches, all
            listed.
    """
    if not is_authors_layout(state_dict, prefix):
        return False
    classifier = _loading_classifier(backbone)
    expected = _expected_state(backbone, classifier)
    ours = [key for key in state_dict if key.startswith(prefix)]
    mapped = OrderedDict((_renamed(key[len(prefix):]), state_dict[key]) for key in ours)

    optional = {BACKBONE + key for key in getattr(backbone, 'extension_keys', lambda: ())()}
    if classifier is None:  # only the backbone is known: its keys, and fc taking its output width
        width = getattr(backbone, 'feat_dim', None)
        fc = mapped.get(HEAD_FC + 'weight')
        if fc is not None and width is not None:
            expected[HEAD_FC + 'weight'] = torch.Size((fc.shape[0], width))
        mismatch = compare_state(expected, mapped, ignore=lambda key: key.startswith(HEAD_FC), optional=optional)
    else:
        mismatch = compare_state(expected, mapped, optional=optional)
    target = type(classifier or backbone).__name__
    if mismatch:
        raise mismatch.error(
            f"checkpoint in the authors' classifier layout (conv1.*, layer*.*, fc.*): does not match {target} (keys "
            'as renamed for it: fc.* -> head.fc.*, the rest -> backbone.*'
            + (f', under prefix {prefix!r}' if prefix else '') + '):',
            STRUCTURE_HINT + " And that the head's num_classes is the number of rows of the checkpoint's fc.weight.")
    for key in ours:
        del state_dict[key]
    state_dict.update((prefix + key, value) for key, value in mapped.items())
    print_log(f"{len(mapped)} tensors in the authors' classifier layout renamed for {target}: fc.* -> head.fc.*, "
              'the rest -> backbone.* (checked: every key and shape matches)', logger='current')
    return True
