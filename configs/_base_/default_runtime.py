_base_ = 'mmdet::_base_/default_runtime.py'

custom_imports = dict(imports=['mmdet_scalenet'], allow_failed_imports=False)
# Random generator states travel with checkpoints, so that a resumed run continues exactly.
custom_hooks = [dict(type='RandomStateHook')]
