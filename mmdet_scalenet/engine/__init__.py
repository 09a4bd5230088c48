from .compile_hook import CompileHook
from .cpu_distributed import CPUDistributedDataParallel, setup_cpu_distributed, shutdown_distributed
from .fuse_hook import FuseConvBNHook
from .random_state_hook import RandomStateHook
from .safe_checkpoint_hook import SafeCheckpointHook
from .sparsity_hook import BranchSparsityHook

__all__ = [
    'BranchSparsityHook', 'CompileHook', 'CPUDistributedDataParallel', 'FuseConvBNHook', 'RandomStateHook',
    'SafeCheckpointHook', 'setup_cpu_distributed', 'shutdown_distributed'
]
