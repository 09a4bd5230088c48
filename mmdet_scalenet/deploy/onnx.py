"""ONNX export of a ScaleNet backbone with a dynamic input size, for static-graph runtimes (onnxruntime, TensorRT)
that can run the scale-aggregation branches in parallel, as the authors recommend.

The exported graph is the exact fast path (:func:`~mmdet_scalenet.deploy.fuse.fuse_scalenet`: BatchNorms folded)
traced by ``torch.onnx.export(..., dynamo=True)`` with symbolic batch, height and width. The branch upsampling's
nearest-or-bilinear choice, which depends on the runtime sizes, is computed in the graph (both are evaluated, the
model's rule selects one), so one file serves every size.

Restriction: the graph is valid for inputs of at least :func:`min_input_size` per side (221 for structures whose
stage-4 blocks have a factor-7 branch, less otherwise), where every branch's map is at least as large as its pooling
factor. Below that the model clamps the pooling window to the map (``downsample_by``), a shape-dependent choice
the ONNX graph does not contain; the export therefore declares that minimum and :func:`export_onnx` records it in
the file's metadata (``min_input_size``).
"""
import os
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from ..structure import Structure
from ..utils.fileio import check_writable, write_atomically
from .fuse import fuse_scalenet

__all__ = ['check_onnx', 'export_onnx', 'min_input_size']


def _stem(side: int) -> int:
    side = (side + 2 * 3 - 7) // 2 + 1  # 7x7 conv, stride 2, pad 3
    return (side + 2 * 1 - 3) // 2 + 1  # 3x3 max-pool, stride 2, pad 1


def min_input_size(structure: Structure, num_stages: int = 4, strides: Optional[Sequence[int]] = None) -> int:
    """The smallest input side for which no branch of ``structure`` (with the stage ``strides``, default the
    network's ``(1, 2, 2, 2)``) pools a map smaller than its factor."""
    strides = tuple(strides) if strides is not None else (1, 2, 2, 2)[:num_stages]
    stages = [structure.stage(i) for i in range(num_stages)]
    for side in range(32, 4097):
        s, ok = _stem(side), True
        for i, blocks in enumerate(stages):
            if s < strides[i]:
                ok = False
                break
            s //= strides[i]
            factors = [f for channels in blocks for f, c in zip(structure.scale_factors, channels) if c > 0]
            if s < max(factors):
                ok = False
                break
        if ok:
            return side
    raise ValueError(f'{structure.name}: no input side up to 4096 avoids clamped pooling')


def export_onnx(model: nn.Module, path: str, max_size: int = 4096, opset: Optional[int] = None,
                verbose: bool = False, overwrite: bool = False) -> str:
    """Export ScaleNet ``model`` (eval-mode semantics, BatchNorms folded) to ``path`` with a dynamic batch, height
    and width (each side from :func:`min_input_size` to ``max_size``). Returns ``path``.

    Outputs are named ``stage{i}`` for the model's ``out_indices``; metadata ``min_input_size`` holds the minimum.
    ``path`` is checked before the export (an existing file is an error unless ``overwrite``; its directory must
    exist) and written atomically, so an interrupted export leaves no partial file.
    """
    import onnx
    path = os.fspath(path)
    check_writable(path, overwrite)
    fused = fuse_scalenet(model, channels_last=False, merge_shortcut=False).cpu().float()
    low = min_input_size(model.structure, model.num_stages, model.strides)
    height = torch.export.Dim('height', min=low, max=max_size)
    width = torch.export.Dim('width', min=low, max=max_size)
    batch = torch.export.Dim('batch', min=1, max=256)
    example = torch.randn(2, 3, max(low, 224), max(low, 224))
    names = [f'stage{i + 1}' for i in model.out_indices]
    with torch.no_grad():
        program = torch.onnx.export(
            fused, (example, ), None, dynamo=True, input_names=['input'], output_names=names, opset_version=opset,
            dynamic_shapes=({0: batch, 2: height, 3: width}, ), verbose=verbose)
    proto = program.model_proto
    entry = proto.metadata_props.add()
    entry.key, entry.value = 'min_input_size', str(low)
    write_atomically(path, lambda tmp: onnx.save_model(proto, tmp), overwrite=overwrite)
    return path


def check_onnx(path: str, model: nn.Module, sizes: Sequence[Tuple[int, int]], batch: int = 1,
               seed: int = 0) -> List[Dict[str, float]]:
    """Run the ONNX file with onnxruntime (CPU) and the eval-mode ``model`` on random inputs of each size.

    Returns, per size, the max abs error of each output divided by ``max(1, max |PyTorch output|)``.
    """
    import onnxruntime as ort
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    input_name = session.get_inputs()[0].name
    output_names = [o.name for o in session.get_outputs()]
    was_training = model.training
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    results = []
    try:
        for size in sizes:
            x = torch.randn(batch, 3, *size, generator=generator)
            with torch.no_grad():
                expected = model(x)
            actual = session.run(None, {input_name: x.numpy()})
            errors = {}
            for name, a, e in zip(output_names, actual, expected):
                if tuple(a.shape) != tuple(e.shape):
                    raise AssertionError(f'{path}: output {name} at {size} has shape {a.shape}, '
                                         f'PyTorch {tuple(e.shape)}')
                scale = max(1.0, e.abs().max().item())
                errors[name] = (torch.from_numpy(a) - e).abs().max().item() / scale
            results.append(errors)
    finally:
        model.train(was_training)
    return results
