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
import os
from typing import Dict, Sequence, Tuple

import numpy as np

from mmdet_scalenet.utils.fileio import write_folder_atomically

from .drawing import background, check_int, contrasting_color, shape_mask, write_png

__all__ = ['CLASSES', 'MARKER', 'make_synthetic_classification']

#: The classes, sorted: their folder order is their label order.
CLASSES = ('circle', 'square', 'star', 'triangle')
#: Written into every data set's root, with the generation parameters: only folders holding it are ever replaced.
MARKER = 'synthetic_classification.json'


def _draw(rng: np.random.Generator, size: int, label: int, object_size: Tuple[float, float]) -> np.ndarray:
    image = background(rng, size)
    side = rng.uniform(*object_size) * size
    r = side / 2
    cx, cy = rng.uniform(r, size - r, 2)
    mask = shape_mask(CLASSES[label], size, cx, cy, r, rng.uniform(-0.3, 0.3))
    image[mask] = contrasting_color(rng, image[mask])
    return image


def make_synthetic_classification(out_dir: str, num_train: int = 64, num_val: int = 16, image_size: int = 64,
                                  seed: int = 0, overwrite: bool = False,
                                  object_size: Sequence[float] = (0.4, 0.9)) -> Dict[str, str]:
    """Write the data set to ``out_dir`` (layout in the module docstring); return the paths of the two label files.

    Each shape's side is drawn uniformly in ``object_size`` (fractions of the image side, ``0 < min <= max <= 1``):
    the scale of the objects, which the allocation study varies.

    Images are balanced over the classes (image ``i`` of a split has label ``i % 4``), so each split needs at
    least one image per class. ``overwrite`` replaces only an empty folder or an earlier data set of this function
    (:data:`MARKER`), atomically; anything else is left alone (``FileExistsError``).
    """
    out_dir = os.path.abspath(out_dir)
    check_int('num_train', num_train, len(CLASSES), expected=f'an integer >= {len(CLASSES)} (one image per class)')
    check_int('num_val', num_val, len(CLASSES), expected=f'an integer >= {len(CLASSES)} (one image per class)')
    check_int('image_size', image_size, 16)
    check_int('seed', seed, 0)
    object_size = tuple(object_size)
    if len(object_size) != 2 or not all(isinstance(v, (int, float)) for v in object_size) \
            or not 0 < object_size[0] <= object_size[1] <= 1:
        raise ValueError(f'object_size: expected (min, max) fractions of the image side with 0 < min <= max <= 1, '
                         f'got {object_size!r}')

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
                write_png(os.path.join(root, split, relative), _draw(rng, image_size, label, object_size))
                lines.append(f'{relative} {label}\n')
            with open(os.path.join(root, 'meta', f'{split}.txt'), 'w') as f:
                f.writelines(lines)
        return dict(generator='scalenet_lab.datasets.make_synthetic_classification', num_train=num_train,
                    num_val=num_val, image_size=image_size, seed=seed, object_size=list(object_size),
                    classes=list(CLASSES))

    write_folder_atomically(out_dir, MARKER, overwrite, write, 'synthetic classification')
    return {split: os.path.join(out_dir, 'meta', f'{split}.txt') for split in ('train', 'val')}

