"""Every config the project ships, resolved with its bases, resumes exactly: RandomStateHook is in its custom_hooks
(once)."""
import glob
import os

import pytest
from mmengine.config import Config

from .common import ROOT

CONFIG_DIR = os.path.join(ROOT, 'configs')
# every config a user can run: all but the _base_ folders' pieces
RUNNABLE = sorted(path for path in glob.glob(os.path.join(CONFIG_DIR, '**', '*.py'), recursive=True)
                  if '_base_' not in os.path.relpath(path, CONFIG_DIR).split(os.sep))


def test_the_walk_finds_every_toolbox():
    folders = {os.path.relpath(path, CONFIG_DIR).split(os.sep)[0] for path in RUNNABLE}
    assert {'mmpretrain', 'mmseg', 'drop-in', 'demo', 'allocation'} <= folders
    assert len(RUNNABLE) >= 30


@pytest.mark.parametrize('path', RUNNABLE, ids=[os.path.relpath(p, CONFIG_DIR) for p in RUNNABLE])
def test_config_saves_random_states(path):
    hooks = [hook.get('type') for hook in Config.fromfile(path).get('custom_hooks', [])]
    assert hooks.count('RandomStateHook') == 1, hooks
