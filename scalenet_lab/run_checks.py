"""Checks and small config edits that tools/train.py and tools/test.py make before a Runner is built, so that a
missing data set, missing weights or an impossible option fails at once with a message that says what to do."""
import os

import torch

__all__ = ['DOWNLOAD_ADVICE', 'RunSetupError', 'check_amp', 'check_data', 'check_pretrained', 'set_data_root']

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


#: What to download, per dataset type, when the files of a dataset of that type are missing.
DOWNLOAD_ADVICE = {
    'CocoDataset': 'Download COCO 2017 (train2017 and val2017 images, annotations_trainval2017) from '
                   'https://cocodataset.org and unpack it so that the paths above exist, or pass '
                   '--data-root DIR to use another location.',
    'ImageNet': 'Download ImageNet-1k (ILSVRC2012, train and val) from https://image-net.org and arrange it as '
                'mmpretrain reads it: train/ and val/ with one folder of images per class (its wnid, n01440764...), '
                'or the images with the label files meta/train.txt and meta/val.txt (lines "<path> <label>"), so '
                'that the paths above exist; or pass --data-root DIR to use another location.',
    'CityscapesDataset': 'Download leftImg8bit_trainvaltest.zip and gtFine_trainvaltest.zip from '
                         'https://www.cityscapes-dataset.com, unpack both into the data root and make the '
                         '*_labelTrainIds.png label maps with mmseg\'s tools/dataset_converters/cityscapes.py, so '
                         'that the paths above exist; or pass --data-root DIR to use another location.',
    'ADE20KDataset': 'Download ADEChallengeData2016.zip (ADE20K, SceneParsing: '
                     'http://data.csail.mit.edu/places/ADEchallenge/ADEChallengeData2016.zip) and unpack it so that '
                     'the paths above exist; or pass --data-root DIR to use another location.',
}
#: For a run without downloads.
NO_DOWNLOAD_HINT = {
    'CocoDataset': DEMO_HINT,
    'ImageNet': 'For a run without downloads: scalenet_lab.datasets.make_synthetic_classification writes a small '
                'data set in this layout (docs/configs.md, "On a CPU, without downloads").',
    'CityscapesDataset': 'For a run without downloads, see docs/configs.md, "On a CPU, without downloads" (synthetic '
                         'data).',
    'ADE20KDataset': 'For a run without downloads, see docs/configs.md, "On a CPU, without downloads" (synthetic '
                     'data).',
}


def _type_name(dataset) -> str:
    """A dataset's type without its registry scope (``'mmdet.CocoDataset'`` -> ``'CocoDataset'``)."""
    kind = dataset.get('type')
    name = kind.__name__ if isinstance(kind, type) else str(kind)
    return name.rsplit('.', 1)[-1]


def _folders(dataset):
    """``(what, folder)`` of each folder a dataset reads, relative to its ``data_root``: ``data_prefix`` as a dict
    (mmdet ``img``, mmseg ``img_path`` and ``seg_map_path``) or a string (mmpretrain), else mmpretrain ImageNet's
    ``split`` (its folder)."""
    prefix = dataset.get('data_prefix')
    if isinstance(prefix, dict):
        return [('label folder' if key == 'seg_map_path' else 'image folder', folder)
                for key, folder in prefix.items() if isinstance(folder, str)]
    if isinstance(prefix, str) and prefix:
        return [('image folder', prefix)]
    split = dataset.get('split')
    return [('image folder', split)] if isinstance(split, str) and split else []


def check_data(cfg, loaders) -> None:
    """Raise :class:`RunSetupError` if an annotation file or an image or label folder of ``loaders``, or the
    annotation file of their evaluator (``val_dataloader``: ``val_evaluator``...), is missing; the message says
    what to download for the data sets it knows (:data:`DOWNLOAD_ADVICE`)."""
    missing, kinds = [], []
    for name, dataset in _dataloaders(cfg, loaders):
        for files in _file_datasets(dataset):
            root = files.get('data_root') or ''
            if '://' in root:
                continue
            before = len(missing)
            ann = files.get('ann_file')
            if ann and not os.path.isfile(os.path.join(root, ann)):
                missing.append(f'{name}: annotation file {os.path.join(root, ann)}')
            for what, folder in _folders(files):
                if not os.path.isdir(os.path.join(root, folder)):
                    missing.append(f'{name}: {what} {os.path.join(root, folder)}')
            if len(missing) > before and _type_name(files) not in kinds:
                kinds.append(_type_name(files))
        evaluator_name = name.replace('_dataloader', '_evaluator')
        for evaluator in _evaluators(cfg, evaluator_name):
            ann = evaluator.get('ann_file')
            if ann and '://' not in ann and not os.path.isfile(ann):
                missing.append(f'{evaluator_name}: annotation file {ann}')
    if missing:
        if not kinds and any('instances_' in m for m in missing):
            kinds.append('CocoDataset')  # only the evaluator's COCO annotation file is missing
        known = [kind for kind in kinds if kind in DOWNLOAD_ADVICE]
        advice = [DOWNLOAD_ADVICE[kind] for kind in known] or ['Create the data set or pass --data-root DIR.']
        hints = list(dict.fromkeys(NO_DOWNLOAD_HINT[kind] for kind in known))
        raise RunSetupError('the data set is missing:\n  ' + '\n  '.join(missing) + '\n'
                            + '\n'.join(advice + hints))


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
