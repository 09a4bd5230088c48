"""Does the data-driven neuron allocation adapt to the data, and does that pay? A study on a 2-core CPU.

Trains a seed ScaleNet-50 classifier on each of two synthetic regimes (small objects / large objects), allocates
each at the same GMACs, and retrains five networks per regime with several random seeds; writes
docs/allocation_study.md and its pictures. See scalenet_lab/allocation_study.py for the design.

    python tools/allocation_study.py --overwrite  # 84 minutes from scratch (measured), seconds from the cache
    python tools/allocation_study.py --overwrite --seeds 0 1 2 3  # one more seed: only the new runs train

Every run is cached under --work-dir: a re-run skips finished runs and resumes an interrupted one. An existing
report is replaced only with --overwrite (checked before any training; its pictures go with it).
"""
import argparse
import os
import sys

from scalenet_lab.argtypes import int_at_least, non_negative_float
from scalenet_lab.study_cli import add_study_args, run_study_command


def main(argv=None):
    from scalenet_lab import allocation_study
    defaults = allocation_study.StudySettings(work_dir='')
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_study_args(parser, 'allocation_study', defaults,
                   'random seeds of the retrainings (the seed networks use the first)')
    parser.add_argument('--image-size', type=int_at_least(32), default=defaults.image_size)
    parser.add_argument('--num-train', type=int_at_least(4), default=defaults.num_train,
                        help='training images per regime')
    parser.add_argument('--num-val', type=int_at_least(4), default=defaults.num_val,
                        help='validation images per regime')
    parser.add_argument('--seed-epochs', type=int_at_least(1), default=defaults.seed_epochs)
    parser.add_argument('--epochs', type=int_at_least(1), default=defaults.epochs, help='epochs of each retraining')
    parser.add_argument('--batch-size', type=int_at_least(1), default=defaults.batch_size)
    parser.add_argument('--sparsity', type=non_negative_float, default=defaults.sparsity,
                        help='L1 weight on the seed networks\' branch gammas')
    parser.add_argument('--gamma-lr-mult', type=non_negative_float, default=defaults.gamma_lr_mult,
                        help='learning-rate multiplier of the seed networks\' branch norms')
    args = parser.parse_args(argv)
    settings = allocation_study.StudySettings(
        work_dir=os.path.abspath(args.work_dir), image_size=args.image_size, num_train=args.num_train,
        num_val=args.num_val, seeds=tuple(args.seeds), seed_epochs=args.seed_epochs, epochs=args.epochs,
        batch_size=args.batch_size, sparsity=args.sparsity, gamma_lr_mult=args.gamma_lr_mult)
    return run_study_command('tools/allocation_study.py', parser, args, allocation_study, settings)


if __name__ == '__main__':
    sys.exit(main())
