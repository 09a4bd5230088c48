"""The GPU table of docs/benchmark.md: ScaleNet-50 against ResNet-50, eager, compiled and compiled + CUDA graphs
alike, backbone inference at batch 1 and 8 (224x224, 800x1216), a Faster R-CNN FPN training step (800x1216, batch
2), compile times, graphs over detection sizes, peak memory and kernel counts, in one Markdown file.

Sections (scalenet_lab/benchmark/suite.py) run in turn, each in its own process, until --budget seconds are spent;
the file is rewritten after each, so a stopped run keeps what it measured. On a lent GPU machine run it through
tools/benchmark_gpu.sh, which installs the carried wheels first:
    bash tools/benchmark_gpu.sh run
Here, a check of the plumbing on CPU (tiny inputs, tracing only):
    python tools/benchmark_gpu.py --dry-run --device cpu --out /tmp/benchmark_gpu.md
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

#: A section is not started with less time than this left.
MIN_SECTION_SECONDS = 20


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', required=True, help='the Markdown file to write (its folder must exist)')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing --out file')
    parser.add_argument('--device', default='cuda', help="'cuda', 'cuda:N' or, with --dry-run, 'cpu'")
    parser.add_argument('--dry-run', action='store_true',
                        help='two sections that take the code paths of all the others, on tiny inputs and the light '
                        'structure, compiled by the eager backend (tracing only): checks the plumbing on CPU in about '
                        'a minute, measures nothing useful')
    parser.add_argument('--budget', type=float, default=420.0,
                        help='seconds for all sections (default 420: the whole script within 8 minutes); a section '
                        'still running when it is spent is stopped and the later ones skipped')
    parser.add_argument('--sections', nargs='+', help='run only these sections (default: all, in order)')
    parser.add_argument('--section', help=argparse.SUPPRESS)  # internal: run one section in this process
    parser.add_argument('--section-dir', help=argparse.SUPPRESS)  # internal: where that section writes
    return parser.parse_args(argv)


def _sections(args):
    from scalenet_lab.benchmark.suite import gpu_sections
    sections = gpu_sections(args.device, dry_run=args.dry_run)
    unknown = [name for name in args.sections or () if name not in sections]
    if unknown:
        raise ValueError(f'--sections: unknown {unknown}; the sections are {list(sections)}')
    return {name: settings for name, settings in sections.items() if not args.sections or name in args.sections}


def run_section(args) -> int:
    """The child: run one section, write its report and summary rows into --section-dir."""
    from scalenet_lab.benchmark import format_report, run_benchmark
    from scalenet_lab.benchmark.suite import summary_rows
    settings = _sections(args)[args.section]
    result = run_benchmark(settings, log=lambda line: print(line, file=sys.stderr, flush=True))
    with open(os.path.join(args.section_dir, f'{args.section}.json'), 'w', encoding='utf-8') as f:
        json.dump({'report': format_report(result), 'rows': summary_rows(args.section, result)}, f)
    return 0


def _environment(device: str) -> str:
    import torch
    lines = [f'torch {torch.__version__}, Python {sys.version.split()[0]}']
    if device.startswith('cuda'):
        lines.append(f'GPU {torch.cuda.get_device_name(torch.device(device))}, CUDA {torch.version.cuda}, cuDNN '
                     f'{torch.backends.cudnn.version()}')
    try:
        import mmcv._ext as ext
        ops = ('stand-in: torchvision\'s roi_align and nms (scalenet_lab/benchmark/mmcv_ext_shim.py), the same for '
               'both detectors' if getattr(ext, 'TORCHVISION_SHIM', False) else 'compiled')
    except ImportError as error:
        ops = f'not importable ({error})'
    lines.append(f'mmcv ops: {ops}')
    return '; '.join(lines)


def _document(args, argv, environment, rows, reports, notes) -> str:
    from scalenet_lab.benchmark.suite import summary_table
    command = 'python tools/benchmark_gpu.py ' + ' '.join(argv)
    title = f'# ScaleNet-50 / ResNet-50 on {args.device}'
    if args.dry_run:
        title += ' (dry run: tiny inputs, tracing only; the numbers mean nothing)'
    parts = [title, f'command: `{command}`', environment, '', summary_table(rows), '']
    parts += [f'- {note}' for note in notes] + ([''] if notes else [])
    parts += reports
    return '\n'.join(parts) + '\n'


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    # libgomp's spinning workers stall on a shared machine (tools/benchmark.py --omp-wait-policy); read when torch
    # loads, so set first, for the sections' processes too
    os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    args = parse_args(argv)
    if args.section:
        return run_section(args)
    from mmdet_scalenet.utils.fileio import write_atomically
    from scalenet_lab.benchmark import check_device
    from scalenet_lab.cli import check_outputs, fail, user_errors
    with user_errors('tools/benchmark_gpu.py'):
        check_outputs([args.out], args.overwrite)
        check_device(args.device)
        if args.device == 'cpu' and not args.dry_run:
            raise ValueError('--device cpu: the GPU table needs a GPU; use --dry-run to check it on CPU, or '
                             'tools/benchmark.py for CPU measurements')
        if args.budget <= 0:
            raise ValueError(f'--budget: expected seconds > 0, got {args.budget}')
        sections = _sections(args)
    environment = _environment(args.device)
    rows, reports, notes, failed = [], [], [], False
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix='benchmark_gpu_') as section_dir:
        for name in sections:
            left = args.budget - (time.monotonic() - start)
            if left < MIN_SECTION_SECONDS:
                notes.append(f'{name}: skipped, {left:.0f} s of the {args.budget:.0f} s budget left')
            else:
                print(f'[benchmark_gpu] section {name} ({left:.0f} s left)', file=sys.stderr, flush=True)
                section_start = time.monotonic()
                command = [sys.executable, os.path.abspath(__file__), *argv, '--section', name, '--section-dir',
                           section_dir]
                code = _run_within(command, left)
                seconds = time.monotonic() - section_start
                if code == 0:
                    with open(os.path.join(section_dir, f'{name}.json'), encoding='utf-8') as f:
                        section = json.load(f)
                    rows += section['rows']
                    reports += [f'## section {name} ({seconds:.0f} s)', '', _demote_headings(section['report']), '']
                    notes.append(f'{name}: {seconds:.0f} s')
                else:
                    failed = True
                    notes.append(f'{name}: stopped by the budget after {seconds:.0f} s' if code is None else
                                 f'{name}: failed (exit status {code}) after {seconds:.0f} s; its log is above')
            text = _document(args, argv, environment, rows, reports, notes)
            write_atomically(args.out, lambda tmp, text=text: _write_text(tmp, text), overwrite=True)
    print(_document(args, argv, environment, rows, [], notes))
    if not rows:
        fail('tools/benchmark_gpu.py', f'no section finished; see the log above and {args.out}')
    return 1 if failed else 0


def _run_within(command, seconds):
    """Run ``command`` in its own process group; its exit status, or None when it outran ``seconds`` (then the whole
    group is killed: inductor's compile workers with it)."""
    process = subprocess.Popen(command, start_new_session=True)
    try:
        return process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return None
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _demote_headings(report: str) -> str:
    """A section's report inside the document: its headings two levels down."""
    return '\n'.join('##' + line if line.startswith('#') else line for line in report.splitlines())


def _write_text(path, text):
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)


if __name__ == '__main__':
    sys.exit(main())
