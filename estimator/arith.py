"""Integer helpers shared by the byte arithmetic (sizes are whole bytes, shares are rounded up)."""

from __future__ import annotations


def ceil_div(a: int, b: int) -> int:
    """``ceil(a / b)`` for integers, exact at any size (no float on the way)."""
    return -(-a // b)


def round_up(value: int, multiple: int) -> int:
    """``value`` rounded up to a multiple of ``multiple``."""
    return ceil_div(value, multiple) * multiple
