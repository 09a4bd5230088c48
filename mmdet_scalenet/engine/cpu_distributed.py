"""Distributed training and testing on machines without CUDA: gloo instead of nccl; and the end of any distributed
run.

mmengine 0.10.7 assumes CUDA when it starts a distributed run: its launchers call ``torch.cuda.set_device`` and its
DDP wrapper passes ``device_ids=[LOCAL_RANK]``, which DistributedDataParallel refuses for CPU modules. Without CUDA
we start the gloo process group ourselves (mmengine then skips its own start) and wrap the model with
:class:`CPUDistributedDataParallel`. mmengine never destroys the process group; :func:`shutdown_distributed` does.
"""
import datetime
import gc
import glob
import os
import subprocess
import warnings

import torch
import torch.distributed as dist
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS

__all__ = ['CPUDistributedDataParallel', 'setup_cpu_distributed', 'shutdown_distributed']


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


def _gloo_worker_threads() -> int:
    """How many of this process's threads are gloo collective workers (torch names them ``pt_gloo_runloop``;
    Linux lists threads in /proc, elsewhere this counts 0)."""
    count = 0
    for path in glob.glob('/proc/self/task/*/comm'):
        try:
            with open(path) as f:
                count += f.read().strip() == 'pt_gloo_runloop'
        except OSError:  # the thread ended while we looked
            pass
    return count


def shutdown_distributed() -> None:
    """End a distributed run that finished: wait for every rank, then destroy the process group and its threads.

    Call it once nothing holds the Runner or its model (the process group lives as long as a reference to it:
    the wrapped model keeps one). Does nothing outside a distributed run.

    Why: gloo runs each collective on a worker thread, which lets go of the collective's tensors just after the
    caller has its result. Letting go of a tensor Python has seen takes the GIL; a thread that asks for it while the
    interpreter shuts down is ended with ``pthread_exit`` (CPython before 3.14), whose unwinding through a
    ``noexcept`` destructor calls ``std::terminate``: "terminate called without an active exception", SIGABRT and
    exit status 1 after the run printed its results (pytorch/pytorch#179291). ``dist.destroy_process_group`` alone
    does not prevent it: it forgets the group, but the group's threads are joined only when its last reference goes.
    Here that reference goes, and the threads end while the interpreter is alive.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    dist.barrier()  # no rank leaves while another still waits on it
    dist.destroy_process_group()
    gc.collect()  # the Runner's reference cycles (its loops and hooks point back at it) hold the wrapped model
    if _gloo_worker_threads():
        warnings.warn('shutdown_distributed: the gloo process group is still referenced (by the Runner or its '
                      'model?), so its threads outlive it and the process may abort at exit', stacklevel=2)
