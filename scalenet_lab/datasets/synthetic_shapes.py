"""A small synthetic COCO-format detection data set: filled shapes of several classes, at widely varying scales, on
cluttered backgrounds. Deterministic from a seed; written as real JPEG files and COCO JSON, so that mmdet's
``CocoDataset`` and pycocotools' evaluation run on it unchanged."""
import json
import math
import os
from typing import Dict, List, Tuple

import cv2
import numpy as np

from mmdet_scalenet.utils.fileio import write_folder_atomically

from .drawing import background, check_int, check_sides, contrasting_color, shape_mask

__all__ = ['CLASSES', 'MARKER', 'make_synthetic_shapes']

CLASSES = ('circle', 'square', 'triangle', 'star')
# written into every data set's root, with the generation parameters: only folders holding it are ever replaced
MARKER = 'synthetic_shapes.json'


def _draw_image(rng: np.random.Generator, size: int, max_objects: int, min_side: int, max_side: int):
    image = background(rng, size)
    objects: List[Tuple[int, List[float], int]] = []
    occupied = np.zeros((size, size), bool)
    for _ in range(rng.integers(1, max_objects + 1)):
        for _attempt in range(20):
            side = math.exp(rng.uniform(math.log(min_side), math.log(max_side)))  # log-uniform: all scales
            r = side / 2
            cx, cy = rng.uniform(r, size - r, 2)
            label = int(rng.integers(len(CLASSES)))
            angle = 0.0 if CLASSES[label] == 'circle' else rng.uniform(-0.3, 0.3)  # (draws as it always has)
            mask = shape_mask(CLASSES[label], size, cx, cy, r, angle)
            if mask.sum() < 16 or (mask & occupied).sum() > 0:
                continue
            ys, xs = np.nonzero(mask)
            x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
            # keep a margin around each object so boxes do not touch
            occupied[max(0, y0 - 2):y1 + 2, max(0, x0 - 2):x1 + 2] = True
            image[mask] = contrasting_color(rng, image[mask])
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
    check_int('num_train', num_train, 1)
    check_int('num_val', num_val, 1)
    check_int('max_objects', max_objects, 1)
    check_int('image_size', image_size, 4)
    check_sides(image_size, min_side, max_side)

    def write(root: str) -> dict:
        rng = np.random.default_rng(seed)
        draw = dict(max_objects=max_objects, min_side=min_side, max_side=max_side)
        os.makedirs(os.path.join(root, 'annotations'))
        train = _write_split(rng, root, 'train', num_train, 1, 1, image_size, **draw)
        val = _write_split(rng, root, 'val', num_val, num_train + 1, len(train['annotations']) + 1, image_size,
                           **draw)
        for name, data in (('train', train), ('val', val)):
            with open(os.path.join(root, 'annotations', f'{name}.json'), 'w') as f:
                json.dump(data, f)
        return dict(generator='scalenet_lab.datasets.make_synthetic_shapes', num_train=num_train, num_val=num_val,
                    image_size=image_size, max_objects=max_objects, min_side=min_side, max_side=max_side, seed=seed,
                    classes=list(CLASSES))

    write_folder_atomically(out_dir, MARKER, overwrite, write, 'synthetic shapes')
    return {split: os.path.join(out_dir, 'annotations', f'{split}.json') for split in ('train', 'val')}
