"""What the studies (:mod:`.allocation_study`, :mod:`.detection_study`) write, atomically: JSON data, the Markdown
report, figures."""
import json

from mmdet_scalenet.utils.fileio import write_atomically

__all__ = ['save_figure', 'save_json', 'save_markdown']


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
