import json
import os
import subprocess
import sys

import pytest

from mmdet_scalenet.structure import (BUILTIN_STRUCTURES, STAGE_BLOCKS, Structure, StructureError, load_structure,
                                      save_structure, structure_from_rows)

SHARED = os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'structures')

# Per-stage totals from the released files (REFERENCE.md section 1).
KEPT_PER_BLOCK = {
    'scalenet50': (50, [88, 175, 349, 697]),
    'scalenet50_light': (50, [64, 128, 256, 512]),
    'scalenet101': (101, [86, 171, 341, 682]),
    'scalenet152': (152, [90, 179, 358, 715]),
}


def shared_file(name):
    path = os.path.join(SHARED, f'{name}.json')
    if not os.path.isfile(path):
        pytest.skip(f'{path} is absent: the authors\' structure files are only beside a development checkout')
    return path


def write(tmp_path, data, name='s.json'):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def rows_of(name):
    return load_structure(name).to_rows()


@pytest.mark.parametrize('name', sorted(KEPT_PER_BLOCK))
def test_builtin_structures_have_the_released_figures(name):
    depth, kept = KEPT_PER_BLOCK[name]
    structure = load_structure(name)
    assert structure.depth == depth
    assert len(structure.blocks) == sum(STAGE_BLOCKS[depth])
    for stage, expected in enumerate(kept):
        assert [sum(channels) for channels, _ in structure.stage(stage)] == [expected] * STAGE_BLOCKS[depth][stage]


@pytest.mark.parametrize('name', sorted(BUILTIN_STRUCTURES))
def test_builtin_structures_equal_the_authors_files(name):
    authors = load_structure(shared_file(name))
    with open(shared_file(name)) as f:
        assert load_structure(name).to_rows() == json.load(f)
    assert authors.blocks == load_structure(name).blocks


def test_structure_module_imports_no_torch(tmp_path):
    # Importing the package runs mmdet_scalenet/__init__.py, which imports torch: stand in an empty package
    # object for it, so that only structure.py and what it imports are loaded.
    package = os.path.join(os.path.dirname(__file__), '..', 'mmdet_scalenet')
    code = ('import sys, types; p = types.ModuleType("mmdet_scalenet"); p.__path__ = [%r]; '
            'sys.modules["mmdet_scalenet"] = p; import mmdet_scalenet.structure as s; '
            's.save_structure(s.seed_structure(50), sys.argv[1]); s.load_structure(sys.argv[1]); '
            'print("torch" in sys.modules)' % package)
    out = subprocess.run([sys.executable, '-c', code, str(tmp_path / 'seed.json')], capture_output=True, text=True)
    assert out.stdout.strip() == 'False', out.stderr


def test_authors_layout_file_loads_with_depth_from_row_count(tmp_path):
    path = write(tmp_path, rows_of('scalenet101'), 'mine.json')
    structure = load_structure(path)
    assert structure.depth == 101
    assert structure.name == 'mine'
    assert structure.blocks == load_structure('scalenet101').blocks


@pytest.mark.parametrize('layout', ['schema', 'authors'])
def test_save_and_load_round_trip(tmp_path, layout):
    original = load_structure('scalenet50_light')
    path = str(tmp_path / 'out.json')
    save_structure(original, path, layout=layout)
    again = load_structure(path)
    assert again.blocks == original.blocks and again.sides == original.sides and again.depth == 50


def test_save_refuses_to_overwrite_and_leaves_no_partial_file(tmp_path):
    path = tmp_path / 'out.json'
    path.write_text('keep me')
    with pytest.raises(FileExistsError, match='out.json'):
        save_structure(load_structure('scalenet50'), str(path))
    assert path.read_text() == 'keep me'
    save_structure(load_structure('scalenet50'), str(path), overwrite=True)
    assert load_structure(str(path)).name == 'scalenet50'
    assert sorted(os.listdir(tmp_path)) == ['out.json']


def test_save_authors_layout_refuses_other_scale_factors(tmp_path):
    base = load_structure('scalenet50')
    three = Structure(depth=50, blocks=[c[:3] if sum(c[:3]) else (1, 0, 0) for c in base.blocks],
                      sides=base.sides, scale_factors=(1, 2, 4))
    with pytest.raises(StructureError, match='scale_factors'):
        save_structure(three, str(tmp_path / 'x.json'), layout='authors')
    assert not os.listdir(tmp_path)


def test_depth_is_checked_against_the_request():
    with pytest.raises(StructureError, match=r'depth.*expected 101, got 50'):
        load_structure('scalenet50', depth=101)


def test_unknown_name_lists_the_builtin_ones():
    with pytest.raises(StructureError, match=r"unknown structure 'scalenet18'.*scalenet50_light"):
        load_structure('scalenet18')


def test_missing_file_names_the_path(tmp_path):
    path = str(tmp_path / 'nope.json')
    with pytest.raises(FileNotFoundError, match='nope.json'):
        load_structure(path)


def test_non_json_names_file_and_position(tmp_path):
    path = write(tmp_path, '[[1, 2, 3, 4, 56],\n oops]', 'bad.json')
    with pytest.raises(StructureError, match=r'bad\.json: not valid JSON: line 2'):
        load_structure(path)


def test_wrong_row_count_for_depth(tmp_path):
    path = write(tmp_path, rows_of('scalenet50')[:-1], 'short.json')
    with pytest.raises(StructureError, match=r'short\.json: rows: expected \[16, 33, 50\] rows.*got 15'):
        load_structure(path)
    path = write(tmp_path, rows_of('scalenet50'), 'fifty.json')
    with pytest.raises(StructureError, match=r'fifty\.json: rows: depth 101 needs 33 blocks.*got 16'):
        load_structure(path, depth=101)


def test_wrong_row_length(tmp_path):
    rows = rows_of('scalenet50')
    rows[4] = rows[4][:4]
    path = write(tmp_path, rows, 'len.json')
    with pytest.raises(StructureError, match=r'len\.json: row 4: expected 5 values.*got 4'):
        load_structure(path)


@pytest.mark.parametrize('value', [-3, 2.5, '7', True, None])
def test_negative_or_non_integer_channels(tmp_path, value):
    rows = rows_of('scalenet50')
    rows[6][2] = value
    path = write(tmp_path, rows, 'chan.json')
    expected = r'chan\.json: row 6, field "channels at factor 4": expected a non-negative integer, got '
    with pytest.raises(StructureError, match=expected + repr(value).replace('.', r'\.')):
        load_structure(path)


def test_block_with_all_branches_zero(tmp_path):
    rows = rows_of('scalenet50')
    rows[9][:4] = [0, 0, 0, 0]
    path = write(tmp_path, rows, 'zero.json')
    with pytest.raises(StructureError, match=r'zero\.json: row 9, field "channels": every branch has 0 channels'):
        load_structure(path)


def test_side_that_does_not_match_the_stage(tmp_path):
    rows = rows_of('scalenet50')
    rows[3][4] = 56
    path = write(tmp_path, rows, 'side.json')
    with pytest.raises(StructureError, match=r'side\.json: row 3, field "side": stage 2 has side 28.*got 56'):
        load_structure(path)


def test_schema_errors_name_the_field(tmp_path):
    data = load_structure('scalenet50').to_dict()
    data['stages'][1]['blocks'] = data['stages'][1]['blocks'][:3]
    path = write(tmp_path, data, 'schema.json')
    with pytest.raises(StructureError, match=r'schema\.json: stage 2, field "blocks": depth 50 needs 4 blocks, got 3'):
        load_structure(path)
    data = load_structure('scalenet50').to_dict()
    del data['scale_factors']
    with pytest.raises(StructureError, match=r'field "scale_factors": missing'):
        load_structure(write(tmp_path, data, 'nofactors.json'))
    data = load_structure('scalenet50').to_dict()
    data['format'] = 'something-else'
    with pytest.raises(StructureError, match=r'field "format": expected'):
        load_structure(write(tmp_path, data, 'format.json'))
    with pytest.raises(StructureError, match=r'top level: expected a list of rows'):
        load_structure(write(tmp_path, '"scalenet50"', 'str.json'))


def test_structure_object_validates_itself():
    with pytest.raises(StructureError, match=r'row 0, field "channels": every branch has 0 channels'):
        Structure(depth=50, blocks=[(0, 0, 0, 0)] + [(1, 0, 0, 0)] * 15,
                  sides=[56] * 3 + [28] * 4 + [14] * 6 + [7] * 3)


def test_structure_from_rows_without_a_file():
    structure = structure_from_rows(rows_of('scalenet152'), name='x')
    assert structure.depth == 152 and structure.name == 'x'
