"""A vLLM verdict that falls short offers seqs= where fewer max_num_seqs rows (the sampler warm-up,
its tables, the CUDA graphs captured) make the room: the largest halving of the one in effect that
holds the requests, never one that would queue them."""

from __future__ import annotations

import json
from pathlib import Path

from bot import report
from estimator.config import load_model_spec
from estimator.engines.vllm import VllmReport
from estimator.estimate import Estimate, estimate
from estimator.query import Query
from estimator.spec import ModelSpec
from tests.helpers import messages

CONFIG = Path(__file__).resolve().parents[1] / "fixtures" / "calibration2" / "configs" / "qwen3_5_27b.json"
# Qwen3.5-27B's vocabulary (config.json text_config.vocab_size), as the sampler warm-up sizes its rows.
VOCAB = 248_320


def spec() -> ModelSpec:
    return load_model_spec(json.loads(CONFIG.read_text()))


def ask(**update: object) -> Estimate:
    q = Query(model="q", seq_len=96_000, batch=3, engine="vllm", vllm="0.34", gpu="h100").model_copy(update=update)
    return estimate(spec(), q, model_id="q")


def vllm_of(est: Estimate) -> VllmReport:
    assert isinstance(est.engine_report, VllmReport)
    return est.engine_report


def test_the_largest_halving_that_holds_the_requests_is_offered() -> None:
    short = ask()
    v = vllm_of(short)
    assert short.fit is not None and not short.fit.fits
    assert v.max_num_seqs == 1024 and v.max_resident < 3  # H100's default rows; 2.94 of the 3
    assert v.seqs_to_fit == 512
    line = report.verdict(short)
    # prefix=off alone fits too (one state page per request instead of two): vllm.settings_to_fit.
    assert line.endswith("; use seqs=512, or prefix=off, or b=2, or gpus=2"), line
    # Asked again with it, the same three requests fit.
    fixed = ask(max_num_seqs=512)
    assert fixed.fit is not None and fixed.fit.fits and vllm_of(fixed).max_resident >= 3
    assert "fits one" in report.verdict(fixed)
    # Half the rows take at least half the warm-up's logits off the peak (14 B a logit: 2 B of
    # logits, 12 B of the second pass), and the pool gains at least that.
    rows = 512 * VOCAB * 14
    assert vllm_of(short).activation_peak - vllm_of(fixed).activation_peak >= rows
    assert vllm_of(fixed).kv_cache_memory - v.kv_cache_memory >= rows
    # The note names the same value as the verdict.
    assert any("seqs=512, which still runs the b=3 at once" in m for m in messages(short)), messages(short)


def test_no_seqs_where_it_fits_or_where_fewer_rows_would_queue_requests() -> None:
    assert vllm_of(ask(seq_len=64_000)).seqs_to_fit is None  # fits already
    # b above max_num_seqs: the rest wait already; fewer rows would only queue more.
    queued = ask(batch=40, max_num_seqs=16)
    assert queued.fit is not None and not queued.fit.fits and vllm_of(queued).max_resident < 16
    assert vllm_of(queued).seqs_to_fit is None
    line = report.verdict(queued)
    assert "use seqs=" not in line and "or seqs=" not in line, line
    # kvmem= gives the pool whatever the rows: no seqs to offer.
    assert vllm_of(ask(kv_cache_memory=16 * 2**30)).seqs_to_fit is None


def test_json_carries_seqs_to_fit() -> None:
    data = json.loads(json.dumps(report.estimate_json(ask())))
    assert data["vllm"]["seqs_to_fit"] == 512
    assert json.loads(json.dumps(report.estimate_json(ask(seq_len=64_000))))["vllm"]["seqs_to_fit"] is None


def test_the_offer_fits_by_the_verdicts_whole_rule() -> None:
    # gemma-3-4b-it on two L4s (0.26) at 32k x 25: at seqs=128 the pool would hold the 25 requests,
    # but the CUDA context beside util's share leaves no room on the device; 64 is the one to offer.
    gemma = load_model_spec(
        json.loads(
            (Path(__file__).resolve().parents[1] / "fixtures" / "configs" / "google__gemma-3-4b-it.json").read_text()
        )
    )

    def at(**kw: object) -> Estimate:
        q = Query(model="g", seq_len=32_768, batch=25, engine="vllm", vllm="0.26", gpu="l4", gpus=2)
        return estimate(gemma, q.model_copy(update=kw), model_id="g")

    short = at()
    assert vllm_of(short).seqs_to_fit == 64
    for seqs, fits in ((128, False), (64, True)):
        est = at(max_num_seqs=seqs)
        assert est.fit is not None and est.fit.fits is fits, (seqs, report.verdict(est))
    assert vllm_of(at(max_num_seqs=128)).max_resident >= 25  # the pool alone would have held them
