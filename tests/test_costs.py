"""The costs of a structure: analytic MAC counts by hand and against the traced ones; the module order
geometry <- structure <- costs."""
import ast
import os

import pytest

from mmdet_scalenet import ScaleNet, load_structure
from mmdet_scalenet.costs import (
    neuron_macs,
    resnet_conv_macs,
    resnet_macs,
    structure_macs,
    structure_macs_by_part,
)
from mmdet_scalenet.structure import BUILTIN_STRUCTURES, seed_structure
from scalenet_lab import classifier_complexity

PACKAGE = os.path.join(os.path.dirname(__file__), '..', 'mmdet_scalenet')


@pytest.mark.parametrize('name', sorted(BUILTIN_STRUCTURES))
def test_analytic_count_equals_classifier_complexity(name):
    structure = load_structure(name)
    traced = classifier_complexity(ScaleNet(depth=structure.depth, structure=structure)).conv_macs
    assert abs(structure_macs(structure) - traced) <= 0.001 * traced


def test_analytic_count_of_a_three_scale_seed_equals_classifier_complexity():
    structure = seed_structure(50, scale_factors=(1, 3, 5))
    traced = classifier_complexity(ScaleNet(depth=50, structure=structure)).conv_macs
    assert abs(structure_macs(structure) - traced) <= 0.001 * traced


def test_parts_add_up_and_stage_one_by_hand():
    structure = load_structure('scalenet50')
    parts = structure_macs_by_part(structure)
    assert sorted(parts) == ['fc', 'stage1', 'stage2', 'stage3', 'stage4', 'stem']
    assert sum(parts.values()) == structure_macs(structure)
    assert parts['stem'] == 3 * 64 * 49 * 112 * 112 and parts['fc'] == 2048 * 1000
    # stage 1: rows [62, 9, 5, 12], [55, 27, 5, 1], [59, 26, 0, 3]; pooled sides 56, 28, 14, 8; all 3x3
    area = 56 * 56
    branch = lambda c: 64 * 9 * (c[0] * 56**2 + c[1] * 28**2 + c[2] * 14**2 + c[3] * 8**2)  # noqa: E731
    rows = [[62, 9, 5, 12], [55, 27, 5, 1], [59, 26, 0, 3]]
    expected = (64 * 64 * area + 64 * 256 * area                       # conv1 + shortcut of block 1
                + 2 * 256 * 64 * area                                  # conv1 of blocks 2, 3
                + sum(branch(r) + sum(r) * 256 * area for r in rows))  # branches + conv3
    assert parts['stage1'] == expected


def test_neuron_costs_by_hand():
    assert neuron_macs(64, 56, 0, 1) == 64 * 9 * 56 * 56
    assert neuron_macs(64, 56, 3, 7) == 64 * 9 * 8 * 8
    assert neuron_macs(256, 14, 2, 4) == 256 * 9 * 3 * 3       # 14 // 4 = 3, 14 / 4 > 1: 3x3
    assert neuron_macs(512, 7, 2, 4) == 512 * 9 * 1 * 1        # 7 // 4 = 1, 7 / 4 > 1: 3x3
    assert neuron_macs(512, 7, 3, 7) == 512                    # 7 / 8 <= 1: 1x1 on a 1x1 map
    assert neuron_macs(512, 7, 1, 9) == 512 * 9                # a factor above the side pools to 1
    assert resnet_conv_macs(128, 28) == 128 * 128 * 9 * 28 * 28


def test_resnet_counts():
    assert abs(resnet_macs(50) / 1e9 - 4.09) <= 0.005        # the paper's 4.1 GFLOPs (Table 2): conv + fc
    assert resnet_macs(50) < resnet_macs(101) < resnet_macs(152)
    assert structure_macs(load_structure('scalenet50')) < resnet_macs(50)


def package_imports(module):
    """The package modules ``mmdet_scalenet/<module>.py`` imports anywhere in its source (inside functions and
    ``if TYPE_CHECKING:`` blocks included, so a lazy import counts too)."""
    with open(os.path.join(PACKAGE, f'{module}.py')) as f:
        tree = ast.parse(f.read())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found.add(node.module)
        elif isinstance(node, ast.ImportFrom) and (node.module or '').startswith('mmdet_scalenet'):
            found.add(node.module.split('.', 1)[1] if '.' in node.module else '')
        elif isinstance(node, ast.Import):
            found.update(alias.name.split('.', 1)[1] for alias in node.names
                         if alias.name.startswith('mmdet_scalenet.'))
    return found


def test_geometry_structure_and_costs_import_in_one_direction():
    assert package_imports('geometry') == set()
    assert package_imports('structure') == {'geometry', 'utils.fileio'}
    assert package_imports('costs') == {'geometry', 'structure'}
