"""Norm layers of ScaleNet's blocks: building them from an mmcv config, and a training-mode BatchNorm evaluated on
a map before it is upsampled."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer

__all__ = ['batch_norm_as_upsampled', 'build_norm']


def build_norm(norm_cfg: dict, num_features: int, postfix=''):
    """``mmcv.cnn.build_norm_layer``, except that GroupNorm uses the largest divisor of ``num_features`` that is
    at most the configured ``num_groups``: allocated branch widths (9, 62, ...) are rarely multiples of 32."""
    if norm_cfg.get('type') == 'GN':
        groups = max(g for g in range(1, min(norm_cfg['num_groups'], num_features) + 1) if num_features % g == 0)
        norm_cfg = dict(norm_cfg, num_groups=groups)
    return build_norm_layer(norm_cfg, num_features, postfix=postfix)


def batch_norm_as_upsampled(norm: nn.BatchNorm2d, y: torch.Tensor, repeats: int) -> torch.Tensor:
    """``norm(nearest(y))`` computed on ``y``, for a training-mode BatchNorm and a nearest upsampling by whole
    factors that repeats every value ``repeats`` times (then ``nearest(result)`` is the full-resolution output).

    Repeating every value the same number of times leaves the batch mean and (biased) variance unchanged, so the
    normalisation, its gradient and the running mean are those of the upsampled map. Only the running variance's
    unbiased estimate counts values: BatchNorm would count the ``N * H * W`` values of ``y``, the upsampled map has
    ``repeats`` times more, so the running statistics are updated here with that count (BatchNorm's own update
    rule, momentum or cumulative average).
    """
    out = F.batch_norm(y, None, None, norm.weight, norm.bias, True, 0.0, norm.eps)
    if norm.track_running_stats and norm.running_mean is not None:
        with torch.no_grad():
            norm.num_batches_tracked.add_(1)
            factor = 1.0 / float(norm.num_batches_tracked) if norm.momentum is None else norm.momentum
            count = y.numel() // y.shape[1] * repeats
            var, mean = torch.var_mean(y, dim=(0, 2, 3), unbiased=False)
            norm.running_mean.mul_(1 - factor).add_(mean, alpha=factor)
            norm.running_var.mul_(1 - factor).add_(var * (count / (count - 1)), alpha=factor)
    return out
