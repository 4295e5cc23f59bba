"""Gemma 3n (image-text) against the transformers oracle: the whole model's parameters (text stack,
MobileNetV5, USM audio encoder, embedders), its cache; and the audio encoder and embedders by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from estimator import towers
from estimator.config import load_model_spec
from estimator.kv import kv_cache_bytes

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "oracle" / "transformers-5.25.json"

pytestmark = pytest.mark.skipif(not FIXTURE.exists(), reason="the oracle fixture is not in this checkout")

MAPPING = "MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES"


@pytest.fixture(scope="module")
def doc() -> dict:
    return json.loads(FIXTURE.read_text())


@pytest.fixture(scope="module")
def config(doc: dict) -> dict:
    return json.loads((FIXTURE.parent / doc["types"]["gemma3n"]["config_file"]).read_text())


def _breakdown(doc: dict) -> dict:
    return doc["types"]["gemma3n"]["params"][MAPPING]["breakdown"]


def test_parameters_equal_the_oracle(doc: dict, config: dict) -> None:
    spec = load_model_spec(config)
    assert spec.unread == ()
    assert spec.params.total == doc["types"]["gemma3n"]["params"][MAPPING]["total"]


def test_towers_and_embedders_equal_the_oracle(doc: dict, config: dict) -> None:
    b = _breakdown(doc)
    assert load_model_spec(config).params.vision == b["vision"] + b["audio"] + b["projector"]


def test_cache_equals_the_oracle(doc: dict, config: dict) -> None:
    rec = doc["types"]["gemma3n"]
    spec = load_model_spec(config).model_copy(update={"torch_dtype": "bf16"})
    l1, l2 = doc.get("lengths_by_type", {}).get("gemma3n") or doc["lengths"]
    b1 = kv_cache_bytes(spec, seq_len=l1, batch=1, kv_dtype="bf16", layout="contiguous")
    b2 = kv_cache_bytes(spec, seq_len=l2, batch=1, kv_dtype="bf16", layout="contiguous")
    per_token = (b2 - b1) // (l2 - l1)
    assert per_token == rec["cache"]["bytes_per_token"]
    assert b1 - per_token * l1 == rec["cache"]["fixed_bytes_per_sequence"]


def test_audio_encoder_by_hand(doc: dict, config: dict) -> None:
    # Gemma 3n's USM encoder at its defaults: 128 mel bins, convs of 128 and 32 channels (3x3,
    # stride 2, frequencies padded by one each side: 128 -> 64 -> 32), 12 Conformer blocks of 1536
    # with 8 heads (head_dim 192) and a depthwise kernel of 5. Everything is bias-free.
    h, layers, head_dim, kernel = 1536, 12, 192, 5
    subsample = (1 * 128 * 9 + 128) + (128 * 32 * 9 + 32) + 32 * 32 * h  # conv + GroupNorm weight each
    feed_forward = h + h * 4 * h + 4 * h * h + h  # pre norm, two linears, post norm
    attention = h + 3 * h * h + h * h + head_dim + h * h + h  # pre norm, q/k/v, relative keys, scale, post, norm
    light_conv = h + h * 2 * h + h * kernel + h + h * h  # pre norm, linear in, depthwise, norm, linear out
    block = 2 * feed_forward + attention + light_conv + h
    by_hand = subsample + layers * block
    assert towers.audio(config["audio_config"], "gemma3n audio_config") == by_hand
    assert by_hand == _breakdown(doc)["audio"]


def test_embedders_by_hand(doc: dict, config: dict) -> None:
    # One embedder per tower: a table of 128 hard tokens at the tower's width, two RMSNorms, a linear
    # to the text width (2048); its last RMSNorm has no scale.
    text = 2048
    vision = 128 * 2048 + 2 * 2048 + 2048 * text
    audio = 128 * 1536 + 2 * 1536 + 1536 * text
    assert towers.PROJECTORS["gemma3n"](config, text, "gemma3n") == vision + audio
    assert vision + audio == _breakdown(doc)["projector"]


def test_vision_tower_is_the_timm_count(doc: dict, config: dict) -> None:
    tower = towers.tower(config["vision_config"], "gemma3n vision_config")
    assert tower.n == _breakdown(doc)["vision"]


def test_unknown_timm_architecture_is_refused(config: dict) -> None:
    other = {**config, "vision_config": {**config["vision_config"], "architecture": "resnet50"}}
    spec = load_model_spec(other)
    assert spec.unread
    assert "resnet50" in " ".join(spec.unread)


def test_timm_model_args_are_refused(config: dict) -> None:
    other = {**config, "vision_config": {**config["vision_config"], "model_args": {"depth": 3}}}
    assert load_model_spec(other).unread
