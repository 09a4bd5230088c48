"""Train a model from an mmdet, mmpretrain or mmseg config: the toolboxes' tools/train.py, plus ScaleNet's checks
and CPU support.

Same flags and behaviour as mmdet's script, for the three toolboxes (the config's ``default_scope`` says which).
In addition: ``--data-root`` moves every data path of the config; a missing data set or missing pretrained weights
stop the run at once with what to do (exit status 2); without CUDA, distributed runs use gloo, and ``--amp`` says
that it needs a GPU. What the flags do is in scalenet_lab/run_options.py.
"""
import argparse
import sys

from mmdet_scalenet.engine import setup_cpu_distributed, shutdown_distributed
from scalenet_lab import cli
from scalenet_lab.run_options import configure_train


def parse_args(argv=None):
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
    return cli.parse_args(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    with cli.user_errors('tools/train.py'):
        cfg = cli.load_config(args)
        configure_train(cfg, args)
    setup_cpu_distributed(cfg, args.launcher)
    cli.build_runner(cfg).train()
    shutdown_distributed()  # the Runner is gone: the process group can go too


if __name__ == '__main__':
    sys.exit(main())
