"""--data-root and the missing-data check reach every file of a config: wrapped and concatenated datasets and
the evaluators' annotation files."""
import pytest
from mmengine.config import Config

from scalenet_lab.run_checks import RunSetupError, check_data, set_data_root


def coco(root, name):
    return dict(type='CocoDataset', data_root=root, ann_file=f'annotations/{name}.json', data_prefix=dict(img=name))


def make_files(root, *names):
    for name in names:
        (root / name).mkdir(parents=True)
        (root / 'annotations').mkdir(exist_ok=True)
        (root / 'annotations' / f'{name}.json').write_text('{}')


def config(old):
    return Config(dict(
        data_root=old,
        train_dataloader=dict(dataset=dict(
            type='RepeatDataset', times=2,
            dataset=dict(type='ConcatDataset', datasets=[coco(old, 'a'), coco(old, 'b')]))),
        val_dataloader=dict(dataset=coco(old, 'val')),
        val_evaluator=dict(type='CocoMetric', ann_file=old + 'annotations/val.json')))


def test_data_root_moves_every_dataset_and_evaluator(tmp_path):
    cfg = config('data/old/')
    set_data_root(cfg, str(tmp_path))
    members = cfg.train_dataloader.dataset.dataset.datasets
    root = str(tmp_path) + '/'
    assert [m.data_root for m in members] == [root, root]
    assert cfg.val_dataloader.dataset.data_root == root
    assert cfg.val_evaluator.ann_file == root + 'annotations/val.json'
    make_files(tmp_path, 'a', 'b', 'val')
    check_data(cfg, ['train_dataloader', 'val_dataloader'])


def test_a_missing_member_of_a_concatenation_is_named(tmp_path):
    make_files(tmp_path, 'a', 'val')
    cfg = config(str(tmp_path) + '/')
    with pytest.raises(RunSetupError) as error:
        check_data(cfg, ['train_dataloader', 'val_dataloader'])
    message = str(error.value)
    assert f'train_dataloader: annotation file {tmp_path}/annotations/b.json' in message
    assert f'train_dataloader: image folder {tmp_path}/b' in message
    assert message.count('train_dataloader:') == 2  # member a is complete


def test_a_missing_evaluator_annotation_file_is_named(tmp_path):
    make_files(tmp_path, 'a', 'b', 'val')
    cfg = config(str(tmp_path) + '/')
    cfg.val_evaluator.ann_file = str(tmp_path / 'annotations' / 'instances_val.json')
    with pytest.raises(RunSetupError, match=r'val_evaluator: annotation file .*instances_val\.json'):
        check_data(cfg, ['train_dataloader', 'val_dataloader'])
