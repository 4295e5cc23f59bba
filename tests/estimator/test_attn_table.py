"""The generated table of transformers' attention support matches the installed transformers, and
engine=transformers sizes the attention ``from_pretrained`` picks when fa= is unsaid."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from estimator.config import load_model_spec
from estimator.engines.transformers import attention_table
from estimator.estimate import estimate
from estimator.query import Query

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "tests" / "fixtures" / "configs"


def _generator():
    spec = importlib.util.spec_from_file_location("gen_attn_table", ROOT / "tools" / "gen_attn_table.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_attn_table"] = module
    spec.loader.exec_module(module)
    return module


def test_table_is_for_the_installed_transformers() -> None:
    installed = importlib.metadata.version("transformers")
    assert attention_table()["transformers_version"] == installed, (
        "estimator/data/attn_table.json was generated from another transformers: run tools/gen_attn_table.py"
    )
    assert attention_table()["failed"] == {}


@pytest.mark.slow
def test_table_matches_the_modeling_sources() -> None:
    committed = json.loads((ROOT / "estimator" / "data" / "attn_table.json").read_text())
    assert _generator().build() == committed


# Read by hand from transformers 5.25's modeling files (the PreTrainedModel class of each):
# gpt_oss 377-379, gemma2 352-354 (sdpa "does not support softcapping"), llama 324-326,
# deepseek_v4 1223-1225; jamba sets flash and sdpa, not flex.
@pytest.mark.parametrize(
    ("model_type", "cls", "sdpa", "flash", "flex"),
    [
        ("gpt_oss", "GptOssForCausalLM", False, True, True),
        ("gemma2", "Gemma2ForCausalLM", False, True, True),
        ("llama", "LlamaForCausalLM", True, True, True),
        ("deepseek_v4", "DeepseekV4ForCausalLM", False, False, False),
        ("jamba", "JambaForCausalLM", True, True, False),
        # exaone's auto class is llama's: its flags are llama's.
        ("exaone", "LlamaForCausalLM", True, True, True),
    ],
)
def test_known_classes(model_type: str, cls: str, sdpa: bool, flash: bool, flex: bool) -> None:
    entry = attention_table()["types"][model_type]
    assert entry == {"class": cls, "sdpa": sdpa, "flash_attn": flash, "flex_attn": flex}


def _est(name: str, **kw: object):
    cfg = json.loads((CONFIGS / name).read_text())
    spec = load_model_spec(cfg)
    return estimate(spec, Query(engine="transformers", gpu="h100", seq_len=16384, **kw), model_id=name)


def _codes(est) -> set[str]:
    return {w.code for w in est.warnings}


def test_gpt_oss_unsaid_is_eager_and_says_why() -> None:
    unsaid, off, on = (
        _est("openai__gpt-oss-20b.json"),
        _est("openai__gpt-oss-20b.json", flash_attention=False),
        _est("openai__gpt-oss-20b.json", flash_attention=True),
    )
    # Unsaid sizes what fa=off sizes: eager scores, b x 64 heads x s^2 x 10 bytes in one layer.
    assert unsaid.memory == off.memory
    assert unsaid.memory.activations > 64 * 16384 * 16384 * 10
    assert not unsaid.details.fused_attention and unsaid.query.flash_attention is None
    assert unsaid.fit is not None and not unsaid.fit.fits
    assert "eager_by_default" in _codes(unsaid) and "eager_by_default" not in _codes(off)
    assert "fused_needs_attn_implementation" not in _codes(off)
    # fa=on: fused attention (no s^2 term), and the answer says what it needs.
    assert on.details.fused_attention and on.memory.activations < 64 * 16384 * 16384
    assert "fused_needs_attn_implementation" in _codes(on) and "eager_by_default" not in _codes(on)
    line = next(w.message for w in on.warnings if w.code == "fused_needs_attn_implementation")
    assert "attn_implementation" in line and "flash_attention_2" in line and "flex_attention" in line


def test_sdpa_model_unsaid_is_fused_without_a_note() -> None:
    unsaid, on = _est("meta-llama__Llama-3.1-8B.json"), _est("meta-llama__Llama-3.1-8B.json", flash_attention=True)
    assert unsaid.memory == on.memory and unsaid.details.fused_attention
    assert not _codes(unsaid) & {"eager_by_default", "fused_needs_attn_implementation", "attention_support_unread"}


def test_fa_on_refused_where_the_class_has_no_fused_attention() -> None:
    spec = load_model_spec({"model_type": "bloom", "hidden_size": 1024, "n_head": 16, "n_layer": 4, "vocab_size": 1000})
    est = estimate(spec, Query(engine="transformers", gpu="h100", flash_attention=True), model_id="bloom")
    assert est.fit is not None and not est.fit.fits
    assert est.fit.engine_refuses and "BloomForCausalLM" in est.fit.engine_refuses
    unsaid = estimate(spec, Query(engine="transformers", gpu="h100"), model_id="bloom")
    assert unsaid.fit is not None and unsaid.fit.engine_refuses is None and not unsaid.details.fused_attention


def test_vllm_unsaid_is_fused_without_the_fa_off_warning() -> None:
    cfg = json.loads((CONFIGS / "openai__gpt-oss-20b.json").read_text())
    est = estimate(load_model_spec(cfg), Query(engine="vllm", gpu="h100"), model_id="gpt-oss")
    assert est.details.fused_attention and "fused_attention_always" not in _codes(est)


def test_answers_stored_before_keep_the_attention_fa_said() -> None:
    from estimator.result import Estimate

    stored = _est("meta-llama__Llama-3.1-8B.json", flash_attention=False).model_dump(mode="json")
    del stored["details"]["fused_attention"]
    assert Estimate.model_validate(stored).details.fused_attention is False
    stored["query"]["flash_attention"] = True
    assert Estimate.model_validate(stored).details.fused_attention is True
