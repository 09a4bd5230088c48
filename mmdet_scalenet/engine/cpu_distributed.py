"""Distributed training and testing on machines without CUDA: gloo instead of nccl.

mmengine 0.10.7 assumes CUDA when it starts a distributed run: its launchers call ``torch.cuda.set_device`` and its
DDP wrapper passes ``device_ids=[LOCAL_RANK]``, which DistributedDataParallel refuses for CPU modules. Without CUDA
we start the gloo process group ourselves (mmengine then skips its own start) and wrap the model with
:class:`CPUDistributedDataParallel`.
"""
import datetime
import os
import subprocess

import torch
import torch.distributed as dist
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS

__all__ = ['CPUDistributedDataParallel', 'setup_cpu_distributed']


# registered in mmengine's root registry: mmengine's Runner looks wrappers up there
@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` for CPU processes: ignores the ``device_ids`` mmengine passes."""

    def __init__(self, module, device_ids=None, **kwargs):
        super().__init__(module=module, device_ids=None, **kwargs)


def _rank_env_from(launcher: str) -> None:
    """Fill RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT for the gloo ``env://`` start."""
    if launcher == 'mpi':
        os.environ.setdefault('RANK', os.environ['OMPI_COMM_WORLD_RANK'])
        os.environ.setdefault('WORLD_SIZE', os.environ['OMPI_COMM_WORLD_SIZE'])
        os.environ.setdefault('LOCAL_RANK', os.environ['OMPI_COMM_WORLD_LOCAL_RANK'])
        os.environ.setdefault('MASTER_ADDR', '127.0.0.1')
    elif launcher == 'slurm':
        os.environ.setdefault('RANK', os.environ['SLURM_PROCID'])
        os.environ.setdefault('WORLD_SIZE', os.environ['SLURM_NTASKS'])
        os.environ.setdefault('LOCAL_RANK', os.environ['SLURM_LOCALID'])
        if 'MASTER_ADDR' not in os.environ:
            nodes = os.environ['SLURM_NODELIST']
            first = subprocess.getoutput(f'scontrol show hostname {nodes} | head -n1')
            os.environ['MASTER_ADDR'] = first
    os.environ.setdefault('MASTER_PORT', '29500')


def setup_cpu_distributed(cfg, launcher: str) -> bool:
    """Prepare ``cfg`` for a distributed run without CUDA; return whether it did anything.

    With CUDA, or with ``launcher == 'none'``, nothing changes and mmengine starts nccl as usual.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return False
    if launcher not in ('pytorch', 'slurm', 'mpi'):
        raise ValueError(f'launcher must be none, pytorch, slurm or mpi, got {launcher!r}')
    # mmengine skips its own init_dist once the process group exists; the entry keeps its logged env truthful
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    dist_cfg['backend'] = 'gloo'
    if cfg.get('model_wrapper_cfg') is None:
        cfg.model_wrapper_cfg = dict(
            type='CPUDistributedDataParallel',
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    if not dist.is_initialized():
        _rank_env_from(launcher)
        timeout = dist_cfg.get('timeout')  # seconds, as mmengine's init_dist takes it
        dist.init_process_group(backend='gloo', init_method='env://',
                                **({} if timeout is None else dict(timeout=datetime.timedelta(seconds=timeout))))
    return True
