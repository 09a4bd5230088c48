"""ScaleNet-50 against ResNet-50 in Faster R-CNN C4 and FPN, by object size, over random seeds: a study on a 2-core CPU.

Trains both detectors with both backbones from scratch (configs/detection_study/) on a synthetic data set whose
objects are balanced over COCO's size classes scaled to the image, evaluates each with mmdet's CocoMetric, and
writes docs/detection_study.md and its pictures. See scalenet_lab/detection_study.py for the design and the
measurement the defaults come from.

    python tools/detection_study.py --overwrite  # about 2.7 hours from scratch on 2 cores, seconds from the cache
    python tools/detection_study.py --overwrite --seeds 0 1 2 3  # one more seed: only the new runs train

Every run is cached under --work-dir: a re-run skips finished runs and resumes an interrupted one from its last
checkpoint; other settings in the same work dir are refused. An existing report is replaced only with --overwrite
(checked before any training; its pictures go with it).
"""
import argparse
import os
import sys

from scalenet_lab.argtypes import int_at_least
from scalenet_lab.study_cli import add_study_args, run_study_command


def main(argv=None):
    from scalenet_lab import detection_study
    defaults = detection_study.StudySettings(work_dir='')
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_study_args(parser, 'detection_study', defaults, 'random seeds each detector and backbone trains with')
    parser.add_argument('--num-train', type=int_at_least(1), default=defaults.num_train, help='training images')
    parser.add_argument('--num-val', type=int_at_least(1), default=defaults.num_val, help='validation images')
    parser.add_argument('--iters', type=int_at_least(1), default=defaults.iters,
                        help='training iterations of every run')
    parser.add_argument('--batch-size', type=int_at_least(1), default=defaults.batch_size)
    parser.add_argument('--checkpoint-interval', type=int_at_least(1), default=defaults.checkpoint_interval,
                        help='iterations between checkpoints (where an interrupted run resumes)')
    args = parser.parse_args(argv)
    settings = detection_study.StudySettings(
        work_dir=os.path.abspath(args.work_dir), num_train=args.num_train, num_val=args.num_val, iters=args.iters,
        batch_size=args.batch_size, seeds=tuple(args.seeds), checkpoint_interval=args.checkpoint_interval)
    return run_study_command('tools/detection_study.py', parser, args, detection_study, settings)


if __name__ == '__main__':
    sys.exit(main())
