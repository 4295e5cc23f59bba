"""The null block at b above 1: BlockPool keeps one block of the pool for itself in every release
(v1/core/block_pool.py), so the scheduler holds (num_blocks - 1) / blocks-per-request requests at
once, while vLLM prints "Maximum concurrency" over all num_blocks. The fit, max_batch and the text
follow the first; the quoted log line keeps the second. Numbers by hand arithmetic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.report import engine_line
from estimator.config import load_model_spec
from estimator.engines import vllm
from estimator.estimate import estimate
from estimator.grammar import parse_query
from estimator.result import Estimate

CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
# Qwen3-8B: 36 layers x 8 KV heads x 128 x 2 (K, V) x 2 B = 147,456 B per token; 16-token blocks.
BLOCK = 16 * 36 * 8 * 128 * 2 * 2


def qwen3_8b(*words: str) -> Estimate:
    spec = load_model_spec(json.loads((CONFIGS / "Qwen__Qwen3-8B.json").read_text()))
    q, _ = parse_query(["m", "engine=vllm", "gpu=rtx4090", "util=0.9", *words])
    return estimate(spec, q, model_id="m")


@pytest.mark.parametrize(
    ("release", "seq_len", "batch"),
    [
        # 0.33: a pool of 1,966 blocks = 2 x 983, and 15,728 tokens = 983 blocks of 16.
        ("0.33", 15_728, 2),
        # 0.25 (whose start check does not hold the null block back): 2,513 blocks = 7 x 359, and
        # 5,744 tokens = 359 blocks.
        ("0.25", 5_744, 7),
    ],
)
def test_a_pool_of_exactly_b_requests_blocks_does_not_hold_b(release: str, seq_len: int, batch: int) -> None:
    est = qwen3_8b(f"vllm={release}", f"s={seq_len}", f"b={batch}")
    v, fit = est.engine_report, est.fit
    assert isinstance(v, vllm.VllmReport) and fit is not None
    per_request = seq_len // 16
    # The case sits on the boundary: the pool's blocks are exactly b requests' (by its own bytes).
    assert v.num_gpu_blocks == v.kv_cache_memory // BLOCK == batch * per_request
    # vLLM prints b.00x; its scheduler has one block fewer than b requests take.
    assert v.max_concurrency == batch
    assert f"Maximum concurrency for {seq_len:,} tokens per request: {batch}.00x" in " ".join(v.log_lines)
    assert v.max_resident == int((batch * per_request - 1) / per_request * 100) / 100 == batch - 0.01
    assert v.starts and not fit.fits
    assert fit.max_batch == batch - 1
    # One block less a request: b requests of 16 tokens fewer fit in the b x per_request - 1 blocks.
    assert fit.max_seq_len == seq_len - 16
    assert v.util_to_fit is not None and v.util_to_fit > 0.9
    verdict = vllm.VllmEngine().verdict(est, lambda x: x) or ""
    assert (
        f'has {v.num_gpu_blocks:,} blocks and its log prints "Maximum concurrency for {seq_len:,} tokens per '
        f'request: {batch}.00x", but one block is its null block'
    ) in verdict
    assert f"it holds {batch - 0.01:.2f} of the {batch} requests of {seq_len:,} tokens at once" in verdict
    line = engine_line(est) or ""
    assert (
        f"room for {batch - 0.01:.2f} requests of {seq_len:,} tokens at once (its {v.num_gpu_blocks:,} blocks" in line
    )
    assert "(vLLM's maximum concurrency, over all its blocks, times max_model_len)" in line
    assert f"{batch}.00" not in line  # vLLM's own figure stays in its log lines


def test_one_block_shorter_requests_fit() -> None:
    # 15,712 tokens = 982 blocks: 2 x 982 = 1,964 of the 1,965 blocks the scheduler has.
    est = qwen3_8b("vllm=0.33", "s=15712", "b=2")
    v = est.engine_report
    assert isinstance(v, vllm.VllmReport) and est.fit is not None
    assert v.num_gpu_blocks == 1_966
    assert est.fit.fits and v.max_resident == int(1_965 / 982 * 100) / 100 == 2.0
    assert est.fit.max_batch == 2
