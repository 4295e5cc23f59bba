"""X-MOD, CPM-Ant, XLNet, xLSTM (estimator.stacks), dots.llm3 note: against the transformers oracle and by hand."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

from estimator import archconfig, stacks
from estimator.config import load_model_spec
from estimator.kv import kv_cache_bytes, state_bytes_per_sequence

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "oracle" / "transformers-5.25.json"
DOC = json.loads(FIXTURE.read_text())


def _coverage():
    spec = importlib.util.spec_from_file_location("coverage_tool_rest", ROOT / "tools" / "coverage.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["coverage_tool_rest"] = module
    spec.loader.exec_module(module)
    return module


def _spec(model_type: str):
    cfg = json.loads((FIXTURE.parent / DOC["types"][model_type]["config_file"]).read_text())
    return load_model_spec(cfg)


def _oracle(model_type: str) -> dict:
    return DOC["types"][model_type]


def _bf16_cache(spec, seq_len: int, batch: int = 1) -> int:
    bf16 = spec.model_copy(update={"torch_dtype": "bf16"})
    return kv_cache_bytes(bf16, seq_len=seq_len, batch=batch, kv_dtype="bf16", layout="contiguous")


@pytest.mark.parametrize("model_type", ["cpmant", "xlnet", "xlstm"])
def test_exact_against_the_oracle(model_type: str) -> None:
    rec = _oracle(model_type)
    spec = _spec(model_type)
    assert not spec.unread
    assert spec.params.total == rec["params"]["MODEL_FOR_CAUSAL_LM_MAPPING_NAMES"]["total"]
    for length, expected in rec["cache"]["bytes_at"].items():
        assert _bf16_cache(spec, int(length)) == expected


def test_xmod_parameters_match_and_its_adapters_count_as_text() -> None:
    entry = _oracle("xmod")["params"]["MODEL_FOR_CAUSAL_LM_MAPPING_NAMES"]
    spec = _spec("xmod")
    assert spec.params.total == entry["total"]
    # by hand: one en_XX adapter per layer, 768 -> 384 -> 768 with biases, 12 layers
    assert entry["breakdown"]["projector"] == 12 * (768 * 384 + 384 + 384 * 768 + 768)
    # the oracle's forward runs (a default language set); the default config is an encoder, no cache
    row = _coverage().compare("xmod", _oracle("xmod"), FIXTURE.parent, DOC)
    assert row.verdict == "n/a" and "no cache" in row.why


def test_projector_without_a_tower_is_text_with_one_it_is_a_tower() -> None:
    cov = _coverage()
    assert cov.tower_params({"text": 10, "projector": 5}) == {"vision": 0, "projector": 0, "audio": 0}
    assert cov.tower_params({"text": 10, "projector": 5, "vision": 7}) == {"vision": 7, "projector": 5, "audio": 0}
    assert cov.tower_params({"text": 10, "projector": 5, "audio": 3}) == {"vision": 0, "projector": 5, "audio": 3}


def test_cpmant_prompt_tokens_are_fixed_bytes_per_sequence() -> None:
    spec = _spec("cpmant")
    # 48 layers x 32 prompt tokens x (k + v) x 32 heads x 128 x 2 bytes
    prompt = 48 * 32 * 2 * 32 * 128 * 2
    per_token = 48 * 2 * 32 * 128 * 2
    assert _bf16_cache(spec, 100) == prompt + 100 * per_token
    assert _bf16_cache(spec, 100, batch=3) == 3 * (prompt + 100 * per_token)
    assert state_bytes_per_sequence(spec.model_copy(update={"torch_dtype": "bf16"})) == prompt


def test_xlnet_memory_is_fp32_hidden_states_capped_at_mem_len() -> None:
    spec = _spec("xlnet")
    per_token = 24 * 1024 * 4  # one fp32 hidden state per layer
    assert _bf16_cache(spec, 64) == 64 * per_token
    assert _bf16_cache(spec, 2000) == 512 * per_token  # mem_len 512


def test_xlstm_state_and_its_step_counter() -> None:
    spec = _spec("xlstm")
    # per layer: C 8 x 256 x 512, n 8 x 256, m 8 in bf16; one int64 counter per cache
    state = 32 * (8 * 256 * 512 + 8 * 256 + 8) * 2
    assert _bf16_cache(spec, 10) == state + 8
    assert _bf16_cache(spec, 10, batch=4) == 4 * state + 8
    # one block by hand: q, k (4096 -> 2048), v, o-gate, out (4096 x 4096), i/f gates (8 + bias),
    # head norm, FFN 3 x 4096 x 10944, two RMSNorms
    block = 2 * 4096 * 2048 + 3 * 4096 * 4096 + 2 * (4096 * 8 + 8) + 4096 + 3 * 4096 * 10944 + 2 * 4096
    assert spec.params.total == 32 * block + 2 * 50304 * 4096 + 4096


@pytest.mark.parametrize("model_type", ["dots3_note", "dots3_note_text"])
def test_dots3_note_against_the_oracle(model_type: str) -> None:
    rec = _oracle(model_type)
    spec = _spec(model_type)
    assert not spec.unread
    mapping = "MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES" if model_type == "dots3_note" else None
    entry = rec["params"][mapping or "MODEL_FOR_CAUSAL_LM_MAPPING_NAMES"]
    assert spec.params.total == entry["total"]
    if mapping:
        b = entry["breakdown"]
        assert spec.params.vision == b["vision"] + b["audio"] + b["projector"]
    for length, expected in rec["cache"]["bytes_at"].items():
        assert _bf16_cache(spec, int(length)) == expected


def test_dots3_note_cache_by_hand() -> None:
    spec = _spec("dots3_note_text")
    # 13 DSA layers: latent 512 + rope 64 in bf16, indexer key 128 in fp32;
    # 33 sliding layers: latent 1024 + rope 64 in bf16, at most 511 tokens
    indexed, sliding = (512 + 64) * 2 + 128 * 4, (1024 + 64) * 2
    assert _bf16_cache(spec, 100) == 100 * (13 * indexed + 33 * sliding)
    assert _bf16_cache(spec, 4000) == 4000 * 13 * indexed + 511 * 33 * sliding


@pytest.mark.slow  # reads through transformers' config classes (its import: ~1.5 s of CPU)
def test_dots3_note_legacy_config_reads_the_same() -> None:
    """A config with no per_layer_config nor layer_types: the config class's defaults (swa_* keys)."""
    cfg = json.loads((FIXTURE.parent / _oracle("dots3_note_text")["config_file"]).read_text())
    del cfg["per_layer_config"], cfg["layer_types"]
    spec = load_model_spec(cfg)
    assert spec.params.total == _spec("dots3_note_text").params.total
    assert spec.layers == _spec("dots3_note_text").layers


def test_dots3_note_audio_adapter_by_hand() -> None:
    # the oracle files the audio tower's adapter as "projector": LayerNorm(1280), 1280 -> 5120 -> 5120, biased
    b = _oracle("dots3_note")["params"]["MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES"]["breakdown"]
    adapter = 2 * 1280 + 1280 * 5120 + 5120 + 5120 * 5120 + 5120
    assert b["projector"] == adapter
    cfg = json.loads((FIXTURE.parent / _oracle("dots3_note")["config_file"]).read_text())
    assert stacks._dots3_audio(cfg["audio_config"], "dots3_note") == b["audio"] + adapter


def test_a_default_declared_under_an_alias_is_the_real_fields() -> None:
    """Qwen3-MoE declares num_experts (128), an alias of num_local_experts: a config's num_local_experts
    (or num_experts) wins over that default under both names, as Qwen3MoeConfig gives."""
    entry = archconfig.table()["types"]["qwen3_moe"]
    assert entry["attribute_map"]["num_experts"] == "num_local_experts"
    filled = archconfig.fill(entry, "qwen3_moe", {"num_experts": 7})
    assert filled["num_experts"] == filled["num_local_experts"] == 7
    filled = archconfig.fill(entry, "qwen3_moe", {"num_local_experts": 9})
    assert filled["num_experts"] == filled["num_local_experts"] == 9


def test_an_alias_default_beside_its_real_field_is_shadowed() -> None:
    """Step3p5Config declares num_local_experts = 128 and n_routed_experts = 288, the first an alias of
    the second: the class reads back 288 under both names."""
    entry = archconfig.table()["types"]["step3p5"]
    assert entry["defaults"]["num_local_experts"] == 128 and entry["defaults"]["n_routed_experts"] == 288
    assert archconfig._real_defaults(entry["defaults"], entry["attribute_map"])["n_routed_experts"] == 288
    filled = archconfig.fill({**entry, "derived": {}, "sub_configs": {}}, "step3p5", {})
    assert filled["num_local_experts"] == filled["n_routed_experts"] == 288


def test_kolibri1_shared_expert_and_qk_norms() -> None:
    entry = _oracle("kolibri1")["params"]["MODEL_FOR_CAUSAL_LM_MAPPING_NAMES"]
    spec = _spec("kolibri1")
    assert spec.params.total == entry["total"] and spec.params.active == entry["active"]
    # 50 MoE layers, each one ungated shared expert 2560 -> 512 (gate, up, down)
    assert spec.params.shared_experts == 50 * 3 * 2560 * 512


def test_xlnet_without_eval_memory_caches_nothing() -> None:
    cfg = json.loads((FIXTURE.parent / _oracle("xlnet")["config_file"]).read_text())
    spec = load_model_spec({**cfg, "use_mems_eval": False})
    assert _bf16_cache(spec, 64) == 0
    assert spec.params.total == _spec("xlnet").params.total


@pytest.mark.parametrize("model_type", ["cpmant", "xlnet", "xlstm"])
def test_vllm_paging_of_these_caches_is_refused_with_a_sentence(model_type: str) -> None:
    from common.errors import InputError
    from estimator.estimate import estimate
    from estimator.query import Query

    with pytest.raises(InputError, match="vLLM"):
        estimate(_spec(model_type), Query(gpus=1, engine="vllm", seq_len=4096, batch=2), model_id=model_type)
    assert estimate(_spec(model_type), Query(gpus=1, engine="transformers", seq_len=4096, batch=2), model_id="m")


@pytest.mark.parametrize("model_type", ["xmod", "cpmant", "xlnet", "xlstm", "dots3_note", "kolibri1"])
def test_weights_are_every_parameter_once(model_type: str) -> None:
    """Unquantized, one GPU: the weights are the parameter count at the dtype (a tied lm_head once)."""
    from estimator.spec import DTYPE_BYTES
    from estimator.weights import weight_bytes

    spec = _spec(model_type)
    assert weight_bytes(spec) == spec.params.total * DTYPE_BYTES[spec.torch_dtype]


def test_cpmant_lm_head_is_its_own() -> None:
    spec = _spec("cpmant")
    assert not spec.tie_word_embeddings and spec.params.lm_head == 30720 * 4096


@pytest.mark.parametrize("model_type", ["kolibri1", "laguna", "beam", "granite_swa"])
def test_once_within_tolerance_now_equal(model_type: str) -> None:
    entry = _oracle(model_type)["params"]["MODEL_FOR_CAUSAL_LM_MAPPING_NAMES"]
    assert _spec(model_type).params.total == entry["total"]


def test_the_parts_that_were_missing_by_hand() -> None:
    # Laguna: 39 MoE layers, one ungated shared expert 2048 -> 512 each
    assert _spec("laguna").params.shared_experts == 39 * 3 * 2048 * 512
    # Granite SWA: a sink per head (20) in all 24 layers, not only the 18 sliding ones
    cfg = json.loads((FIXTURE.parent / _oracle("granite_swa")["config_file"]).read_text())
    h, heads, kv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or h // heads
    assert not cfg["attention_bias"]
    per_layer = h * heads * hd + 2 * h * kv * hd + heads * hd * h + heads
    assert _spec("granite_swa").params.attention == 24 * per_layer


def test_dots3_note_checkpoint_tensors_keep_the_sliding_latent() -> None:
    """A checkpoint's kv_a_proj_with_mqa on a sliding layer is a latent over the window: the layer
    stays sliding where the widths agree, and takes the checkpoint's widths where they do not."""
    from estimator import structure
    from estimator.spec import TensorInfo

    def t(*shape: int) -> TensorInfo:
        return TensorInfo(dtype="BF16", shape=shape, nbytes=2 * math.prod(shape))

    layers = _spec("dots3_note_text").layers[:3]  # indexed, indexed, sliding
    tensors = {}
    for i, (latent, rope) in enumerate([(512, 64), (512, 64), (1024, 64)]):
        tensors[f"model.layers.{i}.self_attn.kv_a_proj_with_mqa.weight"] = t(latent + rope, 5120)
        tensors[f"model.layers.{i}.self_attn.kv_a_layernorm.weight"] = t(latent)
        if i < 2:
            tensors[f"model.layers.{i}.self_attn.indexer.wk.weight"] = t(128, 5120)
    out, notes, covered = structure.check_layers(
        layers, tensors, hidden=5120, q_width=128 * 192, head_dim=256, model_type="dots3_note_text"
    )
    assert out == layers and notes == [] and covered
    tensors["model.layers.2.self_attn.kv_a_layernorm.weight"] = t(768)
    tensors["model.layers.2.self_attn.kv_a_proj_with_mqa.weight"] = t(768 + 64, 5120)
    out, notes, _ = structure.check_layers(
        layers, tensors, hidden=5120, q_width=128 * 192, head_dim=256, model_type="dots3_note_text"
    )
    assert out[2].kind == "sliding" and out[2].window == 512 and out[2].key_dim == 768 and len(notes) == 1
