"""The generated table of transformers' config classes matches the installed transformers, and filling
a config from it gives what the config class itself gives."""

from __future__ import annotations

import importlib.metadata
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
    # The installed distribution's version, read from its metadata without importing it.
    installed = importlib.metadata.version("transformers")
    assert archconfig.table()["transformers_version"] == installed, (
        "estimator/data/arch_table.json was generated from another transformers: run tools/gen_arch_table.py"
    )


def test_architectures_match_the_auto_mappings() -> None:
    # Every class the installed transformers lists under one model type is that type in the table.
    listed = archconfig.listed_architectures()
    table = archconfig.table()["architectures"]
    assert {c: next(iter(t)) for c, t in listed.items() if len(t) == 1}.items() <= table.items()
    # A class listed under several types is the type of the config class it declares, or absent.
    assert all(table[c] in t for c, t in listed.items() if c in table)
    assert table["DeepseekV3ForCausalLM"] == "deepseek_v3"  # also listed under sarvam_mla
    assert table["Llama4ForCausalLM"] == "llama4_text"  # declares Llama4TextConfig, not Llama4Config


@pytest.mark.slow
def test_architectures_match_the_generator() -> None:
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES,
    )

    gen = _generator()
    mappings = [MODEL_FOR_CAUSAL_LM_MAPPING_NAMES, MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES]
    assert gen.architectures(mappings, CONFIG_MAPPING) == archconfig.table()["architectures"]


def test_config_types_are_the_installed_ones() -> None:
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    assert archconfig.table()["config_types"] == sorted(CONFIG_MAPPING.keys())


def test_architecture_type_reads_the_first_known_class() -> None:
    cfg = {"model_type": "kimi_k2", "architectures": ["KimiK2Mystery", "DeepseekV3ForCausalLM"]}
    assert archconfig.architecture_type(cfg) == ("deepseek_v3", "DeepseekV3ForCausalLM")
    assert archconfig.architecture_type({"architectures": ["NoSuchForCausalLM"]}) is None
    assert archconfig.architecture_type({"architectures": "DeepseekV3ForCausalLM"}) is None
    assert archconfig.architecture_type({}) is None


@pytest.mark.slow
def test_table_matches_the_config_classes() -> None:
    # Regenerated in memory from the installed classes: the committed table must be identical.
    from transformers import PreTrainedConfig  # noqa: F401 - the generator needs it importable
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    gen = _generator()
    base = gen._base_fields()
    committed = archconfig.table()["types"]
    for model_type, entry in committed.items():
        assert (
            gen.entry(CONFIG_MAPPING[model_type], base) == json.loads(json.dumps(entry))
            or json.loads(json.dumps(gen.entry(CONFIG_MAPPING[model_type], base))) == entry
        ), model_type


# Types whose saved config (to_dict of the default) the table fills without the class.
SAMPLE = [
    "llama",
    "qwen3",
    "qwen3_next",
    "deepseek_v32",
    "gemma4_text",
    "kimi_linear",
    "nemotron_h",
    "gpt_bigcode",
    "starcoder2",
    "lfm2",
    "falcon_h1",
    "minimax_m2",
    "qwen3_vl",
    "internvl",
]


@pytest.mark.parametrize("model_type", SAMPLE)
def test_table_fills_a_saved_config_like_the_class(model_type: str) -> None:
    saved = archconfig._live(model_type, {"model_type": model_type})  # what save_pretrained writes
    filled, source = archconfig.normalise(json.loads(json.dumps(saved)))
    assert source == "table"
    for key, value in filled.items():
        if key in saved and not isinstance(value, dict):
            assert value == saved[key], (model_type, key)


# Checked for every fixture config in the whole suite; the fast subset keeps a sample (dense, sliding
# 5:1, MXFP4 MoE, MLA, vision-language, Mamba hybrid), so adding configs does not slow it.
FAST_SAMPLE = {
    "Qwen__Qwen3-8B.json",
    "google__gemma-3-1b-it.json",
    "openai__gpt-oss-20b.json",
    "deepseek-ai__DeepSeek-V2-Lite-Chat.json",
    "Qwen__Qwen2.5-VL-7B-Instruct.json",
    "ai21labs__AI21-Jamba-1.5-Mini.json",
}


def _sampled(names: list[str]) -> list:
    return [n if n in FAST_SAMPLE else pytest.param(n, marks=pytest.mark.slow) for n in names]


def _as_read(raw: dict) -> dict:
    """``raw`` under the type vram reads it as: its architecture's, where transformers lacks its own."""
    try:
        archconfig.normalise(raw)
    except archconfig.UnknownModelType:
        by_class = archconfig.architecture_type(raw)
        assert by_class is not None, raw.get("model_type")
        return {**raw, "model_type": by_class[0]}
    return raw


@pytest.mark.parametrize("name", _sampled(sorted(p.name for p in CONFIGS.glob("*.json"))))
def test_published_configs_fill_like_the_class(name: str) -> None:
    raw = json.loads((CONFIGS / name).read_text())
    if not raw.get("model_type"):
        pytest.skip("no model_type")
    raw = _as_read(raw)
    filled, _ = archconfig.normalise(raw)
    live = archconfig._live(str(raw["model_type"]), raw)
    for key in (
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "num_key_value_heads",
        "head_dim",
        "intermediate_size",
        "vocab_size",
        "sliding_window",
        "layer_types",
    ):
        if key in live:
            assert filled.get(key) == live[key], key


def test_unknown_type_names_the_upgrade() -> None:
    with pytest.raises(archconfig.UnknownModelType, match="upgrade"):
        archconfig.normalise({"model_type": "brand_new_lm", "hidden_size": 64})


@pytest.mark.slow  # a fresh interpreter
def test_the_table_path_does_not_import_transformers() -> None:
    # Start-up cost: importing transformers takes most of a second; a saved config needs none of it.
    import subprocess

    code = (
        "import json, sys\n"
        "import bot.cli\n"
        "from estimator.config import load_model_spec\n"
        f"load_model_spec(json.load(open({str(CONFIGS / 'meta-llama__Llama-3.1-8B.json')!r})))\n"
        # Gemma 4's global layers (per_layer_config) and Kimi-K2's kimi_k2 read by its architecture.
        f"load_model_spec(json.load(open({str(ROOT / 'tests/fixtures/calibration2/configs/gemma4_31b_it.json')!r})))\n"
        f"load_model_spec(json.load(open({str(CONFIGS / 'moonshotai__Kimi-K2-Instruct.json')!r})))\n"
        "print('transformers' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"


# Published configs the table cannot fill yet, with the reason; every other one takes the table path.
CLASS_PATH: dict[str, str] = {}


def _published_configs() -> dict[str, bytes]:
    """The fixture configs, and any config the fake Hub serves that is not one of them."""
    from tests import fakehub

    found = {p.name: p.read_bytes() for p in CONFIGS.glob("*.json")}
    for repo_id, files in fakehub.standard_files().items():
        body = files.get("config.json")
        if isinstance(body, bytes) and body not in found.values():
            found[f"fakehub:{repo_id}"] = body
    return found


PUBLISHED = _published_configs()


@pytest.mark.parametrize("name", _sampled(sorted(PUBLISHED)))
def test_published_configs_take_the_table_path(name: str) -> None:
    raw = _as_read(json.loads(PUBLISHED[name]))
    filled, source = archconfig.normalise(raw)
    assert source == ("transformers" if name in CLASS_PATH else "table"), CLASS_PATH.get(name, name)
    # The table path gives what the class gives, field for field (sub-configs too).
    live = archconfig._live(str(raw["model_type"]), raw)
    _same(filled, live, name)


@pytest.mark.parametrize(
    "name", sorted(p.name for p in (ROOT / "tests/fixtures/calibration2/configs").glob("*.json") if "glm" in p.name)
)
def test_glm5_configs_take_the_table_path(name: str) -> None:
    # GLM-5 (glm_moe_dsa): every layer indexed attention, head_dim the rope slice whatever the config
    # says (192 in GLM-5.1's); the class path imported transformers on every query (2 s of CPU).
    raw = json.loads((ROOT / "tests/fixtures/calibration2/configs" / name).read_text())
    filled, source = archconfig.normalise(raw)
    assert source == "table"
    assert filled["layer_types"] == ["indexed_attention"] * raw["num_hidden_layers"]
    assert filled["head_dim"] == raw["qk_rope_head_dim"] == 64


def test_deepseek_v4_legacy_keywords_are_data() -> None:
    # DeepSeek-V4-Flash ships compress_ratios (0 sliding, 4 CSA, 128 HCA per layer), num_hash_layers
    # 3 and qk_rope_head_dim 64 of head_dim 512, which its class folds into its own fields.
    raw = json.loads((ROOT / "tests/fixtures/calibration2/configs/deepseek_v4_flash.json").read_text())
    filled, source = archconfig.normalise(raw)
    assert source == "table"
    kinds = {0: "sliding_attention", 4: "compressed_sparse_attention", 128: "heavily_compressed_attention"}
    assert filled["layer_types"] == [kinds[r] for r in raw["compress_ratios"]][: raw["num_hidden_layers"]]
    assert filled["mlp_layer_types"] == ["hash_moe"] * 3 + ["moe"] * (raw["num_hidden_layers"] - 3)
    assert filled["partial_rotary_factor"] == 64 / 512 and filled["qk_rope_head_dim"] == 64
    assert filled["compress_rates"] == {"compressed_sparse_attention": 4, "heavily_compressed_attention": 128}
    # Without them: two HCA layers, then CSA and HCA in turn (5 layers: HCA HCA HCA CSA HCA).
    bare, _ = archconfig.normalise({"model_type": "deepseek_v4", "num_hidden_layers": 5})
    hca, csa = "heavily_compressed_attention", "compressed_sparse_attention"
    assert bare["layer_types"] == [hca, hca, hca, csa, hca]


# Fields the class moves, not architecture: DeepSeek-V4 copies a top-level expert_dtype into its
# quantization_config (vram reads it from either place).
MOVED = {"quantization_config"}


@pytest.mark.slow  # imports transformers
@pytest.mark.parametrize(
    ("name", "model_type"),
    [("glm5_3.json", "glm_moe_dsa"), ("glm_moe_dsa.json", "glm_moe_dsa"), ("deepseek_v4_flash.json", "deepseek_v4")],
)
def test_calibration_configs_fill_like_the_class(name: str, model_type: str) -> None:
    raw = json.loads((ROOT / "tests/fixtures/calibration2/configs" / name).read_text())
    filled = {k: v for k, v in archconfig.normalise(raw)[0].items() if k not in MOVED}
    _same(filled, archconfig._live(model_type, raw), name)


def test_the_fake_hub_serves_configs_checked_here() -> None:
    from tests import fakehub

    served = [files["config.json"] for files in fakehub.standard_files().values() if "config.json" in files]
    assert len(served) >= 5 and all(body in PUBLISHED.values() for body in served)


# Bookkeeping the class rewrites on load, not architecture.
NOT_ARCHITECTURE = {"transformers_version", "_name_or_path"}


def _same(filled: dict, live: dict, where: str) -> None:
    for key, value in filled.items():
        if key not in live or key in NOT_ARCHITECTURE:
            continue  # fields the table leaves out (token ids, rope) or keeps from the config
        if isinstance(value, dict) and isinstance(live[key], dict):
            _same(value, live[key], f"{where}.{key}")
        else:
            assert value == live[key], (where, key, value, live[key])


@pytest.mark.parametrize(
    "model_type, rule",
    [
        ("qwen3", "sliding_attention from layer max_window_layers on, when sliding_window"),
        ("qwen2", "sliding_attention from layer max_window_layers on, when sliding_window"),
        ("gemma2", "full_attention every 2nd layer, else sliding_attention"),
        ("gemma3_text", "full_attention every _sliding_window_pattern-th layer, else sliding_attention"),
        ("llama4_text", "chunked_attention on no_rope_layers, when attention_chunk_size"),
    ],
)
def test_layer_types_are_data_for_the_common_types(model_type: str, rule: str) -> None:
    assert archconfig.table()["types"][model_type]["derived"]["layer_types"] == rule


def test_layer_type_rules_by_hand() -> None:
    # Qwen2.5-7B with its window switched on from layer 2 of 4; Gemma 3 with a full layer every 3rd.
    qwen, _ = archconfig.normalise(
        {
            "model_type": "qwen2",
            "num_hidden_layers": 4,
            "use_sliding_window": True,
            "sliding_window": 4096,
            "max_window_layers": 2,
        }
    )
    assert qwen["layer_types"] == ["full_attention", "full_attention", "sliding_attention", "sliding_attention"]
    off, _ = archconfig.normalise(
        {
            "model_type": "qwen2",
            "num_hidden_layers": 2,
            "use_sliding_window": False,
            "sliding_window": 4096,
            "max_window_layers": 0,
        }
    )
    assert off["sliding_window"] is None and off["layer_types"] == ["full_attention"] * 2
    gemma, _ = archconfig.normalise({"model_type": "gemma3_text", "num_hidden_layers": 5, "sliding_window_pattern": 3})
    assert gemma["layer_types"] == [
        "sliding_attention",
        "sliding_attention",
        "full_attention",
        "sliding_attention",
        "sliding_attention",
    ]
    llama4, _ = archconfig.normalise(
        {
            "model_type": "llama4_text",
            "num_hidden_layers": 4,
            "no_rope_layers": [],
            "no_rope_layer_interval": 2,
            "attention_chunk_size": 8192,
        }
    )
    assert llama4["layer_types"] == ["chunked_attention", "full_attention", "chunked_attention", "full_attention"]


def test_gemma4_global_layers_are_data() -> None:
    # google/gemma-4-31B-it: 60 layers, every 6th full attention (layer_types), whose heads are
    # global_head_dim 512 wide with num_global_key_value_heads 4 shared K=V heads (attention_k_eq_v),
    # against 256 and 16 on the sliding layers. Read without importing transformers.
    raw = json.loads((ROOT / "tests/fixtures/calibration2/configs/gemma4_31b_it.json").read_text())
    filled, source = archconfig.normalise(raw)
    assert source == "table"
    full = [f"{i:02d}" for i in range(5, 60, 6)]
    assert filled["text_config"]["per_layer_config"] == {i: {"head_dim": 512, "num_key_value_heads": 4} for i in full}
    # Without K=V the global KV-head count is not applied; a global width equal to head_dim is no override.
    text = {k: v for k, v in raw["text_config"].items() if k != "model_type"}
    plain, _ = archconfig.normalise({**text, "model_type": "gemma4_text", "attention_k_eq_v": False})
    assert plain["per_layer_config"] == {i: {"head_dim": 512} for i in full}
    same, _ = archconfig.normalise(
        {**text, "model_type": "gemma4_text", "global_head_dim": 256, "head_dim": 256, "num_global_key_value_heads": 16}
    )
    assert same["per_layer_config"] == {}
