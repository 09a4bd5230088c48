"""The GPU table: a fixed list of benchmark sections (eager, compiled and compiled + CUDA graphs for ScaleNet-50
and ResNet-50 alike), run one by one within a time budget, summarised in one Markdown table.

Each section is one :func:`~.run.run_benchmark` call. ``tools/benchmark_gpu.py`` runs each in its own process (a
clean compiler state and memory, and a section that outruns the budget is stopped without losing the others); this
module holds the sections, runs one, and writes the summary. The sections come in order of what the speed targets
of docs/benchmark.md need most, so that a short budget loses the least: inductor compiles ScaleNet-50 several
times slower than ResNet-50 (docs/benchmark.md), and each compiled treatment compiles anew.

The timing rows compile with static shapes (``dynamic=False``, one graph per input size): the rows measure fixed
sizes, CUDA graphs replay fixed shapes, and tracing ScaleNet with symbolic shapes takes several times ResNet's
time (docs/benchmark.md). The ``graphs`` section counts the graphs ``dynamic=True`` builds over the padded sizes of
mmdet's multi-scale COCO training (CompileHook's setting), tracing only (backend ``'eager'``).
"""
from typing import Dict, List, Optional, Sequence, Tuple

from .run import BenchmarkResult, BenchmarkSettings
from .timing import ratio_stats

__all__ = ['DETECTION_SIZES', 'SUMMARY_HEADER', 'gpu_sections', 'summary_rows', 'summary_table']

#: Padded sizes of mmdet's multi-scale COCO training (multiples of 32, both orientations; shorter sides 448-608),
#: as in tests/models/test_compile.py.
DETECTION_SIZES = ((448, 608), (480, 640), (512, 672), (544, 736), (576, 768), (640, 480), (672, 512), (736, 544))
ALL_MODES = ('eager', 'compiled', 'compiled-graphs')

#: Row pairs of a summary: treatment label, ScaleNet row, ResNet row.
PAIRS = (
    ('eager', 'ScaleNet', 'ResNet'),
    ('fast path / ResNet BN-folded channels-last', 'ScaleNet fast', 'ResNet fast-cl'),
    ('fast path / ResNet BN-folded', 'ScaleNet fast', 'ResNet fast'),
    ('compiled', 'ScaleNet compiled', 'ResNet compiled'),
    ('compiled + CUDA graphs', 'ScaleNet compiled-graphs', 'ResNet compiled-graphs'),
    ('ScaleNet compiled / ResNet eager', 'ScaleNet compiled', 'ResNet'),
    ('ScaleNet compiled + CUDA graphs / ResNet eager', 'ScaleNet compiled-graphs', 'ResNet'),
)
SUMMARY_HEADER = ('| measurement | treatment | ScaleNet-50 ms | ResNet-50 ms | ratio, median [min-max] | first call s '
                  '(ScaleNet / ResNet) | peak MiB (ScaleNet / ResNet) |\n|---|---|---|---|---|---|---|')


def gpu_sections(device: str = 'cuda', dry_run: bool = False) -> Dict[str, BenchmarkSettings]:
    """The sections of the GPU table by name, in the order they run. ``dry_run``: two sections that take every code
    path of the others on tiny inputs and the light structure, compiled by the ``'eager'`` backend (tracing only),
    to check the plumbing on CPU."""
    common = dict(device=device, modes=ALL_MODES, compile_dynamic=False, repeats=20, warmup=3)
    fpn = dict(detector=True, inference=False, sizes=((800, 1216), ), train_batch=2, repeats=10)
    sections = {
        'train-fpn-800x1216': dict(fpn, modes=('eager', 'compiled')),
        'backbone-b8-800x1216': dict(sizes=((800, 1216), ), batch=8, train=False),
        'backbone-b1-224x224': dict(sizes=((224, 224), ), batch=1, train=False),
        'train-fpn-800x1216-graphs': dict(fpn, modes=('eager', 'compiled-graphs')),
        'graphs': dict(inference=False, train_size=DETECTION_SIZES[0], graph_sizes=DETECTION_SIZES[1:],
                       train_batch=2, modes=('compiled', ), compile_backend='eager', compile_dynamic=True, repeats=1,
                       warmup=0, memory=False),
        'backbone-b1-800x1216': dict(sizes=((800, 1216), ), batch=1, train=False),
        'backbone-b8-224x224': dict(sizes=((224, 224), ), batch=8, train=False),
        'launches-224x224': dict(sizes=((224, 224), ), batch=1, inference=False, train=False, launches=True,
                                 modes=('eager', 'compiled')),
    }
    if dry_run:  # each code path once, on the light structure, in two sections
        tiny = dict(structure='scalenet50_light', repeats=1, warmup=0, compile_backend='eager', train_batch=1)
        sections = {
            'train-fpn-128x128': dict(sections['train-fpn-800x1216-graphs'], sizes=((128, 128), ),
                                      graph_sizes=((96, 128), ), **tiny),
            'backbone-b2-64x64': dict(sections['backbone-b8-800x1216'], sizes=((64, 64), ), batch=2, launches=True,
                                      **tiny),
        }
    return {name: BenchmarkSettings(**dict(common, **options)) for name, options in sections.items()}


def _ms(seconds: Optional[float]) -> str:
    return '-' if seconds is None else f'{seconds * 1e3:.1f}'


def _pair(values: Dict[str, float], scalenet: str, resnet: str, fmt: str) -> str:
    if scalenet not in values and resnet not in values:
        return '-'
    return ' / '.join(fmt.format(values[name]) if name in values else '-' for name in (scalenet, resnet))


def summary_rows(section: str, result: BenchmarkResult) -> List[Tuple[str, ...]]:
    """One row per measured pair of :data:`PAIRS` in ``result``: measurement, treatment, ScaleNet ms, ResNet ms,
    ratio, first calls, peak memory."""
    s = result.settings
    rows = []
    measurements = [(f'backbone inference {e.size[0]}x{e.size[1]}, batch {s.batch}', e.timings, e.first_call, {})
                    for e in result.inference]
    if result.train:
        t = result.train
        what = 'Faster R-CNN FPN training step' if s.compares_detectors else 'backbone training step'
        memory = {name: bytes_ / 2**20 for name, bytes_ in (t.memory or {}).items()}
        measurements.append((f'{what} {t.size[0]}x{t.size[1]}, batch {t.batch}', t.timings, t.first_call, memory))
    for what, timings, first_call, memory in measurements:
        for label, scalenet, resnet in PAIRS:
            if scalenet in timings and resnet in timings:
                median, low, high = ratio_stats(timings[scalenet], timings[resnet])
                rows.append((f'{section}: {what}', label, _ms(timings[scalenet].median), _ms(timings[resnet].median),
                             f'{median:.3f} [{low:.3f}-{high:.3f}]', _pair(first_call, scalenet, resnet, '{:.1f}'),
                             _pair(memory, scalenet, resnet, '{:.0f}')))
    if result.train and result.train.graph_sizes:
        t = result.train
        graphs = {name.split(' ')[0]: count for name, (count, _) in t.graphs.items()}
        breaks = sum(b for _, b in t.graphs.values())
        rows.append((f'{section}: graphs over {len(t.graph_sizes) + 1} sizes, training step batch {t.batch}',
                     f'dynamic={s.compile_dynamic}, backend {s.compile_backend!r}', '-', '-',
                     f'graphs {graphs.get("ScaleNet", "-")} / {graphs.get("ResNet", "-")}, {breaks} breaks',
                     _pair({name.split(' ')[0]: v for name, v in t.first_call.items()}, 'ScaleNet', 'ResNet',
                           '{:.1f}'), '-'))
    if result.launches:
        for column in next(iter(result.launches.values())):
            counts = {name: row[column] for name, row in result.launches.items()}
            h, w = s.launch_size
            rows.append((f'{section}: kernel launches per call, {h}x{w} batch {s.batch}', column,
                         str(counts.get('ScaleNet', '-')), str(counts.get('ResNet', '-')),
                         f'{counts["ScaleNet"] / counts["ResNet"]:.3f}', '-', '-'))
    return rows


def summary_table(rows: Sequence[Sequence[str]]) -> str:
    """:data:`SUMMARY_HEADER` and one Markdown line per row (the launch-count rows give counts, not ms)."""
    return '\n'.join([SUMMARY_HEADER] + ['| ' + ' | '.join(row) + ' |' for row in rows])

