"""The answer as stored: an estimate survives its JSON round trip, with its engine's own section."""

from __future__ import annotations

import json
from pathlib import Path

from estimator.config import load_model_spec
from estimator.engines.vllm import VllmReport
from estimator.estimate import estimate
from estimator.query import Query
from estimator.result import Estimate

CONFIG = Path(__file__).resolve().parents[1] / "fixtures" / "configs" / "Qwen__Qwen3-8B.json"


def _vllm_estimate() -> Estimate:
    spec = load_model_spec(json.loads(CONFIG.read_text()))
    return estimate(spec, Query(engine="vllm", gpu="h100-80gb"), model_id="Qwen/Qwen3-8B")


def test_round_trip_keeps_the_engine_section_typed() -> None:
    est = _vllm_estimate()
    stored = est.model_dump(mode="json")
    back = Estimate.model_validate(stored)
    assert back == est
    assert isinstance(back.engine_report, VllmReport)
    assert back.to_json() == est.to_json()


def test_answers_stored_with_the_older_vllm_key_still_load() -> None:
    est = _vllm_estimate()
    stored = est.model_dump(mode="json")
    stored["vllm"] = stored.pop("engine_report")  # how answers were stored before the engine registry
    back = Estimate.model_validate(stored)
    assert back == est


def test_a_transformers_answer_has_no_section_and_an_empty_vllm_key() -> None:
    spec = load_model_spec(json.loads(CONFIG.read_text()))
    est = estimate(spec, Query(), model_id="Qwen/Qwen3-8B")
    assert est.engine_report is None
    assert est.to_json()["vllm"] is None
    assert Estimate.model_validate({**est.model_dump(mode="json"), "vllm": None}) == est
