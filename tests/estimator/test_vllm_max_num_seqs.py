"""vLLM runs at most max_num_seqs requests at once (its scheduler admits no more into RUNNING,
v1/core/sched/scheduler.py@v0.33.0), whatever its KV pool holds; the rest of b wait in its queue,
holding no KV blocks. So the largest batch, "how many users" and the fit count min(pool, max_num_seqs).

Expected figures are hand arithmetic from the configs (Qwen3-8B: 36 layers, 8 KV heads of 128, bf16;
Qwen3-0.6B: 28 layers, 8 KV heads of 128) and the batch tiers of engine/arg_utils.py@v0.33.0
(get_batch_defaults: an H100 serves with max_num_seqs 1,024, an L4 with 256).
"""

from __future__ import annotations

import json
from pathlib import Path

from bot import report
from bot.ask import headline
from bot.question import read_question
from estimator.config import load_model_spec
from estimator.engines.vllm import ENGINE, VllmReport
from estimator.estimate import estimate
from estimator.query import Query
from estimator.result import Estimate

CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
QWEN8B = CONFIGS / "Qwen__Qwen3-8B.json"
KV_PER_TOKEN_8B = 36 * 8 * 128 * 2 * 2  # 144 KiB: layers x KV heads x head_dim x (K, V) x bf16


def _estimate(path: Path, **query: object) -> Estimate:
    spec = load_model_spec(json.loads(path.read_text()))
    # 0.33's rules: the KV row is whole blocks alone (0.34 adds its granule rounding, tested apart).
    query = {"vllm": "0.33", **query}
    return estimate(spec, Query(model="m", engine="vllm", **query), model_id="m")  # type: ignore[arg-type]


def test_seqs_caps_the_largest_batch_where_the_pool_holds_more() -> None:
    # 16 x 8,192 tokens x 144 KiB = 18 GiB of KV beside 15.3 GiB of weights: an H100's pool at
    # util 0.92 (72.9 GiB less those) holds about 50, yet vLLM runs 16 at once.
    est = _estimate(QWEN8B, seq_len=8192, gpu="h100", max_num_seqs=16)
    assert est.fit is not None and est.fit.fits
    v = est.engine_report
    assert isinstance(v, VllmReport) and v.max_resident > 40
    assert est.fit.max_batch == 16
    assert est.fit.max_batch_bound == "max_num_seqs"
    assert est.to_json()["fit"]["max_batch_bound"] == "max_num_seqs"
    line = report.max_line(est)
    assert line is not None and "b=16 at s=8,192" in line and "max_num_seqs 16" in line
    # "room for ~50 requests" is the pool's; vLLM runs 16 of them at once.
    summary = ENGINE.summary_line(est, report.same)
    assert summary is not None and "of which vLLM runs 16 at once (seqs=16)" in summary, summary


def test_how_many_users_says_seqs_binds() -> None:
    question = read_question(f"how many users can {QWEN8B} serve at 8k on an H100 with vllm 0.33 --max-num-seqs 16")
    est = estimate(load_model_spec(json.loads(QWEN8B.read_text())), question.command(None).query, model_id="m")
    answer = headline(est, question)
    assert ": 16 (seqs=16 binds" in answer, answer
    assert "room for 50." in answer  # the pool's own figure, which seqs= does not reach


def test_a_batch_past_seqs_waits_and_fits_when_the_pool_holds_those_run() -> None:
    # b=64 with seqs=16: 16 run, 48 wait. The pool holds about 50, so it fits; the KV row is the 16's.
    est = _estimate(QWEN8B, seq_len=8192, batch=64, gpu="h100", max_num_seqs=16)
    assert est.fit is not None and est.fit.fits
    assert est.memory.kv_cache == KV_PER_TOKEN_8B * 8192 * 16  # 8,192 is whole blocks of 16
    assert est.details.running_batch == 16
    verdict = report.verdict(est)
    assert "fits" in verdict and "48 wait" in verdict and "use b=" not in verdict, verdict
    kv_row = next(why for name, _, why in report.breakdown(est) if name == "KV cache")
    assert "x 16 sequences (the 16 of b=64 run at once" in kv_row


def test_a_batch_past_seqs_that_the_pool_cannot_run_suggests_what_it_can() -> None:
    # An L4 (22.0 GiB device, 20.2 at util 0.92) less 15.3 GiB of weights leaves ~4.4 GiB: 4.4 GiB /
    # (8,192 x 144 KiB = 1.125 GiB) = 3.9 requests. The pool binds: b=3, which then all run.
    est = _estimate(QWEN8B, seq_len=8192, batch=64, gpu="l4", max_num_seqs=16)
    assert est.fit is not None and not est.fit.fits
    assert est.fit.max_batch == 3 and est.fit.max_batch_bound == "memory"
    verdict = report.verdict(est)
    assert "of the 16 requests of 8,192 tokens vLLM runs at once" in verdict and "use b=3" in verdict, verdict


def test_the_default_max_num_seqs_caps_it_too() -> None:
    # Qwen3-0.6B at 256 tokens: 28 x 8 x 128 x 4 = 112 KiB a token, 28 MiB a request; an H100's
    # pool of ~68 GiB holds ~2,400 of them, past the 1,024 vLLM 0.33 serves at once on it.
    est = _estimate(CONFIGS / "Qwen__Qwen3-0.6B.json", seq_len=256, gpu="h100")
    assert est.fit is not None
    v = est.engine_report
    assert isinstance(v, VllmReport) and v.max_resident > 2000
    assert est.fit.max_batch == 1024 and est.fit.max_batch_bound == "max_num_seqs"


def test_each_data_parallel_replica_runs_its_own_max_num_seqs() -> None:
    # dp=2: each replica gets 32 of b=64 and runs 16; the largest batch is 2 x 16.
    est = _estimate(QWEN8B, seq_len=8192, batch=64, gpu="h100", max_num_seqs=16, dp=2)
    assert est.fit is not None and est.fit.fits
    assert est.fit.max_batch == 32 and est.fit.max_batch_bound == "max_num_seqs"
    assert est.memory.kv_cache == KV_PER_TOKEN_8B * 8192 * 16


QWEN06B = CONFIGS / "Qwen__Qwen3-0.6B.json"


def test_seqs_above_the_batch_is_refused_as_vllm_refuses_it() -> None:
    # config/scheduler.py (0.19-0.34): "max_num_batched_tokens (128) must be greater than or equal to
    # max_num_seqs (512)" when --max-num-seqs is given; only an unset max_num_seqs is lowered to it.
    est = _estimate(QWEN06B, gpu="l4", max_num_batched_tokens=128, max_num_seqs=512)
    assert est.fit is not None and not est.fit.fits
    assert est.fit.engine_refuses == (
        "vLLM will not start with seqs=512: max_num_batched_tokens (128, as mnbt=128) must be at least "
        "max_num_seqs; use seqs=128, or mnbt=512"
    )
    # Either way out starts.
    for fix in ({"max_num_seqs": 128}, {"max_num_batched_tokens": 512}):
        ok = _estimate(QWEN06B, gpu="l4", **{"max_num_batched_tokens": 128, "max_num_seqs": 512, **fix})
        assert ok.fit is not None and ok.fit.engine_refuses is None, fix
    # The default batch of an L4 under vllm serve is 2,048 tokens: seqs=4096 is refused there; with
    # no GPU named the tier is not known, so no refusal.
    est = _estimate(QWEN06B, gpu="l4", max_num_seqs=4096)
    assert est.fit is not None and est.fit.engine_refuses is not None
    assert "(2,048, its default here)" in est.fit.engine_refuses
    assert (
        ENGINE.refusal(
            load_model_spec(json.loads(QWEN06B.read_text())), Query(model="m", engine="vllm", max_num_seqs=4096)
        )
        is None
    )
    # An unset max_num_seqs is lowered to a small batch: the requests past it wait, and the way to run
    # them together is a larger batch (seqs= above it would be refused).
    est = _estimate(QWEN06B, gpu="l4", max_num_batched_tokens=128, batch=300)
    queued = [w.message for w in est.warnings if w.code == "batch_queued"]
    assert queued and queued[0].endswith(
        "(its default max_num_seqs, no more than max_num_batched_tokens 128); 172 wait; "
        "raise mnbt= to run them together."
    )


def test_the_default_batch_is_no_more_than_seqs_requests_of_max_model_len() -> None:
    # engine/arg_utils.py (0.19-0.34): an unset max_num_batched_tokens is min(max_num_seqs x
    # max_model_len, the tier's); an H100 serves with 8,192, so one sequence of 1,024 tokens gets 1,024.
    from estimator.engines.vllm import batch_defaults

    h100 = Query(model="m", engine="vllm", gpu="h100", vllm="0.33")
    assert batch_defaults(h100.model_copy(update={"seq_len": 4096}), _gpu("h100")) == (8192, 1024)
    assert batch_defaults(h100.model_copy(update={"seq_len": 1024, "max_num_seqs": 1}), _gpu("h100")) == (1024, 1)
    assert batch_defaults(h100.model_copy(update={"seq_len": 1024, "max_num_seqs": 4}), _gpu("h100")) == (4096, 4)
    # Given, it stays as given.
    given = h100.model_copy(update={"seq_len": 1024, "max_num_seqs": 1, "max_num_batched_tokens": 8192})
    assert batch_defaults(given, _gpu("h100")) == (8192, 1)


def _gpu(key: str):
    from estimator.gpus import lookup_gpu

    return lookup_gpu(key)


def test_prefix_off_and_a_smaller_batch_are_offered_where_they_alone_fit() -> None:
    # Qwen3.5-27B at 32k x 8 on one H100 (0.34): prefix caching's align mode keeps two state pages per
    # request; with one the pool holds the 8. gemma-4-31B-it text only at 64k x 8 on 2 H100: the sliding layers
    # reserve two batches of 8,192 tokens each; at mnbt=2048 the pool holds the 8. Each typed back fits.
    cal = CONFIGS.parent / "calibration2" / "configs"
    for path, query, fix in (
        (cal / "qwen3_5_27b.json", {"seq_len": 32768, "batch": 8, "gpu": "h100"}, "prefix=off"),
        # Text only (mm=0): with its tower, Gemma 4 prefills a video of 2,496 tokens whole, and a batch
        # of 2,048 would not start (test_a_prefix_lm_batch_holds_its_largest_item).
        (
            cal / "gemma4_31b_it.json",
            {"seq_len": 65536, "batch": 8, "gpu": "h100", "gpus": 2, "mm_limit": 0},
            "mnbt=2048",
        ),
    ):
        est = _estimate(path, vllm="0.34", **query)
        v = est.engine_report
        assert isinstance(v, VllmReport) and est.fit is not None and not est.fit.fits
        assert fix in v.settings_to_fit, path.name
        line = report.verdict(est)
        assert f", or {fix}," in line or f"use {fix}," in line, line
        key, value = fix.split("=")
        update = {"prefix_caching": False} if key == "prefix" else {"max_num_batched_tokens": int(value)}
        again = _estimate(path, vllm="0.34", **query, **update)
        assert again.fit is not None and again.fit.fits, fix
        assert isinstance(again.engine_report, VllmReport) and again.engine_report.settings_to_fit == ()


def test_a_prefix_lm_batch_holds_its_largest_item() -> None:
    # Gemma 4 (use_bidirectional_attention "vision") prefills an image or video whole: its largest item,
    # a video of 32 frames x (70 + 2 + 6) tokens = 2,496 (models/gemma4_mm.py), must fit the batch.
    # mnbt=2048 is refused; the default batch is raised to it from 0.22, refused on an A100 before.
    gemma = CONFIGS.parent / "calibration2" / "configs" / "gemma4_31b_it.json"
    spec = load_model_spec(json.loads(gemma.read_text()))
    assert spec.vision is not None and spec.vision.prefix_item_tokens == 2_496
    q = Query(model="m", engine="vllm", gpu="h100", gpus=2, seq_len=65_536, batch=8)
    refused = ENGINE.refusal(spec, q.model_copy(update={"max_num_batched_tokens": 2048}))
    assert refused is not None and "up to 2,496 tokens; use mnbt=2496, or mm=0 for text only" in refused
    assert ENGINE.refusal(spec, q.model_copy(update={"max_num_batched_tokens": 2496})) is None
    assert ENGINE.refusal(spec, q.model_copy(update={"max_num_batched_tokens": 2048, "mm_limit": 0})) is None
    a100 = Query(model="m", engine="vllm", gpu="a100", seq_len=8192)
    assert "2,048 (its default here):" in (ENGINE.refusal(spec, a100.model_copy(update={"vllm": "0.21"})) or "")
    assert ENGINE.refusal(spec, a100.model_copy(update={"vllm": "0.22"})) is None
    # The raised default is what the profile sizes: the A100's tier batch of 2,048 becomes 2,496 from
    # 0.22, and stays 2,048 on 0.21 and for a text-only start (no item to hold).
    from estimator.engines.vllm import served_batch

    assert served_batch(spec, a100.model_copy(update={"vllm": "0.22"}), _gpu("a100")) == (2_496, 256)
    assert served_batch(spec, a100.model_copy(update={"vllm": "0.34"}), _gpu("a100")) == (2_496, 256)
    assert served_batch(spec, a100.model_copy(update={"vllm": "0.21"}), _gpu("a100")) == (2_048, 256)
    assert served_batch(spec, a100.model_copy(update={"vllm": "0.34", "mm_limit": 0}), _gpu("a100")) == (2_048, 256)
    # The raise comes before the cap at max_num_seqs x max_model_len: one request of 2,048 tokens batches
    # 2,048, below the video, and vLLM's encoder budget stops it.
    one = a100.model_copy(update={"vllm": "0.34", "max_num_seqs": 1, "seq_len": 2048})
    assert served_batch(spec, one, _gpu("a100")) == (2_048, 1)
    assert "2,048 (the default, at most seqs x s):" in (ENGINE.refusal(spec, one) or "")
    assert ENGINE.refusal(spec, one.model_copy(update={"max_num_seqs": 2})) is None
    # The smaller batch is not offered where it would not start.
    est = _estimate(gemma, vllm="0.34", **{"seq_len": 65536, "batch": 8, "gpu": "h100", "gpus": 2})
    assert isinstance(est.engine_report, VllmReport) and "mnbt=2048" not in est.engine_report.settings_to_fit


def test_an_explicit_seqs_is_never_lowered_and_the_queue_note_names_what_binds() -> None:
    # At s=1 the default batch (min(256 x 1, 2,048) on an A100) lowers nothing: max_num_seqs 256 is the
    # tier's own, so the note says to raise seqs=, not mnbt=.
    qwen15 = CONFIGS.parent / "calibration2" / "configs" / "qwen2_5_1_5b_instruct.json"
    est = _estimate(qwen15, gpu="a100", batch=300, seq_len=1)
    [queued] = [w.message for w in est.warnings if w.code == "batch_queued"]
    assert queued.endswith("(its default max_num_seqs); 44 wait; raise seqs= to run them together.")
    # No GPU named: seqs=20,000 is above every tier's batch (16,384 at most), so no GPU starts it.
    spec = load_model_spec(json.loads(qwen15.read_text()))
    q = Query(model="m", engine="vllm", vllm="0.33", max_num_seqs=20_000)
    assert (ENGINE.refusal(spec, q) or "").startswith("vLLM will not start with seqs=20,000:")
    assert ENGINE.refusal(spec, q.model_copy(update={"max_num_seqs": 512})) is None
    # An explicit seqs stays as given in the batch defaults (vLLM refuses it above the batch, never lowers it).
    from estimator.engines.vllm import batch_defaults

    assert batch_defaults(q.model_copy(update={"max_num_batched_tokens": 128, "max_num_seqs": 512}), None) == (128, 512)
