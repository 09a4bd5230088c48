"""The allocation study on tiny settings: every training through mmengine's Runner, the report and its pictures,
the per-run cache (a re-run trains nothing), and a work directory made with other settings refused."""
import json
import os

import pytest

from mmdet_scalenet.costs import structure_macs
from scalenet_lab.allocation_study import (
    REGIMES,
    VARIANTS,
    StudySettings,
    coarse_share,
    result_to_json,
    run_study,
    scale_shares,
    write_report,
)

from ..common import quiet

pytestmark = pytest.mark.slow


def _settings(work_dir, **changes):
    values = dict(work_dir=str(work_dir), image_size=32, num_train=8, num_val=4, seeds=(0, 1), seed_epochs=2,
                  epochs=1, batch_size=4)
    values.update(changes)
    return StudySettings(**values)


@pytest.fixture(scope='module')
def study(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('study')
    lines = []
    with quiet():
        result = run_study(_settings(work_dir), log=lines.append)
    return work_dir, result, lines


def test_every_network_is_trained_on_every_regime_with_every_seed(study):
    work_dir, result, lines = study
    assert sum(line.startswith('[study] training') for line in lines) == len(REGIMES) * (1 + len(VARIANTS) * 2)
    assert sorted((r.regime, r.variant, r.seed) for r in result.runs) == sorted(
        (regime, variant, seed) for regime in REGIMES for variant in VARIANTS for seed in (0, 1))
    for run in result.runs:
        assert 0.0 <= run.top1 <= 100.0 and run.seconds > 0
    # seed networks keep one checkpoint per epoch: the gamma history has one entry per epoch
    assert [len(result.gamma_history[r]) for r in REGIMES] == [2, 2]
    assert result.train_seconds >= sum(run.seconds for run in result.runs)


def test_allocations_and_uniform_have_the_budget(study):
    _, result, _ = study
    budget = result.settings.budget()
    for name in (*REGIMES, 'uniform'):
        assert structure_macs(result.structures[name]) / 1e9 == pytest.approx(budget, rel=0.01), name
        for shares in scale_shares(result.structures[name]):
            assert sum(shares) == pytest.approx(1.0)
    uniform = result.structures['uniform']
    for stage in range(4):
        assert coarse_share(uniform, stage) == pytest.approx(0.5, abs=0.02)
    gmacs = {(r.variant, r.regime): r.gmacs for r in result.runs}
    assert gmacs[('ResNet-50', 'small')] > 4.0 > gmacs[('scalenet50_light', 'small')]


def test_report_pictures_and_json(study, tmp_path):
    _, result, _ = study
    report = tmp_path / 'docs' / 'allocation_study.md'
    report.parent.mkdir()
    write_report(result, str(report), str(tmp_path / 'docs' / 'images'))
    text = report.read_text()
    for name in ('gammas', 'structures', 'accuracy'):
        picture = tmp_path / 'docs' / 'images' / f'allocation_study_{name}.png'
        assert picture.read_bytes()[:4] == b'\x89PNG'
        assert f'](images/allocation_study_{name}.png)' in text
    table_rows = [line for line in text.splitlines() if line.startswith(('| small |', '| large |'))]
    assert len(table_rows) == 2 * 4 + 2 * len(VARIANTS)  # zero-gamma rows per stage, then the retraining table
    assert json.loads(json.dumps(result_to_json(result)))['runs'][0]['name'] == result.runs[0].name


def test_a_rerun_comes_from_the_cache(study):
    work_dir, first, _ = study
    lines = []
    with quiet():
        again = run_study(_settings(work_dir), log=lines.append)
    assert not any(line.startswith('[study] training') for line in lines)
    assert [r.top1 for r in again.runs] == [r.top1 for r in first.runs]
    assert again.train_seconds == pytest.approx(first.train_seconds)


def test_a_work_dir_of_other_settings_is_refused(study):
    work_dir, _, _ = study
    with pytest.raises(ValueError, match=r'other settings \(epochs: 1 there, 2 asked\)'):
        run_study(_settings(work_dir, epochs=2))
    assert os.path.isfile(os.path.join(work_dir, 'settings.json'))


def test_the_tool_redraws_the_report_from_the_cache(study, tmp_path, load_tool, capsys):
    work_dir, _, _ = study
    tool = load_tool('allocation_study')
    report = tmp_path / 'study.md'
    argv = ['--work-dir', str(work_dir), '--report', str(report), '--image-size', '32', '--num-train', '8',
            '--num-val', '4', '--seeds', '0', '1', '--seed-epochs', '2', '--epochs', '1', '--batch-size', '4']
    assert tool.main(argv) == 0
    assert '[study] training' not in capsys.readouterr().out
    assert (tmp_path / 'images' / 'allocation_study_accuracy.png').is_file()
    saved = json.loads((work_dir / 'study.json').read_text())
    assert len(saved['runs']) == 2 * len(VARIANTS) * 2
    with pytest.raises(SystemExit):
        tool.main(argv[:-2] + ['--seeds', '0', '0'])
    assert 'each seed once' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tool.main(argv + ['--sparsity', '-1'])
    assert 'argument --sparsity: expected a number >= 0, got -1' in capsys.readouterr().err
