"""Test (and evaluate) a detector: mmdet's tools/test.py, plus ScaleNet's checks and CPU support.

Same flags and behaviour as mmdet's script, plus ``--data-root``; a missing data set or checkpoint stops the run at
once with what to do; without CUDA, distributed runs use gloo. Checkpoints written by mmengine's Runner load with
``weights_only=True`` (importing mmdet_scalenet allow-lists exactly the classes they need).
"""
import argparse
import os.path as osp
import sys
import warnings
from copy import deepcopy

from mmengine import ConfigDict

from mmdet.engine.hooks.utils import trigger_visualization_hook
from mmdet.evaluation import DumpDetResults
from mmdet_scalenet.engine import RunSetupError, check_data, cli, set_data_root, setup_cpu_distributed


def parse_args():
    parser = argparse.ArgumentParser(description='MMDet test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the directory to save the file containing evaluation metrics')
    parser.add_argument('--out', type=str, help='dump predictions to a pickle file for offline evaluation')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument('--show-dir', help='directory where painted images will be saved. If specified, it will be '
                        'automatically saved to the work_dir/timestamp/show_dir')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument('--tta', action='store_true')
    cli.add_common_args(parser)
    return cli.parse_args(parser)


def main():
    args = parse_args()
    cfg = cli.load_config(args)

    try:
        if args.data_root:
            set_data_root(cfg, args.data_root)
        if not osp.isfile(args.checkpoint) and '://' not in args.checkpoint:
            raise RunSetupError(f'{args.checkpoint}: checkpoint file not found')
        if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
            raise RunSetupError(f'--out {args.out}: the dump file must be a .pkl or .pickle file')
        check_data(cfg, ['test_dataloader'])
    except RunSetupError as e:
        sys.exit(f'tools/test.py: {e}')
    setup_cpu_distributed(cfg, args.launcher)

    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)

    if args.tta:
        if 'tta_model' not in cfg:
            warnings.warn('Cannot find ``tta_model`` in config, we will set it as default.')
            cfg.tta_model = dict(
                type='DetTTAModel', tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5), max_per_img=100))
        if 'tta_pipeline' not in cfg:
            warnings.warn('Cannot find ``tta_pipeline`` in config, we will set it as default.')
            test_data_cfg = cfg.test_dataloader.dataset
            while 'dataset' in test_data_cfg:
                test_data_cfg = test_data_cfg['dataset']
            cfg.tta_pipeline = deepcopy(test_data_cfg.pipeline)
            cfg.tta_pipeline[-1] = dict(
                type='TestTimeAug',
                transforms=[[dict(type='RandomFlip', prob=1.), dict(type='RandomFlip', prob=0.)],
                            [dict(type='PackDetInputs',
                                  meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
                                             'flip_direction'))]])
        cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline

    runner = cli.build_runner(cfg)
    if args.out is not None:
        runner.test_evaluator.metrics.append(DumpDetResults(out_file_path=args.out))
    runner.test()


if __name__ == '__main__':
    main()
