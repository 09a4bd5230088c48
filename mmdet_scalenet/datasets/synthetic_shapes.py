"""A small synthetic COCO-format detection data set: filled shapes of several classes, at widely varying scales, on
cluttered backgrounds. Deterministic from a seed; written as real JPEG files and COCO JSON, so that mmdet's
``CocoDataset`` and pycocotools' evaluation run on it unchanged."""
import json
import math
import numbers
import os
import shutil
import tempfile
from typing import Dict, List, Tuple

import cv2
import numpy as np

__all__ = ['CLASSES', 'MARKER', 'make_synthetic_shapes']

CLASSES = ('circle', 'square', 'triangle', 'star')
# written into every data set's root, with the generation parameters: only folders holding it are ever replaced
MARKER = 'synthetic_shapes.json'


def _polygon(kind: str, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
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


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
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


def _contrasting_color(rng: np.random.Generator, background: np.ndarray) -> Tuple[int, int, int]:
    mean = background.reshape(-1, 3).mean(0)
    for _ in range(50):
        color = rng.integers(0, 256, 3)
        if np.abs(color - mean).sum() > 150:
            break
    return tuple(int(c) for c in color)


def _draw_image(rng: np.random.Generator, size: int, max_objects: int, min_side: int, max_side: int):
    image = _background(rng, size)
    objects: List[Tuple[int, List[float], int]] = []
    occupied = np.zeros((size, size), bool)
    for _ in range(rng.integers(1, max_objects + 1)):
        for _attempt in range(20):
            side = math.exp(rng.uniform(math.log(min_side), math.log(max_side)))  # log-uniform: all scales
            r = side / 2
            cx, cy = rng.uniform(r, size - r, 2)
            label = int(rng.integers(len(CLASSES)))
            mask = np.zeros((size, size), np.uint8)
            if CLASSES[label] == 'circle':
                cv2.circle(mask, (int(round(cx * 16)), int(round(cy * 16))), int(round(r * 16)), 1, -1,
                           cv2.LINE_8, 4)
            else:
                cv2.fillPoly(mask, [_polygon(CLASSES[label], cx, cy, r, rng.uniform(-0.3, 0.3))], 1, cv2.LINE_8, 4)
            mask = mask.astype(bool)
            if mask.sum() < 16 or (mask & occupied).sum() > 0:
                continue
            ys, xs = np.nonzero(mask)
            x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
            # keep a margin around each object so boxes do not touch
            occupied[max(0, y0 - 2):y1 + 2, max(0, x0 - 2):x1 + 2] = True
            image[mask] = _contrasting_color(rng, image[mask])
            objects.append((label, [float(x0), float(y0), float(x1 - x0), float(y1 - y0)], int(mask.sum())))
            break
    return image, objects


def _write_split(rng, root: str, split: str, count: int, first_image_id: int, first_ann_id: int, size: int,
                 **draw) -> Dict:
    os.makedirs(os.path.join(root, split))
    images, annotations = [], []
    ann_id = first_ann_id
    for i in range(count):
        image, objects = _draw_image(rng, size, **draw)
        image_id = first_image_id + i
        file_name = f'{image_id:06d}.jpg'
        if not cv2.imwrite(os.path.join(root, split, file_name), image, [cv2.IMWRITE_JPEG_QUALITY, 95]):
            raise OSError(f'could not write {os.path.join(root, split, file_name)}')
        images.append(dict(id=image_id, file_name=file_name, width=size, height=size))
        for label, bbox, area in objects:
            annotations.append(dict(id=ann_id, image_id=image_id, category_id=label + 1, bbox=bbox, area=area,
                                    iscrowd=0))
            ann_id += 1
    categories = [dict(id=i + 1, name=name, supercategory='shape') for i, name in enumerate(CLASSES)]
    return dict(images=images, annotations=annotations, categories=categories)


def _check_int(name: str, value, low: int, high: float = math.inf, expected: str = '') -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
        raise ValueError(f'{name}: expected {expected or f"an integer >= {low}"}, got {value!r}')


def _replaceable(path: str) -> bool:
    """Whether ``path`` may be replaced: an empty folder, or one that make_synthetic_shapes wrote."""
    return os.path.isdir(path) and (not os.listdir(path) or os.path.isfile(os.path.join(path, MARKER)))


def make_synthetic_shapes(out_dir: str, num_train: int = 600, num_val: int = 100, image_size: int = 128,
                          max_objects: int = 4, min_side: int = 8, max_side: int = 64, seed: int = 0,
                          overwrite: bool = False) -> Dict[str, str]:
    """Write the data set to ``out_dir``: ``train/``, ``val/`` JPEGs, ``annotations/{train,val}.json`` and the
    generation parameters in :data:`MARKER`.

    An existing ``out_dir`` is replaced only with ``overwrite=True``, and only if it is empty or holds
    :data:`MARKER` (written by this function): any other folder is left alone (``FileExistsError``). The folder
    is built in a temporary sibling and renamed into place, so an interrupted run leaves nothing half-written.
    Returns the paths of the two annotation files.
    """
    out_dir = os.path.abspath(out_dir)
    _check_int('num_train', num_train, 1)
    _check_int('num_val', num_val, 1)
    _check_int('max_objects', max_objects, 1)
    _check_int('image_size', image_size, 4)
    _check_int('min_side', min_side, 4, image_size, f'an integer in [4, image_size={image_size}]')
    _check_int('max_side', max_side, min_side, image_size,
               f'an integer in [min_side={min_side}, image_size={image_size}]')
    if os.path.lexists(out_dir):
        if not overwrite:
            raise FileExistsError(f'{out_dir}: exists; pass overwrite=True to replace it')
        if not _replaceable(out_dir):
            raise FileExistsError(f'{out_dir}: exists and does not look like a synthetic shapes data set (not an '
                                  f'empty folder, no {MARKER}), so it is left alone; remove it yourself or choose '
                                  f'another folder')
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='.' + os.path.basename(out_dir) + '.', dir=parent)
    try:
        rng = np.random.default_rng(seed)
        draw = dict(max_objects=max_objects, min_side=min_side, max_side=max_side)
        os.makedirs(os.path.join(tmp, 'annotations'))
        train = _write_split(rng, tmp, 'train', num_train, 1, 1, image_size, **draw)
        val = _write_split(rng, tmp, 'val', num_val, num_train + 1, len(train['annotations']) + 1, image_size, **draw)
        for name, data in (('train', train), ('val', val)):
            with open(os.path.join(tmp, 'annotations', f'{name}.json'), 'w') as f:
                json.dump(data, f)
        with open(os.path.join(tmp, MARKER), 'w') as f:
            json.dump(dict(generator='mmdet_scalenet.datasets.make_synthetic_shapes', num_train=num_train,
                           num_val=num_val, image_size=image_size, max_objects=max_objects, min_side=min_side,
                           max_side=max_side, seed=seed, classes=list(CLASSES)), f, indent=1)
        if os.path.exists(out_dir):
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {split: os.path.join(out_dir, 'annotations', f'{split}.json') for split in ('train', 'val')}
