"""The error the allocation raises for bad input (checkpoints, budgets, selections)."""

__all__ = ['AllocationError']


class AllocationError(ValueError):
    """Input the neuron allocation cannot use; the message names the file, key or argument, and what was
    expected against what was found."""
