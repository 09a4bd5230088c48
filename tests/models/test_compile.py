"""ScaleNet under torch.compile: one graph for every size a detector pads to (no more graphs than ResNet-50, no graph
break), in eval and in a training step, and inductor's output equal to eager."""
import pytest
import torch
import torch._dynamo

from mmdet_scalenet import ScaleNet, ScaleNetResLayer

from ..common import GraphCounter

# Padded sizes of mmdet's multi-scale COCO training (multiples of 32, both orientations; shorter sides 448-608 to keep
# the test quick), at the batch of 2 images per GPU of mmdet's configs. Every pooled map is then larger than 1x1 (a
# size-1 dim is specialised by dynamo: a recompile in any network), while the nearest/bilinear choice of the coarse
# branches changes from size to size. (At batch 1 on CPU, aten's choice between oneDNN and its own conv for small maps
# is a size guard too.)
DETECTION_SIZES = [(448, 608), (480, 640), (512, 672), (544, 736), (576, 768), (640, 480), (672, 512), (736, 544)]
BATCH = 2


def count_graphs(model, training: bool) -> int:
    torch._dynamo.reset()
    counter = GraphCounter()
    compiled = torch.compile(model, backend=counter, dynamic=True, fullgraph=True)  # fullgraph: a break is an error
    model.train(training)
    for size in DETECTION_SIZES:
        x = torch.randn(BATCH, 3, *size, requires_grad=training)
        if training:
            sum(out.sum() for out in compiled(x)).backward()
        else:
            with torch.no_grad():
                compiled(x)
    torch._dynamo.reset()
    return counter.graphs


@pytest.mark.slow
@pytest.mark.parametrize('training', [False, True], ids=['eval', 'train-norm_eval'])
def test_no_more_graphs_than_resnet_over_detection_sizes(training):
    from mmdet.models.backbones import ResNet
    with torch._dynamo.config.patch(cache_size_limit=64):
        scalenet = count_graphs(ScaleNet(depth=50, norm_eval=True), training)
        resnet = count_graphs(ResNet(depth=50, norm_eval=True), training)
    print(f'graphs over {len(DETECTION_SIZES)} sizes ({"train" if training else "eval"}): ScaleNet-50 {scalenet}, '
          f'ResNet-50 {resnet}')
    assert scalenet <= resnet, (scalenet, resnet)


def test_the_c4_head_and_dilated_stages_trace_without_breaks():
    with torch._dynamo.config.patch(cache_size_limit=64):
        head = ScaleNetResLayer(depth=50, structure='scalenet50_light').eval()
        torch._dynamo.reset()
        counter = GraphCounter()
        compiled = torch.compile(head, backend=counter, dynamic=True, fullgraph=True)
        with torch.no_grad():
            for rois in (3, 7):
                x = torch.randn(rois, 1024, 14, 14)
                torch.testing.assert_close(compiled(x), head(x))
        assert counter.graphs <= 2
        dilated = ScaleNet(depth=50, structure='scalenet50_light', strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4)).eval()
        torch._dynamo.reset()
        counter = GraphCounter()
        compiled = torch.compile(dilated, backend=counter, dynamic=True, fullgraph=True)
        with torch.no_grad():
            for size in ((96, 128), (104, 120), (128, 96)):
                x = torch.randn(1, 3, *size)
                for a, e in zip(compiled(x), dilated(x)):
                    torch.testing.assert_close(a, e)
        assert counter.graphs <= 2
    torch._dynamo.reset()


@pytest.mark.slow
def test_inductor_equals_eager_in_eval_and_training(randomised):
    """The generated code (inductor's C++ backend on CPU) against eager, outputs and input gradients, on stages 1-2
    of the light structure at sizes that take both upsamplings: 96x128 (stage 1 maps 24x32: the factor-2 and -4
    branches nearest, factor 7 bilinear) in eval, 100x124 (25x31: every coarse branch bilinear) in a training step.
    Static shapes: inductor's code for symbolic sizes takes minutes to generate on 2 cores."""
    torch.manual_seed(0)
    model = randomised(ScaleNet(depth=50, structure='scalenet50_light', num_stages=2, out_indices=(0, 1),
                                norm_eval=True, init_cfg=None))
    torch._dynamo.reset()
    compiled = torch.compile(model, dynamic=False)
    x = torch.randn(2, 3, 96, 128)
    model.eval()
    with torch.no_grad():
        expected, actual = model(x), compiled(x)
    for a, e in zip(actual, expected):
        torch.testing.assert_close(a, e, rtol=1e-4, atol=1e-4 * max(1.0, e.abs().max().item()))
    model.train()
    x = torch.randn(2, 3, 100, 124)
    xe, xc = x.clone().requires_grad_(), x.clone().requires_grad_()
    outs = model(xe)
    weights = [torch.randn_like(o) for o in outs]
    sum((o * w).sum() for o, w in zip(outs, weights)).backward()
    compiled_outs = compiled(xc)
    for a, e in zip(compiled_outs, outs):
        torch.testing.assert_close(a, e, rtol=1e-4, atol=1e-4 * max(1.0, e.abs().max().item()))
    sum((o * w).sum() for o, w in zip(compiled_outs, weights)).backward()
    # Max-pool sends the gradient to the largest value of its window: where two values are within float rounding
    # of each other, eager and inductor may pick different ones, which moves single gradient values; the gradient
    # as a whole must agree.
    error = ((xc.grad - xe.grad).norm() / xe.grad.norm()).item()
    print(f'input gradient: relative L2 error {error:.2e}')
    assert error <= 1e-3, error
    torch._dynamo.reset()
