"""The demo: synthetic data -> train ScaleNet Faster R-CNN (tools/train.py) -> COCO evaluation and drawn detections
(tools/test.py). No downloads; about 15-20 minutes on a 2-core CPU."""
import argparse
import glob
import json
import os
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
CONFIG = os.path.join(ROOT, 'configs', 'demo', 'faster-rcnn_scalenet50-light_fpn_synthetic-shapes.py')


def run(step, args):
    print(f'\n[demo] {step}: {" ".join(args)}', flush=True)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    result = subprocess.run(args, cwd=ROOT, env=env)
    if result.returncode != 0:
        sys.exit(f'[demo] {step} failed (exit {result.returncode}); see the messages above')


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--work-dir', default=os.path.join(ROOT, 'work_dirs', 'demo'))
    parser.add_argument('--data-root', default=os.path.join(ROOT, 'data', 'synthetic_shapes'))
    parser.add_argument('--cfg-options', nargs='+', default=[], help='passed to tools/train.py and tools/test.py')
    args = parser.parse_args()
    start = time.time()

    from mmengine.config import Config
    cfg = Config.fromfile(CONFIG)
    data = cfg.get('demo_data', {})
    print(f'[demo] writing the synthetic shapes data set to {args.data_root} ({data})', flush=True)
    from mmdet_scalenet.datasets import make_synthetic_shapes
    make_synthetic_shapes(args.data_root, overwrite=True, **data)

    options = ['--cfg-options', *args.cfg_options] if args.cfg_options else []
    run('training', [sys.executable, 'tools/train.py', CONFIG, '--work-dir', args.work_dir, '--data-root',
                     args.data_root, *options])
    with open(os.path.join(args.work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    show_dir = os.path.join(args.work_dir, 'detections')
    test_dir = os.path.join(args.work_dir, 'test')
    run('evaluation', [sys.executable, 'tools/test.py', CONFIG, checkpoint, '--work-dir', test_dir, '--data-root',
                       args.data_root, '--show-dir', show_dir, *options])

    results = sorted(glob.glob(os.path.join(test_dir, '*', '*.json')))
    metrics = json.load(open(results[-1])) if results else {}
    minutes = (time.time() - start) / 60
    print(f'\n[demo] done in {minutes:.1f} minutes: bbox mAP@[.5:.95] = {metrics.get("coco/bbox_mAP", "?")}, '
          f'mAP@.5 = {metrics.get("coco/bbox_mAP_50", "?")} on the {data.get("num_val", "")} validation images')
    print(f'[demo] images with drawn detections: {show_dir}')


if __name__ == '__main__':
    main()
