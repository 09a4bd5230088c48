"""A small synthetic COCO-format detection data set: filled shapes of several classes, at widely varying scales, on
cluttered backgrounds. Deterministic from a seed; written as real JPEG files and COCO JSON, so that mmdet's
``CocoDataset`` and pycocotools' evaluation run on it unchanged.

Object sizes are drawn log-uniform in side (the default), or balanced over COCO's size classes (``sizes=
'coco-balanced'``): small, medium and large, as pycocotools' ``COCOeval`` classifies boxes by area (below 32**2,
below 96**2, above; :data:`COCO_AREA_LIMITS`), in equal shares. With ``store_scale=k`` every image is drawn at
``image_size`` and stored ``k`` times larger (nearest neighbour: each drawn pixel a ``k`` x ``k`` block), boxes and
areas in stored pixels. A pipeline ``Resize`` back to ``image_size`` gives the drawn image again (cv2's bilinear
downscale by an integer factor reads within the blocks), while mmdet's ``CocoMetric``, whose area limits are fixed
in pixels, evaluates on the stored frame: its limits fall at ``(32 / k)**2`` and ``(96 / k)**2`` pixels of the
drawn image, COCO's limits scaled by the drawn side over COCO's (``k`` = 640 / ``image_size`` for COCO's 640-pixel
images).
"""
import functools
import json
import math
import os
from typing import Dict, List, Tuple

import cv2
import numpy as np

from mmdet_scalenet.utils.fileio import write_folder_atomically

from .drawing import background, check_int, check_sides, contrasting_color, shape_mask

__all__ = ['CLASSES', 'COCO_AREA_LIMITS', 'MARKER', 'SIZE_CLASSES', 'SIZES', 'coco_size_class', 'make_synthetic_shapes',
           'size_class_limits']

CLASSES = ('circle', 'square', 'triangle', 'star')
# written into every data set's root, with the generation parameters: only folders holding it are ever replaced
MARKER = 'synthetic_shapes.json'
#: How object sizes are drawn (see the module docstring).
SIZES = ('log-uniform', 'coco-balanced')
#: COCO's size classes, as ``COCOeval`` names them.
SIZE_CLASSES = ('small', 'medium', 'large')
#: COCO's area limits between them, in pixels (pycocotools' ``Params.areaRng``): small up to 32**2, medium up to
#: 96**2, large above (an area at a limit, which ``COCOeval`` counts in both, is put in the lower class here).
COCO_AREA_LIMITS = (32**2, 96**2)


def size_class_limits(store_scale: int = 1) -> Tuple[float, float]:
    """COCO's area limits (small/medium, medium/large) in pixels of an image drawn to be stored ``store_scale``
    times larger: ``(32 / k)**2, (96 / k)**2``."""
    return tuple(limit / store_scale**2 for limit in COCO_AREA_LIMITS)


def coco_size_class(area: float) -> str:
    """The COCO size class of an annotation's ``area`` (stored pixels), as ``COCOeval`` assigns it."""
    return SIZE_CLASSES[_size_class_of(area, COCO_AREA_LIMITS)]


def _size_class_of(area: float, limits: Tuple[float, float]) -> int:
    return sum(area > limit for limit in limits)


@functools.lru_cache(maxsize=None)
def _fill(kind: str) -> float:
    """The area of a ``kind`` over its side squared (side = twice the radius :func:`shape_mask` takes)."""
    return float(shape_mask(kind, 512, 256.0, 256.0, 200.0, 0.0).sum()) / 400.0**2


def _area_range(kind: str, size_class: int, limits: Tuple[float, float], min_side: int, max_side: int):
    """The areas a ``kind`` of side in ``[min_side, max_side]`` can have within size class ``size_class``."""
    bounds = (0.0, *limits, math.inf)
    fill = _fill(kind)
    return max(bounds[size_class], fill * min_side**2), min(bounds[size_class + 1], fill * max_side**2)


def _check_balanced(limits: Tuple[float, float], min_side: int, max_side: int) -> None:
    """Every shape must be able to fall in every size class within ``[min_side, max_side]``."""
    for kind in CLASSES:
        for size_class, name in enumerate(SIZE_CLASSES):
            low, high = _area_range(kind, size_class, limits, min_side, max_side)
            if low >= high:
                raise ValueError(
                    f'sizes=\'coco-balanced\': no {kind} of side in [min_side={min_side}, max_side={max_side}] is '
                    f'{name} (area limits {limits[0]:.1f} and {limits[1]:.1f} drawn pixels; a {kind} of side s has '
                    f'area {_fill(kind):.3f} s^2): widen the side range')


def _draw_image(rng: np.random.Generator, size: int, max_objects: int, min_side: int, max_side: int,
                sizes: str = 'log-uniform', limits: Tuple[float, float] = COCO_AREA_LIMITS):
    image = background(rng, size)
    objects: List[Tuple[int, List[float], int]] = []
    occupied = np.zeros((size, size), bool)
    count = rng.integers(1, max_objects + 1)
    # 'coco-balanced': each object's size class in equal shares, kept through its placement attempts (so that
    # crowding does not thin out the large ones), the large placed first
    size_classes = sorted(rng.integers(len(SIZE_CLASSES), size=count), reverse=True) if sizes == 'coco-balanced' \
        else [None] * count
    for size_class in size_classes:
        for _attempt in range(20):
            if size_class is None:
                side = math.exp(rng.uniform(math.log(min_side), math.log(max_side)))  # log-uniform: all scales
                r = side / 2
                cx, cy = rng.uniform(r, size - r, 2)
                label = int(rng.integers(len(CLASSES)))
            else:  # an area log-uniform within the size class
                label = int(rng.integers(len(CLASSES)))
                low, high = _area_range(CLASSES[label], int(size_class), limits, min_side, max_side)
                side = math.sqrt(math.exp(rng.uniform(math.log(low), math.log(high))) / _fill(CLASSES[label]))
                r = side / 2
                cx, cy = rng.uniform(r, size - r, 2)
            angle = 0.0 if CLASSES[label] == 'circle' else rng.uniform(-0.3, 0.3)  # (draws as it always has)
            mask = shape_mask(CLASSES[label], size, cx, cy, r, angle)
            if mask.sum() < 16 or (mask & occupied).sum() > 0:
                continue
            if size_class is not None and _size_class_of(mask.sum(), limits) != size_class:
                continue  # rasterised, a small shape can come out larger than its area asked
            ys, xs = np.nonzero(mask)
            x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
            # keep a margin around each object so boxes do not touch
            occupied[max(0, y0 - 2):y1 + 2, max(0, x0 - 2):x1 + 2] = True
            image[mask] = contrasting_color(rng, image[mask])
            objects.append((label, [float(x0), float(y0), float(x1 - x0), float(y1 - y0)], int(mask.sum())))
            break
    return image, objects


def _write_split(rng, root: str, split: str, count: int, first_image_id: int, first_ann_id: int, size: int,
                 store_scale: int = 1, **draw) -> Dict:
    os.makedirs(os.path.join(root, split))
    images, annotations = [], []
    ann_id = first_ann_id
    k = store_scale
    for i in range(count):
        image, objects = _draw_image(rng, size, **draw)
        if k > 1:
            image = np.repeat(np.repeat(image, k, axis=0), k, axis=1)  # nearest neighbour: k x k blocks
        image_id = first_image_id + i
        file_name = f'{image_id:06d}.jpg'
        if not cv2.imwrite(os.path.join(root, split, file_name), image, [cv2.IMWRITE_JPEG_QUALITY, 95]):
            raise OSError(f'could not write {os.path.join(root, split, file_name)}')
        images.append(dict(id=image_id, file_name=file_name, width=size * k, height=size * k))
        for label, bbox, area in objects:
            annotations.append(dict(id=ann_id, image_id=image_id, category_id=label + 1,
                                    bbox=[v * k for v in bbox] if k > 1 else bbox, area=area * k * k, iscrowd=0))
            ann_id += 1
    categories = [dict(id=i + 1, name=name, supercategory='shape') for i, name in enumerate(CLASSES)]
    return dict(images=images, annotations=annotations, categories=categories)


def make_synthetic_shapes(out_dir: str, num_train: int = 600, num_val: int = 100, image_size: int = 128,
                          max_objects: int = 4, min_side: int = 8, max_side: int = 64, seed: int = 0,
                          overwrite: bool = False, sizes: str = 'log-uniform',
                          store_scale: int = 1) -> Dict[str, str]:
    """Write the data set to ``out_dir``: ``train/``, ``val/`` JPEGs, ``annotations/{train,val}.json`` and the
    generation parameters in :data:`MARKER`.

    Each image holds 1 to ``max_objects`` shapes that do not overlap, of side (twice the radius) in ``[min_side,
    max_side]`` drawn pixels, their sizes drawn as ``sizes`` says (one of :data:`SIZES`); ``store_scale`` is the
    integer factor the images are stored larger by (module docstring). ``'coco-balanced'`` needs every shape to be
    able to fall in every size class within the side range.

    An existing ``out_dir`` is replaced only with ``overwrite=True``, and only if it is empty or holds
    :data:`MARKER` (written by this function): any other folder is left alone (``FileExistsError``). The folder
    is built in a temporary sibling and renamed into place, so an interrupted run leaves nothing half-written.
    Returns the paths of the two annotation files.
    """
    out_dir = os.path.abspath(out_dir)
    check_int('num_train', num_train, 1)
    check_int('num_val', num_val, 1)
    check_int('max_objects', max_objects, 1)
    check_int('image_size', image_size, 4)
    check_sides(image_size, min_side, max_side)
    check_int('store_scale', store_scale, 1)
    if sizes not in SIZES:
        raise ValueError(f'sizes: expected one of {list(SIZES)}, got {sizes!r}')
    limits = size_class_limits(store_scale)
    if sizes == 'coco-balanced':
        _check_balanced(limits, min_side, max_side)

    def write(root: str) -> dict:
        rng = np.random.default_rng(seed)
        draw = dict(max_objects=max_objects, min_side=min_side, max_side=max_side, sizes=sizes, limits=limits,
                    store_scale=store_scale)
        os.makedirs(os.path.join(root, 'annotations'))
        train = _write_split(rng, root, 'train', num_train, 1, 1, image_size, **draw)
        val = _write_split(rng, root, 'val', num_val, num_train + 1, len(train['annotations']) + 1, image_size,
                           **draw)
        for name, data in (('train', train), ('val', val)):
            with open(os.path.join(root, 'annotations', f'{name}.json'), 'w') as f:
                json.dump(data, f)
        return dict(generator='scalenet_lab.datasets.make_synthetic_shapes', num_train=num_train, num_val=num_val,
                    image_size=image_size, max_objects=max_objects, min_side=min_side, max_side=max_side, seed=seed,
                    classes=list(CLASSES), sizes=sizes, store_scale=store_scale)

    write_folder_atomically(out_dir, MARKER, overwrite, write, 'synthetic shapes')
    return {split: os.path.join(out_dir, 'annotations', f'{split}.json') for split in ('train', 'val')}
