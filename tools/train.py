"""Train a model from an mmdet, mmpretrain or mmseg config: the toolboxes' tools/train.py, plus ScaleNet's checks
and CPU support.

Same flags and behaviour as mmdet's script, for the three toolboxes (the config's ``default_scope`` says which).
In addition: ``--data-root`` moves every data path of the config; a missing data set or missing pretrained weights
stop the run at once with what to do; without CUDA, distributed runs use gloo, and ``--amp`` says that it needs a
GPU.
"""
import argparse
import os.path as osp
import sys

from mmdet_scalenet.engine import (
    RunSetupError,
    check_amp,
    check_data,
    check_pretrained,
    cli,
    set_data_root,
    setup_cpu_distributed,
)


def parse_args():
    parser = argparse.ArgumentParser(description='Train a model (mmdet, mmpretrain or mmseg config)')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--amp', action='store_true', default=False,
                        help='enable automatic-mixed-precision training (needs CUDA)')
    parser.add_argument('--auto-scale-lr', action='store_true', help='enable automatically scaling LR.')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='If specify checkpoint path, resume from it, while if not specify, try to auto resume '
                        'from the latest checkpoint in the work directory.')
    cli.add_common_args(parser)
    return cli.parse_args(parser)


def main():
    args = parse_args()
    try:
        cfg = cli.load_config(args)
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
        check_data(cfg, ['train_dataloader', 'val_dataloader'] if cfg.get('val_cfg') else ['train_dataloader'])
        if not cfg.get('resume') and not cfg.get('load_from'):
            check_pretrained(cfg)
    except RunSetupError as e:
        sys.exit(f'tools/train.py: {e}')
    setup_cpu_distributed(cfg, args.launcher)

    runner = cli.build_runner(cfg)
    runner.train()


if __name__ == '__main__':
    main()
