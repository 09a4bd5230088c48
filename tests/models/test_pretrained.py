"""Loading the authors' ImageNet weights through init_cfg: accepted wrappers, and errors that name every bad key;
every other load into a ScaleNet (torch's load_state_dict, mmengine's load_checkpoint as the Runner's) is held to
the same rule."""
import re
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn
from mmengine.runner import load_checkpoint

from mmdet_scalenet import CheckpointError, ScaleNet

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
    with pytest.raises(CheckpointError, match="no key starts with prefix 'neck.'"):
        load(save(tmp_path, {'state_dict': detector}), prefix='neck.')


def test_missing_keys_are_listed(tmp_path, authors_state):
    state = OrderedDict(authors_state)
    del state['layer2.1.conv2.0.weight']
    del state['layer3.0.bn2.1.running_var']
    with pytest.raises(CheckpointError) as info:
        load(save(tmp_path, state))
    message = str(info.value)
    assert 'ckpt.pth' in message
    assert 'missing from the checkpoint (2): layer2.1.conv2.0.weight, layer3.0.bn2.1.running_var' in message


def test_unexpected_keys_are_listed(tmp_path, authors_state):
    state = OrderedDict(authors_state)
    state['layer1.0.conv2.9.weight'] = torch.zeros(3)
    state['head.weight'] = torch.zeros(3)
    with pytest.raises(CheckpointError, match=r'unexpected in the checkpoint \(2\): head.weight, '
                                                      r'layer1.0.conv2.9.weight'):
        load(save(tmp_path, state))


def test_mis_shaped_keys_are_listed(tmp_path):
    # the full ScaleNet-50's weights are mis-shaped for the -light structure
    state = ScaleNet(depth=50, structure='scalenet50').state_dict()
    with pytest.raises(CheckpointError) as info:
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
    with pytest.raises(CheckpointError, match=r'evil\.pth: refused by safe loading \(weights_only=True\)'):
        load(path)
    assert not Payload.ran


def test_not_a_state_dict(tmp_path):
    with pytest.raises(CheckpointError, match='expected a state dict of tensors'):
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
    with pytest.raises(CheckpointError, match=r'missing from the checkpoint \(1\): layer1.0.conv1.weight'):
        model.init_weights()


class Detector(nn.Module):
    """A backbone and a head, as a detector's or a classifier's state dict has them."""

    def __init__(self, structure=STRUCTURE, num_classes=5):
        super().__init__()
        self.backbone = ScaleNet(depth=50, structure=structure, num_stages=2, out_indices=(1, ))
        self.head = nn.Linear(512, num_classes)


def states_equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_backbone_of_another_structure_is_refused_on_every_route(tmp_path):
    other = Detector('scalenet50')
    path = save(tmp_path, {'state_dict': other.state_dict(), 'meta': {}})
    model = Detector()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(model, str(path))  # mmengine's loader, strict=False: the Runner's load_from and resume
    message = str(info.value)
    assert message.startswith("checkpoint does not fit the configured ScaleNet (the keys under 'backbone.'):")
    assert re.search(r'\n  shape mismatch \(\d+\): ', message)
    assert 'layer1.0.conv2.0.weight (checkpoint (62, 64, 3, 3), model (30, 64, 3, 3))' in message
    assert states_equal(model.state_dict(), before)  # nothing was loaded
    with pytest.raises(CheckpointError, match=r'^checkpoint does not fit the configured ScaleNet:'):
        model.backbone.load_state_dict(other.backbone.state_dict(), strict=False)  # torch's own


def test_fine_tuning_to_another_number_of_classes_still_loads(tmp_path):
    trained = Detector(num_classes=5)
    for p in trained.parameters():
        p.data.normal_()
    model = Detector(num_classes=3)
    head = {k: v.clone() for k, v in model.head.state_dict().items()}
    load_checkpoint(model, str(save(tmp_path, {'state_dict': trained.state_dict()})))
    assert states_equal(model.backbone.state_dict(), trained.backbone.state_dict())
    assert states_equal(model.head.state_dict(), head)  # its shape differs: mmengine's business, it skips it


def test_a_checkpoint_without_the_backbone_or_with_extra_backbone_keys_is_refused():
    model = Detector()
    state = model.state_dict()
    with pytest.raises(CheckpointError, match=r"missing from the checkpoint \(\d+\): bn1.bias, bn1.running_mean, "):
        model.load_state_dict({k: v for k, v in state.items() if k.startswith('head.')}, strict=False)
    with pytest.raises(CheckpointError, match=r"unexpected in the checkpoint \(1\): layer1.0.conv2.4.weight"):
        model.load_state_dict({**state, 'backbone.layer1.0.conv2.4.weight': torch.zeros(1)}, strict=False)


@pytest.mark.parametrize('bad', ['nan', 'int'])
def test_non_finite_or_integer_backbone_weights_are_refused(bad):
    model = Detector()
    state = OrderedDict((k, v.clone()) for k, v in model.state_dict().items())
    if bad == 'nan':
        state['backbone.layer2.1.conv3.weight'][0, 0] = float('inf')
        expected = ('1 tensors hold NaN or infinite values (a diverged or corrupted run?): layer2.1.conv3.weight')
    else:
        state['backbone.conv1.weight'] = state['backbone.conv1.weight'].long()
        expected = '1 weight tensors are int64 where floats belong (loading would cast them, silently): conv1.weight'
    with pytest.raises(CheckpointError, match=re.escape(
            f"checkpoint loaded into ScaleNet (the keys under 'backbone.'): {expected}")):
        model.load_state_dict(state)


def test_check_state_fits_holds_a_module_without_the_mixin_to_every_key():
    """With no ``ignored_checkpoint_key`` to consult, no key of the file may go unused."""
    from mmdet_scalenet.models.pretrained import check_state_fits
    conv = nn.Conv2d(2, 3, 1)
    check_state_fits(conv, conv.state_dict())
    with pytest.raises(CheckpointError, match=r'unexpected in the checkpoint \(1\): extra'):
        check_state_fits(conv, dict(conv.state_dict(), extra=torch.zeros(1)))
