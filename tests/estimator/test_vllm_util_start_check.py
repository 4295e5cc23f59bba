"""vLLM's start check on util (v1/worker/utils.py request_memory, 0.20.0-0.33.0 wheels): it refuses to
start when util x the device is more than is free at its first snapshot, taken after NCCL's set-up:
the device less the CUDA context, and with TP on NVSwitch-joined GPUs NCCL's NVLS buffers. 0.34's
extensible KV cache skips the check (util only caps the cache)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from estimator.config import load_model_spec
from estimator.engines.vllm import query_constants
from estimator.estimate import estimate
from estimator.gpus import lookup_gpu
from estimator.query import Query

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
QWEN3_8B = load_model_spec(json.loads((FIXTURES / "Qwen__Qwen3-8B.json").read_text()))


def _start_error(**query: object) -> str | None:
    est = estimate(QWEN3_8B, Query(engine="vllm", gpu="h100", **query), model_id="m")  # type: ignore[arg-type]
    assert est.engine_report is not None and est.fit is not None
    assert est.fit.fits is (est.engine_report.start_error is None)
    return est.engine_report.start_error


def test_util_past_what_is_free_at_start_is_refused() -> None:
    total = lookup_gpu("h100").memory_bytes
    free = total - query_constants(Query(engine="vllm", vllm="0.30")).cuda_context
    # ceil(util x total) against the free memory: 0.99 fits beside the context, 1.0 does not.
    assert math.ceil(total * 0.99) <= free < total
    for release in ("0.19", "0.30", "0.33"):
        assert _start_error(vllm=release, util=0.99) is None
        error = _start_error(vllm=release, util=1.0)
        assert error is not None and "less than desired GPU memory utilization" in error and "util=0.99" in error


def test_the_extensible_cache_takes_util_as_a_cap() -> None:
    assert _start_error(vllm="0.34", util=1.0) is None


def test_tensor_parallelism_starts_as_logged() -> None:
    # 2 x RTX 3090 at util 0.95 start (club-3090's dual composes, calibration2): over PCIe NCCL's
    # buffers are small, so the check counts the CUDA context alone.
    est = estimate(QWEN3_8B, Query(engine="vllm", gpu="rtx-3090", gpus=2, util=0.95, vllm="0.30"), model_id="m")
    assert est.engine_report is not None and est.engine_report.start_error is None


def test_on_nvswitch_gpus_the_check_counts_nccls_buffers() -> None:
    # The calibration's v0.19 DEBUG logs of H100 SXM at TP 2 (case027, case052): "initial free"
    # 77.66 GiB of 79.19 at the snapshot, 1.53 GiB in use, against 0.51 GiB at TP 1. util=0.99 asks
    # ceil(0.99 x 79.19 GiB) = 78.40 GiB, more than that: refused; 0.98 (77.61 GiB) starts.
    total = lookup_gpu("h100").memory_bytes
    logged_free = round(77.66 * 2**30)
    assert math.ceil(total * 0.99) > logged_free >= math.ceil(total * 0.98)
    error = _start_error(vllm="0.30", util=0.99, gpus=2)
    assert error is not None and "use util=0.98 or less" in error
    assert "NCCL's NVSwitch buffers (1.55 GiB)" in error
    assert _start_error(vllm="0.30", util=0.98, gpus=2) is None
    assert _start_error(vllm="0.30", util=0.99) is None  # one GPU: no communicator


def test_the_fewest_gpus_are_sized_at_the_largest_util_that_starts() -> None:
    # Qwen2.5-32B on L4s at util=1 (0.33): refused at start on any layout; the fewest layout is the
    # one util=0.97 (the largest that starts) takes, as asking with util=0.97 gives.
    spec = load_model_spec(json.loads((FIXTURES / "Qwen__Qwen2.5-32B.json").read_text()))
    refused = estimate(spec, Query(engine="vllm", gpu="l4", vllm="0.33", util=1.0), model_id="m")
    lowered = estimate(spec, Query(engine="vllm", gpu="l4", vllm="0.33", util=0.97), model_id="m")
    assert refused.fit is not None and lowered.fit is not None and not refused.fit.fits
    assert refused.engine_report is not None and "use util=0.97 or less" in (refused.engine_report.start_error or "")
    assert (refused.fit.min_gpus, refused.fit.min_gpus_dp) == (lowered.fit.min_gpus, lowered.fit.min_gpus_dp)
    assert lowered.fit.min_gpus > 1


def test_the_refusal_with_tp_names_nccls_buffers_and_that_fewer_gpus_are_enough() -> None:
    # Qwen3-8B on two H100s at util=1 (0.33): refused at start beside the 1.55 GiB in use after NCCL's
    # set-up; one H100 at util=0.99 holds the request, so the verdict says fewer GPUs are enough
    # rather than "it takes gpus=1".
    from bot import report

    est = estimate(QWEN3_8B, Query(engine="vllm", gpu="h100", gpus=2, util=1.0, vllm="0.33"), model_id="m")
    assert est.fit is not None and not est.fit.fits and est.fit.min_gpus == 1
    verdict = report.verdict(est)
    assert "beside the CUDA context and NCCL's NVSwitch buffers (1.55 GiB)" in verdict
    # One GPU needs no NCCL: util=0.99 starts it.
    assert verdict.endswith("use util=0.98 or less; at util=0.99 gpus=1 is enough")
    # Over PCIe (L40S) the buffers are small: the context alone.
    pcie = estimate(QWEN3_8B, Query(engine="vllm", gpu="l40s", gpus=2, util=1.0, vllm="0.33"), model_id="m")
    assert "(0.51 GiB; NCCL's buffers over PCIe are small)" in report.verdict(pcie)
    # One GPU asked: no NCCL clause.
    one = estimate(QWEN3_8B, Query(engine="vllm", gpu="h100", util=1.0, vllm="0.33"), model_id="m")
    assert "NCCL" not in report.verdict(one)


def test_the_fewest_layout_is_sized_at_a_util_that_starts_it() -> None:
    # Qwen2.5-32B at 32k x 8 on H100s, util=0.99 (0.33): one GPU starts but does not hold them; at TP 2
    # util=0.99 passes what is free after NCCL's set-up, so that layout is sized at 0.98, and the fix
    # says so (not "gpus=1 dp=8", the fewest at 0.99).
    from bot import report

    spec = load_model_spec(json.loads((FIXTURES / "Qwen__Qwen2.5-32B.json").read_text()))
    ask = Query(engine="vllm", gpu="h100", vllm="0.33", util=0.99, seq_len=32_768, batch=8)
    est = estimate(spec, ask, model_id="m")
    assert est.fit is not None and not est.fit.fits
    assert (est.fit.min_gpus, est.fit.min_gpus_dp, est.fit.min_gpus_util) == (2, 1, 0.98)
    assert report.verdict(est).endswith("or gpus=2 util=0.98")
    fixed = estimate(spec, ask.model_copy(update={"gpus": 2, "util": 0.98}), model_id="m")
    assert fixed.fit is not None and fixed.fit.fits
    refused = estimate(spec, ask.model_copy(update={"gpus": 2}), model_id="m")
    assert refused.fit is not None and not refused.fit.fits
    # Where the util asked starts the fewest layout, none is named.
    assert estimate(spec, ask.model_copy(update={"util": 0.9}), model_id="m").fit.min_gpus_util is None  # type: ignore[union-attr]
