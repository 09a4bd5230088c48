"""An exact inference fast path for ScaleNet: every BatchNorm folded into the conv before it, and more.

``fuse_scalenet(model)`` returns a new, inference-only :class:`FusedScaleNet` whose outputs
equal the eval-mode model's up to float rounding (tested to 1e-4 relative); the model itself is left untouched and
trains as before. For a whole detector (or classifier, segmentor) after loading its weights:
:func:`~mmdet_scalenet.deploy.fuse_model.fuse_model` (what ``tools/test.py --fuse`` runs).

What the fast path changes, and why each step is exact:

* **BN folding.** In eval mode a BatchNorm is the per-channel affine map ``y * g + b``. The stem's, ``conv1``'s,
  ``conv3``'s and the shortcut's norms fold into the conv before them as usual. A branch norm comes *after* the
  branch's upsample, but nearest and bilinear (``align_corners=False``) upsampling are per-channel convex
  combinations of input pixels, so ``BN(up(y)) == up(BN(y))``: the branch norm folds into the branch conv too.
* **Fused post-ops, fewer full-resolution tensors.** ReLU (and, for ``conv3``, the residual add then ReLU) run
  inside the convolution (:class:`FusedConv2d`, oneDNN post-ops on CPU), so no separate pass reads and writes the
  output again. ``relu(nearest(y)) == nearest(relu(y))`` (nearest copies values), so a branch upsampled by nearest
  is rectified inside its conv at low resolution; bilinear mixes signs, so those branches are rectified after the
  upsample, as in the model (the rules are the model's own, :mod:`mmdet_scalenet.models.scale_aggregation`).
  oneDNN's fused ReLU maps NaN to 0: an input with NaN or inf runs the plain kernels, so non-finite values
  propagate exactly as in the eval-mode model.
* **Weights reordered once per input shape.** On CPU each conv keeps its weight in the oneDNN layout chosen for
  the latest input shape instead of reordering it on every call (the largest saving on small maps: stages 3 and 4
  at 224x224); a new input shape reorders it again.
* **Pooling chain** (as in the model): the factor-4 branch pools the factor-2 branch's pooled map, a quarter of the
  reads (:func:`~mmdet_scalenet.models.scale_aggregation.pool_branches`).
* **Coarse branches as one conv, compiled**: under ``torch.compile`` each block's coarse branch convs (folded) run as
  one conv over their pooled maps side by side (:mod:`~mmdet_scalenet.models.atlas`), fewer kernel launches; in
  eager they run apart, measured faster on CPU (``eager_atlas`` turns it on per block).
* **Channels-last** (default): weights and activations in NHWC, the layout oneDNN's convolutions run on without
  reordering activations (outputs are channels-last tensors with the same values).
* **Shared input** (``merge_shortcut=True``, off by default): in the first block of a stage, ``conv1`` and the
  shortcut projection (both 1x1 convs of the same tensor) run as one conv whose output is split. Measured on CPU it
  does not pay: the split output costs the ReLU and residual-add fusion a copy.

Only BatchNorm can be folded: a model built with GroupNorm (whose eval output depends on the input's statistics)
or with a conv type other than ``nn.Conv2d`` is refused with a ``ValueError``, and so is a model with deformable
convs (``dcn``) or ``plugins``, naming the argument. Strides and dilations are supported.

Under ``torch.export`` (and so ``torch.onnx.export(..., dynamo=True)``) the convs run as plain ``F.conv2d`` and the
nearest-or-bilinear choice, which depends on the runtime sizes, is computed in the graph
(:func:`~mmdet_scalenet.models.scale_aggregation.upsample_to`), so one exported graph serves every input size; see
:mod:`mmdet_scalenet.deploy.onnx` and ``tools/export_onnx.py``.
"""
import contextlib
import contextvars
import copy
import functools
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.modules.batchnorm import _BatchNorm

from ..models.atlas import Atlas, atlas_gap
from ..models.bottleneck import BottleneckFlow, SABottleneck
from ..models.scale_aggregation import repeats_values, upsample_to
from ..models.scalenet import BackboneFlow, ScaleNet

__all__ = ['FusedBlocks', 'FusedConv2d', 'FusedSABottleneck', 'FusedScaleNet', 'exact_where_non_finite', 'fold_conv_bn',
           'fuse_scalenet']


def _check_conv(conv: nn.Module, name: str) -> nn.Conv2d:
    if type(conv) is not nn.Conv2d:
        raise ValueError(f'{name}: only nn.Conv2d can be fused, got {type(conv).__name__} (conv_cfg)')
    if conv.groups != 1 or conv.padding_mode != 'zeros':
        raise ValueError(f'{name}: only plain convs (groups=1, zero padding) can be fused')
    return conv


def _check_bn(norm: nn.Module, name: str) -> _BatchNorm:
    if not isinstance(norm, _BatchNorm):
        raise ValueError(f'{name}: only BatchNorm folds into a conv (it is a per-channel affine map in eval '
                         f'mode), got {type(norm).__name__}')
    if not norm.track_running_stats or norm.running_mean is None:
        raise ValueError(f'{name}: a BatchNorm without running statistics cannot be folded')
    return norm


def fold_conv_bn(conv: nn.Conv2d, norm: _BatchNorm, name: str = 'conv') -> nn.Conv2d:
    """A new conv (with bias) equal to ``norm(conv(x))`` with ``norm`` in eval mode; computed in float64."""
    conv, norm = _check_conv(conv, name), _check_bn(norm, name)
    weight = conv.weight.detach().double()
    bias = conv.bias.detach().double() if conv.bias is not None else torch.zeros(
        conv.out_channels, dtype=torch.float64, device=weight.device)
    scale = torch.rsqrt(norm.running_var.double() + norm.eps)
    if norm.affine:
        scale = scale * norm.weight.detach().double()
    shift = -norm.running_mean.double() * scale
    if norm.affine:
        shift = shift + norm.bias.detach().double()
    fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                      padding=conv.padding, dilation=conv.dilation, bias=True).to(device=weight.device,
                                                                                  dtype=conv.weight.dtype)
    fused.weight.data.copy_(weight * scale.reshape(-1, 1, 1, 1))
    fused.bias.data.copy_(bias * scale + shift)
    return fused.requires_grad_(False)


def _concat_convs(convs: Sequence[nn.Conv2d]) -> nn.Conv2d:
    """One conv computing ``cat([c(x) for c in convs], dim=1)``; the convs must agree on everything else."""
    first = convs[0]
    for conv in convs[1:]:
        if (conv.in_channels, conv.kernel_size, conv.stride, conv.padding, conv.dilation) != (
                first.in_channels, first.kernel_size, first.stride, first.padding, first.dilation):
            raise ValueError('convs to merge must share input channels, kernel, stride, padding and dilation')
    merged = nn.Conv2d(first.in_channels, sum(c.out_channels for c in convs), first.kernel_size,
                       stride=first.stride, padding=first.padding, dilation=first.dilation,
                       bias=True).to(first.weight)
    merged.weight.data.copy_(torch.cat([c.weight.detach() for c in convs]))
    merged.bias.data.copy_(torch.cat([c.bias.detach() for c in convs]))
    return merged.requires_grad_(False)


@functools.lru_cache(maxsize=None)
def _onednn_available() -> bool:
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, '_convolution_pointwise')


_PLAIN_KERNELS = contextvars.ContextVar('plain_kernels', default=False)


@contextlib.contextmanager
def plain_kernels():
    """Within this context :class:`FusedConv2d` runs ``F.conv2d``, ``+``, ``torch.relu``: the model's kernels."""
    token = _PLAIN_KERNELS.set(True)
    try:
        yield
    finally:
        _PLAIN_KERNELS.reset(token)


def exact_where_non_finite(forward: Callable[[torch.Tensor], Any], x: torch.Tensor) -> Any:
    """``forward(x)`` for fused blocks, on the model's kernels where ``x`` holds NaN or inf: oneDNN's fused ReLU maps
    NaN to 0 where ``torch.relu`` keeps it (cuDNN's is not relied on either), so plain kernels give the model's
    NaN/inf. One check of the input per forward, not per conv."""
    if _uses_fused_relu(x) and not bool(torch.isfinite(x).all()):
        with plain_kernels():
            return forward(x)
    return forward(x)


def _eager_inference(x: torch.Tensor) -> bool:
    """Whether ``x`` is an eager inference input: no grad, not traced, compiled or exported, plain kernels not
    asked for (the fused kernels are for eager inference only). Callers ask this before the backends' availability:
    dynamo does not trace ``torch.backends``' checks, and each would break a compiled graph at every conv."""
    if torch.compiler.is_compiling() or torch.compiler.is_exporting():
        return False
    return (not x.requires_grad and not torch.is_grad_enabled() and not _PLAIN_KERNELS.get()
            and not torch.jit.is_tracing() and not torch.jit.is_scripting())


def _uses_onednn(x: torch.Tensor) -> bool:
    """Whether :class:`FusedConv2d` runs oneDNN's fused kernels on ``x``: CPU float32 inference, not traced."""
    return x.device.type == 'cpu' and x.dtype == torch.float32 and _eager_inference(x) and _onednn_available()


#: The dtypes cuDNN's fused convolutions run here.
_CUDNN_DTYPES = (torch.float32, torch.float16)


def _uses_cudnn(x: torch.Tensor) -> bool:
    """Whether :class:`FusedConv2d` runs cuDNN's fused kernels on ``x``: CUDA float32 or float16 inference with cuDNN
    on, not traced, and not while a CUDA graph is captured (the fused path's non-finite check needs a sync)."""
    return (x.device.type == 'cuda' and x.dtype in _CUDNN_DTYPES and _eager_inference(x)
            and torch.backends.cudnn.enabled and torch.backends.cudnn.is_available()
            and not torch.cuda.is_current_stream_capturing())


def _uses_fused_relu(x: torch.Tensor) -> bool:
    """Whether :class:`FusedConv2d` applies ReLU inside a fused kernel (oneDNN or cuDNN) on ``x``."""
    return _uses_onednn(x) or _uses_cudnn(x)


class FusedConv2d(nn.Conv2d):
    """A BN-folded conv (with bias) that applies an optional residual add and ReLU as part of the convolution.

    On CPU in float32 (outside ``torch.export``, ``torch.compile`` and tracing) it runs oneDNN's fused
    convolution (``torch.ops.mkldnn._convolution_pointwise``, the kernel ``torch.compile`` uses on CPU) with the
    weight kept in oneDNN's layout for the latest input shape, and the add and ReLU as post-ops: no extra pass
    over the output. On CUDA in float32 or float16 (likewise outside tracing, and not while a CUDA graph is
    captured) a conv with ReLU runs as one cuDNN kernel, ``torch.cudnn_convolution_relu`` or, with the residual,
    ``torch.cudnn_convolution_add_relu``. Elsewhere it runs ``F.conv2d``, then ``+ residual``, then ReLU: the same
    values.
    """

    def __init__(self, conv: nn.Conv2d, relu: bool = False):
        super().__init__(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                         padding=conv.padding, dilation=conv.dilation, bias=True, device=conv.weight.device,
                         dtype=conv.weight.dtype)
        self.weight.data.copy_(conv.weight.detach())
        self.bias.data.copy_(conv.bias.detach())
        self.requires_grad_(False)
        self.relu = relu
        self._packed = None  # ((weight version, channels-last, input shape), oneDNN weight): a cache

    def __getstate__(self):
        state = super().__getstate__()
        state = dict(state, _packed=None)
        return state

    def _apply(self, fn, recurse=True):
        self._packed = None
        return super()._apply(fn, recurse)

    def _use_onednn(self, x: torch.Tensor) -> bool:
        return self.weight.dtype == torch.float32 and _uses_onednn(x)

    def _use_cudnn(self, x: torch.Tensor) -> bool:
        return self.weight.dtype == x.dtype and self.weight.device == x.device and _uses_cudnn(x)

    def _packed_weight(self, x: torch.Tensor) -> torch.Tensor:
        # oneDNN picks the weight layout for the input's shape: one packed for 224x224 runs 1.5x slower at
        # 800x1216 (measured), so the cache holds the weight packed for the latest input shape.
        channels_last = x.is_contiguous(memory_format=torch.channels_last)
        key = (self.weight._version, channels_last, tuple(x.shape))
        if self._packed is None or self._packed[0] != key:
            weight = self.weight.detach()
            if channels_last:
                weight = weight.contiguous(memory_format=torch.channels_last)
            packed = torch.ops.mkldnn._reorder_convolution_weight(
                weight, list(self.padding), list(self.stride), list(self.dilation), self.groups, list(x.shape))
            self._packed = (key, packed)
        return self._packed[1]

    def forward(self, x: torch.Tensor, residual: Optional[torch.Tensor] = None,
                relu: Optional[bool] = None) -> torch.Tensor:
        """``relu?(conv(x) + residual?)``; ``relu`` overrides the flag given at construction."""
        relu = self.relu if relu is None else relu
        if self._use_onednn(x):
            weight = self._packed_weight(x)
            args = (list(self.padding), list(self.stride), list(self.dilation), self.groups)
            if residual is None:
                return torch.ops.mkldnn._convolution_pointwise(x, weight, self.bias, *args,
                                                               'relu' if relu else 'none', [], '')
            layout = (torch.channels_last if x.is_contiguous(memory_format=torch.channels_last)
                      else torch.contiguous_format)
            return torch.ops.mkldnn._convolution_pointwise.binary(
                x, residual.contiguous(memory_format=layout), weight, self.bias, *args, 'add', None,
                'relu' if relu else None, [], '')
        if relu and self._use_cudnn(x):  # cuDNN fuses only with ReLU; without it the plain conv is one kernel too
            args = (list(self.stride), list(self.padding), list(self.dilation), self.groups)
            if residual is None:
                return torch.cudnn_convolution_relu(x, self.weight, self.bias, *args)
            return torch.cudnn_convolution_add_relu(x, self.weight, residual, 1.0, self.bias, *args)
        y = F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        if residual is not None:
            y = y + residual
        return F.relu(y) if relu else y


class FusedSABottleneck(BottleneckFlow, nn.Module):
    """Inference-only :class:`SABottleneck` with every norm folded (see the module docstring).

    Args:
        block: the bottleneck to fuse (read, not changed); its norms must be BatchNorms.
        merge_shortcut: run ``conv1`` and the shortcut projection (when the block has one) as one conv.
    """

    def __init__(self, block: SABottleneck, merge_shortcut: bool = False):
        super().__init__()
        self.stride = block.stride
        self.planes = block.conv1.out_channels
        self.factors: Dict[str, int] = dict(block.factors)
        conv1 = fold_conv_bn(block.conv1, block.norm1, 'conv1')
        shortcut = None
        if block.downsample is not None:
            modules = list(block.downsample)
            if len(modules) != 2:
                raise ValueError(f'downsample: expected (conv, norm), got {len(modules)} modules')
            shortcut = fold_conv_bn(modules[0], modules[1], 'downsample')
        self.merged = merge_shortcut and shortcut is not None
        if self.merged:
            self.conv1 = FusedConv2d(_concat_convs([conv1, shortcut]))
            self.downsample = None
        else:
            self.conv1 = FusedConv2d(conv1, relu=True)
            self.downsample = FusedConv2d(shortcut) if shortcut is not None else None
        folded = {key: fold_conv_bn(conv, block.norm2[key], f'conv2.{key}') for key, conv in block.conv2.items()}
        self.conv2 = nn.ModuleDict({key: FusedConv2d(conv) for key, conv in folded.items()})
        self._build_atlas(block, folded)
        self.conv3 = FusedConv2d(fold_conv_bn(block.conv3, block.norm3, 'conv3'), relu=True)

    def _build_atlas(self, block: SABottleneck, folded: Dict[str, nn.Conv2d]) -> None:
        """The block's atlas branches (:mod:`~mmdet_scalenet.models.atlas`) as one folded conv, run in a compiled
        graph. ``eager_atlas``: whether eager inference runs it too; off, as measured on CPU, where the atlas's
        extra arithmetic costs more than the conv calls it saves in every stage (docs/benchmark.md, "Kernel
        launches")."""
        self.atlas_keys = block.atlas_keys
        self.eager_atlas = False
        if self.atlas_keys:
            convs = [folded[key] for key in self.atlas_keys]
            self.atlas_conv = FusedConv2d(_concat_convs(convs))
            self.atlas_channels = tuple(conv.out_channels for conv in convs)
            self.atlas_gap = atlas_gap(convs[0])
            self._share_atlas_weights()

    def _share_atlas_weights(self) -> None:
        """Point the atlas branches' own convs (eager inference runs them) at their rows of the atlas conv's weight and
        bias: the folded weights once in memory, not twice. Views: the oneDNN weight cache of each conv keys on the
        weight's version, which a view shares with the atlas conv's."""
        start = 0
        for key, width in zip(self.atlas_keys, self.atlas_channels):
            conv = self.conv2[key]
            for name in ('weight', 'bias'):
                rows = getattr(self.atlas_conv, name)[start:start + width]
                setattr(conv, name, nn.Parameter(rows, requires_grad=False))
            conv._packed = None
            start += width

    def _apply(self, fn, recurse=True):
        # .to(), .half(), .cuda() convert each parameter on its own, which would part the views again
        super()._apply(fn, recurse)
        if self.atlas_keys:
            self._share_atlas_weights()
        return self

    def __setstate__(self, state):
        # copy.deepcopy clones each parameter on its own, and so does unpickling a pickle made without the views
        super().__setstate__(state)
        if self.atlas_keys:
            self._share_atlas_weights()

    def reduce(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        if self.merged:
            both = self.conv1(x)
            return F.relu(both[:, :self.planes]), both[:, self.planes:]
        return self.conv1(x), x if self.downsample is None else self.downsample(x)

    def branch(self, key: str, low: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
        """The model's branch with its norm folded into the conv; the ReLU runs inside the conv where the model's
        upsampling repeats values (ReLU commutes with it), after the upsampling otherwise."""
        conv = self.conv2[key]
        if repeats_values(size, (low.shape[-2], low.shape[-1])):  # stride 1, 'same' padding: the conv keeps the size
            return upsample_to(conv(low, relu=True), size)
        # In place: a new one-channel map would come out NCHW (it is contiguous in both layouts), and the
        # concatenation with it too, which makes conv3 reorder its input and copy the residual (30% of stage 1's
        # time at 800x1216 on CPU).
        return F.relu(upsample_to(conv(low, relu=False), size), inplace=True)

    def _finish_atlas_branch(self, key: str, y: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
        """An atlas branch after its (folded) conv: rectified on the small map where the upsampling repeats
        values, after it otherwise (the atlas conv runs without ReLU: its branches may upsample differently). In
        place, as :meth:`branch` and for the same reason: ``y`` is this branch's view of the atlas conv's output and
        keeps its channels-last strides, where a new 1x1 map would be NCHW."""
        if repeats_values(size, (y.shape[-2], y.shape[-1])):
            return upsample_to(F.relu(y, inplace=True), size)
        return F.relu(upsample_to(y, size), inplace=True)

    def atlas(self) -> Optional[Atlas]:
        """The atlas in a compiled graph (and in eager inference with ``eager_atlas``); not in an exported graph
        (the static-graph runtimes ONNX targets run the branches in parallel)."""
        if not self.atlas_keys or torch.compiler.is_exporting():
            return None
        if not (self.eager_atlas or torch.compiler.is_compiling()):
            return None
        return Atlas(self.atlas_keys, self.atlas_channels, self.atlas_gap, self.atlas_conv, self._finish_atlas_branch)

    def expand(self, out: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        return self.conv3(out, residual=identity)  # relu(conv3(out) + identity), in one kernel on CPU

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.flow(x)

    def train(self, mode: bool = True) -> 'FusedSABottleneck':
        if mode:
            raise RuntimeError('a fused ScaleNet block is inference-only; train the unfused model')
        return super().train(False)


class FusedBlocks(nn.Sequential):
    """Fused SA blocks run one after another, as a stage outside a backbone (a C4 head's stage 4,
    :func:`~.fuse_model.fuse_model`): NaN and inf inputs run the model's kernels, as in :class:`FusedScaleNet`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return exact_where_non_finite(super().forward, x)


class FusedScaleNet(BackboneFlow, nn.Module):
    """Inference-only ScaleNet made by :func:`fuse_scalenet`: same outputs as the eval-mode model.

    ``train(True)`` raises: the norms are gone. Attributes ``out_indices``, ``out_channels``, ``num_stages`` and
    ``structure`` are those of the source model.
    """

    def __init__(self, model: nn.Module, merge_shortcut: bool = False, channels_last: bool = True,
                 nchw_outputs: bool = False):
        super().__init__()
        if not isinstance(model, ScaleNet):
            raise TypeError(f'only a ScaleNet can be fused, got {type(model).__name__}')
        if model.dcn is not None and any(model.stage_with_dcn):
            raise ValueError('dcn: the fast path folds BatchNorms into plain convs and does not run deformable '
                             'convs; run this model unfused (dilations and strides are supported)')
        if model.plugins:
            raise ValueError('plugins: the fast path does not run plugins (they sit between the fused convs and '
                             'their residual add); run this model unfused')
        self.structure = model.structure
        self.in_channels = model.in_channels
        self.num_stages = model.num_stages
        self.out_indices = tuple(model.out_indices)
        self.out_channels = tuple(model.out_channels)
        self.feat_dim = model.feat_dim
        self.channels_last = channels_last
        self.nchw_outputs = nchw_outputs
        self.conv1 = FusedConv2d(fold_conv_bn(model.conv1, model.norm1, 'conv1'), relu=True)
        self.maxpool = copy.deepcopy(model.maxpool)
        self.res_layers = list(model.res_layers)
        for name in self.res_layers:
            blocks = [FusedSABottleneck(block, merge_shortcut=merge_shortcut) for block in getattr(model, name)]
            self.add_module(name, nn.Sequential(*blocks))
        if channels_last:
            self.to(memory_format=torch.channels_last)
        super().train(False)

    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.maxpool(self.conv1(x))

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        outs = exact_where_non_finite(super().forward, x)
        return tuple(out.contiguous() for out in outs) if self.nchw_outputs else outs

    def train(self, mode: bool = True) -> 'FusedScaleNet':
        if mode:
            raise RuntimeError('a fused ScaleNet (fuse_scalenet) is inference-only: its BatchNorms are folded '
                               'into the convs. Train the unfused model; fuse a copy for inference.')
        return super().train(False)


def fuse_scalenet(model: nn.Module, merge_shortcut: bool = False, channels_last: bool = True,
                  nchw_outputs: bool = False) -> FusedScaleNet:
    """The exact inference fast path of a :class:`~mmdet_scalenet.ScaleNet` (see the module docstring).

    Args:
        model: the ScaleNet; read only (it stays trainable and unchanged).
        merge_shortcut: run ``conv1`` and the shortcut projection of each stage's first block as one conv.
        channels_last: keep weights and activations in NHWC (faster convs on CPU with oneDNN, and on GPUs with
            tensor cores); outputs are then channels-last tensors with the same values.
        nchw_outputs: return the outputs as contiguous NCHW tensors, for consumers that read memory as NCHW
            whatever the strides say (mmcv 2.1's CPU ``roi_align`` gives wrong values on channels-last input).

    Returns:
        A new :class:`FusedScaleNet` in eval mode.
    """
    return FusedScaleNet(model, merge_shortcut=merge_shortcut, channels_last=channels_last, nchw_outputs=nchw_outputs)
