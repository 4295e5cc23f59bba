"""FastVLM (a timm tower) and X-MOD against the transformers oracle (tests/fixtures/oracle: parameters
on the meta device) and hand arithmetic."""

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


@pytest.fixture(scope="module")
def doc() -> dict:
    return json.loads(FIXTURE.read_text())


def _config(doc: dict, model_type: str) -> dict:
    return json.loads((FIXTURE.parent / doc["types"][model_type]["config_file"]).read_text())


def _oracle(doc: dict, model_type: str) -> dict:
    return next(iter(doc["types"][model_type]["params"].values()))


def test_fast_vlm_total_equals_oracle(doc: dict) -> None:
    spec = load_model_spec(_config(doc, "fast_vlm"))
    oracle = _oracle(doc, "fast_vlm")
    assert spec.unread == ()
    assert spec.params.total == oracle["total"]
    assert spec.params.vision == oracle["breakdown"]["vision"] + oracle["breakdown"]["projector"]


def test_fast_vlm_projector_by_hand(doc: dict) -> None:
    """Two biased linears: the tower's 3072 features to the 3584 text width, then 3584 to 3584."""
    cfg = _config(doc, "fast_vlm")
    assert cfg["vision_config"]["hidden_size"] == 3072 and cfg["text_config"]["hidden_size"] == 3584
    projector = (3072 * 3584 + 3584) + (3584 * 3584 + 3584)
    assert towers.PROJECTORS["fast_vlm"](cfg, 3584, "fast_vlm") == projector
    assert projector == _oracle(doc, "fast_vlm")["breakdown"]["projector"]
    no_bias = {**cfg, "multimodal_projector_bias": False}
    assert towers.PROJECTORS["fast_vlm"](no_bias, 3584, "fast_vlm") == 3072 * 3584 + 3584 * 3584


def test_fast_vlm_cache_is_qwen2s(doc: dict) -> None:
    """The cache is the Qwen2 text stack's: K and V of every layer, kv heads x head_dim, bf16."""
    cfg = _config(doc, "fast_vlm")
    text = cfg["text_config"]
    spec = load_model_spec(cfg).model_copy(update={"torch_dtype": "bf16"})
    head_dim = text["hidden_size"] // text["num_attention_heads"]
    per_token = text["num_hidden_layers"] * 2 * text["num_key_value_heads"] * head_dim * 2
    b32, b64 = (kv_cache_bytes(spec, seq_len=n, batch=1, kv_dtype="bf16", layout="contiguous") for n in (32, 64))
    assert b64 - b32 == 32 * per_token
    assert per_token == doc["types"]["fast_vlm"]["cache"]["bytes_per_token"]


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"architecture": "resnet50"}, "timm backbone resnet50 is not modelled"),
        ({"model_args": {}}, "model_args"),
    ],
)
def test_fast_vlm_other_timm_backbone_not_sized(doc: dict, change: dict, match: str) -> None:
    cfg = _config(doc, "fast_vlm")
    cfg = {**cfg, "vision_config": {**cfg["vision_config"], **change}}
    spec = load_model_spec(cfg)
    assert len(spec.unread) == 1 and match in spec.unread[0] and spec.unread[0].endswith(".")


def test_xmod_oracle_forward_ran(doc: dict) -> None:
    """With a default language set the oracle's forward runs; the default config is an encoder
    (is_decoder false), which keeps no cache, as RoBERTa's does."""
    assert doc["types"]["xmod"]["status"].startswith("no cache")
    assert doc["types"]["roberta"]["status"].startswith("no cache")


def test_xmod_cache_by_hand(doc: dict) -> None:
    """As a decoder, X-MOD caches K and V of its 12 layers at the 768 width (bf16)."""
    spec = load_model_spec(_config(doc, "xmod")).model_copy(update={"torch_dtype": "bf16"})
    b32, b64 = (kv_cache_bytes(spec, seq_len=n, batch=1, kv_dtype="bf16", layout="contiguous") for n in (32, 64))
    assert b64 - b32 == 32 * (12 * 2 * 768 * 2)
