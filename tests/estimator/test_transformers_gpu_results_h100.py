"""Held out: the transformers profile (fitted on the H200 run) against a second run on an H100.

bench/results/transformers-h100-80gb-hbm3.json: 84 ``generate`` runs (one planned case skipped: its
eager scores would not fit), the same 9 models and grid plus eager s=16,384 where it fits, on one
NVIDIA H100 80GB HBM3 (79.18 GiB, driver 580.159.04, torch 2.11.0+cu130, transformers 5.17.0), with
the script that ties embeddings as a checkpoint load does: no weights adjustment is needed here.

Nothing was fitted on this run. Achieved when written (issue 6 targets: 10%):
- torch ``max_memory_allocated``: every case within 3.4%.
- device used (what nvidia-smi shows): 79 of 84 within 10%. The misses: one sdpa case
  (Qwen3-0.6B s=1,024 b=32, under by 10.4%: the allocator reserve of a 0.6B model) and eager attention
  on small models (worst gemma-3-1b-it eager s=16,384, +12.3%), where the allocator's stranded share
  of the score tensors varies most.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from estimator.config import load_model_spec
from estimator.estimate import estimate
from estimator.query import Query

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results" / "transformers-h100-80gb-hbm3.json"


@pytest.fixture(scope="module")
def errors() -> list[tuple[str, str, float, float]]:
    records = json.loads(RESULTS.read_text())
    assert len(records) == 84 and len({r["model"] for r in records}) == 9
    specs: dict[str, object] = {}
    out = []
    for r in records:
        m = r["measured"]
        assert not m["oom"] and "error" not in m, r["id"]
        spec = specs.setdefault(r["config_file"], load_model_spec(json.loads((REPO / r["config_file"]).read_text())))
        # Built as a checkpoint loads: the parameter count is the spec's own (tied embeddings tied).
        assert m["params"] == spec.params.total, r["id"]  # type: ignore[attr-defined]
        query = Query(seq_len=r["s"], batch=r["b"], flash_attention=r["attn"] == "sdpa")
        mem = estimate(spec, query, model_id=r["model"]).memory  # type: ignore[arg-type]
        allocated = mem.weights + mem.kv_cache + mem.activations
        out.append((r["id"], r["attn"], allocated / m["max_allocated_bytes"] - 1, mem.total / m["cuda_used_bytes"] - 1))
    return out


def test_allocated_peak_held_out(errors: list[tuple[str, str, float, float]]) -> None:
    worst = max(errors, key=lambda e: abs(e[2]))
    assert abs(worst[2]) <= 0.035, worst


def test_device_total_held_out(errors: list[tuple[str, str, float, float]]) -> None:
    sdpa = [e for e in errors if e[1] == "sdpa"]
    assert sum(abs(e[3]) > 0.10 for e in sdpa) <= 1, [e for e in sdpa if abs(e[3]) > 0.10]
    assert max(abs(e[3]) for e in sdpa) <= 0.105
    within = [e for e in errors if abs(e[3]) <= 0.10]
    assert len(within) >= 79, [e for e in errors if abs(e[3]) > 0.10]
    assert max(abs(e[3]) for e in errors) <= 0.125
