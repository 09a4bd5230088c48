"""What the flags of tools/train.py and tools/test.py do to a config before its Runner is built, and the test run
with its prediction dump. The tools parse; this module decides (and :mod:`.run_checks` checks)."""
import argparse
import os
import os.path as osp
import warnings
from copy import deepcopy

from mmengine.config import Config, ConfigDict

from mmdet_scalenet.engine.safe_checkpoint_hook import checkpoint_to_load
from mmdet_scalenet.utils.checkpoint import check_checkpoint_file
from mmdet_scalenet.utils.fileio import temp_beside

from .cli import build_runner, check_outputs, toolbox_of
from .run_checks import RunSetupError, check_amp, check_data, check_pretrained, set_data_root

__all__ = ['configure_test', 'configure_train', 'result_dumper', 'run_test', 'show_predictions', 'use_tta']


def configure_train(cfg: Config, args: argparse.Namespace) -> None:
    """tools/train.py's ``--data-root``, ``--amp``, ``--auto-scale-lr`` and ``--resume`` applied to ``cfg``; then
    the data set and, unless resuming or loading, the pretrained weights checked.

    Raises:
        RunSetupError: the run cannot start; the message says why and what to do.
    """
    if args.data_root:
        set_data_root(cfg, args.data_root)
    if args.amp:
        check_amp()
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.auto_scale_lr:
        # mmdet's configs say enable=False, mmpretrain's only give the base batch size
        if 'auto_scale_lr' in cfg and 'base_batch_size' in cfg.auto_scale_lr:
            cfg.auto_scale_lr.enable = True
        else:
            raise RunSetupError('--auto-scale-lr: the config has no "auto_scale_lr.base_batch_size" (the batch '
                                'size its learning rate is for), so the learning rate cannot be scaled.')
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise RunSetupError(f'--resume {args.resume}: checkpoint file not found')
        cfg.resume = True
        cfg.load_from = args.resume
    # the file the Runner will load: an empty, truncated or foreign file is said now, by name
    to_load = checkpoint_to_load(cfg.get('load_from'), cfg.get('resume', False), cfg.get('work_dir') or '')
    if to_load and '://' not in to_load:
        check_checkpoint_file(to_load)
    check_data(cfg, ['train_dataloader', 'val_dataloader'] if cfg.get('val_cfg') else ['train_dataloader'])
    if not cfg.get('resume') and not cfg.get('load_from'):
        check_pretrained(cfg)


def configure_test(cfg: Config, args: argparse.Namespace) -> str:
    """tools/test.py's ``checkpoint``, ``--data-root``, ``--out``, ``--show``/``--show-dir``, ``--tta`` and ``--fuse``
    applied to ``cfg``, after the checks that stop a test that cannot succeed (checkpoint, data set, dump file);
    returns the config's toolbox.

    Raises:
        RunSetupError, OSError: the test cannot start; the message says why.
    """
    toolbox = toolbox_of(cfg)
    if args.data_root:
        set_data_root(cfg, args.data_root)
    if not osp.isfile(args.checkpoint) and '://' not in args.checkpoint:
        raise RunSetupError(f'{args.checkpoint}: checkpoint file not found')
    if '://' not in args.checkpoint:
        check_checkpoint_file(args.checkpoint)
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise RunSetupError(f'--out {args.out}: the dump file must be a .pkl or .pickle file')
        check_outputs([args.out], args.overwrite, inputs=[args.checkpoint, args.config])
    check_data(cfg, ['test_dataloader'])
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        show_predictions(cfg, toolbox, args)
    if args.tta:
        use_tta(cfg, toolbox)
    if args.fuse:
        cfg.custom_hooks = [*cfg.get('custom_hooks', []), dict(type='FuseConvBNHook')]
    return toolbox


def run_test(cfg: Config, toolbox: str, out: str = None) -> dict:
    """Build the Runner and test; with ``out``, dump the predictions there (:func:`result_dumper`), atomically:
    to a temporary file beside it, renamed into place when the test has finished. Returns the metrics."""
    runner = build_runner(cfg)  # initialises the process group of a distributed run
    if out is None:
        return runner.test()
    from mmengine.dist import is_main_process
    main = is_main_process()  # only the main process computes the metrics, so only it writes the dump
    tmp = temp_beside(out, suffix=osp.splitext(out)[1]) if main else out
    runner.test_evaluator.metrics.append(result_dumper(toolbox, tmp))
    try:
        metrics = runner.test()
        if main:
            os.replace(tmp, out)
    except BaseException:
        if main and osp.exists(tmp):
            os.unlink(tmp)
        raise
    return metrics


def show_predictions(cfg: Config, toolbox: str, args: argparse.Namespace) -> None:
    """Turn on the toolbox's visualization hook for ``--show`` / ``--show-dir``, as its own test script does."""
    if toolbox == 'mmdet':
        from mmdet.engine.hooks.utils import trigger_visualization_hook
        trigger_visualization_hook(cfg, args)
        return
    hook = cfg.get('default_hooks', {}).get('visualization')
    if hook is None:
        raise RunSetupError('--show/--show-dir: the config has no default_hooks.visualization '
                            f'(its toolbox\'s visualization hook, in {toolbox}\'s default_runtime.py)')
    hook.interval = 1  # every test image
    if toolbox == 'mmpretrain':
        hook.update(enable=True, show=args.show, wait_time=args.wait_time, out_dir=args.show_dir)
    else:  # mmseg: the hook draws, the visualizer's backends save (under show_dir/vis_data)
        hook.update(draw=True, show=args.show, wait_time=args.wait_time)
        if args.show_dir:
            cfg.visualizer.save_dir = args.show_dir


def _innermost_dataset(cfg: Config):
    dataset = cfg.test_dataloader.dataset
    while 'dataset' in dataset:
        dataset = dataset['dataset']
    return dataset


def use_tta(cfg: Config, toolbox: str) -> None:
    """``--tta``: wrap the model in the config's ``tta_model`` and test with its ``tta_pipeline``; mmdet and
    mmpretrain default to flip augmentation (as their test scripts), mmseg's dataset configs define both."""
    if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
        if toolbox == 'mmseg':
            raise RunSetupError('--tta: the config needs tta_model and tta_pipeline (mmseg\'s default_runtime.py '
                                'and dataset configs define them)')
        warnings.warn('Cannot find ``tta_model`` or ``tta_pipeline`` in config, flip augmentation is used.',
                      stacklevel=2)
        pipeline = _innermost_dataset(cfg).pipeline
        if toolbox == 'mmdet':
            cfg.setdefault('tta_model', dict(
                type='DetTTAModel', tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5), max_per_img=100)))
            pack = dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                                                         'scale_factor', 'flip', 'flip_direction'))
        else:
            cfg.setdefault('tta_model', dict(type='mmpretrain.AverageClsScoreTTA'))
            pack = pipeline[-1]
        if 'tta_pipeline' not in cfg:
            cfg.tta_pipeline = deepcopy(pipeline)
            cfg.tta_pipeline[-1] = dict(type='TestTimeAug', transforms=[
                [dict(type='RandomFlip', prob=1.), dict(type='RandomFlip', prob=0.)], [pack]])
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline


def result_dumper(toolbox: str, out: str):
    """The metric that writes the predictions to ``out``: mmdet's ``DumpDetResults`` (its results in COCO-style
    dicts), mmengine's ``DumpResults`` (the data samples as dicts) for the others, as their test scripts do."""
    if toolbox == 'mmdet':
        from mmdet.evaluation import DumpDetResults
        return DumpDetResults(out_file_path=out)
    from mmengine.evaluator import DumpResults
    return DumpResults(out_file_path=out)
