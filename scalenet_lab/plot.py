"""Pictures of structures: the proportion of each block's neurons at each scale, as stacked bars (the paper's
Figure 5, Li et al., CVPR 2019).

Drawn with matplotlib's object API on an Agg canvas (no pyplot, no global backend switch), so it runs headless.
"""
import os
from typing import Optional, Sequence, Union

from mmdet_scalenet.costs import structure_macs
from mmdet_scalenet.structure import Structure
from mmdet_scalenet.utils.fileio import check_writable, write_atomically

__all__ = ['FORMATS', 'plot_structures']

#: Output formats, chosen by the file's extension.
FORMATS = ('png', 'svg', 'pdf')
# One colour per scale factor, fine to coarse, the same in every panel.
_COLOURS = ('#4c72b0', '#dd8452', '#55a868', '#c44e52', '#8172b3', '#937860', '#da8bc3', '#8c8c8c')


def _draw(axes, structure: Structure, title: str, colours: dict) -> None:
    positions = list(range(1, len(structure.blocks) + 1))
    totals = [sum(channels) for channels in structure.blocks]
    bottom = [0.0] * len(positions)
    for i, factor in enumerate(structure.scale_factors):
        shares = [channels[i] / total for channels, total in zip(structure.blocks, totals)]
        label = '1' if factor == 1 else f'1/{factor}'
        axes.bar(positions, shares, bottom=bottom, width=0.85, color=colours[factor], label=label, linewidth=0)
        bottom = [b + s for b, s in zip(bottom, shares)]
    start = 0.5
    for stage, count in enumerate(structure.stage_blocks):
        if stage:
            axes.axvline(start, color='black', linewidth=0.8)
        axes.text(start + count / 2, 1.02, f'stage {stage + 1}', ha='center', va='bottom', fontsize=8)
        start += count
    axes.set_xlim(0.5, len(positions) + 0.5)
    axes.set_ylim(0, 1)
    axes.set_xlabel('block')
    axes.set_ylabel('proportion of neurons')
    step = 1 if len(positions) <= 20 else 5
    axes.set_xticks([p for p in positions if p == 1 or p % step == 0])
    axes.set_title(f'{title}\n({structure_macs(structure) / 1e9:.2f} GMACs at 224)', fontsize=10, pad=16)


def plot_structures(structures: Sequence[Structure], path: Union[str, os.PathLike],
                    titles: Optional[Sequence[str]] = None, overwrite: bool = False) -> None:
    """Draw each structure's per-block neuron proportion per scale as stacked bars, side by side (e.g. a seed
    and its allocation), and write the picture to ``path`` atomically. The format follows the extension
    (:data:`FORMATS`).

    Args:
        structures: one or more structures, one panel each.
        path: the output file.
        titles: one per structure; default the structures' names.
        overwrite: replace an existing file; otherwise an existing file is an error.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = os.fspath(path)
    structures = list(structures)
    if not structures:
        raise ValueError('plot_structures: expected at least one structure, got none')
    if not all(isinstance(s, Structure) for s in structures):
        raise TypeError(f'plot_structures: expected Structures, got {[type(s).__name__ for s in structures]}')
    titles = [s.name for s in structures] if titles is None else list(titles)
    if len(titles) != len(structures):
        raise ValueError(f'plot_structures: {len(structures)} structures but {len(titles)} titles')
    extension = os.path.splitext(path)[1].lower().lstrip('.')
    if extension not in FORMATS:
        raise ValueError(f'{path}: unknown picture format {extension!r}: expected a file ending in '
                         f'{", ".join("." + f for f in FORMATS)}')
    check_writable(path, overwrite)

    factors = sorted({f for s in structures for f in s.scale_factors})
    colours = {f: _COLOURS[i % len(_COLOURS)] for i, f in enumerate(factors)}
    widths = [max(4.0, 0.16 * len(s.blocks) + 2.0) for s in structures]
    figure = Figure(figsize=(sum(widths), 4.2), layout='constrained')
    FigureCanvasAgg(figure)
    panels = figure.subplots(1, len(structures), squeeze=False, width_ratios=widths)[0]
    for axes, structure, title in zip(panels, structures, titles):
        _draw(axes, structure, title, colours)
    handles, labels = [], []
    for axes in panels:
        for handle, label in zip(*axes.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    figure.legend(handles, labels, title='scale', loc='outside right center', fontsize=8)

    write_atomically(path, lambda tmp: figure.savefig(tmp, format=extension, dpi=120), overwrite,
                     suffix='.' + extension)
