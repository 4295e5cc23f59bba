"""Image-text types whose vision tower and projector vram counts (estimator.towers), against the
transformers oracle (tests/fixtures/oracle: parameters on the meta device) and hand arithmetic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from common.errors import ConfigError
from estimator import towers
from estimator.config import load_model_spec

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "oracle" / "transformers-5.25.json"
IMAGE = "MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES"

pytestmark = pytest.mark.skipif(not FIXTURE.exists(), reason="the oracle fixture is not in this checkout")

# Types whose every tower and projector tensor the oracle's name patterns file under vision,
# projector or audio: vram's tower count must equal that sum, not only the total.
CLEAN = [
    "blip-2",
    "instructblip",
    "instructblipvideo",
    "got_ocr2",
    "pp_chart2table",
    "idefics2",
    "lfm2_vl",
    "aria",
    "video_llama_3",
    "hyperclovax_vision_v2",
    "exaone4_5",
    "llava_onevision1_5",
    "qianfan_ocr",
    "ovis2",
    "ovis2_5",
    "nemotron_h_omni",
    "moss_transcribe_diarize",
    "apertus1p5",
]
AUDIO_ONLY = ["moss_transcribe_diarize"]
# Types where some tower modules fall under the oracle's "text" (a resampler, a visual tokenizer's
# head): the total is compared.
OTHER = ["minicpm_ocr", "minicpmv4_6", "minicpmv4_7", "deepseek_vl_hybrid", "janus"]


@pytest.fixture(scope="module")
def doc() -> dict:
    return json.loads(FIXTURE.read_text())


def _spec(doc: dict, model_type: str):
    rec = doc["types"][model_type]
    return load_model_spec(json.loads((FIXTURE.parent / rec["config_file"]).read_text()))


def _oracle(doc: dict, model_type: str) -> dict:
    params = doc["types"][model_type]["params"]
    return params.get(IMAGE) or next(iter(params.values()))


@pytest.mark.parametrize("model_type", CLEAN + OTHER)
def test_total_equals_oracle(model_type: str, doc: dict) -> None:
    spec = _spec(doc, model_type)
    assert spec.unread == ()
    assert spec.vision is not None or model_type in AUDIO_ONLY
    assert spec.params.total == _oracle(doc, model_type)["total"]


@pytest.mark.parametrize("model_type", CLEAN)
def test_towers_equal_oracle_breakdown(model_type: str, doc: dict) -> None:
    breakdown = _oracle(doc, model_type)["breakdown"]
    towers = sum(breakdown.get(k, 0) for k in ("vision", "projector", "audio"))
    assert _spec(doc, model_type).params.vision == towers


@pytest.mark.slow  # reads through transformers' config classes (its import: ~1.5 s of CPU)
def test_blip2_by_hand() -> None:
    """BLIP-2's EVA ViT (one block, embeddings), Q-Former and projection from their widths."""
    h, inter, layers, patch, image = 64, 128, 2, 14, 28
    q, q_inter, q_layers, queries, text = 32, 48, 2, 4, 16
    cfg = {
        "model_type": "blip-2",
        "num_query_tokens": queries,
        "vision_config": {
            "model_type": "blip_2_vision_model",
            "hidden_size": h,
            "intermediate_size": inter,
            "num_hidden_layers": layers,
            "num_attention_heads": 4,
            "patch_size": patch,
            "image_size": image,
        },
        "qformer_config": {
            "model_type": "blip_2_qformer",
            "hidden_size": q,
            "intermediate_size": q_inter,
            "num_hidden_layers": q_layers,
            "num_attention_heads": 4,
            "encoder_hidden_size": h,
        },
        "text_config": {
            "model_type": "opt",
            "hidden_size": text,
            "ffn_dim": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "vocab_size": 100,
            "word_embed_proj_dim": text,
        },
    }
    block = 2 * 2 * h + (h * 3 * h + 3 * h) + (h * h + h) + (h * inter + inter) + (inter * h + h)
    embeddings = h + (3 * patch * patch * h + h) + ((image // patch) ** 2 + 1) * h
    vit = embeddings + layers * block + 2 * h
    # Q-Former: self-attention q/k/v, output dense + LayerNorm, query MLP + LayerNorm; cross-attention
    # (q from the queries, k/v from the ViT width) on every second layer, starting at the first.
    self_attn = 3 * (q * q + q) + (q * q + q) + 2 * q
    mlp = (q * q_inter + q_inter) + (q_inter * q + q) + 2 * q
    cross = (q * q + q) + 2 * (h * q + q) + (q * q + q) + 2 * q
    qformer = 2 * q + q_layers * (self_attn + mlp) + cross + queries * q
    projection = q * text + text
    spec = load_model_spec(cfg)
    assert spec.params.vision == vit + qformer + projection


def test_got_ocr2_projector_by_hand(doc: dict) -> None:
    """GOT-OCR2's projector: 3x3 convs 256 -> 512 -> text width (no bias), then a biased linear."""
    cfg = {"vision_config": {"output_channels": 256}}
    text = 1024
    projector = 256 * 512 * 9 + 512 * text * 9 + text * text + text
    assert towers.PROJECTORS["got_ocr2"](cfg, text, "got_ocr2") == projector
    assert projector == _oracle(doc, "got_ocr2")["breakdown"]["projector"]


@pytest.mark.slow  # reads through transformers' config classes (its import: ~1.5 s of CPU)
def test_unmodelled_text_stack_refused() -> None:
    """BLIP-2 over Flan-T5: the T5 stack is not read as OPT's layout."""
    with pytest.raises(ConfigError, match="t5 text stack"):
        load_model_spec({"model_type": "blip-2", "text_config": {"model_type": "t5"}, "vision_config": {}})


def _gemma4_with_towers(doc: dict, vision: dict | None, audio: dict | None) -> dict:
    cfg = json.loads((FIXTURE.parent / doc["types"]["gemma4"]["config_file"]).read_text())
    return {**cfg, "vision_config": vision, "audio_config": audio}


def test_gemma4_vision_and_audio_by_hand(doc: dict) -> None:
    """Gemma 4's towers (no oracle count: its default config has none), from their widths."""
    text = 2304  # the default gemma4_text hidden size
    vision = {"model_type": "gemma4_vision", "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2}
    vision |= {"num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "patch_size": 4}
    vision |= {"position_embedding_size": 32, "pooling_kernel_size": 3}
    audio = {"model_type": "gemma4_audio", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4}
    audio |= {"conv_kernel_size": 5, "subsampling_conv_channels": [8, 4], "output_proj_dims": 48}
    text_only = load_model_spec(_gemma4_with_towers(doc, None, None))
    assert text_only.params.total == _oracle(doc, "gemma4")["total"]
    # vision: patch linear 3*4*4 -> 64; two 32-row position tables; per layer q 64->4x16, k/v 64->2x16,
    # o 64->64, q/k norms of 16, four RMSNorms of 64, gate/up/down 64<->96; embedder 64 -> text.
    layer = 64 * 64 + 2 * 64 * 32 + 64 * 64 + 2 * 16 + 4 * 64 + 3 * 64 * 96
    tower = 48 * 64 + 2 * 32 * 64 + 2 * layer
    spec = load_model_spec(_gemma4_with_towers(doc, vision, None))
    assert spec.params.vision == tower + 64 * text
    assert spec.unread == ()
    # audio: convs 1->8 and 8->4 (3x3, no bias) with weight-only LayerNorms, linear (8 // 4) * 4 -> 32;
    # per layer two 4x feed-forwards with two norms each, q/k/v/post/relative-k 32x32 and a per-dim
    # scale of 8, light conv (32->64, depthwise 32x5, 32->32, two norms), three norms; a biased
    # 32 -> 48 projection; embedder 48 -> text.
    conformer = 2 * (2 * 32 * 128 + 2 * 32) + (5 * 32 * 32 + 8) + (32 * 64 + 32 * 5 + 32 * 32 + 2 * 32) + 3 * 32
    encoder = (9 * 8 + 8) + (9 * 8 * 4 + 4) + 2 * 4 * 32 + 2 * conformer + 32 * 48 + 48
    both = load_model_spec(_gemma4_with_towers(doc, vision, audio))
    assert both.params.vision == tower + 64 * text + encoder + 48 * text


@pytest.mark.slow  # reads through transformers' config classes (its import: ~1.5 s of CPU)
def test_nemotron_h_omni_parakeet_audio_by_hand(doc: dict) -> None:
    """Nemotron-H Omni with a Parakeet audio tower (the oracle's default config has none), by hand."""
    rec = doc["types"]["nemotron_h_omni"]
    cfg = json.loads((FIXTURE.parent / rec["config_file"]).read_text())
    audio = {"model_type": "parakeet_encoder", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4}
    audio |= {"intermediate_size": 96, "subsampling_conv_channels": 8, "num_mel_bins": 80}
    audio |= {"projection_hidden_size": 80, "projection_bias": True}
    base = load_model_spec(cfg)
    spec = load_model_spec({**cfg, "audio_config": audio})
    assert spec.unread == ()
    text = spec.hidden_size
    # subsampling by 8: a 3x3 conv 1 -> 8, then twice a depthwise 3x3 and a pointwise 8 -> 8 (biased),
    # a biased linear over 8 channels x 80 / 8 mel bins -> 64.
    subsampling = (9 * 8 + 8) + 2 * ((9 * 8 + 8) + (8 * 8 + 8)) + (8 * 10 * 64 + 64)
    # per layer (Nemotron turns attention_bias off): two 64 <-> 96 feed-forwards; q/k/v/o and the
    # relative-key projection 64 x 64, two 4 x 16 bias vectors; conv module 64 -> 128, depthwise 9,
    # BatchNorm, 64 -> 64 (biased); five LayerNorms.
    layer = 2 * (2 * 64 * 96) + (5 * 64 * 64 + 2 * 64) + (64 * 128 + 128 + 64 * 9 + 64 + 2 * 64 + 64 * 64 + 64)
    layer += 5 * 2 * 64
    projector = 64 + (64 * 80 + 80) + (80 * text + text)  # RMSNorm, two biased linears
    assert spec.params.vision - base.params.vision == subsampling + 2 * layer + projector


@pytest.mark.slow  # reads through transformers' config classes (its import: ~1.5 s of CPU)
def test_unknown_vision_tower_refused(doc: dict) -> None:
    """A vision_config of a kind no counter knows (Pixtral's, LFM3-VL's under LFM2-VL) gets no verdict."""
    rec = doc["types"]["lfm2_vl"]
    cfg = json.loads((FIXTURE.parent / rec["config_file"]).read_text())
    for kind in ("pixtral", "lfm3_vl_vision"):
        spec = load_model_spec({**cfg, "vision_config": {"model_type": kind}})
        assert any(f"{kind} is not modelled" in why for why in spec.unread)


def test_gemma4_unified_embedders_by_hand(doc: dict) -> None:
    """Gemma 4 unified: no encoders, an embedder over raw 6x6 patches and raw audio frames."""
    cfg = json.loads((FIXTURE.parent / doc["types"]["gemma4_unified"]["config_file"]).read_text())
    vision = {"model_type": "gemma4_unified_vision", "patch_size": 2, "pooling_kernel_size": 3}
    vision |= {"mm_embed_dim": 40, "mm_posemb_size": 10, "output_proj_dims": 40}
    audio = {"model_type": "gemma4_unified_audio", "audio_embed_dim": 16}
    base = load_model_spec(cfg)
    spec = load_model_spec({**cfg, "vision_config": vision, "audio_config": audio})
    text = spec.hidden_size
    raw = 3 * 6 * 6
    # LayerNorm over the raw patch, biased dense to 40, LayerNorm, a 10 x 2 x 40 position table,
    # LayerNorm; bias-free linears 40 -> text and 16 -> text.
    embedder = 2 * raw + (raw * 40 + 40) + 2 * 40 + 10 * 2 * 40 + 2 * 40
    assert spec.unread == ()
    assert spec.params.total - base.params.total == embedder + 40 * text + 16 * text


def test_absurd_tower_counts_refused_quickly(doc: dict) -> None:
    """A hostile block count in a tower's config is refused with a sentence, not looped over."""
    rec = doc["types"]["janus"]
    cfg = json.loads((FIXTURE.parent / rec["config_file"]).read_text())
    with pytest.raises(ConfigError, match="parameters"):
        load_model_spec({**cfg, "vq_config": {**cfg["vq_config"], "num_res_blocks": 10**15}})
