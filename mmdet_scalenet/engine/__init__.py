from .cpu_distributed import CPUDistributedDataParallel, setup_cpu_distributed
from .fuse_hook import FuseConvBNHook
from .random_state_hook import RandomStateHook
from .run_checks import RunSetupError, check_amp, check_data, check_pretrained, set_data_root
from .sparsity_hook import BranchSparsityHook

__all__ = [
    'BranchSparsityHook', 'CPUDistributedDataParallel', 'FuseConvBNHook', 'RandomStateHook', 'RunSetupError',
    'check_amp', 'check_data', 'check_pretrained', 'set_data_root', 'setup_cpu_distributed'
]
