"""ScaleNet loaded from a checkpoint in the authors' key layout reproduces an independent reference network.

Weights and BatchNorm statistics come from the ``randomised`` fixture (trained-like: running variances and gammas
near 0 on some channels, means far from 0). Tolerances are relative to the output scale (``assert_close``).
"""
import pytest
import torch

from mmdet_scalenet import ScaleNet, load_structure

from .reference import (
    SEPARATING_CASES,
    SEPARATING_SIZES,
    UPSAMPLING_CASES,
    ReferenceScaleNet,
    stage_sizes,
    upsampling_cases,
)

CASES = [('scalenet50', 50), ('scalenet50_light', 50), ('scalenet101', 101), ('scalenet152', 152)]
LIGHT = 'scalenet50_light'


def test_the_separating_sizes_meet_every_case_of_the_upsampling_rule_in_every_stage():
    """The table of ``SEPARATING_CASES`` is what the rule computes, the two sizes together meet all four cases
    (both sides divide, only the height, only the width, neither) in each stage, and the stage maps it assumes are
    the network's."""
    rows = load_structure(LIGHT).to_rows()
    seen = {stage: set() for stage in range(1, 5)}
    for size, table in SEPARATING_CASES.items():
        cases = upsampling_cases(size, 50, rows)
        assert cases == {(stage, f): case for stage, row in table.items() for f, case in zip((2, 4, 7), row)}
        for (stage, _), case in cases.items():
            seen[stage].add(case)
        with torch.no_grad():
            outs = ReferenceScaleNet(50, rows).eval()(torch.zeros(1, 3, *size))
        assert [tuple(o.shape[-2:]) for o in outs] == stage_sizes(size)
    assert seen == {stage: set(UPSAMPLING_CASES) for stage in range(1, 5)}


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    return tmp_path_factory.mktemp('authors')


@pytest.mark.parametrize('name,depth', CASES)
def test_authors_layout_checkpoint_reproduces_reference(name, depth, checkpoints, randomised, assert_close):
    reference = randomised(ReferenceScaleNet(depth, load_structure(name).to_rows()))
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


@pytest.mark.parametrize('size', SEPARATING_SIZES, ids=[f'{h}x{w}' for h, w in SEPARATING_SIZES])
def test_every_case_of_the_upsampling_rule_reproduces_reference(size, reference_and_model, assert_close):
    """At sizes where, in every stage, some branch upsamples with both sides, only the height, only the width or
    neither side a whole multiple of its pooled map (nearest only in the first case)."""
    reference, model = reference_and_model(LIGHT, 50, seed=1)
    x = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        for stage, (a, e) in enumerate(zip(model(x), reference(x))):
            assert_close(a, e, f'stage {stage + 1} at {size}')


@pytest.mark.parametrize('size', SEPARATING_SIZES, ids=[f'{h}x{w}' for h, w in SEPARATING_SIZES])
def test_training_step_reproduces_reference(size, randomised, assert_close):
    """In training mode (batch statistics), the block's reordering (norm and ReLU on the small map before a nearest
    upsample, the running variance corrected for the count) gives the reference's outputs, input and weight
    gradients and running statistics. In float64: the reordering is exact, and batch statistics of the few values of
    stage 4 (2 images of 7x7 pooled to 1x1) amplify float32 rounding to about 1e-3 in either order."""
    reference = randomised(ReferenceScaleNet(50, load_structure(LIGHT).to_rows())).train().double()
    model = ScaleNet(depth=50, structure=LIGHT, norm_eval=False, init_cfg=None)
    model.load_state_dict({k: v for k, v in reference.state_dict().items() if not k.startswith('fc.')})
    model.train().double()
    x = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    results = []
    for net in (reference, model):
        inputs = x.clone().requires_grad_()
        outs = net(inputs)
        sum((o * torch.linspace(-1, 1, o.shape[1]).view(1, -1, 1, 1)).mean() for o in outs).backward()
        grads = {k: p.grad for k, p in net.named_parameters() if not k.startswith('fc.')}
        buffers = {k: v.clone() for k, v in net.state_dict().items() if 'running' in k}
        results.append((outs, inputs.grad, grads, buffers))
    (outs_r, xg_r, grads_r, buffers_r), (outs_m, xg_m, grads_m, buffers_m) = results
    for stage, (a, e) in enumerate(zip(outs_m, outs_r)):
        assert_close(a, e, f'training output, stage {stage + 1}', tolerance=1e-9)
    assert_close(xg_m, xg_r, 'input gradient', tolerance=1e-9)
    assert grads_m.keys() == grads_r.keys()
    for key in grads_r:
        assert_close(grads_m[key], grads_r[key], f'gradient of {key}', tolerance=1e-9)
    for key in buffers_r:
        assert_close(buffers_m[key], buffers_r[key], key, tolerance=1e-9)
