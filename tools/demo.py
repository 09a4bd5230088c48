"""The demo: synthetic data -> train ScaleNet Faster R-CNN (tools/train.py) -> COCO evaluation and drawn detections
(tools/test.py, then again with --fuse). No downloads; 7 minutes on a 2-core CPU with AVX-512, about twice that
without."""
import argparse
import os
import sys
import time

from scalenet_lab.cli import user_errors
from scalenet_lab.demo import CONFIG, add_demo_args, draw, evaluate, make_data, run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    add_demo_args(parser, 'demo')
    args = parser.parse_args(argv)
    start = time.time()

    with user_errors('tools/demo.py'):
        data = make_data(args.data_root, args.num_train, args.num_val)
    options = ['--cfg-options', *args.cfg_options] if args.cfg_options else []
    run('training', [sys.executable, 'tools/train.py', CONFIG, '--work-dir', args.work_dir, '--data-root',
                     args.data_root, *options])
    # the work directory is the demo's own: a second run replaces the predictions of the first
    predictions, fused_predictions = (os.path.join(args.work_dir, folder, 'predictions.pkl')
                                      for folder in ('test', 'test_fused'))
    for path in (predictions, fused_predictions):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    started = time.perf_counter()
    metrics = evaluate(CONFIG, args.work_dir, args.data_root, options, extra=['--out', predictions, '--overwrite'])
    plain_seconds = time.perf_counter() - started
    started = time.perf_counter()
    fused = evaluate(CONFIG, args.work_dir, args.data_root, options, test_dir='test_fused',
                     extra=['--fuse', '--out', fused_predictions, '--overwrite'])
    fused_seconds = time.perf_counter() - started
    show_dir = os.path.join(args.work_dir, 'detections')
    draw(predictions, show_dir)

    minutes = (time.time() - start) / 60
    print(f'\n[demo] done in {minutes:.1f} minutes: bbox mAP@[.5:.95] = {metrics["coco/bbox_mAP"]:.3f}, '
          f'mAP@.5 = {metrics["coco/bbox_mAP_50"]:.3f} on the {data["num_val"]} validation images')
    print(f'[demo] tools/test.py --fuse (inference fast path): bbox mAP@[.5:.95] = {fused["coco/bbox_mAP"]:.3f}, '
          f'mAP@.5 = {fused["coco/bbox_mAP_50"]:.3f}; test run {fused_seconds:.1f}s, {plain_seconds:.1f}s without '
          '--fuse (whole tools/test.py runs, start-up included)')
    print(f'[demo] images with drawn detections (4x, scores >= 0.3): {show_dir}')


if __name__ == '__main__':
    main()
