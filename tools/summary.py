"""Print the built-in ScaleNet structures: blocks, neurons per stage, parameters and GMACs at 224x224."""
import argparse

from mmdet_scalenet import ScaleNet, load_structure
from mmdet_scalenet.analysis import classifier_complexity
from mmdet_scalenet.structure import BUILTIN_STRUCTURES


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('structures', nargs='*', default=list(BUILTIN_STRUCTURES),
                        help='built-in names or structure files (default: all built-in)')
    parser.add_argument('--size', type=int, default=224, help='input side for the MAC count')
    args = parser.parse_args()

    print(f'{"structure":<18} {"depth":>5} {"neurons per block, by stage":<28} {"params (M)":>10} '
          f'{"GMACs@" + str(args.size):>10}')
    for name in args.structures:
        structure = load_structure(name)
        neurons = [sum(sum(channels) for channels in structure.stage(i)) // len(structure.stage(i))
                   for i in range(4)]
        model = ScaleNet(depth=structure.depth, structure=structure)
        counts = classifier_complexity(model, size=args.size)
        print(f'{structure.name:<18} {structure.depth:>5} {str(neurons):<28} {counts.params / 1e6:>10.2f} '
              f'{counts.conv_macs / 1e9:>10.3f}')
    print('GMACs: multiply-accumulates of all convolutions plus the 1000-way fc (the paper\'s "FLOPs"), '
          'counted by mmengine.analysis; params include the fc.')


if __name__ == '__main__':
    main()
