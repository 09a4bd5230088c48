"""What the demo scripts (tools/demo.py, tools/allocation_demo.py) share: the demo config, its synthetic data,
running the project's tools one step at a time, evaluating and drawing."""
import glob
import json
import os
import subprocess
import sys

from .argtypes import int_at_least

__all__ = ['CONFIG', 'ROOT', 'add_demo_args', 'draw', 'evaluate', 'last_checkpoint', 'make_data', 'run']

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))  # the repository
CONFIG = os.path.join(ROOT, 'configs', 'demo', 'faster-rcnn_scalenet50-light_fpn_synthetic-shapes.py')


def run(step, args, tag='demo'):
    """Run one of the project's tools from the repository root; stop the demo if it fails."""
    print(f'\n[{tag}] {step}: {" ".join(args)}', flush=True)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    result = subprocess.run(args, cwd=ROOT, env=env)
    if result.returncode != 0:
        sys.exit(f'[{tag}] {step} failed (exit {result.returncode}); see the messages above')


def make_data(data_root, num_train=None, num_val=None, tag='demo'):
    """Write the synthetic shapes of the demo config's ``demo_data`` (image counts overridable); return them.
    ``data_root`` is replaced only if it is empty or an earlier synthetic shapes data set (else ``FileExistsError``)."""
    from mmengine.config import Config

    from .datasets import make_synthetic_shapes
    data = dict(Config.fromfile(CONFIG).get('demo_data', {}))
    data.update({k: v for k, v in (('num_train', num_train), ('num_val', num_val)) if v is not None})
    print(f'[{tag}] writing the synthetic shapes data set to {data_root} ({data})', flush=True)
    make_synthetic_shapes(data_root, overwrite=True, **data)
    return data


def last_checkpoint(work_dir):
    with open(os.path.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def evaluate(config, work_dir, data_root, options=(), extra=(), tag='demo', test_dir='test'):
    """tools/test.py on ``work_dir``'s last checkpoint (its results under ``work_dir/test_dir``); returns CocoMetric's
    results."""
    test_dir = os.path.join(work_dir, test_dir)
    run('evaluation', [sys.executable, 'tools/test.py', config, last_checkpoint(work_dir), '--work-dir', test_dir,
                       '--data-root', data_root, *extra, *options], tag=tag)
    results = sorted(glob.glob(os.path.join(test_dir, '*', '*.json')))
    if not results:
        sys.exit(f'[{tag}] tools/test.py wrote no metrics under {test_dir}')
    with open(results[-1]) as f:
        return json.load(f)


def draw(predictions, out_dir, tag='demo'):
    """Draw the predictions of tools/test.py --out, upscaled with a legend of the demo's classes."""
    from mmengine.config import Config

    from .detections import draw_detections, load_predictions
    classes = Config.fromfile(CONFIG).metainfo['classes']
    files = draw_detections(load_predictions(predictions), classes, out_dir)
    print(f'[{tag}] drew {len(files) - 1} images and an overview (overview.png) into {out_dir}', flush=True)


def add_demo_args(parser, work_dir):
    """The flags both demo scripts take: where to work, where the data goes, its size, config overrides."""
    parser.add_argument('--work-dir', default=os.path.join(ROOT, 'work_dirs', work_dir))
    parser.add_argument('--data-root', default=os.path.join(ROOT, 'data', 'synthetic_shapes'))
    parser.add_argument('--num-train', type=int_at_least(1), help='training images (default: the config\'s demo_data)')
    parser.add_argument('--num-val', type=int_at_least(1), help='validation images (default: the config\'s demo_data)')
    parser.add_argument('--cfg-options', nargs='+', default=[], help='passed to every tools/train.py and test.py')
