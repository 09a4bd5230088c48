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

This module imports no torch, so structures can be checked and written anywhere.
"""
import json
import os
from dataclasses import dataclass
from importlib import resources
from typing import List, Optional, Sequence, Tuple, Union

from .geometry import SCALE_FACTORS, STAGE_BLOCKS, STAGE_PLANES, STAGE_SIDES
from .utils.fileio import write_atomically

__all__ = [
    'BUILTIN_STRUCTURES', 'DEFAULT_STRUCTURES', 'SCHEMA_FORMAT', 'SEED_STRUCTURES', 'Structure', 'StructureError',
    'load_structure', 'save_structure', 'seed_structure', 'structure_from_rows',
]

SCHEMA_FORMAT = 'mmdet-scalenet/structure'
SCHEMA_VERSION = 1

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
        blocks = tuple(tuple(channels) if isinstance(channels, (list, tuple)) else channels for channels in self.blocks)
        object.__setattr__(self, 'blocks', blocks)
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


def _fail(source: str, where: str, message: str):
    raise StructureError(f'{source}: {where}: {message}')


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate(structure: Structure, source: Optional[str] = None) -> None:
    """Check a :class:`Structure`; raise :class:`StructureError` naming the row and field at fault."""
    _validate_fields(source or f'structure {structure.name!r}', structure.depth, structure.blocks,
                     structure.scale_factors)


def _validate_fields(source, depth, blocks, factors, sides=None) -> None:
    """``sides``, one per block, where the input states them (the authors' rows, our schema per stage)."""
    if depth not in STAGE_BLOCKS:
        _fail(source, 'field "depth"', f'expected one of {sorted(STAGE_BLOCKS)}, got {depth!r}')
    if not factors or not all(_is_int(f) and f >= 1 for f in factors) or len(set(factors)) != len(factors):
        _fail(source, 'field "scale_factors"', f'expected distinct positive integers, got {list(factors)!r}')
    expected_rows = sum(STAGE_BLOCKS[depth])
    if len(blocks) != expected_rows or (sides is not None and len(sides) != expected_rows):
        _fail(source, 'rows', f'depth {depth} needs {expected_rows} blocks '
              f'({"+".join(map(str, STAGE_BLOCKS[depth]))}), got {len(blocks)}')
    stage_of_row = [s for s, n in enumerate(STAGE_BLOCKS[depth]) for _ in range(n)]
    for row, channels in enumerate(blocks):
        if not isinstance(channels, (list, tuple)):
            _fail(source, f'row {row}', f'expected a list of channel counts, got {type(channels).__name__}')
        if len(channels) != len(factors):
            _fail(source, f'row {row}', f'expected {len(factors)} channel counts (one per scale factor '
                  f'{list(factors)}), got {len(channels)}')
        for factor, count in zip(factors, channels):
            if not _is_int(count) or count < 0:
                _fail(source, f'row {row}, field "channels at factor {factor}"',
                      f'expected a non-negative integer, got {count!r}')
        if sum(channels) == 0:
            _fail(source, f'row {row}, field "channels"', 'every branch has 0 channels: a block needs at least one')
        expected_side = STAGE_SIDES[stage_of_row[row]]
        if sides is not None and sides[row] != expected_side:
            _fail(source, f'row {row}, field "side"',
                  f'stage {stage_of_row[row] + 1} has side {expected_side} at 224x224, got {sides[row]!r}')


def structure_from_rows(rows, depth: Optional[int] = None, name: str = 'custom',
                        source: Optional[str] = None) -> Structure:
    """Build a :class:`Structure` from the authors' row layout (a list of ``[c1, c2, c4, c7, side]``).

    ``depth`` defaults to the depth whose block count equals the number of rows.
    """
    source = source or f'structure {name!r}'
    if not isinstance(rows, list):
        _fail(source, 'top level', f'expected a list of rows, got {type(rows).__name__}')
    width = len(SCALE_FACTORS) + 1
    for row, values in enumerate(rows):
        if not isinstance(values, list) or len(values) != width:
            got = len(values) if isinstance(values, list) else type(values).__name__
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
    """Validate with messages naming ``source`` (and the ``sides`` the input states), then build."""
    _validate_fields(source, fields['depth'], fields['blocks'], fields['scale_factors'], sides)
    return Structure(**fields)


def _from_schema(data: dict, source: str, depth: Optional[int]) -> Structure:
    for key in ('format', 'depth', 'scale_factors', 'stages'):
        if key not in data:
            _fail(source, f'field "{key}"', 'missing')
    if data['format'] != SCHEMA_FORMAT:
        _fail(source, 'field "format"', f'expected {SCHEMA_FORMAT!r}, got {data["format"]!r}')
    if data.get('version', SCHEMA_VERSION) != SCHEMA_VERSION:
        _fail(source, 'field "version"', f'expected {SCHEMA_VERSION}, got {data["version"]!r}')
    file_depth = data['depth']
    if depth is not None and file_depth != depth:
        _fail(source, 'field "depth"', f'expected {depth}, got {file_depth!r}')
    if file_depth not in STAGE_BLOCKS:
        _fail(source, 'field "depth"', f'expected one of {sorted(STAGE_BLOCKS)}, got {file_depth!r}')
    factors = data['scale_factors']
    if not isinstance(factors, list):
        _fail(source, 'field "scale_factors"', f'expected a list, got {type(factors).__name__}')
    stages = data['stages']
    expected = STAGE_BLOCKS[file_depth]
    if not isinstance(stages, list) or len(stages) != len(expected):
        got = len(stages) if isinstance(stages, list) else type(stages).__name__
        _fail(source, 'field "stages"', f'expected {len(expected)} stages, got {got}')
    blocks, sides = [], []
    for index, stage in enumerate(stages):
        if not isinstance(stage, dict) or 'side' not in stage or 'blocks' not in stage:
            _fail(source, f'stage {index + 1}', 'expected an object with "side" and "blocks"')
        if not isinstance(stage['blocks'], list) or len(stage['blocks']) != expected[index]:
            got = len(stage['blocks']) if isinstance(stage['blocks'], list) else type(stage['blocks']).__name__
            _fail(source, f'stage {index + 1}, field "blocks"',
                  f'depth {file_depth} needs {expected[index]} blocks, got {got}')
        blocks.extend(stage['blocks'])
        sides.extend([stage['side']] * len(stage['blocks']))
    return _construct(source, sides, depth=file_depth, blocks=blocks, scale_factors=factors,
                      name=data.get('name', os.path.splitext(os.path.basename(source))[0]))


def _read_json(path: str):
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: structure file not found (built-in names: '
                                f'{", ".join(BUILTIN_STRUCTURES)})')
    with open(path, encoding='utf-8') as f:
        text = f.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise StructureError(f'{path}: not valid JSON: line {e.lineno}, column {e.colno}: {e.msg}') from None


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
    if depth not in STAGE_BLOCKS:
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
                         f'(format {SCHEMA_FORMAT!r}), got {type(data).__name__}')


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

