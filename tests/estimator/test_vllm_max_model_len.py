"""vLLM's start-up check of max_model_len against the config's positions, RoPE scaling included.

vLLM derives the longest max_model_len from max_position_embeddings; a yarn rope_scaling gives
original_max_position_embeddings x factor, linear/dynamic give positions x factor, llama3 and
longrope keep the positions as given. A longer max_model_len is refused at start-up unless
VLLM_ALLOW_LONG_MAX_MODEL_LEN is set, so the answer must not say "fits".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from estimator.config import load_model_spec
from estimator.estimate import estimate
from estimator.query import Query

CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "configs"


def _config(name: str, **extra: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = json.loads((CONFIGS / name).read_text())
    cfg.update(extra)
    return cfg


def _answer(cfg: dict[str, Any], seq_len: int) -> Any:
    spec = load_model_spec(cfg)
    query = Query(model="m", seq_len=seq_len, engine="vllm", gpu="h100")
    return spec, estimate(spec, query, model_id="m")


def test_past_the_positions_vllm_will_not_start_and_nothing_fits() -> None:
    # Qwen3-8B: max_position_embeddings 40,960 and no rope_scaling.
    spec, est = _answer(_config("Qwen__Qwen3-8B.json"), 131_072)
    assert spec.scaled_max_positions == 40_960
    assert est.fit is not None and est.fit.fits is False
    assert any("40,960 positions" in w.message for w in est.warnings)


def test_within_the_positions_it_is_sized_as_usual() -> None:
    _, est = _answer(_config("Qwen__Qwen3-8B.json"), 32_768)
    assert est.fit is not None and est.fit.fits is True


def test_yarn_scaling_extends_the_positions_vllm_accepts() -> None:
    # 32,768 original positions x factor 4 = 131,072 (Qwen's published YaRN recipe).
    yarn = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32_768}
    spec, est = _answer(_config("Qwen__Qwen3-8B.json", rope_scaling=yarn), 131_072)
    assert spec.scaled_max_positions == 131_072
    assert est.fit is not None and est.fit.fits is True
    _, too_long = _answer(_config("Qwen__Qwen3-8B.json", rope_scaling=yarn), 131_072 + 1)
    assert too_long.fit is not None and too_long.fit.fits is False


def test_llama3_scaling_keeps_the_positions_as_given() -> None:
    # Llama-3.1-8B: max_position_embeddings 131,072 already; its llama3 rope_scaling adds nothing.
    spec, est = _answer(_config("meta-llama__Llama-3.1-8B.json"), 131_072)
    assert spec.scaled_max_positions == 131_072
    assert est.fit is not None and est.fit.fits is True
