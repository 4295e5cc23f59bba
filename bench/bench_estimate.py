"""How long one estimate takes once the config is loaded (target: well under 1 ms).

Run: .venv/bin/python -m pytest bench/bench_estimate.py --benchmark-enable
Medians are recorded in bench/README.md. The suite runs these once each (benchmarks disabled)
as smoke tests; speed is shown by the benchmark run, never asserted in a test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.commands import EstimateCmd, parse
from estimator.config import load_model_spec
from estimator.estimate import estimate
from estimator.spec import ModelSpec

CONFIGS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "configs"

# The models the vLLM solvers must size in under 1 ms with gpu=h100 engine=vllm: dense GQA, MXFP4
# MoE with sliding layers, interleaved sliding windows (1:1 and 5:1), MLA, and a 128-expert MoE.
VLLM_MODELS = [
    "meta-llama__Llama-3.1-8B.json",
    "openai__gpt-oss-20b.json",
    "google__gemma-2-9b-it.json",
    "google__gemma-3-1b-it.json",
    "deepseek-ai__DeepSeek-V2-Lite-Chat.json",
    "Qwen__Qwen3-30B-A3B.json",
]


def _spec(name: str) -> ModelSpec:
    return load_model_spec(json.loads((CONFIGS / name).read_text()))


@pytest.mark.parametrize(
    "name",
    [
        "meta-llama__Llama-3.1-8B.json",
        "Qwen__Qwen3-30B-A3B.json",
        "google__gemma-2-9b-it.json",
        "deepseek-ai__DeepSeek-V2-Lite-Chat.json",
    ],
)
def test_estimate_without_gpu(benchmark, name: str) -> None:
    spec = _spec(name)
    cmd = parse("org/model s=32k b=8 kv=fp8")
    assert isinstance(cmd, EstimateCmd)
    result = benchmark(estimate, spec, cmd.query, model_id="org/model")
    assert result.memory.total > 0


@pytest.mark.parametrize("name", VLLM_MODELS)
def test_vllm_estimate_with_solvers(benchmark, name: str) -> None:
    # With gpu= the solvers run (max s, max b, min GPUs) and vLLM's KV pool is sized.
    spec = _spec(name)
    cmd = parse("org/model gpu=h100 engine=vllm")
    assert isinstance(cmd, EstimateCmd)
    result = benchmark(estimate, spec, cmd.query, model_id="org/model")
    assert result.fit is not None and result.engine_report is not None


def test_transformers_estimate_with_solvers(benchmark) -> None:
    # transformers' activations grow with s and b, so its solvers re-estimate at every probe.
    spec = _spec("meta-llama__Llama-3.1-8B.json")
    cmd = parse("org/model s=32k b=8 gpu=h100")
    assert isinstance(cmd, EstimateCmd)
    result = benchmark(estimate, spec, cmd.query, model_id="org/model")
    assert result.fit is not None


def test_load_model_spec(benchmark) -> None:
    raw = json.loads((CONFIGS / "Qwen__Qwen3-30B-A3B.json").read_text())
    spec = benchmark(load_model_spec, raw)
    assert spec.num_experts == 128


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("meta-llama__Llama-3.1-8B.json", "s=32k b=8 engine=vllm"),
        ("Qwen__Qwen3-30B-A3B.json", "s=32k b=8 engine=vllm"),
        ("meta-llama__Llama-3.1-8B.json", "s=32k b=8"),
        # 61 layers: every card's search tries each count up to one layer per GPU.
        ("moonshotai__Kimi-K2-Instruct.json", "s=32k b=8"),
        # A MoE model's replicas searched per card, at its longest context.
        ("moonshotai__Kimi-K2-Instruct.json", "s=max b=64 engine=vllm"),
    ],
)
def test_gpu_any_sizes_every_card(benchmark, name: str, words: str) -> None:
    # gpu=any: the estimate and its solvers once per card of the catalog.
    spec = _spec(name)
    cmd = parse(f"org/model {words} gpu=any")
    assert isinstance(cmd, EstimateCmd)
    result = benchmark.pedantic(estimate, args=(spec, cmd.query), kwargs={"model_id": "org/model"}, rounds=3)
    assert result.cards
