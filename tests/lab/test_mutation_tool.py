"""tools/mutation_test.py: its mutants, applying and reverting one, and a whole run on a tiny project (seconds)."""
import json

import pytest

SOURCE = '''"""A module."""


def add(a, b):
    """Docstrings are not mutated."""
    return a + b


def is_big(x):
    if x is None:
        raise ValueError(f'{x + 1} is not a number')  # error messages are not mutated
    return x > 10
'''
TEST = '''from pkg.mod import add, is_big


def test_add():
    assert add(2, 3) == 5


def test_is_big():
    assert is_big(20)
    assert not is_big(1)
'''


@pytest.fixture(scope='module')
def tool(load_tool):
    return load_tool('mutation_test')


def test_operators_find_the_planted_kinds_of_bug(tool):
    mutants = tool.enumerate_mutants('pkg/mod.py', SOURCE)
    found = {(m.function, m.original, m.replacement) for m in mutants}
    assert ('add', 'a + b', '(a - b)') in found
    assert ('add', 'a + b', '(a)') in found  # the dropped `+ eps`
    assert ('add', 'a + b', '(b)') not in found
    assert {('is_big', 'x > 10', '(x <= 10)'), ('is_big', 'x > 10', '(x >= 10)'), ('is_big', '10', '(11)')} <= found
    assert ('is_big', 'x is None', '(x is not None)') in found
    assert not any('+ 1' in m.original or 'number' in m.original for m in mutants)  # inside the raise
    assert [m.start for m in mutants] == sorted(m.start for m in mutants)
    # the sample is deterministic, capped, and spread over the modules
    per_module = {path: tool.enumerate_mutants(path, SOURCE) for path in ('a.py', 'b.py')}
    drawn = tool.sample(per_module, 4, seed=0)
    assert drawn == tool.sample(per_module, 4, seed=0) and len(drawn) == 4
    assert [m.path for m in drawn].count('a.py') == 2


def test_a_mutant_is_applied_to_the_copy_and_reverted(tool, tmp_path):
    (tmp_path / 'pkg').mkdir()
    path = tmp_path / 'pkg' / 'mod.py'
    path.write_text(SOURCE)
    mutant = next(m for m in tool.enumerate_mutants('pkg/mod.py', SOURCE) if m.replacement == '(a)')
    original = tool.apply_mutant(str(tmp_path), mutant)
    assert original == SOURCE.encode()
    assert '    return (a)\n' in path.read_text() and path.read_text().count('\n') == SOURCE.count('\n')
    with pytest.raises(RuntimeError, match='the source changed since the mutants were listed'):
        tool.apply_mutant(str(tmp_path), mutant)  # the span no longer holds the original text
    tool.restore(str(tmp_path), mutant, original)
    assert path.read_bytes() == SOURCE.encode()


def test_a_run_kills_what_the_tests_catch_and_lists_the_survivors(tool, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv('PYTEST_DISABLE_PLUGIN_AUTOLOAD', '1')  # the tiny project needs no plugin: 5x faster runs
    project = tmp_path / 'project'
    (project / 'pkg').mkdir(parents=True)
    (project / 'tests').mkdir()
    (project / 'pkg' / '__init__.py').write_text('')
    (project / 'pkg' / 'mod.py').write_text(SOURCE)
    (project / 'tests' / 'test_mod.py').write_text(TEST)
    before = {p: p.read_bytes() for p in project.rglob('*') if p.is_file()}
    out = tmp_path / 'results.json'
    assert tool.main(['--root', str(project), '--target', 'pkg/mod.py=tests/test_mod.py', '--json', str(out)]) == 0
    results = json.loads(out.read_text())['results']
    status = {(r['function'], r['replacement']): r['status'] for r in results}
    killed = [('add', '(a - b)'), ('add', '(a)'), ('is_big', '(x is not None)'), ('is_big', '(x <= 10)')]
    assert all(status[key] == 'killed' for key in killed)
    # x >= 10 and 11 differ from the code only at x = 10 and 11, which no test tries
    assert [key for key, s in status.items() if s == 'SURVIVED'] == [('is_big', '(x >= 10)'), ('is_big', '(11)')]
    printed = capsys.readouterr().out
    assert 'survival rate: 2 of 6 mutants survived (33%)' in printed
    line = SOURCE.splitlines().index('    return x > 10') + 1
    assert f"pkg/mod.py:{line} is_big: boundary >: 'x > 10' -> '(x >= 10)'" in printed
    after = {p: p.read_bytes() for p in project.rglob('*') if p.is_file()}
    assert after == before  # the project itself is never mutated


def test_bad_options_are_named(tool, tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        tool.main(['--max-mutants', '0'])
    assert exited.value.code == 2
    assert 'argument --max-mutants: expected an integer >= 1, got 0' in capsys.readouterr().err
    with pytest.raises(SystemExit, match=r'not found under .*: pkg/nope.py'):
        tool.main(['--root', str(tmp_path), '--target', 'pkg/nope.py=tests/test_nope.py'])
    with pytest.raises(SystemExit, match=r"--target 'pkg/mod.py': expected MODULE=TEST"):
        tool.main(['--root', str(tmp_path), '--target', 'pkg/mod.py'])
