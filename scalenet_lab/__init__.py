"""Measuring ScaleNet: complexity counts (:mod:`.complexity`), the speed benchmark against ResNet
(:mod:`.benchmark`), and pictures of structures (:mod:`.plot`)."""
from .complexity import Complexity, classifier_complexity, count_macs

__all__ = ['Complexity', 'classifier_complexity', 'count_macs']
