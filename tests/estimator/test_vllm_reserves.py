"""With engine=vllm the verdict's total is what the rows need, not what the GPU will show in use:
vLLM takes gpu_memory_utilization x the device at start-up (its KV pool grows into whatever the rest
leaves), plus the CUDA context beside that share. The verdict says so."""

from __future__ import annotations

import json
from pathlib import Path

from bot import report
from estimator.config import load_model_spec
from estimator.engines.vllm import VllmReport
from estimator.estimate import estimate
from estimator.query import Query

CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
H100 = 85_030_617_088  # bytes CUDA reports for an H100 80GB HBM3 (the catalog's h100-80gb)
GIB = 1 << 30


def test_the_fit_says_what_vllm_reserves() -> None:
    spec = load_model_spec(json.loads((CONFIGS / "Qwen__Qwen3-8B.json").read_text()))
    est = estimate(spec, Query(engine="vllm", gpu="h100", seq_len=32768, batch=8), model_id="m")
    v = est.engine_report
    assert isinstance(v, VllmReport) and est.fit is not None and est.fit.fits
    # 0.92 x 85,030,617,088 = 78,228,167,721 bytes (72.86 GiB) of the device, and the CUDA context the
    # answer's vLLM line shows beside it (0.51 GiB): 73.37 GiB, far above the 55.7 GiB total.
    assert v.requested_memory == int(0.92 * H100)
    verdict = report.verdict(est)
    assert verdict.startswith("Total 55.7 GiB: fits one NVIDIA H100 80GB HBM3 (SXM5) (vLLM reserves 73.4 GiB): ")
    # headroom is what the pool keeps beyond the 8 requests (less its null block), not free memory.
    assert est.fit.headroom < (H100 - est.memory.total)
