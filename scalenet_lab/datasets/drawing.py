"""What the synthetic data sets draw with: shapes (as polygons or masks), cluttered backgrounds, colours that stand
out from them, PNG files; and the argument check their generators share."""
import math
import numbers
from typing import Tuple

import cv2
import numpy as np

__all__ = ['background', 'check_int', 'check_sides', 'contrasting_color', 'polygon', 'shape_mask', 'write_png']


def polygon(kind: str, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    """The vertices of a ``kind`` (square, triangle or star) of radius ``r`` at ``(cx, cy)``, turned by
    ``angle``, in cv2's 4-bit fixed point."""
    if kind == 'square':
        corners = [angle + math.pi / 4 + k * math.pi / 2 for k in range(4)]
        radii = [r] * 4
    elif kind == 'triangle':
        corners = [angle - math.pi / 2 + k * 2 * math.pi / 3 for k in range(3)]
        radii = [r] * 3
    elif kind == 'star':
        corners = [angle - math.pi / 2 + k * math.pi / 5 for k in range(10)]
        radii = [r if k % 2 == 0 else 0.45 * r for k in range(10)]
    else:
        raise ValueError(kind)
    points = [(cx + rad * math.cos(a), cy + rad * math.sin(a)) for a, rad in zip(corners, radii)]
    return np.round(np.array(points) * 16).astype(np.int32)  # 4 fractional bits for cv2's shift=4


def background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth colour gradient with thin random lines, small specks and noise: clutter that is not a shape."""
    base = rng.uniform(40, 215, size=3)
    tilt = rng.uniform(-60, 60, size=3)
    ramp = np.linspace(-0.5, 0.5, size)[None, :, None]
    if rng.random() < 0.5:
        ramp = ramp.transpose(1, 0, 2)
    image = np.clip(base + tilt * ramp + np.zeros((size, size, 3)), 0, 255).astype(np.uint8)
    for _ in range(rng.integers(3, 9)):
        p1, p2 = rng.integers(0, size, 2), rng.integers(0, size, 2)
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.line(image, tuple(int(v) for v in p1), tuple(int(v) for v in p2), color, 1, cv2.LINE_AA)
    for _ in range(rng.integers(10, 30)):
        p = tuple(int(v) for v in rng.integers(0, size, 2))
        cv2.circle(image, p, 1, tuple(int(c) for c in rng.integers(0, 256, 3)), -1)
    noise = rng.normal(0, 6, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def contrasting_color(rng: np.random.Generator, background: np.ndarray) -> Tuple[int, int, int]:
    """A colour far (L1 > 150) from the mean of ``background``: the shape stands out."""
    mean = background.reshape(-1, 3).mean(0)
    for _ in range(50):
        color = rng.integers(0, 256, 3)
        if np.abs(color - mean).sum() > 150:
            break
    return tuple(int(c) for c in color)


def shape_mask(kind: str, size: int, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    """A ``size`` x ``size`` boolean mask of a filled ``kind`` (one of :data:`CLASSES`) of radius ``r``."""
    mask = np.zeros((size, size), np.uint8)
    if kind == 'circle':
        cv2.circle(mask, (int(round(cx * 16)), int(round(cy * 16))), int(round(r * 16)), 1, -1, cv2.LINE_8, 4)
    else:
        cv2.fillPoly(mask, [polygon(kind, cx, cy, r, angle)], 1, cv2.LINE_8, 4)
    return mask.astype(bool)


def write_png(path: str, image: np.ndarray) -> None:
    """Write ``image`` (BGR) as a PNG; a failed write is an error, not a silent ``False``."""
    if not cv2.imwrite(path, image):
        raise OSError(f'could not write {path}')


def check_int(name: str, value, low: int, high: float = math.inf, expected: str = '') -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is an integer in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
        raise ValueError(f'{name}: expected {expected or f"an integer >= {low}"}, got {value!r}')


def check_sides(image_size: int, min_side: int, max_side: int) -> None:
    """The shapes' side range: ``4 <= min_side <= max_side <= image_size``, each named in the error."""
    check_int('min_side', min_side, 4, image_size, f'an integer in [4, image_size={image_size}]')
    check_int('max_side', max_side, min_side, image_size,
              f'an integer in [min_side={min_side}, image_size={image_size}]')
