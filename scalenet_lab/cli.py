"""What tools/train.py and tools/test.py share: the common flags, the config they start from, the toolbox it is
for (mmdet, mmpretrain or mmseg: its ``default_scope``), the Runner."""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from .run_checks import RunSetupError

__all__ = ['TOOLBOXES', 'add_common_args', 'build_runner', 'load_config', 'parse_args', 'toolbox_of']

#: The toolboxes whose configs the tools run, by the ``default_scope`` their runtime configs set.
TOOLBOXES = ('mmdet', 'mmpretrain', 'mmseg')


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """``--data-root``, ``--cfg-options``, ``--launcher`` and torch.distributed's ``--local-rank``."""
    parser.add_argument('--data-root', help='data set location, replacing the config\'s data_root everywhere')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override some settings in the used config, the key-value pair in xxx=yyy format will '
                        'be merged into config file. If the value to be overwritten is a list, it should be like '
                        'key="[a,b]" or key=a,b It also allows nested list/tuple values, e.g. key="[(a,b),(c,d)]" '
                        'Note that the quotation marks are necessary and that no white space is allowed.')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher')
    # torch.distributed.launch passes --local-rank (PyTorch >= 2.0) or --local_rank.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    args = parser.parse_args()
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
        RunSetupError: the config is for none of :data:`TOOLBOXES`.
    """
    cfg = Config.fromfile(args.config)
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
