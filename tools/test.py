"""Test (and evaluate) a model from an mmdet, mmpretrain or mmseg config: the toolboxes' tools/test.py, plus
ScaleNet's checks and CPU support.

Same flags for the three toolboxes (the config's ``default_scope`` says which), each with its toolbox's meaning:
``--out`` dumps the predictions to a pickle file, ``--show``/``--show-dir`` draw them, ``--tta`` tests with
test-time augmentation, ``--fuse`` on the inference fast path (mmdet_scalenet.deploy.fuse_model). Plus
``--data-root``; a missing data set or checkpoint stops the run at once with what to do; without CUDA, distributed
runs use gloo. Checkpoints written by mmengine's Runner load with ``weights_only=True``
(importing mmdet_scalenet allow-lists exactly the classes they need), and so do the authors' released ImageNet
classifiers, into an mmpretrain classifier config, strictly.
"""
import argparse
import os.path as osp
import sys
import warnings
from copy import deepcopy

from mmengine import ConfigDict

from mmdet_scalenet.engine import RunSetupError, check_data, cli, set_data_root, setup_cpu_distributed


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model (mmdet, mmpretrain or mmseg config)')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the directory to save the file containing evaluation metrics')
    parser.add_argument('--out', type=str, help='dump predictions to a pickle file for offline evaluation')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument('--show-dir', help='directory where painted images will be saved. For mmdet configs, a '
                        'relative path is taken in work_dir/timestamp/')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument('--tta', action='store_true', help='test-time augmentation (the config\'s tta_model and '
                        'tta_pipeline; mmdet and mmpretrain default to flip augmentation without them)')
    parser.add_argument('--fuse', action='store_true',
                        help='test on the inference fast path (mmdet 2.x\'s --fuse-conv-bn): ScaleNet backbones and '
                        'C4 heads fused exactly (BatchNorms folded, fused oneDNN convs), mmcv\'s fuse_conv_bn for the '
                        'rest; same results, faster')
    cli.add_common_args(parser)
    return cli.parse_args(parser)


def show_predictions(cfg, toolbox: str, args) -> None:
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


def _innermost_dataset(cfg):
    dataset = cfg.test_dataloader.dataset
    while 'dataset' in dataset:
        dataset = dataset['dataset']
    return dataset


def use_tta(cfg, toolbox: str) -> None:
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


def main():
    args = parse_args()
    try:
        cfg = cli.load_config(args)
        toolbox = cli.toolbox_of(cfg)
        if args.data_root:
            set_data_root(cfg, args.data_root)
        if not osp.isfile(args.checkpoint) and '://' not in args.checkpoint:
            raise RunSetupError(f'{args.checkpoint}: checkpoint file not found')
        if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
            raise RunSetupError(f'--out {args.out}: the dump file must be a .pkl or .pickle file')
        check_data(cfg, ['test_dataloader'])
        cfg.load_from = args.checkpoint
        if args.show or args.show_dir:
            show_predictions(cfg, toolbox, args)
        if args.tta:
            use_tta(cfg, toolbox)
        if args.fuse:
            cfg.custom_hooks = [*cfg.get('custom_hooks', []), dict(type='FuseConvBNHook')]
    except RunSetupError as e:
        sys.exit(f'tools/test.py: {e}')
    setup_cpu_distributed(cfg, args.launcher)

    runner = cli.build_runner(cfg)
    if args.out is not None:
        runner.test_evaluator.metrics.append(result_dumper(toolbox, args.out))
    runner.test()


if __name__ == '__main__':
    main()
