"""Pictures of a detector's predictions, large enough to read on small images: each image upscaled (nearest, so
pixels stay pixels), boxes coloured by class with their scores, and a legend of the classes.

Reads the predictions ``tools/test.py --out preds.pkl`` dumps (mmdet's ``DumpDetResults``). Drawn with matplotlib's
object API on an Agg canvas, so it runs headless; every file is written atomically.
"""
import math
import os
import pickle
from typing import List, Optional, Sequence

import numpy as np

from mmdet_scalenet.utils.fileio import write_atomically

__all__ = ['draw_detections', 'load_predictions']

_COLOURS = ('#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4', '#f032e6', '#bfef45')


def load_predictions(path: str) -> List[dict]:
    """The per-image results ``tools/test.py --out`` wrote: ``img_path`` and ``pred_instances`` (bboxes, scores,
    labels as arrays or tensors). A file this project's own tool wrote, so plain pickle."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: predictions file not found (write it with tools/test.py --out)')
    with open(path, 'rb') as f:
        results = pickle.load(f)
    if not isinstance(results, list) or not all(isinstance(r, dict) and 'pred_instances' in r for r in results):
        raise ValueError(f'{path}: expected the list of per-image results of tools/test.py --out')
    return results


def _array(value) -> np.ndarray:
    return value.cpu().numpy() if hasattr(value, 'cpu') else np.asarray(value)


def _draw_one(axes, result: dict, classes: Sequence[str], score_thr: float) -> None:
    import matplotlib.image as mpimg
    image = mpimg.imread(result['img_path'])
    axes.imshow(image, interpolation='nearest')
    instances = result['pred_instances']
    boxes, scores, labels = (_array(instances[k]) for k in ('bboxes', 'scores', 'labels'))
    for (x1, y1, x2, y2), score, label in zip(boxes, scores, labels):
        if score < score_thr:
            continue
        colour = _COLOURS[int(label) % len(_COLOURS)]
        axes.add_patch(_rectangle((x1, y1), x2 - x1, y2 - y1, colour))
        axes.text(x1, y1, f'{score:.2f}', color='white', fontsize=7, va='bottom',
                  bbox=dict(facecolor=colour, edgecolor='none', pad=1, alpha=0.85))
    axes.set_title(os.path.basename(result['img_path']), fontsize=8)
    axes.set_axis_off()


def _rectangle(xy, width, height, colour):
    from matplotlib.patches import Rectangle
    return Rectangle(xy, width, height, fill=False, edgecolor=colour, linewidth=1.5)


def _legend(figure, classes: Sequence[str]) -> None:
    from matplotlib.patches import Patch
    handles = [Patch(edgecolor=_COLOURS[i % len(_COLOURS)], facecolor='none', linewidth=1.5, label=name)
               for i, name in enumerate(classes)]
    figure.legend(handles=handles, loc='outside lower center', ncol=len(classes), fontsize=8, title='class')


def draw_detections(results: Sequence[dict], classes: Sequence[str], out_dir: str, score_thr: float = 0.3,
                    scale: float = 4.0, overview: Optional[int] = 16) -> List[str]:
    """Draw every image's predictions (score >= ``score_thr``) into ``out_dir/<image name>.png``, each at ``scale``
    times the image's size, and the first ``overview`` images side by side into ``out_dir/overview.png``.
    Returns the files written."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not classes:
        raise ValueError('draw_detections: expected the class names, got none')
    os.makedirs(out_dir, exist_ok=True)
    written = []

    def save(figure, path):
        FigureCanvasAgg(figure)
        write_atomically(path, lambda tmp: figure.savefig(tmp, format='png', dpi=100), overwrite=True, suffix='.png')
        written.append(path)

    for result in results:
        height, width = result.get('ori_shape') or result.get('img_shape') or (96, 96)
        figure = Figure(figsize=(width * scale / 100, height * scale / 100 + 0.6), layout='constrained')
        _draw_one(figure.add_subplot(), result, classes, score_thr)
        _legend(figure, classes)
        name = os.path.splitext(os.path.basename(result['img_path']))[0] + '.png'
        save(figure, os.path.join(out_dir, name))
    if overview and results:
        shown = list(results)[:overview]
        columns = min(4, len(shown))
        rows = math.ceil(len(shown) / columns)
        figure = Figure(figsize=(3 * columns, 3 * rows + 0.6), layout='constrained')
        for axes, result in zip(figure.subplots(rows, columns, squeeze=False).flat, shown):
            _draw_one(axes, result, classes, score_thr)
        for axes in list(figure.axes)[len(shown):]:
            axes.set_axis_off()
        _legend(figure, classes)
        save(figure, os.path.join(out_dir, 'overview.png'))
    return written
