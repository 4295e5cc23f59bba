"""How long normalising a config takes once imported (target: under 1 ms on the table's path).

Run: .venv/bin/python -m pytest bench/bench_config.py --benchmark-enable
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from estimator.archconfig import normalise
from estimator.config import load_model_spec

CONFIGS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "configs"


@pytest.mark.parametrize(
    "name",
    [
        "meta-llama__Llama-3.1-8B.json",
        "Qwen__Qwen3-30B-A3B.json",
        "google__gemma-2-9b-it.json",
        "deepseek-ai__DeepSeek-V3.json",
    ],
)
def test_normalise(benchmark, name: str) -> None:
    raw = json.loads((CONFIGS / name).read_text())
    filled, source = normalise(raw)  # warm: the table (and, for a class fallback, transformers) loaded
    result = benchmark(normalise, raw)
    assert result[0]["hidden_size"] == filled["hidden_size"]
    if source == "table":
        assert benchmark.stats is None or benchmark.stats.stats.median < 1e-3


@pytest.mark.parametrize("name", ["meta-llama__Llama-3.1-8B.json", "Qwen__Qwen3-30B-A3B.json"])
def test_load_model_spec(benchmark, name: str) -> None:
    raw = json.loads((CONFIGS / name).read_text())
    load_model_spec(raw)
    spec = benchmark(load_model_spec, raw)
    assert spec.params.total > 0
