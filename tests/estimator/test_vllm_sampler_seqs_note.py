"""The sampler_seqs note: where the sampler warm-up over vLLM's default max_num_seqs rows sets the
activation peak, a smaller max_num_seqs frees that memory for the pool; the note names the setting
and what it holds, the same figure the answer with that setting gives."""

from __future__ import annotations

import json
from pathlib import Path

from estimator.config import load_model_spec
from estimator.engines import vllm
from estimator.estimate import estimate
from estimator.query import Query

CONFIG = Path(__file__).resolve().parents[1] / "fixtures" / "calibration2" / "configs" / "qwen3_5_27b.json"
QWEN35_27B = load_model_spec(json.loads(CONFIG.read_text()))


def q(**kw) -> Query:
    return Query(**{"engine": "vllm", "vllm": "0.33", **kw})


def test_the_sampler_seqs_tip_names_the_setting_and_what_it_holds() -> None:
    # Qwen3.5-27B at 32k on one H100 (0.33): vLLM's default max_num_seqs there is 1,024, and the
    # sampler warm-up over 1,024 rows sets the activation peak; b=6 fits with little room, and at
    # seqs=256 (a quarter) the same question holds what the answer to that query holds.
    query = q(gpu="h100", seq_len=32_768, batch=6)
    est = estimate(QWEN35_27B, query, model_id="m")
    (tip,) = [w.message for w in est.warnings if w.code == "sampler_seqs"]
    small = estimate(QWEN35_27B, q(gpu="h100", seq_len=32_768, batch=6, max_num_seqs=256), model_id="m")
    assert isinstance(est.engine_report, vllm.VllmReport) and isinstance(small.engine_report, vllm.VllmReport)
    held, before = small.engine_report.max_resident, est.engine_report.max_resident
    assert 6 <= before < 12 and held >= 1.1 * before
    assert (
        f"(1,024, its default on this GPU): seqs=256, which still runs the b=6 at once, would hold {held:,.2f}" in tip
    )
    assert f"requests of 32,768 tokens instead of {before:,.2f}." in tip


def test_where_the_requests_do_not_fit_the_tip_names_the_verdicts_seqs() -> None:
    # b=7 does not fit (6.24 held): the verdict offers the largest halving that holds them, 512, and
    # the note explains that value rather than a quarter.
    est = estimate(QWEN35_27B, q(gpu="h100", seq_len=32_768, batch=7), model_id="m")
    assert isinstance(est.engine_report, vllm.VllmReport) and est.engine_report.seqs_to_fit == 512
    (tip,) = [w.message for w in est.warnings if w.code == "sampler_seqs"]
    fixed = estimate(QWEN35_27B, q(gpu="h100", seq_len=32_768, batch=7, max_num_seqs=512), model_id="m")
    assert isinstance(fixed.engine_report, vllm.VllmReport) and fixed.fit is not None and fixed.fit.fits
    assert f"seqs=512, which still runs the b=7 at once, would hold {fixed.engine_report.max_resident:,.2f}" in tip
    small = estimate(QWEN35_27B, q(gpu="h100", seq_len=32_768, batch=6, max_num_seqs=256), model_id="m")
    # Not said where seqs= is given, nor where a quarter of the default would not run the b requests.
    assert not [w for w in small.warnings if w.code == "sampler_seqs"]
    many = estimate(QWEN35_27B, q(gpu="h100", seq_len=1_024, batch=300), model_id="m")
    assert not [w for w in many.warnings if w.code == "sampler_seqs"]


def test_with_replicas_the_tip_counts_one_replicas_share() -> None:
    # b=16 over dp=2: each replica gets 8, which a quarter of the default (256) still runs at once.
    est = estimate(QWEN35_27B, q(gpu="h100", seq_len=32_768, batch=16, dp=2), model_id="m")
    tips = [w.message for w in est.warnings if w.code == "sampler_seqs"]
    assert len(tips) == 1 and "which still runs the b=16 (8 a replica) at once" in tips[0]
    assert " a replica instead of " in tips[0]


def test_no_tip_far_from_the_limit_or_with_mnbt_given() -> None:
    # b=1 where the pool holds several requests: nothing to explain. mnbt= given: the capped
    # max_num_seqs is the user's, not vLLM's default.
    far = estimate(QWEN35_27B, q(gpu="h100", seq_len=8_192, batch=1), model_id="m")
    assert isinstance(far.engine_report, vllm.VllmReport) and far.engine_report.max_resident >= 2
    assert not [w for w in far.warnings if w.code == "sampler_seqs"]
    capped = estimate(QWEN35_27B, q(gpu="h100", seq_len=32_768, batch=7, max_num_batched_tokens=1000), model_id="m")
    assert not [w for w in capped.warnings if w.code == "sampler_seqs"]
