"""The authors' released ImageNet classifiers (``conv1.*``, ``layer*``, ``fc.*``) in mmpretrain's classifier, with
no conversion step: the logits of the authors' network, and a strict load that names every mismatch."""
from collections import OrderedDict

import pytest
import torch
from mmengine.runner import load_checkpoint

from mmdet_scalenet import CheckpointError, load_structure
from mmdet_scalenet.models.classifier import authors_to_classifier

from ..models.reference import random_reference
from .common import SCALENETS, build_classifier, config_path, load_config

LIGHT = 'scalenet50-light_8xb32-coslr-120e_in1k'


def relative_error(actual, expected):
    return ((actual - expected).abs().max() / expected.abs().max()).item()


@pytest.mark.parametrize('name', SCALENETS)
def test_released_weights_give_the_authors_logits(name, tmp_path):
    from mmpretrain.apis import get_model
    depth, structure = SCALENETS[name]
    reference = random_reference(depth, load_structure(structure).to_rows(), seed=depth)
    path = tmp_path / f'{structure}.pth'
    torch.save(reference.state_dict(), path)  # the released files: one plain state dict
    # mmpretrain's own loading path: build from the config, mmengine's load_checkpoint (strict=False)
    model = get_model(config_path(name), pretrained=str(path), device='cpu').eval()
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = reference.logits(x)
        actual = model(x, mode='tensor')
    assert actual.shape == (1, 1000)
    assert relative_error(actual, expected) <= 1e-4
    assert torch.equal(model.head.fc.weight, reference.fc.weight)


@pytest.fixture(scope='module')
def light():
    """The released layout for ScaleNet-50-light: a reference network's state dict."""
    reference = random_reference(50, load_structure('scalenet50_light').to_rows())
    return OrderedDict(reference.state_dict())


@pytest.fixture(scope='module')
def classifier():
    """A ScaleNet-50-light classifier; the loads that the tests refuse leave it unchanged."""
    return build_classifier(load_config(LIGHT), init_weights=False)


def save(state, tmp_path, name='released.pth'):
    path = tmp_path / name
    torch.save(state, path)
    return str(path)


def test_torch_strict_loading_and_classifier_init_cfg_take_the_released_layout(light, tmp_path):
    cfg = load_config(LIGHT)
    model = build_classifier(cfg, init_weights=False)
    result = model.load_state_dict(OrderedDict(light), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert torch.equal(model.backbone.layer3[5].conv2['0'].weight, light['layer3.5.conv2.0.weight'])
    # the classifier's own Pretrained init_cfg (mmengine's PretrainedInit, strict=False) goes through it too
    cfg.model.init_cfg = dict(type='Pretrained', checkpoint=save(light, tmp_path))
    model = build_classifier(cfg)
    assert torch.equal(model.head.fc.bias, light['fc.bias'])
    assert torch.equal(model.backbone.bn1.running_var, light['bn1.running_var'])


def test_checkpoints_in_the_classifiers_own_layout_are_left_to_mmengine(tmp_path):
    classifier = build_classifier(load_config(LIGHT), init_weights=False)
    state = OrderedDict((k, v + 1 if v.is_floating_point() else v) for k, v in classifier.state_dict().items())
    path = save({'state_dict': state, 'meta': {}}, tmp_path)
    assert not authors_to_classifier(classifier.backbone, OrderedDict(state))
    load_checkpoint(classifier, path)
    assert torch.equal(classifier.head.fc.weight, state['head.fc.weight'])


def check_refused(classifier, state, tmp_path, *expected):
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(classifier, save(state, tmp_path))  # mmengine's loader, strict=False, as the Runner's
    message = str(error.value)
    for text in expected:
        assert text in message, message
    return message


def test_missing_unexpected_and_mis_shaped_keys_are_named(classifier, light, tmp_path):
    state = OrderedDict(light)
    del state['layer2.0.bn2.1.running_var']
    state['layer5.0.conv1.weight'] = torch.zeros(1)
    state['layer1.0.conv3.weight'] = torch.zeros(256, 7, 1, 1)
    message = check_refused(classifier, state, tmp_path,
                            'missing from the checkpoint (1): backbone.layer2.0.bn2.1.running_var',
                            'unexpected in the checkpoint (1): backbone.layer5.0.conv1.weight',
                            'shape mismatch (1): backbone.layer1.0.conv3.weight (checkpoint (256, 7, 1, 1), '
                            'model (256, 64, 1, 1))')
    assert "authors' classifier layout" in message and 'ImageClassifier' in message


def test_the_heads_class_count_must_match_the_fc(light, tmp_path):
    cfg = load_config(LIGHT)
    cfg.model.head.num_classes = 10  # the head is the classifier's: checked although the filter is the backbone's
    check_refused(build_classifier(cfg, init_weights=False), light, tmp_path,
                  'head.fc.weight (checkpoint (1000, 2048), model (10, 2048))',
                  'head.fc.bias (checkpoint (1000,), model (10,))', "head's num_classes")


def test_another_structure_and_a_missing_fc_are_refused(classifier, light, tmp_path):
    other = OrderedDict(random_reference(50, load_structure('scalenet50').to_rows()).state_dict())
    check_refused(classifier, other, tmp_path, 'shape mismatch', 'backbone.layer1.0.conv2.0.weight',
                  'Check that the structure')
    no_fc = OrderedDict((k, v) for k, v in light.items() if not k.startswith('fc.'))
    message = check_refused(classifier, no_fc, tmp_path,
                            'missing from the checkpoint (2): head.fc.bias, head.fc.weight')
    assert 'shape mismatch' not in message and 'unexpected' not in message


def test_outside_a_classifier_the_backbone_keys_and_fc_width_are_checked(light):
    # the filter called on its own (no classifier loading): what the backbone knows is still checked
    backbone = build_classifier(load_config(LIGHT), init_weights=False).backbone
    state = OrderedDict(light)
    state['fc.weight'] = torch.zeros(1000, 1024)
    with pytest.raises(CheckpointError, match=r'head.fc.weight \(checkpoint \(1000, 1024\), model '
                                                      r'\(1000, 2048\)\)'):
        authors_to_classifier(backbone, state)
    state = OrderedDict(light)
    assert authors_to_classifier(backbone, state)
    assert set(state) == {'head.fc.weight', 'head.fc.bias'} | {f'backbone.{k}' for k in backbone.state_dict()}
