"""``argparse`` types the tools share: checked numbers and image sizes, with messages that say what was expected."""
import argparse
from typing import Callable, Tuple

__all__ = ['int_at_least', 'non_negative_float', 'parse_size']


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An ``argparse`` type: an integer >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'expected an integer, got {text!r}') from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f'expected an integer >= {minimum}, got {value}')
        return value

    return parse


def non_negative_float(text: str) -> float:
    """An ``argparse`` type: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected a number, got {text!r}') from None
    if not 0 <= value < float('inf'):
        raise argparse.ArgumentTypeError(f'expected a number >= 0, got {text}')
    return value


def parse_size(text: str) -> Tuple[int, int]:
    """``'HxW'`` -> ``(H, W)``, each at least 32 (ScaleNet's total stride); an ``argparse`` type."""
    try:
        h, w = (int(v) for v in text.lower().split('x'))
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected HxW (e.g. 224x224), got {text!r}') from None
    if h < 32 or w < 32:
        raise argparse.ArgumentTypeError(f'{text}: ScaleNet needs at least 32x32')
    return h, w
