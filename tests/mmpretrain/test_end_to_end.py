"""mmpretrain end to end on CPU, through the project's tools and mmengine's Runner, on a synthetic data set in
ImageNet's layout: the paper's allocation recipe (seed classifier -> allocate_neurons -> allocated classifier), the
checkpoint reloaded with safe loading, and the authors' released weights evaluated as docs/configs.md says."""
import importlib.util
import os
import pickle
import re

import pytest
import torch

from mmdet_scalenet import load_structure
from scalenet_lab.datasets import make_synthetic_classification

from ..common import ROOT, python, run_tool
from ..models.reference import random_reference
from .common import SEED, config_path, load_config

pytestmark = pytest.mark.slow

#: Shrink the ImageNet configs to seconds: 32x32 crops of the 32x32 images, small batches, one epoch.
TINY = ['train_dataloader.batch_size=8', 'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
        'val_dataloader.batch_size=8', 'test_dataloader.num_workers=0', 'test_dataloader.batch_size=8',
        'train_cfg.max_epochs=1', 'default_hooks.logger.interval=1', 'optim_wrapper.optimizer.lr=0.01',
        'train_dataloader.dataset.pipeline.1.scale=32']
SMALL_TEST = ['val_dataloader.dataset.pipeline.1.scale=32', 'val_dataloader.dataset.pipeline.2.crop_size=32',
              'test_dataloader.dataset.pipeline.1.scale=32', 'test_dataloader.dataset.pipeline.2.crop_size=32']
ACCURACY = re.compile(r'accuracy/top1: ([0-9.]+)')


@pytest.fixture(scope='module')
def imagenet_like(tmp_path_factory):
    """16 training and 8 validation images of 32x32, four classes, in ImageNet's layout (meta/*.txt)."""
    root = tmp_path_factory.mktemp('data') / 'imagenet'
    make_synthetic_classification(str(root), num_train=16, num_val=8, image_size=32, seed=0)
    return str(root)


def tool(name, config, *args, options=()):
    out = run_tool([python(), f'tools/{name}.py', config, *args, '--cfg-options', *TINY, *SMALL_TEST, *options])
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-4000:]
    return log


def accuracies(log):
    return [float(v) for v in ACCURACY.findall(log)]


@pytest.fixture(scope='module')
def seed_run(imagenet_like, tmp_path_factory):
    """Step 1 of the paper's allocation: the seed classifier config trained (one epoch) by tools/train.py."""
    work_dir = tmp_path_factory.mktemp('seed')
    log = tool('train', config_path(SEED), '--work-dir', str(work_dir), '--data-root', imagenet_like)
    return work_dir, log


def test_seed_classifier_trains_and_its_checkpoint_reloads_safely(seed_run, imagenet_like, tmp_path):
    work_dir, log = seed_run
    assert 'Epoch(train) [1][2/2]' in log
    (trained, ) = accuracies(log)  # mmpretrain's Accuracy on the 8 validation images
    assert 0 <= trained <= 100
    # tools/test.py reads the Runner's checkpoint with torch.load(weights_only=True) and evaluates it again
    show = tmp_path / 'show'
    log = tool('test', config_path(SEED), str(work_dir / 'epoch_1.pth'), '--work-dir', str(tmp_path / 'test'),
               '--data-root', imagenet_like, '--out', str(tmp_path / 'preds.pkl'), '--show-dir', str(show))
    assert 'Epoch(test) [1/1]' in log and accuracies(log) == [trained]
    with open(tmp_path / 'preds.pkl', 'rb') as f:
        predictions = pickle.load(f)
    assert len(predictions) == 8 and predictions[0]['pred_score'].shape == (1000, )
    assert len(os.listdir(show)) == 8  # one drawing per validation image


def test_allocation_recipe_seed_to_allocated_classifier(seed_run, imagenet_like, tmp_path):
    work_dir, _ = seed_run
    # step 2: allocate from the classifier checkpoint (its backbone under "backbone."), the tool's main()
    structure = tmp_path / 'allocated.json'
    script = os.path.join(ROOT, 'tools', 'allocate_neurons.py')
    spec = importlib.util.spec_from_file_location('allocate_neurons', script)
    allocate_neurons = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(allocate_neurons)
    assert allocate_neurons.main([str(work_dir / 'epoch_1.pth'), '--mode', 'block-flops', '-o', str(structure)]) == 0
    allocated = load_structure(str(structure))
    seed = load_structure('scalenet50_seed')
    assert allocated.depth == 50 and allocated.blocks != seed.blocks
    assert all(sum(a) < sum(s) for a, s in zip(allocated.blocks, seed.blocks))
    # step 3: the same config with the allocated structure, trained from scratch
    log = tool('train', config_path(SEED), '--work-dir', str(tmp_path / 'allocated'), '--data-root', imagenet_like,
               options=[f'model.backbone.structure={structure}'])
    assert len(accuracies(log)) == 1
    state = torch.load(tmp_path / 'allocated' / 'epoch_1.pth', map_location='cpu', weights_only=True)['state_dict']
    widths = [state[f'backbone.layer1.0.bn2.{i}.weight'].numel() for i in range(4)
              if f'backbone.layer1.0.bn2.{i}.weight' in state]
    assert widths == [c for c in allocated.blocks[0] if c > 0]


def test_released_weights_evaluated_as_the_readme_says(imagenet_like, tmp_path):
    """tools/test.py CONFIG RELEASED.pth --data-root: the real ImageNet config (224x224 pipeline), a file in the
    authors' layout, mmengine's Runner; the predictions are the authors' network's."""
    from mmengine.registry import DefaultScope
    from mmpretrain.registry import DATASETS
    reference = random_reference(50, load_structure('scalenet50').to_rows(), seed=3)
    with torch.no_grad():
        reference.fc.bias[4:] = -100  # predictions among the data set's four classes: a non-trivial accuracy
    released = tmp_path / 'scalenet50.pth'
    torch.save(reference.state_dict(), released)
    name = 'scalenet50_8xb32-coslr-120e_in1k'
    out = run_tool([python(), 'tools/test.py', config_path(name), str(released), '--work-dir', str(tmp_path / 'w'),
                    '--data-root', imagenet_like, '--out', str(tmp_path / 'preds.pkl'), '--cfg-options',
                    'test_dataloader.num_workers=0', 'test_dataloader.batch_size=4',
                    'test_dataloader.dataset.indices=4'])  # the first 4 validation images
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-4000:]
    assert "tensors in the authors' classifier layout renamed for ImageClassifier" in log
    (printed, ) = accuracies(log)
    with open(tmp_path / 'preds.pkl', 'rb') as f:
        predictions = pickle.load(f)

    # the same images through the config's own test pipeline, normalised as its data preprocessor does
    cfg = load_config(name)
    dataset_cfg = cfg.test_dataloader.dataset
    dataset_cfg.update(data_root=imagenet_like, indices=4)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        dataset = DATASETS.build(dataset_cfg)
    mean = torch.tensor(cfg.data_preprocessor.mean).view(1, 3, 1, 1)
    std = torch.tensor(cfg.data_preprocessor.std).view(1, 3, 1, 1)
    images = torch.stack([dataset[i]['inputs'] for i in range(len(dataset))]).float()[:, [2, 1, 0]]
    assert images.shape == (4, 3, 224, 224)
    with torch.no_grad():
        scores = reference.logits((images - mean) / std).softmax(1)
    dumped = torch.stack([p['pred_score'] for p in predictions])
    assert (dumped - scores).abs().max() <= 1e-4 * scores.abs().max()
    labels = torch.tensor([int(dataset[i]['data_samples'].gt_label) for i in range(len(dataset))])
    assert printed == pytest.approx(100 * (scores.argmax(1) == labels).float().mean().item(), abs=1e-3)
