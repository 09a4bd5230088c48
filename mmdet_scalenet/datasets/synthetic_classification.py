"""A small synthetic image-classification data set in ImageNet's layout: one filled shape per image (circle, square,
star or triangle: the class) at a random size, position, angle and colour on a cluttered background. Deterministic
from a seed; written as real PNG files, so that mmpretrain's ``ImageNet`` and ``CustomDataset`` read it unchanged
and its ``Accuracy`` metric evaluates on it.

Layout (``root`` = ``out_dir``)::

    root/train/<class>/<n>.png        root/val/<class>/<n>.png
    root/meta/train.txt               root/meta/val.txt          lines '<class>/<n>.png <label>'
    root/synthetic_classification.json                           the generation parameters (MARKER)

``ImageNet(data_root=root, split='val')`` reads ``meta/val.txt`` (labels 0-3 of its 1000 classes), so an ImageNet
config runs on it with ``--data-root root``; ``CustomDataset(data_root=root, data_prefix='train')`` finds the
classes from the folders, in the same (sorted) order.
"""
import json
import os
import shutil
import tempfile
from typing import Callable, Dict

import cv2
import numpy as np

from .synthetic_shapes import _background, _check_int, _contrasting_color, _polygon

__all__ = ['CLASSES', 'MARKER', 'make_synthetic_classification']

#: The classes, sorted: their folder order is their label order.
CLASSES = ('circle', 'square', 'star', 'triangle')
#: Written into every data set's root, with the generation parameters: only folders holding it are ever replaced.
MARKER = 'synthetic_classification.json'


def shape_mask(kind: str, size: int, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    """A ``size`` x ``size`` boolean mask of a filled ``kind`` (one of :data:`CLASSES`) of radius ``r``."""
    mask = np.zeros((size, size), np.uint8)
    if kind == 'circle':
        cv2.circle(mask, (int(round(cx * 16)), int(round(cy * 16))), int(round(r * 16)), 1, -1, cv2.LINE_8, 4)
    else:
        cv2.fillPoly(mask, [_polygon(kind, cx, cy, r, angle)], 1, cv2.LINE_8, 4)
    return mask.astype(bool)


def write_marked_folder(out_dir: str, marker: str, overwrite: bool, write: Callable[[str], dict],
                        what: str) -> None:
    """Build a data set folder with ``write(tmp)`` (which returns the generation parameters, saved as ``marker``)
    in a temporary sibling of ``out_dir``, then rename it into place: an interrupted run leaves nothing half-written.

    An existing ``out_dir`` is replaced only with ``overwrite=True``, and only if it is empty or holds ``marker``
    (an earlier data set of the same generator): any other folder is left alone (``FileExistsError``).
    """
    if os.path.lexists(out_dir):
        if not overwrite:
            raise FileExistsError(f'{out_dir}: exists; pass overwrite=True to replace it')
        replaceable = os.path.isdir(out_dir) and (not os.listdir(out_dir)
                                                  or os.path.isfile(os.path.join(out_dir, marker)))
        if not replaceable:
            raise FileExistsError(f'{out_dir}: exists and does not look like a {what} data set (not an empty '
                                  f'folder, no {marker}), so it is left alone; remove it yourself or choose another '
                                  f'folder')
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='.' + os.path.basename(out_dir) + '.', dir=parent)
    try:
        params = write(tmp)
        with open(os.path.join(tmp, marker), 'w') as f:
            json.dump(params, f, indent=1)
        if os.path.exists(out_dir):
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_png(path: str, image: np.ndarray) -> None:
    if not cv2.imwrite(path, image):
        raise OSError(f'could not write {path}')


def _draw(rng: np.random.Generator, size: int, label: int) -> np.ndarray:
    image = _background(rng, size)
    side = rng.uniform(0.4, 0.9) * size
    r = side / 2
    cx, cy = rng.uniform(r, size - r, 2)
    mask = shape_mask(CLASSES[label], size, cx, cy, r, rng.uniform(-0.3, 0.3))
    image[mask] = _contrasting_color(rng, image[mask])
    return image


def make_synthetic_classification(out_dir: str, num_train: int = 64, num_val: int = 16, image_size: int = 64,
                                  seed: int = 0, overwrite: bool = False) -> Dict[str, str]:
    """Write the data set to ``out_dir`` (layout in the module docstring); return the paths of the two label files.

    Images are balanced over the classes (image ``i`` of a split has label ``i % 4``), so each split needs at
    least one image per class. ``overwrite`` replaces only an empty folder or an earlier data set of this function
    (:data:`MARKER`), atomically; anything else is left alone (``FileExistsError``).
    """
    out_dir = os.path.abspath(out_dir)
    _check_int('num_train', num_train, len(CLASSES), expected=f'an integer >= {len(CLASSES)} (one image per class)')
    _check_int('num_val', num_val, len(CLASSES), expected=f'an integer >= {len(CLASSES)} (one image per class)')
    _check_int('image_size', image_size, 16)
    _check_int('seed', seed, 0)

    def write(root: str) -> dict:
        rng = np.random.default_rng(seed)
        os.makedirs(os.path.join(root, 'meta'))
        for split, count in (('train', num_train), ('val', num_val)):
            for name in CLASSES:
                os.makedirs(os.path.join(root, split, name))
            lines = []
            for i in range(count):
                label = i % len(CLASSES)
                relative = f'{CLASSES[label]}/{i:06d}.png'
                write_png(os.path.join(root, split, relative), _draw(rng, image_size, label))
                lines.append(f'{relative} {label}\n')
            with open(os.path.join(root, 'meta', f'{split}.txt'), 'w') as f:
                f.writelines(lines)
        return dict(generator='mmdet_scalenet.datasets.make_synthetic_classification', num_train=num_train,
                    num_val=num_val, image_size=image_size, seed=seed, classes=list(CLASSES))

    write_marked_folder(out_dir, MARKER, overwrite, write, 'synthetic classification')
    return {split: os.path.join(out_dir, 'meta', f'{split}.txt') for split in ('train', 'val')}

