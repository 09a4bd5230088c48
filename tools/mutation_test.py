"""Mutation testing of the core modules: plant one small bug at a time in a copy of the repository, run the fast
tests that cover the mutated module, and list the mutants that no test kills.

Mutants come from generic operators applied to the code inside the functions of each target module (so the list
follows the code as it changes, with no snippet to keep in sync): comparisons negated or moved by one (``<`` to
``>=``, ``<`` to ``<=``), ``and`` and ``or`` swapped, arithmetic operators swapped, the right operand of ``+ - * /``
dropped (``x + eps`` -> ``x``), integer constants off by one, the first two positional arguments of a call swapped,
``not`` removed, ``True``/``False`` flipped, ``min``/``max`` swapped, a unary minus removed. Docstrings, f-strings,
``raise`` statements and logging calls (messages) are left alone, and so are changes known to be no bug (swapping
the arguments of ``min``/``max``, turning ``inplace=True`` off). Every candidate is enumerated in source order; the run
takes at most ``--max-mutants``, drawn round-robin over the modules from lists shuffled with ``--seed``, so the
same code and options give the same mutants.

Each mutant is applied to a copy of the repository in a temporary folder (the working tree is never written), its
tests run there in a fresh interpreter (``pytest -x -m 'not slow'``, ``PYTHONPATH`` pointing at the copy), and the
file is restored before the next one. A mutant is *killed* when a test fails (or the run exceeds ``--timeout``),
*survives* when every test passes. The unmutated copy must pass first.

    python tools/mutation_test.py                    # the core modules, 60 mutants (~20 minutes on 2 cores)
    python tools/mutation_test.py --list             # the mutants only
    python tools/mutation_test.py --target pkg/mod.py=tests/test_mod.py --root PATH   # another project

See docs/mutation_testing.md for the latest survival rate and the survivors accepted, with why.
"""
import argparse
import ast
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from typing import Dict, List, Sequence, Tuple

from scalenet_lab.argtypes import int_at_least, non_negative_float

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))

#: The core modules and the fast tests that cover each (pytest arguments), quickest to fail first: ``-x`` stops at
#: the first failure, so a killed mutant costs little and a survivor runs them all.
TARGETS: Dict[str, Tuple[str, ...]] = {
    'mmdet_scalenet/models/scale_aggregation.py': (
        'tests/models/test_scale_aggregation.py', 'tests/models/test_parity.py', 'tests/deploy/test_fuse.py', '-k',
        'not scalenet101 and not scalenet152'),
    'mmdet_scalenet/structure.py': ('tests/test_structure.py', ),
    'mmdet_scalenet/geometry.py': ('tests/test_geometry.py', 'tests/test_structure.py'),
    'mmdet_scalenet/deploy/fuse.py': ('tests/deploy/test_fuse.py', '-k', 'not scalenet101 and not scalenet152'),
    'mmdet_scalenet/allocation/select.py': ('tests/allocation/test_select.py', ),
    'mmdet_scalenet/models/pretrained.py': ('tests/models/test_pretrained.py', ),
}
#: Not copied: environments, version control, caches and run outputs.
SKIP_COPY = ('.git', '.venv', '__pycache__', '.pytest_cache', '*.egg-info', 'work_dirs', 'data', 'checkpoints',
             'build')

_NEGATE = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.Gt: ast.LtE, ast.LtE: ast.Gt,
           ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}
_BOUNDARY = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt}
_ARITH = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Mult,
          ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult}
_SYMBOL = {ast.Eq: '==', ast.NotEq: '!=', ast.Lt: '<', ast.LtE: '<=', ast.Gt: '>', ast.GtE: '>=', ast.Is: 'is',
           ast.IsNot: 'is not', ast.In: 'in', ast.NotIn: 'not in', ast.Add: '+', ast.Sub: '-', ast.Mult: '*',
           ast.Div: '/', ast.FloorDiv: '//', ast.Mod: '%', ast.Pow: '**', ast.And: 'and', ast.Or: 'or'}


@dataclass(frozen=True)
class Mutant:
    """One planted change: the source span ``[start, end)`` (byte offsets) of ``path`` replaced by ``replacement``."""
    path: str
    line: int
    function: str
    operator: str
    start: int
    end: int
    original: str
    replacement: str

    def describe(self) -> str:
        return f'{self.path}:{self.line} {self.function}: {self.operator}: {self.original!r} -> {self.replacement!r}'


def _copy(node: ast.AST) -> ast.AST:
    return ast.parse(ast.unparse(node), mode='eval').body


def _variants(node: ast.AST) -> List[Tuple[str, ast.AST]]:
    """``(operator, mutated copy of node)`` for every mutation of ``node`` itself (not of its children)."""
    out = []
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            for name, table in (('negate', _NEGATE), ('boundary', _BOUNDARY)):
                if type(op) in table:
                    new = _copy(node)
                    new.ops[i] = table[type(op)]()
                    out.append((f'{name} {_SYMBOL[type(op)]}', new))
    elif isinstance(node, ast.BoolOp):
        new = _copy(node)
        new.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        out.append((f'swap {_SYMBOL[type(node.op)]}', new))
    elif isinstance(node, ast.BinOp) and type(node.op) in _ARITH and not (_is_text(node.left)
                                                                           or _is_text(node.right)):
        new = _copy(node)
        new.op = _ARITH[type(node.op)]()
        out.append((f'arith {_SYMBOL[type(node.op)]}', new))
        if isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
            out.append((f'drop {_SYMBOL[type(node.op)]} operand', _copy(node.left)))
    elif isinstance(node, ast.Constant) and type(node.value) is int:
        out.append(('off by one', ast.Constant(node.value + 1)))
    elif isinstance(node, ast.Constant) and type(node.value) is bool:
        out.append(('flip bool', ast.Constant(not node.value)))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        out.append(('drop not', _copy(node.operand)))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and not isinstance(node.operand,
                                                                                             ast.Constant):
        out.append(('drop unary minus', _copy(node.operand)))
    elif isinstance(node, ast.Call):
        positional = [a for a in node.args if not isinstance(a, ast.Starred)]
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, 'attr', None)
        if len(positional) == len(node.args) >= 2 and ast.dump(node.args[0]) != ast.dump(node.args[1]) \
                and not (_is_text(node.args[0]) or _is_text(node.args[1])) and name not in _SYMMETRIC:
            new = _copy(node)
            new.args[0], new.args[1] = new.args[1], new.args[0]
            out.append(('swap arguments', new))
        if isinstance(node.func, ast.Name) and node.func.id in ('min', 'max'):
            new = _copy(node)
            new.func.id = 'max' if node.func.id == 'min' else 'min'
            out.append((f'{node.func.id} -> {new.func.id}', new))
    return out


#: Calls whose arguments are messages, never mutated.
_LOGGING = ('print', 'print_log', 'warn', 'warning', 'info', 'debug')
#: Calls whose first two arguments commute: swapping them is no bug.
_SYMMETRIC = ('min', 'max', 'sym_min', 'sym_max', 'maximum', 'minimum')
#: Keyword arguments that change no value when flipped from True to False (only memory reuse).
_NEUTRAL_KEYWORDS = ('inplace', )


def _is_text(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or isinstance(node, ast.Constant) and isinstance(node.value, str)


def _skipped(node: ast.AST) -> bool:
    """Subtrees never mutated: docstrings and f-strings, errors raised, messages logged."""
    if isinstance(node, (ast.JoinedStr, ast.Raise)) or isinstance(node, ast.Expr) and _is_text(node.value):
        return True
    if isinstance(node, ast.Call):
        func = node.func
        return (func.id if isinstance(func, ast.Name) else getattr(func, 'attr', None)) in _LOGGING
    return False


def _walk_function(node: ast.AST, qualname: str, found: List[Tuple[ast.AST, str]]) -> None:
    for child in ast.iter_child_nodes(node):
        if _skipped(child) or isinstance(child, ast.arguments):
            continue
        if isinstance(child, ast.keyword) and child.arg in _NEUTRAL_KEYWORDS and isinstance(
                child.value, ast.Constant) and child.value.value is True:
            continue
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            name = getattr(child, 'name', '<lambda>')
            body = child.body if isinstance(child.body, list) else [child.body]
            for statement in body:
                if not _skipped(statement):
                    found.append((statement, f'{qualname}.{name}'))
                    _walk_function(statement, f'{qualname}.{name}', found)
            continue
        if isinstance(child, ast.AnnAssign):  # the annotation stays; the value is code
            if child.value is not None:
                found.append((child.value, qualname))
                _walk_function(child.value, qualname, found)
            continue
        found.append((child, qualname))
        _walk_function(child, qualname, found)


def _function_nodes(tree: ast.Module) -> List[Tuple[ast.AST, str]]:
    """Every node inside a function or method body of the module, with its function's qualified name."""
    found: List[Tuple[ast.AST, str]] = []
    tops = [(n, '') for n in tree.body]
    while tops:
        node, prefix = tops.pop(0)
        if isinstance(node, ast.ClassDef):
            tops.extend((n, f'{prefix}{node.name}.') for n in node.body)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for statement in node.body:
                if not _skipped(statement):
                    found.append((statement, prefix + node.name))
                    _walk_function(statement, prefix + node.name, found)
    return found


def enumerate_mutants(path: str, source: str) -> List[Mutant]:
    """Every mutant of ``source`` (the text of ``path``), in source order; each one compiles and differs."""
    tree = ast.parse(source)
    data = source.encode()
    line_starts = [0]
    for line in data.splitlines(keepends=True):
        line_starts.append(line_starts[-1] + len(line))
    original_dump = ast.dump(tree)
    mutants, seen = [], set()
    for node, function in _function_nodes(tree):
        if not isinstance(node, ast.expr) or not hasattr(node, 'end_lineno'):
            continue
        start = line_starts[node.lineno - 1] + node.col_offset
        end = line_starts[node.end_lineno - 1] + node.end_col_offset
        original = data[start:end].decode()
        for operator, new in _variants(node):
            replacement = f'({ast.unparse(new)})'
            mutated = (data[:start] + replacement.encode() + data[end:]).decode()
            try:
                new_tree = ast.parse(mutated)
                compile(new_tree, path, 'exec')
            except SyntaxError:
                continue
            if ast.dump(new_tree) == original_dump or (start, replacement) in seen:
                continue
            seen.add((start, replacement))
            mutants.append(Mutant(path, node.lineno, function, operator, start, end, original, replacement))
    return sorted(mutants, key=lambda m: (m.start, m.operator, m.replacement))


def sample(per_module: Dict[str, List[Mutant]], max_mutants: int, seed: int) -> List[Mutant]:
    """At most ``max_mutants``, taken round-robin over the modules from each module's list shuffled by ``seed``."""
    queues = []
    for path in sorted(per_module):
        mutants = list(per_module[path])
        random.Random(f'{seed}:{path}').shuffle(mutants)
        queues.append(mutants)
    chosen: List[Mutant] = []
    while len(chosen) < max_mutants and any(queues):
        for queue in queues:
            if queue and len(chosen) < max_mutants:
                chosen.append(queue.pop(0))
    return sorted(chosen, key=lambda m: (m.path, m.start, m.operator, m.replacement))


def apply_mutant(root: str, mutant: Mutant) -> bytes:
    """Write ``mutant`` into ``root/mutant.path``; return the file's original bytes (for :func:`restore`)."""
    target = os.path.join(root, mutant.path)
    with open(target, 'rb') as f:
        original = f.read()
    if original[mutant.start:mutant.end].decode() != mutant.original:
        raise RuntimeError(f'{target}: the source changed since the mutants were listed ({mutant.describe()})')
    with open(target, 'wb') as f:
        f.write(original[:mutant.start] + mutant.replacement.encode() + original[mutant.end:])
    return original


def restore(root: str, mutant: Mutant, original: bytes) -> None:
    with open(os.path.join(root, mutant.path), 'wb') as f:
        f.write(original)


def copy_tree(root: str, destination: str) -> str:
    """Copy the repository at ``root`` (without environments, caches and run outputs) to ``destination/repo``."""
    target = os.path.join(destination, 'repo')
    shutil.copytree(root, target, ignore=shutil.ignore_patterns(*SKIP_COPY), symlinks=True)
    return target


def _env(copy: str) -> Dict[str, str]:
    # no bytecode is written: a mutant of the same size saved within a second would otherwise reuse a stale .pyc
    return dict(os.environ, PYTHONPATH=copy, PYTHONDONTWRITEBYTECODE='1', OMP_WAIT_POLICY='PASSIVE')


def run_tests(copy: str, tests: Sequence[str], timeout: float) -> Tuple[str, float, str]:
    """Run ``tests`` in ``copy``; returns ``(outcome, seconds, last output line)``, outcome ``passed``,
    ``failed`` or ``timeout``."""
    command = [sys.executable, '-m', 'pytest', '-x', '-q', '-m', 'not slow', '-p', 'no:cacheprovider', *tests]
    start = time.perf_counter()
    try:
        out = subprocess.run(command, cwd=copy, env=_env(copy), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return 'timeout', time.perf_counter() - start, ''
    lines = (out.stdout + out.stderr).strip().splitlines()
    return ('passed' if out.returncode == 0 else 'failed'), time.perf_counter() - start, (lines or [''])[-1]


def _check_import_target(copy: str, paths: Sequence[str]) -> None:
    """The copy, not the working tree (or an installed package), is what the tests import."""
    packages = sorted({p.split('/')[0] for p in paths if '/' in p})
    code = ';'.join(f'import {p}; print({p}.__file__)' for p in packages)
    if not code:
        return
    out = subprocess.run([sys.executable, '-c', code], cwd=copy, env=_env(copy), capture_output=True, text=True)
    files = out.stdout.split()
    if out.returncode != 0 or not all(os.path.realpath(f).startswith(os.path.realpath(copy)) for f in files):
        raise SystemExit(f'error: the copy in {copy} is not what Python imports ({files or out.stderr[-500:]})')


def _test_file(arg: str) -> str:
    """The file a pytest argument names (``path::test`` or ``path``), or '' for an option or its value."""
    path = arg.split('::')[0]
    return path if path.endswith('.py') and not arg.startswith('-') else ''


def parse_targets(items: Sequence[str]) -> Dict[str, Tuple[str, ...]]:
    targets = {}
    for item in items:
        module, sep, tests = item.partition('=')
        if not sep or not module or not tests:
            raise SystemExit(f'error: --target {item!r}: expected MODULE=TEST[,TEST...]')
        targets[module] = tuple(tests.split(','))
    return targets


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--root', default=ROOT, help='the repository to mutate (a copy of it; default: this one)')
    parser.add_argument('--target', action='append', default=[], metavar='MODULE=TEST[,TEST...]',
                        help='a module (relative to --root) and the tests that cover it, as comma-separated pytest '
                        'arguments (files, node ids, -k,EXPR); default: the core modules (TARGETS)')
    parser.add_argument('--max-mutants', type=int_at_least(1), default=60,
                        help='at most this many mutants (default 60)')
    parser.add_argument('--seed', type=int, default=0, help='the sample drawn (default 0)')
    parser.add_argument('--timeout', type=non_negative_float, default=None,
                        help='seconds per mutant before it counts as killed (default: 3x its module\'s unmutated '
                        'run + 60)')
    parser.add_argument('--list', action='store_true', help='list the mutants and stop')
    parser.add_argument('--json', help='also write the results to this file')
    args = parser.parse_args(argv)
    root = os.path.abspath(args.root)
    targets = parse_targets(args.target) if args.target else TARGETS
    files = [*targets, *{_test_file(t) for tests in targets.values() for t in tests if _test_file(t)}]
    missing = [p for p in files if not os.path.exists(os.path.join(root, p))]
    if missing:
        raise SystemExit(f'error: not found under {root}: {", ".join(missing)} (update TARGETS in {__file__})')

    per_module = {}
    for path in targets:
        with open(os.path.join(root, path), encoding='utf-8') as f:
            per_module[path] = enumerate_mutants(path, f.read())
    chosen = sample(per_module, args.max_mutants, args.seed)
    print(f'{sum(map(len, per_module.values()))} mutants in {len(targets)} modules ('
          + ', '.join(f'{os.path.basename(p)} {len(m)}' for p, m in per_module.items())
          + f'); {len(chosen)} drawn with seed {args.seed}', flush=True)
    if args.list:
        for mutant in chosen:
            print(mutant.describe())
        return 0

    with tempfile.TemporaryDirectory(prefix='mutation-') as tmp:
        copy = copy_tree(root, tmp)
        _check_import_target(copy, list(targets))
        timeouts = {}
        for path in sorted({m.path for m in chosen}):
            outcome, seconds, last = run_tests(copy, targets[path], timeout=3600)
            if outcome != 'passed':
                raise SystemExit(f'error: the tests of {path} fail without any mutant ({last}); fix them first')
            timeouts[path] = args.timeout or 3 * seconds + 60
            print(f'unmutated {path}: its tests pass in {seconds:.0f}s', flush=True)
        results = []
        for i, mutant in enumerate(chosen, 1):
            original = apply_mutant(copy, mutant)
            try:
                outcome, seconds, last = run_tests(copy, targets[mutant.path], timeouts[mutant.path])
            finally:
                restore(copy, mutant, original)
            status = 'SURVIVED' if outcome == 'passed' else ('killed (timeout)' if outcome == 'timeout' else 'killed')
            results.append(dict(asdict(mutant), status=status, seconds=round(seconds, 1)))
            print(f'[{i:>3}/{len(chosen)}] {status:16} {seconds:5.0f}s  {mutant.describe()}', flush=True)

    survivors = [r for r in results if r['status'] == 'SURVIVED']
    rate = len(survivors) / len(results) if results else 0.0
    print(f'\nsurvival rate: {len(survivors)} of {len(results)} mutants survived ({100 * rate:.0f}%)')
    for path in targets:
        mine = [r for r in results if r['path'] == path]
        alive = sum(r['status'] == 'SURVIVED' for r in mine)
        print(f'  {path}: {alive} of {len(mine)} survived')
    if survivors:
        print('survivors:')
        for r in survivors:
            print(f"  {r['path']}:{r['line']} {r['function']}: {r['operator']}: {r['original']!r} -> "
                  f"{r['replacement']!r}")
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(seed=args.seed, max_mutants=args.max_mutants, survival_rate=rate, results=results), f,
                      indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
