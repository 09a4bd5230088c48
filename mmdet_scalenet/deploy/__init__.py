"""Inference deployment: the exact fast path (BatchNorm folded, fused oneDNN convs) of a backbone or a whole model,
and ONNX export."""
from .fuse import FusedBlocks, FusedConv2d, FusedSABottleneck, FusedScaleNet, fold_conv_bn, fuse_scalenet
from .fuse_model import fuse_model
from .onnx import check_onnx, export_onnx, min_input_size

__all__ = [
    'FusedBlocks', 'FusedConv2d', 'FusedSABottleneck', 'FusedScaleNet', 'check_onnx', 'export_onnx', 'fold_conv_bn',
    'fuse_model', 'fuse_scalenet', 'min_input_size'
]
