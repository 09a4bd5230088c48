"""shutdown_distributed ends the gloo worker threads while the interpreter is alive (a thread left running can abort
the process at exit), and says so when something still holds the process group."""
import gc
import os
import warnings
from types import SimpleNamespace

import pytest
import torch
import torch.distributed as dist
from torch import nn

from mmdet_scalenet.engine import shutdown_distributed
from mmdet_scalenet.engine.cpu_distributed import _gloo_worker_threads

pytestmark = pytest.mark.skipif(not os.path.isdir('/proc/self/task'), reason='counts threads in Linux\'s /proc')


@pytest.fixture
def gloo_group(tmp_path):
    """A one-process gloo group in this process, destroyed afterwards whatever the test did."""
    dist.init_process_group('gloo', init_method=f'file://{tmp_path / "store"}', rank=0, world_size=1)
    yield
    if dist.is_initialized():
        dist.destroy_process_group()
    gc.collect()


def train_step_and_gather():
    """What a run leaves behind: a DDP model's backward pass and all_gather_object's tensors, on gloo's threads;
    the model in a reference cycle, as mmengine's Runner holds it (its loops point back at it)."""
    model = nn.parallel.DistributedDataParallel(nn.Linear(4, 2))
    model(torch.ones(3, 4)).sum().backward()
    gathered = [None]
    dist.all_gather_object(gathered, {'rank': dist.get_rank()})
    assert gathered == [{'rank': 0}]
    runner = SimpleNamespace(model=model)
    runner.loop = SimpleNamespace(runner=runner)


def test_shutdown_joins_the_gloo_worker_threads(gloo_group):
    gc.disable()  # the cycle is collected by shutdown_distributed, not by chance before
    try:
        train_step_and_gather()
        assert _gloo_worker_threads() > 0
        with warnings.catch_warnings():
            warnings.simplefilter('error')
            shutdown_distributed()
    finally:
        gc.enable()
    assert not dist.is_initialized()
    assert _gloo_worker_threads() == 0


def test_shutdown_warns_when_the_group_is_still_held(gloo_group):
    train_step_and_gather()
    held = dist.group.WORLD
    with pytest.warns(UserWarning, match='still referenced'):
        shutdown_distributed()
    assert _gloo_worker_threads() > 0
    del held
    gc.collect()
    assert _gloo_worker_threads() == 0


def test_shutdown_outside_a_distributed_run_does_nothing():
    assert not dist.is_initialized()
    shutdown_distributed()
    assert not dist.is_initialized()
