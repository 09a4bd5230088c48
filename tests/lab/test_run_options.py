"""tools/test.py --out: the predictions are dumped to a temporary file beside the target and renamed into place when
the test has finished, so an interrupted test leaves the previous file and no temporary."""
import os
from types import SimpleNamespace

import pytest

from scalenet_lab import run_options


class FakeRunner:
    """Stands for mmengine's Runner: its test writes the dump file of the last metric, then maybe fails."""

    def __init__(self, fail):
        self.test_evaluator = SimpleNamespace(metrics=[])
        self.fail = fail

    def test(self):
        dumper = self.test_evaluator.metrics[-1]
        with open(dumper.out_file_path, 'wb') as f:
            f.write(b'new predictions')
        if self.fail:
            raise KeyboardInterrupt
        return {'accuracy/top1': 1.0}


@pytest.mark.parametrize('fail', [False, True])
def test_the_dump_is_renamed_into_place_when_the_test_has_finished(tmp_path, monkeypatch, fail):
    out = tmp_path / 'predictions.pkl'
    out.write_bytes(b'old predictions')
    runner = FakeRunner(fail)
    monkeypatch.setattr(run_options, 'build_runner', lambda cfg: runner)
    if fail:
        with pytest.raises(KeyboardInterrupt):
            run_options.run_test(None, 'mmpretrain', str(out))
    else:
        assert run_options.run_test(None, 'mmpretrain', str(out)) == {'accuracy/top1': 1.0}
    dumped = runner.test_evaluator.metrics[-1].out_file_path
    assert os.path.dirname(dumped) == str(tmp_path) and os.path.basename(dumped).startswith('.predictions.pkl.tmp-')
    assert out.read_bytes() == (b'old predictions' if fail else b'new predictions')
    assert os.listdir(tmp_path) == ['predictions.pkl']
