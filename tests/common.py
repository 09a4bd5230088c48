"""Helpers the test packages share (fixtures are in conftest.py): the repository root, running a tool as a user
would, a quieter mmengine logger, one optimizer step in a toolbox's scope, a torch.compile backend that counts
graphs."""
import copy
import logging
import os
import subprocess
import sys
from contextlib import contextmanager

from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))


def run_tool(args, timeout=900, env=None):
    """Run a command from the repository root; return the CompletedProcess (output captured)."""
    full_env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS=os.environ.get('OMP_NUM_THREADS', '2'))
    full_env.update(env or {})
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=full_env)


def python():
    return sys.executable


@contextmanager
def quiet():
    """mmengine's logger at WARNING: ``init_weights()`` otherwise logs every parameter (seconds per network)."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def optimizer_step(model, cfg, scope, inputs, samples):
    """One step of ``cfg``'s optimizer through ``model.train_step`` (data preprocessor, loss, backward, update) in
    the toolbox ``scope``; returns the log variables and the parameters before the step."""
    with DefaultScope.overwrite_default_scope(scope):
        optim_wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
        before = {name: p.detach().clone() for name, p in model.named_parameters()}
        model.train()
        log_vars = model.train_step(dict(inputs=inputs, data_samples=samples), optim_wrapper)
    return log_vars, before


class GraphCounter:
    """A torch.compile backend that runs the captured graphs as they are and counts them."""

    def __init__(self):
        self.graphs = 0

    def __call__(self, graph_module, example_inputs):
        self.graphs += 1
        return graph_module.forward
