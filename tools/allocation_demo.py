"""Neuron allocation on a detector, end to end on the demo's synthetic shapes (docs/allocation.md, "On the
detector"); about 30 minutes on a 2-core CPU. The three steps, each one of the project's tools:

1. train the seed detector (``configs/allocation/faster-rcnn_scalenet50-seed_fpn_synthetic-shapes.py``: the
   demo's Faster R-CNN FPN with the seed ScaleNet-50, ``planes`` neurons at every scale of every block);
2. ``tools/allocate_neurons.py``: score every branch neuron by its BN gamma in the detector checkpoint and keep the
   best under the budget (default: the paper's Eq. 6, per block the cost of the ResNet 3x3 conv it replaces);
3. retrain the same detector from scratch with the allocated structure.

Both detectors are then evaluated with ``tools/test.py`` (COCO bbox mAP on the validation split), and
``tools/plot_structure.py`` draws the seed and the allocated structure side by side.
"""
import argparse
import functools
import math
import os
import sys
import time

from mmdet_scalenet.allocation import MODES
from scalenet_lab import demo
from scalenet_lab.cli import user_errors

SEED_CONFIG = os.path.join(demo.ROOT, 'configs', 'allocation', 'faster-rcnn_scalenet50-seed_fpn_synthetic-shapes.py')
TAG = 'allocation'
run = functools.partial(demo.run, tag=TAG)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    demo.add_demo_args(parser, 'allocation')
    parser.add_argument('--mode', default='block-flops', choices=MODES)
    parser.add_argument('--budget', type=float,
                        help='tools/allocate_neurons.py --budget (required with --mode network-flops)')
    args = parser.parse_args(argv)
    # checked here, not only by tools/allocate_neurons.py after the seed detector's training
    if args.mode == 'network-flops' and args.budget is None:
        parser.error('--mode network-flops needs --budget (the target GMACs at 224x224, e.g. 3.8)')
    if args.budget is not None and not (math.isfinite(args.budget) and args.budget > 0):
        parser.error(f'--budget: expected a finite number > 0, got {args.budget:g}')
    start = time.time()

    with user_errors('tools/allocation_demo.py'):
        data = demo.make_data(args.data_root, args.num_train, args.num_val, tag=TAG)
    options = ['--cfg-options', *args.cfg_options] if args.cfg_options else []

    seed_dir = os.path.join(args.work_dir, 'seed')
    run('step 1, training the seed detector', [sys.executable, 'tools/train.py', SEED_CONFIG, '--work-dir', seed_dir,
                                               '--data-root', args.data_root, *options])

    structure = os.path.join(args.work_dir, 'allocated_structure.json')
    budget = ['--budget', str(args.budget)] if args.budget is not None else []
    run('step 2, allocating the neurons', [sys.executable, 'tools/allocate_neurons.py',
                                           demo.last_checkpoint(seed_dir), '--mode', args.mode, *budget, '-o',
                                           structure, '--overwrite'])
    picture = os.path.join(args.work_dir, 'allocation.png')
    run('drawing the structures', [sys.executable, 'tools/plot_structure.py', 'scalenet50_seed', structure, '-o',
                                   picture, '--titles', 'seed (ScaleNet-50)', 'allocated on the detector',
                                   '--overwrite'])

    allocated_dir = os.path.join(args.work_dir, 'allocated')
    allocated_options = ['--cfg-options', f'model.backbone.structure={structure}', *args.cfg_options]
    run('step 3, retraining the detector with the allocated structure, from scratch',
        [sys.executable, 'tools/train.py', SEED_CONFIG, '--work-dir', allocated_dir, '--data-root', args.data_root,
         *allocated_options])

    seed_metrics = demo.evaluate(SEED_CONFIG, seed_dir, args.data_root, options, tag=TAG)
    allocated_metrics = demo.evaluate(SEED_CONFIG, allocated_dir, args.data_root, allocated_options, tag=TAG)

    from mmdet_scalenet.costs import structure_macs
    from mmdet_scalenet.structure import load_structure
    minutes = (time.time() - start) / 60
    print(f'\n[{TAG}] done in {minutes:.1f} minutes. Backbone GMACs at 224x224 (convs + 1000-way fc) and COCO bbox '
          f'mAP on the {data["num_val"]} validation images:')
    for label, name, metrics in (('seed', 'scalenet50_seed', seed_metrics),
                                 ('allocated', structure, allocated_metrics)):
        print(f'[{TAG}]   {label:<10} {structure_macs(load_structure(name)) / 1e9:6.3f} GMACs   '
              f'mAP@[.5:.95] = {metrics["coco/bbox_mAP"]:.3f}   mAP@.5 = {metrics["coco/bbox_mAP_50"]:.3f}')
    print(f'[{TAG}] structure: {structure}; picture: {picture}')


if __name__ == '__main__':
    main()
