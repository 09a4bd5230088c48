"""``pip install -e .`` into an existing OpenMMLab environment, as the README's Installation says.

The existing environment is the pinned stack of ``.venv`` (torch, mmengine, mmcv, mmdet...) without this package: a
throwaway virtual environment whose ``site-packages`` holds one ``.pth`` line naming the stack's ``site-packages``.
A ``.pth`` line adds a folder to ``sys.path`` without running that folder's own ``.pth`` files, so the editable
install ``tools/setup_env.sh`` made in ``.venv`` stays invisible and ``mmdet_scalenet`` is not importable there until
pip installs it (checked first). pip, run by the throwaway interpreter, writes only into that environment and leaves
``.venv`` alone (checked after). Then, in a fresh process started outside the repository, ``mmdet_scalenet``
resolves to this checkout and a config with ``custom_imports`` builds ``type='ScaleNet'`` through mmdet's registry.
"""
import json
import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]

_BUILD = textwrap.dedent("""\
    import importlib.util, json, sys
    from mmengine.config import Config
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    import torch

    register_all_modules()
    cfg = Config.fromfile(sys.argv[1])  # runs its custom_imports
    backbone = MODELS.build(cfg.model.backbone).eval()
    with torch.no_grad():
        shapes = [list(out.shape) for out in backbone(torch.rand(1, 3, 64, 64))]
    import mmdet_scalenet
    print(json.dumps(dict(type=type(backbone).__name__, module=type(backbone).__module__,
                          package=mmdet_scalenet.__file__, structure=backbone.structure.name, shapes=shapes,
                          lab=importlib.util.find_spec('scalenet_lab').origin)))
""")

_CONFIG = textwrap.dedent("""\
    custom_imports = dict(imports=['mmdet_scalenet'], allow_failed_imports=False)
    model = dict(backbone=dict(type='ScaleNet', depth=50, structure='scalenet50_light', out_indices=(0, 3)))
""")


def _snapshot(folder: Path) -> dict:
    """Name -> (size, mtime) of every entry of ``folder`` and of the package's installed metadata in it."""
    entries = {entry.name: entry.stat() for entry in folder.iterdir()}
    for name in list(entries):
        if 'mmdet_scalenet' in name.lower() or 'mmdet-scalenet' in name.lower():
            path = folder / name
            children = path.iterdir() if path.is_dir() else ()
            entries.update({f'{name}/{child.name}': child.stat() for child in children})
    return {name: (stat.st_size, stat.st_mtime_ns) for name, stat in entries.items()}


def _run(args, cwd, timeout=120):
    env = {key: value for key, value in os.environ.items() if key not in ('PYTHONPATH', 'PYTHONHOME')}
    # no bytecode written: importing the stack's modules must not touch its folders
    env.update(PIP_DISABLE_PIP_VERSION_CHECK='1', PIP_NO_INPUT='1', PYTHONDONTWRITEBYTECODE='1', OMP_NUM_THREADS='1')
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f'{" ".join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}'
    return result.stdout


def test_pip_install_editable_into_an_existing_environment(tmp_path):
    stack = Path(sysconfig.get_paths()['purelib'])
    if not (stack / 'mmdet').is_dir():
        pytest.fail(f'the pinned stack is not installed in {stack} (run tools/setup_env.sh)')
    before = _snapshot(stack)

    env_dir = tmp_path / 'existing_env'
    _run([sys.executable, '-m', 'venv', '--without-pip', str(env_dir)], cwd=tmp_path)
    python = env_dir / 'bin' / 'python'
    site = Path(_run([str(python), '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                     cwd=tmp_path).strip())
    (site / 'openmmlab_stack.pth').write_text(f'{stack}\n')
    probe = 'import importlib.util; print(importlib.util.find_spec("mmdet_scalenet"))'
    assert _run([str(python), '-c', probe], cwd=tmp_path).strip() == 'None', 'the package is importable before pip'

    _run([str(python), '-m', 'pip', 'install', '--no-deps', '--no-build-isolation', '--no-index', '--ignore-installed',
          '-q', '-e', str(ROOT)], cwd=tmp_path, timeout=300)
    assert any(site.glob('mmdet_scalenet-*.dist-info')), f'pip wrote no metadata into {site}'

    (tmp_path / 'build.py').write_text(_BUILD)
    (tmp_path / 'scalenet_config.py').write_text(_CONFIG)
    built = json.loads(_run([str(python), 'build.py', 'scalenet_config.py'], cwd=tmp_path).splitlines()[-1])
    assert built['type'] == 'ScaleNet' and built['module'].startswith('mmdet_scalenet.'), built
    assert Path(built['package']).resolve() == ROOT / 'mmdet_scalenet' / '__init__.py', built
    assert Path(built['lab']).resolve() == ROOT / 'scalenet_lab' / '__init__.py', built
    assert built['structure'] == 'scalenet50_light', built  # package data found through the editable install
    assert built['shapes'] == [[1, 256, 16, 16], [1, 2048, 2, 2]], built

    assert _snapshot(stack) == before, f'installing into another environment changed {stack}'
