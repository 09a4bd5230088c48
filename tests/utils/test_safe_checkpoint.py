"""mmengine checkpoints load with weights_only=True; nothing beyond their needs is allowed."""
import io
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer

import mmdet_scalenet  # noqa: F401  (registers the allow-list)
from mmdet_scalenet.utils.safe_checkpoint import restricted_getattr


def roundtrip(obj):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def test_message_hub_contents_load():
    history = HistoryBuffer()
    for value in (1.0, 3.0):
        history.update(value)
    loaded = roundtrip({'log_scalars': {'loss': history},
                        'runtime_info': {'a': np.arange(3), 'x': np.float64(1.5), 'dtype': np.dtype('float32'),
                                         'cls': np.dtypes.Float32DType}})
    assert loaded['log_scalars']['loss'].mean() == 2.0
    assert loaded['log_scalars']['loss'].current() == 3.0
    assert loaded['runtime_info']['a'].tolist() == [0, 1, 2]
    assert loaded['runtime_info']['cls'] is np.dtypes.Float32DType


class GetattrPayload:
    """Pickles as getattr(HistoryBuffer, 'update'): a lookup mmengine checkpoints never make."""

    def __reduce__(self):
        return (getattr, (HistoryBuffer, 'update'))


def test_other_getattr_lookups_are_refused():
    with pytest.raises((pickle.UnpicklingError, AttributeError), match='refused by safe loading'):
        roundtrip({'x': GetattrPayload()})
    with pytest.raises(AttributeError, match='refused'):
        restricted_getattr(np, 'load')
    assert restricted_getattr(HistoryBuffer, 'max') is HistoryBuffer.max


def test_arbitrary_globals_are_still_refused():
    class Code:
        def __reduce__(self):
            return (print, ('never',))
    with pytest.raises(pickle.UnpicklingError):
        roundtrip(Code())
