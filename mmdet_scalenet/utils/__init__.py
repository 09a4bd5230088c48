from .safe_checkpoint import allow_mmengine_checkpoints, restricted_getattr

__all__ = ['allow_mmengine_checkpoints', 'restricted_getattr']
