"""Reading the branch gammas of a seed checkpoint (any layout) and scoring neurons; bad checkpoints are named."""
import re
from collections import OrderedDict

import pytest
import torch

from mmdet_scalenet.allocation import (
    AllocationError,
    find_backbone_prefix,
    load_seed_gammas,
    neuron_scores,
    read_branch_gammas,
    seed_structure,
)


def detector_of(state):
    detector = OrderedDict((f'backbone.{k}', v) for k, v in state.items())
    detector['neck.lateral_convs.0.conv.weight'] = torch.zeros(256, 256, 1, 1)
    detector['rpn_head.rpn_conv.weight'] = torch.zeros(256, 256, 3, 3)
    return detector


def test_reads_every_gamma_of_a_backbone_state_dict(seed50_state):
    gammas = read_branch_gammas(seed50_state)
    assert gammas.depth == 50 and gammas.prefix == '' and gammas.scale_factors == (1, 2, 4, 7)
    assert gammas.structure.blocks == seed_structure(50).blocks
    assert gammas.gammas[5][3] == tuple(seed50_state['layer2.2.bn2.3.weight'].tolist())
    assert len(gammas.gammas) == 16


def test_finds_the_prefix_of_a_detector_and_takes_a_given_one(seed50_state):
    detector = detector_of(seed50_state)
    assert find_backbone_prefix(detector) == 'backbone.'
    found = read_branch_gammas(detector)
    given = read_branch_gammas(detector, prefix='backbone.')
    assert found.prefix == given.prefix == 'backbone.'
    assert found.gammas == given.gammas == read_branch_gammas(seed50_state).gammas


def test_loads_a_wrapped_classifier_file(seed50_file, seed50_state):
    gammas = load_seed_gammas(seed50_file, depth=50)
    assert gammas.source == str(seed50_file) and gammas.prefix == ''
    assert gammas.gammas == read_branch_gammas(seed50_state).gammas


def test_scores_follow_the_formula(seed50_state):
    gammas = read_branch_gammas(seed50_state)
    assert neuron_scores(gammas)[0][0] == tuple(abs(g) for g in gammas.gammas[0][0])
    scores = neuron_scores(gammas, b=0.5)
    gamma = gammas.gammas[15][2][7]              # layer4.2, factor 4: 3x3 conv on a 1x1 map of 512 channels
    assert scores[15][2][7] == pytest.approx(abs(gamma) / (512 * 9)**0.5, rel=1e-12)
    gamma = gammas.gammas[0][1][3]               # layer1.0, factor 2: 3x3 conv on 28x28, 64 channels
    assert scores[0][1][3] == pytest.approx(abs(gamma) / (64 * 9 * 28 * 28)**0.5, rel=1e-12)


# Bad input: every error names the file, the key and what was expected against what was found.

def test_not_a_scalenet(seed50_state):
    resnet = OrderedDict((k.replace('bn2.0', 'bn2'), v) for k, v in seed50_state.items() if '.bn2.' not in k
                         or '.bn2.0.' in k)
    with pytest.raises(AllocationError, match=r"^resnet\.pth: no BN gamma of an SA branch: expected a key like "
                       r'"layer1\.0\.bn2\.0\.weight"'):
        read_branch_gammas(resnet, source='resnet.pth')


def test_several_backbones_need_a_prefix(seed50_state):
    both = OrderedDict(detector_of(seed50_state))
    both.update((f'teacher.{k}', v) for k, v in seed50_state.items())
    with pytest.raises(AllocationError, match=re.escape("several ScaleNet backbones, under prefixes "
                                                        "['backbone.', 'teacher.']; pass the prefix")):
        read_branch_gammas(both)
    assert read_branch_gammas(both, prefix='teacher.').prefix == 'teacher.'


def test_unknown_prefix(seed50_state):
    with pytest.raises(AllocationError, match=r"^seed\.pth: no key starts with prefix 'model\.'"):
        read_branch_gammas(seed50_state, prefix='model.', source='seed.pth')


def test_wrong_depth_names_expected_and_found(seed50_state):
    with pytest.raises(AllocationError, match=re.escape('seed.pth: expected depth 101 (3+4+23+3 blocks), got '
                                                        'depth 50 (3+4+6+3 blocks)')):
        read_branch_gammas(seed50_state, depth=101, source='seed.pth')


def test_block_counts_of_no_depth(seed50_state):
    cut = OrderedDict((k, v) for k, v in seed50_state.items() if not k.startswith('layer3.5.'))
    with pytest.raises(AllocationError, match=re.escape('seed.pth: 3+4+5+3 blocks per stage match no ScaleNet '
                                                        'depth; expected depth 50 (3+4+6+3 blocks)')):
        read_branch_gammas(cut, source='seed.pth')


def test_blocks_numbered_with_a_gap(seed50_state):
    renamed = OrderedDict((k.replace('layer2.3.', 'layer2.4.'), v) for k, v in seed50_state.items())
    with pytest.raises(AllocationError, match=re.escape('seed.pth: the blocks of layer2 are not numbered 0..n-1: '
                                                        'got [0, 1, 2, 4]')):
        read_branch_gammas(renamed, source='seed.pth')


def test_missing_stage(seed50_state):
    cut = OrderedDict((k, v) for k, v in seed50_state.items() if not k.startswith('layer4.'))
    with pytest.raises(AllocationError, match=re.escape("expected the blocks of stages layer1..layer4, got stages "
                                                        "['layer1', 'layer2', 'layer3']")):
        read_branch_gammas(cut)


def test_missing_branch_gamma_names_the_key(seed50_state):
    state = detector_of(seed50_state)
    del state['backbone.layer2.1.bn2.3.weight']
    with pytest.raises(AllocationError, match=re.escape(
            "det.pth: missing key 'backbone.layer2.1.bn2.3.weight': the BN gamma of block layer2.1, branch 3 "
            "(scale factor 7); a seed network has a branch norm at each of the scale factors [1, 2, 4, 7]")):
        read_branch_gammas(state, source='det.pth')


def test_more_branches_than_scale_factors(seed50_state):
    with pytest.raises(AllocationError, match=re.escape(
            "key 'layer1.0.bn2.3.weight': block layer1.0 has branch 3, but the scale factors [1, 2, 4] give "
            "branches 0..2")):
        read_branch_gammas(seed50_state, scale_factors=(1, 2, 4))


def test_gamma_that_is_not_finite_or_not_1d(seed50_state):
    state = OrderedDict(seed50_state)
    state['layer3.0.bn2.1.weight'] = state['layer3.0.bn2.1.weight'].clone()
    state['layer3.0.bn2.1.weight'][[4, 9]] = float('nan')
    with pytest.raises(AllocationError, match=re.escape("key 'layer3.0.bn2.1.weight': expected finite gammas, "
                                                        "got 2 NaN or infinite (channels [4, 9])")):
        read_branch_gammas(state)
    state = OrderedDict(seed50_state)
    state['layer3.0.bn2.1.weight'] = torch.ones(2, 256)
    with pytest.raises(AllocationError, match=re.escape("key 'layer3.0.bn2.1.weight': expected a 1-D BN gamma "
                                                        "with at least one channel, got shape (2, 256)")):
        read_branch_gammas(state)


def test_branch_conv_of_another_network(seed50_state):
    state = OrderedDict(seed50_state)
    state['layer4.0.conv2.3.weight'] = torch.zeros(512, 512, 3, 3)   # the factor-7 branch of stage 4 is 1x1
    with pytest.raises(AllocationError, match=re.escape(
            "key 'layer4.0.conv2.3.weight': expected shape (512, 512, 1, 1) (block layer4.0 of a depth-50 "
            "ScaleNet, 512 planes, side 7, branch 3), got (512, 512, 3, 3)")):
        read_branch_gammas(state)


def test_bad_b_and_scale_factors(seed50_state):
    gammas = read_branch_gammas(seed50_state)
    for b in (-1, float('nan'), '1'):
        with pytest.raises(AllocationError, match=re.escape(f'b: expected a finite number >= 0, got {b!r}')):
            neuron_scores(gammas, b)
    with pytest.raises(AllocationError, match=r'scale_factors: expected distinct positive integers, got \[1, 1\]'):
        read_branch_gammas(seed50_state, scale_factors=(1, 1))
