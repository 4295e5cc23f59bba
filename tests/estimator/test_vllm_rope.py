"""vLLM's rotary caches: one table per distinct rope, with the scaled positions as its rows.

Expected numbers by hand from the published configs (tests/fixtures/configs) and vLLM's
layers/rotary_embedding/linear_scaling_rope.py (``max_len = max_position_embeddings x
scaling_factor``) and models/gemma3.py (sliding layers: default rope at rope_local_base_freq).
"""

from __future__ import annotations

import json
from pathlib import Path

from estimator.config import load_model_spec
from estimator.engines import vllm
from estimator.query import Query

CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
MiB = 1 << 20


def _spec(name: str):
    return load_model_spec(json.loads((CONFIGS / f"{name}.json").read_text()))


def test_gemma3_holds_a_scaled_global_table_and_a_local_one() -> None:
    # gemma-3-4b-it: 131,072 positions, linear rope x 8 on the full layers, head_dim 256, bf16:
    # 131,072 x 8 x 256 x 2 B (global) + 131,072 x 256 x 2 B (local) = 512 + 64 MiB.
    assert vllm.rope_cache_bytes(_spec("google__gemma-3-4b-it"), Query(engine="vllm")) == 576 * MiB
    # gemma-3-1b-it: 32,768 positions, no scaling; the two ropes differ in base, so two tables.
    assert vllm.rope_cache_bytes(_spec("google__gemma-3-1b-it"), Query(engine="vllm")) == 2 * 32_768 * 256 * 2


def test_one_table_where_every_layer_shares_the_rope() -> None:
    # Llama-3.1-8B: llama3 scaling keeps the positions as given: 131,072 x 128 x 2 B = 32 MiB.
    assert vllm.rope_cache_bytes(_spec("meta-llama__Llama-3.1-8B"), Query(engine="vllm")) == 32 * MiB
    # gemma-2-9b: one rope for sliding and full layers: 8,192 x 256 x 2 B.
    assert vllm.rope_cache_bytes(_spec("google__gemma-2-9b-it"), Query(engine="vllm")) == 8_192 * 256 * 2
