"""make_synthetic_classification: ImageNet's layout, read by mmpretrain's ImageNet and CustomDataset; deterministic;
the folders it refuses to replace; its argument checks."""
import json
from unittest import mock

import cv2
import pytest
from mmengine.registry import DefaultScope

from scalenet_lab.datasets import make_synthetic_classification
from scalenet_lab.datasets.synthetic_classification import CLASSES, MARKER

TINY = dict(num_train=8, num_val=4, image_size=24)


def test_imagenet_layout_read_by_mmpretrain(tmp_path):
    from mmpretrain.registry import DATASETS
    root = tmp_path / 'cls'
    paths = make_synthetic_classification(str(root), seed=3, **TINY)
    assert list(CLASSES) == sorted(CLASSES)  # folder order is label order
    lines = open(paths['train']).read().splitlines()
    assert lines[:5] == ['circle/000000.png 0', 'square/000001.png 1', 'star/000002.png 2', 'triangle/000003.png 3',
                         'circle/000004.png 0']
    image = cv2.imread(str(root / 'val' / 'star' / '000002.png'))
    assert image.shape == (24, 24, 3)
    marker = json.load(open(root / MARKER))
    assert marker['seed'] == 3 and marker['classes'] == list(CLASSES)
    assert [p.name for p in tmp_path.iterdir()] == ['cls']  # no temporary folder left behind
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        imagenet = DATASETS.build(dict(type='ImageNet', data_root=str(root), split='val', pipeline=[]))
        folders = DATASETS.build(dict(type='CustomDataset', data_root=str(root), data_prefix='train', pipeline=[]))
    assert len(imagenet) == 4 and [imagenet.get_gt_labels()[i] for i in range(4)] == [0, 1, 2, 3]
    assert folders.CLASSES == CLASSES and list(folders.get_gt_labels()) == [0, 0, 1, 1, 2, 2, 3, 3]


def test_deterministic_from_the_seed(tmp_path):
    for name, seed in (('a', 0), ('b', 0), ('c', 1)):
        make_synthetic_classification(str(tmp_path / name), seed=seed, **TINY)
    image = 'train/square/000005.png'
    a, b, c = ((tmp_path / name / image).read_bytes() for name in 'abc')
    assert a == b and a != c


def test_replaces_only_its_own_data_sets(tmp_path):
    root = tmp_path / 'cls'
    make_synthetic_classification(str(root), **TINY)
    with pytest.raises(FileExistsError, match='exists; pass overwrite=True'):
        make_synthetic_classification(str(root), **TINY)
    make_synthetic_classification(str(root), overwrite=True, **dict(TINY, num_train=12))
    assert len(open(root / 'meta' / 'train.txt').readlines()) == 12
    imagenet = tmp_path / 'imagenet'
    (imagenet / 'train' / 'n01440764').mkdir(parents=True)
    with pytest.raises(FileExistsError, match='does not look like a synthetic classification data set'):
        make_synthetic_classification(str(imagenet), overwrite=True, **TINY)
    assert (imagenet / 'train' / 'n01440764').is_dir()


def test_an_interrupted_run_leaves_nothing(tmp_path):
    with mock.patch('cv2.imwrite', return_value=False), pytest.raises(OSError, match='could not write'):
        make_synthetic_classification(str(tmp_path / 'cls'), **TINY)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize('kwargs,message', [
    (dict(num_train=3), 'num_train: expected an integer >= 4 (one image per class), got 3'),
    (dict(num_val=2.0), 'num_val: expected an integer >= 4 (one image per class), got 2.0'),
    (dict(image_size=8), 'image_size: expected an integer >= 16, got 8'),
    (dict(seed=-1), 'seed: expected an integer >= 0, got -1'),
    (dict(object_size=(0.5, 0.2)), 'object_size: expected (min, max) fractions of the image side with 0 < min <= max '
                                   '<= 1, got (0.5, 0.2)'),
    (dict(object_size=(0.0, 0.2)), 'object_size: expected (min, max) fractions of the image side with 0 < min <= max '
                                   '<= 1, got (0.0, 0.2)'),
])
def test_bad_arguments_are_named(tmp_path, kwargs, message):
    with pytest.raises(ValueError) as error:
        make_synthetic_classification(str(tmp_path / 'cls'), **dict(TINY, **kwargs))
    assert str(error.value) == message
    assert not (tmp_path / 'cls').exists()


def test_object_size_sets_the_scale_of_the_shapes(tmp_path):
    import cv2
    import numpy as np
    areas = {}
    for name, fraction in (('small', (0.15, 0.2)), ('large', (0.8, 0.9))):
        root = tmp_path / name
        make_synthetic_classification(str(root), num_train=8, num_val=4, image_size=48, object_size=fraction)
        image = cv2.imread(str(next((root / 'train' / 'square').iterdir())))
        # the shape is filled with one colour; the noisy background repeats no colour that often
        areas[name] = int(np.unique(image.reshape(-1, 3), axis=0, return_counts=True)[1].max())
    # a square of circumradius side / 2 covers side ** 2 / 2: 26-46 pixels for sides 7.2-9.6, 737-933 for 38.4-43.2
    assert 20 < areas['small'] < 60 and 650 < areas['large'] < 1050
