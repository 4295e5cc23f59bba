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

from estimator.config import load_model_spec
from estimator.engines import vllm
from estimator.query import Query
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
    assert loaded == checkpoint + 10 * 5376 * 2048 * 2 + 262_144 * 768 * 2
    # n036 logs "Model loading took 58.99 GiB": within 0.5% (the vision tower's buffers are not counted).
    assert abs(loaded / (58.99 * GiB) - 1) < 0.005
