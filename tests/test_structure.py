import hashlib
import json
import os
import subprocess
import sys

import pytest

from mmdet_scalenet import ScaleNet
from mmdet_scalenet.geometry import STAGE_BLOCKS, STAGE_PLANES, STAGE_SIDES
from mmdet_scalenet.structure import (
    BUILTIN_STRUCTURES,
    MAX_FILE_BYTES,
    Structure,
    StructureError,
    load_structure,
    max_branch_channels,
    save_structure,
    seed_structure,
    structure_from_rows,
)

SHARED = os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'structures')

# Neurons per block of each stage in the authors' released files (the paper's Table 1 networks).
KEPT_PER_BLOCK = {
    'scalenet50': (50, [88, 175, 349, 697]),
    'scalenet50_light': (50, [64, 128, 256, 512]),
    'scalenet101': (101, [86, 171, 341, 682]),
    'scalenet152': (152, [90, 179, 358, 715]),
}


# sha256 of each built-in structure's rows in a canonical form (rows_digest), computed once from the authors'
# released files (../shared/structures/*.json). Those files carry no licence, so they are not copied here: these
# digests pin the tables users get in CI, and test_stored_digests_are_those_of_the_authors_files checks the
# digests themselves where the files are present.
AUTHORS_DIGESTS = {
    'scalenet50': 'c4470797665cad99a5f16620069115646cce98f3cebcd9fb36036ac31ff8a499',
    'scalenet50_light': '5e93ea6c9a86d518fbcd6a908418572bf28d005d61d507045852eab9f3f2e79c',
    'scalenet101': '7df0944427aab110cea640dddd9ee98d81cecd82c9a77ea58aa735cfc1339a7f',
    'scalenet152': '815f447fcef192b30832d2dd8877e055a4cc14a1e9d669b10a78ba2eb0c3ea6d',
}


def rows_digest(depth, scale_factors, blocks):
    """sha256 of ``{"blocks": [[c1, c2, c4, c7], ...], "depth": d, "scale_factors": [...]}`` as compact JSON with
    sorted keys: every branch width of every block, in network order."""
    canonical = json.dumps({'blocks': [list(b) for b in blocks], 'depth': depth, 'scale_factors': list(scale_factors)},
                           sort_keys=True, separators=(',', ':'))
    return hashlib.sha256(canonical.encode()).hexdigest()


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
        assert [sum(channels) for channels in structure.stage(stage)] == [expected] * STAGE_BLOCKS[depth][stage]


@pytest.mark.parametrize('name', sorted(BUILTIN_STRUCTURES))
def test_builtin_structures_equal_the_authors_files(name):
    authors = load_structure(shared_file(name))
    with open(shared_file(name)) as f:
        assert load_structure(name).to_rows() == json.load(f)
    assert authors.blocks == load_structure(name).blocks


def test_every_builtin_structure_has_a_digest():
    assert sorted(AUTHORS_DIGESTS) == sorted(BUILTIN_STRUCTURES)


@pytest.mark.parametrize('name', sorted(BUILTIN_STRUCTURES))
def test_builtin_structures_match_the_digest_of_the_authors_files(name):
    structure = load_structure(name)
    assert rows_digest(structure.depth, structure.scale_factors, structure.blocks) == AUTHORS_DIGESTS[name]


@pytest.mark.parametrize('name', sorted(BUILTIN_STRUCTURES))
def test_stored_digests_are_those_of_the_authors_files(name):
    # Read with json alone, not the package's loader, so that the digest does not depend on the code it checks.
    with open(shared_file(name)) as f:
        rows = json.load(f)
    depth = {sum(blocks): depth for depth, blocks in STAGE_BLOCKS.items()}[len(rows)]
    assert rows_digest(depth, [1, 2, 4, 7], [row[:4] for row in rows]) == AUTHORS_DIGESTS[name]


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
    assert again.blocks == original.blocks and again.depth == 50 and again.to_rows() == original.to_rows()


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
                      scale_factors=(1, 2, 4))
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
        Structure(depth=50, blocks=[(0, 0, 0, 0)] + [(1, 0, 0, 0)] * 15)


def test_structure_from_rows_without_a_file():
    structure = structure_from_rows(rows_of('scalenet152'), name='x')
    assert structure.depth == 152 and structure.name == 'x'


# The strict schema: unknown keys, types, bounds, encoding and nesting, each refused with file, row and field.


def schema_of(name='scalenet50'):
    return load_structure(name).to_dict()


def test_unknown_keys_are_refused_with_a_suggestion(tmp_path):
    data = schema_of()
    data['nmae'] = data.pop('name')
    with pytest.raises(StructureError, match=r'typo\.json: field "nmae": unknown key \(did you mean "name"\? '
                                             r'expected one of format, version, name, depth, scale_factors, stages\)'):
        load_structure(write(tmp_path, data, 'typo.json'))
    data = schema_of()
    data['stages'][2]['sides'] = 14
    with pytest.raises(StructureError, match=r'stage\.json: stage 3, field "sides": unknown key \(did you mean "side"'):
        load_structure(write(tmp_path, data, 'stage.json'))


@pytest.mark.parametrize('field,value,message', [
    ('depth', 50.0, r'field "depth": expected one of \[50, 101, 152\], got 50\.0'),
    ('depth', True, r'field "depth": expected one of \[50, 101, 152\], got True'),
    ('name', {'a': 1}, r'field "name": expected a non-empty string, got \{\'a\': 1\} \(an object\)'),
    ('name', '', r'field "name": expected a non-empty string'),
    ('version', 1.0, r'field "version": expected 1, got 1\.0'),
    ('version', True, r'field "version": expected 1, got True'),
    ('format', ['mmdet-scalenet/structure'], r'field "format": expected \'mmdet-scalenet/structure\''),
    ('scale_factors', [1, 2, 4.0, 7], r'field "scale_factors": expected 1 to 8 distinct positive integers'),
    ('scale_factors', [1, 2, 4, 57], r'field "scale_factors".*each at most 56, got \[1, 2, 4, 57\]'),
    ('scale_factors', list(range(1, 10)), r'field "scale_factors": expected 1 to 8'),
    ('scale_factors', [], r'field "scale_factors": expected 1 to 8'),
])
def test_schema_fields_are_type_checked(tmp_path, field, value, message):
    data = schema_of()
    data[field] = value
    with pytest.raises(StructureError, match=r'types\.json: ' + message):
        load_structure(write(tmp_path, data, 'types.json'))


@pytest.mark.parametrize('value', [56.0, True, '56'])
def test_sides_must_be_integers_in_both_layouts(tmp_path, value):
    data = schema_of()
    data['stages'][0]['side'] = value
    with pytest.raises(StructureError, match=r'stage 1, field "side": stage 1 has side 56 at 224x224, got '):
        load_structure(write(tmp_path, data, 'schema.json'))
    rows = rows_of('scalenet50')
    rows[2][4] = value
    with pytest.raises(StructureError, match=r'rows\.json: row 2, field "side": stage 1 has side 56'):
        load_structure(write(tmp_path, rows, 'rows.json'))


@pytest.mark.parametrize('stage,row', [(0, 1), (3, 15)])
def test_channel_counts_are_bounded_by_the_blocks_output_width(tmp_path, stage, row):
    bound = max_branch_channels(stage)
    assert bound == 4 * (64, 128, 256, 512)[stage]
    rows = rows_of('scalenet50')
    rows[row][1] = bound
    assert load_structure(write(tmp_path, rows, 'edge.json')).blocks[row][1] == bound
    for count in (bound + 1, 10**12):
        rows[row][1] = count
        message = (rf'big\.json: row {row}, field "channels at factor 2": expected at most {bound} '
                   rf'\(4 x the {bound // 4} planes of stage {stage + 1}, the block\'s output width\), got {count}')
        with pytest.raises(StructureError, match=message):
            load_structure(write(tmp_path, rows, 'big.json'))


def test_a_structure_object_checks_its_types():
    blocks = load_structure('scalenet50').blocks
    with pytest.raises(StructureError, match=r'field "depth": expected one of \[50, 101, 152\], got 50\.0'):
        Structure(depth=50.0, blocks=blocks)
    with pytest.raises(StructureError, match=r'field "name": expected a non-empty string, got None \(null\)'):
        Structure(depth=50, blocks=blocks, name=None)
    with pytest.raises(StructureError, match=r'field "blocks": expected a list of rows, got an integer'):
        Structure(depth=50, blocks=7)
    with pytest.raises(StructureError, match=r'field "scale_factors": expected 1 to 8'):
        Structure(depth=50, blocks=blocks, scale_factors=4)
    with pytest.raises(StructureError, match=r'row 3, field "channels at factor 1": expected at most 512'):
        Structure(depth=50, blocks=blocks[:3] + ((10**12, 0, 0, 0), ) + blocks[4:])


def test_non_utf8_file_is_named(tmp_path):
    path = tmp_path / 'latin1.json'
    path.write_bytes('{"name": "caf\u00e9"}'.encode('latin-1'))
    with pytest.raises(StructureError, match=r'latin1\.json: byte 13: not UTF-8 text \(byte 0xe9\)'):
        load_structure(str(path))


def test_a_byte_order_mark_is_not_content(tmp_path):
    path = tmp_path / 'bom.json'
    path.write_bytes(b'\xef\xbb\xbf' + json.dumps(rows_of('scalenet50')).encode())
    assert load_structure(str(path)).blocks == load_structure('scalenet50').blocks


@pytest.mark.parametrize('text,position', [('[' * 100000, 'line 1, column 6'),
                                           ('{"stages": [{"blocks": [[[1]]]}]}', 'line 1, column 26'),
                                           ('[\n [[[[[1]]]]]]', 'line 2, column 6')])
def test_deep_nesting_is_refused_before_parsing(tmp_path, text, position):
    with pytest.raises(StructureError, match=rf'deep\.json: {position}: lists and objects nested deeper than 5'):
        load_structure(write(tmp_path, text, 'deep.json'))


def test_brackets_inside_strings_do_not_count_as_nesting(tmp_path):
    data = schema_of()
    data['name'] = '[[[[[[{{{{{{ \\" ]]]'
    assert load_structure(write(tmp_path, data, 'brackets.json')).name == data['name']


@pytest.mark.parametrize('text,message', [
    ('{"depth": 50, "depth": 101}', r'field "depth": appears twice in one object'),
    ('[[1, 2, 3, NaN, 56]]', r'not valid JSON: NaN is not a JSON number'),
    ('[[1, 2, 3, -Infinity, 56]]', r'not valid JSON: -Infinity is not a JSON number'),
    ('[[1, 2, 3, ' + '9' * 5000 + ', 56]]', r'not valid JSON for a structure: an integer of more than 4300 digits'),
    ('', r'not valid JSON: line 1, column 1'),
])
def test_what_python_json_accepts_but_json_does_not_is_refused(tmp_path, text, message):
    with pytest.raises(StructureError, match=r'strict\.json: ' + message):
        load_structure(write(tmp_path, text, 'strict.json'))


def test_oversized_files_and_folders_are_refused(tmp_path):
    path = write(tmp_path, ' ' * MAX_FILE_BYTES + '[]', 'huge.json')
    with pytest.raises(StructureError, match=rf'huge\.json: size: over {MAX_FILE_BYTES} bytes'):
        load_structure(path)
    os.mkdir(tmp_path / 'folder.json')
    with pytest.raises(IsADirectoryError, match=r'folder\.json: is a directory'):
        load_structure(str(tmp_path / 'folder.json'))


def test_long_values_are_cut_in_messages(tmp_path):
    rows = rows_of('scalenet50')
    rows[0][0] = list(range(10000))
    path = write(tmp_path, rows, 'long.json')
    with pytest.raises(StructureError, match=r'got \[0, 1, 2, .* \.\.\.$') as error:
        load_structure(path)
    assert len(str(error.value)) - len(path) < 150


# Seed structures (the allocation's step 1): planes neurons at every scale, any depth, configurable scales.


@pytest.mark.parametrize('depth', sorted(STAGE_BLOCKS))
def test_every_block_gets_planes_neurons_per_scale(depth):
    structure = seed_structure(depth)
    assert structure.depth == depth and structure.name == f'scalenet{depth}_seed'
    assert structure.scale_factors == (1, 2, 4, 7)
    for stage in range(4):
        rows = structure.stage(stage)
        assert rows == [(STAGE_PLANES[stage], ) * 4] * STAGE_BLOCKS[depth][stage]
    assert [row[-1] for row in structure.to_rows()] == [STAGE_SIDES[s] for s, n in enumerate(STAGE_BLOCKS[depth])
                                                        for _ in range(n)]


def test_scale_factors_are_configurable_and_the_backbone_builds():
    structure = seed_structure(50, scale_factors=(1, 2, 4))
    assert structure.blocks[0] == (64, 64, 64) and structure.blocks[-1] == (512, 512, 512)
    model = ScaleNet(depth=50, structure=structure)
    block = model.layer4[2]
    assert sorted(block.conv2) == ['0', '1', '2']
    assert [tuple(block.conv2[k].weight.shape) for k in '012'] == [(512, 512, 3, 3)] * 3
    assert block.conv3.weight.shape[1] == 3 * 512


def test_default_seed_builds_with_a_1x1_coarsest_branch_in_stage_4():
    model = ScaleNet(depth=50, structure=seed_structure(50))
    assert tuple(model.layer4[0].conv2['3'].weight.shape) == (512, 512, 1, 1)
    assert tuple(model.layer3[0].conv2['3'].weight.shape) == (256, 256, 3, 3)


def test_round_trip_through_a_file(tmp_path):
    structure = seed_structure(101, scale_factors=(1, 2, 3, 5, 8))
    save_structure(structure, tmp_path / 'seed.json')
    assert load_structure(str(tmp_path / 'seed.json')) == structure


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r'depth must be one of \[50, 101, 152\], got 34'):
        seed_structure(34)
    with pytest.raises(StructureError, match='scale_factors.*distinct positive integers'):
        seed_structure(50, scale_factors=(1, 2, 2))


@pytest.mark.parametrize('depth', sorted(STAGE_BLOCKS))
def test_seed_structures_load_by_name(depth):
    assert load_structure(f'scalenet{depth}_seed') == seed_structure(depth)
    assert load_structure(f'scalenet{depth}_seed', depth=depth).depth == depth


def test_a_config_selects_the_seed_by_name():
    model = ScaleNet(depth=50, structure='scalenet50_seed')
    assert sorted(model.layer1[0].conv2) == ['0', '1', '2', '3']
    assert model.layer1[0].conv3.weight.shape[1] == 4 * 64
    with pytest.raises(StructureError, match=r"structure 'scalenet50_seed': field \"depth\": expected 101, got 50"):
        ScaleNet(depth=101, structure='scalenet50_seed')
