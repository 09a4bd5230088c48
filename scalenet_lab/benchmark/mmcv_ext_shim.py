"""A stand-in for mmcv's compiled ops (``mmcv._ext``) for the GPU benchmark, where mmcv 2.1.0 cannot be built in
the time a lent GPU machine gives (tools/benchmark_gpu.sh installs mmcv's Python sources and this file as
``mmcv/_ext.py``).

A Faster R-CNN needs two of mmcv's ops; both run torchvision's CUDA and CPU kernels, which compute the same
functions: ``roi_align`` (average pooling, ``aligned`` as mmcv; forward and backward) and ``nms`` (``offset=0``, as
mmdet 3.x uses it). Both detectors of a comparison use them alike. Every other op of ``mmcv._ext`` exists by name
(mmcv checks the names at import) and raises ``NotImplementedError`` when called. Tested against mmcv's compiled
ops on CPU (tests/lab/test_benchmark_gpu.py).
"""
import torch
import torchvision  # noqa: F401 (registers torch.ops.torchvision.*)

#: Read by the benchmark's report: mmcv's ops are this stand-in.
TORCHVISION_SHIM = True

__all__ = ['TORCHVISION_SHIM', 'nms', 'roi_align_backward', 'roi_align_forward']

_AVG = 1  # mmcv's pool_mode for 'avg'


def nms(bboxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float, offset: int = 0) -> torch.Tensor:
    """Indices of the boxes kept, by decreasing score (mmcv's ``nms`` with ``offset=0``)."""
    if offset != 0:
        raise NotImplementedError('mmcv._ext stand-in: nms with offset=1 (mmdet 2.x boxes) is not available')
    return torch.ops.torchvision.nms(bboxes, scores, float(iou_threshold))


def _check_avg(pool_mode: int) -> None:
    if pool_mode != _AVG:
        raise NotImplementedError("mmcv._ext stand-in: roi_align with pool_mode='max' is not available")


def roi_align_forward(input, rois, output, argmax_y, argmax_x, aligned_height, aligned_width, spatial_scale,
                      sampling_ratio, pool_mode, aligned):
    """mmcv's ``roi_align_forward``: writes the pooled features into ``output``."""
    _check_avg(pool_mode)
    output.copy_(torch.ops.torchvision.roi_align(input, rois, float(spatial_scale), int(aligned_height),
                                                 int(aligned_width), int(sampling_ratio), bool(aligned)))


def roi_align_backward(grad_output, rois, argmax_y, argmax_x, grad_input, aligned_height, aligned_width,
                       spatial_scale, sampling_ratio, pool_mode, aligned):
    """mmcv's ``roi_align_backward``: writes the input's gradient into ``grad_input``."""
    _check_avg(pool_mode)
    batch, channels, height, width = grad_input.shape
    grad_input.copy_(torch.ops.torchvision._roi_align_backward(
        grad_output, rois, float(spatial_scale), int(aligned_height), int(aligned_width), batch, channels, height,
        width, int(sampling_ratio), bool(aligned)))


def __getattr__(name: str):
    if name.startswith('__'):
        raise AttributeError(name)

    def unavailable(*args, **kwargs):
        raise NotImplementedError(f'mmcv._ext stand-in (scalenet_lab/benchmark/mmcv_ext_shim.py): mmcv op {name!r} '
                                  'is not available; build mmcv with its ops to run it')

    return unavailable
