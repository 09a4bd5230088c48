"""The arguments of ScaleNet's builders (:class:`~.scalenet.ScaleNet` and the C4 head
:class:`~.shared_head.ScaleNetResLayer`), each checked in one place, with messages that name the argument and say
what was expected and what was given. The blocks trust their builder."""
import copy
import numbers
from typing import List, Optional, Sequence, Tuple

from ..geometry import STAGE_BLOCKS, is_depth

__all__ = [
    'PLUGIN_POSITIONS', 'STYLES', 'branch_dcn', 'check_bool', 'check_choice', 'check_conv_cfg', 'check_depth',
    'check_int', 'check_norm_cfg', 'check_out_indices', 'check_stride_dilation', 'per_stage', 'stage_plugins'
]

#: ResNet's ``style`` values; in ScaleNet both name the same network (see :class:`~.scalenet.ScaleNet`).
STYLES = ('pytorch', 'caffe')
#: Where a block runs mmdet-style plugins, as mmdet's ``Bottleneck``.
PLUGIN_POSITIONS = ('after_conv1', 'after_conv2', 'after_conv3')


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(name: str, value, low: Optional[int] = None, high: Optional[int] = None, note: str = '') -> int:
    """``value`` if it is an int (not a bool) within ``low..high`` (each bound optional); ``note`` is added to the
    message (e.g. ``' (num_stages=4)'``)."""
    if not _is_int(value):
        raise TypeError(f'{name} must be an integer{note}, got {type(value).__name__} {value!r}')
    if (low is not None and value < low) or (high is not None and value > high):
        if low is not None and high is not None:
            what = f'{low}..{high}'
        else:
            what = 'a positive integer' if low == 1 else f'an integer >= {low}' if low is not None else f'<= {high}'
        raise ValueError(f'{name} must be {what}{note}, got {value!r}')
    return int(value)


def check_bool(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f'{name} must be True or False, got {value!r}')
    return value


def check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f'{name} must be one of {list(choices)}, got {value!r}')


def check_depth(depth) -> int:
    """ScaleNet's depths are ResNet's bottleneck depths; like mmdet's ResNet, a KeyError otherwise."""
    if not is_depth(depth):
        raise KeyError(f'invalid depth {depth!r} for ScaleNet: expected one of {sorted(STAGE_BLOCKS)}')
    return int(depth)


def check_stride_dilation(stride, dilation, where: str = '') -> None:
    """A stage's stride (1, or 2 = a 2x2 max-pool at its start) and its branch convs' dilation."""
    if not _is_int(stride) or stride not in (1, 2):
        raise ValueError(f'{where}stride must be 1 or 2 (2 = a 2x2 max-pool at the start of the stage), '
                         f'got {stride!r}')
    check_int(f'{where}dilation', dilation, low=1)


def check_norm_cfg(norm_cfg) -> dict:
    """An mmcv norm config: a dict with a ``type``; GroupNorm with a positive int ``num_groups``."""
    if not isinstance(norm_cfg, dict) or 'type' not in norm_cfg:
        raise TypeError(f'norm_cfg must be an mmcv norm config dict with a "type" (e.g. dict(type="BN")), '
                         f'got {norm_cfg!r}')
    if norm_cfg['type'] == 'GN':
        check_int('norm_cfg num_groups (GN)', norm_cfg.get('num_groups'), low=1)
    return norm_cfg


def check_conv_cfg(conv_cfg) -> Optional[dict]:
    if conv_cfg is not None and (not isinstance(conv_cfg, dict) or 'type' not in conv_cfg):
        raise TypeError(f'conv_cfg must be None or an mmcv conv config dict with a "type", got {conv_cfg!r}')
    return conv_cfg


def check_out_indices(out_indices, num_stages: int) -> Tuple[int, ...]:
    """Stages whose outputs ``forward`` returns, in stage order: distinct and increasing, so that
    ``out_channels`` describes the outputs one for one."""
    if _is_int(out_indices) or not isinstance(out_indices, Sequence) or isinstance(out_indices, str):
        raise TypeError(f'out_indices must be a sequence of stage indices, e.g. (0, 1, 2, 3), got {out_indices!r}')
    indices = tuple(out_indices)
    if not indices or any(not _is_int(i) or not 0 <= i < num_stages for i in indices):
        raise ValueError(f'out_indices must be non-empty and each in 0..{num_stages - 1} (num_stages={num_stages}), '
                         f'got {indices}')
    if any(a >= b for a, b in zip(indices, indices[1:])):
        raise ValueError(f'out_indices must be increasing without repeats (outputs come in stage order), '
                         f'got {indices}')
    return tuple(int(i) for i in indices)


def per_stage(name: str, values: Optional[Sequence], num_stages: int, default: Sequence) -> tuple:
    """One value per stage: ``values`` (its length checked against ``num_stages``, as ResNet asserts) or the first
    ``num_stages`` of ``default``."""
    if values is None:
        return tuple(default[:num_stages])
    if not isinstance(values, Sequence) or isinstance(values, str):
        raise TypeError(f'{name} must be a sequence with one entry per stage, got {values!r}')
    values = tuple(values)
    if len(values) != num_stages:
        raise ValueError(f'{name} must have one entry per stage (num_stages={num_stages}), got {values}')
    return values


def stage_plugins(plugins: Optional[Sequence[dict]], num_stages: int) -> List[List[dict]]:
    """mmdet's plugin specs (``cfg``, ``position``, optional ``stages``: one bool per stage, absent = every stage)
    as one list per stage of ``dict(cfg=..., position=...)``, as mmdet's ``ResNet.make_stage_plugins`` selects
    them."""
    per = [[] for _ in range(num_stages)]
    if plugins is None:
        return per
    if not isinstance(plugins, (list, tuple)):
        raise TypeError(f'plugins must be a list of plugin specs, got {type(plugins).__name__}')
    for plugin in plugins:
        if not isinstance(plugin, dict) or not isinstance(plugin.get('cfg'), dict) \
                or plugin.get('position') not in PLUGIN_POSITIONS:
            raise ValueError(f'plugins: expected dict(cfg=..., position=one of {list(PLUGIN_POSITIONS)}, '
                             f'stages=optional), got {plugin!r}')
        plugin = copy.deepcopy(dict(plugin))
        stages = plugin.pop('stages', None)
        if stages is not None and len(stages) != num_stages:
            raise ValueError(f'plugins: "stages" must have one entry per stage (num_stages={num_stages}), '
                             f'got {tuple(stages)} for {plugin["cfg"]}')
        for stage in range(num_stages):
            if stages is None or stages[stage]:
                per[stage].append(plugin)
    return per


def branch_dcn(dcn: Optional[dict], conv_cfg: Optional[dict]) -> Optional[dict]:
    """The conv config of the deformable 3x3 branch convs, or None (no ``dcn``, or mmdet's
    ``fallback_on_stride``, which in mmdet means a plain conv for the strided 3x3 conv: ScaleNet's convs never
    stride)."""
    if dcn is None:
        return None
    if not isinstance(dcn, dict) or 'type' not in dcn:
        raise TypeError(f'dcn must be an mmcv conv config dict with a "type" (e.g. dict(type="DCNv2", '
                         f'deform_groups=1)), got {dcn!r}')
    dcn = dict(dcn)
    if dcn.pop('fallback_on_stride', False):
        return None
    import mmcv.ops  # noqa: F401  (registers DCN and DCNv2 with mmcv's conv layers; compiled, so imported on use)
    if conv_cfg is not None:
        raise ValueError(f'conv_cfg must be None when dcn is set (as in mmdet\'s ResNet), got {conv_cfg!r}')
    return dcn
