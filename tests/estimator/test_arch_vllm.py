"""Architectures read for vLLM's layouts: gemma-4's shared key/value projection, DeepSeek-V4's
compressed caches, and the types a vLLM release does not serve.

Expected numbers are hand arithmetic from the config (written out here) and from vLLM's source at
the named release, or logged start-up lines (tests/fixtures/calibration2/cases.json, by case id).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from common.errors import InputError
from estimator.config import load_model_spec
from estimator.engines import vllm
from estimator.query import Query
from estimator.spec import LinearWeights
from estimator.weights import weight_bytes

GiB = 1 << 30
CAL2 = Path(__file__).resolve().parents[1] / "fixtures" / "calibration2" / "configs"


def q(**kw) -> Query:
    return Query(engine="vllm", **kw)


@pytest.fixture(scope="module")
def gemma4_31b():
    return load_model_spec(json.loads((CAL2 / "gemma4_31b_it.json").read_text()))


def test_gemma4_k_eq_v_global_layers_have_no_v_proj(gemma4_31b) -> None:
    s = gemma4_31b
    assert s.unread == ()
    h, heads, inter, vocab = 5376, 32, 21504, 262144
    # Sliding layers (50): q 32 x 256, k and v 16 x 256, o back; q_norm and k_norm of 256 (v_norm has
    # no weight).
    sliding = h * heads * 256 + 2 * h * 16 * 256 + heads * 256 * h + 2 * 256
    # Global layers (10), attention_k_eq_v: q 32 x 512, k 4 x 512 and NO v_proj, o back; norms of 512.
    global_ = h * heads * 512 + h * 4 * 512 + heads * 512 * h + 2 * 512
    assert sliding == 132_121_088 and global_ == 187_171_840
    assert s.params.attention == 50 * sliding + 10 * global_
    assert s.params.dense_mlp == 60 * 3 * h * inter
    # Four norms per layer and the final norm; hidden_size_per_layer_input is 0: no per-layer inputs.
    assert s.params.norms == 60 * 4 * h + h
    assert s.params.other == 0
    assert s.params.embedding == vocab * h
    text = s.params.total - s.params.vision
    assert text == 30_697_345_280  # the sum of the above, tied lm_head
    # The key projection vLLM loads a second time as values: 10 matrices 5,376 -> 2,048.
    assert [(lin.in_features, lin.out_features, lin.count) for lin in s.value_from_key] == [(h, 2048, 10)]


def test_gemma4_k_eq_v_still_caches_keys_and_values(gemma4_31b) -> None:
    # transformers (Gemma4TextAttention): value_states = v_norm(k_proj(x)) and key_states =
    # rope(k_norm(k_proj(x))), both passed to cache.update: two tensors. vLLM's Attention layer gets
    # k and v from the fused qkv_proj and pages them apart (FullAttentionSpec: K and V).
    kinds = Counter(
        (layer.kind, layer.kv_heads, layer.key_dim, layer.value_dim, layer.window) for layer in gemma4_31b.layers
    )
    assert kinds == {("sliding", 16, 256, 256, 1024): 50, ("full", 4, 512, 512, None): 10}


def test_gemma4_31b_n036_tokens_from_the_logged_pool(gemma4_31b) -> None:
    # calibration2 n036 (v0.23.0, bf16, max_model_len 32,768, max_num_batched_tokens 8,192): "Available
    # KV cache memory: 28.41 GiB", "GPU KV cache size: 97,541 tokens", "Maximum concurrency for 32,768
    # tokens per request: 2.98x". Pages of 16 tokens: sliding 16 x 16 x 256 x 2 x 2 = 256 KiB, global
    # 16 x 4 x 512 x 2 x 2 = 128 KiB -> 32-token global blocks; 6 groups of 10 layers, 2.5 MiB a block;
    # 28.41 GiB // 2.5 MiB = 11,636 blocks; a request 5 x (cdiv(1,023 + 8,192, 16) + 1) + 32,768 / 32
    # = 3,909 blocks; 11,636 / 3,909 x 32,768 = 97,541.
    query = q(vllm="0.23", seq_len=32_768, max_num_batched_tokens=8192)
    blocks, tokens, concurrency = vllm.kv_capacity(gemma4_31b, query, int(28.41 * GiB), batched_tokens=8192)
    assert (blocks, tokens, round(concurrency, 2)) == (11_636, 97_541, 2.98)


def test_gemma4_31b_loaded_weights(gemma4_31b) -> None:
    query = q(vllm="0.23", seq_len=32_768)
    # The V slot of the 10 global layers' fused qkv_proj, filled with k_proj again: 5,376 x 2,048 x 2 B.
    assert vllm.value_slot_bytes(gemma4_31b, query) == 10 * 5376 * 2048 * 2
    assert vllm.value_slot_bytes(gemma4_31b, q(vllm="0.23", gpus=2)) == 10 * 5376 * 1024 * 2
    # Two rope tables of 262,144 rows: the sliding layers' (256 wide) and the global layers' (512).
    assert vllm.rope_cache_bytes(gemma4_31b, query) == 262_144 * (256 + 512) * 2
    checkpoint = weight_bytes(gemma4_31b)
    assert checkpoint == gemma4_31b.params.total * 2
    loaded = vllm.loaded_weight_bytes(gemma4_31b, query, None, checkpoint)
    # Loaded under max_split_size_mb=20 (0.21+), 60 gate_up_proj of 2 x 21,504 x 5,376 x 2 B = 441 MiB
    # keep 442 and 60 down_proj of 220.5 MiB keep 222 (the 2,688 MiB embedding is a whole multiple):
    # 60 x 2.5 MiB.
    assert loaded == checkpoint + 10 * 5376 * 2048 * 2 + 262_144 * 768 * 2 + 60 * 5 * (1 << 19)
    # n036 logs "Model loading took 58.99 GiB": within 0.5% (the vision tower's buffers are not counted).
    assert abs(loaded / (58.99 * GiB) - 1) < 0.005


@pytest.fixture(scope="module")
def dsv4_flash():
    return load_model_spec(json.loads((CAL2 / "deepseek_v4_flash.json").read_text()))


def _ru576(n: int) -> int:
    return -(-n // 576) * 576


def test_deepseek_v4_flash_layers(dsv4_flash) -> None:
    # compress_ratios 0, 0, then 4 / 128 alternating over 41 layers (21 CSA, 20 HCA); sliding window 128.
    rates = Counter(layer.compress_rate for layer in dsv4_flash.layers)
    assert rates == {0: 2, 4: 21, 128: 20}
    assert {layer.window for layer in dsv4_flash.layers} == {128}
    assert dsv4_flash.mtp_layers == 1
    # fp4 routed experts (expert_dtype) beside block-fp8 linears: read, not refused.
    assert dsv4_flash.unread == ()
    assert dsv4_flash.quantization.expert_format == "mxfp4"


def test_deepseek_v4_flash_mxfp4_experts_beside_fp8(dsv4_flash) -> None:
    # vLLM loads expert_dtype fp4 experts with Mxfp4MoEMethod (models/deepseek_v4.py@v0.21.0,
    # models/deepseek_v4/quant_config.py@v0.33.0): per [out, in] matrix, in / 2 bytes of FP4 pairs and
    # one e8m0 byte per 32 inputs per row; the fp8 linears keep one e8m0 scale byte per 128 x 128 block.
    # At TP 2 each routed expert holds gate / up [1,024 x 4,096] and down [4,096 x 1,024]:
    n = 1_024 * 4_096
    mxfp4 = n // 2 + n // 32  # 2,228,224
    fp8 = n + (1_024 // 128) * (4_096 // 128) * 1  # 4,194,560
    matrices = 3 * 256 * 43  # three per expert, 256 experts, 43 layers
    as_fp8 = dsv4_flash.model_copy(
        update={"quantization": dsv4_flash.quantization.model_copy(update={"expert_format": ""})}
    )
    delta = weight_bytes(as_fp8, gpus=2) - weight_bytes(dsv4_flash, gpus=2)
    assert delta == (fp8 - mxfp4) * matrices == 64_936_280_064
    # calibration2 n027 (vLLM 0.21.1 nightly, TP 2, MTP on) logs "Model loading took 75.86 GiB"; the
    # model without its MTP layer is 73.18 GiB here (routed experts alone: 2,228,224 x 33,024 / 2^30 =
    # 68.53 GiB); the MTP layer (one decoder layer, its own 256 fp4 experts, e_proj / h_proj and head)
    # makes up most of the rest.
    assert mxfp4 * matrices / GiB == pytest.approx(68.53, abs=0.005)
    share = weight_bytes(dsv4_flash, gpus=2)
    assert share / GiB == pytest.approx(73.18, abs=0.01)


def test_deepseek_v4_compressors_stay_bf16(dsv4_flash) -> None:
    # vLLM builds the compressors' kv / gate projection (DeepseekCompressor.fused_wkv_wgate) and the
    # indexer's weights_proj with quant_config=None, replicated (compressor.py, attention.py
    # @v0.27.1-v0.31.0): bf16 on every rank, beside the block-fp8 linears (one e8m0 byte per 128 x 128).
    # Per matrix [out, in], bf16 minus fp8 + scales:
    hca = 4_096 * 512 * 2 - (4_096 * 512 + 32 * 4)  # kv and gate of the 20 C128 layers
    csa = 4_096 * 1_024 * 2 - (4_096 * 1_024 + 32 * 8)  # two series x 512, 21 C4 layers
    index = 4_096 * 256 * 2 - (4_096 * 256 + 32 * 2)  # the indexer's compressor, two series x 128
    weights = 4_096 * 64 * 2 - (4_096 * 64 + 32 * 1)  # indexer weights_proj: 64 heads
    extra = 2 * 20 * hca + 2 * 21 * csa + 2 * 21 * index + 21 * weights
    assert extra == 309_572_832
    as_fp8 = tuple(
        LinearWeights(component="attention", in_features=4_096, out_features=out, count=count, split="none")
        for out, count in ((512, 40), (1_024, 42), (256, 42), (64, 21))
    )
    as_linears = dsv4_flash.model_copy(update={"linears": (*dsv4_flash.linears, *as_fp8)})
    # Replicated: the same bytes at TP 1 and at TP 8.
    for gpus in (1, 8):
        assert weight_bytes(dsv4_flash, gpus=gpus) - weight_bytes(as_linears, gpus=gpus) == extra


def test_deepseek_v4_flash_loaded_weights_n027(dsv4_flash) -> None:
    # What "Model loading took" holds beside the checkpoint's share, at TP 2 with MTP:
    # - the rope tables (DeepseekV4ScalingRotaryEmbedding, fp32 cos / sin over qk_rope_head_dim 64,
    #   65,536 x 16 YaRN positions), one per base (rope_theta 10,000; compress_rope_theta 160,000):
    rope = 2 * 65_536 * 16 * 64 * 4
    assert vllm.rope_cache_bytes(dsv4_flash, q(vllm="0.21", gpus=2)) == rope == 512 * 1024 * 1024
    # - the MTP layer: one decoder layer (the average of the 43, embedding and head taken off) and
    #   e_proj / h_proj (replicated 4,096 x 4,096 fp8, one e8m0 byte per 128 x 128 block); its
    #   embedding and head are the target's.
    query = q(vllm="0.21", gpus=2, seq_len=200_000, kv="fp8", mtp=2, gpu="h200")
    share = weight_bytes(dsv4_flash, gpus=2)
    vocab = 129_280 // 2 * 4_096 * 2  # embedding or head rows per GPU, bf16
    layer = (share - 2 * vocab) // 43
    joins = 2 * (4_096 * 4_096 + 32 * 32)
    assert vllm.mtp_weight_bytes(dsv4_flash, query) == layer + joins
    loaded = vllm.loaded_weight_bytes(dsv4_flash, query, None, share)
    # - from 0.21 the load runs under a 20 MiB max_split_size: the embedding and the head shards
    #   (505 MiB each) keep whole 2 MiB-rounded segments, 506 MiB: 1 MiB more each.
    rounding = vllm.load_segment_rounding_bytes(dsv4_flash, query)
    assert rounding == 2 * 1024 * 1024
    assert loaded == share + rope + layer + joins + rounding
    # calibration2 n027 (0.21.1 nightly, DGX Spark GB10, TP 2, MTP 2): "Model loading took 75.86 GiB".
    assert loaded / (75.86 * GiB) - 1 == pytest.approx(-0.006, abs=0.003)


def test_deepseek_v4_vllm_021_pages_and_groups(dsv4_flash) -> None:
    # vLLM 0.21 (fp8_ds_mla: 584 B per cached token, every page padded to a multiple of 576 B),
    # --block-size 256:
    swa = _ru576(64 * 584)  # every layer's sliding window, 64-token blocks: 37,440
    c4_latent = _ru576(256 // 4 * 584)  # 64 compressed entries: 37,440
    c4_index = _ru576(256 // 4 * (128 + 4))  # fp8 indexer keys + fp32 scale: 8,640
    c128_latent = _ru576(256 // 128 * 584)  # 2 entries: 1,728
    c4_state = _ru576(4 * 2 * 2 * 512 * 4)  # 4-slot blocks of kv + score, two series, fp32: 32,832
    c4_index_state = _ru576(4 * 2 * 2 * 128 * 4)  # 8,640
    c128_state = _ru576(8 * 2 * 512 * 4)  # 8-slot blocks: 32,832
    assert (swa, c4_latent, c4_index, c128_latent) == (37_440, 37_440, 8_640, 1_728)
    assert (c4_state, c4_index_state, c128_state) == (32_832, 8_640, 32_832)
    # The states pad to the nearest latent page (32,832 -> 37,440). Largest same-page counts per
    # group: latent 21, sliding 43 + 1 MTP layer, C4 states 21, C128 states 20; the chunk with least
    # padding from 21 up is 22 (pads 1 + 0 + 1 + 2), so the sliding group splits in two of 22.
    query = q(vllm="0.21", seq_len=200_000, gpus=2, kv="fp8", mtp=2, max_num_batched_tokens=8192)
    layout, _ = vllm.kv_layout(dsv4_flash, query)
    assert layout.num_groups == 5
    # One block index: each distinct latent page once per layer tuple, 22 tuples.
    assert layout.bytes_per_block == (37_440 + 8_640 + 1_728) * 22 == 1_051_776
    # A request of 200,000 tokens with 8,192 batched tokens, in pages of each group:
    latent_group = 21 * 37_440 + 21 * 8_640 + 20 * 1_728  # 1,002,240 B per block
    need = (
        -(-200_000 // 256) * latent_group  # 782 blocks
        + (-(-(127 + 8192) // 64) + 1) * 44 * 37_440  # 131 blocks of the sliding window
        + (-(-(7 + 8192) // 4) + 1) * 21 * (37_440 + 8_640)  # 2,051 C4 state blocks
        + (-(-(127 + 8192) // 8) + 1) * 20 * 37_440  # 1,041 C128 state blocks
    )
    per_request = -(-need // latent_group)
    assert per_request == 3_756
    blocks, tokens, concurrency = vllm.kv_capacity(dsv4_flash, query, int(18.65 * GiB), batched_tokens=8192)
    assert blocks == int(18.65 * GiB) // 1_051_776 == 19_039
    assert concurrency == pytest.approx(19_039 / 3_756)
    # calibration2 n027 (0.21.1 nightly, TP 2 over two DGX Sparks) logs 1,001,650 tokens, 5.01x:
    # int(18,811 / 3,756 x 200,000). 3,756 blocks per request is this layout's; 18,811 blocks is the
    # other node's pool (18.43 GiB), which its log does not print (rank 0 logs 18.65 GiB).
    assert int(18_811 / per_request * 200_000) == 1_001_650
    assert tokens == int(19_039 / 3_756 * 200_000)


def test_deepseek_v4_vllm_releases_and_kv_dtype(dsv4_flash) -> None:
    # 0.20-0.29 assert an fp8 cache ("only supports fp8 kv-cache"); 0.30+ turn "auto" into fp8
    # (models/deepseek_v4/attention.py _resolve_dsv4_kv_cache_dtype).
    # vLLM refusing to start it is a verdict (exit 0), sized as the fp8_ds_mla pages it would lay out.
    for version in ("0.21", "0.26", "0.29"):
        unsaid = q(vllm=version, seq_len=8192)
        assert vllm.kv_layout(dsv4_flash, unsaid) == vllm.kv_layout(dsv4_flash, q(vllm=version, seq_len=8192, kv="fp8"))
        why = vllm.startup_refusal(dsv4_flash, unsaid)
        assert why == (
            f"vLLM {version} will not start DeepSeek-V4 with the model's bf16 KV cache (kv= unsaid): it serves it "
            "with an fp8 KV cache only; add kv=fp8"
        )
        assert vllm.startup_refusal(dsv4_flash, q(vllm=version, seq_len=8192, kv="fp8")) is None
    assert "with kv=bf16" in (vllm.startup_refusal(dsv4_flash, q(vllm="0.33", seq_len=8192, kv="bf16")) or "")
    assert vllm.startup_refusal(dsv4_flash, q(vllm="0.33", seq_len=8192)) is None
    # The pages are fp8 (fp8_ds_mla) whatever is asked: 0.29's unsaid dtype and kv=bf16 are refusals
    # sized as those pages, so the dtype said beside them (details.kv_dtype) is fp8 too.
    for version in ("0.29", "0.30", "0.33"):
        for kv in ("auto", "bf16"):
            asked = q(vllm=version, seq_len=8192, kv=kv)
            assert vllm.kv_cache_dtype(dsv4_flash, asked) == "fp8"
            assert vllm.kv_layout(dsv4_flash, asked) == vllm.kv_layout(
                dsv4_flash, q(vllm=version, seq_len=8192, kv="fp8")
            )
    assert vllm.startup_refusal(dsv4_flash, q(vllm="0.29", seq_len=8192)) is not None
    with pytest.raises(InputError, match=r"vLLM 0\.19 does not serve deepseek_v4"):
        vllm.kv_layout(dsv4_flash, q(vllm="0.19", seq_len=8192, kv="fp8"))


def test_deepseek_v4_refused_kv_dtype_rows_say_the_pages_they_size(dsv4_flash) -> None:
    # kv=bf16 is refused, and the answer sizes the fp8_ds_mla pages vLLM lays out: its KV row, its
    # dtype and its bytes per token are kv=fp8's, not fp8 bytes under a bf16 label.
    from estimator.estimate import estimate

    asked = estimate(dsv4_flash, q(vllm="0.33", seq_len=131072, kv="bf16", gpu="h200", gpus=4), model_id="m")
    fp8 = estimate(dsv4_flash, q(vllm="0.33", seq_len=131072, kv="fp8", gpu="h200", gpus=4), model_id="m")
    assert asked.fit is not None and asked.fit.engine_refuses and "kv=bf16" in asked.fit.engine_refuses
    assert asked.details.kv_dtype == fp8.details.kv_dtype == "fp8"
    assert asked.details.kv_bytes_per_token == fp8.details.kv_bytes_per_token
    assert asked.memory.kv_cache == fp8.memory.kv_cache


LATENT_GROUP = 21 * 37_440 + 21 * 8_640 + 20 * 1_728  # 1,002,240: the latent / indexer group's block


def _pooled_blocks(seq: int, in_flight: int) -> int:
    """0.20-0.26: a request's bytes over every (padded) layer, in latent-group pages."""
    need = (
        -(-seq // 256) * LATENT_GROUP
        + (-(-min(127 + in_flight, seq) // 64) + 1) * 43 * 37_440
        + (-(-min(7 + in_flight, seq) // 4) + 1) * 21 * (37_440 + 8_640)
        + (-(-min(127 + in_flight, seq) // 8) + 1) * 20 * 37_440
    )
    return -(-need // LATENT_GROUP)


def _summed_blocks(seq: int, in_flight: int) -> int:
    """0.27+: each group's pages, summed (latent, two sliding groups, C4 and C128 states)."""
    return (
        -(-seq // 256)
        + 2 * (-(-min(127 + in_flight, seq) // 64) + 1)
        + (-(-min(7 + in_flight, seq) // 4) + 1)
        + (-(-min(127 + in_flight, seq) // 8) + 1)
    )


@pytest.mark.parametrize(
    ("version", "block_bytes", "per_request"),
    [
        # _get_kv_cache_config_deepseek_v4@v0.22.0: (37,440 + 8,640 + 1,728) x 22 tuples.
        ("0.22", 1_051_776, _pooled_blocks(32_768, 8_192)),
        # _bucket_layers_by_page_size@v0.23.0-v0.26.0: each page size x its most layers in one
        # group: 37,440 x 22 (a sliding group) + 8,640 x 21 + 1,728 x 20.
        ("0.23", 37_440 * 22 + 8_640 * 21 + 1_728 * 20, _pooled_blocks(32_768, 8_192)),
        # 0.26: sliding windows keep max_in_flight_tokens = 2 x 8,192 (async scheduling).
        ("0.26", 1_039_680, _pooled_blocks(32_768, 2 * 8_192)),
        # _get_packed_kv_cache_layout@v0.27.0-v0.28.0: no padding, the widest group (the latent one;
        # C4 states 21 x (32,832 + 8,640) = 870,912); per-group pages summed.
        ("0.27", LATENT_GROUP, _summed_blocks(32_768, 2 * 8_192)),
        ("0.29", LATENT_GROUP, _summed_blocks(32_768, 2 * 8_192)),
    ],
)
def test_deepseek_v4_vllm_pool_by_release(dsv4_flash, version: str, block_bytes: int, per_request: int) -> None:
    query = q(vllm=version, seq_len=32_768, gpus=8, kv="fp8", max_num_batched_tokens=8_192)
    layout, _ = vllm.kv_layout(dsv4_flash, query)
    assert layout.num_groups == 5
    assert layout.bytes_per_block == block_bytes
    pool = 100 * GiB
    blocks, _, concurrency = vllm.kv_capacity(dsv4_flash, query, pool, batched_tokens=8_192)
    assert blocks == pool // block_bytes
    assert concurrency == pytest.approx(blocks / per_request)


def test_deepseek_v4_vllm_033_packed_groups(dsv4_flash) -> None:
    # vLLM 0.33 (v1/core/kv_cache_planning.py _get_packed_kv_cache_groups): same per-layer pages as
    # 0.21 (fp8_ds_mla, 576-byte alignment), unpadded between groups. Buckets by spec type and block:
    # latent + indexer (256-token blocks): 21 x 37,440, 21 x 8,640, 20 x 1,728 (unbalanced: 21/21/20);
    # sliding windows (64): 43 x 37,440; C4 states (4, window 8): 21 x 32,832 + 21 x 8,640; C128
    # states (8, window 128): 20 x 32,832. The largest balanced mixed bucket (C4 states, 21) is the
    # floor; _approximate_gcd([43, 21, 20], lower_bound=21) = 22 (pads 1 + 1 + 2), so the sliding
    # bucket splits in two groups (22 and 21 layers): 5 groups.
    query = q(vllm="0.33", seq_len=32_768, gpus=8, kv="fp8")
    layout, _ = vllm.kv_layout(dsv4_flash, query)
    assert layout.num_groups == 5
    groups = {
        "latent": 21 * 37_440 + 21 * 8_640 + 20 * 1_728,  # 1,002,240
        "sliding": 22 * 37_440,  # 823,680
        "c4_states": 21 * 32_832 + 21 * 8_640,  # 870,912
        "c128_states": 20 * 32_832,  # 656,640
    }
    # Every group aliases one block: a block index costs the widest group (_get_kv_cache_bytes_per_block).
    assert layout.bytes_per_block == max(groups.values()) == 1_002_240
    # A request's blocks are the sum over groups (get_max_concurrency_for_kv_cache_config); sliding
    # groups keep window - 1 + max_in_flight_tokens (2 x 8,192 under async scheduling) tokens, + 1 block.
    in_flight = 2 * 8_192
    per_request = (
        -(-32_768 // 256)  # 128 latent blocks
        + 2 * (-(-(127 + in_flight) // 64) + 1)  # 259 per sliding group
        + (-(-(7 + in_flight) // 4) + 1)  # 4,099 C4 state blocks
        + (-(-(127 + in_flight) // 8) + 1)  # 2,065 C128 state blocks
    )
    assert per_request == 6_810
    pool = 100 * GiB
    blocks, tokens, concurrency = vllm.kv_capacity(dsv4_flash, query, pool, batched_tokens=8_192)
    assert blocks == pool // 1_002_240 == 107_134
    assert concurrency == pytest.approx(107_134 / 6_810)
    assert tokens == int(107_134 / 6_810 * 32_768)
    # The start check (check_enough_kv_cache_memory) sums each layer's max_memory_usage_bytes.
    layers = (
        128 * (21 * 37_440 + 21 * 8_640 + 20 * 1_728)
        + 259 * 43 * 37_440
        + 4_099 * 21 * (32_832 + 8_640)
        + 2_065 * 20 * 32_832
    )
    assert vllm.request_kv_bytes(dsv4_flash, query, 32_768, batched_tokens=8_192) == layers


def test_deepseek_v4_vllm_031_tp8_ep_pool_n059(dsv4_flash) -> None:
    # calibration2 n059 (0.31.1rc1.dev50, DeepSeek-V4-Flash-0731 on 8 x H100, TP 8 + expert parallel,
    # no speculative decoding, 8,192 batched tokens, max_model_len 262,144): "Available KV cache
    # memory: 47.43 GiB", "GPU KV cache size: 1,728,531 tokens, Maximum concurrency for 262,144 tokens
    # per request: 6.59x". The MLA latent is not split over tensor parallelism: every rank holds the
    # same pages as at TP 1. Packed groups (0.27+), fp8_ds_mla pages padded to 576 B; a block index
    # costs the widest group, the latent one (21 x 37,440 + 21 x 8,640 + 20 x 1,728 = 1,002,240 B).
    query = q(vllm="0.31", seq_len=262_144, gpus=8, max_num_batched_tokens=8_192, max_num_seqs=64, prefix_caching=False)
    layout, _ = vllm.kv_layout(dsv4_flash, query)
    assert layout.bytes_per_block == LATENT_GROUP == 1_002_240
    # Without MTP the 43 sliding layers split 22 + 21 (two sliding groups); a request's blocks are
    # summed over the groups, the windows keeping 2 x 8,192 in-flight tokens (async scheduling).
    per_request = _summed_blocks(262_144, 2 * 8_192)
    assert per_request == 1_024 + 2 * 259 + 4_099 + 2_065 == 7_706
    # 47.43 GiB is rounded: 50,812 blocks (47.4283 GiB) and 50,813 (47.4292 GiB) both print as 47.43.
    # The logged line is 50,812's: int(50,812 / 7,706 x 262,144) = 1,728,531, 6.59x.
    assert int(50_812 / 7_706 * 262_144) == 1_728_531
    assert round(50_812 / 7_706, 2) == 6.59
    low, high = int(47.425 * GiB), int(47.435 * GiB)
    assert low // LATENT_GROUP <= 50_812 <= high // LATENT_GROUP
    blocks, tokens, concurrency = vllm.kv_capacity(dsv4_flash, query, 50_812 * LATENT_GROUP, batched_tokens=8_192)
    assert blocks == 50_812
    assert concurrency == pytest.approx(50_812 / 7_706)
    assert tokens == 1_728_531


def test_deepseek_v4_loaded_weights_tp8_n059(dsv4_flash) -> None:
    # n059: "Model loading took 19.79 GiB" on every rank (TP 8 + EP 8: 32 of 256 experts per rank,
    # whole; the same bytes as a TP split of each expert's 2,048 columns, 256 per rank). What vram
    # counts: the checkpoint's share plus the two fp32 rope tables (512 MiB, as at TP 2), no MTP layer
    # (no speculative config: vLLM does not build it), nothing re-laid (the HUMMING MXFP4 backend
    # keeps the e8m0 group scales, one byte per 32 values). The bf16 compressors (0.29 GiB, replicated)
    # are in the share.
    query = q(vllm="0.31", seq_len=262_144, gpus=8, max_num_batched_tokens=8_192, max_num_seqs=64)
    share = weight_bytes(dsv4_flash, gpus=8)
    assert vllm.mtp_weight_bytes(dsv4_flash, query) == 0
    assert vllm.rope_cache_bytes(dsv4_flash, query) == 512 * 1024 * 1024
    loaded = vllm.loaded_weight_bytes(dsv4_flash, query, None, share)
    assert loaded == share + 512 * 1024 * 1024 + vllm.load_segment_rounding_bytes(dsv4_flash, query)
    # vram is 0.7% (0.13 GiB) under the log (2.1% with the compressors taken as block fp8).
    assert loaded / (19.79 * GiB) - 1 == pytest.approx(-0.007, abs=0.002)


ORACLE = Path(__file__).resolve().parents[1] / "fixtures" / "oracle" / "configs"


def _oracle(model_type: str):
    return load_model_spec(json.loads((ORACLE / f"{model_type}.json").read_text()))


@pytest.mark.parametrize(
    ("model_type", "version", "served"),
    [
        # model_executor/models/registry.py at each release: RWKV, xLSTM and Inkling 2 never appear;
        # Mllama is listed as supported only until v0.10.2; Unlimited-OCR from 0.25, Inkling from 0.26.
        ("rwkv", "0.19", False),
        ("rwkv", "0.33", False),
        ("xlstm", "0.33", False),
        ("mllama", "0.19", False),
        ("mllama", "0.33", False),
        ("inkling2_loop_text", "0.33", False),
        ("unlimited_ocr", "0.24", False),
        ("unlimited_ocr", "0.25", True),
        ("inkling_text", "0.25", False),
        ("inkling_text", "0.26", True),
    ],
)
def test_types_a_release_does_not_serve_are_named(model_type: str, version: str, served: bool) -> None:
    refusal = vllm.serve_refusal(_oracle(model_type), q(vllm=version))
    if served:
        assert refusal is None
    else:
        assert refusal is not None and refusal.startswith(f"vLLM {version} does not serve {model_type} (")
        with pytest.raises(InputError, match=f"^vLLM {version.replace('.', '[.]')} does not serve"):
            vllm.kv_layout(_oracle(model_type), q(vllm=version))


def test_unlimited_ocr_in_vllm_keeps_every_token() -> None:
    # vLLM 0.25+ (models/unlimited_ocr.py@v0.33.0): DeepseekAttention with plain multi-head attention
    # and reference sliding-window attention applied as a mask, so every layer is a full-attention
    # cache. The oracle config: 12 layers, 10 KV heads x 128 (= 1,280 / 10 heads), bf16.
    spec = _oracle("unlimited_ocr")
    layout, _ = vllm.kv_layout(spec, q(vllm="0.25", seq_len=4096))
    assert layout.bytes_per_block == 12 * 16 * 10 * 128 * 2 * 2
    # 1 GiB of pool: 1 GiB // 983,040 B = 1,092 blocks; a request of 4,096 tokens takes 256 blocks.
    blocks, _, concurrency = vllm.kv_capacity(spec, q(vllm="0.25", seq_len=4096), GiB, batched_tokens=8192)
    assert blocks == GiB // (12 * 16 * 10 * 128 * 2 * 2) == 1_092
    assert concurrency == pytest.approx(1_092 / 256)
