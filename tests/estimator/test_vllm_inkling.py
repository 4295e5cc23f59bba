"""Inkling's short-convolution states in vLLM 0.26+, and the tokens multi-module MTP keeps in
sliding windows (0.28+).

Inkling (models/inkling/nvidia/sconv_swa_attn.py@v0.26.0, the same spec @v0.29.0 and @v0.33.0):
each decoder layer owns one SlidingWindowSpec for its four conv streams (K, V, attention output, MLP
output), block = window = the conv kernel, ``num_kv_heads // tp`` heads of width
``next_pow2(2 x head_dim + 2 x hidden / num_kv_heads)``, ``head_size_v=0``, bf16. Pages are unified
to the largest (``unify_kv_cache_spec_page_size``: smaller pages that divide it raise their block),
layers group by equal spec, and every SlidingWindowSpec reserves
``cdiv(min(window - 1 + extra_retained + in-flight, max_model_len), block) + 1`` blocks per request.
Expected numbers are hand arithmetic from those rules and the oracle config (transformers 5.25).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from common.errors import InputError, UnmodelledError
from estimator.config import load_model_spec
from estimator.engines import vllm
from estimator.query import Query

ROOT = Path(__file__).resolve().parents[2]
# inkling_text: 66 layers, 55 "hybrid_sliding" (16 KV heads x 128, window 512) and 11 "hybrid"
# (8 KV heads x 128), hidden 6,144, conv kernel 4.
INKLING = load_model_spec(json.loads((ROOT / "tests/fixtures/oracle/configs/inkling_text.json").read_text()))
GPT_OSS = load_model_spec(json.loads((ROOT / "tests/fixtures/configs/openai__gpt-oss-20b.json").read_text()))
KiB = 1 << 10
MNBT = 8192  # vllm serve's default on an 80 GB H100
IN_FLIGHT = 2 * MNBT  # two batches under async scheduling (0.26+)


def q(**kw: object) -> Query:
    return Query(engine="vllm", gpu="h100", **kw)  # type: ignore[arg-type]


def _conv_page(kv_heads: int, head_dim: int, tp: int) -> int:
    raw = 2 * head_dim + 2 * 6144 // kv_heads
    width = 1 << (raw - 1).bit_length()
    return 4 * (kv_heads // tp) * width * 2  # kernel tokens x heads x width x bf16


def test_conv_state_pages_by_hand() -> None:
    # Full layers: 2 x 128 + 2 x 6,144 / 8 = 1,792 -> 2,048 wide; sliding: 256 + 2 x 384 = 1,024.
    assert _conv_page(8, 128, 1) == 4 * 8 * 2048 * 2 == 131_072
    assert _conv_page(16, 128, 1) == 4 * 16 * 1024 * 2 == 131_072
    assert [vllm._inkling_conv(INKLING, layer, 1) for layer in INKLING.layers[4:6]] == [
        (16, 1024, 1024),
        (8, 1792, 2048),
    ]


@pytest.mark.parametrize("version", ["0.26", "0.29", "0.33"])
@pytest.mark.parametrize(("tp", "kv", "blocks"), [(1, "auto", (16, 32)), (8, "auto", (16, 32)), (8, "fp8", (32, 64))])
def test_groups_and_blocks_per_request(version: str, tp: int, kv: str, blocks: tuple[int, int]) -> None:
    layout, _ = vllm.kv_layout(INKLING, q(vllm=version, gpus=tp, kv=kv, seq_len=65_536))
    # The conv page (131,072 / tp) is the largest: attention pages (bf16: sliding 16 x 16 x 256 x 2,
    # full 16 x 8 x 256 x 2 = half of it; fp8 half again) raise their block instead.
    page = 131_072 // tp
    got = {(t.kind, t.window, t.num_layers): (t.page_bytes, t.block_size) for t in layout.types}
    sliding_block, full_block = blocks
    assert got == {
        ("sliding", 512, 55): (page, sliding_block),
        ("full", None, 11): (page, full_block),
        ("sliding", 4, 55): (page, 4),  # the sliding layers' conv states (16 heads x 1,024)
        ("sliding", 4, 11): (page, 4),  # the full layers' (8 heads x 2,048): another spec, other groups
    }
    # Four specs of 55, 55, 11, 11 layers: groups of 11 (55 >= 1.5 x 11), 5 + 5 + 1 + 1 = 12 groups.
    assert (layout.group_size, layout.num_groups, layout.bytes_per_block) == (11, 12, 11 * page)
    sliding = -(-(511 + IN_FLIGHT) // sliding_block) + 1  # bf16: cdiv(16,895, 16) + 1 = 1,057
    conv = -(-(3 + IN_FLIGHT) // 4) + 1  # cdiv(16,387, 4) + 1 = 4,098
    full = 65_536 // full_block
    assert vllm._blocks_per_request(layout, 65_536, MNBT) == 5 * sliding + 6 * conv + full
    if kv == "auto":
        assert 5 * sliding + 6 * conv + full == 5 * 1057 + 6 * 4098 + 2048 == 31_921


def test_kv_bytes_of_one_request_by_hand() -> None:
    # TP 8, 32,768 tokens: (5 x 1,057 + 6 x 4,098 + 32,768 / 32) blocks x 11 layers x 16 KiB.
    query = q(vllm="0.33", gpus=8, seq_len=32_768, batch=1)
    expected = (5 * 1057 + 6 * 4098 + 1024) * 11 * 16 * KiB
    assert vllm.requests_kv_bytes(INKLING, query, seq_len=32_768, batch=1, tp=8, batched_tokens=MNBT) == expected


def test_tp_beyond_the_kv_heads_is_refused() -> None:
    # InklingConvState asserts tp_size <= num_kv_heads (8 on the full layers).
    assert vllm.tp_refusal(INKLING, 16) is not None
    assert vllm.tp_refusal(INKLING, 8) is None
    assert 16 not in vllm.nearest_tp_sizes(INKLING, 12)
    with pytest.raises(InputError, match="at most 8 GPUs"):
        vllm.kv_layout(INKLING, q(vllm="0.33", gpus=16))


def test_speculative_decoding_beside_the_conv_states_is_refused() -> None:
    spec = INKLING.model_copy(update={"mtp_layers": 1})
    with pytest.raises(UnmodelledError, match="speculative decoding"):
        vllm.kv_layout(spec, q(vllm="0.33", gpus=8, mtp=1))


# ---- extra_retained_tokens (multi-module MTP): v1/kv_cache_interface.py@v0.28.0 .. @v0.33.0


@pytest.mark.parametrize(
    ("version", "mtp_layers", "mtp", "extra"),
    [
        ("0.27", 3, 3, 0),  # no extra_retained_tokens before 0.28.0
        ("0.28", 3, 3, 2),  # num_speculative_tokens - 1
        ("0.29", 3, 3, 2),
        ("0.33", 3, 3, 2),  # num_prefill_lookahead_tokens - 1 = num_speculative_tokens - 1
        ("0.33", 3, 2, 1),
        ("0.33", 3, 1, 0),  # min(layers, tokens) = 1: one module
        ("0.33", 1, 3, 0),  # one MTP layer reused for 3 tokens: not multi-module
        ("0.33", 3, 0, 0),  # no speculation
    ],
)
def test_extra_retained_tokens_follow_multi_module_mtp(version: str, mtp_layers: int, mtp: int, extra: int) -> None:
    spec = GPT_OSS.model_copy(update={"mtp_layers": mtp_layers})
    assert vllm.extra_retained_tokens(spec, q(vllm=version, mtp=mtp or None)) == extra


@pytest.mark.parametrize(("version", "sliding_blocks"), [("0.27", 1033), ("0.28", 1034), ("0.33", 1034)])
def test_multi_module_mtp_widens_sliding_blocks(version: str, sliding_blocks: int) -> None:
    # gpt-oss-20b given three MTP layers (the layout rule, not a shipped checkpoint), mtp=3: its 12
    # sliding layers (window 128, 16-token blocks) keep 2 more tokens from 0.28:
    # cdiv(min(127 + 2 + 16,384, 65,536), 16) + 1 = cdiv(16,513, 16) + 1 = 1,033 + 1; 0.27: 1,032 + 1.
    spec = GPT_OSS.model_copy(update={"mtp_layers": 3})
    layout, _ = vllm.kv_layout(spec, q(vllm=version, mtp=3, seq_len=65_536))
    sliding = next(t for t in layout.types if t.kind == "sliding")
    full = next(t for t in layout.types if t.kind == "full")
    assert (sliding.num_layers, full.num_layers) == (12, 12 + 3)  # the MTP layers are full attention
    # 12 and 15 layers: 15 < 1.5 x 12, so groups of 15 (the sliding one padded), one group each; the
    # full group takes 65,536 / 16 = 4,096 blocks.
    assert (layout.group_size, layout.num_groups) == (15, 2)
    assert vllm._blocks_per_request(layout, 65_536, MNBT) == sliding_blocks + 4096


def test_inkling_conv_states_take_the_extra_tokens_too() -> None:
    # Every SlidingWindowSpec gets extra_retained_tokens, the conv states included; Inkling with MTP
    # is refused, so the rule is checked on its layout directly: 2 extra tokens make the conv span
    # 3 + 2 + 16,384 = 16,389 -> cdiv(16,389, 4) + 1 = 4,099 blocks, and the sliding attention
    # 511 + 2 + 16,384 = 16,897 -> cdiv(16,897, 16) + 1 = 1,058 (1,057 without).
    layout, _ = vllm.kv_layout(INKLING, q(vllm="0.33", gpus=8, seq_len=65_536))
    widened = layout.model_copy(update={"extra_retained_tokens": 2})
    assert vllm._blocks_per_request(widened, 65_536, MNBT) == 5 * 1058 + 6 * 4099 + 2048


def test_start_check_sums_every_layers_pages() -> None:
    # max_memory_usage_bytes over the 132 specs at TP 8 (16 KiB pages), 65,536 tokens: sliding
    # attention 1,057 blocks x 55, conv states 4,098 x (55 + 11), full attention 2,048 x 11.
    query = q(vllm="0.33", gpus=8, seq_len=65_536)
    expected = (1057 * 55 + 4098 * 66 + 2048 * 11) * 16 * KiB
    assert vllm.request_kv_bytes(INKLING, query, 65_536, batched_tokens=MNBT) == expected
