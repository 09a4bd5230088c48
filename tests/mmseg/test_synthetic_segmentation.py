"""make_synthetic_segmentation: mmseg's custom layout, read by its BaseSegDataset; label values; deterministic; the
folders it refuses to replace; its argument checks."""
import json

import cv2
import numpy as np
import pytest
from mmengine.registry import DefaultScope

from scalenet_lab.datasets import make_synthetic_segmentation
from scalenet_lab.datasets.synthetic_segmentation import CLASSES, IGNORE_INDEX, MARKER, PALETTE

TINY = dict(num_train=6, num_val=2, image_size=32, min_side=8, max_side=24)


def test_layout_and_labels_read_by_mmseg(tmp_path):
    from mmseg.registry import DATASETS
    root = tmp_path / 'seg'
    paths = make_synthetic_segmentation(str(root), seed=2, **TINY)
    assert paths == {'img_dir': str(root / 'img_dir'), 'ann_dir': str(root / 'ann_dir')}
    files = sorted((root / 'ann_dir' / 'train').iterdir())
    labels = np.stack([cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in files])
    assert labels.shape == (6, 32, 32) and labels.dtype == np.uint8
    values = set(np.unique(labels).tolist())
    assert values <= set(range(len(CLASSES))) | {IGNORE_INDEX} and 0 in values and IGNORE_INDEX in values
    assert len(values - {0, IGNORE_INDEX}) >= 2  # several shape classes
    image = cv2.imread(str(root / 'img_dir' / 'val' / '000001.png'))
    assert image.shape == (32, 32, 3)
    assert json.load(open(root / MARKER))['ignore_index'] == IGNORE_INDEX
    assert [p.name for p in tmp_path.iterdir()] == ['seg']  # no temporary folder left behind
    with DefaultScope.overwrite_default_scope('mmseg'):
        dataset = DATASETS.build(dict(
            type='BaseSegDataset', data_root=str(root), data_prefix=dict(img_path='img_dir/train',
                                                                         seg_map_path='ann_dir/train'),
            img_suffix='.png', seg_map_suffix='.png', metainfo=dict(classes=CLASSES, palette=PALETTE),
            pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]))
    sample = dataset[3]
    assert len(dataset) == 6 and np.array_equal(sample['gt_seg_map'], labels[3])


def test_deterministic_from_the_seed(tmp_path):
    for name, seed in (('a', 0), ('b', 0), ('c', 1)):
        make_synthetic_segmentation(str(tmp_path / name), seed=seed, **TINY)
    mask = 'ann_dir/train/000004.png'
    a, b, c = ((tmp_path / name / mask).read_bytes() for name in 'abc')
    assert a == b and a != c


def test_replaces_only_its_own_data_sets(tmp_path):
    root = tmp_path / 'seg'
    make_synthetic_segmentation(str(root), **TINY)
    with pytest.raises(FileExistsError, match='exists; pass overwrite=True'):
        make_synthetic_segmentation(str(root), **TINY)
    make_synthetic_segmentation(str(root), overwrite=True, **dict(TINY, num_val=3))
    assert len(list((root / 'img_dir' / 'val').iterdir())) == 3
    ade = tmp_path / 'ade'
    (ade / 'images').mkdir(parents=True)
    with pytest.raises(FileExistsError, match='does not look like a synthetic segmentation data set'):
        make_synthetic_segmentation(str(ade), overwrite=True, **TINY)
    assert (ade / 'images').is_dir()


@pytest.mark.parametrize('kwargs,message', [
    (dict(num_train=0), 'num_train: expected an integer >= 1, got 0'),
    (dict(max_objects=True), 'max_objects: expected an integer >= 1, got True'),
    (dict(min_side=40), 'min_side: expected an integer in [4, image_size=32], got 40'),
    (dict(max_side=6), 'max_side: expected an integer in [min_side=8, image_size=32], got 6'),
    (dict(image_size='64'), "image_size: expected an integer >= 16, got '64'"),
])
def test_bad_arguments_are_named(tmp_path, kwargs, message):
    with pytest.raises(ValueError) as error:
        make_synthetic_segmentation(str(tmp_path / 'seg'), **dict(TINY, **kwargs))
    assert str(error.value) == message
    assert not (tmp_path / 'seg').exists()
