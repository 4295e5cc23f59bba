"""MTP speculative decoding (mtp=<tokens>) in vLLM's KV layout and weights.

Expected numbers: a published start-up log (noonghunna/club-3090 issue #642, Qwen3.6-27B on two RTX
3090s, TP 2, fp8_e5m2 KV, prefix caching, MTP with 3 speculative tokens: "Available KV cache memory:
11.05 GiB", "GPU KV cache size: 623,873 tokens", "Maximum concurrency for 262,144 tokens per request:
2.38x"; the same compose logs "Add 3 padding layers, may waste at most 6.25% KV cache memory", #104)
and hand arithmetic below.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from common.errors import InputError
from estimator.config import load_model_spec
from estimator.engines import vllm
from estimator.grammar import parse_query
from estimator.query import Query

ROOT = Path(__file__).resolve().parents[2]
QWEN27 = load_model_spec(json.loads((ROOT / "tests/fixtures/calibration2/configs/qwen3_5_27b.json").read_text()))
LLAMA = load_model_spec(json.loads((ROOT / "tests/fixtures/configs/meta-llama__Llama-3.1-8B.json").read_text()))
GiB = 1 << 30


def q(**kw) -> Query:
    base = dict(engine="vllm", vllm="0.24", seq_len=262_144, gpus=2, kv="fp8", prefix_caching=True)
    return Query(**{**base, **kw})


def test_grammar_and_config_read_mtp() -> None:
    query, _ = parse_query(["m", "engine=vllm", "mtp=3"])
    assert query.mtp == 3
    assert parse_query(["m", "num_speculative_tokens=2"])[0].mtp == 2
    assert QWEN27.mtp_layers == 1  # mtp_num_hidden_layers
    assert LLAMA.mtp_layers == 0


def test_mtp_layout_follows_the_logged_start_up() -> None:
    layout, _ = vllm.kv_layout(QWEN27, q(mtp=3))
    # GDN state per GPU: conv (2 x 16 x 128 + 48 x 128) / 2 channels x (4 - 1 + 3) columns x 2 B, plus
    # 48 / 2 heads x 128 x 128 x 4 B (fp32) = 61,440 + 1,572,864 = 1,634,304 B; fp8 attention is
    # 4 / 2 heads x 512 x 1 B = 1,024 B per token, so the block is 16 x cdiv(1,634,304, 16 x 1,024).
    assert layout.block_size == 1600
    # 16 full-attention layers + the MTP layer = 17 per group; 48 GDN layers fill 3 groups of 17
    # (3 padding layers, as logged).
    assert (layout.group_size, layout.num_groups) == (17, 4)
    assert layout.bytes_per_block == 17 * 1600 * 1024
    mamba = next(t for t in layout.types if t.kind == "mamba")
    assert mamba.mamba_blocks == 2 + 3  # align mode: 2 pages + one per speculative token
    blocks, tokens, concurrency = vllm.kv_capacity(QWEN27, q(mtp=3), int(11.05 * GiB), batched_tokens=8192)
    # cdiv(262,144, 1,600) = 164 attention blocks + 3 groups x 5 state pages = 179 per request.
    assert blocks == int(11.05 * GiB) // (17 * 1600 * 1024) == 425
    assert concurrency == pytest.approx(425 / 179)
    # The log's 2.38x / 623,873 tokens is 426 blocks: 11.05 GiB is rounded to 0.01 GiB, and 426
    # blocks need 11.0516 GiB, within the rounding.
    assert int(426 / 179 * 262_144) == 623_873
    assert abs(tokens - 623_873) <= 262_144 / 179 + 1


def test_without_mtp_the_layout_is_the_models_own() -> None:
    layout, _ = vllm.kv_layout(QWEN27, q())
    assert (layout.group_size, layout.num_groups) == (16, 4)
    # conv 5,120 x 3 x 2 B + 1,572,864 B = 1,603,584 B -> 16 x cdiv(1,603,584, 16,384) = 1,568.
    assert layout.block_size == 1568


def test_mtp_weights_are_one_decoder_layer_and_the_fc() -> None:
    h = 5120
    # One Qwen3.5-27B full-attention layer: q with its output gate 5120 x (24 x 256 x 2), k and v
    # 5120 x (4 x 256) each, o 6144 x 5120, q/k norms 2 x 256; dense MLP 3 x 5120 x 17,408; the fc
    # 2 x 5120 x 5120 and four norms of 5120; bf16, split over 2 GPUs.
    attention = h * 12_288 + 2 * h * 1_024 + 6_144 * h + 512
    assert attention == 104_858_112
    per_layer = attention + 3 * h * 17_408 + 2 * h * h + 4 * h
    assert vllm.mtp_weight_bytes(QWEN27, q(mtp=3)) == per_layer // 2 * 2
    assert vllm.mtp_weight_bytes(QWEN27, q()) == 0


def test_a_model_without_mtp_layers_is_refused() -> None:
    query = Query(engine="vllm", mtp=1)
    assert "ships no MTP layers" in (vllm.VllmEngine().refusal(LLAMA, query) or "")
    with pytest.raises(InputError):
        vllm.kv_layout(LLAMA, query)


def test_mtp_widens_the_cuda_graph_capture_sizes() -> None:
    # club-3090 #104 (max_num_seqs 2, MTP x 3): "Profiling CUDA graph memory: PIECEWISE=5 (largest=16)",
    # the largest size being 2 x (1 + 3) x 2 = 16: sizes 1, 2, 4, 8, 16. Without MTP: 1, 2, 4.
    profile, _ = vllm.version_profile(q())
    assert vllm.cudagraph_capture_sizes(profile, 2, 8192, num_speculative_tokens=3) == [1, 2, 4, 8, 16]
    assert vllm.cudagraph_capture_sizes(profile, 2, 8192) == [1, 2, 4]


def test_mtp_weights_match_the_drafter_a_log_loads() -> None:
    # calibration2 n049 and n047: the same Qwen3.6-35B-A3B-NVFP4 compose on v0.20.0 without and with
    # MTP x 2 logs "Model loading took 21.86 GiB" and "23.43 GiB": the drafter is 1.57 GiB (each
    # figure rounded to 0.01 GiB). One full-attention layer (q with gate 2048 x 8192, k and v 2048 x
    # 512, o 4096 x 2048, q/k norms), 256 experts of 3 x 2048 x 512, the shared expert and its gate,
    # the router, the fc 2 x 2048 x 2048 and four norms, in bf16.
    moe = load_model_spec(json.loads((ROOT / "tests/fixtures/calibration2/configs/qwen3_5_moe.json").read_text()))
    drafter = vllm.mtp_weight_bytes(moe, Query(engine="vllm", mtp=2))
    assert abs(drafter / GiB - (23.43 - 21.86)) <= 0.01


def test_deepseek_v3_mtp_layer_loads_in_the_checkpoints_block_fp8() -> None:
    # DeepSeek-V3 (block FP8 128 x 128, fp32 scales), MTP layer 61 at TP 8. Each fp8 matrix: one byte
    # per element of the GPU's share + 4 B per 128 x 128 block of it.
    # Attention (MLA): q_a 7168 -> 1536 and kv_a 7168 -> 576 replicated; q_b 1536 -> 24576/8,
    # kv_b 512 -> 32768/8 by columns; o 16384/8 -> 7168 by rows.
    q_a = 7168 * 1536 + 12 * 56 * 4
    q_b = 1536 * 3072 + 24 * 12 * 4
    kv_a = 7168 * 576 + 5 * 56 * 4
    kv_b = 512 * 4096 + 32 * 4 * 4
    o = 2048 * 7168 + 56 * 16 * 4
    attention = q_a + q_b + kv_a + kv_b + o + (1536 + 512) * 2  # + q_a / kv_a layernorms in bf16
    # 256 routed experts + 1 shared: gate, up 7168 -> 2048/8 and down 2048/8 -> 7168.
    expert = 3 * (7168 * 256 + 2 * 56 * 4)
    router = (7168 * 256 + 256) * 2  # gate and its score-correction bias, bf16
    eh_proj = 2 * 7168 * 7168 * 2  # nn.Linear: bf16, on every GPU
    norms = 5 * 7168 * 2
    expected = attention + 257 * expert + router + eh_proj + norms
    assert expected == 1_661_047_456
    spec = load_model_spec(json.loads((ROOT / "tests/fixtures/configs/deepseek-ai__DeepSeek-V3.json").read_text()))
    assert vllm.mtp_weight_bytes(spec, Query(engine="vllm", gpus=8, mtp=1)) == expected


def test_an_ignore_entry_naming_the_mtp_layer_keeps_it_unquantized() -> None:
    raw = json.loads((ROOT / "tests/fixtures/configs/deepseek-ai__DeepSeek-V3.json").read_text())
    quantized = vllm.mtp_weight_bytes(load_model_spec(raw), Query(engine="vllm", gpus=8, mtp=1))
    raw["quantization_config"]["ignored_layers"] = ["model.layers.61.mlp.experts"]
    spec = load_model_spec(raw)
    assert spec.quantization.skipped_modules  # the config reader keeps the entry
    # Unquantized: the layer's 11,610,061,056 parameters (attention 187,107,328, 257 experts x 3 x
    # 7168 x 2048, router 1,835,264, eh_proj 2 x 7168^2, four norms) in bf16 over 8 GPUs.
    params = 187_107_328 + 257 * 3 * 7168 * 2048 + 1_835_264 + 2 * 7168 * 7168 + 4 * 7168
    assert params == 11_610_061_056
    assert vllm.mtp_weight_bytes(spec, Query(engine="vllm", gpus=8, mtp=1)) == params // 8 * 2 != quantized
