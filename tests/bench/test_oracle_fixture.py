"""The transformers oracle fixture is well-formed (offline; no torch).

The fixture is written by ``bench/oracle_transformers.py`` in a venv with torch and transformers;
these checks only read it.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

ORACLE = Path(__file__).resolve().parents[1] / "fixtures" / "oracle"
FIXTURE = ORACLE / "transformers-5.25.json"
MAPPINGS = ("MODEL_FOR_CAUSAL_LM_MAPPING_NAMES", "MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES")


@pytest.fixture(scope="module")
def oracle() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


def _numbers(obj: Any, path: str = "") -> list[tuple[str, Any]]:
    """Every number in obj with its path (bools are flags, not numbers)."""
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return []
    if isinstance(obj, (int, float)):
        return [(path, obj)]
    if isinstance(obj, dict):
        return [n for k, v in obj.items() for n in _numbers(v, f"{path}.{k}")]
    if isinstance(obj, list):
        return [n for i, v in enumerate(obj) for n in _numbers(v, f"{path}[{i}]")]
    raise AssertionError(f"{path}: unexpected {type(obj).__name__}")


def test_header_names_the_versions(oracle: dict[str, Any]) -> None:
    assert oracle["transformers"] == "5.25.0"
    assert oracle["torch"].startswith("2.")
    assert set(oracle["mapping_types"]) == set(MAPPINGS)


def test_every_type_of_both_mappings_is_recorded(oracle: dict[str, Any]) -> None:
    types = oracle["types"]
    for mapping, listed in oracle["mapping_types"].items():
        assert listed, mapping
        for model_type in listed:
            assert model_type in types, f"{model_type} of {mapping} missing"
            assert mapping in types[model_type]["mappings"], model_type
    in_any = {t for listed in oracle["mapping_types"].values() for t in listed}
    assert set(types) == in_any


def test_mapping_lists_match_the_installed_transformers(oracle: dict[str, Any]) -> None:
    # Asked first and for free: without torch, importing the mappings spends two seconds to fail.
    if importlib.util.find_spec("torch") is None:
        pytest.skip("transformers' model mappings need torch, which the project does not install")
    transformers = pytest.importorskip("transformers")
    if transformers.__version__ != oracle["transformers"]:
        pytest.skip(f"transformers {transformers.__version__} installed, fixture from {oracle['transformers']}")
    try:
        from transformers.models.auto import modeling_auto

        installed = {mapping: sorted(getattr(modeling_auto, mapping)) for mapping in MAPPINGS}
    except ImportError:  # transformers 5.25 builds these mappings only with torch installed
        pytest.skip("transformers' model mappings need torch, which the project does not install")
    for mapping in MAPPINGS:
        assert installed[mapping] == oracle["mapping_types"][mapping]


def test_numbers_are_non_negative_integers(oracle: dict[str, Any]) -> None:
    for model_type, rec in oracle["types"].items():
        # measured numbers only (a published config's fields may be floats)
        body = {k: v for k, v in rec.items() if k in ("params", "text_model_params", "cache", "window_probe")}
        for path, value in _numbers(body):
            assert isinstance(value, int) and value >= 0, f"{model_type}{path} = {value!r}"


def test_each_type_has_a_status_and_ok_types_have_params_and_cache(oracle: dict[str, Any]) -> None:
    for model_type, rec in oracle["types"].items():
        status = rec["status"]
        assert isinstance(status, str) and status, model_type
        if status != "ok":
            continue
        assert rec["params"], model_type
        for mapping, params in rec["params"].items():
            assert mapping in MAPPINGS
            assert params["total"] > 0, model_type
            assert sum(params["breakdown"].values()) == params["total"], model_type
            if "active" in params:
                assert params["active"] <= params["total"], model_type
        cache = rec["cache"]
        assert cache["bytes_per_token"] + cache["fixed_bytes_per_sequence"] > 0, model_type
        groups = cache["layer_groups"]
        indices = sorted(i for g in groups for i in g["layers"])
        assert indices == list(range(cache["num_layers"])), model_type
        assert sum(g["bytes_per_token"] * len(g["layers"]) for g in groups) == cache["bytes_per_token"], model_type
        assert sum(g["fixed_bytes"] * len(g["layers"]) for g in groups) == cache["fixed_bytes_per_sequence"], model_type
        for n in cache["lengths"]:
            expected = cache["bytes_per_token"] * n + cache["fixed_bytes_per_sequence"]
            if n == cache["lengths"][0] or cache["per_token_exact"]:
                assert cache["bytes_at"][str(n)] == expected, model_type


def test_configs_written_for_every_type_that_has_one(oracle: dict[str, Any]) -> None:
    for model_type, rec in oracle["types"].items():
        if "config_file" not in rec:
            assert not rec["status"].startswith("ok"), model_type
            continue
        cfg = json.loads((ORACLE / rec["config_file"]).read_text())
        assert cfg["model_type"], model_type
        source = rec["config_source"]
        if source["kind"] != "default":
            assert source["url"].startswith("https://"), model_type
            assert "file" in source or source["overrides"], model_type
            if "file" in source:
                assert (ORACLE / source["file"]).exists(), model_type
