"""CompileHook's arguments are checked when the config builds it, with the argument and the value named (the
compiled runs through the tools: tests/detection/test_compile_hook.py)."""
import pytest

from mmdet_scalenet.engine import CompileHook


@pytest.mark.parametrize('modules', ['backbone', (), ('backbone', ''), ('backbone', 3), None])
def test_modules_must_be_a_non_empty_list_of_names(modules):
    with pytest.raises(TypeError, match=r'CompileHook: modules must be a non-empty list of submodule names.*got '
                       + repr(modules).replace('(', r'\(').replace(')', r'\)')):
        CompileHook(modules=modules)


def test_mode_and_options_are_exclusive():
    with pytest.raises(ValueError, match='give mode or options, not both'):
        CompileHook(mode='max-autotune', options={'triton.cudagraphs': True})


def test_the_arguments_reach_torch_compile():
    hook = CompileHook(modules=['backbone', 'neck'], mode='reduce-overhead', dynamic=False, fullgraph=True)
    assert hook.modules == ('backbone', 'neck')
    assert hook.kwargs == dict(mode='reduce-overhead', dynamic=False, fullgraph=True, backend='inductor',
                               options=None)
