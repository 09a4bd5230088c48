from .synthetic_shapes import CLASSES, make_synthetic_shapes

__all__ = ['CLASSES', 'make_synthetic_shapes']
