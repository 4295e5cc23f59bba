"""The accuracy table against the issue's targets: this test fails when accuracy regresses.

Targets, on the calibration set in tests/fixtures/calibration:
- weights within 1% on every vLLM case (the known misses are listed, with why, and must stay
  exactly those: a new miss fails, and so does a fixed one until it is taken off the list);
- KV capacity in tokens within 5% on at least 90% of the cases whose measured KV pool is >= 8 GiB;
- transformers figures within 10%.
"""

from __future__ import annotations

import json

import pytest

from estimator.engines import vllm
from tools import calibrate

GiB = 1 << 30

# Weight misses above 1%, and why (see docs/accuracy.md). Not ours to paper over with a constant.
# None at present: DeepSeek-V2-Lite at TP 2/4 (case066, case067) missed by 1.0-1.7% until the 128 MiB
# workspace that importing vLLM's FlashInfer MLA backend allocates was modelled
# (estimator/engines/vllm.py, mla_backend_workspace_bytes).
KNOWN_WEIGHT_MISSES: set[str] = set()


@pytest.fixture(scope="module")
def data() -> dict:
    return calibrate.run()


@pytest.fixture(scope="module")
def results(data) -> list[calibrate.CaseResult]:
    return [calibrate.CaseResult.model_validate(c) for c in data["cases"]]


def test_every_case_with_a_config_is_predicted_or_says_why(results):
    cases = calibrate.load_cases()
    assert len(cases) == 51
    assert {r.id for r in results} == {c["id"] for c in cases if c["model"] in calibrate.MODEL_CONFIGS}
    skipped = {r.id: r.skipped for r in results if r.skipped}
    # Only the two pipeline-parallel runs: the Query has no pp.
    assert skipped == {
        "case025": "pipeline parallelism is not modelled",
        "case026": "pipeline parallelism is not modelled",
    }


def test_weights_within_one_percent(results):
    misses = {
        r.id
        for r in results
        if r.engine == "vllm"
        and r.skipped is None
        and (e := calibrate.rel_err(r.weights, r.weights_measured)) is not None
        and abs(e) > 0.01
    }
    assert misses == KNOWN_WEIGHT_MISSES


def test_kv_tokens_within_five_percent_on_ninety_percent(data, results):
    s = data["summary"]
    target = [r for r in results if calibrate._in_kv_target(r)]
    assert len(target) == s["kv_cases"] >= 40
    within = [r for r in target if abs(calibrate.rel_err(r.kv_tokens, r.kv_tokens_measured)) <= 0.05]
    assert len(within) / len(target) >= 0.90
    assert s["kv_share_within_5pct"] >= 0.90
    # Tighter than the target today; a regression past these fails before the target does.
    assert s["kv_median_abs_err"] < 0.01
    assert s["kv_max_abs_err"] < 0.03


def test_block_arithmetic_reproduces_the_logs_from_the_measured_pool(data):
    # Given the pool vLLM logged, our tokens are the log's to the rounding of the logged GiB.
    assert data["summary"]["kv_block_arithmetic_max_abs_err"] < 0.001


def test_classic_formula_is_far_off_on_the_same_pools(data):
    # The comparison the table prints: the classic KV term (h/g per layer) misses by a wide margin.
    assert data["summary"]["classic_kv_median_abs_err"] > 0.5


def test_transformers_within_ten_percent(data):
    s = data["summary"]
    assert s["transformers_points"] == 20
    assert s["transformers_within_10pct"] == s["transformers_points"]


def test_activation_peak_tracks_the_logs(data):
    # Median within 0.05 GiB; the worst (DeepSeek-V2's MoE + MLA forward) within 0.5 GiB.
    s = data["summary"]
    assert s["activation_median_abs_err_gib"] < 0.05
    assert s["activation_max_abs_err_gib"] < 0.5


def test_shipped_constants_are_what_the_data_fits(data):
    # The constants in vllm.py are the refit on the whole set (rounded), not hand-tuned values.
    refit = data["refit_on_all"]["current"]
    shipped = vllm.DEFAULT_CONSTANTS
    assert refit["sampler_bytes_per_logit"] == pytest.approx(shipped.sampler_bytes_per_logit, abs=0.05)
    assert refit["non_torch_single_gpu"] == pytest.approx(shipped.non_torch_single_gpu, rel=0.01)
    assert refit["non_torch_tensor_parallel"] == pytest.approx(shipped.non_torch_tensor_parallel, rel=0.01)
    legacy = data["refit_on_all"]["legacy"]["sampler_bytes_per_logit"]
    assert legacy == pytest.approx(vllm.LEGACY_CONSTANTS.sampler_bytes_per_logit, abs=0.05)


def test_leave_one_family_out_keeps_every_family_within_target(data):
    lofo = data["leave_one_family_out"]
    assert set(lofo) >= {"llama", "qwen2", "qwen3", "gemma2", "granite", "mixtral", "gpt_oss", "deepseek_v2"}
    for family, row in lofo.items():
        assert row["max_abs_err"] < 0.05, family


def test_markdown_and_json_outputs(capsys):
    assert calibrate.main(["--json"]) == 0
    parsed = json.loads(capsys.readouterr().out)
    assert parsed["summary"]["kv_cases"] >= 40
    assert calibrate.main(["--markdown"]) == 0
    md = capsys.readouterr().out
    assert "| case001 | codellama/CodeLlama-7b-hf |" in md
    assert "### Leave one family out" in md


def test_a_regression_is_caught():
    # The check can fail: a sampler costed at 60 bytes per logit (more than even the pre-v0.17 sort
    # path) eats ~6 GiB of the pool on large-vocabulary models and pushes them past 5%.
    broken = vllm.DEFAULT_CONSTANTS.model_copy(update={"sampler_bytes_per_logit": 60.0})
    cases = calibrate.load_cases()
    results = calibrate.predict_all(cases, {"current": broken, "legacy": vllm.LEGACY_CONSTANTS})
    summary = calibrate.summarize(results)
    assert summary["kv_max_abs_err"] > 0.05
