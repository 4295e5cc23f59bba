"""EAGLE-3 drafters (draft=<EAGLE-3 head> spec=<tokens>) in vLLM's weights and KV layout, 0.20-0.33.

Expected numbers are hand arithmetic below, from the drafter's config and the tensors its checkpoint
ships. The Llama-3.1-8B head is the one published with its config and its parameter list (d2t
(32000,) int64, fc 4096 x 12288, one "midlayer", lm_head 32000 x 4096, no embed_tokens) in
https://github.com/NVIDIA/TensorRT-LLM/issues/6158; yuhuili/EAGLE3-LLaMA3.1-Instruct-8B has the same
shapes (architectures LlamaForCausalLMEagle3).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from common.errors import UnmodelledError
from estimator.config import load_model_spec
from estimator.draft import read_drafter, speculators_layer_config
from estimator.engines import vllm
from estimator.query import Query

ROOT = Path(__file__).resolve().parents[2]
LLAMA8B = load_model_spec(json.loads((ROOT / "tests/fixtures/configs/meta-llama__Llama-3.1-8B.json").read_text()))

HEAD = {
    "architectures": ["LlamaForCausalLM"],
    "attention_bias": False,
    "head_dim": 128,
    "hidden_act": "silu",
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "max_position_embeddings": 131072,
    "mlp_bias": False,
    "model_type": "llama",
    "num_attention_heads": 32,
    "num_hidden_layers": 1,
    "num_key_value_heads": 8,
    "rms_norm_eps": 1e-05,
    "rope_scaling": {
        "factor": 8.0,
        "high_freq_factor": 4.0,
        "low_freq_factor": 1.0,
        "original_max_position_embeddings": 8192,
        "rope_type": "llama3",
    },
    "rope_theta": 500000.0,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "draft_vocab_size": 32000,
    "vocab_size": 128256,
}
EAGLE3_CONFIG = {**HEAD, "architectures": ["LlamaForCausalLMEagle3"]}
# The tensors of the published head (EAGLE's own names: "midlayer." is vLLM's layers.0); no embed_tokens.
SHIPPED = (
    "d2t",
    "t2d",
    "fc.weight",
    "midlayer.hidden_norm.weight",
    "midlayer.input_layernorm.weight",
    "midlayer.self_attn.q_proj.weight",
    "midlayer.mlp.down_proj.weight",
    "norm.weight",
    "lm_head.weight",
)


def _drafter(config: dict, names: tuple[str, ...] = SHIPPED, model_id: str = "yuhuili/EAGLE3-LLaMA3.1-Instruct-8B"):
    return read_drafter(model_id, config, load_model_spec(config), names)


WITH = LLAMA8B.model_copy(update={"drafter": _drafter(EAGLE3_CONFIG)})


def q(**kw) -> Query:
    base = dict(engine="vllm", vllm="0.33", gpus=1, draft="yuhuili/EAGLE3-LLaMA3.1-Instruct-8B", spec=3)
    return Query(**{**base, **kw})


# One GPU, bf16. Attention: q 4096 x (2 x 4096) = 33,554,432 (the first layer's QKV takes the
# embedding and the hidden state side by side), k and v 1024 x 8192 = 8,388,608 each, o 4096 x 4096 =
# 16,777,216: 67,108,864. MLP: 3 x 4096 x 14,336 = 176,160,768. lm_head: 32,000 x 4096 = 131,072,000.
# Whole on every GPU: fc 12,288 x 4096 = 50,331,648; hidden_norm, input_layernorm,
# post_attention_layernorm, norm: 4 x 4096 = 16,384. d2t: 32,000 int64 = 256,000 B.
SPLIT = 67_108_864 + 176_160_768 + 131_072_000
REPLICATED = 50_331_648 + 16_384
D2T = 32_000 * 8


def test_the_head_is_read_as_vllm_builds_it() -> None:
    drafter = WITH.drafter
    assert drafter is not None and drafter.method == "eagle3"
    assert (drafter.draft_vocab_size, drafter.eagle3_taps, drafter.target_hidden_size) == (32_000, 3, 4096)
    assert drafter.own_lm_head and not drafter.own_embed_tokens
    # A plain Llama checkpoint named eagle3 is one to vLLM (config/speculative.py falls back on the name).
    assert _drafter(HEAD, model_id="acme/llama3-eagle3-head").method == "eagle3"
    # Without the name it is vLLM's default method, a whole small model ("draft_model").
    assert _drafter(HEAD, model_id="acme/llama3-head").method == "draft_model"
    # A name vLLM reads as another method is not taken for a draft model.
    qwen_named = {**HEAD, "architectures": ["Qwen3ForCausalLM"]}
    mistral_named = {**HEAD, "architectures": ["MistralForCausalLM"]}
    with pytest.raises(UnmodelledError, match="reads its name as an eagle3 drafter"):
        _drafter(mistral_named, model_id="acme/Mistral-7B-eagle3")
    # "eagle-" in the name: vLLM's EAGLE-1 (EagleLlamaForCausalLM).
    assert _drafter(HEAD, (), model_id="yuhuili/EAGLE-LLaMA3-Instruct-8B").method == "eagle"
    with pytest.raises(UnmodelledError, match="reads its name as an eagle drafter"):
        _drafter(qwen_named, model_id="acme/EAGLE-Qwen3-8B")


def test_a_draft_model_needs_the_targets_vocabulary() -> None:
    # A one-layer Llama of 128,256 tokens beside Llama-3.1-8B: loaded whole, embedding and LM head its own.
    small = LLAMA8B.model_copy(update={"drafter": _drafter({**HEAD, "draft_vocab_size": None}, (), "acme/small")})
    assert vllm.drafter_refusal(small, q()) is None
    # Split: attention 4096 x 4096 x 2 + 2 x 1024 x 4096 = 41,943,040, MLP 176,160,768, embedding and
    # LM head 2 x 525,336,576; whole: 3 norms x 4096.
    assert vllm.drafter_weight_bytes(small, q()) == (41_943_040 + 176_160_768 + 2 * 525_336_576 + 12_288) * 2
    other = LLAMA8B.model_copy(update={"drafter": _drafter({**HEAD, "vocab_size": 32000}, (), "acme/small")})
    why = vllm.drafter_refusal(other, q())
    assert why is not None and "vocabulary (32,000) is not the target's (128,256)" in why
    why = vllm.drafter_refusal(small, q(vllm="0.19"))
    assert why is not None and "draft model" in why


def test_weights_by_hand() -> None:
    assert vllm.drafter_weight_bytes(WITH, q()) == (SPLIT + REPLICATED) * 2 + D2T == 849_635_328
    # TP 2: the layer and the LM head are split, fc / norms / d2t are whole on each GPU.
    assert vllm.drafter_weight_bytes(WITH, q(gpus=2)) == (SPLIT // 2 + REPLICATED) * 2 + D2T == 475_293_696


def test_own_embedding_is_counted_only_when_shipped() -> None:
    own = LLAMA8B.model_copy(update={"drafter": _drafter(EAGLE3_CONFIG, (*SHIPPED, "embed_tokens.weight"))})
    # + 128,256 x 4096 = 525,336,576 parameters, split over TP.
    assert vllm.drafter_weight_bytes(own, q()) == (SPLIT + 525_336_576 + REPLICATED) * 2 + D2T


def test_kv_one_full_attention_layer_beside_the_target() -> None:
    # The head's layer: 8 KV heads x (128 + 128) x 2 B = 4,096 B per token; the target's 32 layers
    # 131,072 B: the same page, so one group of 33 layers.
    layers = vllm.drafter_kv_layers(WITH, q())
    assert [(x.kind, x.kv_heads, x.key_dim) for x in layers] == [("full", 8, 128)]
    report = vllm.drafter_report(WITH, q(seq_len=32_768))
    assert report is not None and report.kv_bytes_per_token == 4096
    # 1 GiB of pool: blocks of 16 tokens x 33 layers x 4,096 B = 2,162,688 B -> 496 blocks, 7,936 tokens.
    blocks, tokens, _ = vllm.kv_capacity(WITH, q(seq_len=4096), 1 << 30, batched_tokens=8192)
    assert blocks == (1 << 30) // (16 * 33 * 4096) == 496
    assert tokens == 496 * 16


# A head tapping 4 target layers (eagle_config.eagle_aux_hidden_state_layer_ids) whose draft
# vocabulary is the target's: what changed between releases.
FOUR = {
    **EAGLE3_CONFIG,
    "draft_vocab_size": 128256,
    "eagle_config": {"eagle_aux_hidden_state_layer_ids": [1, 10, 20, 29]},
}


@pytest.mark.parametrize(
    ("release", "taps", "d2t"),
    [
        # 0.20-0.21: fc is target hidden x 3 whatever the config says; d2t always (128,256 int64).
        ("0.20", 3, 128_256 * 8),
        ("0.21", 3, 128_256 * 8),
        # 0.22: the tapped layers' count; d2t still always (up to 0.29).
        ("0.22", 4, 128_256 * 8),
        ("0.29", 4, 128_256 * 8),
        # 0.30+: no d2t when the draft vocabulary is the target's.
        ("0.30", 4, 0),
        ("0.33", 4, 0),
    ],
)
def test_fc_width_and_d2t_by_release(release: str, taps: int, d2t: int) -> None:
    spec = LLAMA8B.model_copy(update={"drafter": _drafter(FOUR)})
    lm_head = 128_256 * 4096
    expected = (67_108_864 + 176_160_768 + lm_head + taps * 4096 * 4096 + 16_384) * 2 + d2t
    assert vllm.drafter_weight_bytes(spec, q(vllm=release)) == expected


def test_norm_before_fc_and_fc_norm() -> None:
    config = {**EAGLE3_CONFIG, "norm_before_fc": True, "fc_norm": True}
    spec = LLAMA8B.model_copy(update={"drafter": _drafter(config)})
    # input_norm over 12,288 features; fc_norm 3 x 4096 more from 0.22 only.
    assert vllm.drafter_weight_bytes(spec, q(vllm="0.21")) == (SPLIT + REPLICATED + 12_288) * 2 + D2T
    assert vllm.drafter_weight_bytes(spec, q()) == (SPLIT + REPLICATED + 2 * 12_288) * 2 + D2T


def test_speculators_format_is_its_transformer_layer_config() -> None:
    speculators = {
        "architectures": ["Eagle3Speculator"],
        "speculators_model_type": "eagle3",
        "draft_vocab_size": 32000,
        "norm_before_residual": True,
        "transformer_layer_config": {k: v for k, v in HEAD.items() if k not in ("architectures", "draft_vocab_size")},
        "speculators_config": {"algorithm": "eagle3", "proposal_methods": [{"speculative_tokens": 3}]},
    }
    flat = speculators_layer_config(speculators)
    assert flat["architectures"] == ["Eagle3LlamaForCausalLM"] and flat["draft_vocab_size"] == 32000
    names = tuple(n.replace("midlayer.", "layers.0.") for n in SHIPPED)
    repo = "RedHatAI/Llama-3.1-8B-Instruct-speculator.eagle3"
    drafter = read_drafter(repo, speculators, load_model_spec(flat), names)
    spec = LLAMA8B.model_copy(update={"drafter": drafter})
    assert vllm.drafter_weight_bytes(spec, q()) == (SPLIT + REPLICATED) * 2 + D2T
    # A Qwen3 layer is built as Eagle3Qwen3ForCausalLM (speculators/algos.py@v0.24.0 eagle3_arch_map).
    layer = {**speculators["transformer_layer_config"], "model_type": "qwen3"}
    qwen = {**speculators, "transformer_layer_config": layer}
    assert speculators_layer_config(qwen)["architectures"] == ["Eagle3Qwen3ForCausalLM"]
    qwen_drafter = read_drafter("acme/q", qwen, load_model_spec(speculators_layer_config(qwen)), names)
    assert qwen_drafter.eagle3_layer == "qwen3"
    other = {**speculators, "transformer_layer_config": {**layer, "model_type": "mistral"}}
    with pytest.raises(UnmodelledError, match="speculators eagle3 drafter of mistral layers"):
        read_drafter("acme/m", other, load_model_spec(flat), names)


def test_eagle1_head_by_hand() -> None:
    # EagleLlamaForCausalLM (llama_eagle.py): one Llama layer without input_layernorm, no final norm,
    # no LM head; fc 2 x 4096 -> 4096; the embedding shared unless shipped.
    config = {**HEAD, "architectures": ["EagleLlamaForCausalLM"], "draft_vocab_size": None}
    names = ("fc.weight", "layers.0.self_attn.q_proj.weight", "layers.0.post_attention_layernorm.weight")
    spec = LLAMA8B.model_copy(update={"drafter": _drafter(config, names, "acme/eagle-head")})
    # Attention 4096 x 4096 x 2 + 2 x 1024 x 4096 = 41,943,040; MLP 176,160,768; fc 8192 x 4096 =
    # 33,554,432; one norm (post_attention_layernorm) 4096.
    assert vllm.drafter_weight_bytes(spec, q()) == (41_943_040 + 176_160_768 + 33_554_432 + 4096) * 2
    assert vllm.drafter_weight_bytes(spec, q(gpus=2)) == ((41_943_040 + 176_160_768) // 2 + 33_554_432 + 4096) * 2
    assert [x.kind for x in vllm.drafter_kv_layers(spec, q())] == ["full"]
    shipped_head = LLAMA8B.model_copy(update={"drafter": _drafter(config, (*names, "lm_head.weight"), "a/e")})
    why = vllm.drafter_refusal(shipped_head, q())
    assert why is not None and "ships an lm_head" in why


def test_what_is_still_refused() -> None:
    with pytest.raises(UnmodelledError, match=r"is an eagle drafter \(LlamaForCausalLMEagle\)"):
        _drafter({**HEAD, "architectures": ["LlamaForCausalLMEagle"]})
    with pytest.raises(UnmodelledError, match=r"is an eagle3 \(DeepSeek layers\) drafter"):
        _drafter({**HEAD, "architectures": ["Eagle3DeepseekV2ForCausalLM"]})
    why = vllm.drafter_refusal(WITH, q(vllm="0.19"))
    assert why is not None and "EAGLE-3" in why and "0.20" in why


def test_targets_vllm_020_and_021_start_eagle3_for() -> None:
    # config/speculative.py@v0.20.0: the target's model_type must contain "llama", "qwen", ... ;
    # from 0.22 the check moves to the target class at load time.
    other = WITH.model_copy(update={"model_type": "granite"})
    why = vllm.drafter_refusal(other, q(vllm="0.21"))
    assert why is not None and "starts eagle3 only for llama, qwen" in why and "not granite" in why
    assert vllm.drafter_refusal(WITH, q(vllm="0.20")) is None
    assert vllm.drafter_refusal(other, q(vllm="0.22")) is None


def test_a_draft_model_beside_a_multimodal_target_at_020() -> None:
    # llm_base_proposer.py@v0.20.0 raises for a target taking multimodal inputs; 0.21 warns.
    scout = load_model_spec(
        json.loads((ROOT / "tests/fixtures/configs/meta-llama__Llama-4-Scout-17B-16E-Instruct.json").read_text())
    )
    small = scout.model_copy(
        update={"drafter": _drafter({**HEAD, "vocab_size": scout.vocab_size, "draft_vocab_size": None}, (), "a/s")}
    )
    why = vllm.drafter_refusal(small, q(vllm="0.20"))
    assert why is not None and "text-only (mm=0)" in why
    assert vllm.drafter_refusal(small, q(vllm="0.20", mm_limit=0)) is None
    assert vllm.drafter_refusal(small, q(vllm="0.21")) is None


def test_a_head_built_for_another_width_is_refused() -> None:
    # The head's fc takes 3 x 4,096 (its hidden_size, no target_hidden_size): Qwen3-0.6B hands over
    # 3 x 1,024, so vLLM's first forward fails on the fc's input.
    qwen = load_model_spec(json.loads((ROOT / "tests/fixtures/configs/Qwen__Qwen3-0.6B.json").read_text()))
    beside = qwen.model_copy(update={"drafter": _drafter(EAGLE3_CONFIG)})
    for release in ("0.20", "0.33"):
        why = vllm.drafter_refusal(beside, q(vllm=release))
        assert why is not None and not isinstance(why, vllm.Unmodelled)
        assert "width 4,096" in why and "target's hidden_size is 1,024" in why
    # target_hidden_size says the width it takes, whatever the head's own.
    fitted = qwen.model_copy(update={"drafter": _drafter({**EAGLE3_CONFIG, "target_hidden_size": 1024})})
    assert vllm.drafter_refusal(fitted, q()) is None


# An EAGLE-3 head of Qwen3 layers for Qwen3-8B (Eagle3Qwen3ForCausalLM, model_executor/models/
# qwen3_eagle3.py@v0.24.0 and @v0.33.0). The published Qwen3 heads (AngelSlim/Qwen3-8B_eagle3,
# Tengyunw/qwen3_8b_eagle3, RedHatAI/Qwen3-*-speculator.eagle3) are Llama layers, and no config.json of
# a Qwen3-layer head was found published: this shape is this test's, Qwen3-8B's width with one layer.
QWEN3_8B = load_model_spec(json.loads((ROOT / "tests/fixtures/configs/Qwen__Qwen3-8B.json").read_text()))
QWEN3_HEAD = {
    "architectures": ["Eagle3Qwen3ForCausalLM"],
    "model_type": "qwen3",
    "torch_dtype": "bfloat16",
    "hidden_size": 4096,
    "intermediate_size": 12288,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "num_hidden_layers": 1,
    "vocab_size": 151936,
    "draft_vocab_size": 32000,
    "max_position_embeddings": 40960,
    "rms_norm_eps": 1e-06,
    "rope_theta": 1000000,
    "tie_word_embeddings": False,
    "attention_bias": False,
}
QWEN3_SHIPPED = (*SHIPPED, "midlayer.self_attn.q_norm.weight", "midlayer.self_attn.k_norm.weight")


def _qwen3(config: dict = QWEN3_HEAD, names: tuple[str, ...] = QWEN3_SHIPPED, model_id: str = "acme/Qwen3-8B-eagle3"):
    return QWEN3_8B.model_copy(update={"drafter": _drafter(config, names, model_id)})


# One GPU, bf16. Split: q 4096 x (2 x 4096) = 33,554,432, k and v 1024 x 8192 = 8,388,608 each, o
# 4096 x 4096 = 16,777,216 (attention 67,108,864); MLP 3 x 4096 x 12,288 = 150,994,944; lm_head
# 32,000 x 4096 = 131,072,000. Whole on every GPU: fc 12,288 x 4096 = 50,331,648; hidden_norm,
# input_layernorm, post_attention_layernorm, norm 4 x 4096 = 16,384; q_norm and k_norm 2 x 128 = 256.
# d2t: 32,000 int64 = 256,000 B.
QWEN3_SPLIT = 67_108_864 + 150_994_944 + 131_072_000
QWEN3_REPLICATED = 50_331_648 + 16_384 + 256


def test_qwen3_head_weights_by_hand() -> None:
    spec = _qwen3()
    drafter = spec.drafter
    assert drafter is not None and (drafter.method, drafter.eagle3_layer, drafter.eagle3_taps) == ("eagle3", "qwen3", 3)
    for release in ("0.24", "0.29", "0.33"):
        assert vllm.drafter_refusal(spec, q(vllm=release)) is None
        assert vllm.drafter_weight_bytes(spec, q(vllm=release)) == (QWEN3_SPLIT + QWEN3_REPLICATED) * 2 + 256_000
    assert (QWEN3_SPLIT + QWEN3_REPLICATED) * 2 + 256_000 == 799_304_192
    # TP 2: the layer and the LM head split; fc, the norms (q/k norms included) and d2t whole.
    assert vllm.drafter_weight_bytes(spec, q(gpus=2)) == (QWEN3_SPLIT // 2 + QWEN3_REPLICATED) * 2 + 256_000
    assert vllm.drafter_weight_bytes(spec, q(gpus=2)) == 450_128_384
    # A shipped embedding is its own: + 151,936 x 4096 = 622,329,856 parameters, split.
    own = _qwen3(names=(*QWEN3_SHIPPED, "embed_tokens.weight"))
    assert vllm.drafter_weight_bytes(own, q()) == (QWEN3_SPLIT + 622_329_856 + QWEN3_REPLICATED) * 2 + 256_000


def test_qwen3_head_taps_and_d2t() -> None:
    # qwen3_eagle3.py reads num_aux_layers first, then num_aux_hidden_states, then the layer ids at
    # the top level or in eagle_config, else 3.
    five = {**QWEN3_HEAD, "num_aux_layers": 5, "eagle_aux_hidden_state_layer_ids": [1, 2, 3, 4]}
    four = {**QWEN3_HEAD, "eagle_aux_hidden_state_layer_ids": [1, 17, 33, 34]}
    for config, taps in ((five, 5), (four, 4)):
        drafter = _qwen3(config).drafter
        assert drafter is not None and drafter.eagle3_taps == taps
        expected = (QWEN3_SPLIT + QWEN3_REPLICATED + (taps - 3) * 4096 * 4096) * 2 + 256_000
        assert vllm.drafter_weight_bytes(_qwen3(config), q()) == expected
    # The target's vocabulary: d2t (151,936 int64) built up to 0.29, not from 0.30.
    full = _qwen3({**QWEN3_HEAD, "draft_vocab_size": None})
    lm_head = 151_936 * 4096
    base = (QWEN3_SPLIT - 131_072_000 + lm_head + QWEN3_REPLICATED) * 2
    assert vllm.drafter_weight_bytes(full, q(vllm="0.29")) == base + 151_936 * 8
    assert vllm.drafter_weight_bytes(full, q(vllm="0.30")) == base


def test_qwen3_head_kv_and_refusals() -> None:
    spec = _qwen3()
    layers = vllm.drafter_kv_layers(spec, q())
    assert [(x.kind, x.kv_heads, x.key_dim) for x in layers] == [("full", 8, 128)]
    report = vllm.drafter_report(spec, q(seq_len=32_768))
    assert report is not None and report.kv_bytes_per_token == 8 * (128 + 128) * 2 == 4096
    # Before 0.24 the registry has no Eagle3Qwen3ForCausalLM.
    why = vllm.drafter_refusal(spec, q(vllm="0.23"))
    assert isinstance(why, vllm.Unmodelled) and "Eagle3Qwen3ForCausalLM arrives in 0.24" in why
    # The architecture with a Llama config: vram has not read what its Qwen3 layer makes of it.
    llama_config = _qwen3({**EAGLE3_CONFIG, "architectures": ["Eagle3Qwen3ForCausalLM"]}, SHIPPED)
    why = vllm.drafter_refusal(llama_config, q())
    assert isinstance(why, vllm.Unmodelled) and "from a llama config" in why
    # A plain Qwen3 checkpoint named eagle3: EAGLEConfig makes it Eagle3Qwen3ForCausalLM.
    named = _drafter({**QWEN3_HEAD, "architectures": ["Qwen3ForCausalLM"]}, QWEN3_SHIPPED, "acme/qwen3-eagle3")
    assert (named.method, named.eagle3_layer) == ("eagle3", "qwen3")
