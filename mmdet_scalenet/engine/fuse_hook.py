"""``tools/test.py --fuse`` as a Runner hook: the model goes on the inference fast path once its weights are loaded.

Any config can ask for it: ``custom_hooks = [dict(type='FuseConvBNHook')]``.
"""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

__all__ = ['FuseConvBNHook']


@HOOKS.register_module()
class FuseConvBNHook(Hook):
    """Before testing, fold the model's BatchNorms into its convs with
    :func:`~mmdet_scalenet.deploy.fuse_model.fuse_model` (ScaleNet's exact fast path, mmcv's ``fuse_conv_bn`` for
    the rest): the Runner has loaded the checkpoint by then (``load_from``). Test only: validation during training
    keeps the trainable model."""

    def before_test(self, runner) -> None:
        from ..deploy.fuse_model import fuse_model
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        fuse_model(model)
        runner.logger.info('FuseConvBNHook: the model runs on the inference fast path (BatchNorms folded)')
