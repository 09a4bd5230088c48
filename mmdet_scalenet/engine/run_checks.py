"""Checks and small config edits that tools/train.py and tools/test.py make before a Runner is built, so that a
missing data set, missing weights or an impossible option fails at once with a message that says what to do."""
import os

import torch

__all__ = ['RunSetupError', 'check_amp', 'check_data', 'check_pretrained', 'set_data_root']

DEMO_HINT = 'For a complete run without downloads, see the demo: bash tools/run_demo.sh'


class RunSetupError(RuntimeError):
    """The run cannot start; the message says why and what to do."""


def _dataloaders(cfg, names):
    for name in names:
        loader = cfg.get(name)
        if loader and loader.get('dataset'):
            yield name, loader['dataset']


def _file_datasets(dataset):
    """The datasets that hold the files, through wrappers (``RepeatDataset``, ``ClassBalancedDataset``: one
    ``dataset``) and ``ConcatDataset`` (a ``datasets`` list)."""
    if 'ann_file' not in dataset and 'dataset' in dataset:
        yield from _file_datasets(dataset['dataset'])
    elif 'ann_file' not in dataset and 'datasets' in dataset:
        for member in dataset['datasets']:
            yield from _file_datasets(member)
    else:
        yield dataset


def _evaluators(cfg, name):
    evaluators = cfg.get(name)
    return [evaluators] if isinstance(evaluators, dict) else list(evaluators or [])


def set_data_root(cfg, root: str) -> None:
    """Point every dataloader and COCO evaluator of ``cfg`` at ``root`` instead of the config's data root."""
    root = root.rstrip('/') + '/'
    old = cfg.get('data_root')
    cfg.data_root = root
    for _, dataset in _dataloaders(cfg, ('train_dataloader', 'val_dataloader', 'test_dataloader')):
        for files in _file_datasets(dataset):
            files['data_root'] = root
    for name in ('val_evaluator', 'test_evaluator'):
        for evaluator in _evaluators(cfg, name):
            ann = evaluator.get('ann_file')
            if ann and old and ann.startswith(old):
                evaluator['ann_file'] = root + ann[len(old):]


def check_data(cfg, loaders) -> None:
    """Raise :class:`RunSetupError` if an annotation file or image folder of ``loaders``, or the annotation file
    of their evaluator (``val_dataloader``: ``val_evaluator``...), is missing."""
    missing = []
    for name, dataset in _dataloaders(cfg, loaders):
        for files in _file_datasets(dataset):
            root = files.get('data_root') or ''
            ann = files.get('ann_file')
            if ann and '://' not in root and not os.path.isfile(os.path.join(root, ann)):
                missing.append(f'{name}: annotation file {os.path.join(root, ann)}')
            for prefix in (files.get('data_prefix') or {}).values():
                if '://' not in root and not os.path.isdir(os.path.join(root, prefix)):
                    missing.append(f'{name}: image folder {os.path.join(root, prefix)}')
        evaluator_name = name.replace('_dataloader', '_evaluator')
        for evaluator in _evaluators(cfg, evaluator_name):
            ann = evaluator.get('ann_file')
            if ann and '://' not in ann and not os.path.isfile(ann):
                missing.append(f'{evaluator_name}: annotation file {ann}')
    if missing:
        coco = any('instances_' in m for m in missing)
        advice = ('Download COCO 2017 (train2017 and val2017 images, annotations_trainval2017) from '
                  'https://cocodataset.org and unpack it so that the paths above exist, or pass '
                  '--data-root DIR to use another location.' if coco else
                  'Create the data set or pass --data-root DIR.')
        raise RunSetupError('the data set is missing:\n  ' + '\n  '.join(missing) + f'\n{advice}\n{DEMO_HINT}')


def _pretrained_entries(node, path):
    if isinstance(node, dict):
        if node.get('type') == 'Pretrained' and isinstance(node.get('checkpoint'), str):
            yield path, node['checkpoint']
        for key, value in node.items():
            yield from _pretrained_entries(value, f'{path}.{key}')
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _pretrained_entries(value, f'{path}[{i}]')


def check_pretrained(cfg) -> None:
    """Raise :class:`RunSetupError` if a local ``Pretrained`` checkpoint of ``cfg.model`` does not exist."""
    missing = [(path, ckpt) for path, ckpt in _pretrained_entries(cfg.model, 'model')
               if '://' not in ckpt and not os.path.isfile(ckpt)]
    if missing:
        files = sorted({ckpt for _, ckpt in missing})
        owners = sorted({path.rsplit('.init_cfg', 1)[0] + '.init_cfg' for path, _ in missing})
        raise RunSetupError(
            'pretrained weights not found: ' + ', '.join(files) + '\n'
            "Download the authors' ImageNet ScaleNet weights (README: 'The authors' ImageNet weights') to that "
            'path, or train from scratch with\n  --cfg-options ' + ' '.join(f'{o}=None' for o in owners))


def check_amp() -> None:
    """``--amp`` needs CUDA in mmengine; say so instead of failing deep inside the optimizer wrapper."""
    if not torch.cuda.is_available():
        raise RunSetupError('--amp (automatic mixed precision) needs a CUDA GPU, and none is available here. '
                            'Run without --amp on the CPU.')
