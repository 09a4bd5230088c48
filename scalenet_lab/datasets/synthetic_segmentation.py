"""A small synthetic semantic-segmentation data set: filled shapes (circle, square, star, triangle) of widely varying
sizes on cluttered backgrounds, labelled per pixel. Deterministic from a seed; written as real PNG files in
mmseg's custom-dataset layout, so that mmseg's ``BaseSegDataset`` reads it and its ``IoUMetric`` evaluates on it.

Layout (``root`` = ``out_dir``)::

    root/img_dir/{train,val}/<n>.png     RGB images (stored BGR, as OpenCV writes them)
    root/ann_dir/{train,val}/<n>.png     8-bit label maps: 0 background, 1-4 the shapes, 255 ignore
    root/synthetic_segmentation.json     the generation parameters (MARKER)

The one-pixel inner rim of every shape is labelled 255 (ignored by the loss and the metric), as the object
boundaries of PASCAL VOC's masks are.
"""
import os
from typing import Dict

import cv2
import numpy as np

from mmdet_scalenet.utils.fileio import write_folder_atomically

from .drawing import background, check_int, check_sides, contrasting_color, shape_mask, write_png

__all__ = ['CLASSES', 'IGNORE_INDEX', 'MARKER', 'PALETTE', 'make_synthetic_segmentation']

#: Label ``i`` is ``CLASSES[i]``.
CLASSES = ('background', 'circle', 'square', 'star', 'triangle')
#: One colour per class, for mmseg's visualiser.
PALETTE = ((0, 0, 0), (220, 20, 60), (0, 128, 255), (255, 200, 0), (60, 180, 75))
#: The label of pixels that neither the loss nor the metric counts (mmseg's default ``ignore_index``).
IGNORE_INDEX = 255
#: Written into every data set's root, with the generation parameters: only folders holding it are ever replaced.
MARKER = 'synthetic_segmentation.json'

_RIM = np.ones((3, 3), np.uint8)


def _draw(rng: np.random.Generator, size: int, max_objects: int, min_side: int, max_side: int):
    image = background(rng, size)
    labels = np.zeros((size, size), np.uint8)
    for _ in range(rng.integers(1, max_objects + 1)):
        side = np.exp(rng.uniform(np.log(min_side), np.log(max_side)))  # log-uniform: all scales
        r = side / 2
        cx, cy = rng.uniform(r, size - r, 2)
        label = int(rng.integers(1, len(CLASSES)))
        mask = shape_mask(CLASSES[label], size, cx, cy, r, rng.uniform(-0.3, 0.3))
        if not mask.any():
            continue
        image[mask] = contrasting_color(rng, image[mask])
        labels[mask] = label
        labels[mask & ~cv2.erode(mask.astype(np.uint8), _RIM).astype(bool)] = IGNORE_INDEX
    return image, labels


def make_synthetic_segmentation(out_dir: str, num_train: int = 16, num_val: int = 8, image_size: int = 64,
                                max_objects: int = 3, min_side: int = 12, max_side: int = 48, seed: int = 0,
                                overwrite: bool = False) -> Dict[str, str]:
    """Write the data set to ``out_dir`` (layout in the module docstring); return the image and label folders
    (``img_dir``, ``ann_dir``), whose ``train``/``val`` subfolders hold the splits.

    Every image has 1 to ``max_objects`` shapes with sides between ``min_side`` and ``max_side`` pixels (later
    shapes drawn over earlier ones). ``overwrite`` replaces only an empty folder or an earlier data set of this
    function (:data:`MARKER`), atomically; anything else is left alone (``FileExistsError``).
    """
    out_dir = os.path.abspath(out_dir)
    check_int('num_train', num_train, 1)
    check_int('num_val', num_val, 1)
    check_int('image_size', image_size, 16)
    check_int('max_objects', max_objects, 1)
    check_sides(image_size, min_side, max_side)
    check_int('seed', seed, 0)

    def write(root: str) -> dict:
        rng = np.random.default_rng(seed)
        for split, count in (('train', num_train), ('val', num_val)):
            os.makedirs(os.path.join(root, 'img_dir', split))
            os.makedirs(os.path.join(root, 'ann_dir', split))
            for i in range(count):
                image, labels = _draw(rng, image_size, max_objects, min_side, max_side)
                write_png(os.path.join(root, 'img_dir', split, f'{i:06d}.png'), image)
                write_png(os.path.join(root, 'ann_dir', split, f'{i:06d}.png'), labels)
        return dict(generator='scalenet_lab.datasets.make_synthetic_segmentation', num_train=num_train,
                    num_val=num_val, image_size=image_size, max_objects=max_objects, min_side=min_side,
                    max_side=max_side, seed=seed, classes=list(CLASSES), ignore_index=IGNORE_INDEX)

    write_folder_atomically(out_dir, MARKER, overwrite, write, 'synthetic segmentation')
    return {name: os.path.join(out_dir, name) for name in ('img_dir', 'ann_dir')}
