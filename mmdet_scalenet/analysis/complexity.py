"""Multiply-accumulates and parameters of a ScaleNet as an ImageNet classifier, counted by mmengine.analysis."""
from dataclasses import dataclass

import torch
from mmengine.analysis import FlopAnalyzer

__all__ = ['Complexity', 'classifier_complexity']


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
        analyzer = FlopAnalyzer(backbone, (torch.zeros(1, 3, size, size),))
        analyzer.unsupported_ops_warnings(False)
        analyzer.uncalled_modules_warnings(False)
        by_operator = analyzer.by_operator()
    finally:
        backbone.train(was_training)
    feat_dim = backbone.feat_dim
    fc_macs = feat_dim * num_classes
    conv = by_operator.get('conv', 0)
    params = sum(p.numel() for p in backbone.parameters()) + fc_macs + num_classes
    return Complexity(conv_macs=conv + fc_macs, other_macs=sum(by_operator.values()) - conv, params=params)
