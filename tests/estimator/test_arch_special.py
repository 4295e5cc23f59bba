"""Architectures sized by estimator.special, against the transformers oracle and by hand.

The oracle (tests/fixtures/oracle/transformers-5.25.json) holds the meta-device parameter count and
the cache a real forward left for each type's default config; the hand arithmetic below re-derives
a part of each model from its config's widths, independently of the builders.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from estimator.config import load_model_spec
from estimator.kv import kv_bytes_per_token, kv_cache_bytes, state_bytes_per_sequence

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "oracle" / "transformers-5.25.json"

pytestmark = pytest.mark.skipif(not FIXTURE.exists(), reason="the oracle fixture is not in this checkout")


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


def _coverage() -> Any:
    spec = importlib.util.spec_from_file_location("coverage_tool", ROOT / "tools" / "coverage.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["coverage_tool"] = module
    spec.loader.exec_module(module)
    return module


def _config(doc: dict[str, Any], model_type: str) -> dict[str, Any]:
    return json.loads((FIXTURE.parent / doc["types"][model_type]["config_file"]).read_text())


EXACT = ["mamba", "falcon_mamba"]


@pytest.mark.parametrize("model_type", EXACT)
def test_exact_against_the_oracle(model_type: str, doc: dict[str, Any]) -> None:
    row = _coverage().compare(model_type, doc["types"][model_type], FIXTURE.parent, doc)
    assert row.verdict == "exact", f"{model_type}: {row.verdict}: {row.why}"


def test_mamba_by_hand(doc: dict[str, Any]) -> None:
    cfg = _config(doc, "mamba")
    h, inner, n = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    d_state, kernel, rank, vocab = cfg["state_size"], cfg["conv_kernel"], cfg["time_step_rank"], cfg["vocab_size"]
    mixer = (
        h * 2 * inner  # in_proj (no bias)
        + inner * kernel
        + inner  # depthwise conv1d and its bias
        + inner * (rank + 2 * d_state)  # x_proj
        + rank * inner
        + inner  # dt_proj with bias
        + inner * d_state
        + inner  # A_log, D
        + inner * h  # out_proj
    )
    spec = load_model_spec(cfg)
    assert spec.params.total == vocab * h + n * (mixer + h) + h  # tied lm_head, one norm per layer, final norm
    assert spec.num_attention_heads == 0 and kv_bytes_per_token(spec, "bf16") == 0
    # transformers: a conv window of conv_kernel columns in bf16 and the SSM state in fp32, per layer.
    assert state_bytes_per_sequence(spec) == n * (inner * kernel * 2 + inner * d_state * 4)
    assert kv_cache_bytes(spec, seq_len=100_000, batch=2, kv_dtype="bf16") == 2 * state_bytes_per_sequence(spec)
