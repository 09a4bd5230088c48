"""Test (and evaluate) a model from an mmdet, mmpretrain or mmseg config: the toolboxes' tools/test.py, plus
ScaleNet's checks and CPU support.

Same flags for the three toolboxes (the config's ``default_scope`` says which), each with its toolbox's meaning:
``--out`` dumps the predictions to a pickle file (written when the test has finished; an existing file only with
``--overwrite``), ``--show``/``--show-dir`` draw them, ``--tta`` tests with test-time augmentation, ``--fuse`` on
the inference fast path (mmdet_scalenet/deploy/fuse_model.py). Plus ``--data-root``; a missing config, data set,
checkpoint or ``--out`` folder stops the run at once with what to do (exit status 2); without CUDA, distributed
runs use gloo. Checkpoints written by mmengine's Runner load with ``weights_only=True`` (importing mmdet_scalenet
allow-lists exactly the classes they need), and so do the authors' released ImageNet classifiers, into an
mmpretrain classifier config, strictly. What the flags do is in scalenet_lab/run_options.py.
"""
import argparse
import sys

from mmdet_scalenet.engine import setup_cpu_distributed, shutdown_distributed
from scalenet_lab import cli
from scalenet_lab.run_options import configure_test, run_test


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model (mmdet, mmpretrain or mmseg config)')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the directory to save the file containing evaluation metrics')
    parser.add_argument('--out', type=str, help='dump predictions to a pickle file for offline evaluation')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing --out file')
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
    return cli.parse_args(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    with cli.user_errors('tools/test.py'):
        cfg = cli.load_config(args)
        toolbox = configure_test(cfg, args)
    setup_cpu_distributed(cfg, args.launcher)
    run_test(cfg, toolbox, args.out)
    shutdown_distributed()  # the Runner is gone: the process group can go too


if __name__ == '__main__':
    sys.exit(main())
