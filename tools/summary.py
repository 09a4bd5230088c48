"""Print ScaleNet structures (default: the built-in ones): blocks, neurons per stage, parameters and GMACs."""
import argparse
import sys

from mmdet_scalenet import ScaleNet, load_structure
from mmdet_scalenet.structure import BUILTIN_STRUCTURES
from scalenet_lab import classifier_complexity
from scalenet_lab.argtypes import int_at_least
from scalenet_lab.cli import user_errors


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('structures', nargs='*', default=list(BUILTIN_STRUCTURES),
                        help='built-in names or structure files (default: all built-in)')
    parser.add_argument('--size', type=int_at_least(32), default=224,
                        help='input side for the MAC count (at least 32, ScaleNet\'s total stride)')
    args = parser.parse_args(argv)
    with user_errors('tools/summary.py'):
        structures = [load_structure(name) for name in args.structures]  # every file checked before any output

    print(f'{"structure":<18} {"depth":>5} {"neurons per block, by stage":<28} {"params (M)":>10} '
          f'{"GMACs@" + str(args.size):>10}')
    for structure in structures:
        neurons = [sum(sum(channels) for channels in structure.stage(i)) // len(structure.stage(i))
                   for i in range(4)]
        model = ScaleNet(depth=structure.depth, structure=structure)
        counts = classifier_complexity(model, size=args.size)
        print(f'{structure.name:<18} {structure.depth:>5} {str(neurons):<28} {counts.params / 1e6:>10.2f} '
              f'{counts.conv_macs / 1e9:>10.3f}')
    print('GMACs: multiply-accumulates of all convolutions plus the 1000-way fc (the paper\'s "FLOPs"), '
          'counted by mmengine.analysis; params include the fc.')
    return 0


if __name__ == '__main__':
    sys.exit(main())
