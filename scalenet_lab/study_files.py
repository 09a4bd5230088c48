"""What the studies (:mod:`.allocation_study`, :mod:`.detection_study`) write, atomically: JSON data, the Markdown
report, figures; and the settings their work directory was made with."""
import json
import os
from typing import Dict, Optional

from mmdet_scalenet.utils.fileio import write_atomically

__all__ = ['record_settings', 'save_figure', 'save_json', 'save_markdown']


def save_json(data, path: str, overwrite: bool = True) -> None:
    def dump(tmp: str) -> None:
        with open(tmp, 'w') as f:
            json.dump(data, f, indent=1)

    write_atomically(path, dump, overwrite=overwrite, suffix='.json')


def save_markdown(lines, path: str) -> None:
    def dump(tmp: str) -> None:
        with open(tmp, 'w') as f:
            f.write('\n'.join(lines) + '\n')

    write_atomically(path, dump, overwrite=True, suffix='.md')


def save_figure(figure, path: str, dpi: int = 110) -> None:
    write_atomically(path, lambda tmp: figure.savefig(tmp, format='png', dpi=dpi), overwrite=True, suffix='.png')


def record_settings(work_dir: str, settings: dict, configs: Optional[Dict[str, str]] = None) -> None:
    """Record a study's ``settings`` (and its ``configs``' digests, by name) in ``work_dir/settings.json``; refuse a
    work directory whose runs were made with other ones, naming each difference."""
    path = os.path.join(work_dir, 'settings.json')
    wanted = dict(settings, **({'configs': configs} if configs is not None else {}))
    if not os.path.isfile(path):
        save_json(wanted, path, overwrite=False)
        return
    with open(path) as f:
        cached = json.load(f)
    differ = [f'{k}: {cached.get(k)!r} there, {v!r} asked' for k, v in settings.items() if cached.get(k) != v]
    differ += [f'config of {name} changed' for name, digest in (configs or {}).items()
               if cached.get('configs', {}).get(name) != digest]
    if differ:
        raise ValueError(f'{work_dir}: holds a study with other settings ({"; ".join(differ)}); use another work '
                         'directory or delete that one')
