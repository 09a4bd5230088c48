"""The command line both studies share (tools/allocation_study.py, tools/detection_study.py): where the work, the
report and its pictures go, and what a run of the tool does once its settings are parsed."""
import argparse
import os
from types import ModuleType

import torch

from .argtypes import int_at_least
from .cli import check_outputs, user_errors

__all__ = ['add_study_args', 'run_study_command']

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))


def add_study_args(parser: argparse.ArgumentParser, name: str, defaults, seeds_help: str) -> None:
    """``--work-dir`` (``work_dirs/NAME``), ``--report`` (``docs/NAME.md``), ``--images``, ``--overwrite``,
    ``--seeds`` (``defaults.seeds``) and ``--threads``; the study's own settings are the tool's."""
    parser.add_argument('--work-dir', default=os.path.join(ROOT, 'work_dirs', name),
                        help=f'data, runs and cache (default: work_dirs/{name})')
    parser.add_argument('--report', default=os.path.join(ROOT, 'docs', f'{name}.md'),
                        help=f'the Markdown report (default: docs/{name}.md)')
    parser.add_argument('--images', default=None, help='where the pictures go (default: images/ beside the report)')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing report and its pictures')
    parser.add_argument('--seeds', type=int_at_least(0), nargs='+', default=list(defaults.seeds), help=seeds_help)
    parser.add_argument('--threads', type=int_at_least(1), default=None, help='torch threads (default: torch\'s)')


def run_study_command(prog: str, parser: argparse.ArgumentParser, args: argparse.Namespace, study: ModuleType,
                      settings) -> int:
    """Check the seeds and the outputs (an existing report is replaced only with ``--overwrite``, checked before any
    training), run the study (or read it from its cache), write the report, its pictures and ``study.json`` in the
    work directory; a user's error is one line starting with ``prog`` (exit 2)."""
    if len(set(settings.seeds)) != len(settings.seeds):
        parser.error(f'--seeds: each seed once, got {list(settings.seeds)}')
    if args.threads:
        torch.set_num_threads(args.threads)
    images = args.images or os.path.join(os.path.dirname(os.path.abspath(args.report)), 'images')
    with user_errors(prog):
        check_outputs([args.report], args.overwrite)
        if os.path.exists(images) and not os.path.isdir(images):
            raise NotADirectoryError(f'--images {images}: exists and is not a folder')
        result = study.run_study(settings, log=lambda line: print(line, flush=True))
        study.write_report(result, args.report, images)
        study.save_result(result, os.path.join(settings.work_dir, 'study.json'))
    print(f'[study] {len(result.runs)} runs; report {args.report}, pictures in {images}; '
          f'{result.seconds / 60:.1f} minutes')
    return 0
