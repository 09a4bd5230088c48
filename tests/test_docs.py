"""Every repository path that README.md and docs/*.md name exists, every relative link resolves (to a heading too,
where it names one), and every dotted Python name of the two packages imports. Conversely, docs/code_map.md names
every module of the two packages and every tool, and docs/tools.md every tool and every flag a tool defines.

What is checked, in each page:

* **Link targets**: every Markdown link or image ``[text](target)`` whose target is not a URL, resolved from the
  page's folder; a ``#fragment`` must be the GitHub anchor of a heading of the target page.
* **Path tokens**: every run of path characters that starts with one of the repository's top-level folders
  (:data:`TOP_LEVEL`), e.g. ``tools/test.py``, ``configs/mmseg/``, ``tests/lab/test_plot.py``, wherever it stands
  (prose, code spans, command lines), resolved from the repository root. Shorthands are expanded: ``{a,b}``
  gives one path per alternative, and ``*``, an elision ``...`` or an all-capitals placeholder component
  (``tools/X.py``) must match at least one existing file.
* **Dotted names** starting with ``mmdet_scalenet.`` or ``scalenet_lab.`` (``mmdet_scalenet.deploy.fuse_model``):
  the longest module prefix imports and the rest are attributes of it.

Skipped, and why:

* URLs (``https://...``, ``mailto:``): other sites; a path inside a URL does not start a token.
* Other repositories' files: written with the repository's name first (``mmsegmentation/tools/...``) or as a
  config-scope reference (``mmdet::dcn/...``); a top-level name that follows ``/``, ``:``, ``.`` or a word
  character does not start a token.
* What users or the tools create: ``work_dirs/``, ``data/``, ``checkpoints/``, ``.venv/`` and output files named
  in examples (``my_structure.json``, ``scalenet50.onnx``): none of them starts with a top-level folder of
  :data:`TOP_LEVEL`, so they are never checked.
* Top-level files (``setup.py``, ``README.md``) as bare words: only checked when linked.
"""
import importlib
import importlib.util
import re
from pathlib import Path
from typing import Iterator, List

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / 'README.md', *sorted((ROOT / 'docs').glob('*.md'))]

#: The repository's top-level folders whose files the pages may name; user-created folders are not among them.
TOP_LEVEL = ('.ci', 'configs', 'docs', 'mmdet_scalenet', 'scalenet_lab', 'tests', 'tools')

_PATH_TOKEN = re.compile(r'(?<![\w./:~$-])((?:' + '|'.join(re.escape(d) for d in TOP_LEVEL) +
                         r')(?:/[\w.{},*-]*)+)')
_LINK = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)\)')
_DOTTED = re.compile(r'(?<![\w.])((?:mmdet_scalenet|scalenet_lab)(?:\.[A-Za-z_]\w*)+)')
_FENCE = re.compile(r'^```.*?^```', re.S | re.M)
_PLACEHOLDER = re.compile(r'^[A-Z][A-Z0-9_]*(\.\w+)?$')


def expand_braces(token: str) -> List[str]:
    """``a{b,c}d`` -> ``['abd', 'acd']``, every brace group in turn."""
    match = re.search(r'\{([^{}]*)\}', token)
    if not match:
        return [token]
    return [expanded for option in match.group(1).split(',')
            for expanded in expand_braces(token[:match.start()] + option + token[match.end():])]


def path_exists(path: str, base: Path) -> bool:
    """Whether ``path`` (relative to ``base``; shorthands as in the module docstring) names an existing file or
    folder."""
    parts = [('*' if _PLACEHOLDER.match(part) else part) for part in path.replace('...', '*').split('/')]
    pattern = '/'.join(parts).rstrip('/')
    if '*' in pattern:
        return any(base.glob(pattern))
    return (base / pattern).exists()


def heading_anchors(page: Path) -> set:
    """The GitHub anchors of a page's headings (fenced code blocks left out): lower case, punctuation dropped,
    spaces to hyphens; a repeated heading also gets ``-1``, ``-2``..."""
    anchors, seen = set(), {}
    for line in _FENCE.sub('', page.read_text(encoding='utf-8')).splitlines():
        match = re.match(r'#{1,6}\s+(.*?)\s*#*\s*$', line)
        if match:
            slug = re.sub(r'[^\w\- ]', '', match.group(1).lower()).replace(' ', '-')
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            anchors.add(slug if count == 0 else f'{slug}-{count}')
    return anchors


def missing_paths(text: str, page: Path) -> List[str]:
    """The link targets and path tokens of ``text`` (the contents of ``page``) that do not exist."""
    missing = []
    for target in _LINK.findall(text):
        if re.match(r'[a-z][a-z0-9+.-]*:', target):  # https:, mailto:
            continue
        path, _, fragment = target.partition('#')
        destination = (page.parent / path).resolve() if path else page
        if not destination.exists():
            missing.append(target)
        elif fragment and destination.suffix == '.md' and fragment not in heading_anchors(destination):
            missing.append(target)
    for token in _PATH_TOKEN.findall(text):
        if not token.endswith('...'):  # an elision stays; a sentence's full stop or comma goes
            token = token.rstrip('.,')
        missing.extend(path for path in expand_braces(token) if not path_exists(path, ROOT))
    return sorted(set(missing))


def _resolves(name: str) -> bool:
    parts = name.split('.')
    for end in range(len(parts), 0, -1):
        module_name = '.'.join(parts[:end])
        try:
            spec = importlib.util.find_spec(module_name)
        except ModuleNotFoundError:  # a parent is a module, not a package
            continue
        if spec is None:
            continue
        obj = importlib.import_module(module_name)  # a module that exists must import
        for attribute in parts[end:]:
            if not hasattr(obj, attribute):
                return False
            obj = getattr(obj, attribute)
        return True
    return False


def unresolved_names(text: str) -> Iterator[str]:
    """The dotted ``mmdet_scalenet.*`` / ``scalenet_lab.*`` names of ``text`` that do not import."""
    return (name for name in sorted(set(_DOTTED.findall(text))) if not _resolves(name))


def _page_id(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


@pytest.mark.parametrize('page', PAGES, ids=_page_id)
def test_every_path_a_page_names_exists(page):
    missing = missing_paths(page.read_text(encoding='utf-8'), page)
    assert not missing, f'{_page_id(page)} names paths or links that do not exist: {missing}'


@pytest.mark.parametrize('page', PAGES, ids=_page_id)
def test_every_python_name_a_page_gives_imports(page):
    unresolved = list(unresolved_names(page.read_text(encoding='utf-8')))
    assert not unresolved, f'{_page_id(page)} names Python objects that do not exist: {unresolved}'


def test_the_checks_catch_made_up_paths_and_names_and_skip_what_users_create():
    page = ROOT / 'docs' / 'made_up_page.md'  # links resolve from docs/
    text = '\n'.join([
        'Run `python tools/no_such_tool.py`, see [the page](no_such_page.md) and [a section](tools.md#no-such-one),',
        'configs/faster-rcnn_{scalenet50,scalenet77}_fpn_8xb2-10e_coco-800x1200.py and tests/no_such_*.py.',
        'Skipped: work_dirs/x/epoch_1.pth, data/coco/, checkpoints/scalenet50.pth, my_structure.json,',
        'https://github.com/open-mmlab/mmdetection/blob/main/tools/train.py, mmsegmentation/tools/x.py,',
        "'mmdet::dcn/faster-rcnn_r50-dconv-c3-c5_fpn_1x_coco.py', [tools](tools.md#toolsdemopy), tools/X.py.",
    ])
    assert missing_paths(text, page) == [
        'configs/faster-rcnn_scalenet77_fpn_8xb2-10e_coco-800x1200.py', 'no_such_page.md', 'tests/no_such_*.py',
        'tools.md#no-such-one', 'tools/no_such_tool.py'
    ]
    assert list(unresolved_names('`mmdet_scalenet.deploy.fuse_model` and `mmdet_scalenet.no_such_module.f`, '
                                 'scalenet_lab.datasets.no_such_function')) == [
        'mmdet_scalenet.no_such_module.f', 'scalenet_lab.datasets.no_such_function'
    ]


def _modules_and_tools() -> List[str]:
    modules = [path for package in ('mmdet_scalenet', 'scalenet_lab') for path in (ROOT / package).rglob('*.py')
               if path.name != '__init__.py']
    tools = [path for path in (ROOT / 'tools').iterdir() if path.suffix in ('.py', '.sh')]
    return sorted(path.relative_to(ROOT).as_posix() for path in modules + tools)


def test_the_code_map_names_every_module_and_tool():
    """A module counts as named when its path is, or its folder's path and its file name are
    (``scalenet_lab/benchmark/`` ... ``timing.py``)."""
    text = (ROOT / 'docs' / 'code_map.md').read_text(encoding='utf-8')
    unnamed = [path for path in _modules_and_tools()
               if path not in text and not (path.rsplit('/', 1)[0] + '/' in text and path.rsplit('/', 1)[1] in text)]
    assert not unnamed, f'docs/code_map.md does not name {unnamed}: add a line for each'


def test_the_tools_page_names_every_tool_and_flag():
    text = (ROOT / 'docs' / 'tools.md').read_text(encoding='utf-8')
    unnamed = []
    for path in _modules_and_tools():
        if path.startswith('tools/'):
            if path not in text:
                unnamed.append(path)
            flags = re.findall(r"add_argument\(\s*'(--[\w-]+)'", (ROOT / path).read_text(encoding='utf-8'))
            unnamed += [f'{path} {flag}' for flag in flags if not re.search(rf'(?<![\w-]){flag}(?![\w-])', text)]
    assert not unnamed, f'docs/tools.md does not name {unnamed}'


def test_the_readme_is_a_model_card():
    """mmdet's projects/ shape, under 220 lines, with the test command CI runs (.ci/run runs the README's)."""
    text = (ROOT / 'README.md').read_text(encoding='utf-8')
    sections = re.findall(r'^## (.+)$', _FENCE.sub('', text), re.M)
    assert [s for s in sections if s in ('Description', 'Installation', 'Usage', 'Results', 'Citation')] == [
        'Description', 'Installation', 'Usage', 'Results', 'Citation'
    ], sections
    assert len(text.splitlines()) < 220
    assert re.search(r'^bash tools/run_tests\.sh\b', text, re.M)
    assert 'bash tools/run_tests.sh' in (ROOT / '.ci' / 'run').read_text(encoding='utf-8')


def test_the_pages_are_found():
    names = {_page_id(page) for page in PAGES}
    assert {'README.md', 'docs/resnet_arguments.md', 'docs/tools.md', 'docs/code_map.md'} <= names
