"""A study of the data-driven neuron allocation on a 2-core CPU: does it adapt to the data, and does that pay?

The paper allocates neurons to scales by the importance the data gives them (Li et al., CVPR 2019, Sec. 3.2). Here
two synthetic regimes with opposite scale statistics (the same four shapes, small in one, large in the other) each
train a seed ScaleNet-50 classifier, with Network Slimming's L1 on the branch gammas so that their ranking separates
in a short schedule (:class:`~mmdet_scalenet.engine.BranchSparsityHook`). Each seed is allocated at the same budget,
the GMACs of the authors' ``scalenet50_light``, with ``network-flops`` (:func:`~mmdet_scalenet.allocation
.select_network_flops`). Then, on each regime, five networks are trained from scratch with the same schedule and
several random seeds: the regime's own allocation, the other regime's, a uniform allocation of the same GMACs
(:func:`~mmdet_scalenet.allocation.select_uniform`), ``scalenet50_light`` and ResNet-50.

Every training runs through mmengine's Runner on an mmpretrain config (``CONFIG``) and is evaluated with
mmpretrain's ``Accuracy``. Results are cached per run under the work directory (``result.json`` next to the run's
checkpoints): a re-run skips finished runs, resumes an interrupted one from its last checkpoint, and only redraws the
report. ``tools/allocation_study.py`` is the command line.
"""
import json
import os
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from mmdet_scalenet.allocation import read_branch_gammas, select_network_flops, select_uniform
from mmdet_scalenet.costs import resnet_macs, structure_macs
from mmdet_scalenet.geometry import STAGE_BLOCKS
from mmdet_scalenet.structure import Structure, load_structure, save_structure
from mmdet_scalenet.utils.checkpoint import read_state_dict

from .study_files import record_settings, save_figure, save_json, save_markdown

__all__ = [
    'CONFIG', 'REGIMES', 'VARIANTS', 'RunResult', 'StudyResult', 'StudySettings', 'result_to_json', 'run_study',
    'save_result', 'write_report'
]

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
#: The classifier config every run starts from.
CONFIG = os.path.join(ROOT, 'configs', 'mmpretrain', 'allocation_study',
                      'scalenet50-seed_1xb64-adamw-3e_synthetic-scales.py')
#: The regimes: the side of every shape as a fraction of the image side.
REGIMES = {'small': (0.2, 0.35), 'large': (0.6, 0.95)}
#: The networks retrained on each regime, in report order.
VARIANTS = ('own allocation', 'other allocation', 'uniform', 'scalenet50_light', 'ResNet-50')


@dataclass
class StudySettings:
    """What the study runs (defaults: the measured study; tests shrink them).

    Attributes:
        work_dir: where data, runs, structures and the cache live.
        image_size, num_train, num_val: the synthetic data of each regime.
        seeds: the random seeds of every retraining (the seed networks use the first).
        seed_epochs, epochs: epochs of the seed networks and of every retraining.
        batch_size: training batch.
        sparsity: the L1 weight on the seeds' branch gammas (0: none).
        gamma_lr_mult: learning-rate multiplier of the seeds' branch norms (lets gammas move in a short schedule).
        budget_gmacs: the allocations' GMACs at 224x224; default ``scalenet50_light``'s.
    """
    work_dir: str
    image_size: int = 48
    num_train: int = 3000
    num_val: int = 500
    seeds: Tuple[int, ...] = (0, 1, 2)
    seed_epochs: int = 4
    epochs: int = 3
    batch_size: int = 64
    sparsity: float = 0.5
    gamma_lr_mult: float = 10.0
    budget_gmacs: Optional[float] = None

    def budget(self) -> float:
        return self.budget_gmacs or structure_macs(load_structure('scalenet50_light')) / 1e9


@dataclass
class RunResult:
    """One training: what was trained on which regime, its validation top-1 and what it cost."""
    name: str
    regime: str
    variant: str
    seed: int
    top1: float
    gmacs: float
    seconds: float


@dataclass
class StudyResult:
    """Everything the report shows."""
    settings: StudySettings
    gamma_history: Dict[str, List[dict]] = field(default_factory=dict)
    structures: Dict[str, Structure] = field(default_factory=dict)
    runs: List[RunResult] = field(default_factory=list)
    #: training time summed over every run (seed networks included), as measured when each ran
    train_seconds: float = 0.0
    #: this invocation's time (seconds when everything comes from the cache)
    seconds: float = 0.0


#: Settings a cached run depends on: a work directory holds runs of one value of each (``seeds`` may grow).
_CACHE_KEYS = ('image_size', 'num_train', 'num_val', 'seed_epochs', 'epochs', 'batch_size', 'sparsity',
               'gamma_lr_mult', 'budget_gmacs')


def _check_cache(settings: StudySettings) -> None:
    """Record the settings in the work directory; refuse a work directory whose runs were made with others."""
    record_settings(settings.work_dir, {k: getattr(settings, k) for k in _CACHE_KEYS})


def _data_root(settings: StudySettings, regime: str) -> str:
    from .datasets import make_synthetic_classification
    from .datasets.synthetic_classification import MARKER
    root = os.path.join(settings.work_dir, 'data', regime)
    wanted = dict(num_train=settings.num_train, num_val=settings.num_val, image_size=settings.image_size,
                  object_size=list(REGIMES[regime]))
    marker = os.path.join(root, MARKER)
    if os.path.isfile(marker):
        with open(marker) as f:
            written = json.load(f)
        if all(written.get(k) == v for k, v in wanted.items()):
            return root
    make_synthetic_classification(root, seed=0, overwrite=True, **dict(wanted, object_size=REGIMES[regime]))
    return root


def _backbone_cfg(structure: str) -> dict:
    """The config's ScaleNet with ``structure``, or (``'ResNet-50'``) mmpretrain's ResNet-50 in the same role."""
    if structure == 'ResNet-50':
        return dict(type='ResNet', depth=50, out_indices=(3, ), norm_eval=False, zero_init_residual=True)
    return dict(type='ScaleNet', depth=50, structure=structure, out_indices=(3, ), norm_eval=False,
                zero_init_residual=True)


def _train(settings: StudySettings, name: str, regime: str, backbone: dict, seed: int, epochs: int,
           seed_network: bool, log: Callable[[str], None]) -> Tuple[dict, str]:
    """Train (or read from the cache) one run; returns ``(result dict, work dir)``."""
    work_dir = os.path.join(settings.work_dir, 'runs', name)
    result_file = os.path.join(work_dir, 'result.json')
    if os.path.isfile(result_file):
        with open(result_file) as f:
            return json.load(f), work_dir
    from mmengine.config import Config
    from mmengine.runner import Runner

    cfg = Config.fromfile(CONFIG)
    cfg.log_level = 'WARNING'  # the study logs each run's result; the Runner's per-parameter init logs are noise
    data_root = _data_root(settings, regime)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = data_root
    cfg.train_dataloader.batch_size = settings.batch_size
    cfg.model.backbone = backbone
    cfg.train_cfg.max_epochs = cfg.train_cfg.val_interval = epochs
    cfg.param_scheduler[1].update(T_max=epochs, end=epochs)
    cfg.randomness = dict(seed=seed, deterministic=False)
    cfg.work_dir = work_dir
    cfg.resume = os.path.isfile(os.path.join(work_dir, 'last_checkpoint'))  # an interrupted run continues
    if seed_network:
        # Network Slimming's L1 on the branch gammas, whose learning rate is raised so they can separate
        cfg.custom_hooks = [dict(type='BranchSparsityHook', weight=settings.sparsity)]
        cfg.optim_wrapper.paramwise_cfg = dict(custom_keys={'.bn2.': dict(lr_mult=settings.gamma_lr_mult,
                                                                          decay_mult=0.0)})
        cfg.default_hooks.checkpoint.max_keep_ckpts = -1  # every epoch's gammas, for the report
    start = time.perf_counter()
    log(f'[study] training {name}')
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.val()
    model = runner.model
    result = dict(name=name, top1=float(metrics['accuracy/top1']), seconds=time.perf_counter() - start,
                  gmacs=_gmacs(model.backbone))
    save_json(result, result_file)
    log(f'[study] {name}: top-1 {result["top1"]:.1f}% in {result["seconds"]:.0f}s')
    return result, work_dir



def _gmacs(backbone) -> float:
    structure = getattr(backbone, 'structure', None)
    if structure is not None:
        return structure_macs(structure) / 1e9
    return resnet_macs(backbone.depth) / 1e9


def _gamma_summary(path: str) -> dict:
    """Per stage and scale: quantiles of |gamma| and the fraction near zero, from a seed checkpoint."""
    gammas = read_branch_gammas(read_state_dict(path), depth=50)
    summary = {}
    start = 0
    for stage, count in enumerate(STAGE_BLOCKS[50]):
        blocks = gammas.gammas[start:start + count]
        start += count
        for i, factor in enumerate(gammas.scale_factors):
            values = np.abs(np.concatenate([np.asarray(block[i]) for block in blocks]))
            summary[f'{stage + 1}/{factor}'] = dict(
                q10=float(np.quantile(values, 0.1)), median=float(np.median(values)),
                q90=float(np.quantile(values, 0.9)), zero=float(np.mean(values < 1e-3)))
    return summary


def _seed_checkpoints(work_dir: str) -> List[str]:
    names = [n for n in os.listdir(work_dir) if n.startswith('epoch_') and n.endswith('.pth')]
    return [os.path.join(work_dir, n) for n in sorted(names, key=lambda n: int(n[len('epoch_'):-len('.pth')]))]


def run_study(settings: StudySettings, log: Callable[[str], None] = print) -> StudyResult:
    """Run (or read from the cache) every step; see the module docstring."""
    start = time.perf_counter()
    os.makedirs(settings.work_dir, exist_ok=True)
    _check_cache(settings)
    result = StudyResult(settings=settings)
    budget = settings.budget()
    structures_dir = os.path.join(settings.work_dir, 'structures')
    os.makedirs(structures_dir, exist_ok=True)

    for regime in REGIMES:
        name = f'{regime}/seed_network'
        run, work_dir = _train(settings, name, regime, _backbone_cfg('scalenet50_seed'), settings.seeds[0],
                               settings.seed_epochs, seed_network=True, log=log)
        result.train_seconds += run['seconds']
        checkpoints = _seed_checkpoints(work_dir)
        result.gamma_history[regime] = [_gamma_summary(path) for path in checkpoints]
        path = os.path.join(structures_dir, f'allocated_on_{regime}.json')
        if not os.path.isfile(path):
            allocation = select_network_flops(read_branch_gammas(read_state_dict(checkpoints[-1]), depth=50), budget,
                                              name=f'allocated on {regime} objects')
            save_structure(allocation.structure, path)
        result.structures[regime] = load_structure(path)
    path = os.path.join(structures_dir, 'uniform.json')
    if not os.path.isfile(path):
        save_structure(select_uniform(50, budget, name='uniform').structure, path)
    result.structures['uniform'] = load_structure(path)

    for regime in REGIMES:
        other = next(r for r in REGIMES if r != regime)
        backbones = {
            'own allocation': _backbone_cfg(os.path.join(structures_dir, f'allocated_on_{regime}.json')),
            'other allocation': _backbone_cfg(os.path.join(structures_dir, f'allocated_on_{other}.json')),
            'uniform': _backbone_cfg(os.path.join(structures_dir, 'uniform.json')),
            'scalenet50_light': _backbone_cfg('scalenet50_light'),
            'ResNet-50': _backbone_cfg('ResNet-50'),
        }
        for variant in VARIANTS:
            for seed in settings.seeds:
                name = f'{regime}/{variant.replace(" ", "_")}/seed{seed}'
                run, _ = _train(settings, name, regime, backbones[variant], seed, settings.epochs,
                                seed_network=False, log=log)
                result.runs.append(RunResult(name=name, regime=regime, variant=variant, seed=seed,
                                             top1=run['top1'], gmacs=run['gmacs'], seconds=run['seconds']))
                result.train_seconds += run['seconds']
    result.seconds = time.perf_counter() - start
    return result


# ---------------------------------------------------------------------------------------------------------------
# The report


def scale_shares(structure: Structure) -> List[List[float]]:
    """Per stage, the share of its blocks' neurons at each scale."""
    shares = []
    for stage in range(len(structure.stage_blocks)):
        totals = np.array(structure.stage(stage)).sum(axis=0)
        shares.append([float(v) for v in totals / totals.sum()])
    return shares


def coarse_share(structure: Structure, stage: int) -> float:
    """The share of a stage's neurons at the coarse scales (factors 4 and 7)."""
    shares = scale_shares(structure)[stage]
    return sum(s for s, f in zip(shares, structure.scale_factors) if f >= 4)


def _summary(values: Sequence[float]) -> Tuple[float, float, float, float]:
    mean = statistics.fmean(values)
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return mean, spread, min(values), max(values)


def _by(result: StudyResult) -> Dict[Tuple[str, str], List[float]]:
    table: Dict[Tuple[str, str], List[float]] = {}
    for run in result.runs:
        table.setdefault((run.regime, run.variant), []).append(run.top1)
    return table


def _plot_gammas(result: StudyResult, path: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    factors = (1, 2, 4, 7)
    colours = ('#4c72b0', '#dd8452', '#55a868', '#c44e52')
    figure = Figure(figsize=(13, 5.2), layout='constrained')
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(REGIMES), 4, squeeze=False, sharey=True)
    for row, regime in enumerate(REGIMES):
        history = result.gamma_history.get(regime, [])
        epochs = list(range(1, len(history) + 1))
        for stage in range(4):
            ax = axes[row][stage]
            for factor, colour in zip(factors, colours):
                key = f'{stage + 1}/{factor}'
                median = [h[key]['median'] for h in history]
                ax.plot(epochs, median, color=colour, marker='o', markersize=3, label='1' if factor == 1 else
                        f'1/{factor}')
                ax.fill_between(epochs, [h[key]['q10'] for h in history], [h[key]['q90'] for h in history],
                                color=colour, alpha=0.15, linewidth=0)
            ax.set_title(f'{regime} objects, stage {stage + 1}', fontsize=9)
            ax.set_xlabel('epoch', fontsize=8)
            if stage == 0:
                ax.set_ylabel('|gamma| (median, 10-90%)', fontsize=8)
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, title='scale', loc='outside right center', fontsize=8)
    save_figure(figure, path)


def _plot_accuracy(result: StudyResult, path: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    table = _by(result)
    figure = Figure(figsize=(11, 3.6), layout='constrained')
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(REGIMES), squeeze=False)[0]
    for ax, regime in zip(axes, REGIMES):
        for x, variant in enumerate(VARIANTS):
            values = table.get((regime, variant), [])
            if values:
                ax.scatter([x] * len(values), values, s=18, color='#4c72b0', zorder=3)
                ax.hlines(statistics.fmean(values), x - 0.3, x + 0.3, color='black', linewidth=1.5)
        ax.set_xticks(range(len(VARIANTS)))
        ax.set_xticklabels([v.replace(' ', '\n') for v in VARIANTS], fontsize=8)
        ax.set_title(f'retrained on {regime} objects', fontsize=9)
        ax.set_ylabel('top-1 (%)', fontsize=8)
        ax.grid(axis='y', alpha=0.3)
    save_figure(figure, path)


def write_report(result: StudyResult, path: str, images_dir: str) -> None:
    """Write the Markdown report to ``path`` and its pictures to ``images_dir`` (all atomically)."""
    from .plot import plot_structures
    s = result.settings
    os.makedirs(images_dir, exist_ok=True)
    rel = os.path.relpath(images_dir, os.path.dirname(os.path.abspath(path)))
    gammas_png, structures_png, accuracy_png = (os.path.join(images_dir, f'allocation_study_{n}.png')
                                                for n in ('gammas', 'structures', 'accuracy'))
    _plot_gammas(result, gammas_png)
    ordered = [result.structures[r] for r in REGIMES] + [result.structures['uniform']]
    plot_structures(ordered, structures_png, titles=[f'allocated on {r} objects' for r in REGIMES] + ['uniform'],
                    overwrite=True)
    _plot_accuracy(result, accuracy_png)

    lines = ['# Does the neuron allocation adapt to the data? A study on a 2-core CPU', '',
             f'Made by `python tools/allocation_study.py`: {len(result.runs) + len(REGIMES)} trainings, '
             f'{result.train_seconds / 60:.0f} minutes of training in all on a 2-core CPU (measured when each run '
             f'ran); from the cache the tool redraws this report in seconds. Settings: {s.image_size}x'
             f'{s.image_size} images, {s.num_train} training and {s.num_val} validation images per regime, batch '
             f'{s.batch_size}; seed networks {s.seed_epochs} epochs with L1 weight {s.sparsity:g} on the branch '
             f'gammas (learning rate x{s.gamma_lr_mult:g} on the branch norms); retraining {s.epochs} epochs, random '
             f'seeds {", ".join(map(str, s.seeds))}; allocation budget {s.budget():.3f} GMACs at 224x224.', '']
    lines += ['## 1. The seed networks: branch gammas separate by scale', '',
              f'![gammas]({rel}/allocation_study_gammas.png)', '',
              '| regime | stage | zero gammas at scale 1 / 1/2 / 1/4 / 1/7 (last epoch) |', '|---|---|---|']
    for regime in REGIMES:
        last = result.gamma_history[regime][-1]
        for stage in range(4):
            zeros = ' / '.join(f'{last[f"{stage + 1}/{f}"]["zero"]:.0%}' for f in (1, 2, 4, 7))
            lines.append(f'| {regime} | {stage + 1} | {zeros} |')
    lines += ['', '## 2. The allocations: share of each stage\'s neurons per scale', '',
              f'![allocations]({rel}/allocation_study_structures.png)', '',
              '| allocation | GMACs | stage 1 | stage 2 | stage 3 | stage 4 |', '|---|---|---|---|---|---|']
    for name, structure in [(f'on {r} objects', result.structures[r]) for r in REGIMES] + [
            ('uniform', result.structures['uniform'])]:
        cells = [' / '.join(f'{v:.0%}' for v in shares) for shares in scale_shares(structure)]
        lines.append(f'| {name} | {structure_macs(structure) / 1e9:.3f} | ' + ' | '.join(cells) + ' |')
    small, large = (result.structures[r] for r in REGIMES)
    coarse = [(coarse_share(small, i), coarse_share(large, i)) for i in range(4)]
    lines += ['', 'Shares are scale 1 / 1/2 / 1/4 / 1/7. Coarse (1/4 and 1/7) share, small vs large objects: '
              + ', '.join(f'stage {i + 1} {a:.0%} vs {b:.0%}' for i, (a, b) in enumerate(coarse)) + '.', '']
    lines += ['## 3. Retrained from scratch: validation top-1', '', f'![accuracy]({rel}/allocation_study_accuracy.png)',
              '', '| regime | network | GMACs | top-1 mean ± sd (%) | min-max | seeds |', '|---|---|---|---|---|---|']
    table = _by(result)
    gmacs = {(r.regime, r.variant): r.gmacs for r in result.runs}
    for regime in REGIMES:
        for variant in VARIANTS:
            values = table.get((regime, variant))
            if values:
                mean, sd, low, high = _summary(values)
                lines.append(f'| {regime} | {variant} | {gmacs[(regime, variant)]:.2f} | {mean:.1f} ± {sd:.1f} | '
                             f'{low:.1f}-{high:.1f} | {len(values)} |')
    lines += ['', 'A difference "exceeds the spread" when the two networks\' ranges over the seeds do not overlap.', '']
    for regime in REGIMES:
        own = table.get((regime, 'own allocation'))
        if not own:
            continue
        for variant in VARIANTS[1:]:
            other = table.get((regime, variant))
            if not other:
                continue
            diff = statistics.fmean(own) - statistics.fmean(other)
            exceeds = min(own) > max(other) or max(own) < min(other)
            lines.append(f'- {regime} objects, own allocation vs {variant}: {diff:+.1f} points, '
                         + ('**exceeds the spread**' if exceeds else 'within the spread'))
    save_markdown(lines, path)



def save_result(result: StudyResult, path: str) -> None:
    """Write :func:`result_to_json` of ``result`` to ``path`` (atomically)."""
    save_json(result_to_json(result), path)


def result_to_json(result: StudyResult) -> dict:
    """The study's numbers as plain data (saved beside the runs)."""
    return dict(settings=asdict(result.settings), gamma_history=result.gamma_history,
                structures={k: v.to_dict() for k, v in result.structures.items()},
                runs=[asdict(r) for r in result.runs], train_seconds=result.train_seconds,
                seconds=result.seconds)
