"""Benchmark ScaleNet against mmdet's ResNet of the same depth (see scalenet_lab/benchmark/ and docs/benchmark.md).

Backbones, CPU, 2 threads, batch 1, at 224x224 and 800x1216:
    python tools/benchmark.py --threads 2 --sizes 224x224 800x1216
Faster R-CNN FPN (mmdet's config, backbone swapped), training step at batch 2, 640x640:
    python tools/benchmark.py --detector --threads 2 --sizes 640x640 --train-batch 2
Any detector config whose backbone is ScaleNet or ResNet:
    python tools/benchmark.py --config configs/faster-rcnn_r50_fpn_8xb2-10e_coco-800x1200.py
Eager against torch.compile (and CUDA graphs on a GPU), with kernel launch counts:
    python tools/benchmark.py --threads 2 --sizes 224x224 --modes eager,compiled --launches
"""
import argparse
import os
import sys


def parse_args(argv=None):
    # OpenMP reads its wait policy when torch loads, and importing scalenet_lab (argtypes) loads torch: so the
    # policy is read and applied first.
    omp = argparse.ArgumentParser(add_help=False)
    omp.add_argument('--omp-wait-policy', default='PASSIVE', choices=('PASSIVE', 'ACTIVE', 'default'),
                     help='OpenMP workers sleep (PASSIVE, default here) or spin (ACTIVE, libgomp\'s default) '
                     'between parallel regions. On a machine shared with other jobs, spinning workers stall '
                     'every parallel region (measured: 10-40x slower, worst for many small ops); PASSIVE '
                     'measures the networks, not the scheduler. Set before torch loads; ignored after.')
    policy = omp.parse_known_args(argv)[0].omp_wait_policy
    if policy != 'default' and 'torch' not in sys.modules:
        os.environ.setdefault('OMP_WAIT_POLICY', policy)
    from scalenet_lab.argtypes import int_at_least, parse_size
    from scalenet_lab.benchmark.compiled import parse_modes
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     parents=[omp])
    parser.add_argument('--depth', type=int, default=50, choices=(50, 101, 152))
    parser.add_argument('--structure', help='ScaleNet structure name or file (default: that of --depth)')
    parser.add_argument('--detector', action='store_true',
                        help='compare whole detectors (default config: mmdet Faster R-CNN R50 FPN)')
    parser.add_argument('--config', help='detector config whose backbone is swapped (implies --detector)')
    parser.add_argument('--sizes', type=parse_size, nargs='+', default=[(224, 224), (800, 1216)],
                        help='inference input sizes, HxW')
    parser.add_argument('--train-size', type=parse_size,
                        help='training-step input size (default: the first of --sizes)')
    parser.add_argument('--batch', type=int_at_least(1), default=1, help='inference batch size')
    parser.add_argument('--train-batch', type=int_at_least(1), default=2, help='training-step batch size')
    parser.add_argument('--threads', type=int_at_least(1), help='torch.set_num_threads (default: torch\'s choice)')
    parser.add_argument('--device', default='cpu',
                        help="'cpu', 'cuda' or 'cuda:N' (synchronised, GPU memory reported)")
    parser.add_argument('--repeats', type=int_at_least(1), default=10)
    parser.add_argument('--warmup', type=int_at_least(0), default=2)
    parser.add_argument('--channels-last', action='store_true', help='both networks in channels-last layout')
    parser.add_argument('--no-fast-path', action='store_true', help='skip the fused (fast-path) inference rows')
    parser.add_argument('--no-train', action='store_true', help='skip the training step and memory')
    parser.add_argument('--no-inference', action='store_true', help='skip the inference timings')
    parser.add_argument('--modes', type=parse_modes, default=('eager', ),
                        help='treatments for both networks, comma-separated: eager (plain and fast-path rows), '
                        'compiled (torch.compile of the backbone, and the neck in a detector, as CompileHook), '
                        "compiled-graphs (the same with mode='reduce-overhead': CUDA graphs on a GPU)")
    parser.add_argument('--compile-backend', default='inductor',
                        help="torch.compile backend of the compiled modes ('eager' or 'aot_eager' only check the "
                        'tracing, quickly)')
    parser.add_argument('--static-shapes', action='store_true',
                        help='compile with dynamic=False (default dynamic=True, CompileHook\'s default)')
    parser.add_argument('--graph-sizes', type=parse_size, nargs='+', default=[],
                        help='after timing, run each compiled training step once at these sizes HxW and report '
                        'the graphs dynamo built')
    parser.add_argument('--launches', action='store_true',
                        help='count kernel launches per forward and per training step (eager aten ops; inductor '
                        'kernel calls with a compiled mode; GPU kernels on CUDA) at the first --sizes')
    parser.add_argument('--out', help='also write the report to this file (its folder must exist)')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing --out file')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mmdet_scalenet.utils.fileio import write_atomically
    from scalenet_lab.benchmark import BenchmarkSettings, check_settings, format_report, run_benchmark
    from scalenet_lab.cli import check_outputs, user_errors
    settings = BenchmarkSettings(
        depth=args.depth, structure=args.structure, detector=args.detector or args.config is not None,
        config=args.config, sizes=args.sizes, train_size=args.train_size, batch=args.batch,
        train_batch=args.train_batch, threads=args.threads, device=args.device, repeats=args.repeats,
        warmup=args.warmup, channels_last=args.channels_last, fast_path=not args.no_fast_path,
        train=not args.no_train, inference=not args.no_inference, modes=args.modes,
        compile_backend=args.compile_backend, compile_dynamic=not args.static_shapes, graph_sizes=args.graph_sizes,
        launches=args.launches)
    with user_errors('tools/benchmark.py'):  # before any measurement
        check_outputs([args.out], args.overwrite, inputs=[args.config])
        check_settings(settings)
    result = run_benchmark(settings, log=lambda line: print(line, file=sys.stderr, flush=True))
    report = format_report(result)
    print(report)
    if args.out:
        command = f'python tools/benchmark.py {" ".join(argv if argv is not None else sys.argv[1:])}'
        with user_errors('tools/benchmark.py'):
            write_atomically(args.out, lambda tmp: _write_text(tmp, f'command: {command}\n\n{report}\n'),
                             overwrite=args.overwrite)
    return 0


def _write_text(path, text):
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)


if __name__ == '__main__':
    sys.exit(main())
