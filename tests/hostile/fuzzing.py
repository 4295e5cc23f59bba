"""Shared pieces of the fuzz tests: the seed configs, their mutations, and the checks on an answer."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _seed(path: Path) -> dict[str, Any] | None:
    data = json.loads(path.read_text())
    if isinstance(data, dict) and "model_type" not in data and isinstance(data.get("config"), dict):
        data = data["config"]
    return data if isinstance(data, dict) and "model_type" in data else None


SEED_PATHS = sorted([*(FIXTURES / "configs").glob("*.json"), *(FIXTURES / "oracle" / "configs").glob("*.json")])
SEEDS: list[dict[str, Any]] = [seed for seed in map(_seed, SEED_PATHS) if seed is not None]

# The values a hostile or mistyped config holds where a number belongs.
HOSTILE_VALUES = (
    st.sampled_from(
        [
            0,
            -1,
            -4,
            1,
            2,
            3,
            0.5,
            1.5,
            -0.0,
            1e-300,
            1e30,
            1e308,
            10**30,
            2**63,
            10**400,
            float("nan"),
            float("inf"),
            float("-inf"),
            True,
            False,
            None,
            "",
            "x",
            "4096",
            [],
            [0, 0],
            [-1, 1],
            [1],
            {},
            {"a": 1},
            [[[1]]],
        ]
    )
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a value in a decoded JSON document (the root excluded)."""
    if isinstance(node, dict):
        items: Any = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        return
    for key, value in items:
        yield (*prefix, key)
        yield from paths(value, (*prefix, key))


_GONE = object()


def _child(node: Any, key: Any) -> Any:
    if isinstance(node, dict) and key in node:
        return node[key]
    if isinstance(node, list) and isinstance(key, int) and key < len(node):
        return node[key]
    return _GONE


def _nest(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = [value]
    return value


@st.composite
def mutated_configs(draw: st.DrawFn) -> dict[str, Any]:
    """A fixture config with one to four values replaced, deleted or buried in nesting."""
    config: dict[str, Any] = json.loads(json.dumps(draw(st.sampled_from(SEEDS))))
    spots = list(paths(config))
    for _ in range(draw(st.integers(1, 4))):
        spot = draw(st.sampled_from(spots))
        parent: Any = config
        for key in spot[:-1]:
            parent = _child(parent, key)
        key = spot[-1]
        if _child(parent, key) is _GONE:
            continue  # an earlier mutation replaced or removed it
        action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "nest"]))
        if action == "delete" and isinstance(parent, dict):
            del parent[key]
        elif action == "nest":
            parent[key] = _nest(parent[key], draw(st.sampled_from([2, 40, 200])))
        else:
            parent[key] = draw(HOSTILE_VALUES)
    return config


_SIGNED = frozenset({"headroom", "kv_cache_memory", "kv_reserved_memory"})


# 10**18 bytes is an exabyte: no figure of a real model at a sane query comes near it.
SANE = 10**18


def bad_figures(node: Any, where: str = "", *, signed: bool = False, limit: int = SANE) -> list[str]:
    """Negative, NaN, infinite or absurd figures in an answer's JSON.

    Three figures are signed by design and only checked for being finite and sane: a fit's ``headroom``
    (negative: it does not fit), vLLM's ``kv_cache_memory`` (negative: vLLM would not start) and
    0.34's ``kv_reserved_memory`` (the profiled capacity, negative likewise).
    """
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            found += bad_figures(value, f"{where}.{key}", signed=key in _SIGNED, limit=limit)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += bad_figures(value, f"{where}[{index}]", limit=limit)
    elif (
        isinstance(node, int | float)
        and not isinstance(node, bool)
        and (not math.isfinite(node) or abs(node) > limit or (node < 0 and not signed))
    ):
        found.append(f"{where}={node!r}")
    return found
