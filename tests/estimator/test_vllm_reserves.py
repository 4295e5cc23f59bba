"""With engine=vllm the verdict's total is what the rows need, not what the GPU will show in use:
vLLM takes gpu_memory_utilization x the device at start-up (its KV pool grows into whatever the rest
leaves), plus the CUDA context beside that share. The verdict says so."""

from __future__ import annotations

import json
import math
from pathlib import Path

from bot import report
from estimator.config import load_model_spec
from estimator.engines.vllm import VllmReport
from estimator.estimate import estimate
from estimator.query import Query

CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
H100 = 85_030_617_088  # bytes CUDA reports for an H100 80GB HBM3 (the catalog's h100-80gb)
L40S = 47_803_531_264  # bytes CUDA reports for an L40S 48GB (the catalog's l40s)
GIB = 1 << 30


def test_the_fit_says_what_vllm_reserves() -> None:
    spec = load_model_spec(json.loads((CONFIGS / "Qwen__Qwen3-8B.json").read_text()))
    est = estimate(spec, Query(engine="vllm", gpu="h100", seq_len=32768, batch=8, vllm="0.33"), model_id="m")
    v = est.engine_report
    assert isinstance(v, VllmReport) and est.fit is not None and est.fit.fits
    # 0.92 x 85,030,617,088 = 78,228,167,721 bytes (72.86 GiB) of the device, and the CUDA context the
    # answer's vLLM line shows beside it (0.51 GiB): 73.37 GiB, far above the 55.7 GiB total.
    # vLLM rounds up (v1/worker/utils.py request_memory: math.ceil): 78,228,167,720.96 -> ...721.
    assert v.requested_memory == 78_228_167_721
    verdict = report.verdict(est)
    assert verdict.startswith("Total 55.7 GiB: fits one NVIDIA H100 80GB HBM3 (SXM5) (vLLM reserves 73.4 GiB): ")
    # headroom is what the pool keeps beyond the 8 requests (less its null block), not free memory.
    assert est.fit.headroom < (H100 - est.memory.total)


def test_vllm_034_holds_the_device_less_the_margin_it_keeps_free() -> None:
    # 0.34's extensible KV cache grows into what is free after CUDA-graph capture, keeping a margin of
    # max(1 GiB, 0.75 x the transient peak) free (v1/worker/extensible_kv_cache.py@v0.34.0): at its
    # default util 1.0 vLLM holds the device less that margin, not util x the device plus the context.
    spec = load_model_spec(json.loads((CONFIGS / "Qwen__Qwen3-8B.json").read_text()))
    est = estimate(spec, Query(engine="vllm", gpu="h100", seq_len=32768, batch=8, vllm="0.34"), model_id="m")
    v = est.engine_report
    assert isinstance(v, VllmReport) and v.kv_sizing == "extensible" and est.fit is not None and est.fit.fits
    assert v.kv_margin == max(GIB, int(0.75 * v.transient_reserve))
    held = H100 - v.kv_margin
    assert held < H100
    assert f"(vLLM reserves {held / GIB:.1f} GiB)" in report.verdict(est)
    # An explicit util caps it: util x the device (ceil), the CUDA context beside that share.
    capped = estimate(
        spec,
        Query(engine="vllm", gpu="h100", seq_len=32768, batch=8, vllm="0.34", util=0.8),
        model_id="m",
    )
    c = capped.engine_report
    assert isinstance(c, VllmReport) and c.cuda_context > 0
    assert f"(vLLM reserves {(math.ceil(0.8 * H100) + c.cuda_context) / GIB:.1f} GiB)" in report.verdict(capped)


def test_what_vllm_reserves_is_never_more_than_the_device() -> None:
    # util=0.98 at TP 2 on an L40S: ceil(0.98 x 47,803,531,264) = 46,847,460,639 B passes vLLM's start
    # check (over PCIe it counts the 0.51 GiB context alone), and vram's CUDA context with tensor
    # parallelism (0.51 GiB + about 1 GiB of NCCL set-up) beside it would pass the device. The fit
    # takes the device as the limit (usable_bytes); so does the verdict's "reserves".
    spec = load_model_spec(json.loads((CONFIGS / "Qwen__Qwen3-8B.json").read_text()))
    query = Query(engine="vllm", gpu="l40s", seq_len=32768, batch=4, gpus=2, util=0.98, vllm="0.33")
    est = estimate(spec, query, model_id="m")
    v = est.engine_report
    assert isinstance(v, VllmReport) and est.fit is not None and est.fit.fits
    assert v.requested_memory == math.ceil(0.98 * L40S) == 46_847_460_639
    assert v.requested_memory + v.cuda_context > L40S
    assert f"(vLLM reserves {L40S / GIB:.1f} GiB per GPU)" in report.verdict(est)


def test_weights_past_the_share_are_named_as_the_cause() -> None:
    # Qwen3-8B in bf16 on an H100 at util 0.15: its 15.27 GiB of weights pass 0.15 x 79.19 GiB,
    # so the verdict names the weights, not "the weights and activations".
    spec = load_model_spec(json.loads((CONFIGS / "Qwen__Qwen3-8B.json").read_text()))
    est = estimate(spec, Query(engine="vllm", gpu="h100", seq_len=4096, util=0.15, vllm="0.33"), model_id="m")
    v = est.engine_report
    assert isinstance(v, VllmReport) and v.kv_cache_memory <= 0
    assert v.weights > v.requested_memory == math.ceil(0.15 * H100)
    verdict = report.verdict(est)
    assert f"the weights alone take {v.weights / GIB:.1f} GiB, more than util=0.15 x the device" in verdict
    assert f"({math.ceil(0.15 * H100) / GIB:.1f} GiB)" in verdict
