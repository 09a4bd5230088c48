"""ScaleNet-50 against ResNet-50 in Faster R-CNN C4 and FPN, by object size, over random seeds: a study on a 2-core CPU.

Trains both detectors with both backbones from scratch (configs/detection_study/) on a synthetic data set whose
objects are balanced over COCO's size classes scaled to the image, evaluates each with mmdet's CocoMetric, and
writes docs/detection_study.md and its pictures. See scalenet_lab/detection_study.py for the design and the
measurement the defaults come from.

    python tools/detection_study.py --overwrite  # about 2.7 hours from scratch (estimated), seconds from the cache
    python tools/detection_study.py --overwrite --seeds 0 1 2 3  # one more seed: only the new runs train

Every run is cached under --work-dir: a re-run skips finished runs and resumes an interrupted one from its last
checkpoint; other settings in the same work dir are refused. An existing report is replaced only with --overwrite
(checked before any training; its pictures go with it).
"""
import argparse
import os
import sys

import torch

from scalenet_lab.argtypes import int_at_least
from scalenet_lab.cli import check_outputs, user_errors

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))


def main(argv=None):
    from scalenet_lab.detection_study import StudySettings, run_study, save_result, write_report
    defaults = StudySettings(work_dir='')
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--work-dir', default=os.path.join(ROOT, 'work_dirs', 'detection_study'),
                        help='data, runs and cache (default: work_dirs/detection_study)')
    parser.add_argument('--report', default=os.path.join(ROOT, 'docs', 'detection_study.md'),
                        help='the Markdown report (default: docs/detection_study.md)')
    parser.add_argument('--images', default=None, help='where the pictures go (default: images/ beside the report)')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing report and its pictures')
    parser.add_argument('--num-train', type=int_at_least(1), default=defaults.num_train, help='training images')
    parser.add_argument('--num-val', type=int_at_least(1), default=defaults.num_val, help='validation images')
    parser.add_argument('--iters', type=int_at_least(1), default=defaults.iters,
                        help='training iterations of every run')
    parser.add_argument('--batch-size', type=int_at_least(1), default=defaults.batch_size)
    parser.add_argument('--seeds', type=int_at_least(0), nargs='+', default=list(defaults.seeds),
                        help='random seeds each detector and backbone trains with')
    parser.add_argument('--checkpoint-interval', type=int_at_least(1), default=defaults.checkpoint_interval,
                        help='iterations between checkpoints (where an interrupted run resumes)')
    parser.add_argument('--threads', type=int_at_least(1), default=None, help='torch threads (default: torch\'s)')
    args = parser.parse_args(argv)
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f'--seeds: each seed once, got {args.seeds}')
    if args.threads:
        torch.set_num_threads(args.threads)

    settings = StudySettings(
        work_dir=os.path.abspath(args.work_dir), num_train=args.num_train, num_val=args.num_val, iters=args.iters,
        batch_size=args.batch_size, seeds=tuple(args.seeds), checkpoint_interval=args.checkpoint_interval)
    images = args.images or os.path.join(os.path.dirname(os.path.abspath(args.report)), 'images')
    with user_errors('tools/detection_study.py'):
        check_outputs([args.report], args.overwrite)
        if os.path.exists(images) and not os.path.isdir(images):
            raise NotADirectoryError(f'--images {images}: exists and is not a folder')
        result = run_study(settings, log=lambda line: print(line, flush=True))
        write_report(result, args.report, images)
        save_result(result, os.path.join(settings.work_dir, 'study.json'))
    print(f'[study] {len(result.runs)} runs; report {args.report}, pictures in {images}; '
          f'{result.seconds / 60:.1f} minutes')
    return 0


if __name__ == '__main__':
    sys.exit(main())
