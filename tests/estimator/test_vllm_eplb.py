"""eplb= (vLLM --enable-eplb and its num_redundant_experts), checked by hand arithmetic.

Sources (vLLM wheels 0.27.1, 0.30.0, 0.33.0): fused_moe/layer.py determine_expert_counts (physical
experts = experts + redundant, placed evenly over the EP group, "EPLB currently only supports even
distribution"), config/parallel.py (EPLB needs expert parallelism and TP or DP above 1), and
distributed/eplb/eplb_state.py EplbState.add_model (its maps, load window and receive buffer).

DeepSeek-V3 in block fp8: 256 routed experts in each of 58 MoE layers; one expert is gate and up
(7,168 -> 2,048) and down (2,048 -> 7,168), each 14,680,064 fp8 values + 16 x 56 fp32 block scales.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from common.errors import InputError
from estimator.config import load_model_spec
from estimator.estimate import estimate
from estimator.grammar import parse_settings
from estimator.query import Query

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
DSV3 = load_model_spec(json.loads((FIXTURES / "deepseek-ai__DeepSeek-V3.json").read_text()))
LLAMA = load_model_spec(json.loads((FIXTURES / "meta-llama__Llama-3.1-8B.json").read_text()))
EXPERT = 3 * (7168 * 2048 + 16 * 56 * 4)  # 44,050,944 B
LAYERS, EXPERTS = 58, 256


def _weights(**query: object) -> tuple[int, dict[str, int], str | None]:
    q = Query(engine="vllm", gpu="h200", gpus=8, expert_parallel=True, **query)  # type: ignore[arg-type]
    est = estimate(DSV3, q, model_id="m")
    assert est.engine_report is not None
    return est.memory.weights, {t.part: t.bytes for t in est.details.weight_terms}, est.engine_report.start_error


def test_redundant_experts_and_the_eplb_state_per_gpu() -> None:
    assert EXPERT == 44_050_944
    plain, _, _ = _weights()
    balanced, terms, error = _weights(eplb=32)
    assert error is None
    # 256 + 32 = 288 physical experts over 8 GPUs: 36 a GPU instead of 32, in every MoE layer.
    redundant = (36 - 32) * LAYERS * EXPERT
    # int64 maps: logical-to-physical (1,024 slots an expert), replica counts and (from 0.31) the last
    # rearrangement's load; physical-to-logical (int64) and the load pass (int32); the int32 load
    # window of 1,000 steps; one layer's 36 experts.
    maps = LAYERS * EXPERTS * (1024 * 8 + 8 + 8) + LAYERS * 288 * (8 + 4) + 1000 * LAYERS * 288 * 4
    buffer = 36 * EXPERT
    assert terms["eplb_state"] == maps + buffer == 1_774_722_816
    assert balanced - plain == redundant + maps + buffer


def test_eplb_without_redundant_experts_keeps_the_placement() -> None:
    plain, _, _ = _weights()
    balanced, terms, _ = _weights(eplb=0)
    maps = LAYERS * EXPERTS * (1024 * 8 + 8 + 8) + LAYERS * 256 * (8 + 4) + 1000 * LAYERS * 256 * 4
    assert terms["eplb_state"] == maps + 32 * EXPERT
    # 0.30 has no last_expert_load (eplb_state.py@v0.30.0).
    _, old, _ = _weights(eplb=0, vllm="0.30")
    assert terms["eplb_state"] - old["eplb_state"] == LAYERS * EXPERTS * 8
    assert balanced - plain == terms["eplb_state"]


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ({"eplb": 30}, "256 experts + 30 redundant = 286 do not divide over gpus x dp = 8 GPUs; eplb=24 or eplb=32"),
        ({"eplb": 32, "expert_parallel": False}, "add ep=on"),
        ({"eplb": 32, "gpus": 1}, "requires tensor or data parallelism"),
    ],
)
def test_vllm_refuses_what_its_config_checks_refuse(query: dict[str, object], why: str) -> None:
    q = Query(**{"engine": "vllm", "gpu": "h200", "gpus": 8, "expert_parallel": True, **query})  # type: ignore[arg-type]
    est = estimate(DSV3, q, model_id="m")
    assert est.engine_report is not None and est.fit is not None
    assert est.engine_report.start_error is not None and why in est.engine_report.start_error
    assert not est.fit.fits


def test_a_dense_model_has_no_experts_to_balance() -> None:
    est = estimate(LLAMA, Query(engine="vllm", gpu="h100", gpus=2, expert_parallel=True, eplb=0), model_id="m")
    assert est.engine_report is not None and est.engine_report.start_error is not None
    assert "has none" in est.engine_report.start_error


def test_the_grammar_reads_up_to_eplb_states_limit() -> None:
    assert parse_settings(["eplb=1023"]) == {"eplb": 1023}
    with pytest.raises(InputError, match="eplb="):
        parse_settings(["eplb=1024"])


def test_a_model_class_without_eplb_starts_without_it() -> None:
    # gpt-oss (GptOssForCausalLM) and Qwen1.5-MoE (Qwen2MoeForCausalLM) do not implement vLLM's
    # MixtureOfExperts in the 0.27.1-0.33.0 wheels (tools/gen_vllm_eplb.py): no redundant experts, no
    # EPLB state, and a note says eplb= changes nothing.
    spec = load_model_spec(json.loads((FIXTURES / "Qwen__Qwen1.5-MoE-A2.7B.json").read_text()))
    base = estimate(spec, Query(engine="vllm", gpu="h100", gpus=2, expert_parallel=True), model_id="m")
    asked = estimate(spec, Query(engine="vllm", gpu="h100", gpus=2, expert_parallel=True, eplb=4), model_id="m")
    assert asked.memory.weights == base.memory.weights
    assert asked.engine_report is not None and asked.engine_report.start_error is None
    assert any(w.code == "setting_ignored" and "eplb=4 changes nothing" in w.message for w in asked.warnings)
