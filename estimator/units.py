"""Sizes as the answers print them: GiB with one decimal, and past 10,000 GiB (sizes no GPU holds,
such as s=16m b=1m) the binary unit that keeps the figure short."""

from __future__ import annotations

GIB = 1 << 30
# Largest first: the first whose 10,000-of-the-unit-below threshold a size reaches is its unit.
_LARGE_UNITS = (("EiB", 1 << 60), ("PiB", 1 << 50), ("TiB", 1 << 40))


def gib_unit(n_bytes: int) -> tuple[str, int]:
    """The unit a size is shown in: GiB below 10,000 GiB (a whole node's memory reads in GiB), else
    TiB, PiB or EiB, each below 10,000 of it. Decided on the figure as rounded to one decimal, so
    9,999.97 GiB reads 9.8 TiB, not 10,000.0 GiB."""
    size = abs(n_bytes)
    for unit, scale in _LARGE_UNITS:
        if round(size / (scale >> 10), 1) >= 10_000:
            return unit, scale
    return "GiB", GIB


def gib_text(n_bytes: int) -> str:
    """``34.1 GiB``, ``2,509.3 GiB``; from 10,000 GiB on ``9.8 TiB``, ``4.0 EiB``."""
    unit, scale = gib_unit(n_bytes)
    return f"{n_bytes / scale:,.1f} {unit}"


def tokens_text(n: int) -> str:
    """``n`` tokens in words: "1 token", "4,096 tokens"."""
    return f"{n:,} token" + ("" if n == 1 else "s")


def request_noun(shown: str) -> str:
    """``requests`` after a count of requests as shown (``1.56``), ``request`` after exactly one (``1.00``)."""
    return "request" if shown in ("1", "1.0", "1.00") else "requests"


def requests_text(n: float) -> str:
    """A count of requests held, to two decimals as every line shows it: "1.56 requests", "1.00 request"."""
    shown = f"{n:,.2f}"
    return f"{shown} {request_noun(shown)}"
