"""ScaleNet structures: how many neurons each scale-aggregation block gives each scale.

A *structure* is the output of the paper's data-driven neuron allocation (Li et al., CVPR 2019, Sec. 3.2): for
every bottleneck block, the number of output channels of the branch convolution at each downsampling factor. Everything
else about the network (stages, widths, sides, kernels) is fixed by :mod:`mmdet_scalenet.geometry`.

Two file formats are read:

* our schema, a JSON object grouped by stage (what ships with this package and what :func:`save_structure`
  writes by default)::

      {"format": "mmdet-scalenet/structure", "version": 1, "name": "scalenet50", "depth": 50,
       "scale_factors": [1, 2, 4, 7],
       "stages": [{"side": 56, "blocks": [[62, 9, 5, 12], ...]}, ...]}

* the authors' row layout, a JSON list with one ``[c1, c2, c4, c7, side]`` row per block in network order, where
  ``side`` is the block's feature-map side at 224x224 (checked against the stage's, and written back on saving).

Both are read strictly, and every refusal is a :class:`StructureError` that names the file, the row (0-based, in
network order) and the field: UTF-8 JSON only (no ``NaN``, no key twice in one object), at most
:data:`MAX_FILE_BYTES` and :data:`MAX_NESTING` levels deep; no key outside the schema (``version`` and ``name``
may be left out); integers where integers belong (``50.0`` and ``true`` are not); at most
:data:`MAX_SCALE_FACTORS` distinct factors up to :data:`MAX_SCALE_FACTOR`, and at most
:func:`max_branch_channels` channels in a branch.

This module imports no torch, so structures can be checked and written anywhere; of the package it imports the
geometry (and a file helper) only, and the costs of a structure (:mod:`mmdet_scalenet.costs`) build on it.
"""
import difflib
import json
import os
import re
import sys
from dataclasses import dataclass
from importlib import resources
from typing import List, Optional, Sequence, Tuple, Union

from .geometry import EXPANSION, SCALE_FACTORS, STAGE_BLOCKS, STAGE_PLANES, STAGE_SIDES, is_depth
from .utils.fileio import write_atomically

__all__ = [
    'BUILTIN_STRUCTURES', 'DEFAULT_STRUCTURES', 'MAX_BRANCH_WIDTH_PER_PLANE', 'MAX_FILE_BYTES', 'MAX_NESTING',
    'MAX_SCALE_FACTOR', 'MAX_SCALE_FACTORS', 'SCHEMA_FORMAT', 'SEED_STRUCTURES', 'Structure', 'StructureError',
    'load_structure', 'max_branch_channels', 'save_structure', 'seed_structure', 'structure_from_rows',
]

SCHEMA_FORMAT = 'mmdet-scalenet/structure'
SCHEMA_VERSION = 1
#: The keys of our schema's top-level object; every other key is refused (a typo must not pass unnoticed).
SCHEMA_KEYS = ('format', 'version', 'name', 'depth', 'scale_factors', 'stages')
#: Keys without which a schema file is refused (``version`` defaults to 1, ``name`` to the file's stem).
REQUIRED_KEYS = ('format', 'depth', 'scale_factors', 'stages')
#: The keys of one stage's object.
STAGE_KEYS = ('side', 'blocks')

# Bounds: a structure that passes them builds a network of a sane size, so a typo such as 10**12 channels is an
# error at load, not an out-of-memory failure later.
#: The largest structure file read: the built-in ones are about 2 KB.
MAX_FILE_BYTES = 1 << 20
#: Lists and objects nested at most this deep: our schema's object > stages > stage > blocks > row.
MAX_NESTING = 5
#: At most this many branches per block (twice the paper's four).
MAX_SCALE_FACTORS = 8
#: The largest scale factor: above the side of the largest map at 224x224 (stage 1's 56), every map of the
#: geometry the kernels and costs are defined on pools to one pixel, so a larger factor adds nothing.
MAX_SCALE_FACTOR = STAGE_SIDES[0]
#: A branch has at most ``MAX_BRANCH_WIDTH_PER_PLANE * planes`` channels: the block's own output width. The seed
#: gives every branch ``planes`` and the allocation only removes neurons from it (the released structures reach
#: 0.99 ``planes``), so this leaves hand-made structures four times that room.
MAX_BRANCH_WIDTH_PER_PLANE = EXPANSION

#: Built-in structures: name -> package data file.
BUILTIN_STRUCTURES = {
    'scalenet50': 'scalenet50.json',
    'scalenet50_light': 'scalenet50_light.json',
    'scalenet101': 'scalenet101.json',
    'scalenet152': 'scalenet152.json',
}
#: Seed networks of the neuron allocation (every block: ``planes`` neurons at each scale), built on request.
SEED_STRUCTURES = {f'scalenet{depth}_seed': depth for depth in STAGE_BLOCKS}
#: The structure a backbone of each depth uses when none is named.
DEFAULT_STRUCTURES = {50: 'scalenet50', 101: 'scalenet101', 152: 'scalenet152'}


class StructureError(ValueError):
    """A structure file or object is not valid; the message names the file, row and field."""


@dataclass(frozen=True)
class Structure:
    """A neuron allocation for every SA block of a ScaleNet.

    Attributes:
        depth: network depth (50, 101 or 152).
        blocks: one tuple of branch channel counts per block, in network order (all of stage 1, then stage 2...).
        scale_factors: the branch downsampling factors, one per entry of a block's channel tuple.
        name: a label for messages and files.
    """
    depth: int
    blocks: Tuple[Tuple[int, ...], ...]
    scale_factors: Tuple[int, ...] = SCALE_FACTORS
    name: str = 'custom'

    def __post_init__(self):
        if isinstance(self.blocks, (list, tuple)):
            blocks = tuple(tuple(row) if isinstance(row, (list, tuple)) else row for row in self.blocks)
            object.__setattr__(self, 'blocks', blocks)
        if isinstance(self.scale_factors, (list, tuple)):
            object.__setattr__(self, 'scale_factors', tuple(self.scale_factors))
        validate(self)

    @property
    def stage_blocks(self) -> Tuple[int, ...]:
        return STAGE_BLOCKS[self.depth]

    def stage(self, index: int) -> List[Tuple[int, ...]]:
        """The branch channels of every block of stage ``index`` (0-based)."""
        start = sum(self.stage_blocks[:index])
        return list(self.blocks[start:start + self.stage_blocks[index]])

    def to_rows(self) -> List[List[int]]:
        """The authors' row layout: ``[c1, c2, c4, c7, side]`` per block."""
        return [list(channels) + [STAGE_SIDES[stage]]
                for stage in range(len(self.stage_blocks)) for channels in self.stage(stage)]

    def to_dict(self) -> dict:
        """Our schema (see the module docstring)."""
        return {
            'format': SCHEMA_FORMAT,
            'version': SCHEMA_VERSION,
            'name': self.name,
            'depth': self.depth,
            'scale_factors': list(self.scale_factors),
            'stages': [{'side': STAGE_SIDES[index], 'blocks': [list(channels) for channels in self.stage(index)]}
                       for index in range(len(self.stage_blocks))],
        }


def max_branch_channels(stage: int) -> int:
    """The most channels one branch of a block of ``stage`` (0-based) may have (see
    :data:`MAX_BRANCH_WIDTH_PER_PLANE`)."""
    return MAX_BRANCH_WIDTH_PER_PLANE * STAGE_PLANES[stage]


def _fail(source: str, where: str, message: str):
    raise StructureError(f'{source}: {where}: {message}')


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _show(value) -> str:
    """``repr(value)`` for a message, cut to 60 characters (a file can hold a long list where a number belongs)."""
    try:
        text = repr(value)
    except ValueError:  # an int beyond Python's 4300-digit conversion limit
        return f'an integer of {value.bit_length()} bits'
    return text if len(text) <= 60 else text[:56] + ' ...'


def _quote(key: str) -> str:
    """A key as JSON writes it, cut to 60 characters, for messages."""
    text = json.dumps(key, ensure_ascii=False)
    return text if len(text) <= 60 else text[:56] + ' ...'


def _type(value) -> str:
    """The JSON name of ``value``'s type, for messages."""
    names = {bool: 'a boolean', int: 'an integer', float: 'a number with a fraction', str: 'a string',
             list: 'a list', tuple: 'a list', dict: 'an object', type(None): 'null'}
    return names.get(type(value), type(value).__name__)


def validate(structure: Structure, source: Optional[str] = None) -> None:
    """Check a :class:`Structure`; raise :class:`StructureError` naming the row and field at fault."""
    source = source or f'structure {_show(structure.name)}'
    _validate_name(source, structure.name)
    _validate_fields(source, structure.depth, structure.blocks, structure.scale_factors)


def _validate_name(source, name) -> None:
    if not isinstance(name, str) or not name:
        _fail(source, 'field "name"', f'expected a non-empty string, got {_show(name)} ({_type(name)})')


def _validate_depth(source, depth) -> None:
    if not is_depth(depth):
        _fail(source, 'field "depth"', f'expected one of {sorted(STAGE_BLOCKS)}, got {_show(depth)}')


def _check_side(source, where, stage, side) -> None:
    if not _is_int(side) or side != STAGE_SIDES[stage]:
        _fail(source, where, f'stage {stage + 1} has side {STAGE_SIDES[stage]} at 224x224, got {_show(side)}')


def _validate_fields(source, depth, blocks, factors, sides=None) -> None:
    """``sides``, one per block, where the input states them per block (the authors' rows)."""
    _validate_depth(source, depth)
    if (not isinstance(factors, (list, tuple)) or not 1 <= len(factors) <= MAX_SCALE_FACTORS
            or not all(_is_int(f) and 1 <= f <= MAX_SCALE_FACTOR for f in factors)
            or len(set(factors)) != len(factors)):
        _fail(source, 'field "scale_factors"', f'expected 1 to {MAX_SCALE_FACTORS} distinct positive integers, each '
              f'at most {MAX_SCALE_FACTOR}, got {_show(list(factors) if isinstance(factors, tuple) else factors)}')
    if not isinstance(blocks, (list, tuple)):
        _fail(source, 'field "blocks"', f'expected a list of rows, got {_type(blocks)}')
    expected_rows = sum(STAGE_BLOCKS[depth])
    if len(blocks) != expected_rows or (sides is not None and len(sides) != expected_rows):
        _fail(source, 'rows', f'depth {depth} needs {expected_rows} blocks '
              f'({"+".join(map(str, STAGE_BLOCKS[depth]))}), got {len(blocks)}')
    stage_of_row = [s for s, n in enumerate(STAGE_BLOCKS[depth]) for _ in range(n)]
    for row, channels in enumerate(blocks):
        stage = stage_of_row[row]
        if not isinstance(channels, (list, tuple)):
            _fail(source, f'row {row}', f'expected a list of channel counts, got {_type(channels)}')
        if len(channels) != len(factors):
            _fail(source, f'row {row}', f'expected {len(factors)} channel counts (one per scale factor '
                  f'{list(factors)}), got {len(channels)}')
        for factor, count in zip(factors, channels):
            if not _is_int(count) or count < 0:
                _fail(source, f'row {row}, field "channels at factor {factor}"',
                      f'expected a non-negative integer, got {_show(count)}')
            if count > max_branch_channels(stage):
                _fail(source, f'row {row}, field "channels at factor {factor}"',
                      f'expected at most {max_branch_channels(stage)} ({MAX_BRANCH_WIDTH_PER_PLANE} x the '
                      f'{STAGE_PLANES[stage]} planes of stage {stage + 1}, the block\'s output width), '
                      f'got {_show(count)}')
        if sum(channels) == 0:
            _fail(source, f'row {row}, field "channels"', 'every branch has 0 channels: a block needs at least one')
        if sides is not None:
            _check_side(source, f'row {row}, field "side"', stage, sides[row])


def structure_from_rows(rows, depth: Optional[int] = None, name: str = 'custom',
                        source: Optional[str] = None) -> Structure:
    """Build a :class:`Structure` from the authors' row layout (a list of ``[c1, c2, c4, c7, side]``).

    ``depth`` defaults to the depth whose block count equals the number of rows.
    """
    source = source or f'structure {_show(name)}'
    if not isinstance(rows, list):
        _fail(source, 'top level', f'expected a list of rows, got {_type(rows)}')
    width = len(SCALE_FACTORS) + 1
    for row, values in enumerate(rows):
        if not isinstance(values, list) or len(values) != width:
            got = len(values) if isinstance(values, list) else _type(values)
            _fail(source, f'row {row}', f'expected {width} values [c1, c2, c4, c7, side], got {got}')
    if depth is None:
        by_rows = {sum(blocks): d for d, blocks in STAGE_BLOCKS.items()}
        if len(rows) not in by_rows:
            _fail(source, 'rows', f'expected {sorted(by_rows)} rows (depth {sorted(STAGE_BLOCKS)}), '
                  f'got {len(rows)}')
        depth = by_rows[len(rows)]
    return _construct(source, [r[-1] for r in rows], depth=depth, blocks=[r[:-1] for r in rows],
                      scale_factors=SCALE_FACTORS, name=name)


def _construct(source, sides, **fields) -> Structure:
    """Validate with messages naming ``source`` (and the ``sides`` the input states per row), then build."""
    _validate_name(source, fields['name'])
    _validate_fields(source, fields['depth'], fields['blocks'], fields['scale_factors'], sides)
    return Structure(**fields)


def _check_keys(source, where, data: dict, allowed: Sequence[str], required: Sequence[str]) -> None:
    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f'did you mean "{close[0]}"? ' if close else ''
            _fail(source, f'{where}field {_quote(key)}', f'unknown key ({hint}expected one of {", ".join(allowed)})')
    for key in required:
        if key not in data:
            _fail(source, f'{where}field "{key}"', 'missing')


def _from_schema(data: dict, source: str, depth: Optional[int]) -> Structure:
    _check_keys(source, '', data, SCHEMA_KEYS, REQUIRED_KEYS)
    if data['format'] != SCHEMA_FORMAT:
        _fail(source, 'field "format"', f'expected {SCHEMA_FORMAT!r}, got {_show(data["format"])}')
    version = data.get('version', SCHEMA_VERSION)
    if not _is_int(version) or version != SCHEMA_VERSION:
        _fail(source, 'field "version"', f'expected {SCHEMA_VERSION}, got {_show(version)}')
    name = data.get('name', os.path.splitext(os.path.basename(source))[0])
    _validate_name(source, name)
    file_depth = data['depth']
    _validate_depth(source, file_depth)
    if depth is not None and file_depth != depth:
        _fail(source, 'field "depth"', f'expected {depth}, got {file_depth!r}')
    factors = data['scale_factors']
    if not isinstance(factors, list):
        _fail(source, 'field "scale_factors"', f'expected a list, got {_type(factors)}')
    stages = data['stages']
    expected = STAGE_BLOCKS[file_depth]
    if not isinstance(stages, list) or len(stages) != len(expected):
        got = len(stages) if isinstance(stages, list) else _type(stages)
        _fail(source, 'field "stages"', f'expected {len(expected)} stages, got {got}')
    blocks = []
    for index, stage in enumerate(stages):
        where = f'stage {index + 1}'
        if not isinstance(stage, dict):
            _fail(source, where, f'expected an object with "side" and "blocks", got {_type(stage)}')
        _check_keys(source, f'{where}, ', stage, STAGE_KEYS, STAGE_KEYS)
        _check_side(source, f'{where}, field "side"', index, stage['side'])
        if not isinstance(stage['blocks'], list) or len(stage['blocks']) != expected[index]:
            got = len(stage['blocks']) if isinstance(stage['blocks'], list) else _type(stage['blocks'])
            _fail(source, f'{where}, field "blocks"', f'depth {file_depth} needs {expected[index]} blocks, got {got}')
        blocks.extend(stage['blocks'])
    return _construct(source, None, depth=file_depth, blocks=blocks, scale_factors=factors, name=name)


class _NotStrictJSON(ValueError):
    """Raised while parsing for what Python's json accepts but a structure file must not hold."""


def _refuse_duplicate_keys(pairs):
    data = dict(pairs)
    if len(data) != len(pairs):
        seen = set()
        key = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise _NotStrictJSON(f'field {_quote(key)}: appears twice in one object (JSON would keep the last)')
    return data


def _refuse_constant(name):
    raise _NotStrictJSON(f'not valid JSON: {name} is not a JSON number')


# A JSON string (skipped whole, so brackets inside it do not count) or a bracket.
_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _check_nesting(text: str, path: str) -> None:
    """Refuse lists and objects nested deeper than :data:`MAX_NESTING` before parsing: Python's parser recurses
    once per level and would stop with a ``RecursionError`` on a deep enough file."""
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        token = match.group()
        if token in '[{':
            depth += 1
            if depth > MAX_NESTING:
                line = text.count('\n', 0, match.start()) + 1
                column = match.start() - text.rfind('\n', 0, match.start())
                _fail(path, f'line {line}, column {column}', f'lists and objects nested deeper than {MAX_NESTING} '
                      'levels (the most a structure file needs: an object of stages of blocks of rows)')
        elif token in ']}':
            depth -= 1


def _read_json(path: str):
    """The JSON value in ``path``, read strictly: UTF-8, at most :data:`MAX_FILE_BYTES`, nested at most
    :data:`MAX_NESTING` deep, no duplicate keys, no ``NaN`` or ``Infinity``."""
    if os.path.isdir(path):
        raise IsADirectoryError(f'{path}: is a directory, not a structure file')
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: structure file not found (built-in names: '
                                f'{", ".join(BUILTIN_STRUCTURES)})')
    with open(path, 'rb') as f:
        raw = f.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        _fail(path, 'size', f'over {MAX_FILE_BYTES} bytes; a structure file is a few kilobytes')
    try:
        text = raw.decode('utf-8-sig')  # a byte-order mark, as some editors write, is not content
    except UnicodeDecodeError as e:
        _fail(path, f'byte {e.start}', f'not UTF-8 text (byte 0x{raw[e.start]:02x}); save the file as UTF-8 JSON')
    _check_nesting(text, path)
    try:
        return json.loads(text, object_pairs_hook=_refuse_duplicate_keys, parse_constant=_refuse_constant)
    except json.JSONDecodeError as e:
        raise StructureError(f'{path}: not valid JSON: line {e.lineno}, column {e.colno}: {e.msg}') from None
    except _NotStrictJSON as e:
        raise StructureError(f'{path}: {e}') from None
    except ValueError:  # the one other error json raises: an integer beyond Python's conversion limit
        raise StructureError(f'{path}: not valid JSON for a structure: an integer of more than '
                             f'{sys.get_int_max_str_digits()} digits') from None


def seed_structure(depth: int, scale_factors: Sequence[int] = SCALE_FACTORS, name: Optional[str] = None) -> Structure:
    """The seed network of the neuron allocation (Li et al., CVPR 2019, Sec. 3.2, Algorithm 1, step 1).

    Every SA block gets ``C = planes`` neurons at each of its ``L = len(scale_factors)`` scales. It is an ordinary
    :class:`Structure`: ``ScaleNet(depth=50, structure=seed_structure(50))``, or in a config
    ``structure='scalenet50_seed'`` (the default factors ``(1, 2, 4, 7)``).

    Args:
        depth: 50, 101 or 152.
        scale_factors: the branch downsampling factors (default the paper's ``(1, 2, 4, 7)``).
        name: the structure's label; default ``scalenet{depth}_seed``.
    """
    if not is_depth(depth):
        raise ValueError(f'seed structure: depth must be one of {sorted(STAGE_BLOCKS)}, got {depth!r}')
    factors = tuple(scale_factors)
    blocks = [(planes, ) * len(factors) for planes, count in zip(STAGE_PLANES, STAGE_BLOCKS[depth])
              for _ in range(count)]
    return Structure(depth=depth, blocks=tuple(blocks), scale_factors=factors, name=name or f'scalenet{depth}_seed')


def load_structure(structure: Union[str, os.PathLike, Structure], depth: Optional[int] = None) -> Structure:
    """Load a structure by built-in name, by path (our schema or the authors' rows), or pass one through.

    Args:
        structure: a :class:`Structure`, a name from :data:`BUILTIN_STRUCTURES` or :data:`SEED_STRUCTURES`,
            or a path to a JSON file.
        depth: if given, the structure must be for this depth.
    """
    if isinstance(structure, Structure):
        if depth is not None and structure.depth != depth:
            raise StructureError(f'structure {structure.name!r}: field "depth": expected {depth}, '
                                 f'got {structure.depth}')
        return structure
    if not isinstance(structure, (str, os.PathLike)):
        raise TypeError(f'structure must be a name, a path or a Structure, got {type(structure).__name__}')
    name = os.fspath(structure)
    if name in BUILTIN_STRUCTURES:
        resource = resources.files('mmdet_scalenet') / 'structures' / BUILTIN_STRUCTURES[name]
        with resources.as_file(resource) as path:
            return load_structure(path, depth)
    if name in SEED_STRUCTURES:
        return load_structure(seed_structure(SEED_STRUCTURES[name]), depth)
    if os.sep not in name and not name.endswith('.json') and not os.path.exists(name):
        raise StructureError(f'unknown structure {name!r}: expected one of '
                             f'{", ".join([*BUILTIN_STRUCTURES, *SEED_STRUCTURES])} or a path to a .json file')
    data = _read_json(name)
    if isinstance(data, list):
        stem = os.path.splitext(os.path.basename(name))[0]
        return structure_from_rows(data, depth=depth, name=stem, source=name)
    if isinstance(data, dict):
        return _from_schema(data, name, depth)
    raise StructureError(f'{name}: top level: expected a list of rows (authors\' layout) or an object '
                         f'(format {SCHEMA_FORMAT!r}), got {_type(data)}')


def save_structure(structure: Structure, path: Union[str, os.PathLike], layout: str = 'schema',
                   overwrite: bool = False) -> None:
    """Write ``structure`` to ``path`` atomically (a failed write leaves no partial file).

    Args:
        layout: ``'schema'`` (ours, grouped by stage) or ``'authors'`` (one ``[c1, c2, c4, c7, side]`` row per block).
        overwrite: replace an existing file; otherwise an existing file is an error.
    """
    validate(structure)
    path = os.fspath(path)
    if layout == 'schema':
        data = structure.to_dict()
        stages = ',\n'.join(
            '    {"side": %d, "blocks": [\n%s\n    ]}' % (
                stage['side'], ',\n'.join('      ' + json.dumps(b) for b in stage['blocks']))
            for stage in data['stages'])
        header = ''.join(f'  {json.dumps(k)}: {json.dumps(v)},\n' for k, v in data.items() if k != 'stages')
        text = '{\n' + header + '  "stages": [\n' + stages + '\n  ]\n}\n'
    elif layout == 'authors':
        if tuple(structure.scale_factors) != SCALE_FACTORS:
            raise StructureError(f'structure {structure.name!r}: field "scale_factors": the authors\' layout '
                                 f'holds factors {list(SCALE_FACTORS)} only, got {list(structure.scale_factors)}')
        text = json.dumps(structure.to_rows()) + '\n'
    else:
        raise ValueError(f'layout must be "schema" or "authors", got {layout!r}')

    def write(tmp: str) -> None:
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(text)

    write_atomically(path, write, overwrite=overwrite, suffix='.json.tmp')

