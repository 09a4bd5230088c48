"""Export a ScaleNet backbone to ONNX with a dynamic input size and check it against PyTorch with onnxruntime.

    python tools/export_onnx.py scalenet50.onnx --depth 50 --checkpoint scalenet50.pth --check 224x224 257x319
    python tools/export_onnx.py backbone.onnx --config configs/my_scalenet_config.py --checkpoint epoch_10.pth

The graph is the exact fast path (BatchNorms folded); nearest-or-bilinear upsampling is chosen in the graph from
the runtime sizes, so one file serves every input of at least the minimum side it prints (see
mmdet_scalenet/export.py). Needs `onnx`, `onnxscript` and, for --check, `onnxruntime`.
"""
import argparse
import sys


def parse_args(argv=None):
    from mmdet_scalenet.engine.argtypes import parse_size
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('out', help='the .onnx file to write')
    parser.add_argument('--depth', type=int, default=50, choices=(50, 101, 152))
    parser.add_argument('--structure', help='structure name or file (default: that of --depth)')
    parser.add_argument('--config', help="take the backbone from this config's model.backbone (a ScaleNet)")
    parser.add_argument('--checkpoint', help='weights: the authors\' ImageNet file, or a detector checkpoint '
                        '(its backbone.* keys are used)')
    parser.add_argument('--max-size', type=int, default=4096, help='largest input side the graph accepts')
    parser.add_argument('--check', type=parse_size, nargs='*', default=[(224, 224), (257, 319)],
                        help='compare onnxruntime with PyTorch at these sizes (none: skip)')
    parser.add_argument('--tolerance', type=float, default=1e-4, help='max error relative to max(1, |output|)')
    return parser.parse_args(argv)


def build_backbone(args):
    from mmdet.registry import MODELS

    import mmdet_scalenet  # noqa: F401 (registers ScaleNet)
    if args.config:
        from mmengine.config import Config
        cfg = Config.fromfile(args.config).model.backbone
        if cfg.get('type') != 'ScaleNet':
            raise SystemExit(f'error: {args.config}: model.backbone is {cfg.get("type")}, not ScaleNet')
        cfg = dict(cfg, init_cfg=None)
    else:
        cfg = dict(type='ScaleNet', depth=args.depth, init_cfg=None)
        if args.structure:
            cfg['structure'] = args.structure
    return MODELS.build(cfg)


def load_weights(model, checkpoint):
    from mmdet_scalenet.utils.checkpoint import read_state_dict
    if checkpoint:
        state = read_state_dict(checkpoint)
        if any(key.startswith('backbone.') for key in state):
            cfg_init = dict(type='Pretrained', checkpoint=checkpoint, prefix='backbone.')
        else:
            cfg_init = dict(type='Pretrained', checkpoint=checkpoint)
        model.init_cfg = cfg_init
        model.init_weights()
    else:
        print('no --checkpoint: exporting random (PyTorch default) weights')
    return model.eval()


def main(argv=None):
    args = parse_args(argv)
    from mmdet_scalenet import StructureError
    from mmdet_scalenet.deploy import check_onnx, export_onnx, min_input_size
    try:
        model = build_backbone(args)
    except StructureError as e:
        sys.exit(f'error: {e}')
    low = min_input_size(model.structure, model.num_stages, model.strides)
    if args.max_size < low:
        sys.exit(f'error: --max-size {args.max_size} is below the minimum input size {low} of {model.structure.name}')
    outside = [f'{h}x{w}' for h, w in args.check if min(h, w) < low or max(h, w) > args.max_size]
    if outside:
        sys.exit(f'error: --check {" ".join(outside)}: each side must be in {low}..{args.max_size} (the minimum '
                 f'input size of {model.structure.name} is {low}, --max-size {args.max_size})')
    model = load_weights(model, args.checkpoint)
    print(f'exporting {model.structure.name} (inputs {low}..{args.max_size} per side, dynamic batch) to {args.out}')
    export_onnx(model, args.out, max_size=args.max_size)
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
