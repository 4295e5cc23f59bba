"""Types whose oracle forward failed for reasons of the harness or of a placeholder default config,
sized against the rerun oracle: parameters from the meta device, the cache a real forward left;
and a part by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from estimator import towers_mm
from estimator.config import load_model_spec
from estimator.families import family
from estimator.kv import kv_cache_bytes

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "oracle" / "transformers-5.25.json"

pytestmark = pytest.mark.skipif(not FIXTURE.exists(), reason="the oracle fixture is not in this checkout")

# Parameters and cache equal to the oracle's: the forward now runs on the language model
# (kosmos-2, ovis2), with a blank image (idefics), or on a published config (glmga, qwen3-omni).
EXACT = ["glmga", "idefics", "kosmos-2", "ovis2", "qwen3_omni_moe_thinker"]


@pytest.fixture(scope="module")
def doc() -> dict:
    return json.loads(FIXTURE.read_text())


def _config(doc: dict, model_type: str) -> dict:
    return json.loads((FIXTURE.parent / doc["types"][model_type]["config_file"]).read_text())


def _oracle_params(rec: dict) -> dict:
    params = rec["params"]
    return params.get("MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES") or params["MODEL_FOR_CAUSAL_LM_MAPPING_NAMES"]


@pytest.mark.parametrize("model_type", EXACT)
def test_parameters_equal_the_oracle(model_type: str, doc: dict) -> None:
    spec = load_model_spec(_config(doc, model_type))
    assert spec.unread == ()
    assert spec.params.total == _oracle_params(doc["types"][model_type])["total"]


@pytest.mark.parametrize("model_type", EXACT)
def test_cache_equals_the_oracle(model_type: str, doc: dict) -> None:
    rec = doc["types"][model_type]
    assert rec["status"] == "ok"
    spec = load_model_spec(_config(doc, model_type)).model_copy(update={"torch_dtype": "bf16"})
    l1, l2 = doc.get("lengths_by_type", {}).get(model_type) or doc["lengths"]
    b1 = kv_cache_bytes(spec, seq_len=l1, batch=1, kv_dtype="bf16", layout="contiguous")
    b2 = kv_cache_bytes(spec, seq_len=l2, batch=1, kv_dtype="bf16", layout="contiguous")
    per_token = (b2 - b1) // (l2 - l1)
    assert per_token == rec["cache"]["bytes_per_token"]
    assert b1 - per_token * l1 == rec["cache"]["fixed_bytes_per_sequence"]


def test_idefics_cache_is_its_self_attention_layers_only(doc: dict) -> None:
    # The gated cross-attention layers keep no cache: K and V of every decoder layer, by hand
    # (32 layers, 32 heads of 128, bf16).
    config = _config(doc, "idefics")
    layers, heads = config["num_hidden_layers"], config["num_attention_heads"]
    head_dim = config["hidden_size"] // heads
    assert doc["types"]["idefics"]["cache"]["bytes_per_token"] == layers * 2 * heads * head_dim * 2


def test_qwen3_omni_audio_encoder_by_hand(doc: dict) -> None:
    # Qwen3-Omni's audio encoder at the default widths: 128 mel bins through three stride-2 convs
    # of 480 channels (16 bins left), 32 layers of 1280 with FFN 5120, projections to 1280 and to
    # the text width 2048 (the published output_dim).
    d, ffn, mels, down, out, layers = 1280, 5120, 128, 480, 2048, 32
    convs = (1 * 9 * down + down) + 2 * (down * 9 * down + down)
    conv_out = down * (mels // 8) * d
    layer = 4 * (d * d + d) + 2 * (2 * d) + (d * ffn + ffn) + (ffn * d + d)
    by_hand = convs + conv_out + layers * layer + 2 * d + (d * d + d) + (d * out + out)
    config = _config(doc, "qwen3_omni_moe_thinker")
    assert config["audio_config"]["output_dim"] == out
    assert towers_mm._qwen3_omni_audio(config["audio_config"], "audio_config") == by_hand
    breakdown = _oracle_params(doc["types"]["qwen3_omni_moe_thinker"])["breakdown"]
    assert by_hand == breakdown["audio"]


def test_qwen3_omni_cache_by_hand(doc: dict) -> None:
    # 48 layers, 4 KV heads of 128, keys and values in bf16.
    assert doc["types"]["qwen3_omni_moe_thinker"]["cache"]["bytes_per_token"] == 48 * 2 * 4 * 128 * 2


# Types registered by the text-stack work whose oracle cache the harness now reads in full:
# step3p7's forward builds a sliding-window mask although no layer slides; MiniMax keeps the
# lightning layers' state in a list beside its layers (the last layer has only that state).
TEXT_STACKS = ["step3p7", "minimax"]


@pytest.mark.parametrize("model_type", TEXT_STACKS)
def test_text_stacks_cache_equals_the_oracle(model_type: str, doc: dict) -> None:
    if family(model_type) is None:
        pytest.skip(f"{model_type} is not registered in this checkout")
    test_cache_equals_the_oracle(model_type, doc)


def test_minimax_lightning_state_by_hand(doc: dict) -> None:
    # Every linear-attention layer keeps one heads x head_dim x head_dim state, the last layer too.
    config = _config(doc, "minimax")
    heads = config["num_attention_heads"]
    head_dim = config.get("head_dim") or config["hidden_size"] // heads
    lightning = config["layer_types"].count("linear_attention")
    cache = doc["types"]["minimax"]["cache"]
    assert cache["num_layers"] == config["num_hidden_layers"]
    assert cache["fixed_bytes_per_sequence"] == lightning * heads * head_dim * head_dim * 2
