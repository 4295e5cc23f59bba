"""Exact parameter totals for every fixture config, each worked out here from the config numbers.

The arithmetic follows each family's modules in transformers: a [out, in] matrix holds in x out
weights; biases and norms add their widths. Published totals are asserted next to the arithmetic.

Cross-check (2026-11-26, transformers 5.17 on an H200, models built on the meta device from these
fixtures and the variants below, quantization_config removed): every total here equals ``sum(p.numel() for p in
model.parameters())`` except two, on purpose: DeepSeek-V3 (transformers keeps the stored
``e_score_correction_bias`` as a buffer: 58 x 256 fewer) and Mistral-Small-3.1 (transformers 5.17
ties lm_head when the top-level config omits ``tie_word_embeddings``; the text config's
MistralConfig default, which vLLM follows, is untied).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from estimator.config import load_model_spec

CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "configs"


def spec(name: str):
    return load_model_spec(json.loads((CONFIGS / f"{name}.json").read_text()))


def llama_like(
    V: int,
    h: int,
    L: int,
    nh: int,
    nkv: int,
    hd: int,
    inter: int,
    *,
    tied: bool,
    qkv_bias: bool = False,
    qk_norm: bool = False,
    norms: int = 2,
) -> int:
    """Hand formula for a Llama-style decoder: q/k/v/o, gated MLP, RMSNorms, embeddings."""
    attn = h * nh * hd + 2 * h * nkv * hd + nh * hd * h
    if qkv_bias:
        attn += nh * hd + 2 * nkv * hd
    if qk_norm:
        attn += 2 * hd
    mlp = 3 * h * inter
    per_layer = attn + mlp + norms * h
    return V * h * (1 if tied else 2) + L * per_layer + h


# (fixture, V, h, L, heads, kv heads, head_dim, intermediate, tied, qkv bias, qk norm)
DENSE = [
    ("meta-llama__Llama-3.1-8B", 128256, 4096, 32, 32, 8, 128, 14336, False, False, False),
    ("meta-llama__Llama-3.2-1B", 128256, 2048, 16, 32, 8, 64, 8192, True, False, False),
    ("meta-llama__Llama-3.2-3B", 128256, 3072, 28, 24, 8, 128, 8192, True, False, False),
    ("meta-llama__Llama-2-7b-hf", 32000, 4096, 32, 32, 32, 128, 11008, False, False, False),
    ("codellama__CodeLlama-7b-hf", 32016, 4096, 32, 32, 32, 128, 11008, False, False, False),
    ("RedHatAI__Meta-Llama-3.1-8B-Instruct-quantized.w4a16", 128256, 4096, 32, 32, 8, 128, 14336, False, False, False),
    ("RedHatAI__Meta-Llama-3.1-8B-Instruct-quantized.w8a8", 128256, 4096, 32, 32, 8, 128, 14336, False, False, False),
    ("mistralai__Mistral-7B-v0.1", 32000, 4096, 32, 32, 8, 128, 14336, False, False, False),
    ("ibm-granite__granite-3.3-8b-instruct", 49159, 4096, 40, 32, 8, 128, 12800, True, False, False),
    ("Qwen__Qwen2.5-3B", 151936, 2048, 36, 16, 2, 128, 11008, True, True, False),
    ("Qwen__Qwen2.5-7B", 152064, 3584, 28, 28, 4, 128, 18944, False, True, False),
    ("RedHatAI__Qwen2.5-7B-Instruct-fp8-dynamic", 152064, 3584, 28, 28, 4, 128, 18944, False, True, False),
    ("Qwen__Qwen2.5-14B", 152064, 5120, 48, 40, 8, 128, 13824, False, True, False),
    ("Qwen__Qwen2.5-32B", 152064, 5120, 64, 40, 8, 128, 27648, False, True, False),
    ("Qwen__Qwen3-0.6B", 151936, 1024, 28, 16, 8, 128, 3072, True, False, True),
    ("Qwen__Qwen3-4B", 151936, 2560, 36, 32, 8, 128, 9728, True, False, True),
    ("Qwen__Qwen3-8B", 151936, 4096, 36, 32, 8, 128, 12288, False, False, True),
    ("Qwen__Qwen3-8B-AWQ", 151936, 4096, 36, 32, 8, 128, 12288, False, False, True),
    ("Qwen__Qwen3-14B", 151936, 5120, 40, 40, 8, 128, 17408, False, False, True),
    ("Qwen__Qwen3-32B", 151936, 5120, 64, 64, 8, 128, 25600, False, False, True),
    ("microsoft__phi-4", 100352, 5120, 40, 40, 10, 128, 17920, False, False, False),
]


@pytest.mark.parametrize(("name", "V", "h", "L", "nh", "nkv", "hd", "inter", "tied", "bias", "qk_norm"), DENSE)
def test_dense_decoder_totals(name, V, h, L, nh, nkv, hd, inter, tied, bias, qk_norm) -> None:
    s = spec(name)
    expected = llama_like(V, h, L, nh, nkv, hd, inter, tied=tied, qkv_bias=bias, qk_norm=qk_norm)
    assert s.params.total == expected
    assert s.params.active == expected  # dense: every parameter is active
    assert s.params.lm_head == (0 if tied else V * h)


def test_published_dense_totals() -> None:
    # Llama-3.1-8B: 2 x 128256 x 4096 embeddings/lm_head + 32 x 218,112,000 per layer + 4096
    assert (
        2 * 128256 * 4096 + 32 * (4096 * 4096 * 2 + 2 * 4096 * 1024 + 3 * 4096 * 14336 + 2 * 4096) + 4096
        == 8_030_261_248
    )
    assert spec("meta-llama__Llama-3.1-8B").params.total == 8_030_261_248
    # phi-4: qkv fused 5120 x (5120 + 2 x 1280), o 5120 x 5120, gate_up 5120 x 35840, down 17920 x 5120
    per_layer = 5120 * 7680 + 5120 * 5120 + 5120 * 35840 + 17920 * 5120 + 2 * 5120
    assert 2 * 100352 * 5120 + 40 * per_layer + 5120 == 14_659_507_200
    assert spec("microsoft__phi-4").params.total == 14_659_507_200
    assert spec("meta-llama__Llama-2-7b-hf").params.total == 6_738_415_616
    assert spec("mistralai__Mistral-7B-v0.1").params.total == 7_241_732_096
    assert spec("ibm-granite__granite-3.3-8b-instruct").params.total == 8_170_864_640


def test_phi_2_parallel_block_with_biases() -> None:
    V, h, L, inter = 51200, 2560, 32, 10240
    attn = 4 * (h * h + h)  # q, k, v, dense: all biased
    mlp = h * inter + inter + inter * h + h  # fc1, fc2 with biases
    layer_norm = 2 * h  # one LayerNorm (weight + bias) per block
    lm_head = V * h + V  # untied, with bias
    expected = V * h + lm_head + L * (attn + mlp + layer_norm) + 2 * h
    assert expected == 2_779_683_840
    s = spec("microsoft__phi-2")
    assert s.params.total == expected
    assert s.torch_dtype == "fp16"


def test_gemma_7b_tied_head_dim_256() -> None:
    V, h, L, heads, hd, inter = 256000, 3072, 28, 16, 256, 24576
    per_layer = 4 * h * heads * hd + 3 * h * inter + 2 * h
    expected = V * h + L * per_layer + h
    assert expected == 8_537_680_896
    assert spec("google__gemma-7b").params.total == expected


def test_gemma_2_9b_four_norms_per_layer() -> None:
    V, h, L, nh, nkv, hd, inter = 256000, 3584, 42, 16, 8, 256, 14336
    attn = h * nh * hd + 2 * h * nkv * hd + nh * hd * h
    per_layer = attn + 3 * h * inter + 4 * h  # input, post-attn, pre-ff, post-ff norms
    expected = V * h + L * per_layer + h
    assert expected == 9_241_705_984
    assert spec("google__gemma-2-9b-it").params.total == expected


def test_gemma_3_1b_text_only() -> None:
    V, h, L, nh, nkv, hd, inter = 262144, 1152, 26, 4, 1, 256, 6912
    attn = h * nh * hd + 2 * h * nkv * hd + nh * hd * h + 2 * hd  # + q_norm, k_norm
    expected = V * h + L * (attn + 3 * h * inter + 4 * h) + h
    assert expected == 999_885_952
    assert spec("google__gemma-3-1b-it").params.total == expected


def test_gemma_3_4b_defaults_and_siglip_tower() -> None:
    # text_config omits heads, head_dim and vocab: Gemma3TextConfig's 8, 4, 256, 262208 apply
    V, h, L, nh, nkv, hd, inter = 262208, 2560, 34, 8, 4, 256, 10240
    attn = h * nh * hd + 2 * h * nkv * hd + nh * hd * h + 2 * hd
    text = V * h + L * (attn + 3 * h * inter + 4 * h) + h
    # SigLIP: 1152 wide, 27 layers, MLP 4304, 896px images in 14px patches (64 x 64 = 4096 positions)
    hv, Lv, iv = 1152, 27, 4304
    patches = 3 * 14 * 14 * hv + hv
    positions = (896 // 14) ** 2 * hv
    layer = 4 * (hv * hv + hv) + (hv * iv + iv) + (iv * hv + hv) + 2 * 2 * hv
    vision = patches + positions + Lv * layer + 2 * hv  # + post_layernorm
    projector = hv * h + hv  # mm_input_projection_weight + mm_soft_emb_norm
    assert text + vision + projector == 4_300_079_472
    s = spec("google__gemma-3-4b-it")
    assert (s.num_attention_heads, s.num_kv_heads, s.head_dim, s.vocab_size) == (8, 4, 256, 262208)
    assert s.params.vision == vision + projector
    assert s.params.total == text + vision + projector
    assert s.vision is not None and s.vision.num_layers == 27


def test_qwen3_30b_a3b_total_and_active() -> None:
    V, h, L, nh, nkv, hd, E, k, mi = 151936, 2048, 48, 32, 4, 128, 128, 8, 768
    attn = h * nh * hd + 2 * h * nkv * hd + nh * hd * h + 2 * hd
    experts = E * 3 * h * mi
    router = E * h
    per_layer = attn + experts + router + 2 * h
    total = 2 * V * h + L * per_layer + h
    assert total == 30_532_122_624
    active = total - L * (E - k) * 3 * h * mi
    s = spec("Qwen__Qwen3-30B-A3B")
    assert s.params.total == total
    assert s.params.active == active == 3_353_032_704
    assert (s.num_experts, s.experts_per_token, s.num_moe_layers, s.intermediate_size) == (128, 8, 48, 0)


def test_qwen1_5_moe_shared_expert_and_gate() -> None:
    V, h, L, heads, hd, E, k, mi, shared = 151936, 2048, 24, 16, 128, 60, 4, 1408, 5632
    attn = 4 * h * heads * hd + 3 * heads * hd  # 16 heads x 128 = 2048 = h; q/k/v biases
    moe = E * 3 * h * mi + E * h + 3 * h * shared + h  # experts, router, shared expert, its sigmoid gate
    total = 2 * V * h + L * (attn + moe + 2 * h) + h
    assert total == 14_315_784_192
    s = spec("Qwen__Qwen1.5-MoE-A2.7B")
    assert s.params.total == total
    assert s.params.active == total - L * (E - k) * 3 * h * mi
    assert s.params.shared_experts == L * (3 * h * shared + h)


def test_mixtral_8x7b() -> None:
    V, h, L, nh, nkv, hd, E, k, inter = 32000, 4096, 32, 32, 8, 128, 8, 2, 14336
    attn = h * nh * hd + 2 * h * nkv * hd + nh * hd * h
    per_layer = attn + E * 3 * h * inter + E * h + 2 * h
    total = 2 * V * h + L * per_layer + h
    assert total == 46_702_792_704
    s = spec("mistralai__Mixtral-8x7B-Instruct-v0.1")
    assert s.params.total == total
    assert s.params.active == total - L * (E - k) * 3 * h * inter == 12_879_925_248


def test_deepseek_v2_lite_mla_without_q_lora() -> None:
    V, h, L, heads, kv_rank, rope, nope, v = 102400, 2048, 27, 16, 512, 64, 128, 128
    inter, mi, E, k, shared = 10944, 1408, 64, 6, 2
    attn = (
        h * heads * (nope + rope)  # q_proj (q_lora_rank is null)
        + h * (kv_rank + rope)
        + kv_rank  # kv_a_proj_with_mqa + kv_a_layernorm
        + kv_rank * heads * (nope + v)  # kv_b_proj
        + heads * v * h
    )  # o_proj
    dense_layer = attn + 3 * h * inter + 2 * h
    moe_layer = attn + E * 3 * h * mi + 3 * h * (shared * mi) + E * h + 2 * h
    total = 2 * V * h + 1 * dense_layer + (L - 1) * moe_layer + h  # first_k_dense_replace = 1
    assert total == 15_706_484_224
    s = spec("deepseek-ai__DeepSeek-V2-Lite-Chat")
    assert s.params.total == total
    assert s.params.active == total - 26 * (E - k) * 3 * h * mi


def test_deepseek_v3_q_lora_and_router_bias() -> None:
    V, h, L, heads, q_rank, kv_rank, rope, nope, v = 129280, 7168, 61, 128, 1536, 512, 64, 128, 128
    inter, mi, E, k = 18432, 2048, 256, 8
    attn = (
        h * q_rank
        + q_rank
        + q_rank * heads * (nope + rope)  # q_a_proj, q_a_layernorm, q_b_proj
        + h * (kv_rank + rope)
        + kv_rank
        + kv_rank * heads * (nope + v)
        + heads * v * h
    )
    dense_layer = attn + 3 * h * inter + 2 * h
    moe_layer = attn + E * 3 * h * mi + 3 * h * mi + E * h + E + 2 * h  # + e_score_correction_bias
    total = 2 * V * h + 3 * dense_layer + (L - 3) * moe_layer + h  # MTP layer not in num_hidden_layers
    assert total == 671_026_419_200
    s = spec("deepseek-ai__DeepSeek-V3")
    assert s.params.total == total
    assert s.params.active == total - 58 * (E - k) * 3 * h * mi


def test_kimi_k2_is_read_as_deepseek_v3() -> None:
    # moonshotai/Kimi-K2-Instruct: model_type kimi_k2 (remote code) over DeepseekV3ForCausalLM.
    V, h, L, heads, q_rank, kv_rank, rope, nope, v = 163840, 7168, 61, 64, 1536, 512, 64, 128, 128
    inter, mi, E, k = 18432, 2048, 384, 8
    attn = (
        h * q_rank
        + q_rank
        + q_rank * heads * (nope + rope)
        + h * (kv_rank + rope)
        + kv_rank
        + kv_rank * heads * (nope + v)
        + heads * v * h
    )
    dense_layer = attn + 3 * h * inter + 2 * h
    moe_layer = attn + E * 3 * h * mi + 3 * h * mi + E * h + E + 2 * h  # + e_score_correction_bias
    total = 2 * V * h + 1 * dense_layer + (L - 1) * moe_layer + h  # first_k_dense_replace 1
    # A public listing of the checkpoint's tensors sums to 1,026,470,731,056 elements, which also counts
    # the fp8 block scales (weight_scale_inv, one per 128x128 block) and the rotary inv_freq buffers.
    scales = L * (5 * 56 + 128 * 4 + 56 * 64 + 12 * 56 + 96 * 12) + 3 * 144 * 56 + (L - 1) * (E + 1) * 3 * 16 * 56
    assert total + scales + L * 56 == 1_026_470_731_056
    s = spec("moonshotai__Kimi-K2-Instruct")
    assert s.model_type == "deepseek_v3"
    assert s.params.total == total  # ~1.03T
    assert s.params.active == total - (L - 1) * (E - k) * 3 * h * mi
    assert s.warnings == ("kimi_k2 is read as deepseek_v3, the type of its architecture DeepseekV3ForCausalLM.",)
    assert not s.unread


def test_gpt_oss_20b_logical_total() -> None:
    V, h, L, nh, nkv, hd, E, k, inter = 201088, 2880, 24, 64, 8, 64, 32, 4, 2880
    attn = (h * nh * hd + nh * hd) + 2 * (h * nkv * hd + nkv * hd) + (nh * hd * h + h) + nh  # biases, sinks
    experts = E * (h * 2 * inter + 2 * inter) + E * (inter * h + h)  # gate_up and down with biases
    router = E * h + E
    total = 2 * V * h + L * (attn + experts + router + 2 * h) + h
    assert total == 20_914_757_184  # the published 20.9B
    s = spec("openai__gpt-oss-20b")
    assert s.params.total == total
    per_expert = 3 * h * inter + 2 * inter + h
    assert s.params.active == total - L * (E - k) * per_expert


def test_llama4_scout_moe_shared_expert_and_vision() -> None:
    V, h, L, nh, nkv, hd, E, inter = 202048, 5120, 48, 40, 8, 128, 16, 8192
    attn = h * nh * hd + 2 * h * nkv * hd + nh * hd * h  # qk norm is a weightless L2 norm
    moe = E * 3 * h * inter + 3 * h * inter + E * h  # routed, shared expert, router
    text = 2 * V * h + L * (attn + moe + 2 * h) + h
    hv, Lv, iv = 1408, 34, 5632
    vision = (
        3 * 14 * 14 * hv
        + hv
        + ((336 // 14) ** 2 + 1) * hv
        + 2 * 2 * hv  # patches, class, positions, LNs
        + Lv * (4 * (hv * hv + hv) + (hv * iv + iv) + (iv * hv + hv) + 2 * 2 * hv)
        + iv * 4096
        + 4096 * 4096  # pixel-shuffle MLP adapter
        + 4096 * h
    )  # multi-modal projector
    assert text + vision == 108_641_793_536
    s = spec("meta-llama__Llama-4-Scout-17B-16E-Instruct")
    assert s.params.total == text + vision
    assert s.params.vision == vision
    assert s.params.active == text + vision - L * (E - 1) * 3 * h * inter


def test_mistral_small_3_1_pixtral_and_projector() -> None:
    V, h, L, nh, nkv, hd, inter = 131072, 5120, 40, 32, 8, 128, 32768
    text = llama_like(V, h, L, nh, nkv, hd, inter, tied=False)
    hv, Lv, iv = 1024, 24, 4096
    vision = 3 * 14 * 14 * hv + hv + Lv * (4 * hv * hv + 3 * hv * iv + 2 * hv)  # conv, ln_pre, layers
    projector = hv + (2 * 2 * hv) * hv + hv * h + h * h  # norm, patch merger, linear_1, linear_2
    assert text + vision + projector == 24_011_361_280
    s = spec("mistralai__Mistral-Small-3.1-24B-Instruct-2503")
    assert s.params.total == text + vision + projector
    assert s.params.vision == vision + projector


def test_jamba_mamba_attention_moe_hybrid() -> None:
    V, h, L, nh, nkv, hd, inter, E, k = 65536, 4096, 32, 32, 8, 128, 14336, 16, 2
    d_inner, d_state, d_conv, dt_rank = 2 * 4096, 16, 4, 256
    attn = h * nh * hd + 2 * h * nkv * hd + nh * hd * h
    mamba = (
        h * 2 * d_inner  # in_proj
        + d_inner * d_conv
        + d_inner  # depthwise conv1d with bias
        + d_inner * (dt_rank + 2 * d_state)  # x_proj
        + dt_rank * d_inner
        + d_inner  # dt_proj with bias
        + d_inner * d_state
        + d_inner  # A_log, D
        + dt_rank
        + 2 * d_state  # dt, B, C layernorms
        + d_inner * h
    )  # out_proj
    n_attn = 4  # layers 4, 12, 20, 28 (attn_layer_period 8, offset 4)
    n_moe = 16  # odd layers (expert_layer_period 2, offset 1)
    mlps = n_moe * (E * 3 * h * inter + E * h) + (L - n_moe) * 3 * h * inter
    total = 2 * V * h + n_attn * attn + (L - n_attn) * mamba + mlps + L * 2 * h + h
    s = spec("ai21labs__AI21-Jamba-1.5-Mini")
    assert s.params.total == total
    assert s.params.active == total - n_moe * (E - k) * 3 * h * inter
    assert round(total / 1e9, 1) == 51.6  # the published 52B total / 12B active


def raw(name: str) -> dict:
    return json.loads((CONFIGS / f"{name}.json").read_text())


# Variants of the fixtures that exercise the placement rules; their totals were also checked
# against transformers 5.17 on the meta device (see the module docstring).


def test_llama4_maverick_like_interleaved_moe() -> None:
    cfg = raw("meta-llama__Llama-4-Scout-17B-16E-Instruct")
    cfg["text_config"].update(num_local_experts=128, interleave_moe_layer_step=2)
    V, h, L, nh, nkv, hd, E, inter, dense = 202048, 5120, 48, 40, 8, 128, 128, 8192, 16384
    attn = h * nh * hd + 2 * h * nkv * hd + nh * hd * h
    moe_layer = attn + E * 3 * h * inter + 3 * h * inter + E * h + 2 * h  # odd layers (i + 1) % 2 == 0
    dense_layer = attn + 3 * h * dense + 2 * h  # even layers: intermediate_size_mlp
    vision = 871_932_416  # as worked out for Scout above
    total = 2 * V * h + (L // 2) * moe_layer + (L // 2) * dense_layer + h + vision
    assert total == 401_583_781_376  # the published 400B
    s = load_model_spec(cfg)
    assert s.params.total == total
    assert (s.num_moe_layers, s.intermediate_size) == (24, 16384)


def test_gpt_oss_120b_like() -> None:
    cfg = {
        **raw("openai__gpt-oss-20b"),
        "num_hidden_layers": 36,
        "num_local_experts": 128,
        "layer_types": ["sliding_attention", "full_attention"] * 18,
    }
    V, h, L, nh, nkv, hd, E, inter = 201088, 2880, 36, 64, 8, 64, 128, 2880
    attn = (h * nh * hd + nh * hd) + 2 * (h * nkv * hd + nkv * hd) + (nh * hd * h + h) + nh
    experts = E * (h * 2 * inter + 2 * inter) + E * (inter * h + h)
    total = 2 * V * h + L * (attn + experts + E * h + E + 2 * h) + h
    assert total == 116_829_156_672  # the published 117B
    assert load_model_spec(cfg).params.total == total


def test_phi3_mini_like() -> None:
    cfg = {
        **raw("microsoft__phi-4"),
        "sliding_window": 2047,
        "hidden_size": 3072,
        "num_attention_heads": 32,
        "num_key_value_heads": 32,
        "intermediate_size": 8192,
        "vocab_size": 32064,
        "num_hidden_layers": 32,
    }
    expected = llama_like(32064, 3072, 32, 32, 32, 96, 8192, tied=False)
    assert expected == 3_821_079_552  # Phi-3-mini's published 3.8B
    s = load_model_spec(cfg)
    assert s.params.total == expected
    assert {(layer.kind, layer.window) for layer in s.layers} == {("sliding", 2047)}


def test_deepseek_moe_layer_freq_follows_the_reference_code() -> None:
    # DeepSeek's own modelling code and vLLM make layer i an MoE layer when i >= first_k_dense_replace
    # and i % moe_layer_freq == 0 (transformers 5.17 ignores moe_layer_freq; every released
    # DeepSeek config has 1, where the two agree).
    cfg = {**raw("deepseek-ai__DeepSeek-V2-Lite-Chat"), "first_k_dense_replace": 2, "moe_layer_freq": 2}
    s = load_model_spec(cfg)
    assert s.num_moe_layers == len(range(2, 27, 2)) == 13


def test_qwen2_5_vl_7b_text_and_vit() -> None:
    text = llama_like(152064, 3584, 28, 28, 4, 128, 18944, tied=False, qkv_bias=True)  # Qwen2.5-7B
    width, depth, inter, out, merged = 1280, 32, 3420, 3584, 1280 * 2 * 2
    patches = 3 * 2 * 14 * 14 * width  # Conv3d over 2 frames x 14 x 14, no bias
    block = (
        2 * width  # two RMSNorms
        + width * 3 * width
        + 3 * width
        + width * width
        + width  # qkv, proj with biases
        + 2 * (width * inter + inter)
        + inter * width
        + width
    )  # gated MLP with biases
    merger = width + merged * merged + merged + merged * out + out  # ln_q, Linear, GELU, Linear
    vision = patches + depth * block + merger
    assert text + vision == 8_292_166_656  # the published 8.29B
    s = load_model_spec(raw("Qwen__Qwen2.5-VL-7B-Instruct"))
    assert s.params.total == text + vision
    assert s.params.vision == vision
    assert s.vision is not None and (s.vision.hidden_size, s.vision.num_layers) == (1280, 32)
    # newer saves nest the text fields in text_config: same model
    cfg = raw("Qwen__Qwen2.5-VL-7B-Instruct")
    top = ("architectures", "model_type", "vision_config", "torch_dtype", "tie_word_embeddings")
    nested = {k: cfg[k] for k in top} | {"text_config": {k: v for k, v in cfg.items() if k not in top}}
    assert load_model_spec(nested).params.total == text + vision


def test_qwen2_vl_7b_layernorm_vit() -> None:
    cfg = raw("Qwen__Qwen2.5-VL-7B-Instruct") | {"model_type": "qwen2_vl"}
    cfg["vision_config"] = {
        "depth": 32,
        "embed_dim": 1280,
        "mlp_ratio": 4,
        "num_heads": 16,
        "in_chans": 3,
        "hidden_size": 3584,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
    }
    text = llama_like(152064, 3584, 28, 28, 4, 128, 18944, tied=False, qkv_bias=True)
    width, depth, inter, out, merged = 1280, 32, 4 * 1280, 3584, 1280 * 4
    block = (
        2 * 2 * width  # two LayerNorms with bias
        + width * 3 * width
        + 3 * width
        + width * width
        + width
        + width * inter
        + inter
        + inter * width
        + width
    )  # fc1, fc2 with biases
    merger = 2 * width + merged * merged + merged + merged * out + out
    vision = 3 * 2 * 14 * 14 * width + depth * block + merger
    assert text + vision == 8_291_375_616  # the published Qwen2-VL-7B-Instruct total
    assert load_model_spec(cfg).params.total == text + vision


def test_every_fixture_has_an_exact_total_here() -> None:
    covered = {name for name, *_ in DENSE} | {
        "microsoft__phi-2",
        "google__gemma-7b",
        "google__gemma-2-9b-it",
        "google__gemma-3-1b-it",
        "google__gemma-3-4b-it",
        "Qwen__Qwen3-30B-A3B",
        "Qwen__Qwen1.5-MoE-A2.7B",
        "mistralai__Mixtral-8x7B-Instruct-v0.1",
        "deepseek-ai__DeepSeek-V2-Lite-Chat",
        "deepseek-ai__DeepSeek-V3",
        "moonshotai__Kimi-K2-Instruct",
        "openai__gpt-oss-20b",
        "meta-llama__Llama-4-Scout-17B-16E-Instruct",
        "mistralai__Mistral-Small-3.1-24B-Instruct-2503",
        "ai21labs__AI21-Jamba-1.5-Mini",
        "Qwen__Qwen2.5-VL-7B-Instruct",
    }
    assert {p.stem for p in CONFIGS.glob("*.json")} <= covered
