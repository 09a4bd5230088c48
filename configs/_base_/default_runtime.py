_base_ = 'mmdet::_base_/default_runtime.py'

custom_imports = dict(imports=['mmdet_scalenet'], allow_failed_imports=False)
# Checkpoints written atomically (a run killed while saving keeps the previous one and last_checkpoint) and
# checked when loaded: mmdet_scalenet.engine.SafeCheckpointHook.
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook'))
# Random generator states travel with checkpoints, so that a resumed run continues exactly.
custom_hooks = [dict(type='RandomStateHook')]
