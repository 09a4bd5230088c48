"""make_synthetic_shapes: what it writes, the folders it refuses to replace, and its argument checks."""
import json

import pytest

from scalenet_lab.datasets import CLASSES, MARKER, make_synthetic_shapes

TINY = dict(num_train=2, num_val=1, image_size=32, min_side=8, max_side=16)


def test_writes_coco_json_images_and_marker(tmp_path):
    paths = make_synthetic_shapes(str(tmp_path / 'shapes'), seed=3, **TINY)
    train = json.load(open(paths['train']))
    assert [c['name'] for c in train['categories']] == list(CLASSES)
    assert len(train['images']) == 2 and len(json.load(open(paths['val']))['images']) == 1
    assert len(list((tmp_path / 'shapes' / 'train').glob('*.jpg'))) == 2
    marker = json.load(open(tmp_path / 'shapes' / MARKER))
    assert marker['seed'] == 3 and marker['num_train'] == 2 and marker['classes'] == list(CLASSES)
    assert [p.name for p in tmp_path.iterdir()] == ['shapes']  # no temporary folder left behind


def test_existing_folder_needs_overwrite(tmp_path):
    root = tmp_path / 'shapes'
    make_synthetic_shapes(str(root), **TINY)
    with pytest.raises(FileExistsError, match=r'shapes: exists; pass overwrite=True to replace it'):
        make_synthetic_shapes(str(root), **TINY)


def test_overwrite_replaces_an_earlier_data_set(tmp_path):
    root = tmp_path / 'shapes'
    make_synthetic_shapes(str(root), **TINY)
    (root / 'train' / 'stale.jpg').write_bytes(b'')
    make_synthetic_shapes(str(root), overwrite=True, **dict(TINY, num_train=3))
    assert not (root / 'train' / 'stale.jpg').exists()
    assert len(json.load(open(root / 'annotations' / 'train.json'))['images']) == 3
    assert json.load(open(root / MARKER))['num_train'] == 3


def test_overwrite_fills_an_empty_folder(tmp_path):
    (tmp_path / 'shapes').mkdir()
    make_synthetic_shapes(str(tmp_path / 'shapes'), overwrite=True, **TINY)
    assert (tmp_path / 'shapes' / MARKER).is_file()


@pytest.mark.parametrize('kind', ['other-data-set', 'file'])
def test_overwrite_leaves_other_folders_alone(tmp_path, kind):
    root = tmp_path / 'coco'
    if kind == 'file':
        root.write_text('not a folder')
    else:
        (root / 'annotations').mkdir(parents=True)
        (root / 'annotations' / 'instances_train2017.json').write_text('{}')
    before = sorted(str(p) for p in tmp_path.rglob('*'))
    with pytest.raises(FileExistsError) as error:
        make_synthetic_shapes(str(root), overwrite=True, **TINY)
    assert str(error.value).startswith(f'{root}: exists and does not look like a synthetic shapes data set')
    assert 'left alone' in str(error.value)
    assert sorted(str(p) for p in tmp_path.rglob('*')) == before  # nothing removed, no temporary folder left


@pytest.mark.parametrize('name, value, message', [
    ('num_train', 0, 'num_train: expected an integer >= 1, got 0'),
    ('num_val', -1, 'num_val: expected an integer >= 1, got -1'),
    ('num_val', 2.0, 'num_val: expected an integer >= 1, got 2.0'),
    ('max_objects', 0, 'max_objects: expected an integer >= 1, got 0'),
    ('image_size', 3, 'image_size: expected an integer >= 4, got 3'),
    ('min_side', 2, 'min_side: expected an integer in [4, image_size=32], got 2'),
    ('max_side', 40, 'max_side: expected an integer in [min_side=8, image_size=32], got 40'),
    ('max_side', 6, 'max_side: expected an integer in [min_side=8, image_size=32], got 6'),
])
def test_argument_checks(tmp_path, name, value, message):
    with pytest.raises(ValueError) as error:
        make_synthetic_shapes(str(tmp_path / 'shapes'), **dict(TINY, **{name: value}))
    assert str(error.value) == message
    assert not list(tmp_path.iterdir())
