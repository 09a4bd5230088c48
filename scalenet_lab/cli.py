"""What the tools share: the one rule for a user's error (a message on stderr and exit status 2, no traceback), the
check of their output files before any work, and for tools/train.py and tools/test.py the common flags, the config
they start from, the toolbox it is for (mmdet, mmpretrain or mmseg: its ``default_scope``), the Runner."""
import argparse
import ast
import copy
import os
import os.path as osp
import pickle
import sys
from contextlib import contextmanager
from typing import Iterable, Iterator, List, NoReturn, Optional

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmdet_scalenet.utils.checkpoint import CheckpointError
from mmdet_scalenet.utils.fileio import check_writable, same_file

from .run_checks import RunSetupError

__all__ = [
    'TOOLBOXES', 'USER_ERRORS', 'ConfigOptionsAction', 'add_common_args', 'build_runner', 'check_outputs', 'fail',
    'load_config', 'parse_args', 'toolbox_of', 'user_errors'
]

#: The toolboxes whose configs the tools run, by the ``default_scope`` their runtime configs set.
TOOLBOXES = ('mmdet', 'mmpretrain', 'mmseg')

#: Errors that are the user's to fix: a path or file (``OSError``: missing, existing, a directory, unwritable, an
#: output that is an input), a value (``ValueError``, which the library's ``StructureError`` and
#: ``AllocationError`` are), a checkpoint refused by safe loading or of the wrong network, a run that cannot start.
#: Any other exception is a bug and keeps its traceback.
USER_ERRORS = (OSError, ValueError, pickle.UnpicklingError, CheckpointError, RunSetupError)


def fail(prog: str, message: object) -> NoReturn:
    """Print ``<prog>: error: <message>`` on stderr and exit with status 2, as argparse does for a bad argument."""
    print(f'{prog}: error: {message}', file=sys.stderr, flush=True)
    sys.exit(2)


@contextmanager
def user_errors(prog: str) -> Iterator[None]:
    """Inside, an exception of :data:`USER_ERRORS` ends the tool ``prog`` with :func:`fail`. Wrap the checks and
    the work whose failures are the user's, not a long run whose failures may be bugs."""
    try:
        yield
    except USER_ERRORS as error:
        fail(prog, error)


def check_outputs(outputs: Iterable[Optional[str]], overwrite: bool, inputs: Iterable[Optional[str]] = ()) -> None:
    """Before any work: each given output (``None``: not asked for) can take a new file
    (:func:`~mmdet_scalenet.utils.fileio.check_writable`: not a directory, no existing file unless ``overwrite``,
    its folder exists), is none of ``inputs`` (even with ``overwrite``), and no two outputs are the same file."""
    inputs = [source for source in inputs if source]
    seen: List[str] = []
    for path in outputs:
        if not path:
            continue
        for other in seen:
            if same_file(path, other):
                raise ValueError(f'{path}: given for two outputs ({other} and {path}); choose two files')
        check_writable(path, overwrite, inputs=inputs)
        seen.append(path)


def _literal(node: ast.AST):
    """The value of a Python literal in which ``dict(key=value)`` may stand for ``{'key': value}``, as in config
    files; nothing is run."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        values = [_literal(element) for element in node.elts]
        return values if isinstance(node, ast.List) else tuple(values)
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {_literal(key): _literal(value) for key, value in zip(node.keys, node.values)}
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == 'dict' and not node.args
            and all(keyword.arg for keyword in node.keywords)):
        return {keyword.arg: _literal(keyword.value) for keyword in node.keywords}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)) and isinstance(
            node.operand, ast.Constant) and isinstance(node.operand.value, (int, float)):
        return -node.operand.value if isinstance(node.op, ast.USub) else node.operand.value
    raise ValueError(f'{ast.unparse(node)} is not a literal (strings need quotes: \'...\')')


def _holds_dict(tree: ast.AST) -> bool:
    return any(isinstance(node, ast.Dict) or (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                                              and node.func.id == 'dict') for node in ast.walk(tree))


class ConfigOptionsAction(DictAction):
    """``--cfg-options KEY=VALUE ...``: mmengine's ``DictAction`` (numbers, ``True``/``False``/``None``, lists as
    ``a,b`` or ``[a,b]``, tuples as ``(a,b)``, anything else a string), which reads ``dict(type='X')`` as that
    string; here a value holding a dict, ``dict(key=value)`` or ``{'key': value}``, is read as the Python literal a
    config file would hold, e.g. ``custom_hooks="[dict(type='RandomStateHook')]"``. A ``KEY`` without ``=VALUE``,
    or such a value that is no literal, is an argument error."""

    def __call__(self, parser, namespace, values, option_string=None):
        options = copy.copy(getattr(namespace, self.dest, None) or {})
        for option in values or []:
            key, equals, value = option.partition('=')
            if not equals or not key:
                parser.error(f'{option_string} {option}: expected KEY=VALUE')
            options[key] = self._parse_value(parser, option_string, key, value)
        setattr(namespace, self.dest, options)

    def _parse_value(self, parser, option_string, key, value):
        try:
            tree = ast.parse(value, mode='eval').body
        except SyntaxError:  # a path, a scoped name (mmdet::...), a list of bare words: mmengine's reading
            return self._parse_iterable(value)
        if not _holds_dict(tree):
            return self._parse_iterable(value)
        try:
            return _literal(tree)
        except ValueError as e:
            parser.error(f'{option_string} {key}={value}: {e}')


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """``--data-root``, ``--cfg-options``, ``--launcher`` and torch.distributed's ``--local-rank``."""
    parser.add_argument('--data-root', help='data set location, replacing the config\'s data_root everywhere')
    parser.add_argument('--cfg-options', nargs='+', action=ConfigOptionsAction,
                        help='override some settings in the used config, the key-value pair in xxx=yyy format will '
                        'be merged into config file. If the value to be overwritten is a list, it should be like '
                        'key="[a,b]" or key=a,b It also allows nested list/tuple values, e.g. key="[(a,b),(c,d)]", '
                        'and dicts as in a config file, e.g. custom_hooks="[dict(type=\'RandomStateHook\')]" '
                        'Note that the quotation marks are necessary and that no white space is allowed.')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher')
    # torch.distributed.launch passes --local-rank (PyTorch >= 2.0) or --local_rank.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_args(parser: argparse.ArgumentParser, argv: Optional[List[str]] = None) -> argparse.Namespace:
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def toolbox_of(cfg: Config) -> str:
    """The toolbox ``cfg`` is for: its ``default_scope`` (set by each toolbox's ``default_runtime.py``)."""
    scope = cfg.get('default_scope')
    if scope not in TOOLBOXES:
        raise RunSetupError(f'the config\'s default_scope is {scope!r}; expected one of {list(TOOLBOXES)}: the '
                            'toolbox whose registries it uses (inherit that toolbox\'s default_runtime.py)')
    return scope


def load_config(args: argparse.Namespace) -> Config:
    """The config of ``args.config`` with ``--launcher``, ``--cfg-options`` and ``--work-dir`` applied (default
    work_dir: ``./work_dirs/<config name>``), as the toolboxes' tools do.

    Raises:
        RunSetupError: the config file does not exist, does not parse, or is for none of :data:`TOOLBOXES`.
    """
    if not osp.isfile(args.config):
        raise RunSetupError(f'{args.config}: config file not found')
    try:
        cfg = Config.fromfile(args.config)
    except SyntaxError as e:  # mmengine names the file, Python the line
        raise RunSetupError(f'{args.config}: not a valid config: {e}') from None
    if toolbox_of(cfg) == 'mmdet':
        from mmdet.utils import setup_cache_size_limit_of_dynamo
        setup_cache_size_limit_of_dynamo()
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg


def build_runner(cfg: Config) -> Runner:
    return Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
