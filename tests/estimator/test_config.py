"""Config normalisation: field fallbacks, family defaults, clear errors, quantization parsing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from common.errors import ConfigError
from estimator.config import load_model_spec
from estimator.families import FAMILIES
from estimator.spec import SafetensorsInfo

CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "configs"


def raw(name: str) -> dict:
    return json.loads((CONFIGS / f"{name}.json").read_text())


TINY = {
    "model_type": "llama",
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "intermediate_size": 128,
    "vocab_size": 100,
    "torch_dtype": "bfloat16",
}


def tiny_llama_total(h=64, L=2, nh=4, nkv=2, inter=128, V=100, tied=False) -> int:
    hd = h // nh
    per_layer = h * nh * hd + 2 * h * nkv * hd + nh * hd * h + 3 * h * inter + 2 * h
    return V * h * (1 if tied else 2) + L * per_layer + h


def test_the_required_families_are_registered() -> None:
    required = {
        "llama",
        "mistral",
        "mixtral",
        "qwen2",
        "qwen2_moe",
        "qwen3",
        "qwen3_moe",
        "phi",
        "phi3",
        "gemma",
        "gemma2",
        "gemma3",
        "granite",
        "deepseek_v2",
        "deepseek_v3",
        "gpt_oss",
        "llama4",
        "mistral3",
        "jamba",
    }
    assert required <= set(FAMILIES)


def test_tiny_llama() -> None:
    s = load_model_spec(TINY)
    assert s.known_family and not s.warnings
    assert (s.num_layers, s.hidden_size, s.num_attention_heads, s.num_kv_heads, s.head_dim) == (2, 64, 4, 2, 16)
    assert s.params.total == tiny_llama_total()
    assert s.torch_dtype == "bf16"
    assert s.params_source == "config" and s.checkpoint_bytes is None


@pytest.mark.parametrize("missing", ["num_hidden_layers", "hidden_size", "num_attention_heads", "vocab_size"])
def test_missing_standard_field_is_one_sentence(missing: str) -> None:
    # A type transformers does not define has no class to fill the field from.
    cfg = {k: v for k, v in TINY.items() if k != missing} | {"model_type": "brand_new_lm"}
    with pytest.raises(ConfigError) as err:
        load_model_spec(cfg)
    assert str(err.value).startswith(f"brand_new_lm config lacks {missing};")
    message = str(err.value)
    assert message.endswith(".") and message.count(". ") == 0 and "\n" not in message


@pytest.mark.parametrize("missing, default", [("num_hidden_layers", 32), ("vocab_size", 32000)])
def test_missing_field_takes_the_config_class_default(missing: str, default: int) -> None:
    # LlamaConfig's own defaults (transformers/models/llama/configuration_llama.py): what
    # transformers builds from this config.json.
    s = load_model_spec({k: v for k, v in TINY.items() if k != missing})
    assert (s.num_layers if missing == "num_hidden_layers" else s.vocab_size) == default
    # The layer count is the model's size: left to the class, the answer is a guess; the vocabulary
    # is one published configs do leave to it (gemma-3-4b-it's text_config).
    assert bool(s.unread) == (missing == "num_hidden_layers")


def test_a_config_without_its_size_gets_no_verdict() -> None:
    # {"model_type": "llama"} alone would be LlamaConfig's 32 x 4096 Llama-2-7B, 6.74B parameters.
    s = load_model_spec({"model_type": "llama"})
    assert s.num_layers == 32 and s.hidden_size == 4096  # what transformers would build
    assert s.unread == (
        "the config gives no num_hidden_layers or hidden_size, so the size here is transformers' llama "
        "default, not this model's.",
    )
    only_width = load_model_spec({"model_type": "llama", "hidden_size": 4096})
    assert only_width.unread and "no num_hidden_layers," in only_width.unread[0]
    # A family's own names count (GPT-2's n_layer and n_embd), and so does a nested text config.
    assert not load_model_spec({"model_type": "gpt2", "n_layer": 2, "n_embd": 64, "n_head": 4}).unread
    assert not load_model_spec(raw("google__gemma-3-4b-it")).unread


def test_every_fixture_states_its_size() -> None:
    # Published configs always give a layer count and a width: none of them is turned into a guess.
    for path in sorted(CONFIGS.glob("*.json")):
        spec = load_model_spec(json.loads(path.read_text()))
        assert not any("the config gives no" in u for u in spec.unread), path.name


def test_bad_values_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="hidden_size"):
        load_model_spec({**TINY, "hidden_size": "big"})
    with pytest.raises(ConfigError, match="num_hidden_layers=0"):
        load_model_spec({**TINY, "num_hidden_layers": 0})
    # LlamaConfig derives head_dim = hidden_size // num_attention_heads, as the model is then built.
    assert load_model_spec({**TINY, "hidden_size": 66}).head_dim == 16
    with pytest.raises(ConfigError, match="torch_dtype 'float8'"):
        load_model_spec({**TINY, "torch_dtype": "float8"})


def test_unknown_model_type_with_standard_fields_is_unread() -> None:
    s = load_model_spec({**TINY, "model_type": "brand_new_lm"})
    assert not s.known_family
    assert any("brand_new_lm" in u and "upgrade" in u for u in s.unread)
    assert s.params.total == tiny_llama_total()


def test_unknown_model_type_without_fields_is_an_error() -> None:
    with pytest.raises(ConfigError, match="brand_new_lm config lacks num_hidden_layers"):
        load_model_spec({"model_type": "brand_new_lm", "d_state": 16})


def test_field_fallbacks_gpt2_style_names_and_multi_query() -> None:
    cfg = {
        "model_type": "gpt_like",
        "n_embd": 64,
        "n_layer": 2,
        "n_head": 4,
        "vocab_size": 100,
        "intermediate_size": 128,
        "multi_query": True,
        "dtype": "float16",
    }
    s = load_model_spec(cfg)
    assert (s.hidden_size, s.num_layers, s.num_attention_heads, s.num_kv_heads) == (64, 2, 4, 1)
    assert s.torch_dtype == "fp16"  # the newer "dtype" key


def test_unknown_nested_text_config_is_read() -> None:
    s = load_model_spec({"model_type": "some_vlm", "text_config": {**TINY, "model_type": "llama"}})
    assert s.num_layers == 2 and not s.known_family


def test_missing_dtype_assumes_bf16_with_a_warning() -> None:
    cfg = {k: v for k, v in TINY.items() if k != "torch_dtype"}
    s = load_model_spec(cfg)
    assert s.torch_dtype == "bf16"
    assert any("torch_dtype" in w for w in s.warnings)
    # gpt-oss's config names no dtype: its non-expert tensors are bf16 by definition, no warning
    assert load_model_spec(raw("openai__gpt-oss-20b")).warnings == ()


def test_tied_embeddings_default_per_family() -> None:
    assert load_model_spec(raw("google__gemma-2-9b-it")).tie_word_embeddings  # absent -> True for gemma2
    assert not load_model_spec(raw("microsoft__phi-4")).tie_word_embeddings
    untied_gemma = load_model_spec({**raw("google__gemma-7b"), "tie_word_embeddings": False})
    assert untied_gemma.params.lm_head == 256000 * 3072


def test_mistral_default_window_and_explicit_null() -> None:
    cfg = {k: v for k, v in raw("mistralai__Mistral-7B-v0.1").items() if k != "sliding_window"}
    s = load_model_spec(cfg)  # MistralConfig's default sliding_window is 4096
    assert {(layer.kind, layer.window) for layer in s.layers} == {("sliding", 4096)}
    s = load_model_spec({**cfg, "sliding_window": None})
    assert {layer.kind for layer in s.layers} == {"full"}


def test_layer_types_are_validated() -> None:
    cfg = raw("openai__gpt-oss-20b")
    with pytest.raises(ConfigError, match="linear_attention"):
        load_model_spec({**cfg, "layer_types": ["linear_attention"] * 24})
    with pytest.raises(ConfigError, match="2 layer_types for 24 layers"):
        load_model_spec({**cfg, "layer_types": ["full_attention"] * 2})


def test_qwen3_moe_sparse_step_and_mlp_only_layers() -> None:
    cfg = {**raw("Qwen__Qwen3-30B-A3B"), "decoder_sparse_step": 2, "mlp_only_layers": [1]}
    s = load_model_spec(cfg)
    # MoE where (i + 1) % 2 == 0 and i != 1: layers 3, 5, ..., 47 -> 23 MoE layers, 25 dense of width 6144
    h, E, mi, inter = 2048, 128, 768, 6144
    assert s.num_moe_layers == 23
    assert s.params.routed_experts == 23 * E * 3 * h * mi
    assert s.params.dense_mlp == 25 * 3 * h * inter
    assert s.intermediate_size == 6144


def test_gemma3_nested_defaults() -> None:
    s = load_model_spec(raw("google__gemma-3-4b-it"))
    assert s.tie_word_embeddings and s.params.lm_head == 0
    assert s.max_position_embeddings == 131072  # Gemma3TextConfig default
    assert {layer.window for layer in s.layers if layer.kind == "sliding"} == {1024}


def test_quantization_parsing() -> None:
    oss = load_model_spec(raw("openai__gpt-oss-20b")).quantization
    assert (oss.method, oss.format, oss.scope, oss.group_size) == ("mxfp4", "mxfp4", "experts", 32)
    assert "lm_head" in oss.skipped_modules
    awq = load_model_spec(raw("Qwen__Qwen3-8B-AWQ")).quantization
    assert (awq.method, awq.weight_bits, awq.group_size, awq.zero_points) == ("awq", 4, 128, True)
    w4 = load_model_spec(raw("RedHatAI__Meta-Llama-3.1-8B-Instruct-quantized.w4a16")).quantization
    assert (w4.method, w4.format, w4.group_size, w4.zero_points) == ("compressed-tensors", "int4", 128, False)
    assert w4.skipped_modules == ("lm_head",)
    gptq = load_model_spec(
        {**TINY, "quantization_config": {"quant_method": "gptq", "bits": 4, "group_size": -1}}
    ).quantization
    assert gptq.group_size is None  # -1: one scale per output channel
    bnb8 = load_model_spec(
        {**TINY, "quantization_config": {"quant_method": "bitsandbytes", "load_in_8bit": True}}
    ).quantization
    assert (bnb8.format, bnb8.weight_bits) == ("int8", 8)


def test_unsupported_quantization_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="'hqq'"):
        load_model_spec({**TINY, "quantization_config": {"quant_method": "hqq"}})
    with pytest.raises(ConfigError, match="bitsandbytes fp4"):
        load_model_spec(
            {
                **TINY,
                "quantization_config": {
                    "quant_method": "bitsandbytes",
                    "load_in_4bit": True,
                    "bnb_4bit_quant_type": "fp4",
                },
            }
        )
    two = {
        "quant_method": "compressed-tensors",
        "config_groups": {
            "a": {"weights": {"num_bits": 4, "type": "int", "strategy": "group", "group_size": 128}},
            "b": {"weights": {"num_bits": 8, "type": "int", "strategy": "channel"}},
        },
    }
    with pytest.raises(ConfigError, match="2 compressed-tensors weight schemes"):
        load_model_spec({**TINY, "quantization_config": two})


def test_safetensors_counts_set_params_and_bytes() -> None:
    n = tiny_llama_total()
    s = load_model_spec(TINY, safetensors=SafetensorsInfo(parameters={"BF16": n - 64, "F32": 64}))
    assert s.params_source == "safetensors"
    assert s.params.total == n
    assert s.checkpoint_bytes == (n - 64) * 2 + 64 * 4
    with pytest.raises(ConfigError, match="'F4'"):
        load_model_spec(TINY, safetensors=SafetensorsInfo(parameters={"F4": 10}))


def test_spec_is_frozen() -> None:
    s = load_model_spec(TINY)
    with pytest.raises(ValidationError):
        s.hidden_size = 1  # type: ignore[misc]


def test_linears_cover_every_matrix_once() -> None:
    s = load_model_spec(raw("meta-llama__Llama-3.1-8B"))
    elements = sum(lin.in_features * lin.out_features * lin.count for lin in s.linears)
    # 32 layers x (q, k, v, o, gate, up, down) + lm_head
    per_layer = 4096 * 4096 * 2 + 4096 * 1024 * 2 + 3 * 4096 * 14336
    assert elements == 32 * per_layer + 128256 * 4096
    assert {lin.split for lin in s.linears} == {"column", "row", "kv", "vocab"}


def test_mtp_layers_past_the_stack_are_not_loaded() -> None:
    from estimator.spec import TensorInfo

    tensors = {
        "model.embed_tokens.weight": TensorInfo(dtype="BF16", shape=(100, 64), nbytes=12800),
        "model.layers.1.mlp.down_proj.weight": TensorInfo(dtype="BF16", shape=(64, 128), nbytes=16384),
        "model.layers.2.eh_proj.weight": TensorInfo(dtype="BF16", shape=(64, 128), nbytes=16384),  # MTP
        "vision_tower.encoder.layers.7.fc1.weight": TensorInfo(dtype="BF16", shape=(8, 8), nbytes=128),
    }
    q = {"quant_method": "fp8", "weight_block_size": [128, 128]}
    s = load_model_spec(
        {**TINY, "quantization_config": q}, safetensors=SafetensorsInfo(parameters={"BF16": 14656}, tensors=tensors)
    )
    assert s.checkpoint_bytes == 12800 + 16384 + 128


def test_llama4_text_only_config() -> None:
    text = raw("meta-llama__Llama-4-Scout-17B-16E-Instruct")["text_config"]
    s = load_model_spec(text)
    V, h, L, E, inter = 202048, 5120, 48, 16, 8192
    attn = h * 40 * 128 + 2 * h * 8 * 128 + 40 * 128 * h
    assert s.known_family
    assert s.params.total == 2 * V * h + L * (attn + E * 3 * h * inter + 3 * h * inter + E * h + 2 * h) + h


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 10**6) | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
FIXTURES = sorted(p.stem for p in CONFIGS.glob("*.json"))


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(FIXTURES), data=st.data())
def test_any_field_of_any_type_gives_a_spec_or_a_config_error(name: str, data: st.DataObject) -> None:
    _spec_or_config_error(name, data)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(FIXTURES), data=st.data())
def test_any_field_of_any_type_gives_a_spec_or_a_config_error_smoke(name: str, data: st.DataObject) -> None:
    _spec_or_config_error(name, data)


def _spec_or_config_error(name: str, data: st.DataObject) -> None:
    cfg = raw(name)
    target = cfg["text_config"] if isinstance(cfg.get("text_config"), dict) and data.draw(st.booleans()) else cfg
    key = data.draw(st.sampled_from(sorted(target)))
    target[key] = data.draw(JSON_VALUES)
    try:
        s = load_model_spec(cfg)
    except ConfigError as err:
        assert str(err) and "\n" not in str(err)
    else:
        assert s.params.total >= 0


def test_a_config_that_is_not_an_object() -> None:
    with pytest.raises(ConfigError, match="JSON object"):
        load_model_spec([1, 2])  # type: ignore[arg-type]


def test_implausible_sizes_are_refused_before_any_work() -> None:
    with pytest.raises(ConfigError, match="at most 10,000 layers"):
        load_model_spec({**TINY, "num_hidden_layers": 10**9})
    with pytest.raises(ConfigError, match="sliding_window=-4"):
        load_model_spec({**raw("mistralai__Mistral-7B-v0.1"), "sliding_window": -4})
    with pytest.raises(ConfigError, match="num_key_value_heads=0"):
        load_model_spec({**TINY, "num_key_value_heads": 0})
    with pytest.raises(ConfigError, match="cannot read"):
        load_model_spec({**TINY, "num_hidden_layers": float("inf")})
