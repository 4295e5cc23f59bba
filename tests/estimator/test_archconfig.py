"""The generated table of transformers' config classes matches the installed transformers, and filling
a config from it gives what the config class itself gives."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from estimator import archconfig

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "tests" / "fixtures" / "configs"


def _generator():
    spec = importlib.util.spec_from_file_location("gen_arch_table", ROOT / "tools" / "gen_arch_table.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_arch_table"] = module
    spec.loader.exec_module(module)
    return module


def test_table_is_for_the_installed_transformers() -> None:
    import transformers

    assert archconfig.table()["transformers_version"] == transformers.__version__, (
        "estimator/data/arch_table.json was generated from another transformers: run tools/gen_arch_table.py")


@pytest.mark.slow
def test_table_matches_the_config_classes() -> None:
    # Regenerated in memory from the installed classes: the committed table must be identical.
    from transformers import PreTrainedConfig  # noqa: F401 - the generator needs it importable
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    gen = _generator()
    base = gen._base_fields()
    committed = archconfig.table()["types"]
    for model_type, entry in committed.items():
        assert gen.entry(CONFIG_MAPPING[model_type], base) == json.loads(json.dumps(entry)) or \
            json.loads(json.dumps(gen.entry(CONFIG_MAPPING[model_type], base))) == entry, model_type


# Types whose saved config (to_dict of the default) the table fills without the class.
SAMPLE = ["llama", "qwen3", "qwen3_next", "deepseek_v32", "gemma4_text", "kimi_linear", "nemotron_h",
          "gpt_bigcode", "starcoder2", "lfm2", "falcon_h1", "minimax_m2", "qwen3_vl", "internvl"]


@pytest.mark.parametrize("model_type", SAMPLE)
def test_table_fills_a_saved_config_like_the_class(model_type: str) -> None:
    saved = archconfig._live(model_type, {"model_type": model_type})  # what save_pretrained writes
    filled, source = archconfig.normalise(json.loads(json.dumps(saved)))
    assert source == "table"
    for key, value in filled.items():
        if key in saved and not isinstance(value, dict):
            assert value == saved[key], (model_type, key)


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIGS.glob("*.json")))
def test_published_configs_fill_like_the_class(name: str) -> None:
    raw = json.loads((CONFIGS / name).read_text())
    if not raw.get("model_type"):
        pytest.skip("no model_type")
    filled, _ = archconfig.normalise(raw)
    live = archconfig._live(str(raw["model_type"]), raw)
    for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim",
                "intermediate_size", "vocab_size", "sliding_window", "layer_types"):
        if key in live:
            assert filled.get(key) == live[key], key


def test_unknown_type_names_the_upgrade() -> None:
    with pytest.raises(archconfig.UnknownModelType, match="upgrade"):
        archconfig.normalise({"model_type": "brand_new_lm", "hidden_size": 64})
