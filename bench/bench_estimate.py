"""How long one estimate takes once the config is loaded (target: well under 1 ms).

Run: .venv/bin/python -m pytest bench/bench_estimate.py --benchmark-enable
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.commands import EstimateCmd, parse
from estimator.config import load_model_spec
from estimator.estimate import estimate

CONFIGS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "configs"


def _spec(name: str):
    return load_model_spec(json.loads((CONFIGS / name).read_text()))


@pytest.mark.parametrize("name", ["meta-llama__Llama-3.1-8B.json", "Qwen__Qwen3-30B-A3B.json",
                                  "google__gemma-2-9b-it.json", "deepseek-ai__DeepSeek-V2-Lite-Chat.json"])
def test_estimate_without_gpu(benchmark, name: str) -> None:
    spec = _spec(name)
    cmd = parse("org/model s=32k b=8 kv=fp8")
    assert isinstance(cmd, EstimateCmd)
    result = benchmark(estimate, spec, cmd.query, model_id="org/model")
    assert result.memory.total > 0
    # Loaded-config estimates must stay well under a millisecond (median).
    assert benchmark.stats is None or benchmark.stats.stats.median < 1e-3


@pytest.mark.parametrize("engine", ["transformers", "vllm"])
def test_estimate_with_fit_solvers(benchmark, engine: str) -> None:
    # With gpu= the solvers run binary searches (max s, max b, min GPUs): the worst case.
    spec = _spec("meta-llama__Llama-3.1-8B.json")
    cmd = parse(f"org/model s=32k b=8 gpu=h100 engine={engine}")
    assert isinstance(cmd, EstimateCmd)
    result = benchmark(estimate, spec, cmd.query, model_id="org/model")
    assert result.fit is not None


def test_load_model_spec(benchmark) -> None:
    raw = json.loads((CONFIGS / "Qwen__Qwen3-30B-A3B.json").read_text())
    spec = benchmark(load_model_spec, raw)
    assert spec.num_experts == 128
