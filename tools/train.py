"""Train a detector: mmdet's tools/train.py, plus ScaleNet's checks and CPU support.

Same flags and behaviour as mmdet's script. In addition: ``--data-root`` moves every data path of the config; a
missing data set or missing pretrained weights stop the run at once with what to do; without CUDA, distributed runs
use gloo, and ``--amp`` says that it needs a GPU.
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmdet.utils import setup_cache_size_limit_of_dynamo


def parse_args():
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--amp', action='store_true', default=False,
                        help='enable automatic-mixed-precision training (needs CUDA)')
    parser.add_argument('--auto-scale-lr', action='store_true', help='enable automatically scaling LR.')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='If specify checkpoint path, resume from it, while if not specify, try to auto resume '
                        'from the latest checkpoint in the work directory.')
    parser.add_argument('--data-root', help='data set location, replacing the config\'s data_root everywhere')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override some settings in the used config, the key-value pair in xxx=yyy format will '
                        'be merged into config file. If the value to be overwritten is a list, it should be like '
                        'key="[a,b]" or key=a,b It also allows nested list/tuple values, e.g. key="[(a,b),(c,d)]" '
                        'Note that the quotation marks are necessary and that no white space is allowed.')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher')
    # torch.distributed.launch passes --local-rank (PyTorch >= 2.0) or --local_rank.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main():
    args = parse_args()
    setup_cache_size_limit_of_dynamo()

    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    # imported after the config, whose custom_imports may already have registered the package
    from mmdet_scalenet.engine import RunSetupError, check_amp, check_data, check_pretrained, set_data_root
    from mmdet_scalenet.engine import setup_cpu_distributed

    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])

    try:
        if args.data_root:
            set_data_root(cfg, args.data_root)
        if args.amp:
            check_amp()
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'
        if args.auto_scale_lr:
            if 'auto_scale_lr' in cfg and 'enable' in cfg.auto_scale_lr and 'base_batch_size' in cfg.auto_scale_lr:
                cfg.auto_scale_lr.enable = True
            else:
                raise RunSetupError('Can not find "auto_scale_lr" or "auto_scale_lr.enable" or '
                                    '"auto_scale_lr.base_batch_size" in your configuration file.')
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

    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    runner.train()


if __name__ == '__main__':
    main()
