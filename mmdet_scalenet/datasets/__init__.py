from .synthetic_shapes import CLASSES, MARKER, make_synthetic_shapes

__all__ = ['CLASSES', 'MARKER', 'make_synthetic_shapes']
