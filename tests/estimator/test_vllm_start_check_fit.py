"""A configuration vLLM will not start does not fit (docs/interface.md), and every solver knows it.

From 0.29 vLLM's start check compares one max_model_len request's blocks with the pool less one
block, the null block BlockPool keeps (v1/core/kv_cache_utils.py@v0.29.0 get_kv_cache_configs,
v1/core/kv_cache_planning.py@v0.33.0: ``_max_memory_usage_bytes_from_groups`` = bytes per pool
block x the blocks the KV-cache groups take, against ``available_memory - _pool_bytes_per_block``),
while "Maximum concurrency" divides the whole pool (``num_blocks`` = available // bytes per block,
null block included) by the same blocks. A pool of exactly one request's blocks prints 1.00x and
still refuses to start. Expected numbers are page arithmetic written here.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from estimator.config import load_model_spec
from estimator.engines import vllm
from estimator.estimate import estimate
from estimator.query import Query
from estimator.result import Estimate
from estimator.spec import ModelSpec

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _load(path: Path, positions: int | None = None) -> ModelSpec:
    config = json.loads(path.read_text())
    if positions is not None:  # the transformers default (32k) would refuse the lengths asked here
        config["text_config"]["max_position_embeddings"] = positions
    return load_model_spec(config)


# Qwen3.5-35B-A3B (bf16): 10 full-attention layers (2 KV heads x 256) and 30 gated-DeltaNet layers.
QWEN35_MOE = _load(FIXTURES / "calibration2" / "configs" / "qwen3_5_moe.json", positions=262_144)
QWEN3_8B = _load(FIXTURES / "configs" / "Qwen__Qwen3-8B.json")
LLAMA = _load(FIXTURES / "configs" / "meta-llama__Llama-3.1-8B.json")
GPT_OSS = _load(FIXTURES / "configs" / "openai__gpt-oss-20b.json")
GEMMA3_1B = _load(FIXTURES / "configs" / "google__gemma-3-1b-it.json")

# Qwen3.5-MoE pages. Attention: 2 heads x 256 x (K + V) x 2 B = 2,048 B per token per layer. GDN
# state: conv (2 x 16 x 128 + 32 x 128 = 8,192 channels) x 3 x 2 B = 49,152 + fp32 recurrent state
# 32 x 128 x 128 x 4 B = 2,097,152 -> 2,146,304 B. On an H100 (and with no GPU named) 0.33 runs the
# GDN prefill on FlashInfer, whose 64-token checkpoints align the block to lcm(16, 64) = 64:
# 64 x cdiv(2,146,304, 64 x 2,048) = 64 x 17 = 1,088 tokens, a page of 1,088 x 2,048 = 2,228,224 B.
# Groups of 10 layers (10 full, 30 GDN): 4 groups; one block index costs 10 pages = 22,282,240 B.
# 0.33 "align" mode with the GDN prefill checkpoint: 3 state pages per GDN group per request.
MOE_BLOCK_TOKENS = 1_088
MOE_BLOCK_BYTES = 10 * 2_228_224
MOE_STATE_BLOCKS = 3 * 3


def _moe_blocks(s: int) -> int:
    return math.ceil(s / MOE_BLOCK_TOKENS) + MOE_STATE_BLOCKS


def q(**kw) -> Query:
    return Query(engine="vllm", **kw)


def test_qwen35_moe_pool_of_one_request_prints_one_but_does_not_start() -> None:
    query = q(vllm="0.33", seq_len=76_160)
    layout, _ = vllm.kv_layout(QWEN35_MOE, query)
    assert (layout.block_size, layout.group_size, layout.num_groups) == (1_088, 10, 4)
    assert layout.bytes_per_block == MOE_BLOCK_BYTES
    # 76,160 = 70 x 1,088: 70 attention blocks x 10 layers + 3 state pages x 30 layers = 790 pages,
    # 79 blocks of 10 pages. A pool of 79 blocks (and change) holds it once...
    assert _moe_blocks(76_160) == 79
    pool = 79 * MOE_BLOCK_BYTES + MOE_BLOCK_BYTES - 1
    blocks, _, concurrency = vllm.kv_capacity(QWEN35_MOE, query, pool, batched_tokens=8192)
    assert (blocks, concurrency) == (79, 1.0)
    # ...but the check wants 79 blocks of the 78 left beside the null block. The longest request in
    # 78: 78 - 9 state blocks = 69 attention blocks = 75,072 tokens.
    check = vllm.start_check(QWEN35_MOE, query, pool, batched_tokens=8192)
    assert not check.fits
    assert check.needed_bytes == 79 * MOE_BLOCK_BYTES
    assert check.available_bytes == pool - MOE_BLOCK_BYTES
    assert check.estimated_max_model_len == 69 * 1_088 == 75_072
    # One block more and it starts.
    assert vllm.start_check(QWEN35_MOE, query, 80 * MOE_BLOCK_BYTES, batched_tokens=8192).fits
    # Before 0.33 no GDN checkpoint: blocks of 16 x cdiv(2,146,304, 16 x 2,048) = 1,056 tokens,
    # 2,162,688 B pages; 76,160 tokens take cdiv(76,160, 1,056) = 73 attention blocks. 0.28 holds no
    # block back and needs 73 + 3 x 2 = 79 blocks of 21,626,880 B, which the pool holds.
    small = 10 * 2_162_688
    assert vllm.kv_layout(QWEN35_MOE, q(vllm="0.28", seq_len=76_160))[0].bytes_per_block == small
    at_028 = vllm.start_check(QWEN35_MOE, q(vllm="0.28", seq_len=76_160), pool, batched_tokens=8192)
    assert at_028.fits and at_028.needed_bytes == 79 * small
    # 0.29 holds the null block (one of its own blocks) back too.
    at_029 = vllm.start_check(QWEN35_MOE, q(vllm="0.29", seq_len=76_160), pool, batched_tokens=8192)
    assert (at_029.needed_bytes, at_029.available_bytes) == (79 * small, pool - small)


def test_qwen3_8b_dense_pool_of_one_request_does_not_start() -> None:
    # Qwen3-8B: 36 layers x 8 KV heads x 128 x (K + V) x 2 B x 16 tokens = 2,359,296 B a block.
    # 33,360 tokens = 2,085 blocks; so do 33,345..33,360. A pool of 2,085 blocks holds one (1.00x)
    # but leaves 2,084 beside the null block: 2,084 x 16 = 33,344 tokens is the longest.
    block = 36 * 8 * 128 * 2 * 2 * 16
    pool = 2_085 * block + block - 1
    for s in (33_345, 33_360):
        query = q(vllm="0.33", seq_len=s)
        assert vllm.kv_layout(QWEN3_8B, query)[0].bytes_per_block == block
        blocks, _, concurrency = vllm.kv_capacity(QWEN3_8B, query, pool, batched_tokens=8192)
        assert (blocks, concurrency) == (2_085, 1.0)
        check = vllm.start_check(QWEN3_8B, query, pool, batched_tokens=8192)
        assert not check.fits and check.estimated_max_model_len == 33_344
    assert vllm.start_check(QWEN3_8B, q(vllm="0.33", seq_len=33_344), pool, batched_tokens=8192).fits


def test_start_check_counts_the_pool_blocks_padding_layers_included_from_030() -> None:
    # Gemma-3-1B: 22 sliding (512-token window) + 4 full layers, 1 KV head x 256 x (K + V) x 2 B x 16
    # tokens = 16,384 B a page. Groups of 4: the 22 sliding layers fill 6 groups (2 padding layers),
    # the full ones 1; one block index costs 4 pages = 65,536 B. At 32,768 tokens (0.33, 8,192
    # batched tokens, two batches in flight) a sliding group takes cdiv(511 + 16,384, 16) + 1 = 1,057
    # blocks, the full group 2,048: 6 x 1,057 + 2,048 = 8,390 blocks = 549,847,040 B, what the check
    # needs (padding layers' pages included, as the concurrency counts them), not the real layers'
    # bytes: (22 x 1,057 + 4 x 2,048) x 16,384 = 515,211,264 B.
    new = q(vllm="0.33", seq_len=32_768)
    layout, _ = vllm.kv_layout(GEMMA3_1B, new)
    assert (layout.group_size, layout.num_groups, layout.bytes_per_block) == (4, 7, 65_536)
    assert 8_390 * 65_536 == 549_847_040 != 515_211_264
    for release in ("0.26", "0.28", "0.29", "0.33"):
        at = q(vllm=release, seq_len=32_768)
        assert vllm.start_need_bytes(GEMMA3_1B, at, 32_768, batched_tokens=8192) == 549_847_040, release
    # The pool of exactly those blocks and one more (the null block) starts it; one block less does not.
    assert vllm.start_check(GEMMA3_1B, new, 8_391 * 65_536, batched_tokens=8192).fits
    assert not vllm.start_check(GEMMA3_1B, new, 8_390 * 65_536, batched_tokens=8192).fits
    # 0.28 compares the same blocks with the whole pool (no null block held back): 8,390 blocks start it.
    assert vllm.start_check(GEMMA3_1B, q(vllm="0.28", seq_len=32_768), 8_390 * 65_536, batched_tokens=8192).fits
    assert not vllm.start_check(GEMMA3_1B, q(vllm="0.28", seq_len=32_768), 8_389 * 65_536, batched_tokens=8192).fits


def test_start_check_counts_padding_layers_from_020() -> None:
    # _max_memory_usage_bytes_from_groups, the same function at v0.20.0-v0.28.0: group size x page x
    # the sum over groups of cdiv(group bytes, page) where the layers form several groups. Gemma-3-1B
    # at 0.25 (one batch of 8,192 in flight): a sliding group takes cdiv(511 + 8,192, 16) + 1 = 545
    # blocks, the full group 2,048: 6 x 545 + 2,048 = 5,318 blocks of 65,536 B = 348,520,448 B; its
    # real layers hold (22 x 545 + 4 x 2,048) x 16,384 = 330,661,888 B, the 2 padding layers' pages
    # (2 x 545 x 16,384 = 17,858,560 B) being the difference. 0.19 (not re-read) keeps the layers' sum.
    at = q(vllm="0.25", seq_len=32_768)
    assert 5_318 * 65_536 == 348_520_448 == 330_661_888 + 2 * 545 * 16_384
    assert vllm.start_need_bytes(GEMMA3_1B, at, 32_768, batched_tokens=8192) == 348_520_448
    assert vllm.start_need_bytes(GEMMA3_1B, q(vllm="0.20", seq_len=32_768), 32_768, batched_tokens=8192) == 348_520_448
    assert vllm.start_need_bytes(GEMMA3_1B, q(vllm="0.19", seq_len=32_768), 32_768, batched_tokens=8192) == 330_661_888
    # The whole pool, without the null block: 5,318 blocks start it, 5,317 do not; the estimated
    # length binary-searches the same blocks (5,317 - 6 x 545 = 2,047 full blocks = 32,752 tokens).
    assert vllm.start_check(GEMMA3_1B, at, 5_318 * 65_536, batched_tokens=8192).fits
    short = vllm.start_check(GEMMA3_1B, at, 5_317 * 65_536, batched_tokens=8192)
    assert not short.fits and short.needed_bytes == 348_520_448
    assert short.estimated_max_model_len == 2_047 * 16 == 32_752
    # One group (Llama-3.1-8B, every layer full attention): the layers' sum is whole blocks already,
    # 32 layers x 8 heads x 128 x (K + V) x 2 B x 16 = 2,097,152 B a block, 2,048 at 32,768 tokens.
    assert vllm.start_need_bytes(LLAMA, q(vllm="0.25", seq_len=32_768), 32_768, batched_tokens=8192) == (
        2_048 * 32 * 8 * 128 * 2 * 2 * 16
    )


def _blocks_needed(est) -> int:
    """The pool blocks vLLM's check asks for at the answer's s (hand arithmetic for Qwen3.5-MoE)."""
    return _moe_blocks(est.query.seq_len) + 1  # + the null block


def test_qwen35_moe_on_h100_answer_follows_the_start_check() -> None:
    # Whatever pool vram measures (N blocks), vLLM 0.33 starts at s iff ceil(s / 1,088) + 9 + 1 <= N:
    # the longest s is (N - 10) x 1,088, and the verdict, the Max line, the s= hint and the JSON agree.
    base = estimate(QWEN35_MOE, q(gpu="h100", vllm="0.33", seq_len=131_072), model_id="m")
    n = base.engine_report.num_gpu_blocks
    longest = (n - 10) * MOE_BLOCK_TOKENS
    assert base.fit is not None and not base.fit.fits
    assert base.fit.max_seq_len == longest == base.engine_report.estimated_max_model_len
    # At (N - 9) x 1,088 the pool holds exactly one request (1.00x): the answer used to say "fits".
    edge = estimate(QWEN35_MOE, q(gpu="h100", vllm="0.33", seq_len=(n - 9) * MOE_BLOCK_TOKENS), model_id="m")
    assert _blocks_needed(edge) == n + 1
    assert edge.engine_report.max_concurrency == 1.0
    assert not edge.engine_report.starts
    assert edge.fit is not None and not edge.fit.fits
    assert edge.fit.max_seq_len == longest and edge.fit.max_batch == 0
    assert edge.fit.min_gpus != 1
    verdict = vllm.ENGINE.verdict(edge, str)
    assert verdict is not None and "does not fit" in verdict and "null block" in verdict
    assert f"s={longest:,}" in verdict
    # util= it names starts it.
    util = edge.engine_report.util_to_fit
    assert util is not None
    fixed = estimate(QWEN35_MOE, q(gpu="h100", vllm="0.33", seq_len=edge.query.seq_len, util=util), model_id="m")
    assert fixed.engine_report.starts and fixed.fit is not None and fixed.fit.fits
    # The longest s starts and fits; one token more does neither.
    at = estimate(QWEN35_MOE, q(gpu="h100", vllm="0.33", seq_len=longest), model_id="m")
    assert at.engine_report.starts and at.fit is not None and at.fit.fits
    past = estimate(QWEN35_MOE, q(gpu="h100", vllm="0.33", seq_len=longest + 1), model_id="m")
    assert not past.engine_report.starts and past.fit is not None and not past.fit.fits


def test_qwen3_8b_on_rtx4090_answer_follows_the_start_check() -> None:
    # N pool blocks of 16 tokens: at s = 16 N the pool holds one request (1.00x) and 0.33 refuses to
    # start; the longest it starts is 16 (N - 1), which the answer gives everywhere.
    base = estimate(QWEN3_8B, q(gpu="rtx4090", vllm="0.33", seq_len=40_960), model_id="m")
    assert isinstance(base.engine_report, vllm.VllmReport)
    n = base.engine_report.num_gpu_blocks
    edge = estimate(QWEN3_8B, q(gpu="rtx4090", vllm="0.33", seq_len=16 * n), model_id="m")
    assert isinstance(edge.engine_report, vllm.VllmReport) and edge.fit is not None
    assert edge.engine_report.max_concurrency == 1.0 and not edge.engine_report.starts
    assert not edge.fit.fits
    assert edge.fit.max_seq_len == 16 * (n - 1) == edge.engine_report.estimated_max_model_len
    verdict = vllm.ENGINE.verdict(edge, str)
    assert verdict is not None
    # Half the RTX 4090's default 256 sampler rows make the room too.
    assert edge.engine_report.seqs_to_fit == 128
    assert verdict.endswith(f"; use util={edge.engine_report.util_to_fit:g}, or seqs=128, or s={16 * (n - 1):,}")
    halved = estimate(QWEN3_8B, q(gpu="rtx4090", vllm="0.33", seq_len=16 * n, max_num_seqs=128), model_id="m")
    assert isinstance(halved.engine_report, vllm.VllmReport) and halved.engine_report.starts
    assert halved.fit is not None and halved.fit.fits


CASES = [
    (QWEN3_8B, "rtx4090", 1, None),
    (QWEN35_MOE, "h100", 1, None),
    (LLAMA, "l4", 1, None),
    (LLAMA, "l4", 2, None),
    (GPT_OSS, "rtx4090", 1, 0.7),  # sliding layers; a smaller share so memory bounds s
]


@pytest.mark.parametrize("release", ["0.29", "0.30", "0.33", "0.34"])
@pytest.mark.parametrize(("spec", "gpu", "batch", "util"), CASES)
def test_fits_implies_starts_and_max_seq_len_is_the_longest_that_starts(
    spec: ModelSpec, gpu: str, batch: int, util: float | None, release: str
) -> None:
    def at(s: int, b: int = batch) -> Estimate:
        return estimate(spec, q(gpu=gpu, vllm=release, seq_len=s, batch=b, util=util), model_id="m")

    base = at(4096)
    assert base.fit is not None and base.fit.max_seq_len is not None
    longest = base.fit.max_seq_len
    assert 4096 < longest < spec.max_position_embeddings  # memory bounds s here
    for s in (longest, longest + 1, longest + 1_000):
        est = at(s)
        assert est.fit is not None and isinstance(est.engine_report, vllm.VllmReport)
        assert not est.fit.fits or est.engine_report.starts, s
        assert est.fit.fits == (s == longest), s
        assert est.fit.max_seq_len == longest, s
    one = at(longest + 1, 1)
    assert isinstance(one.engine_report, vllm.VllmReport)
    if batch == 1:
        # From 0.29 the answer's longest s is vLLM's estimated maximum model length.
        assert not one.engine_report.starts
        assert one.engine_report.estimated_max_model_len == longest
