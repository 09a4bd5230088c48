"""The allocation CLI as a module (the seed checkpoints are in tests/conftest.py)."""
import pytest


@pytest.fixture(scope='session')
def allocate_tool(load_tool):
    return load_tool('allocate_neurons')
