"""Image-text types with towers of their own (estimator.towers_mm) against the transformers oracle:
the parameter count the meta device gives, the cache a real forward left; and a part by hand."""

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

# Types whose parameters equal the oracle's to the parameter, and whose cache matches its forward.
EXACT = [
    "glm4v",
    "glm46v",
    "glm4v_moe",
    "glm_ocr",
    "glm4_moe",
    "paddleocr_vl",
    "qwen2_5_omni_thinker",
    "granite_docling",
    "molmo2",
    "phi4_multimodal",
    "minimax_m3_vl",
    "minimax_m3_vl_text",
    "git",
    "kosmos-2.5",
]
# Types the oracle could build but not run forward: parameters only.
PARAMS_ONLY = ["glmga", "kosmos-2", "idefics"]


@pytest.fixture(scope="module")
def doc() -> dict:
    return json.loads(FIXTURE.read_text())


def _config(doc: dict, model_type: str) -> dict:
    return json.loads((FIXTURE.parent / doc["types"][model_type]["config_file"]).read_text())


def _oracle_total(rec: dict) -> int:
    params = rec["params"]
    entry = params.get("MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES") or params["MODEL_FOR_CAUSAL_LM_MAPPING_NAMES"]
    return int(entry["total"])


@pytest.mark.parametrize("model_type", EXACT + PARAMS_ONLY)
def test_parameters_equal_the_oracle(model_type: str, doc: dict) -> None:
    spec = load_model_spec(_config(doc, model_type))
    assert spec.unread == ()
    assert spec.params.total == _oracle_total(doc["types"][model_type])


@pytest.mark.parametrize("model_type", EXACT)
def test_cache_equals_the_oracle(model_type: str, doc: dict) -> None:
    rec = doc["types"][model_type]
    spec = load_model_spec(_config(doc, model_type)).model_copy(update={"torch_dtype": "bf16"})
    l1, l2 = doc.get("lengths_by_type", {}).get(model_type) or doc["lengths"]
    b1 = kv_cache_bytes(spec, seq_len=l1, batch=1, kv_dtype="bf16", layout="contiguous")
    b2 = kv_cache_bytes(spec, seq_len=l2, batch=1, kv_dtype="bf16", layout="contiguous")
    per_token = (b2 - b1) // (l2 - l1)
    assert per_token == rec["cache"]["bytes_per_token"]
    assert b1 - per_token * l1 == rec["cache"]["fixed_bytes_per_sequence"]


def test_glm4v_vision_tower_by_hand(doc: dict) -> None:
    # GLM-4.1V's tower at its default widths: 24 blocks of 1536, MLP and downsample to 4096,
    # merger of 13,696, 14-pixel patches over 2 frames, 336-pixel position grid.
    hv, out, inter, depth = 1536, 4096, 13696, 24
    patch_embed = 3 * 2 * 14 * 14 * hv + hv
    positions = (336 // 14) ** 2 * hv
    block = 2 * hv + hv * 3 * hv + hv * hv + 3 * hv * out  # 2 RMSNorms, qkv, proj, SwiGLU
    norms = 2 * hv  # post-conv and post RMSNorms
    downsample = hv * out * 2 * 2 + out
    merger = out * out + 2 * out + 3 * out * inter
    by_hand = patch_embed + positions + depth * block + norms + downsample + merger
    spec = load_model_spec(_config(doc, "glm4v"))
    assert spec.params.vision == by_hand
    assert (
        by_hand == doc["types"]["glm4v"]["params"]["MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES"]["breakdown"]["vision"]
    )


def test_minimax_m3_dense_layers_use_their_own_width(doc: dict) -> None:
    # A dense first layer swaps one MoE block (router, experts, shared MLP) for a SwiGLU MLP of
    # dense_intermediate_size: the difference, by hand, from the widths in the config.
    config = _config(doc, "minimax_m3_vl_text")
    h, dense, moe, shared = 6144, 12288, 3072, 3072
    experts = config["num_local_experts"]
    moe_block = experts * (h + 3 * h * moe) + 3 * h * shared
    base = load_model_spec(config).params.total
    types = ["dense", *config["mlp_layer_types"][1:]]
    changed = load_model_spec({**config, "mlp_layer_types": types}).params.total
    assert changed - base == 3 * h * dense - moe_block


def test_minimax_m3_sparse_attention_layers_are_refused(doc: dict) -> None:
    config = _config(doc, "minimax_m3_vl_text")
    types = ["minimax_m3_sparse", *config["layer_types"][1:]]
    assert load_model_spec({**config, "layer_types": types}).unread


@pytest.mark.parametrize("model_type", ["hy_v4_vl", "lfm3_vl"])
def test_towers_over_text_stacks_registered_elsewhere(model_type: str, doc: dict) -> None:
    # The tower alone against the oracle's vision + projector parameters (the text stack is its own family's).
    config = _config(doc, model_type)
    params, _ = towers_mm.tower(model_type, config, config["vision_config"], config["text_config"]["hidden_size"])
    breakdown = doc["types"][model_type]["params"]["MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES"]["breakdown"]
    assert params == breakdown["vision"] + breakdown.get("projector", 0)


@pytest.mark.parametrize(("model_type", "text"), [("hy_v4_vl", "hy_v4"), ("lfm3_vl", "lfm3")])
def test_whole_type_once_its_text_stack_is_registered(model_type: str, text: str, doc: dict) -> None:
    if family(text) is None:
        pytest.skip(f"the {text} text stack is not registered in this checkout")
    spec = load_model_spec(_config(doc, model_type))
    assert spec.unread == ()
    assert spec.params.total == _oracle_total(doc["types"][model_type])


def test_qwen25_omni_audio_encoder_by_hand(doc: dict) -> None:
    # Whisper-style encoder at Qwen2.5-Omni's defaults: 128 mel bins, 32 layers of 1280, FFN 5120,
    # projection to 3584; k_proj has no bias; two begin/end embeddings of the output width.
    d, ffn, mels, out, layers = 1280, 5120, 128, 3584, 32
    convs = (mels * d * 3 + d) + (d * d * 3 + d)
    layer = (4 * d * d + 3 * d) + 2 * (2 * d) + (d * ffn + ffn) + (ffn * d + d)
    by_hand = convs + layers * layer + 2 * d + (d * out + out) + 2 * out
    config = _config(doc, "qwen2_5_omni_thinker")
    assert towers_mm._whisper_audio(config["audio_config"], "audio_config") == by_hand
    breakdown = doc["types"]["qwen2_5_omni_thinker"]["params"]["MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES"][
        "breakdown"
    ]
    assert by_hand == breakdown["audio"]


def test_kosmos25_mlp_layernorm_by_hand(doc: dict) -> None:
    # Kosmos-2.5's 24 text layers: two LayerNorms of 1536 and one over the MLP width (ffn_dim 6144)
    # before fc2, each with weight and bias, and the final LayerNorm.
    config = _config(doc, "kosmos-2.5")
    spec = load_model_spec(config)
    fam = family("kosmos-2.5")
    assert fam is not None and fam.sub_norms == "mlp"
    text = spec.params.total - spec.params.vision
    breakdown = doc["types"]["kosmos-2.5"]["params"]["MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES"]["breakdown"]
    assert text == breakdown["embeddings"] + breakdown["text"]
    assert spec.params.norms == 24 * (2 * 2 * 1536 + 2 * 6144) + 2 * 1536


@pytest.mark.parametrize(
    "model_type",
    ["blip", "trocr", pytest.param("moshi", marks=pytest.mark.slow)],  # moshi reads through transformers
)
def test_refused_with_the_reason(model_type: str, doc: dict) -> None:
    spec = load_model_spec(_config(doc, model_type))
    assert spec.unread and spec.unread[0].startswith(f"vram does not model {model_type} (")


def test_glm46v_takes_the_text_stack_its_config_names(doc: dict) -> None:
    # GLM-4.6V (106B) pairs the GLM-4V tower with the GLM-4.5V MoE text stack: the same parameters
    # as glm4v_moe, whose tower has the same widths.
    moe = _config(doc, "glm4v_moe")
    config = {**_config(doc, "glm46v"), "text_config": moe["text_config"], "vision_config": moe["vision_config"]}
    spec = load_model_spec(config)
    assert spec.unread == ()
    assert spec.num_experts == moe["text_config"]["n_routed_experts"]
    assert spec.params.total == _oracle_total(doc["types"]["glm4v_moe"])


def test_idefics_gated_cross_attention_layer_by_hand(doc: dict) -> None:
    # One gated cross-attention layer at IDEFICS' default widths: q/o of 4096, k/v from the 768-wide
    # image encoder, a SwiGLU MLP of 11,008, two RMSNorms and two float tanh gates. With one every
    # fourth layer instead of every layer, 24 of the 32 go.
    h, width, inter = 4096, 768, 11008
    layer = 2 * h * h + 2 * width * h + 3 * h * inter + 2 * h + 2
    config = _config(doc, "idefics")
    every = load_model_spec(config).params.total
    fourth = load_model_spec({**config, "cross_layer_interval": 4}).params.total
    assert every - fourth == 24 * layer


def test_idefics_perceiver_resampler_by_hand(doc: dict) -> None:
    # The Perceiver resampler at its defaults: 64 latents of 768, 6 blocks of bias-free cross-attention
    # (16 heads x 96) and a 4x MLP, each with LayerNorms, and a final LayerNorm.
    e, inner, depth = 768, 16 * 96, 6
    block = (2 * 2 * e + 3 * e * inner + inner * e) + (2 * e + 2 * e * 4 * e)
    by_hand = 64 * e + depth * block + 2 * e
    config = _config(doc, "idefics")
    with_resampler = {**config, "use_resampler": True}
    assert load_model_spec(with_resampler).params.vision - load_model_spec(config).params.vision == by_hand


def test_a_type_without_its_own_tower_builder_is_refused() -> None:
    with pytest.raises(towers_mm.NotModelled):
        towers_mm.tower("no_such_type", {}, {}, 1024)
