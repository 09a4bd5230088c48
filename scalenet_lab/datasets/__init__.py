"""Synthetic data sets for demos and tests, deterministic from a seed: detection (COCO format), classification
(ImageNet layout) and semantic segmentation (mmseg's custom layout)."""
from .synthetic_classification import make_synthetic_classification
from .synthetic_segmentation import make_synthetic_segmentation
from .synthetic_shapes import CLASSES, MARKER, make_synthetic_shapes

__all__ = ['CLASSES', 'MARKER', 'make_synthetic_classification', 'make_synthetic_segmentation',
           'make_synthetic_shapes']
