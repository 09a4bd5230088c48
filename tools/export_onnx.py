"""Export a ScaleNet backbone to ONNX with a dynamic input size and check it against PyTorch with onnxruntime.

    python tools/export_onnx.py scalenet50.onnx --depth 50 --checkpoint scalenet50.pth --check 224x224 257x319
    python tools/export_onnx.py backbone.onnx --config configs/my_scalenet_config.py --checkpoint epoch_10.pth

The graph is the exact fast path (BatchNorms folded); nearest-or-bilinear upsampling is chosen in the graph from
the runtime sizes, so one file serves every input of at least the minimum side it prints (see
mmdet_scalenet/deploy/onnx.py). The file is written atomically; an existing file only with --overwrite. Needs
`onnx`, `onnxscript` and, for --check, `onnxruntime`.
"""
import argparse
import sys


def parse_args(argv=None):
    from scalenet_lab.argtypes import int_at_least, non_negative_float, parse_size
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('out', help='the .onnx file to write')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing file')
    parser.add_argument('--depth', type=int, default=50, choices=(50, 101, 152))
    parser.add_argument('--structure', help='structure name or file (default: that of --depth)')
    parser.add_argument('--config', help="take the backbone from this config's model.backbone (a ScaleNet)")
    parser.add_argument('--checkpoint', help='weights: the authors\' ImageNet file, or a detector checkpoint '
                        '(its backbone.* keys are used)')
    parser.add_argument('--max-size', type=int_at_least(32), default=4096,
                        help='largest input side the graph accepts')
    parser.add_argument('--check', type=parse_size, nargs='*', default=[(224, 224), (257, 319)],
                        help='compare onnxruntime with PyTorch at these sizes (none: skip)')
    parser.add_argument('--tolerance', type=non_negative_float, default=1e-4,
                        help='max error relative to max(1, |output|)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mmdet_scalenet.deploy import check_onnx, export_onnx
    from scalenet_lab.cli import check_outputs, user_errors
    from scalenet_lab.export import build_scalenet, check_sizes, load_backbone_weights
    with user_errors('tools/export_onnx.py'):
        check_outputs([args.out], args.overwrite, inputs=[args.checkpoint, args.config])
        model = build_scalenet(args.config, args.depth, args.structure)
        low = check_sizes(model, args.max_size, args.check)
        if args.checkpoint:
            model = load_backbone_weights(model, args.checkpoint)
        else:
            print('no --checkpoint: exporting random (PyTorch default) weights')
            model.eval()
    print(f'exporting {model.structure.name} (inputs {low}..{args.max_size} per side, dynamic batch) to {args.out}')
    export_onnx(model, args.out, max_size=args.max_size, overwrite=args.overwrite)
    failed = False
    for shape, errors in zip(args.check, check_onnx(args.out, model, args.check) if args.check else []):
        worst = max(errors.values())
        status = 'ok' if worst <= args.tolerance else 'MISMATCH'
        failed |= worst > args.tolerance
        print(f'{shape[0]}x{shape[1]}: max relative error {worst:.2e} ({status})')
    if failed:
        sys.exit(f'onnxruntime output differs from PyTorch by more than {args.tolerance}')


if __name__ == '__main__':
    main()
