"""Weight bytes by format and tensor-parallel share, worked out here from the config numbers.

Per-layer matrices are written as (in_features, out_features); a quantized matrix of n = in x out
weights costs what its format stores (packed weights, scales, zero points), everything else stays
in the torch dtype.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from common.errors import InputError
from estimator.config import load_model_spec
from estimator.spec import SafetensorsInfo, TensorInfo
from estimator.weights import weight_bytes, weight_format_name

CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "configs"


def raw(name: str) -> dict:
    return json.loads((CONFIGS / f"{name}.json").read_text())


def spec(name: str, safetensors: SafetensorsInfo | None = None, **changes):
    return load_model_spec({**raw(name), **changes}, safetensors=safetensors)


def cdiv(a: int, b: int) -> int:
    return -(-a // b)


# Llama-3.1-8B: h 4096, 32 layers, 32 heads, 8 KV heads of 128, MLP 14336, vocab 128256, untied.
LLAMA_LAYER = [
    (4096, 4096),
    (4096, 1024),
    (4096, 1024),
    (4096, 4096),  # q, k, v, o
    (4096, 14336),
    (4096, 14336),
    (14336, 4096),
]  # gate, up, down
LLAMA_REST = 2 * 128256 * 4096 + 32 * 2 * 4096 + 4096  # embeddings + lm_head + norms (never quantized)
LLAMA_LINEAR = 32 * sum(i * o for i, o in LLAMA_LAYER)

# Qwen3-8B: h 4096, 36 layers, 32 heads, 8 KV heads of 128, MLP 12288, vocab 151936, untied, q/k norms.
QWEN3_8B_LAYER = [(4096, 4096), (4096, 1024), (4096, 1024), (4096, 4096), (4096, 12288), (4096, 12288), (12288, 4096)]
QWEN3_8B_REST = 2 * 151936 * 4096 + 36 * (2 * 4096 + 2 * 128) + 4096


def test_bf16_is_two_bytes_per_parameter() -> None:
    s = spec("meta-llama__Llama-3.1-8B")
    assert LLAMA_REST + LLAMA_LINEAR == 8_030_261_248
    assert weight_bytes(s) == 8_030_261_248 * 2
    assert weight_format_name(s) == "bf16"
    assert weight_bytes(s, weight_format="fp32") == 8_030_261_248 * 4
    assert weight_bytes(s, bits=32) == 8_030_261_248 * 4
    assert weight_bytes(s, bits=16) == 8_030_261_248 * 2
    assert weight_bytes(spec("microsoft__phi-2")) == 2_779_683_840 * 2  # float16 checkpoint


def test_tensor_parallel_share_llama() -> None:
    s = spec("meta-llama__Llama-3.1-8B")
    # gpus=2: vocab rows halve (64128 each), q/gate/up split outputs, o/down split inputs, 4 KV heads each
    layer = 4096 * 2048 + 2 * 4096 * 512 + 2048 * 4096 + 2 * 4096 * 7168 + 7168 * 4096 + 2 * 4096
    assert weight_bytes(s, gpus=2) == (2 * 64128 * 4096 + 32 * layer + 4096) * 2
    # gpus=16: 8016 vocab rows; KV heads replicated (1 of 8 per GPU, 128 rows); 896 MLP rows
    layer = 4096 * 256 + 2 * 4096 * 128 + 256 * 4096 + 2 * 4096 * 896 + 896 * 4096 + 2 * 4096
    assert weight_bytes(s, gpus=16) == (2 * 8016 * 4096 + 32 * layer + 4096) * 2


def test_fp8_override_per_tensor_scale() -> None:
    s = spec("meta-llama__Llama-3.1-8B")
    expected = LLAMA_REST * 2 + LLAMA_LINEAR * 1 + 32 * 7 * 4  # one fp32 scale per matrix
    assert weight_bytes(s, weight_format="fp8") == expected
    assert weight_format_name(s, weight_format="fp8") == "fp8"


def test_int8_override_per_channel_scale() -> None:
    s = spec("meta-llama__Llama-3.1-8B")
    scales = 32 * sum(o for _, o in LLAMA_LAYER) * 4
    assert weight_bytes(s, weight_format="int8") == LLAMA_REST * 2 + LLAMA_LINEAR + scales
    assert weight_bytes(s, bits=8) == weight_bytes(s, weight_format="int8")


def test_int4_override_group_128() -> None:
    s = spec("meta-llama__Llama-3.1-8B")
    per_layer = sum(i * o // 2 + (i // 128) * o * 2 for i, o in LLAMA_LAYER)
    assert weight_bytes(s, bits=4) == LLAMA_REST * 2 + 32 * per_layer
    assert weight_bytes(s, weight_format="int4", bits=4) == LLAMA_REST * 2 + 32 * per_layer
    assert weight_format_name(s, bits=4) == "int4 g128"


def test_gptq_and_awq_overrides_store_zero_points() -> None:
    s = spec("meta-llama__Llama-3.1-8B")
    awq = sum(i * o // 2 + (i // 128) * o * 2 + (i // 128) * o // 2 for i, o in LLAMA_LAYER)
    gptq = awq + sum(4 * i for i, _ in LLAMA_LAYER)  # int32 g_idx per input
    assert weight_bytes(s, weight_format="awq") == LLAMA_REST * 2 + 32 * awq
    assert weight_bytes(s, weight_format="gptq") == LLAMA_REST * 2 + 32 * gptq
    assert weight_format_name(s, weight_format="gptq") == "gptq int4 g128"


def test_nf4_override_absmax_per_64() -> None:
    s = spec("meta-llama__Llama-3.1-8B")
    per_layer = sum(i * o // 2 + cdiv(i * o, 64) * 4 for i, o in LLAMA_LAYER)
    assert weight_bytes(s, weight_format="nf4") == LLAMA_REST * 2 + 32 * per_layer


def test_mxfp4_override_and_kbit_widths() -> None:
    s = spec("meta-llama__Llama-3.1-8B")
    assert weight_bytes(s, weight_format="mxfp4") == LLAMA_REST * 2 + LLAMA_LINEAR // 2 + LLAMA_LINEAR // 32
    # p=3: 3 bits per weight plus an fp16 scale per 32
    per_layer = sum(cdiv(i * o * 3, 8) + cdiv(i * o, 32) * 2 for i, o in LLAMA_LAYER)
    assert weight_bytes(s, bits=3) == LLAMA_REST * 2 + 32 * per_layer


def test_contradictory_or_unknown_overrides_are_input_errors() -> None:
    s = spec("meta-llama__Llama-3.1-8B")
    with pytest.raises(InputError, match="p=4 contradicts"):
        weight_bytes(s, weight_format="fp8", bits=4)
    with pytest.raises(InputError, match="p=7"):
        weight_bytes(s, bits=7)


def test_gpt_oss_mxfp4_experts_plus_bf16() -> None:
    s = spec("openai__gpt-oss-20b")
    h, inter, E, L = 2880, 2880, 32, 24
    expert_weights = L * E * (h * 2 * inter + inter * h)
    packed = expert_weights // 2 + expert_weights // 32  # 16 bytes of fp4 + 1 e8m0 byte per 32
    rest = 20_914_757_184 - expert_weights  # attention, biases, router, norms, embeddings in bf16
    assert weight_bytes(s) == rest * 2 + packed == 13_761_264_768  # 12.82 GiB, as the checkpoint
    assert weight_format_name(s) == "mxfp4 experts + bf16"
    assert weight_bytes(s, weight_format="bf16") == 20_914_757_184 * 2


def test_awq_checkpoint_qwen3_8b() -> None:
    s = spec("Qwen__Qwen3-8B-AWQ")  # 4 bits, group 128, zero points, float16 elsewhere
    per_layer = sum(i * o // 2 + (i // 128) * o * 2 + (i // 128) * o // 2 for i, o in QWEN3_8B_LAYER)
    assert weight_bytes(s) == QWEN3_8B_REST * 2 + 36 * per_layer
    assert weight_format_name(s) == "awq int4 g128"
    assert weight_bytes(s, bits=16) == 8_190_735_360 * 2  # dequantized to float16


def test_compressed_tensors_w4a16_llama() -> None:
    s = spec("RedHatAI__Meta-Llama-3.1-8B-Instruct-quantized.w4a16")  # symmetric int4 g128, lm_head fp16
    per_layer = sum(i * o // 2 + (i // 128) * o * 2 + 16 for i, o in LLAMA_LAYER)  # + weight_shape (2 x int64)
    assert weight_bytes(s) == LLAMA_REST * 2 + 32 * per_layer
    assert weight_format_name(s) == "int4 g128"


def test_compressed_tensors_w8a8_llama() -> None:
    s = spec("RedHatAI__Meta-Llama-3.1-8B-Instruct-quantized.w8a8")  # int8, fp32 scale per channel
    scales = 32 * sum(o for _, o in LLAMA_LAYER) * 4
    assert weight_bytes(s) == LLAMA_REST * 2 + LLAMA_LINEAR + scales
    assert weight_format_name(s) == "int8 w8a8"


def test_compressed_tensors_fp8_qwen2_5_7b() -> None:
    s = spec("RedHatAI__Qwen2.5-7B-Instruct-fp8-dynamic")
    h, hd, nh, nkv, inter, L, V = 3584, 128, 28, 4, 18944, 28, 152064
    layer = [(h, nh * hd), (h, nkv * hd), (h, nkv * hd), (nh * hd, h), (h, inter), (h, inter), (inter, h)]
    rest = 2 * V * h + L * (nh * hd + 2 * nkv * hd + 2 * h) + h  # + q/k/v biases
    expected = rest * 2 + L * sum(i * o + o * 4 for i, o in layer)
    assert weight_bytes(s) == expected
    assert weight_format_name(s) == "fp8"


def test_fp8_block_checkpoint_qwen3_8b() -> None:
    q = {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8", "weight_block_size": [128, 128]}
    s = spec("Qwen__Qwen3-8B", quantization_config=q)  # as Qwen/Qwen3-8B-FP8 ships it
    per_layer = sum(i * o + cdiv(o, 128) * cdiv(i, 128) * 4 for i, o in QWEN3_8B_LAYER)
    assert weight_bytes(s) == QWEN3_8B_REST * 2 + 36 * per_layer
    assert weight_format_name(s) == "fp8 block 128x128"


def test_bitsandbytes_nf4_double_quant_checkpoint() -> None:
    q = {
        "quant_method": "bitsandbytes",
        "load_in_4bit": True,
        "bnb_4bit_quant_type": "nf4",
        "bnb_4bit_use_double_quant": True,
    }
    s = spec("Qwen__Qwen3-8B", quantization_config=q)
    per_layer = 0
    for i, o in QWEN3_8B_LAYER:
        blocks = cdiv(i * o, 64)
        per_layer += i * o // 2 + blocks + cdiv(blocks, 256) * 4  # uint8 absmax + fp32 per 256 blocks
    assert weight_bytes(s) == QWEN3_8B_REST * 2 + 36 * per_layer
    assert weight_format_name(s) == "nf4"


def test_checkpoint_bytes_win_and_tied_duplicate_is_dropped() -> None:
    # Qwen3-0.6B stores lm_head although tied: the checkpoint holds 151936 x 1024 more parameters
    unique = 596_049_920
    stored = unique + 151936 * 1024
    s = spec("Qwen__Qwen3-0.6B", safetensors=SafetensorsInfo(parameters={"BF16": stored}))
    assert s.params_source == "safetensors"
    assert s.params.total == stored == 751_632_384
    assert s.params.lm_head == 151936 * 1024
    assert s.checkpoint_bytes == stored * 2
    assert weight_bytes(s) == unique * 2  # transformers and vLLM re-tie lm_head on load
    # without the checkpoint, config arithmetic gives the unique count
    assert spec("Qwen__Qwen3-0.6B").params.total == unique


def test_checkpoint_bytes_with_tensor_parallel_share() -> None:
    n = 8_030_261_248
    extra = 1000  # e.g. a stored buffer the config arithmetic does not know
    s = spec("meta-llama__Llama-3.1-8B", safetensors=SafetensorsInfo(parameters={"BF16": n + extra}))
    assert weight_bytes(s) == (n + extra) * 2
    layer = 4096 * 2048 + 2 * 4096 * 512 + 2048 * 4096 + 2 * 4096 * 7168 + 7168 * 4096 + 2 * 4096
    share = (2 * 64128 * 4096 + 32 * layer + 4096) * 2
    # what the split removes is taken off the exact bytes: checkpoint - (modelled full - modelled share)
    assert weight_bytes(s, gpus=2) == (n + extra) * 2 - (n * 2 - share)
    assert s.warnings  # the unexplained difference is reported


def test_quantized_checkpoint_bytes_from_tensor_headers() -> None:
    tensors = {
        "a": TensorInfo(dtype="U8", shape=(100,), nbytes=100),
        "b": TensorInfo(dtype="BF16", shape=(10,), nbytes=20),
    }
    s = spec("openai__gpt-oss-20b", safetensors=SafetensorsInfo(parameters={"U8": 100, "BF16": 10}, tensors=tensors))
    assert s.checkpoint_bytes == 120
    assert s.params_source == "config"  # packed U8 counts are not parameters
    assert s.params.total == 20_914_757_184
    assert weight_bytes(s) == 120
    assert weight_bytes(s, weight_format="bf16") == 20_914_757_184 * 2  # an override ignores the bytes


def test_moe_and_mla_tensor_parallel_shares() -> None:
    s = spec("mistralai__Mixtral-8x7B-Instruct-v0.1")
    h, inter, E, L, V = 4096, 14336, 8, 32, 32000
    # gpus=2: each expert's MLP split in two, 4 of 8 KV heads, router and norms replicated
    layer = h * 2048 + 2 * h * 512 + 2048 * h + E * 3 * h * (inter // 2) + E * h + 2 * h
    assert weight_bytes(s, gpus=2) == (2 * (V // 2) * h + L * layer + h) * 2
    ds = spec("deepseek-ai__DeepSeek-V2-Lite-Chat")
    h, heads, L, V, kv_rank, rope = 2048, 16, 27, 102400, 512, 64
    # gpus=2: kv_a_proj_with_mqa (h -> 576) and its norm replicated; q, kv_b by heads; o by inputs
    half = heads // 2  # 8 heads per GPU; q head 128 + 64 wide, kv_b head 128 + 128, v 128
    attn = h * half * 192 + h * (kv_rank + rope) + kv_rank + kv_rank * half * 256 + half * 128 * h
    dense = attn + 2 * h * (10944 // 2) + (10944 // 2) * h + 2 * h
    moe = attn + 64 * 3 * h * (1408 // 2) + 3 * h * (2816 // 2) + 64 * h + 2 * h
    assert weight_bytes(ds, gpus=2) == (2 * (V // 2) * h + dense + (L - 1) * moe + h) * 2


def test_gptq_8bit_checkpoint_packs_8_bits() -> None:
    q = {"quant_method": "gptq", "bits": 8, "group_size": 128, "desc_act": False, "sym": True}
    s = spec("Qwen__Qwen3-8B", quantization_config=q)
    # qweight 8 bits per weight, fp16 scales and 8-bit packed zeros per group of 128, int32 g_idx
    per_layer = sum(i * o + (i // 128) * o * 2 + (i // 128) * o + 4 * i for i, o in QWEN3_8B_LAYER)
    assert weight_bytes(s) == QWEN3_8B_REST * 2 + 36 * per_layer
    assert weight_format_name(s) == "gptq int8 g128"
