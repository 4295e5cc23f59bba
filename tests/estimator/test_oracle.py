"""vram against the transformers oracle (tests/fixtures/oracle, written by bench/oracle_transformers.py):
for every causal-LM and image-text type, parameters within 0.5% and the cache equal to what a real
forward left, or an honest refusal -- never a differing number; and the README table is current."""

from __future__ import annotations

import importlib.util
import json
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "oracle" / "transformers-5.25.json"

pytestmark = pytest.mark.skipif(not FIXTURE.exists(), reason="the oracle fixture is not in this checkout")


@cache
def _coverage():
    """tools/coverage.py, loaded once: executing it anew for each of the ~350 types costs seconds."""
    spec = importlib.util.spec_from_file_location("coverage_tool", ROOT / "tools" / "coverage.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["coverage_tool"] = module
    spec.loader.exec_module(module)
    return module


def _types() -> list[str]:
    if not FIXTURE.exists():
        return []
    return sorted(json.loads(FIXTURE.read_text())["types"])


@pytest.fixture(scope="module")
def doc() -> dict:
    return json.loads(FIXTURE.read_text())


# Every type of the fixture (about 350): a whole-table scan, so slow. The fast subset keeps the named
# types below, and the README table check, which compares every type again.
@pytest.mark.slow
@pytest.mark.parametrize("model_type", _types())
def test_exact_or_refused(model_type: str, doc: dict) -> None:
    row = _coverage().compare(model_type, doc["types"][model_type], FIXTURE.parent, doc)
    assert row.verdict != "differs", f"{model_type}: {row.why}"


# The types the issue names: exact against the oracle, or refused with the reason given here.
EXACT = [
    "qwen3_5",
    "qwen3_5_moe",
    "qwen3_next",
    "gemma4",
    "gemma4_text",
    "deepseek_v32",
    "kimi_linear",
    "glm4_moe",
    "glm_moe_dsa",
    "minimax_m2",
    "mistral4",
    "ministral3",
    "olmo3",
    "smollm3",
    "seed_oss",
    "ernie4_5_moe",
    "granitemoehybrid",
    "nemotron_h",
    "falcon_h1",
    "lfm2",
    "gpt_bigcode",
    "starcoder2",
    "phimoe",
    "qwen3_vl",
    "qwen3_vl_moe",
    "internvl",
    "llava_next",
    "cohere2",
    "longcat_flash",
    "mimo_v2_flash",
    "llama",
    "mistral",
    "mixtral",
    "qwen2",
    "qwen2_moe",
    "qwen3",
    "qwen3_moe",
    "phi",
    "phi3",
    "gemma",
    "gemma2",
    "gemma3",
    "gemma3_text",
    "granite",
    "deepseek_v3",
    "gpt_oss",
    "llama4_text",
    "mistral3",
    "qwen2_vl",
    "qwen2_5_vl",
    "jamba",
    "kimi_k25",
    "gemma3n",
]
REFUSED = {"deepseek_v4": "compressed", "mistral_large4": "mistral_large4", "mllama": ""}


@pytest.mark.parametrize("model_type", EXACT)
def test_named_type_is_exact(model_type: str, doc: dict) -> None:
    if model_type not in doc["types"]:
        pytest.skip("not in the fixture")
    row = _coverage().compare(model_type, doc["types"][model_type], FIXTURE.parent, doc)
    if row.verdict in ("not built", "n/a"):
        pytest.skip(f"the oracle could not size it: {row.why}")
    # "params": parameters exact where the oracle's own forward failed (no cache to compare with).
    assert row.verdict in ("exact", "params"), f"{model_type}: {row.verdict}: {row.why}"


@pytest.mark.parametrize("model_type", sorted(REFUSED))
def test_named_type_is_refused_with_a_sentence(model_type: str, doc: dict) -> None:
    if model_type not in doc["types"]:
        pytest.skip("not in the fixture")
    row = _coverage().compare(model_type, doc["types"][model_type], FIXTURE.parent, doc)
    if row.verdict in ("not built", "n/a"):
        pytest.skip(f"the oracle could not size it: {row.why}")
    assert row.verdict in ("refused", "exact"), f"{model_type}: {row.why}"
    if row.verdict == "refused":
        assert REFUSED[model_type] in row.why and row.why.endswith((".", "…"))


def test_readme_table_is_current() -> None:
    cov = _coverage()
    readme = (ROOT / "README.md").read_text()
    section = readme.split(cov.START, 1)[1].split(cov.END, 1)[0]
    stale = "README coverage table is stale: run python tools/coverage.py --write"
    assert section == "\n" + cov.table(cov.rows()), stale
