"""KV cache bytes: per token for every fixture, and per sequence as each engine allocates.

Expected values are worked out here from the config numbers: a GQA layer caches
kv_heads x head_dim for keys and again for values per token; MLA caches kv_lora_rank +
qk_rope_head_dim once; Mamba layers hold d_inner x (d_conv + d_state) per sequence.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from estimator.config import load_model_spec
from estimator.dtypes import kv_dtype
from estimator.kv import kv_bytes_per_token, kv_cache_bytes

CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "configs"


def raw(name: str) -> dict:
    return json.loads((CONFIGS / f"{name}.json").read_text())


def spec(name: str, **changes):
    return load_model_spec({**raw(name), **changes})


# (fixture, attention layers, kv heads, head_dim) -> bf16 bytes = layers x kv x hd x 2 (K and V) x 2 bytes
GQA = [
    ("meta-llama__Llama-3.1-8B", 32, 8, 128),
    ("meta-llama__Llama-3.2-1B", 16, 8, 64),
    ("meta-llama__Llama-3.2-3B", 28, 8, 128),
    ("meta-llama__Llama-2-7b-hf", 32, 32, 128),
    ("codellama__CodeLlama-7b-hf", 32, 32, 128),
    ("RedHatAI__Meta-Llama-3.1-8B-Instruct-quantized.w4a16", 32, 8, 128),
    ("RedHatAI__Meta-Llama-3.1-8B-Instruct-quantized.w8a8", 32, 8, 128),
    ("mistralai__Mistral-7B-v0.1", 32, 8, 128),
    ("mistralai__Mixtral-8x7B-Instruct-v0.1", 32, 8, 128),
    ("mistralai__Mistral-Small-3.1-24B-Instruct-2503", 40, 8, 128),
    ("ibm-granite__granite-3.3-8b-instruct", 40, 8, 128),
    ("Qwen__Qwen2.5-3B", 36, 2, 128),  # 2048 / 16 heads = 128
    ("Qwen__Qwen2.5-7B", 28, 4, 128),  # 3584 / 28
    ("RedHatAI__Qwen2.5-7B-Instruct-fp8-dynamic", 28, 4, 128),
    ("Qwen__Qwen2.5-14B", 48, 8, 128),
    ("Qwen__Qwen2.5-32B", 64, 8, 128),
    ("Qwen__Qwen1.5-MoE-A2.7B", 24, 16, 128),
    ("Qwen__Qwen2.5-VL-7B-Instruct", 28, 4, 128),
    ("Qwen__Qwen3-0.6B", 28, 8, 128),
    ("Qwen__Qwen3-4B", 36, 8, 128),
    ("Qwen__Qwen3-8B", 36, 8, 128),
    ("Qwen__Qwen3-8B-AWQ", 36, 8, 128),
    ("Qwen__Qwen3-14B", 40, 8, 128),
    ("Qwen__Qwen3-32B", 64, 8, 128),
    ("Qwen__Qwen3-30B-A3B", 48, 4, 128),
    ("microsoft__phi-4", 40, 10, 128),  # 5120 / 40
    ("microsoft__phi-2", 32, 32, 80),  # 2560 / 32
    ("google__gemma-7b", 28, 16, 256),
    ("google__gemma-2-9b-it", 42, 8, 256),
    ("google__gemma-3-1b-it", 26, 1, 256),
    ("google__gemma-3-4b-it", 34, 4, 256),  # Gemma3TextConfig defaults
    ("openai__gpt-oss-20b", 24, 8, 64),
    ("meta-llama__Llama-4-Scout-17B-16E-Instruct", 48, 8, 128),
    ("ai21labs__AI21-Jamba-1.5-Mini", 4, 8, 128),  # attention in layers 4, 12, 20, 28 only
]


@pytest.mark.parametrize(("name", "layers", "kv_heads", "hd"), GQA)
def test_gqa_bytes_per_token(name: str, layers: int, kv_heads: int, hd: int) -> None:
    s = spec(name)
    assert kv_bytes_per_token(s, "bf16") == layers * kv_heads * hd * 2 * 2
    assert kv_bytes_per_token(s, "fp8") == layers * kv_heads * hd * 2 * 1


@pytest.mark.parametrize(
    ("name", "layers", "kv_rank", "rope"),
    [
        ("deepseek-ai__DeepSeek-V2-Lite-Chat", 27, 512, 64),
        ("deepseek-ai__DeepSeek-V3", 61, 512, 64),
        ("moonshotai__Kimi-K2-Instruct", 61, 512, 64),  # kimi_k2, read as DeepseekV3ForCausalLM's type
    ],
)
def test_mla_bytes_per_token_latent_plus_rope(name: str, layers: int, kv_rank: int, rope: int) -> None:
    s = spec(name)
    assert kv_bytes_per_token(s, "bf16") == layers * (kv_rank + rope) * 2
    # the latent is not split across GPUs: every GPU holds all of it
    assert kv_bytes_per_token(s, "bf16", gpus=4) == layers * (kv_rank + rope) * 2


def test_every_fixture_is_covered() -> None:
    covered = {n for n, *_ in GQA} | {
        "deepseek-ai__DeepSeek-V2-Lite-Chat",
        "deepseek-ai__DeepSeek-V3",
        "moonshotai__Kimi-K2-Instruct",
    }
    assert {p.stem for p in CONFIGS.glob("*.json")} <= covered


def test_phi4_is_2_5x_the_classic_formula() -> None:
    # classic: 2 x L x (h / g) x 2 bytes = 2 x 40 x 512 x 2; ours: 2 x 40 x 10 x 128 x 2
    assert kv_bytes_per_token(spec("microsoft__phi-4"), "bf16") / (2 * 40 * (5120 // 10) * 2) == 2.5


def test_gqa_split_across_gpus_and_replicated_past_kv_heads() -> None:
    s = spec("meta-llama__Llama-3.1-8B")  # 8 KV heads
    assert kv_bytes_per_token(s, "bf16", gpus=2) == 32 * 4 * 128 * 2 * 2
    assert kv_bytes_per_token(s, "bf16", gpus=8) == 32 * 1 * 128 * 2 * 2
    assert kv_bytes_per_token(s, "bf16", gpus=16) == 32 * 1 * 128 * 2 * 2  # replicated, one head each
    # 10 KV heads over 4 GPUs: the busiest holds ceil(10 / 4) = 3 (the 4 GPUs hold all 10, 3+3+2+2).
    phi4 = spec("microsoft__phi-4")
    assert kv_bytes_per_token(phi4, "bf16", gpus=4) == 40 * 3 * 128 * 2 * 2


def test_kv_dtype_setting() -> None:
    s = spec("microsoft__phi-2")  # float16 checkpoint
    assert kv_dtype(s, "off") is None
    assert kv_dtype(s, "on") == "fp16"
    assert kv_dtype(s, "auto") == "fp16"
    assert kv_dtype(s, "fp8") == "fp8"
    assert kv_dtype(spec("Qwen__Qwen3-8B"), "on") == "bf16"


def test_full_attention_cache_is_linear_in_tokens_and_batch() -> None:
    s = spec("meta-llama__Llama-3.1-8B")
    per_token = 32 * 8 * 128 * 2 * 2
    assert kv_cache_bytes(s, seq_len=1000, batch=3, kv_dtype="bf16") == per_token * 1000 * 3
    assert kv_cache_bytes(s, seq_len=1000, batch=3, kv_dtype="fp8") == per_token // 2 * 1000 * 3
    # vLLM allocates whole blocks of 16 tokens: 1000 -> 63 blocks = 1008 tokens
    assert kv_cache_bytes(s, seq_len=1000, batch=3, kv_dtype="bf16", layout="paged") == per_token * 1008 * 3


def test_gemma2_sliding_layers_keep_window_minus_one() -> None:
    s = spec("google__gemma-2-9b-it")  # 42 layers: even ones slide (window 4096), odd ones full
    assert [layer.kind for layer in s.layers[:4]] == ["sliding", "full", "sliding", "full"]
    per_layer_token = 8 * 256 * 2 * 2
    assert kv_cache_bytes(s, seq_len=8192, batch=1, kv_dtype="bf16") == 21 * per_layer_token * (8192 + 4095)
    # shorter than the window: every layer keeps every token
    assert kv_cache_bytes(s, seq_len=1000, batch=2, kv_dtype="bf16") == 42 * per_layer_token * 1000 * 2
    # vLLM: full layers 512 blocks; sliding layers cdiv(4095, 16) + 1 = 257 blocks
    assert kv_cache_bytes(s, seq_len=8192, batch=1, kv_dtype="bf16", layout="paged") == 21 * per_layer_token * (
        512 * 16 + 257 * 16
    )


def test_gemma3_five_sliding_to_one_full() -> None:
    s = spec("google__gemma-3-4b-it")  # 34 layers, pattern 6: layers 5, 11, 17, 23, 29 are full
    full = [i for i, layer in enumerate(s.layers) if layer.kind == "full"]
    assert full == [5, 11, 17, 23, 29]
    per_layer_token = 4 * 256 * 2 * 2
    assert kv_cache_bytes(s, seq_len=32768, batch=1, kv_dtype="bf16") == per_layer_token * (5 * 32768 + 29 * 1023)


def test_gpt_oss_alternating_128_window() -> None:
    s = spec("openai__gpt-oss-20b")
    per_layer_token = 8 * 64 * 2 * 2
    assert kv_cache_bytes(s, seq_len=4096, batch=1, kv_dtype="bf16") == per_layer_token * (12 * 4096 + 12 * 127)
    # vLLM: sliding layers keep cdiv(127, 16) + 1 = 9 blocks
    assert kv_cache_bytes(s, seq_len=4096, batch=1, kv_dtype="bf16", layout="paged") == per_layer_token * (
        12 * 4096 + 12 * 9 * 16
    )


def test_mistral_sliding_window_without_layer_types_slides_every_layer() -> None:
    s = spec("mistralai__Mistral-7B-v0.1")  # sliding_window 4096, no layer_types
    assert {layer.kind for layer in s.layers} == {"sliding"}
    assert kv_cache_bytes(s, seq_len=32768, batch=1, kv_dtype="bf16") == 32 * 8 * 128 * 2 * 2 * 4095


def test_phi4_window_per_engine_notes() -> None:
    # The fixture has sliding_window null (all full). A revision with sliding_window 16384 and no
    # layer_types makes every layer a sliding one in transformers (engine-notes.md).
    assert {layer.kind for layer in spec("microsoft__phi-4").layers} == {"full"}
    s = spec("microsoft__phi-4", sliding_window=16384)
    assert {layer.kind for layer in s.layers} == {"sliding"}
    assert kv_cache_bytes(s, seq_len=16384, batch=1, kv_dtype="bf16") == 40 * 10 * 128 * 2 * 2 * 16383
    assert kv_cache_bytes(s, seq_len=1000, batch=1, kv_dtype="bf16") == 40 * 10 * 128 * 2 * 2 * 1000


def test_qwen2_sliding_window_only_when_enabled() -> None:
    assert {layer.kind for layer in spec("Qwen__Qwen2.5-7B").layers} == {"full"}
    s = spec("Qwen__Qwen2.5-7B", use_sliding_window=True, sliding_window=4096, max_window_layers=21)
    kinds = [layer.kind for layer in s.layers]
    assert kinds == ["full"] * 21 + ["sliding"] * 7


def test_mla_cache_per_sequence() -> None:
    s = spec("deepseek-ai__DeepSeek-V2-Lite-Chat")
    assert kv_cache_bytes(s, seq_len=2048, batch=2, kv_dtype="bf16", gpus=2) == 27 * (512 + 64) * 2 * 2048 * 2


def test_jamba_state_layers_fixed_per_sequence() -> None:
    s = spec("ai21labs__AI21-Jamba-1.5-Mini")
    d_inner, d_conv, d_state = 2 * 4096, 4, 16
    # transformers 5.17 (seen on a GPU): conv_states [b, d_inner, d_conv] in bf16, SSM state
    # [b, d_inner, d_state] in fp32; 28 mamba layers
    state_bytes = 28 * (d_inner * d_conv * 2 + d_inner * d_state * 4)
    attn_token = 4 * 8 * 128 * 2 * 2
    assert kv_cache_bytes(s, seq_len=1000, batch=2, kv_dtype="bf16") == (attn_token * 1000 + state_bytes) * 2
    assert kv_cache_bytes(s, seq_len=100_000, batch=1, kv_dtype="bf16") == attn_token * 100_000 + state_bytes
    # two GPUs: 4 of 8 KV heads each, half the mamba channels each
    assert (
        kv_cache_bytes(s, seq_len=1000, batch=1, kv_dtype="bf16", gpus=2) == attn_token // 2 * 1000 + state_bytes // 2
    )
    # vLLM: a conv window of d_conv - 1 and the SSM state in the model dtype; 1000 -> 63 blocks
    vllm_state = 28 * (d_inner * (d_conv - 1) * 2 + d_inner * d_state * 2)
    assert kv_cache_bytes(s, seq_len=1000, batch=1, kv_dtype="bf16", layout="paged") == attn_token * 1008 + vllm_state
    # an fp8 KV cache does not shrink the Mamba state
    assert kv_cache_bytes(s, seq_len=1000, batch=1, kv_dtype="fp8") == attn_token // 2 * 1000 + state_bytes


def test_llama4_chunked_layers_keep_the_chunk() -> None:
    s = spec("meta-llama__Llama-4-Scout-17B-16E-Instruct")  # every 4th layer NoPE/global
    kinds = [layer.kind for layer in s.layers]
    assert kinds[:8] == ["sliding", "sliding", "sliding", "full"] * 2
    per_layer_token = 8 * 128 * 2 * 2
    assert kv_cache_bytes(s, seq_len=100_000, batch=1, kv_dtype="bf16") == per_layer_token * (12 * 100_000 + 36 * 8191)
