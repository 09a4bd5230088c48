"""ScaleNet loaded from a checkpoint in the authors' key layout reproduces an independent reference network."""
import pytest
import torch

from mmdet_scalenet import ScaleNet, load_structure

from .reference import random_reference

CASES = [('scalenet50', 50), ('scalenet50_light', 50), ('scalenet101', 101), ('scalenet152', 152)]


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    return tmp_path_factory.mktemp('authors')


@pytest.mark.parametrize('name,depth', CASES)
def test_authors_layout_checkpoint_reproduces_reference(name, depth, checkpoints, assert_close):
    reference = random_reference(depth, load_structure(name).to_rows())
    state = reference.state_dict()
    assert 'fc.weight' in state and 'layer1.0.downsample.0.weight' in state
    path = checkpoints / f'{name}.pth'
    torch.save(state, path)

    model = ScaleNet(depth=depth, structure=name, init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    model.init_weights()
    model.eval()
    with torch.no_grad():
        for size in [(224, 224), (257, 319)]:
            x = torch.randn(1, 3, *size)
            expected = reference(x)
            actual = model(x)
            assert len(actual) == 4
            for stage, (a, e) in enumerate(zip(actual, expected)):
                assert a.shape == e.shape
                assert_close(a, e, f'{name} stage {stage + 1} at {size}')
