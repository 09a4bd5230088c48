"""Property-based tests of the structure loader (hypothesis): whatever a file holds, loading it either gives a valid
structure that says exactly what the file says, or raises a StructureError that names the file; never another
exception.

Derandomized (a fixed seed per test) and without an example database, so CI runs the same 1,350 examples every
time: 10-20 s in all on two busy cores.
"""
import copy
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmdet_scalenet.structure import (
    BUILTIN_STRUCTURES,
    SCHEMA_KEYS,
    STAGE_KEYS,
    Structure,
    StructureError,
    load_structure,
    save_structure,
    structure_from_rows,
    validate,
)

SETTINGS = dict(derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Values a mutation is likely to need to get past one check and reach the next: valid depths, sides, factors and
# widths, their float and bool look-alikes, the bounds and one beyond, and the keys of the schema and a typo.
NEAR_VALID = st.sampled_from([0, 1, 2, 4, 7, 50, 101, 152, 56, 28, 14, 64, 256, 257, 2048, 2049, 10**12, -1, 50.0,
                              56.0, 1.5, True, False, None, '', 'scalenet50', 'mmdet-scalenet/structure', [],
                              {}, [1, 2, 4, 7], [0, 0, 0, 0]])
KEYS = st.sampled_from([*SCHEMA_KEYS, *STAGE_KEYS, 'nmae', 'blocks ']) | st.text(max_size=8)
LEAVES = (st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70) | st.floats()
          | st.text(max_size=12) | NEAR_VALID)
JSON_VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=6) | st.dictionaries(KEYS, inner, max_size=6),
                           max_leaves=20)


def builtin_documents():
    """Each built-in structure in both layouts: our schema's object and the authors' list of rows."""
    documents = []
    for name in sorted(BUILTIN_STRUCTURES):
        structure = load_structure(name)
        documents += [structure.to_dict(), structure.to_rows()]
    return documents


DOCUMENTS = builtin_documents()


def containers(value, level=0, found=None):
    """``{level: [every list and object that deep inside value]}``, ``value`` itself at level 0."""
    found = {} if found is None else found
    if isinstance(value, (list, dict)):
        found.setdefault(level, []).append(value)
        for child in (value.values() if isinstance(value, dict) else value):
            containers(child, level + 1, found)
    return found


def fresh(value):
    """A copy of a drawn value: sampled_from hands out the same list object each time, and a later edit of this
    document must not change what the next example draws."""
    return copy.deepcopy(value)


@st.composite
def mutated_documents(draw, documents=tuple(DOCUMENTS)):
    """A built-in structure with 1 to 3 random edits: a value replaced, an integer retyped (50 -> 50.0, true or
    "50"), a key or element removed, or one added. The level is drawn first, so the one top-level object is edited
    as often as the fifty rows."""
    document = copy.deepcopy(draw(st.sampled_from(documents)))
    for _ in range(draw(st.integers(1, 3))):
        by_level = containers(document)
        target = draw(st.sampled_from(by_level[draw(st.sampled_from(sorted(by_level)))]))
        keys = list(target) if isinstance(target, dict) else list(range(len(target)))
        edit = draw(st.sampled_from(['replace', 'replace', 'retype', 'remove', 'add'] if keys else ['add']))
        if edit == 'add':
            if isinstance(target, dict):
                target[draw(KEYS)] = fresh(draw(JSON_VALUES))
            else:
                target.insert(draw(st.integers(0, len(target))), fresh(draw(JSON_VALUES)))
            continue
        key = draw(st.sampled_from(keys))
        if edit == 'retype' and type(target[key]) is int:  # the same number as a float, a bool or a string
            target[key] = draw(st.sampled_from([float(target[key]), bool(target[key]), str(target[key])]))
        elif edit in ('replace', 'retype'):
            target[key] = fresh(draw(st.integers(0, 600) | NEAR_VALID | JSON_VALUES))
        elif isinstance(target, dict):
            del target[key]
        else:
            target.pop(key)
    return document


@pytest.fixture(scope='module')
def path(tmp_path_factory):
    return str(tmp_path_factory.mktemp('structures') / 'candidate.json')


def load_or_refuse(path):
    """The structure in ``path``, or None where a StructureError naming the file refuses it; any other exception
    fails the test."""
    try:
        structure = load_structure(path)
    except StructureError as error:
        assert str(error).startswith(f'{path}: '), error
        return None
    assert isinstance(structure, Structure)
    validate(structure)
    return structure


def assert_says_what_the_file_says(structure, document, path):
    """A loaded structure holds exactly the file's values (compared as JSON text: 50.0 is not 50) and survives a
    round trip through a file."""
    if isinstance(document, list):
        assert json.dumps(structure.to_rows()) == json.dumps(document)
    else:
        expected = {'version': 1, 'name': os.path.splitext(os.path.basename(path))[0], **document}
        assert json.dumps(structure.to_dict(), sort_keys=True) == json.dumps(expected, sort_keys=True)
    again = path + '.again.json'
    save_structure(structure, again, overwrite=True)
    assert load_structure(again) == structure


@settings(max_examples=300, **SETTINGS)
@given(document=JSON_VALUES)
def test_random_json_loads_or_is_refused(path, document):
    with open(path, 'w') as f:
        json.dump(document, f)
    structure = load_or_refuse(path)
    if structure is not None:
        assert_says_what_the_file_says(structure, document, path)


@settings(max_examples=500, **SETTINGS)
@given(document=mutated_documents())
def test_mutated_builtin_structures_load_or_are_refused(path, document):
    with open(path, 'w') as f:
        json.dump(document, f)
    structure = load_or_refuse(path)
    if structure is not None:
        assert_says_what_the_file_says(structure, document, path)


@settings(max_examples=200, **SETTINGS)
@given(content=st.binary(max_size=64) | st.builds(lambda document, cut: json.dumps(document)[:cut].encode(),
                                                  st.sampled_from(DOCUMENTS), st.integers(0, 4000)))
def test_random_bytes_and_truncated_files_load_or_are_refused(path, content):
    with open(path, 'wb') as f:
        f.write(content)
    load_or_refuse(path)


@settings(max_examples=100, **SETTINGS)
@given(opening=st.lists(st.sampled_from(['[', '{"a": ', '[1, ', '\n[']), min_size=6, max_size=5000))
def test_deep_nesting_is_refused_without_recursion_errors(path, opening):
    with open(path, 'w') as f:
        f.write(''.join(opening))
    with pytest.raises(StructureError, match=r'nested deeper than 5 levels'):
        load_structure(path)


@st.composite
def structure_fields(draw):
    """The fields of a built-in structure (blocks as lists of lists), one or more of them replaced at random."""
    base = load_structure(draw(st.sampled_from(sorted(BUILTIN_STRUCTURES))))
    fields = dict(depth=base.depth, blocks=[list(row) for row in base.blocks], scale_factors=list(base.scale_factors),
                  name=base.name)
    for key in draw(st.sets(st.sampled_from(sorted(fields)), min_size=1)):
        fields[key] = draw(NEAR_VALID | JSON_VALUES)
    return fields


@settings(max_examples=150, **SETTINGS)
@given(fields=structure_fields())
def test_structure_objects_build_or_are_refused(fields):
    try:
        structure = Structure(**fields)
    except StructureError:
        return
    validate(structure)
    assert json.dumps([structure.depth, structure.blocks, structure.scale_factors, structure.name]) == json.dumps(
        [fields['depth'], fields['blocks'], fields['scale_factors'], fields['name']])


@settings(max_examples=100, **SETTINGS)
@given(rows=JSON_VALUES | mutated_documents([document for document in DOCUMENTS if isinstance(document, list)]))
def test_rows_build_or_are_refused(rows):
    try:
        structure = structure_from_rows(rows)
    except StructureError:
        return
    assert json.dumps(structure.to_rows()) == json.dumps(rows)
