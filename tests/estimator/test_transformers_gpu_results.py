"""The transformers estimate against our own GPU runs (bench/results/transformers-h200.json).

77 ``generate`` runs, 9 models (Qwen3-0.6B/4B/8B/30B-A3B, Llama-3.2-1B/3B, gemma-3-1b-it,
gemma-2-9b-it, phi-4), sdpa and eager, s 1,024-32,768, b 1-32, on one NVIDIA H200 (139.80 GiB,
driver 580.159.04, torch 2.11.0+cu130, transformers 5.17.0), built by bench/measure_transformers.py.

Every case is predicted with ``estimator.estimate.estimate`` (engine=transformers) from the fixture
config. That run built tied-embedding models UNTIED (transformers 5.x ties lm_head inside
``init_weights``, which the script's ``no_init_weights`` skipped; the script ties since): those
models held one more vocab x hidden bf16 matrix than a checkpoint load, so the prediction adds it
to compare like with like (the weights of the model as built).

Achieved when written (issue 6 targets: 10%):
- torch ``max_memory_allocated`` (weights + KV + activations): every case within 3.1%.
- device used (``cuda_used_bytes``, what nvidia-smi shows; total with overhead): 75 of 77 within
  10%, worst 10.1% (Llama-3.2-1B eager s=8192 under by 10.1%, gemma-3-1b-it eager s=8192 over by
  10.1%: the allocator strands 0.59 vs 0.18 of the score footprint there, the profile takes one
  fp32 score tensor, 0.4); every sdpa case within 10%.
The bounds below sit just above these so that a regression fails.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from estimator.config import load_model_spec
from estimator.estimate import estimate
from estimator.query import Query
from estimator.spec import ModelSpec

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results" / "transformers-h200.json"


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return json.loads(RESULTS.read_text())


@pytest.fixture(scope="module")
def specs(records: list[dict]) -> dict[str, ModelSpec]:
    out: dict[str, ModelSpec] = {}
    for r in records:
        if r["config_file"] not in out:
            out[r["config_file"]] = load_model_spec(json.loads((REPO / r["config_file"]).read_text()))
    return out


def built_untied_extra(spec: ModelSpec, measured: dict) -> int:
    """bf16 bytes of the lm_head copy an untied build holds beyond the (tied) checkpoint."""
    extra_params = measured["params"] - spec.params.total
    if extra_params == 0:
        return 0
    assert spec.tie_word_embeddings
    assert extra_params == spec.vocab_size * spec.hidden_size
    return extra_params * 2


@pytest.fixture(scope="module")
def errors(records: list[dict], specs: dict[str, ModelSpec]) -> list[tuple[str, str, float, float]]:
    """(id, attn, allocated error, total error) per case: predicted / measured - 1."""
    out = []
    for r in records:
        m = r["measured"]
        spec = specs[r["config_file"]]
        query = Query(seq_len=r["s"], batch=r["b"], flash_attention=r["attn"] == "sdpa", engine="transformers")
        mem = estimate(spec, query, model_id=r["model"]).memory
        extra = built_untied_extra(spec, m)
        allocated = mem.weights + extra + mem.kv_cache + mem.activations
        total = mem.total + extra
        out.append((r["id"], r["attn"], allocated / m["max_allocated_bytes"] - 1, total / m["cuda_used_bytes"] - 1))
    return out


def test_the_run_is_complete(records: list[dict]) -> None:
    assert len(records) == 77
    assert len({r["model"] for r in records}) == 9
    assert all(not r["measured"]["oom"] and "error" not in r["measured"] for r in records)
    assert {r["attn"] for r in records} == {"sdpa", "eager"}


def test_tied_models_were_built_untied(records: list[dict], specs: dict[str, ModelSpec]) -> None:
    # Qwen3-0.6B: the checkpoint's 596,049,920 parameters + 151,936 x 1,024 = 155,582,464
    # (the untied lm_head) = 751,632,384, what the script logged.
    qwen = next(r for r in records if r["model"] == "Qwen/Qwen3-0.6B")
    spec = specs[qwen["config_file"]]
    assert spec.tie_word_embeddings and spec.params.total == 596_049_920
    assert qwen["measured"]["params"] == 596_049_920 + 151_936 * 1_024 == 751_632_384
    # gemma-2-9b-it: 256,000 x 3,584 = 917,504,000 more than its 9,241,705,984.
    gemma = next(r for r in records if r["model"] == "google/gemma-2-9b-it")
    assert gemma["measured"]["params"] == specs[gemma["config_file"]].params.total + 256_000 * 3_584
    # Untied checkpoints (phi-4, Qwen3-8B, Qwen3-30B-A3B) were built exactly.
    for model in ("microsoft/phi-4", "Qwen/Qwen3-8B", "Qwen/Qwen3-30B-A3B"):
        r = next(x for x in records if x["model"] == model)
        assert built_untied_extra(specs[r["config_file"]], r["measured"]) == 0


def test_weights_as_built_match_the_allocated_bytes(records: list[dict], specs: dict[str, ModelSpec]) -> None:
    # Allocated after the build = parameters x 2 B, plus the 32 MiB cuBLAS workspace and small
    # buffers once a matmul ran (the first model was built before any): within 0.12 GiB.
    for r in records:
        spec = specs[r["config_file"]]
        mem = estimate(spec, Query(seq_len=r["s"], batch=r["b"]), model_id=r["model"]).memory
        built = mem.weights + built_untied_extra(spec, r["measured"])
        assert 0 <= r["measured"]["weights_bytes"] - built < 0.12 * 2**30, r["id"]


def test_allocated_peak_within_target(errors: list[tuple[str, str, float, float]]) -> None:
    worst = max(errors, key=lambda e: abs(e[2]))
    assert abs(worst[2]) <= 0.10, worst  # the target
    assert abs(worst[2]) <= 0.035, worst  # achieved 3.1%


def test_device_total_within_target(errors: list[tuple[str, str, float, float]]) -> None:
    within = [e for e in errors if abs(e[3]) <= 0.10]
    assert len(within) >= 75, [e for e in errors if abs(e[3]) > 0.10]
    worst = max(errors, key=lambda e: abs(e[3]))
    assert abs(worst[3]) <= 0.102, worst
    sdpa = [e for e in errors if e[1] == "sdpa"]
    assert all(abs(e[3]) <= 0.10 for e in sdpa), [e for e in sdpa if abs(e[3]) > 0.10]
