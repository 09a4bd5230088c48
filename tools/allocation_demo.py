"""Neuron allocation on a detector, end to end on the demo's synthetic shapes (README, "Allocating neurons on the
detector"); about 35 minutes on a 2-core CPU. The three steps, each one of the project's tools:

1. train the seed detector (``configs/allocation/faster-rcnn_scalenet50-seed_fpn_synthetic-shapes.py``: the
   demo's Faster R-CNN FPN with the seed ScaleNet-50, ``planes`` neurons at every scale of every block);
2. ``tools/allocate_neurons.py``: score every branch neuron by its BN gamma in the detector checkpoint and keep the
   best under the budget (default: the paper's Eq. 6, per block the cost of the ResNet 3x3 conv it replaces);
3. retrain the demo detector from scratch with the allocated structure.

Both detectors are then evaluated with ``tools/test.py`` (COCO bbox mAP on the validation split), and
``tools/plot_structure.py`` draws the seed and the allocated structure side by side.
"""
import argparse
import glob
import json
import os
import sys
import time

from demo import CONFIG as DEMO_CONFIG
from demo import ROOT, run

SEED_CONFIG = os.path.join(ROOT, 'configs', 'allocation', 'faster-rcnn_scalenet50-seed_fpn_synthetic-shapes.py')


def last_checkpoint(work_dir):
    with open(os.path.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def evaluate(config, work_dir, data_root, options):
    test_dir = os.path.join(work_dir, 'test')
    run('evaluation', [sys.executable, 'tools/test.py', config, last_checkpoint(work_dir), '--work-dir', test_dir,
                       '--data-root', data_root, *options])
    results = sorted(glob.glob(os.path.join(test_dir, '*', '*.json')))
    if not results:
        sys.exit(f'[allocation] no metrics written under {test_dir}')
    with open(results[-1]) as f:
        return json.load(f)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--work-dir', default=os.path.join(ROOT, 'work_dirs', 'allocation'))
    parser.add_argument('--data-root', default=os.path.join(ROOT, 'data', 'synthetic_shapes'))
    parser.add_argument('--mode', default='block-flops', choices=('block-flops', 'network-flops'))
    parser.add_argument('--budget', type=float, help='tools/allocate_neurons.py --budget')
    parser.add_argument('--cfg-options', nargs='+', default=[], help='passed to every tools/train.py and test.py')
    args = parser.parse_args()
    start = time.time()

    from mmengine.config import Config
    from mmdet_scalenet.datasets import make_synthetic_shapes
    data = Config.fromfile(DEMO_CONFIG).get('demo_data', {})
    print(f'[allocation] writing the synthetic shapes data set to {args.data_root} ({data})', flush=True)
    make_synthetic_shapes(args.data_root, overwrite=True, **data)
    options = ['--cfg-options', *args.cfg_options] if args.cfg_options else []

    seed_dir = os.path.join(args.work_dir, 'seed')
    run('step 1, training the seed detector', [sys.executable, 'tools/train.py', SEED_CONFIG, '--work-dir', seed_dir,
                                               '--data-root', args.data_root, *options])

    structure = os.path.join(args.work_dir, 'allocated_structure.json')
    budget = ['--budget', str(args.budget)] if args.budget is not None else []
    run('step 2, allocating the neurons', [sys.executable, 'tools/allocate_neurons.py', last_checkpoint(seed_dir),
                                           '--mode', args.mode, *budget, '-o', structure, '--overwrite'])
    picture = os.path.join(args.work_dir, 'allocation.png')
    run('drawing the structures', [sys.executable, 'tools/plot_structure.py', 'scalenet50_seed', structure, '-o',
                                   picture, '--titles', 'seed (ScaleNet-50)', 'allocated on the detector',
                                   '--overwrite'])

    allocated_dir = os.path.join(args.work_dir, 'allocated')
    allocated_options = ['--cfg-options', f'model.backbone.structure={structure}', *args.cfg_options]
    run('step 3, retraining the allocated detector from scratch',
        [sys.executable, 'tools/train.py', DEMO_CONFIG, '--work-dir', allocated_dir, '--data-root', args.data_root,
         *allocated_options])

    seed_metrics = evaluate(SEED_CONFIG, seed_dir, args.data_root, options)
    allocated_metrics = evaluate(DEMO_CONFIG, allocated_dir, args.data_root, allocated_options)

    from mmdet_scalenet.allocation import structure_macs
    from mmdet_scalenet.structure import load_structure
    minutes = (time.time() - start) / 60
    print(f'\n[allocation] done in {minutes:.1f} minutes. Backbone GMACs at 224x224 (convs + 1000-way fc) and '
          f'COCO bbox mAP on the {data.get("num_val", "")} validation images:')
    for label, name, metrics in (('seed', 'scalenet50_seed', seed_metrics),
                                 ('allocated', structure, allocated_metrics)):
        print(f'[allocation]   {label:<10} {structure_macs(load_structure(name)) / 1e9:6.3f} GMACs   '
              f'mAP@[.5:.95] = {metrics["coco/bbox_mAP"]:.3f}   mAP@.5 = {metrics["coco/bbox_mAP_50"]:.3f}')
    print(f'[allocation] structure: {structure}; picture: {picture}')


if __name__ == '__main__':
    main()
