"""FusedConv2d's cuDNN branch (``torch.cudnn_convolution_relu`` / ``torch.cudnn_convolution_add_relu``): never taken on
CPU, where the CPU branches are unchanged; on a GPU equal to the plain kernels, and a fused ScaleNet equal to the
eval model, with non-finite inputs propagated as the model does."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmdet_scalenet import ScaleNet
from mmdet_scalenet.deploy import FusedConv2d, fuse_scalenet
from mmdet_scalenet.deploy.fuse import _uses_cudnn, plain_kernels

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')


def _conv(dtype=torch.float32, device='cpu', relu=True, seed=0):
    torch.manual_seed(seed)
    conv = nn.Conv2d(8, 16, 3, padding=2, dilation=2, stride=1, bias=True)
    return FusedConv2d(conv, relu=relu).to(device=device, dtype=dtype)


def _reference(conv, x, residual):
    y = F.conv2d(x, conv.weight, conv.bias, conv.stride, conv.padding, conv.dilation)
    return F.relu(y + residual if residual is not None else y)


@pytest.fixture
def cudnn_spy(monkeypatch):
    """Counts calls of the two cuDNN fused convolutions (on CPU they must never come)."""
    calls = []
    for name in ('cudnn_convolution_relu', 'cudnn_convolution_add_relu'):
        original = getattr(torch, name)

        def spy(*args, _name=name, _original=original, **kwargs):
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(torch, name, spy)
    return calls


@pytest.mark.parametrize('with_residual', [False, True], ids=['relu', 'add-relu'])
def test_cpu_never_takes_the_cudnn_branch_and_float64_is_exact(with_residual, cudnn_spy):
    conv = _conv(torch.float64)
    x = torch.randn(2, 8, 11, 13, dtype=torch.float64)
    residual = torch.randn(2, 16, 11, 13, dtype=torch.float64) if with_residual else None
    assert not _uses_cudnn(x)
    with torch.no_grad():
        actual = conv(x, residual=residual)
        float32 = _conv(torch.float32)(x.float(), residual=None if residual is None else residual.float())
    assert torch.equal(actual, _reference(conv, x, residual))  # the plain kernels, bit for bit
    torch.testing.assert_close(float32, _reference(conv, x, residual).float(), rtol=1e-4, atol=1e-4)  # oneDNN
    assert cudnn_spy == []


@needs_cuda
@pytest.mark.parametrize('dtype, tolerance', [(torch.float32, 1e-4), (torch.float16, 2e-2)], ids=['fp32', 'fp16'])
@pytest.mark.parametrize('channels_last', [False, True], ids=['nchw', 'nhwc'])
@pytest.mark.parametrize('with_residual', [False, True], ids=['relu', 'add-relu'])
def test_cudnn_branch_equals_the_plain_kernels(dtype, tolerance, channels_last, with_residual, cudnn_spy,
                                               monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, 'allow_tf32', False)  # both sides in true float32
    layout = torch.channels_last if channels_last else torch.contiguous_format
    conv = _conv(dtype, 'cuda').to(memory_format=layout)
    x = torch.randn(2, 8, 23, 17, device='cuda', dtype=dtype).contiguous(memory_format=layout)
    residual = torch.randn(2, 16, 23, 17, device='cuda', dtype=dtype) if with_residual else None
    with torch.no_grad():
        fused = conv(x, residual=residual)
        assert cudnn_spy == ['cudnn_convolution_add_relu' if with_residual else 'cudnn_convolution_relu']
        with plain_kernels():
            plain = conv(x, residual=residual)
    assert len(cudnn_spy) == 1
    scale = max(1.0, plain.abs().max().item())
    torch.testing.assert_close(fused.float(), plain.float(), rtol=tolerance, atol=tolerance * scale)


@needs_cuda
def test_fused_scalenet_on_cuda_equals_the_eval_model_and_keeps_non_finite_values(randomised, cudnn_spy,
                                                                                  monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, 'allow_tf32', False)
    model = randomised(ScaleNet(depth=50, structure='scalenet50_light', init_cfg=None)).cuda().eval()
    fused = fuse_scalenet(model)
    x = torch.randn(2, 3, 257, 319, device='cuda')
    with torch.no_grad():
        for a, e in zip(fused(x), model(x)):
            torch.testing.assert_close(a, e, rtol=1e-4, atol=1e-4 * max(1.0, e.abs().max().item()))
        assert cudnn_spy, 'the cuDNN branch did not run'
        x[0, :, 100, 100] = float('nan')
        x[1, 0, 5, 5] = float('inf')
        for a, e in zip(fused(x), model(x)):
            assert torch.equal(torch.isnan(a), torch.isnan(e)) and torch.equal(torch.isinf(a), torch.isinf(e))
