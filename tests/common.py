"""Helpers the test packages share (fixtures are in conftest.py): the repository root, running a tool as a user
would, and a quieter mmengine logger."""
import logging
import os
import subprocess
import sys
from contextlib import contextmanager

from mmengine.logging import MMLogger

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
