"""Loading the authors' ImageNet weights through init_cfg: accepted wrappers, and errors that name every bad key."""
import pickle
from collections import OrderedDict

import pytest
import torch

from mmdet_scalenet import CheckpointMismatchError, ScaleNet

STRUCTURE = 'scalenet50_light'  # the structure of the authors_state fixture


def load(path, **kwargs):
    model = ScaleNet(depth=50, structure=STRUCTURE,
                     init_cfg=dict(type='Pretrained', checkpoint=str(path), **kwargs), **{})
    model.init_weights()
    return model


def save(tmp_path, obj, name='ckpt.pth'):
    path = tmp_path / name
    torch.save(obj, path)
    return path


def assert_loaded(model, state):
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


@pytest.mark.parametrize('wrap', ['plain', 'module', 'state_dict', 'both'])
def test_accepted_layouts(tmp_path, authors_state, wrap):
    state = authors_state
    if wrap in ('module', 'both'):
        state = OrderedDict((f'module.{k}', v) for k, v in state.items())
    if wrap in ('state_dict', 'both'):
        state = {'state_dict': state, 'epoch': 120}
    model = load(save(tmp_path, state))
    assert_loaded(model, authors_state)


def test_fewer_stages_ignore_the_later_stages(tmp_path, authors_state):
    model = ScaleNet(depth=50, structure=STRUCTURE, num_stages=3, out_indices=(2, ),
                     init_cfg=dict(type='Pretrained', checkpoint=str(save(tmp_path, authors_state))))
    model.init_weights()
    assert_loaded(model, authors_state)


def test_prefix_selects_a_detectors_backbone(tmp_path, authors_state):
    detector = {f'backbone.{k}': v for k, v in authors_state.items() if not k.startswith('fc.')}
    detector['rpn_head.rpn_conv.weight'] = torch.zeros(1)
    for prefix in ('backbone.', 'backbone'):  # mmengine adds the dot; so do we
        model = load(save(tmp_path, {'state_dict': detector, 'meta': {}}), prefix=prefix)
        assert_loaded(model, authors_state)
    with pytest.raises(CheckpointMismatchError, match="no key starts with prefix 'neck.'"):
        load(save(tmp_path, {'state_dict': detector}), prefix='neck.')


def test_missing_keys_are_listed(tmp_path, authors_state):
    state = OrderedDict(authors_state)
    del state['layer2.1.conv2.0.weight']
    del state['layer3.0.bn2.1.running_var']
    with pytest.raises(CheckpointMismatchError) as info:
        load(save(tmp_path, state))
    message = str(info.value)
    assert 'ckpt.pth' in message
    assert 'missing from the checkpoint (2): layer2.1.conv2.0.weight, layer3.0.bn2.1.running_var' in message


def test_unexpected_keys_are_listed(tmp_path, authors_state):
    state = OrderedDict(authors_state)
    state['layer1.0.conv2.9.weight'] = torch.zeros(3)
    state['head.weight'] = torch.zeros(3)
    with pytest.raises(CheckpointMismatchError, match=r'unexpected in the checkpoint \(2\): head.weight, '
                                                      r'layer1.0.conv2.9.weight'):
        load(save(tmp_path, state))


def test_mis_shaped_keys_are_listed(tmp_path):
    # the full ScaleNet-50's weights are mis-shaped for the -light structure
    state = ScaleNet(depth=50, structure='scalenet50').state_dict()
    with pytest.raises(CheckpointMismatchError) as info:
        load(save(tmp_path, state))
    message = str(info.value)
    assert 'shape mismatch' in message
    assert 'layer1.0.conv2.0.weight (checkpoint (62, 64, 3, 3), model (30, 64, 3, 3))' in message
    assert 'structure' in message


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere.pth: checkpoint file not found'):
        load(tmp_path / 'nowhere.pth')


class Payload:
    ran = False

    def __reduce__(self):
        return (Payload.run, ())

    @staticmethod
    def run():
        Payload.ran = True
        return {}


def test_pickles_with_code_are_refused(tmp_path, authors_state):
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': authors_state, 'extra': Payload()}, path)
    with pytest.raises(pickle.UnpicklingError, match=r'evil\.pth: refused by safe loading \(weights_only=True\)'):
        load(path)
    assert not Payload.ran


def test_not_a_state_dict(tmp_path):
    with pytest.raises(CheckpointMismatchError, match='expected a state dict of tensors'):
        load(save(tmp_path, [1, 2, 3]))


def test_pretrained_init_given_as_a_class_is_strict_too(tmp_path, authors_state):
    from mmengine.model.weight_init import PretrainedInit
    model = ScaleNet(depth=50, structure=STRUCTURE,
                     init_cfg=dict(type=PretrainedInit, checkpoint=str(save(tmp_path, authors_state))))
    model.init_weights()
    assert_loaded(model, authors_state)
    state = OrderedDict(authors_state)
    del state['layer1.0.conv1.weight']
    model = ScaleNet(depth=50, structure=STRUCTURE,
                     init_cfg=dict(type=PretrainedInit, checkpoint=str(save(tmp_path, state, 'partial.pth'))))
    with pytest.raises(CheckpointMismatchError, match=r'missing from the checkpoint \(1\): layer1.0.conv1.weight'):
        model.init_weights()
