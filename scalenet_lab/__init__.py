"""The lab beside the ``mmdet_scalenet`` library: what the tools in ``tools/`` share and the project's own studies.

It imports the library, never the reverse. Studies (:mod:`.allocation_study`, :mod:`.detection_study`), the speed
benchmark against ResNet (:mod:`.benchmark`), complexity counts (:mod:`.complexity`), synthetic data sets
(:mod:`.datasets`), pictures (:mod:`.plot`, :mod:`.detections`), the demo's steps (:mod:`.demo`), and the tools'
command-line plumbing (:mod:`.cli`, :mod:`.argtypes`, :mod:`.run_checks`, :mod:`.run_options`, :mod:`.export`).
"""
from .complexity import Complexity, classifier_complexity, count_macs

__all__ = ['Complexity', 'classifier_complexity', 'count_macs']
