"""Where the coarse-branch atlas (:mod:`mmdet_scalenet.models.atlas`) pays, stage by stage: the fused fast path's
eager time with the atlas against without (paired per repeat, interleaved), kernel launches of a compiled stage with
and without it, and the multiply-accumulates it adds. docs/benchmark.md ("Kernel launches") has the command and the
results behind where the atlas runs."""
import copy
import functools
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn as nn

from mmdet_scalenet import ScaleNet
from mmdet_scalenet.deploy import fuse_scalenet
from mmdet_scalenet.models.atlas import atlas_gap, atlas_macs
from mmdet_scalenet.models.bottleneck import SABottleneck

from .compiled import compile_in_place
from .launches import compiled_kernel_calls
from .timing import Timing, interleaved, ratio_stats

__all__ = ['atlas_report', 'compiled_ratios', 'compiled_stage_launches', 'fused_stage_ratios', 'stage_macs',
           'without_atlas']


def _stage_inputs(model: nn.Module, x: torch.Tensor) -> List[torch.Tensor]:
    """The input of every stage of ``model`` (a ScaleNet or its fused copy) on ``x``."""
    inputs = []
    with torch.no_grad():
        x = model.forward_stem(x)
        for name in model.res_layers:
            inputs.append(x)
            x = getattr(model, name)(x)
    return inputs


def fused_stage_ratios(model: ScaleNet, size: Tuple[int, int], repeats: int = 15,
                       warmup: int = 3) -> List[Tuple[float, float, float]]:
    """Per stage of ``fuse_scalenet(model)`` on one image of ``size``: the eager time with every eligible block's
    atlas on, over the time with it off, ``(median, low, high)`` of the ratios paired per repeat."""
    fused = fuse_scalenet(model)
    x = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(0))
    ratios = []
    for name, stage_input in zip(fused.res_layers, _stage_inputs(fused, x)):
        stage = getattr(fused, name)

        def run(on: bool, stage=stage, stage_input=stage_input):
            for block in stage:
                block.eager_atlas = on
            with torch.no_grad():
                return stage(stage_input)

        timings: Dict[str, Timing] = interleaved({'atlas': lambda: run(True), 'apart': lambda: run(False)},
                                                 repeats=repeats, warmup=warmup, device=x.device)
        ratios.append(ratio_stats(timings['atlas'], timings['apart']))
    return ratios


def without_atlas(module: nn.Module) -> nn.Module:
    """A copy of ``module`` (a ScaleNet, a stage, a block) whose blocks run their branches apart when compiled too:
    the network before the atlas, for comparison."""
    module = copy.deepcopy(module)
    for block in module.modules():
        if isinstance(block, SABottleneck):
            block.atlas_keys = ()
    return module


def compiled_stage_launches(model: ScaleNet, size: Tuple[int, int]) -> List[Tuple[int, int]]:
    """Per stage of ``model`` on one image of ``size``: kernel calls of the stage compiled by inductor (static shapes,
    an eval forward) ``(with the atlas, without)``."""
    x = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(0))
    model.eval()
    counts = []
    for name, stage_input in zip(model.res_layers, _stage_inputs(model, x)):

        def forward(module, stage_input=stage_input):
            with torch.no_grad():
                return module(stage_input)

        stage = getattr(model, name)
        counts.append((compiled_kernel_calls(stage, forward, graphs=1),
                       compiled_kernel_calls(without_atlas(stage), forward, graphs=1)))
    return counts


def stage_macs(model: ScaleNet, size: Tuple[int, int]) -> List[Tuple[int, int]]:
    """Per stage of ``model`` on one image of ``size``: the multiply-accumulates of the atlas branches' convs,
    ``(run apart, as atlases)`` (:func:`~mmdet_scalenet.models.atlas.atlas_macs`)."""
    sizes: Dict[nn.Module, Tuple[int, int]] = {}
    hooks = [conv.register_forward_pre_hook(lambda conv, args: sizes.__setitem__(conv, tuple(args[0].shape[-2:])))
             for block in model.modules() if isinstance(block, SABottleneck) for conv in block.conv2.values()]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 3, *size))
    for hook in hooks:
        hook.remove()
    macs = []
    for name in model.res_layers:
        apart = atlas = 0
        for block in getattr(model, name):
            if not block.atlas_keys:
                continue
            convs = [block.conv2[key] for key in block.atlas_keys]
            one, other = atlas_macs([sizes[conv] for conv in convs], [conv.out_channels for conv in convs],
                                    convs[0].in_channels, convs[0].kernel_size[0], atlas_gap(convs[0]))
            apart, atlas = apart + one, atlas + other
        macs.append((apart, atlas))
    return macs


def atlas_report(sizes: Sequence[Tuple[int, int]] = ((224, 224), (800, 1216)), structure: str = 'scalenet50',
                 repeats: int = 15, launches: bool = False) -> str:
    """A Markdown table per stage of ScaleNet-50 (``structure``, random weights): the fused path's eager time ratio
    atlas / apart and the added MACs at each of ``sizes``, and with ``launches`` the compiled eval kernel calls of
    each stage at the first size."""
    model = ScaleNet(depth=50, structure=structure, init_cfg=None).eval()
    total = {size: _network_macs(model, size) for size in sizes}
    columns = {size: (fused_stage_ratios(model, size, repeats=repeats), stage_macs(model, size)) for size in sizes}
    header = ['stage']
    for h, w in sizes:
        header += [f'fused eager atlas / apart, {h}x{w}', f'atlas MACs (M), {h}x{w}']
    calls = compiled_stage_launches(model, sizes[0]) if launches else None
    if calls:
        header.append(f'compiled eval launches, {sizes[0][0]}x{sizes[0][1]}, with / without')
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    for stage in range(len(model.res_layers)):
        row = [str(stage + 1)]
        for size in sizes:
            (median, low, high), (apart, atlas) = columns[size][0][stage], columns[size][1][stage]
            row += [f'{median:.3f} [{low:.3f}-{high:.3f}]',
                    f'{apart / 1e6:.0f} -> {atlas / 1e6:.0f} (+{(atlas - apart) / total[size]:.1%} of the network)']
        if calls:
            row.append(f'{calls[stage][0]} / {calls[stage][1]}')
        lines.append('| ' + ' | '.join(row) + ' |')
    return '\n'.join(lines)


def compiled_ratios(size: Tuple[int, int] = (800, 1216), repeats: int = 9, backend: str = 'inductor') -> str:
    """Eval of the backbones compiled by inductor (static shapes, batch 1, random weights), paired per repeat:
    ScaleNet-50 with the atlas and with its branches apart, each against mmdet's ResNet-50, and against each other.
    ``backend='eager'`` traces without generating code (a quick check of the plumbing)."""
    from mmdet.models.backbones import ResNet
    scalenet = ScaleNet(depth=50, init_cfg=None)
    models = {'ScaleNet-50': scalenet, 'ScaleNet-50, branches apart': without_atlas(scalenet), 'ResNet-50': ResNet(50)}
    x = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(0))
    cases = {}
    for name, model in models.items():
        model.eval()
        compile_in_place(model, detector=False, mode='compiled', backend=backend, dynamic=False)
        cases[name] = functools.partial(model, x)
    with torch.no_grad():
        timings = interleaved(cases, repeats=repeats, warmup=1, device=torch.device('cpu'))
    pairs = [('ScaleNet-50', 'ResNet-50'), ('ScaleNet-50, branches apart', 'ResNet-50'),
             ('ScaleNet-50', 'ScaleNet-50, branches apart')]
    threads = torch.get_num_threads()
    lines = [f'compiled eval, {size[0]}x{size[1]}, batch 1, {threads} threads, {repeats} paired repeats:']
    for numerator, denominator in pairs:
        median, low, high = ratio_stats(timings[numerator], timings[denominator])
        lines.append(f'{numerator} / {denominator}: {median:.3f} [{low:.3f}-{high:.3f}]')
    return '\n'.join(lines)


def _network_macs(model: ScaleNet, size: Tuple[int, int]) -> int:
    from ..complexity import count_macs
    return sum(count_macs(model, torch.zeros(1, 3, *size)).values())
