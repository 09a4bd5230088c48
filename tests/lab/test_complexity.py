"""GMACs at 224x224 and parameter counts of the built-in structures, counted by mmengine.analysis."""
import pytest

from mmdet_scalenet import ScaleNet
from scalenet_lab import classifier_complexity

# GMACs at 224 (the paper's "FLOPs": 3.8, 29% below ResNet-50, 7.5, 11.2) and the learnable numbers of the authors'
# released state dicts, fc included.
PUBLISHED = {
    'scalenet50': (50, 3.818, 31_483_618),
    'scalenet50_light': (50, 2.861, 23_631_912),
    'scalenet101': (101, 7.511, 54_792_390),
    'scalenet152': (152, 11.212, 77_220_070),
}


@pytest.mark.parametrize('name', sorted(PUBLISHED))
def test_gmacs_and_params_match_the_published_figures(name):
    depth, gmacs, params = PUBLISHED[name]
    counts = classifier_complexity(ScaleNet(depth=depth, structure=name))
    assert abs(counts.conv_macs / 1e9 - gmacs) <= 0.01 * gmacs, counts
    # norms and upsampling add well under 1% more
    assert abs(counts.total_macs / 1e9 - gmacs) <= 0.01 * gmacs, counts
    assert counts.params == params


def test_light_structure_is_29_percent_below_resnet50():
    counts = classifier_complexity(ScaleNet(depth=50, structure='scalenet50_light'))
    assert 0.27 <= 1 - counts.conv_macs / 4.1e9 <= 0.31
