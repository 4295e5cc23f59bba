"""Sliding-window and chunked-local groups reserve their window plus the tokens in flight.

v1/kv_cache_interface.py ``max_admission_blocks_per_request`` (what ``max_memory_usage_bytes``
divides into pages, so the start check, the estimated max_model_len and "Maximum concurrency"):

* SlidingWindowSpec ``cdiv(min(window - 1 + in-flight, max_model_len), block) + 1``;
* ChunkedLocalAttentionSpec ``cdiv(min(chunk + in-flight, max_model_len), block)``;

in-flight = ``max_num_batched_tokens`` up to v0.25.0, ``VllmConfig.max_in_flight_tokens`` =
``max_concurrent_batches x max_num_batched_tokens`` from v0.26.0 (config/vllm.py@v0.26.0,
@v0.29.0, @v0.33.0): 2 batches with one pipeline stage under async scheduling, which a plain start
turns on unless the speculative method is outside the release's list ("draft_model" joins it in
v0.28.0). Expected numbers below are hand arithmetic from those formulas.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from estimator.config import load_model_spec
from estimator.engines import vllm
from estimator.engines import vllm_profiles as vp
from estimator.query import Query
from estimator.spec import Drafter, LayerKV

GiB = 1 << 30
KiB = 1 << 10
CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
# gpt-oss-20b: 24 layers alternating sliding (window 128) and full, 8 KV heads x 64. A bf16 page of
# 16 tokens: 16 x 8 x 64 x 2 (K, V) x 2 B = 32 KiB; 12 + 12 layers -> 2 groups of 12.
GPT_OSS = load_model_spec(json.loads((CONFIGS / "openai__gpt-oss-20b.json").read_text()))
# Llama-4-Scout: 48 layers, every fourth full, the rest chunked-local over 8,192-token chunks; 8 KV
# heads x 128: a page of 16 tokens is 16 x 8 x 128 x 2 x 2 B = 64 KiB; 36 + 12 layers -> groups of
# 12: 3 chunked groups and 1 full group.
SCOUT = load_model_spec(json.loads((CONFIGS / "meta-llama__Llama-4-Scout-17B-16E-Instruct.json").read_text()))
MNBT = 8192  # vllm serve's default on an 80 GB H100 in every release read


def q(**kw: object) -> Query:
    return Query(engine="vllm", gpu="h100", **kw)  # type: ignore[arg-type]


def test_in_flight_batches_per_release_and_speculative_method() -> None:
    profile = vp.PROFILES
    assert vp.in_flight_batches(profile["0.25"]) == 1  # max_num_batched_tokens alone up to 0.25.0
    for version in ("0.26", "0.29", "0.33"):
        assert vp.in_flight_batches(profile[version]) == 2  # async scheduling on, one stage
        for method in ("eagle", "eagle3", "mtp", "dflash"):  # EagleModelTypes keep it on
            assert vp.in_flight_batches(profile[version], method) == 2
    # "draft_model" turns the default off in 0.26-0.27 ("Async scheduling not supported with
    # draft_model-based speculative decoding"), not from 0.28.0.
    assert vp.in_flight_batches(profile["0.26"], "draft_model") == 1
    assert vp.in_flight_batches(profile["0.27"], "draft_model") == 1
    assert vp.in_flight_batches(profile["0.28"], "draft_model") == 2
    assert vp.in_flight_batches(profile["0.33"], "draft_model") == 2


@pytest.mark.parametrize(
    ("version", "sliding_blocks"),
    [
        # cdiv(min(127 + 8,192, 65,536), 16) + 1 = cdiv(8,319, 16) + 1 = 520 + 1
        ("0.25", 521),
        # cdiv(min(127 + 2 x 8,192, 65,536), 16) + 1 = cdiv(16,511, 16) + 1 = 1,032 + 1
        ("0.26", 1033),
        ("0.29", 1033),
        ("0.33", 1033),
    ],
)
def test_gpt_oss_sliding_blocks_per_request(version: str, sliding_blocks: int) -> None:
    query = q(vllm=version, seq_len=65_536)
    layout, _ = vllm.kv_layout(GPT_OSS, query)
    assert (layout.group_size, layout.num_groups, layout.bytes_per_block) == (12, 2, 12 * 32 * KiB)
    full_blocks = 65_536 // 16  # 4,096
    per_request = sliding_blocks + full_blocks
    assert (
        vp.blocks_per_request(
            65_536, 16, sliding_window=128, max_num_batched_tokens=MNBT * (2 if version != "0.25" else 1)
        )
        == sliding_blocks
    )
    # "Maximum concurrency": a pool of 20,000 blocks over the blocks of one request.
    pool = 20_000 * 12 * 32 * KiB
    blocks, _, concurrency = vllm.kv_capacity(GPT_OSS, query, pool, batched_tokens=MNBT)
    assert blocks == 20_000
    assert concurrency == pytest.approx(20_000 / per_request)
    # The start check: every layer's max_memory_usage_bytes, 12 sliding + 12 full layers.
    needed = 12 * sliding_blocks * 32 * KiB + 12 * full_blocks * 32 * KiB
    assert vllm.request_kv_bytes(GPT_OSS, query, 65_536, batched_tokens=MNBT) == needed


def test_gpt_oss_start_check_and_estimated_length_at_0_26() -> None:
    # A pool of exactly one 0.25.0 request (12 x 32 KiB x (521 + 4,096) = 1,731.375 MiB) no longer
    # holds one at 0.26 (the sliding layers want 1,033 blocks each); vLLM's binary search finds the
    # longest length whose need fits: 12 x 32 KiB x (1,033 + cdiv(n, 16)) <= pool, cdiv(n, 16) <=
    # 4,617 - 1,033 = 3,584 -> n = 57,344.
    pool = 12 * 32 * KiB * (521 + 4096)
    assert vllm.start_check(GPT_OSS, q(vllm="0.25", seq_len=65_536), pool, batched_tokens=MNBT).fits
    check = vllm.start_check(GPT_OSS, q(vllm="0.26", seq_len=65_536), pool, batched_tokens=MNBT)
    assert not check.fits
    assert check.estimated_max_model_len == 57_344


@pytest.mark.parametrize(
    ("version", "chunked_blocks"),
    [
        # cdiv(min(8,192 + 8,192, 65,536), 16) = 1,024 (no extra block: chunks start on a block)
        ("0.25", 1024),
        # cdiv(min(8,192 + 2 x 8,192, 65,536), 16) = 1,536
        ("0.26", 1536),
        ("0.29", 1536),
        ("0.33", 1536),
    ],
)
def test_llama4_chunked_blocks_per_request(version: str, chunked_blocks: int) -> None:
    query = q(vllm=version, seq_len=65_536)
    layout, _ = vllm.kv_layout(SCOUT, query)
    assert {(t.kind, t.window, t.num_layers) for t in layout.types} == {("chunked", 8192, 36), ("full", None, 12)}
    assert (layout.group_size, layout.num_groups) == (12, 4)
    per_request = 3 * chunked_blocks + 65_536 // 16
    pool = 30_000 * 12 * 64 * KiB
    blocks, _, concurrency = vllm.kv_capacity(SCOUT, query, pool, batched_tokens=MNBT)
    assert blocks == 30_000
    assert concurrency == pytest.approx(30_000 / per_request)
    assert (
        vllm.request_kv_bytes(SCOUT, query, 65_536, batched_tokens=MNBT) == (36 * chunked_blocks + 12 * 4096) * 64 * KiB
    )


def test_short_requests_stop_at_max_model_len() -> None:
    # 4,096 tokens: min(window - 1 + in-flight, 4,096) = 4,096 in both releases -> sliding 256 + 1,
    # chunked 256 (no +1).
    for version in ("0.25", "0.33"):
        assert vp.blocks_per_request(4096, 16, sliding_window=128, max_num_batched_tokens=2 * MNBT) == 257
        assert vp.blocks_per_request(4096, 16, attention_chunk=8192, max_num_batched_tokens=2 * MNBT) == 256
        layout, _ = vllm.kv_layout(SCOUT, q(vllm=version, seq_len=4096))
        assert vllm._blocks_per_request(layout, 4096, MNBT) == 3 * 256 + 256


def test_a_draft_model_keeps_one_batch_in_flight_until_0_28() -> None:
    # A full-attention drafter with gpt-oss's vocabulary: its 24 layers join the 12 full ones (36
    # full, 12 sliding -> groups of 12: 1 sliding group, 3 full groups). Async scheduling is off by
    # default with "draft_model" in 0.26-0.27, so the sliding group takes 521 blocks there and 1,033
    # from 0.28.
    full = LayerKV(kind="full", kv_heads=8, key_dim=64, value_dim=64)
    draft_spec = GPT_OSS.model_copy(update={"layers": (full,) * 24})
    spec = GPT_OSS.model_copy(update={"drafter": Drafter(model_id="a/draft", method="draft_model", spec=draft_spec)})
    for version, sliding in (("0.26", 521), ("0.27", 521), ("0.28", 1033), ("0.33", 1033)):
        layout, _ = vllm.kv_layout(spec, q(vllm=version, seq_len=65_536, draft="a/draft", spec=3))
        assert (layout.group_size, layout.num_groups) == (12, 4)
        assert vllm._blocks_per_request(layout, 65_536, MNBT) == sliding + 3 * 4096


def test_calibrated_gemma4_at_0_23_is_unchanged() -> None:
    # calibration2 n036 (v0.23.0) reserves one batch: the in-flight rule starts at 0.26.
    assert vp.in_flight_batches(vp.PROFILES["0.23"]) == 1
    sliding = LayerKV(kind="sliding", window=1024, kv_heads=16, key_dim=256, value_dim=256)
    full = LayerKV(kind="full", kv_heads=4, key_dim=512, value_dim=512)
    spec = GPT_OSS.model_copy(update={"layers": ((sliding,) * 5 + (full,)) * 10, "model_type": "gemma4_text"})
    _, _, concurrency = vllm.kv_capacity(spec, q(vllm="0.23", seq_len=32_768), int(28.41 * GiB), batched_tokens=MNBT)
    assert round(concurrency, 2) == 2.98  # logged "Maximum concurrency for 32,768 tokens per request: 2.98x"


def test_chunked_attention_with_an_eagle_drafter_caches_every_layer_whole() -> None:
    # config/vllm.py (every release read): chunked local attention + an EAGLE-style drafter turns the
    # hybrid KV cache manager off; unify_hybrid_kv_cache_specs makes the chunked layers full
    # attention. Scout's 48 layers + one drafter layer form one group of 49 full layers: a request of
    # 65,536 tokens takes 65,536 / 16 = 4,096 blocks of the group.
    full = LayerKV(kind="full", kv_heads=8, key_dim=128, value_dim=128)
    head = SCOUT.model_copy(update={"layers": (full,), "vision": None})
    spec = SCOUT.model_copy(update={"drafter": Drafter(model_id="a/eagle", method="eagle", spec=head)})
    query = q(vllm="0.33", seq_len=65_536, draft="a/eagle", spec=3, mm_limit=0)
    layout, _ = vllm.kv_layout(spec, query)
    assert [(t.kind, t.num_layers) for t in layout.types] == [("full", 49)]
    assert vllm._chunked_with_hidden_state_drafter(spec, query) is not None
    assert vllm._chunked_with_hidden_state_drafter(SCOUT, q(vllm="0.33", seq_len=65_536)) is None
    assert vllm._blocks_per_request(layout, 65_536, MNBT) == 4096
