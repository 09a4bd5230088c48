"""Multiply-accumulates and parameters, counted by ``mmengine.analysis`` on the built model (the one place that sets
up its ``FlopAnalyzer``); :mod:`mmdet_scalenet.costs` computes the same for ScaleNet analytically."""
from dataclasses import dataclass
from typing import Dict

import torch
from mmengine.analysis import FlopAnalyzer

__all__ = ['Complexity', 'classifier_complexity', 'count_macs']


def count_macs(model: torch.nn.Module, *inputs) -> Dict[str, int]:
    """Multiply-accumulates of ``model(*inputs)`` by operator (``'conv'``, ``'linear'``, ...), as traced."""
    analyzer = FlopAnalyzer(model, inputs)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    return dict(analyzer.by_operator())


@dataclass(frozen=True)
class Complexity:
    """Counts for a backbone plus a ``num_classes``-way fc on global-average-pooled features.

    Attributes:
        conv_macs: multiply-accumulates of every convolution (the paper's "FLOPs"), fc included.
        other_macs: what mmengine counts besides convs and fc (norms, upsampling).
        params: learnable parameters, fc included.
    """
    conv_macs: int
    other_macs: int
    params: int

    @property
    def total_macs(self) -> int:
        return self.conv_macs + self.other_macs


def classifier_complexity(backbone: torch.nn.Module, size: int = 224, num_classes: int = 1000) -> Complexity:
    """Count ``backbone`` (in eval mode, on a ``size`` x ``size`` input) plus a ``num_classes``-way fc."""
    was_training = backbone.training
    backbone.eval()
    try:
        by_operator = count_macs(backbone, torch.zeros(1, 3, size, size))
    finally:
        backbone.train(was_training)
    fc_macs = backbone.feat_dim * num_classes
    conv = by_operator.get('conv', 0)
    params = sum(p.numel() for p in backbone.parameters()) + fc_macs + num_classes
    return Complexity(conv_macs=conv + fc_macs, other_macs=sum(by_operator.values()) - conv, params=params)
