"""Draw ScaleNet structures: each block's proportion of neurons per scale as stacked bars (the paper's Figure 5).

Examples::

    python tools/plot_structure.py scalenet50 -o scalenet50.png
    # before / after, side by side
    python tools/plot_structure.py seed.json allocated.json -o allocation.svg --titles seed allocated
    # the built-in structures, one PNG each
    python tools/plot_structure.py --builtins docs/images
"""
import argparse
import os
import sys

from mmdet_scalenet.structure import BUILTIN_STRUCTURES, load_structure
from scalenet_lab.cli import check_outputs, user_errors
from scalenet_lab.plot import plot_structures


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument('structures', nargs='*',
                        help=f'built-in names ({", ".join(BUILTIN_STRUCTURES)}) or structure files; two or more '
                        'are drawn side by side')
    parser.add_argument('-o', '--out', help='the picture to write (.png, .svg or .pdf)')
    parser.add_argument('--titles', nargs='+', help='one title per structure (default: their names)')
    parser.add_argument('--builtins', metavar='DIR',
                        help='instead: write DIR/<name>.png for every built-in structure')
    parser.add_argument('--overwrite', action='store_true', help='replace existing pictures')
    args = parser.parse_args(argv)
    if args.builtins is not None:
        if args.structures or args.out or args.titles:
            parser.error('--builtins takes no structures, -o or --titles')
    elif not args.structures or not args.out:
        parser.error('give one or more structures and -o OUT (or --builtins DIR)')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    with user_errors('tools/plot_structure.py'):
        if args.builtins is not None:
            paths = [os.path.join(args.builtins, f'{name}.png') for name in BUILTIN_STRUCTURES]
            check_outputs(paths, args.overwrite)  # all of them before the first is drawn
            for name, path in zip(BUILTIN_STRUCTURES, paths):
                plot_structures([load_structure(name)], path, overwrite=args.overwrite)
                print(f'wrote {path}')
        else:
            check_outputs([args.out], args.overwrite, inputs=args.structures)
            structures = [load_structure(s) for s in args.structures]
            plot_structures(structures, args.out, titles=args.titles, overwrite=args.overwrite)
            print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
