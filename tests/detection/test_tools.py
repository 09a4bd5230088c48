"""tools/train.py, tools/test.py and tools/dist_train.sh on mmengine's real Runner, on a tiny generated data set."""
import glob
import os

import pytest
import torch

from ..common import ROOT, python, run_tool
from .common import DEMO_CONFIG, TINY_OPTIONS

pytestmark = pytest.mark.slow


def train(work_dir, data_root, *options, extra=(), config=DEMO_CONFIG):
    return run_tool([python(), 'tools/train.py', str(config), '--work-dir', str(work_dir), '--data-root', data_root,
                     *extra, '--cfg-options', *TINY_OPTIONS, *options])


def dist_train(work_dir, data_root, port, *options, extra=(), config=DEMO_CONFIG):
    """tools/dist_train.sh with 2 gloo processes (one thread each) on ``port``."""
    return run_tool(['bash', 'tools/dist_train.sh', str(config), '2', '--work-dir', str(work_dir), '--data-root',
                     data_root, *extra, '--cfg-options', *TINY_OPTIONS, *options],
                    env={'PYTHON': python(), 'OMP_NUM_THREADS': '1', 'PORT': str(port)})


def final_state(work_dir):
    ckpt = os.path.join(work_dir, 'epoch_2.pth')
    return torch.load(ckpt, map_location='cpu', weights_only=True)['state_dict']


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, different[:10]


def test_train_then_test_prints_coco_bbox_map(tiny_shapes, tmp_path):
    out = train(tmp_path / 'run', tiny_shapes, 'train_cfg.max_epochs=1')
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert 'Epoch(train) [1][2/2]' in out.stdout + out.stderr
    ckpt = tmp_path / 'run' / 'epoch_1.pth'
    assert ckpt.is_file()
    show = tmp_path / 'show'
    result = run_tool([python(), 'tools/test.py', DEMO_CONFIG, str(ckpt), '--work-dir', str(tmp_path / 'test'),
                       '--data-root', tiny_shapes, '--out', str(tmp_path / 'preds.pkl'), '--show-dir', str(show),
                       '--cfg-options', *TINY_OPTIONS])
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    # pycocotools' summary and mmdet's CocoMetric result line
    assert 'Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]' in log
    assert 'coco/bbox_mAP:' in log
    assert (tmp_path / 'preds.pkl').stat().st_size > 0
    assert len(glob.glob(str(show / '*.jpg'))) == 4  # an absolute --show-dir is used as given


def test_missing_data_and_weights_say_what_to_do(tmp_path):
    out = run_tool([python(), 'tools/train.py', os.path.join(ROOT, 'configs', 'faster_rcnn_scalenet50.py'),
                    '--work-dir', str(tmp_path), '--data-root', str(tmp_path / 'nowhere')])
    assert out.returncode != 0
    assert 'the data set is missing' in out.stderr
    assert 'instances_train2017.json' in out.stderr and 'cocodataset.org' in out.stderr
    assert 'bash tools/run_demo.sh' in out.stderr
    data = tmp_path / 'coco'
    for sub in ('annotations', 'train2017', 'val2017'):
        (data / sub).mkdir(parents=True)
    for name in ('instances_train2017.json', 'instances_val2017.json'):
        (data / 'annotations' / name).write_text('{}')
    out = run_tool([python(), 'tools/train.py', os.path.join(ROOT, 'configs', 'faster_rcnn_scalenet50.py'),
                    '--work-dir', str(tmp_path), '--data-root', str(data)])
    assert out.returncode != 0
    assert 'pretrained weights not found: checkpoints/scalenet50.pth' in out.stderr
    assert 'model.backbone.init_cfg=None' in out.stderr and 'model.roi_head.shared_head.init_cfg=None' in out.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU message; with CUDA --amp is valid')
def test_amp_without_cuda_says_it_needs_a_gpu(tiny_shapes, tmp_path):
    out = train(tmp_path, tiny_shapes, extra=['--amp'])
    assert out.returncode != 0
    assert '--amp (automatic mixed precision) needs a CUDA GPU' in out.stderr


def test_resumed_run_ends_with_the_uninterrupted_weights(tiny_shapes, tmp_path):
    # "interrupted": the first run stops after epoch 1 of a 2-epoch schedule (end=2 fixes the schedule's length,
    # which mmengine otherwise takes from max_epochs)
    config = tmp_path / 'resume.py'
    config.write_text(f"_base_ = {DEMO_CONFIG!r}\n"
                      "param_scheduler = [dict(type='MultiStepLR', milestones=[1], gamma=0.5, by_epoch=True, end=2)]\n"
                      "default_hooks = dict(checkpoint=dict(max_keep_ckpts=3))\n"
                      "randomness = dict(seed=3)\n")
    full = train(tmp_path / 'full', tiny_shapes, 'train_cfg.max_epochs=2', config=config)
    assert full.returncode == 0, full.stderr[-3000:]
    first = train(tmp_path / 'cut', tiny_shapes, 'train_cfg.max_epochs=1', config=config)
    assert first.returncode == 0, first.stderr[-3000:]
    resumed = train(tmp_path / 'cut', tiny_shapes, 'train_cfg.max_epochs=2', config=config,
                    extra=['--resume', str(tmp_path / 'cut' / 'epoch_1.pth')])
    log = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, log[-3000:]
    assert 'resumed epoch: 1' in log
    assert 'restored the random number generator states' in log
    a, b = final_state(tmp_path / 'full'), final_state(tmp_path / 'cut')
    assert_same_weights(a, b)
    # and training did change the weights
    start = torch.load(tmp_path / 'cut' / 'epoch_1.pth', map_location='cpu', weights_only=True)['state_dict']
    assert any(not torch.equal(start[k], b[k]) for k in b)


def test_dist_train_with_two_gloo_processes(tiny_shapes, tmp_path):
    out = dist_train(tmp_path, tiny_shapes, 29617, 'train_cfg.max_epochs=1', 'train_dataloader.batch_size=2')
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-4000:]
    assert 'Distributed launcher: pytorch' in log and 'Distributed training: True' in log
    assert 'GPU number: 2' in log  # mmengine's name for the world size
    assert "backend': 'gloo'" in log
    # 8 images / (2 processes x 2 per batch) = 2 iterations
    assert 'Epoch(train) [1][2/2]' in log
    assert (tmp_path / 'epoch_1.pth').is_file()
    # each process destroyed its process group and joined gloo's threads before exiting (shutdown_distributed)
    assert 'still referenced' not in log
    # and tools/dist_test.sh evaluates that checkpoint with the same two processes
    out = run_tool(['bash', 'tools/dist_test.sh', DEMO_CONFIG, str(tmp_path / 'epoch_1.pth'), '2', '--work-dir',
                    str(tmp_path / 'test'), '--data-root', tiny_shapes, '--cfg-options', *TINY_OPTIONS],
                   env={'PYTHON': python(), 'OMP_NUM_THREADS': '1', 'PORT': '29618'})
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-4000:]
    assert 'coco/bbox_mAP:' in log
    assert 'still referenced' not in log


def test_dist_resumed_run_ends_with_the_uninterrupted_weights(tiny_shapes, tmp_path):
    # Each process draws from its own generators (diff_rank_seed): a resume that gave every rank rank 0's states
    # would end elsewhere. One iteration per epoch (8 images, 2 processes x 4), a checkpoint after each, no
    # validation; the resumed run starts from the uninterrupted run's epoch_1.pth.
    config = tmp_path / 'resume.py'
    config.write_text(f"_base_ = {DEMO_CONFIG!r}\n"
                      "param_scheduler = [dict(type='MultiStepLR', milestones=[1], gamma=0.5, by_epoch=True, end=2)]\n"
                      "default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=3))\n"
                      "randomness = dict(seed=3, diff_rank_seed=True)\n")
    options = ['train_cfg.max_epochs=2', 'train_cfg.val_interval=3']
    full = dist_train(tmp_path / 'full', tiny_shapes, 29619, *options, config=config)
    assert full.returncode == 0, full.stderr[-3000:]
    resumed = dist_train(tmp_path / 'resumed', tiny_shapes, 29620, *options, config=config,
                         extra=['--resume', str(tmp_path / 'full' / 'epoch_1.pth')])
    log = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, log[-3000:]
    assert 'resumed epoch: 1' in log
    assert 'restored the random number generator states' in log
    assert_same_weights(final_state(tmp_path / 'full'), final_state(tmp_path / 'resumed'))
