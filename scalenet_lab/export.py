"""What tools/export_onnx.py exports: a ScaleNet backbone built from a config or from a depth and structure, with a
checkpoint's weights, and the input sizes its graph can take (:mod:`mmdet_scalenet.deploy.onnx` writes the file)."""
import os
from typing import Optional, Sequence, Tuple

import torch.nn as nn

__all__ = ['build_scalenet', 'check_sizes', 'load_backbone_weights']


def build_scalenet(config: Optional[str] = None, depth: int = 50, structure: Optional[str] = None) -> nn.Module:
    """The ScaleNet of ``config``'s ``model.backbone`` or, without a config, of ``depth`` and ``structure``; no
    weights loaded (``init_cfg=None``).

    Raises:
        FileNotFoundError: no such config file.
        ValueError: the config's backbone is missing or is not a ScaleNet.
    """
    from mmdet.registry import MODELS

    import mmdet_scalenet  # noqa: F401 (registers ScaleNet)
    if config:
        from mmengine.config import Config
        if not os.path.isfile(config):
            raise FileNotFoundError(f'{config}: config file not found')
        cfg = Config.fromfile(config).get('model', {}).get('backbone')
        if not isinstance(cfg, dict) or cfg.get('type') != 'ScaleNet':
            found = cfg.get('type') if isinstance(cfg, dict) else cfg
            raise ValueError(f'{config}: model.backbone is {found}, not ScaleNet')
        cfg = dict(cfg, init_cfg=None)
    else:
        cfg = dict(type='ScaleNet', depth=depth, init_cfg=None)
        if structure:
            cfg['structure'] = structure
    return MODELS.build(cfg)


def load_backbone_weights(model: nn.Module, checkpoint: str) -> nn.Module:
    """Load ``checkpoint`` into backbone ``model`` strictly (the authors' classifier file, or a detector
    checkpoint whose ``backbone.*`` keys are used); return it in eval mode."""
    from mmdet_scalenet.utils.checkpoint import read_state_dict
    state = read_state_dict(checkpoint)
    model.init_cfg = dict(type='Pretrained', checkpoint=checkpoint)
    if any(key.startswith('backbone.') for key in state):
        model.init_cfg['prefix'] = 'backbone.'
    model.init_weights()
    return model.eval()


def check_sizes(model: nn.Module, max_size: int, check: Sequence[Tuple[int, int]]) -> int:
    """The smallest input side the exported graph of ``model`` takes
    (:func:`~mmdet_scalenet.deploy.onnx.min_input_size`), after checking that ``max_size`` is not below it and that
    every size of ``check`` lies between the two.

    Raises:
        ValueError: naming the option (``--max-size``, ``--check``) and the range.
    """
    from mmdet_scalenet.deploy import min_input_size
    low = min_input_size(model.structure, model.num_stages, model.strides)
    name = model.structure.name
    if max_size < low:
        raise ValueError(f'--max-size {max_size} is below the minimum input size {low} of {name}')
    outside = [f'{h}x{w}' for h, w in check if min(h, w) < low or max(h, w) > max_size]
    if outside:
        raise ValueError(f'--check {" ".join(outside)}: each side must be in {low}..{max_size} (the minimum input '
                         f'size of {name} is {low}, --max-size {max_size})')
    return low
