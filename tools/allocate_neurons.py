"""Allocate the neurons of a ScaleNet from a trained seed checkpoint (Li et al., CVPR 2019, Sec. 3.2).

Reads the BN gamma of every branch neuron (a backbone state dict, the authors' classifier, or an mmdet detector
whose backbone sits under ``backbone.``), keeps the best neurons under the budget, prints a per-stage summary and
writes the structure (our schema or the authors' rows), optionally with the seed's weights for the kept neurons.

Examples::

    # the paper's Eq. 6: per block, the cost of the ResNet 3x3 conv it replaces
    python tools/allocate_neurons.py seed.pth --mode block-flops -o my_structure.json
    # the released files' pattern: one width multiplier for the whole network, 3.8 GMACs at 224
    python tools/allocate_neurons.py seed_detector.pth --depth 50 --mode network-flops --budget 3.8 \\
        -o scalenet50_3.8.json --export-weights scalenet50_3.8_init.pth
"""
import argparse
import sys

from mmdet_scalenet.allocation import (
    MODES,
    allocate,
    export_kept_weights,
    format_allocation,
    read_branch_gammas,
    save_allocation,
)
from mmdet_scalenet.geometry import SCALE_FACTORS, STAGE_BLOCKS
from mmdet_scalenet.utils.checkpoint import read_state_dict
from scalenet_lab.cli import check_outputs, user_errors


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument('checkpoint', help='the trained seed network: backbone, classifier or detector checkpoint')
    parser.add_argument('-o', '--out', required=True, help='the structure file to write (.json)')
    parser.add_argument('--mode', required=True, choices=MODES,
                        help='block-flops: per-block budget (paper Eq. 6); network-flops: one width multiplier '
                        'for a whole-network GMACs target (the released files\' pattern)')
    parser.add_argument('--budget', type=float,
                        help='block-flops: factor on each block\'s ResNet 3x3 conv cost (default 1.0); '
                        'network-flops: target GMACs at 224x224, convs + 1000-way fc (required, e.g. 3.8)')
    parser.add_argument('--depth', type=int, choices=sorted(STAGE_BLOCKS),
                        help='the seed\'s depth (default: found from the checkpoint; if given, it must match)')
    parser.add_argument('--b', type=float, default=0.0,
                        help='cost exponent of the score |gamma| / cost**b (default 0, as in the paper)')
    parser.add_argument('--format', choices=('schema', 'authors'), default='schema',
                        help='structure layout: our schema (default) or the authors\' [c1, c2, c4, c7, side] rows')
    parser.add_argument('--prefix', help='prefix of the backbone\'s keys (default: found, e.g. "backbone.")')
    parser.add_argument('--scale-factors', type=int, nargs='+', default=list(SCALE_FACTORS),
                        help='the seed\'s branch downsampling factors (default 1 2 4 7)')
    parser.add_argument('--norm-name', default='bn2', help='name of the branch norms (default bn2; gn2 for GN)')
    parser.add_argument('--name', help='the structure\'s name (default: from the mode and budget)')
    parser.add_argument('--export-weights', metavar='PATH',
                        help='also write the seed\'s weights cut down to the kept neurons (same key layout as '
                        'the checkpoint, other keys unchanged)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace existing output files (never the checkpoint read)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    with user_errors('tools/allocate_neurons.py'):
        check_outputs([args.out, args.export_weights], args.overwrite, inputs=[args.checkpoint])
        state = read_state_dict(args.checkpoint)
        gammas = read_branch_gammas(state, depth=args.depth, scale_factors=args.scale_factors, prefix=args.prefix,
                                    norm_name=args.norm_name, source=args.checkpoint)
        allocation = allocate(gammas, args.mode, budget=args.budget, b=args.b, name=args.name)
        weights = export_kept_weights(state, allocation) if args.export_weights else None
        save_allocation(allocation, args.out, layout=args.format, overwrite=args.overwrite, weights=weights,
                        weights_path=args.export_weights)
    print(format_allocation(allocation))
    print(f'wrote {args.out} ({args.format})' + (f' and {args.export_weights}' if args.export_weights else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
