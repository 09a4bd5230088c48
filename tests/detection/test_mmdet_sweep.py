"""ScaleNet in every distinct ResNet-50 backbone of mmdet's shipped configs.

The sweep walks ``mmdet/.mim/configs``, keeps the configs whose ``model.backbone`` is a ResNet-50 and groups them by
the backbone dict without its weights (``init_cfg``, ``pretrained``): each group is one distinct backbone variant
(style, norm, frozen stages, DCN, plugins, C4, DC5...). Per group, a cheap detector of the group is built as the
Runner builds it (SyncBN reverted to BN on one process, ``init_weights()``, nothing downloaded) and takes one step
of the config's own optimizer on ``mmdet.testing.demo_mm_inputs``: first with the ResNet original, then with the
same backbone dict but ``type='ScaleNet'``. Where the original cannot train on this machine (an optional package
missing, a CUDA-only op, a download), the config is listed with the reason; wherever it trains, ScaleNet must train
too. For the pinned mmdet the tally is pinned (``PINNED``): the number of groups, how many train, and every config
left out with its reason.

Run alone with a printed table: ``python -m tests.detection.test_mmdet_sweep [--resnet-only] [--json PATH]``.
"""
import argparse
import contextlib
import functools
import glob
import json
import math
import os
import sys
import tempfile
import time
import traceback

import pytest
import torch

from ..common import optimizer_step, quiet

#: Image side and batch size of the one training step: small, so ~70 steps fit in a few minutes on 2 cores.
IMAGE_SIZE = 128
BATCH_SIZE = 2
#: Print one line per training step to stderr (the command-line entry point sets it).
PROGRESS = False
#: Configs of a group tried, in order of preference, until the ResNet original trains.
MAX_TRIES = 3
#: What the sweep finds in the mmdet that tools/setup_env.sh pins: the distinct ResNet-50 backbones, how many of
#: them the ResNet original trains here (ScaleNet must train in each), and every config left out, with the start of
#: the reason (see :func:`excluded_configs`). Another mmdet fails the test until its own tally is pinned here.
PINNED = {
    '3.3.0': dict(groups=35, trained=35, excluded={
        'bytetrack/bytetrack_yolox_x_8xb4-amp-80e_crowdhuman-mot17halftrain_test-mot17test.py':
            'does not load (mmdet ships it broken): FileNotFoundError',
        'sort/faster-rcnn_r50_fpn_8xb2-4e_mot17train_test-mot17train.py':
            'does not load (mmdet ships it broken): FileNotFoundError',
        'sort/faster-rcnn_r50_fpn_8xb2-8e_mot20halftrain_test-mot20halfval.py':
            'does not load (mmdet ships it broken): FileNotFoundError',
        'sort/faster-rcnn_r50_fpn_8xb2-8e_mot20train_test-mot20train.py':
            'does not load (mmdet ships it broken): FileNotFoundError',
    }),
}

# Detector types, cheapest first. A group's representative is its cheapest config whose original trains here;
# heavy ones (cascades, query-based, transformers, panoptic) only where a group has nothing else.
CHEAP_FIRST = [
    'RetinaNet', 'RPN', 'FCOS', 'ATSS', 'FSAF', 'GFL', 'FOVEA', 'YOLOF', 'NASFCOS', 'AutoAssign', 'CenterNet',
    'FasterRCNN', 'TOOD', 'DDOD', 'VFNet', 'RepPointsDetector', 'SOLO', 'SOLOv2', 'YOLACT', 'MaskRCNN', 'PAA',
    'FastRCNN', 'GridRCNN', 'MaskScoringRCNN', 'PointRend', 'CrowdDet', 'CascadeRCNN',
    'DETR', 'ConditionalDETR', 'DABDETR', 'DeformableDETR', 'DINO', 'DDQDETR', 'SparseRCNN', 'QueryInst',
    'Mask2Former', 'MaskFormer', 'PanopticFPN', 'HybridTaskCascade', 'SCNet', 'BoxInst', 'CondInst', 'LAD',
    'KnowledgeDistillationSingleStageDetector', 'GroundingDINO',
]
#: Types that cannot train on image batches (video inputs): never a representative.
NOT_IMAGE_DETECTORS = {'Mask2FormerVideo', 'MaskTrackRCNN'}
#: Words in a config name that mark a costlier or more specialised variant of the same detector: each one found
#: moves the config back among configs of its type (the plain ``*_r50_fpn_1x_coco.py`` wins).
EXTRAS = ('albu', 'carafe', 'dpool', 'mdpool', 'dyhead', 'ga-', 'sabl', 'groie', 'pisa', 'libra', 'instaboost',
          'dsdl', 'wandb', 'lvis', 'seesaw', 'objects365', 'openimages', 'cityscapes', 'crowdhuman', 'v3det',
          'legacy', 'fpg', 'nasfpn', 'pafpn', 'ghm', 'freeanchor', 'tnr', 'rsb', 'iou', 'ohem', 'soft-nms',
          'fcos-rpn', 'amp', 'lsj', 'panoptic', 'copy', 'deepfashion', 'mot', 'voc', 'widerface')


# ----------------------------------------------------------------------------------------------------------------
# Collection


def mmdet_config_root():
    import mmdet
    return os.path.join(os.path.dirname(mmdet.__file__), '.mim', 'configs')


def _plain(obj):
    """ConfigDicts as dicts and tuples as lists, for a canonical JSON form."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def backbone_key(backbone):
    """The group key: the backbone dict without its weights, as canonical JSON."""
    backbone = {k: v for k, v in _plain(backbone).items() if k not in ('init_cfg', 'pretrained')}
    return json.dumps(backbone, sort_keys=True)


def preference(rel_path, model_type):
    name = os.path.basename(rel_path).lower()
    rank = CHEAP_FIRST.index(model_type) if model_type in CHEAP_FIRST else len(CHEAP_FIRST)
    return (rank, sum(word in name for word in EXTRAS), len(name), rel_path)


@functools.lru_cache(maxsize=None)
def collect_groups():
    """Every distinct ResNet-50 backbone dict of mmdet's shipped configs.

    Returns ``(groups, load_errors)``: ``groups`` a list of dicts ``key``, ``backbone`` (one member's dict, weights
    removed), ``configs`` (``(rel_path, model_type)`` of every member, cheapest first); ``load_errors`` maps the
    configs that mmengine cannot load to the error.
    """
    from mmdet.utils import register_all_modules
    from mmengine.config import Config
    register_all_modules()
    root = mmdet_config_root()
    paths = sorted(p for p in glob.glob(os.path.join(root, '**', '*.py'), recursive=True)
                   if os.sep + '_base_' + os.sep not in p)
    groups, load_errors = {}, {}
    for path in paths:
        rel = os.path.relpath(path, root)
        try:
            cfg = Config.fromfile(path, import_custom_modules=False)
        except Exception as e:  # noqa: BLE001 (a few shipped configs are broken: listed, not fatal)
            load_errors[rel] = f'{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ""}'
            continue
        model = cfg.get('model')
        backbone = model.get('backbone') if isinstance(model, dict) else None
        if not isinstance(backbone, dict) or backbone.get('type') != 'ResNet' or backbone.get('depth') != 50:
            continue
        key = backbone_key(backbone)
        group = groups.setdefault(key, dict(key=key, backbone=json.loads(key), configs=[]))
        group['configs'].append((rel, model.get('type')))
    result = list(groups.values())
    for group in result:
        group['configs'].sort(key=lambda c: preference(*c))
    result.sort(key=lambda g: -len(g['configs']))
    return result, load_errors


def features(backbone):
    """A short description of what a backbone dict exercises beyond the default ResNet-50."""
    out = [backbone.get('style', 'pytorch')]
    norm = backbone.get('norm_cfg', dict(type='BN', requires_grad=True))
    out.append(norm['type'] + ('(frozen)' if norm.get('requires_grad', True) is False else '')
               + (f"(eps={norm['eps']})" if 'eps' in norm else ''))
    if backbone.get('norm_eval', True) is False:
        out.append('norm_eval=False')
    out.append(f"frozen={backbone.get('frozen_stages', -1)}")
    if backbone.get('num_stages', 4) != 4:
        out.append(f"stages={backbone['num_stages']}")
    out.append('out=' + ''.join(str(i) for i in backbone.get('out_indices', (0, 1, 2, 3))))
    if 'strides' in backbone:
        out.append('strides=' + ''.join(map(str, backbone['strides'])))
    if 'dilations' in backbone and any(d != 1 for d in backbone['dilations']):
        out.append('dil=' + ''.join(map(str, backbone['dilations'])))
    if backbone.get('dcn'):
        dcn = backbone['dcn']
        groups = dcn.get('deform_groups', dcn.get('deformable_groups', 1))
        out.append(f"{dcn['type']}(g{groups})@" + ''.join('1' if s else '0' for s in backbone['stage_with_dcn']))
    for plugin in backbone.get('plugins') or []:
        cfg = plugin['cfg']
        extra = cfg.get('attention_type', cfg.get('ratio', ''))
        out.append(f"{cfg['type']}({extra})@{plugin['position']}:"
                   + ''.join('1' if s else '0' for s in plugin.get('stages', (True, ) * 4)))
    if backbone.get('conv_cfg'):
        out.append(backbone['conv_cfg']['type'])
    if backbone.get('zero_init_residual') is False:
        out.append('zero_init_residual=False')
    unset = [k for k in ('norm_cfg', 'norm_eval') if k not in backbone]
    if unset:
        out.append(f"(ResNet's default {', '.join(unset)})")
    return ' '.join(out)


# ----------------------------------------------------------------------------------------------------------------
# One training step


def _without_downloads(obj):
    """A copy of a model config with every ``Pretrained`` init_cfg and checkpoint path removed (nothing can be
    downloaded here, and ImageNet ResNet weights are not ScaleNet's)."""
    def pretrained(init):
        return isinstance(init, dict) and init.get('type') in ('Pretrained', 'PretrainedInit')

    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k == 'init_cfg' and pretrained(v):
                v = None
            elif k == 'init_cfg' and isinstance(v, list):
                v = [i for i in v if not pretrained(i)] or None
            elif k in ('pretrained', 'teacher_ckpt') and isinstance(v, str):
                v = None
            out[k] = _without_downloads(v)
        return out
    if isinstance(obj, (list, tuple)):
        return type(obj)(_without_downloads(v) for v in obj)
    return obj


def _values(obj, key):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == key:
                yield v
            yield from _values(v, key)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _values(v, key)


def model_config(cfg_model, backbone_type):
    """The model dict to build: weights removed, the backbone's ``type`` set, the data preprocessor's batch
    augments (LSJ's fixed 1024x1024 pad, random batch resizes) dropped, as they only cost time here."""
    from mmengine.config import ConfigDict
    model = _without_downloads(cfg_model.to_dict() if isinstance(cfg_model, ConfigDict) else cfg_model)
    model['backbone']['type'] = backbone_type
    if isinstance(model.get('data_preprocessor'), dict):
        model['data_preprocessor'].pop('batch_augments', None)
    return ConfigDict(model)  # mmdet reads train_cfg etc. as attributes


def image_size(model_cfg):
    """``IMAGE_SIZE``, or the smallest multiple of 32 above it whose feature maps hold at least ``num_queries``
    positions where a two-stage DETR (DINO, DDQ, Deformable DETR ``as_two_stage``) picks its queries by top-k
    over them."""
    two_stage = model_cfg['type'] in ('DINO', 'DDQDETR', 'GroundingDINO') or model_cfg.get('as_two_stage')
    queries = model_cfg.get('num_queries')
    if not two_stage or not isinstance(queries, int):
        return IMAGE_SIZE
    strides = [4 * 2 ** i for i in model_cfg['backbone'].get('out_indices', (0, 1, 2, 3))]
    extra = model_cfg.get('neck', {}).get('num_outs', len(strides)) - len(strides)
    strides += [strides[-1] * 2 ** (i + 1) for i in range(max(extra, 0))]
    size = IMAGE_SIZE
    while sum(math.ceil(size / s) ** 2 for s in strides) < queries:
        size += 32
    return size


def demo_batch(model_cfg):
    from mmdet.testing import demo_mm_inputs, demo_mm_proposals
    num_classes = min([v for k in ('num_classes', 'num_things_classes') for v in _values(model_cfg, k)
                       if isinstance(v, int) and v > 0] or [80])
    with_semantic = any(True for _ in _values(model_cfg, 'semantic_head')) or \
        any(v for v in _values(model_cfg, 'num_stuff_classes') if isinstance(v, int))
    size = image_size(model_cfg)
    shapes = [(3, size, size)] * BATCH_SIZE
    packed = demo_mm_inputs(batch_size=BATCH_SIZE, image_shapes=shapes, num_items=[3] * BATCH_SIZE,
                            num_classes=max(num_classes, 2), with_mask=True, with_semantic=with_semantic)
    for sample in packed['data_samples']:
        sample.gt_instances.labels = sample.gt_instances.labels % num_classes
    if model_cfg['type'] == 'FastRCNN':
        for sample, proposals in zip(packed['data_samples'], demo_mm_proposals(shapes, 100)):
            sample.proposals = proposals
    return packed


@contextlib.contextmanager
def process_group_for(model_cfg):
    """A one-process gloo group while a model with mmcv's ``MMSyncBN`` is built: unlike torch's SyncBatchNorm,
    mmcv's asks ``torch.distributed`` for the world size in ``__init__`` (a launcher's job). The layers are then
    reverted to BN, as the Runner reverts every SyncBN on one process."""
    import torch.distributed as dist
    needed = any(v == 'MMSyncBN' for v in _values(model_cfg, 'type')) and not dist.is_initialized()
    if not needed:
        yield
        return
    with tempfile.TemporaryDirectory() as tmp:
        dist.init_process_group('gloo', init_method='file://' + os.path.join(tmp, 'store'), rank=0, world_size=1)
        try:
            yield
        finally:
            dist.destroy_process_group()


def optim_wrapper_config(cfg):
    """``cfg``'s ``optim_wrapper`` (optimizer, parameter-wise settings, gradient clipping), with mmengine's
    ``AmpOptimWrapper`` as a plain ``OptimWrapper``: mixed precision needs a GPU, and the update is the same."""
    from mmengine.config import ConfigDict
    wrapper = dict(cfg.optim_wrapper)
    if wrapper.get('type') == 'AmpOptimWrapper':
        wrapper = {k: v for k, v in wrapper.items() if k not in ('loss_scale', 'dtype', 'use_fsdp')}
        wrapper['type'] = 'OptimWrapper'
    return ConfigDict(optim_wrapper=wrapper)


def _record_gradient(gradients, name, param):
    gradients[name] = (bool(torch.isfinite(param.grad).all()), float(param.grad.abs().max()))


#: A gradient at most this fraction of its parameter's scale (``max(1, max |p|)``) moves nothing in float32: the
#: step may leave such a parameter as it is. (The gamma of a GroupNorm over a constant map, as the factor-7 branch's
#: upsampled from 1x1, has a gradient of rounding noise: the normalised map is 0.)
NEGLIGIBLE_GRADIENT = 1e-6


def train_step(cfg, backbone_type):
    """Build the model of config ``cfg`` (as the Runner: revert SyncBN, ``init_weights``) and take one step of its
    own optimizer (``optim_wrapper``) on a demo batch; raises on any failure: a non-finite loss, a trainable
    backbone parameter without a (finite) gradient, or one whose nonzero gradient the step did not apply."""
    from mmdet.registry import MODELS
    from mmengine.model import revert_sync_batchnorm

    import mmdet_scalenet  # noqa: F401 (registers ScaleNet)
    model_cfg = model_config(cfg.model, backbone_type)
    torch.manual_seed(0)
    with process_group_for(model_cfg):
        model = MODELS.build(model_cfg)
    model = revert_sync_batchnorm(model)
    model.init_weights()
    assert type(model.backbone).__name__ == backbone_type
    trainable = [(n, p) for n, p in model.backbone.named_parameters() if p.requires_grad]
    assert trainable, 'the backbone has no trainable parameter'
    gradients = {}  # name -> (finite, max |grad|), recorded as backward reaches each parameter (the step clears them)
    hooks = [p.register_post_accumulate_grad_hook(functools.partial(_record_gradient, gradients, n))
             for n, p in trainable]
    batch = demo_batch(model_cfg)
    try:
        log_vars, before = optimizer_step(model, optim_wrapper_config(cfg), 'mmdet', batch['inputs'],
                                          batch['data_samples'])
    finally:
        for hook in hooks:
            hook.remove()
    loss = float(log_vars['loss'].detach() if torch.is_tensor(log_vars['loss']) else log_vars['loss'])
    assert math.isfinite(loss), f'loss is {loss}'
    missing = [n for n, _ in trainable if n not in gradients]
    assert not missing, f'backbone parameters without gradient: {missing[:5]} ({len(missing)})'
    bad = [n for n, (finite, _) in gradients.items() if not finite]
    assert not bad, f'non-finite gradients: {bad[:5]}'
    assert any(largest > 0 for _, largest in gradients.values()), 'every backbone gradient is zero'
    unchanged = [n for n, p in trainable if torch.equal(p.detach(), before['backbone.' + n])
                 and gradients[n][1] > NEGLIGIBLE_GRADIENT * max(1.0, float(before['backbone.' + n].abs().max()))]
    assert not unchanged, f'the optimizer step left parameters with a gradient unchanged: {unchanged[:5]}'
    broken = [n for n, p in trainable if not torch.isfinite(p).all()]
    assert not broken, f'non-finite parameters after the step: {broken[:5]}'


def classify(exc):
    """Why an original cannot train here, or ``None`` where the failure has no known environmental reason."""
    first = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
    low = f'{type(exc).__name__}: {exc}'.lower()
    if isinstance(exc, ImportError) or 'pip install' in low or 'is not installed' in low:
        # ImportError, or mmdet's own checks: "Please run "pip install sklearn"...", "skimage is not installed"
        return f'optional package missing ({getattr(exc, "name", None) or first})'
    if any(w in low for w in ('for device cpu not found', 'not implemented on cpu', 'compiled without cuda',
                              'only supports cuda', 'no cuda gpus', 'found no nvidia driver', 'torch.cuda')):
        # mmcv ops without a CPU kernel (CARAFE, deformable RoI pooling...) say "...: implementation for device
        # cpu not found."
        return 'CUDA-only op: ' + first
    if any(w in low for w in ('urlopen', 'connection', 'resolve', 'huggingface', 'download', 'offline',
                              'max retries', 'name or service not known', 'network')):
        return 'needs a download: ' + first
    return None


def attempt(cfg, backbone_type, name=''):
    start, cpu = time.perf_counter(), time.process_time()
    try:
        train_step(cfg, backbone_type)
        error = None
    except Exception as e:  # noqa: BLE001 (every failure is recorded and judged below)
        error = e
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    if PROGRESS:
        print(f'  {backbone_type:8} {seconds:6.1f}s (cpu {cpu:6.1f}s) {"ok" if error is None else "FAIL"} {name}'
              + ('' if error is None else f': {_short(error)}'), file=sys.stderr, flush=True)
    return error, seconds


def _short(exc):
    lines = traceback.format_exception_only(type(exc), exc)
    return ''.join(lines).strip().splitlines()[-1][:300]


@functools.lru_cache(maxsize=None)
def run_sweep(with_scalenet=True):
    """Run every group; returns the rows (dicts) of the tally. Cached: one sweep per process."""
    with quiet():
        return _run_sweep(with_scalenet)


def _run_sweep(with_scalenet):
    from mmengine.config import Config
    groups, load_errors = collect_groups()
    root = mmdet_config_root()
    rows = []
    for group in groups:
        row = dict(backbone=group['backbone'], features=features(group['backbone']),
                   members=[c for c, _ in group['configs']], tried=[], config=None, resnet_ok=False,
                   resnet_s=None, reason=None, scalenet_ok=None, scalenet_s=None, scalenet_error=None)
        candidates = [c for c in group['configs'] if c[1] not in NOT_IMAGE_DETECTORS][:MAX_TRIES]
        for rel, _ in candidates:
            cfg = Config.fromfile(os.path.join(root, rel), import_custom_modules=False)
            error, seconds = attempt(cfg, 'ResNet', rel)
            reason = None if error is None else (classify(error) or 'unexplained: ' + _short(error))
            row['tried'].append(dict(config=rel, seconds=round(seconds, 2), error=reason))
            if error is None:
                row.update(config=rel, resnet_ok=True, resnet_s=seconds, reason=None,
                           size=image_size(model_config(cfg.model, 'ResNet')))
                break
            row['reason'] = reason
        if not candidates:
            row['reason'] = 'no image detector in the group'
        if row['resnet_ok'] and with_scalenet:
            cfg = Config.fromfile(os.path.join(root, row['config']), import_custom_modules=False)
            error, seconds = attempt(cfg, 'ScaleNet', row['config'])
            row.update(scalenet_ok=error is None, scalenet_s=seconds,
                       scalenet_error=None if error is None else _short(error))
        rows.append(row)
    return rows, load_errors


def excluded_configs(rows, load_errors):
    """Every config the sweep leaves out, with why: configs mmengine cannot load (whatever their backbone), configs
    whose ResNet original could not train here (another member of their group may then represent it), and the
    members of groups with no image detector."""
    excluded = {rel: f'does not load (mmdet ships it broken): {error}' for rel, error in load_errors.items()}
    for row in rows:
        for t in row['tried']:
            if t['error']:
                excluded[t['config']] = f"ResNet original cannot train here: {t['error']}"
        if row['reason'] == 'no image detector in the group':
            excluded.update({rel: 'not an image detector (video)' for rel in row['members']})
    return dict(sorted(excluded.items()))


def tally(rows, load_errors, with_scalenet=True):
    lines = []
    head = f"{'#':>2}  {'config (representative)':58} {'n':>3}  {'ResNet':>9}  {'ScaleNet':>9}  backbone"
    lines += [head, '-' * len(head)]
    for i, row in enumerate(rows, 1):
        resnet = f"ok {row['resnet_s']:5.1f}s" if row['resnet_ok'] else 'n/a'
        if not row['resnet_ok']:
            scalenet = '-'
        elif row['scalenet_ok'] is None:
            scalenet = 'not run'
        else:
            scalenet = ('ok ' if row['scalenet_ok'] else 'FAIL ') + f"{row['scalenet_s']:5.1f}s"
        config = row['config'] or row['members'][0]
        if row.get('size', IMAGE_SIZE) != IMAGE_SIZE:
            config += f" @{row['size']}px"
        lines.append(f"{i:>2}  {config:58} {len(row['members']):>3}  {resnet:>9}  {scalenet:>9}  {row['features']}")
    counted = [r for r in rows if r['resnet_ok']]
    lines.append('')
    excluded = excluded_configs(rows, load_errors)
    lines.append(f'{len(excluded)} configs left out:')
    lines += [f'  {rel}: {why}' for rel, why in excluded.items()]
    for row in rows:
        if row['scalenet_ok'] is False:
            lines.append(f"ScaleNet FAILS: {row['config']}: {row['scalenet_error']}")
    total = sum(t['seconds'] for r in rows for t in r['tried']) + sum(r['scalenet_s'] or 0 for r in rows)
    if with_scalenet:
        ok = sum(bool(r['scalenet_ok']) for r in counted)
        lines.append(f'ScaleNet trains in {ok} of {len(counted)} distinct ResNet-50 backbone variants where the '
                     f'original does ({len(rows)} variants in all; {len(rows) - len(counted)} cannot train here); '
                     f'{total:.0f}s of steps')
    else:
        lines.append(f'ResNet original trains in {len(counted)} of {len(rows)} distinct ResNet-50 backbone '
                     f'variants; {total:.0f}s of steps')
    return '\n'.join(lines)


def check_tally(rows, load_errors, mmdet_version):
    """The sweep's assertions: the pinned tally of ``mmdet_version``, no unexplained failure of an original, and
    ScaleNet training wherever the original does."""
    pinned = PINNED.get(mmdet_version)
    assert pinned is not None, (f'no tally pinned for mmdet {mmdet_version} (pinned: {", ".join(PINNED)}): run '
                                'python -m tests.detection.test_mmdet_sweep and pin what it finds in PINNED')
    unexplained = [t for r in rows for t in r['tried'] if t['error'] and t['error'].startswith('unexplained')]
    assert not unexplained, f'the ResNet original fails for no known reason (a bug of this sweep?): {unexplained}'
    assert len(rows) == pinned['groups'], \
        f'{len(rows)} distinct ResNet-50 backbones in {mmdet_config_root()}, pinned {pinned["groups"]}'
    trained = sum(r['resnet_ok'] for r in rows)
    assert trained == pinned['trained'], f'the ResNet original trains in {trained} groups, pinned {pinned["trained"]}'
    excluded = excluded_configs(rows, load_errors)
    new = {rel: why for rel, why in excluded.items() if rel not in pinned['excluded']}
    gone = sorted(set(pinned['excluded']) - set(excluded))
    assert not new and not gone, f'configs left out: new {new}, no longer left out {gone}'
    moved = {rel: why for rel, why in excluded.items() if not why.startswith(pinned['excluded'][rel])}
    assert not moved, f'configs left out for another reason than pinned: {moved}'
    failed = {r['config']: r['scalenet_error'] for r in rows if r['resnet_ok'] and not r['scalenet_ok']}
    assert not failed, f'ScaleNet fails where the ResNet original trains: {failed}'


@pytest.mark.slow
def test_scalenet_trains_wherever_resnet_does(capsys):
    import mmdet
    rows, load_errors = run_sweep()
    with capsys.disabled():
        print('\n' + tally(rows, load_errors))
    check_tally(rows, load_errors, mmdet.__version__)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--resnet-only', action='store_true', help='run the ResNet originals only')
    parser.add_argument('--json', help='also write the rows to this file')
    args = parser.parse_args(argv)
    global PROGRESS
    PROGRESS = True
    start = time.perf_counter()
    groups, _ = collect_groups()
    print(f'{len(groups)} distinct ResNet-50 backbone dicts (configs walked in {time.perf_counter() - start:.0f}s)',
          flush=True)
    rows, load_errors = run_sweep(with_scalenet=not args.resnet_only)
    print(tally(rows, load_errors, with_scalenet=not args.resnet_only))
    print(f'wall time {time.perf_counter() - start:.0f}s')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(rows=rows, load_errors=load_errors), f, indent=1, default=str)
    return 0


if __name__ == '__main__':
    sys.exit(main())
