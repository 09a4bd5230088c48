"""mmengine's ``CheckpointHook`` with checkpoints that survive a killed run and loads that are checked."""
import os
import os.path as osp
from typing import List, Optional

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from mmengine.runner.checkpoint import find_latest_checkpoint

from ..utils.checkpoint import CheckpointError, check_weights
from ..utils.fileio import sync_to_disk, write_atomically

__all__ = ['SafeCheckpointHook', 'checkpoint_to_load']

#: The file in ``work_dir`` that names the latest checkpoint (what ``resume=True`` without a path reads).
LAST_CHECKPOINT = 'last_checkpoint'


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` (same arguments, same files) whose checkpoints are written atomically, and
    which checks the weights of every checkpoint the Runner loads.

    Saving: mmengine 0.10.7 writes ``epoch_N.pth`` in place, removes the checkpoints beyond ``max_keep_ckpts``
    before it writes the new one, and rewrites ``last_checkpoint`` in place, so a run killed while saving can leave a
    partial checkpoint that ``last_checkpoint`` names, or with ``max_keep_ckpts=1`` no checkpoint at all. Here each
    checkpoint is written to a hidden temporary file beside its destination, flushed to disk and renamed into place
    (:func:`~mmdet_scalenet.utils.fileio.write_atomically`, which also removes the temporaries of a killed earlier
    save); then ``last_checkpoint`` is replaced the same way; only then are the outdated checkpoints removed. A kill
    at any moment leaves the previous checkpoint, and a ``last_checkpoint`` that names a complete one. The best
    checkpoints (``save_best``) and checkpoints on remote storage are saved as mmengine saves them.

    Loading (``load_from``, ``resume``, ``tools/test.py``'s checkpoint): the Runner loads with ``strict=False`` and
    casts what it loads, so before it does, the checkpoint's weights are checked
    (:func:`~mmdet_scalenet.utils.checkpoint.check_weights`: no NaN or infinite values, no integer tensor where the
    model has a float one). Whether a ScaleNet's keys fit it is checked by the backbone itself, on every route
    (:class:`~mmdet_scalenet.models.pretrained.StrictPretrainedMixin`).

    In a config, where mmengine's hook was::

        default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook'))
    """

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        if not isinstance(self.file_backend, LocalBackend):
            super()._save_checkpoint_with_step(runner, step, meta)
            return
        outdated = self._retire_outdated(runner, step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(step))
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        # Runner.save_checkpoint writes on the main process only; the others have nothing to do here.
        if not is_main_process():
            return

        def save(tmp: str) -> None:
            runner.save_checkpoint(osp.dirname(tmp), osp.basename(tmp), self.file_client_args,
                                   save_optimizer=self.save_optimizer, save_param_scheduler=self.save_param_scheduler,
                                   meta=meta, by_epoch=self.by_epoch, backend_args=self.backend_args, **self.args)
            sync_to_disk(tmp)

        def name_it(tmp: str) -> None:
            with open(tmp, 'w') as f:
                f.write(self.last_ckpt)
            sync_to_disk(tmp)

        # Each rename is flushed before the next step relies on it: last_checkpoint never names a file that a
        # power loss could take back.
        write_atomically(self.last_ckpt, save, overwrite=True)
        sync_to_disk(osp.dirname(osp.abspath(self.last_ckpt)))
        record = osp.join(runner.work_dir, LAST_CHECKPOINT)
        write_atomically(record, name_it, overwrite=True)
        sync_to_disk(osp.dirname(osp.abspath(record)))
        for path in outdated:
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):  # checkpoints saved by deepspeed are directories
                self.file_backend.rmtree(path)

    def _retire_outdated(self, runner, step) -> List[str]:
        """mmengine's ``max_keep_ckpts`` bookkeeping (the ids kept travel in the checkpoint's message hub), except
        that the checkpoints it drops are returned, to be removed once the new one is in place."""
        if self.max_keep_ckpts <= 0 or (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            return []
        outdated = []
        if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
            dropped = self.keep_ckpt_ids.popleft()
            outdated.append(self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(dropped)))
        self.keep_ckpt_ids.append(step)
        runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        return outdated

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, dict) else None
        if not isinstance(state, dict):
            return  # not a state dict: mmengine's loader says so
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        expected = model.state_dict()
        tensors = {key: value for key, value in state.items() if hasattr(value, 'is_floating_point')}
        # Keys as mmengine will load them: its default revise_keys strips DataParallel's 'module.'.
        tensors = {key[len('module.'):] if key.startswith('module.') else key: value for key, value in tensors.items()}
        check_weights(tensors, _loaded_file(runner), expected=expected)


def checkpoint_to_load(load_from: Optional[str], resume: bool, work_dir: str) -> Optional[str]:
    """The checkpoint a Runner with these settings loads, found as ``Runner.load_or_resume`` finds it:
    ``load_from``; with ``resume`` and no ``load_from``, the one ``work_dir/last_checkpoint`` names; else None.

    Raises:
        CheckpointError: ``last_checkpoint`` is empty.
        FileNotFoundError: ``last_checkpoint`` names a file that does not exist.
    """
    if load_from or not resume:
        return load_from or None
    record = osp.join(work_dir, LAST_CHECKPOINT)
    if not osp.isfile(record):
        return None
    path = find_latest_checkpoint(work_dir)
    if not path:
        raise CheckpointError(f'{record}: empty; it should name the checkpoint to resume from')
    if '://' not in path and not osp.exists(path):
        raise FileNotFoundError(f'{path}: checkpoint file not found (named by {record} as the one to resume from)')
    return path


def _loaded_file(runner) -> str:
    """The file the Runner is loading (hooks are not told): what :func:`checkpoint_to_load` finds."""
    path = checkpoint_to_load(getattr(runner, '_load_from', None), getattr(runner, '_resume', False),
                              runner.work_dir)
    return os.fspath(path) if path else 'the checkpoint the Runner loads'
