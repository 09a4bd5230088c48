"""The tools' argparse types: their values and their messages."""
import argparse

import pytest

from scalenet_lab.argtypes import int_at_least, non_negative_float, parse_size


def test_parse_size():
    assert parse_size('257X319') == (257, 319)
    with pytest.raises(argparse.ArgumentTypeError, match='expected HxW'):
        parse_size('224')
    with pytest.raises(argparse.ArgumentTypeError, match='at least 32x32'):
        parse_size('224x16')


def test_int_at_least():
    assert int_at_least(0)('0') == 0 and int_at_least(1)('7') == 7
    with pytest.raises(argparse.ArgumentTypeError, match=r'expected an integer >= 1, got 0'):
        int_at_least(1)('0')
    with pytest.raises(argparse.ArgumentTypeError, match=r"expected an integer, got 'two'"):
        int_at_least(1)('two')


def test_non_negative_float():
    assert non_negative_float('0') == 0.0 and non_negative_float('0.5') == 0.5
    with pytest.raises(argparse.ArgumentTypeError, match=r'expected a number >= 0, got -0.1'):
        non_negative_float('-0.1')
    for text in ('nan', 'inf'):
        with pytest.raises(argparse.ArgumentTypeError, match=rf'expected a number >= 0, got {text}'):
            non_negative_float(text)
    with pytest.raises(argparse.ArgumentTypeError, match=r"expected a number, got 'strong'"):
        non_negative_float('strong')
