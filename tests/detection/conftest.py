import pytest

from scalenet_lab.datasets import make_synthetic_shapes


@pytest.fixture(scope='session')
def tiny_shapes(tmp_path_factory):
    """8 training and 4 validation images of 96x96 in COCO format."""
    root = tmp_path_factory.mktemp('data') / 'shapes'
    make_synthetic_shapes(str(root), num_train=8, num_val=4, image_size=96, min_side=18, max_side=64, seed=1)
    return str(root)
