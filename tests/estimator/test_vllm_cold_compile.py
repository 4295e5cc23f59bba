"""The cold torch.compile caveat: vram answers a start whose compile cache is warm; from 0.27 a first
start's compile counts toward the profiled activation peak (vllm-project/vllm#54122), about 1 GiB in
the published 8B cold / warm pairs (calibration2 n055: 0.99 GiB; n066 / n067: 1.13 GiB). Where the b
requests fit the warm pool but not one that much smaller, the answer says so."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from estimator.config import load_model_spec
from estimator.engines.vllm import VllmReport
from estimator.estimate import estimate
from estimator.query import Query
from estimator.result import Estimate

CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
GIB = 1 << 30


def _estimate(**query: object) -> Estimate:
    spec = load_model_spec(json.loads((CONFIGS / "Qwen__Qwen3-8B.json").read_text()))
    q = Query(model="m", engine="vllm", gpu="rtx4090", seq_len=16384, **query)  # type: ignore[arg-type]
    return estimate(spec, q, model_id="m")


def _cold(est: Estimate) -> list[str]:
    return [w.message for w in est.warnings if w.code == "cold_compile"]


@pytest.mark.parametrize("batch", [1, 2])
def test_a_batch_only_the_warm_pool_holds_is_flagged_at_0_31(batch: int) -> None:
    est = _estimate(batch=batch, vllm="0.31")
    v = est.engine_report
    assert isinstance(v, VllmReport) and v.max_resident >= batch
    # The same pool less 1 GiB, the requests scaling with its bytes.
    smaller = v.max_resident * (v.kv_cache_memory - GIB) / v.kv_cache_memory
    assert bool(_cold(est)) == (smaller < batch), (v.max_resident, smaller)
    if smaller < batch:
        # Rounded down: "about 2.0 of the 2 requests" would read as room for them all.
        assert f"about {math.floor(smaller * 100) / 100:.2f} of the {batch} requests" in _cold(est)[0]


def test_the_note_is_raised_somewhere_near_the_edge() -> None:
    # Qwen3-8B on a 24 GB card at 16k: the warm pool holds 2.27 requests (36 layers x 8 KV heads x 128
    # x 2 x 2 B = 144 KiB a token, 2.25 GiB a request): b=2 fits it with 0.6 GiB to spare, less than 1 GiB.
    est = _estimate(batch=2, vllm="0.31")
    assert est.fit is not None and est.fit.fits and _cold(est)


def test_no_note_with_eager_or_before_0_27_or_when_it_does_not_fit() -> None:
    assert not _cold(_estimate(batch=2, vllm="0.31", enforce_eager=True))  # nothing is compiled
    assert not _cold(_estimate(batch=2, vllm="0.26"))  # the peak is the torch peak of the profile run
    assert not _cold(_estimate(batch=3, vllm="0.31"))  # the verdict already says it does not fit


def test_0_34_widens_its_margin_with_the_cold_peak() -> None:
    est = _estimate(batch=2, vllm="0.34")
    v = est.engine_report
    assert isinstance(v, VllmReport) and v.kv_sizing == "extensible"
    if v.max_resident < 2:
        pytest.skip("0.34's warm pool does not hold b=2 here")
    # margin = max(1 GiB, int(0.75 x transient peak)) (v1/worker/extensible_kv_cache.py@v0.34.0): a
    # transient peak 1 GiB higher takes 1 GiB more and widens the margin by what 0.75 x it adds.
    widened = max(GIB, int(0.75 * (v.transient_reserve + GIB)))
    loss = GIB + widened - v.kv_margin
    smaller = v.max_resident * (v.kv_cache_memory - loss) / v.kv_cache_memory
    assert bool(_cold(est)) == (smaller < 2)
    if smaller < 2:
        assert "widens its margin" in _cold(est)[0]


def test_a_pool_given_by_kvmem_has_no_first_start_caveat() -> None:
    # kvmem= fixes the pool: a first start's larger profiled peak does not shrink it. The batch that
    # 0.31's profiled pool holds only warm (above) gets a plain verdict with a pool given.
    warm = _estimate(batch=2, vllm="0.31")
    assert _cold(warm)
    v = warm.engine_report
    assert isinstance(v, VllmReport)
    given = _estimate(batch=2, vllm="0.31", kv_cache_memory=v.kv_cache_memory)
    assert isinstance(given.engine_report, VllmReport) and given.engine_report.kv_sizing == "fixed"
    assert not _cold(given)
    assert given.fit is not None and given.fit.fits
