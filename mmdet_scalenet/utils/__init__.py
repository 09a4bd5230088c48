"""I/O helpers: :mod:`.checkpoint` (state dicts, read safely and written atomically), :mod:`.safe_checkpoint` (what
``torch.load(weights_only=True)`` may read of mmengine's checkpoints) and :mod:`.fileio` (atomic files; no torch, so
that :mod:`mmdet_scalenet.structure` stays torch-free: this package imports none of its modules eagerly)."""
