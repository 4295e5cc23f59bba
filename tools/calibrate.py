"""The accuracy table: the estimator against real measured memory (``python -m tools.calibrate``).

A development tool: it reads the calibration set and configs from the checkout's tests/fixtures,
so it lives outside the installed packages.

Reads the calibration set (``tests/fixtures/calibration/measurements.json``: vLLM start-up logs and
transformers ``generate`` runs that other people measured and published), runs the estimator on
every case whose model config we hold (``tests/fixtures/configs``), and reports per case and in
summary: weights, activation peak, non-torch memory, KV pool, KV tokens and maximum concurrency
(vLLM), or the total (transformers), predicted against measured. It also refits the vLLM profile's
few global constants with each model family left out and reports the error on the family left out,
and shows what the classic formulas would have said.

    python -m tools.calibrate             # plain table
    python -m tools.calibrate --json      # everything, machine-readable
    python -m tools.calibrate --markdown  # the table for docs/accuracy.md
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any, Literal

from estimator.config import load_model_spec
from estimator.dtypes import resolve_dtypes
from estimator.engines import vllm
from estimator.engines.transformers import transformers_terms
from estimator.engines.vllm import VllmConstants
from estimator.gpus import GPU, lookup_gpu
from estimator.kv import kv_cache_bytes
from estimator.query import Query
from estimator.spec import DTYPE_BYTES, Frozen, ModelSpec, WeightFormat
from estimator.weights import weight_bytes

GiB = 1 << 30
MiB = 1 << 20
ROOT = Path(__file__).resolve().parent.parent
MEASUREMENTS = ROOT / "tests" / "fixtures" / "calibration" / "measurements.json"
CONFIGS = ROOT / "tests" / "fixtures" / "configs"
H100_BYTES = 85_030_617_088  # "79.19 GiB" in the logs: CUDA's total for an H100 80GB HBM3

# Accuracy targets. The test fails when the calibration set drops below them.
WEIGHTS_TOLERANCE = 0.01
KV_TOKENS_TOLERANCE = 0.05
KV_TOKENS_SHARE = 0.90
KV_POOL_MIN_BYTES = 8 * GiB
TRANSFORMERS_TOLERANCE = 0.10

# The config each calibration model is sized from. Instruct and base releases share every field we
# read; where they differ (a release's max_position_embeddings) the difference is below 0.1% of weights.
MODEL_CONFIGS: dict[str, str] = {
    "codellama/CodeLlama-7b-hf": "codellama__CodeLlama-7b-hf.json",
    "deepseek-ai/DeepSeek-V2-Lite-Chat": "deepseek-ai__DeepSeek-V2-Lite-Chat.json",
    "RedHatAI/Qwen2.5-7B-Instruct-fp8-dynamic": "RedHatAI__Qwen2.5-7B-Instruct-fp8-dynamic.json",
    "google/gemma-2-9b-it": "google__gemma-2-9b-it.json",
    "ibm-granite/granite-3.3-8b-instruct": "ibm-granite__granite-3.3-8b-instruct.json",
    "meta-llama/Llama-3.1-8B-Instruct": "meta-llama__Llama-3.1-8B.json",
    "meta-llama/Llama-3.2-1B": "meta-llama__Llama-3.2-1B.json",
    "mistralai/Mixtral-8x7B-Instruct-v0.1": "mistralai__Mixtral-8x7B-Instruct-v0.1.json",
    "openai/gpt-oss-20b": "openai__gpt-oss-20b.json",
    "Qwen/Qwen2.5-7B-Instruct": "Qwen__Qwen2.5-7B.json",
    "Qwen/Qwen3-8B": "Qwen__Qwen3-8B.json",
    "Qwen/Qwen3-0.6B": "Qwen__Qwen3-0.6B.json",
    "Qwen/Qwen3-4B": "Qwen__Qwen3-4B.json",
    "Qwen/Qwen3-8B-AWQ": "Qwen__Qwen3-8B-AWQ.json",
    "Qwen/Qwen3-30B-A3B": "Qwen__Qwen3-30B-A3B.json",
    "RedHatAI/Meta-Llama-3.1-8B-Instruct-quantized.w4a16": "RedHatAI__Meta-Llama-3.1-8B-Instruct-quantized.w4a16.json",
    "RedHatAI/Meta-Llama-3.1-8B-Instruct-quantized.w8a8": "RedHatAI__Meta-Llama-3.1-8B-Instruct-quantized.w8a8.json",
}

# vLLM's --dtype as logged -> our weight format when the checkpoint is not quantized.
_DTYPES: dict[str, WeightFormat] = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}


class CaseResult(Frozen):
    """One calibration case: what we predict next to what was measured (bytes; None = not logged)."""

    id: str
    model: str
    family: str
    engine: Literal["vllm", "transformers"]
    engine_version: str
    setting: str  # tp / dtype / kv / max_model_len, or the transformers workload
    source: str
    skipped: str | None = None  # why the case is not predicted
    weights: int | None = None
    weights_measured: int | None = None
    activation: int | None = None
    activation_measured: int | None = None
    non_torch: int | None = None
    non_torch_measured: int | None = None
    kv_pool: int | None = None
    kv_pool_measured: int | None = None
    kv_tokens: int | None = None
    kv_tokens_measured: int | None = None
    kv_tokens_from_measured_pool: int | None = None  # block arithmetic alone
    max_concurrency: float | None = None
    max_concurrency_measured: float | None = None
    classic_kv_tokens: int | None = None  # the classic formula's KV bytes per token on the measured pool
    total: int | None = None  # transformers: peak GPU memory, worst point of the workload
    total_measured: int | None = None
    total_points: tuple[tuple[int, int, int], ...] = ()  # (seq_len, predicted, measured)
    engine_total_longest: int | None = None  # transformers profile's full total at the longest point


def rel_err(predicted: float | None, measured: float | None) -> float | None:
    if predicted is None or measured is None or measured == 0:
        return None
    return (predicted - measured) / measured


# ---------------------------------------------------------------------------------------------
# Loading


@cache
def _spec(filename: str) -> ModelSpec:
    return load_model_spec(json.loads((CONFIGS / filename).read_text()))


def load_cases(path: Path = MEASUREMENTS) -> list[dict[str, Any]]:
    return json.loads(path.read_text())


def _gib(value: float | None) -> int | None:
    return None if value is None else round(value * GiB)


def _gpu_total(case: dict[str, Any]) -> int | None:
    total = case.get("gpu_total_gib")
    if total is not None and abs(total - 79.19) < 0.015:
        return H100_BYTES
    if total is not None:
        return _gib(total)
    m = case["measured"]
    if m.get("requested_memory_gib") and case.get("gpu_memory_utilization"):
        # Not logged: vLLM requested util x total, so total = requested / util.
        return round(m["requested_memory_gib"] / case["gpu_memory_utilization"] * GiB)
    return None


def _weight_format(case: dict[str, Any], spec: ModelSpec) -> WeightFormat | None:
    """None: the checkpoint's own format; else what vLLM was told (--dtype, online fp8)."""
    quant = (case.get("quant") or "").lower()
    if quant.startswith("fp8 (online"):
        return "fp8"
    if spec.quantization.method != "none":
        return None
    fmt = _DTYPES.get(case.get("dtype") or "")
    return None if fmt == spec.quantization.format else fmt


def _family(spec: ModelSpec) -> str:
    return spec.model_type


def constants_for_case(case: dict[str, Any], fitted: dict[str, VllmConstants]) -> VllmConstants:
    """The release's constants: v0.17+ (and dev builds that logged the same sampler) or legacy."""
    version = case["engine_version"]
    if "0.11" in version or "0.16" in version or "0.10." in version.split("(")[0]:
        return fitted["legacy"]
    return fitted["current"]


# ---------------------------------------------------------------------------------------------
# Predictions


def _vllm_query(case: dict[str, Any], spec: ModelSpec) -> Query:
    kv = "fp8" if case.get("kv_cache_dtype") == "fp8" else "auto"
    mml = case.get("max_model_len") or 8192
    return Query(
        engine="vllm",
        vllm="0.19",
        seq_len=mml,
        gpus=case.get("tp") or 1,
        util=case["gpu_memory_utilization"],
        kv=kv,
        weight_format=_weight_format(case, spec),
        gpu="h100-80gb",
        max_num_batched_tokens=case.get("max_num_batched_tokens"),
        max_num_seqs=case.get("max_num_seqs"),
    )


def _logged_gpu(query: Query, total: int) -> GPU:
    """The query's GPU record with the device total the log reports."""
    assert query.gpu is not None
    return lookup_gpu(query.gpu).model_copy(update={"memory_bytes": total})


def _classic_kv_per_token(spec: ModelSpec) -> int:
    """interface.md's classic KV term per token: 2 L (h/g) x 2 bytes with GQA, 2 L h x 2 without."""
    L, h, a, g = spec.num_layers, spec.hidden_size, spec.num_attention_heads, spec.num_kv_heads
    width = h / g if 0 < g != a else h
    return int(2 * L * width * 2)


def predict_vllm(case: dict[str, Any], constants: VllmConstants) -> CaseResult:
    m = case["measured"]
    spec = _spec(MODEL_CONFIGS[case["model"]])
    common = _common(case, spec, "vllm")
    if (case.get("pp") or 1) > 1:
        return CaseResult(**common, skipped="pipeline parallelism is not modelled")
    total = _gpu_total(case)
    if total is None:
        return CaseResult(**common, skipped="GPU total not logged")
    query = _vllm_query(case, spec)
    gpu = _logged_gpu(query, total)
    report = vllm.vllm_report(
        spec,
        query,
        weights_bytes=weight_bytes(spec, weight_format=query.weight_format, gpus=query.gpus),
        gpu=gpu,
        constants=constants,
    )
    pool_measured = _gib(m.get("available_kv_cache_gib"))
    batched, _ = vllm.served_batch(spec, query, gpu)
    from_measured = None
    if pool_measured is not None:
        from_measured = vllm.kv_capacity(spec, query, pool_measured, batched_tokens=batched)[1]
    conc = m.get("max_concurrency") or {}
    classic_tokens = None
    if pool_measured is not None:
        kv_bytes = DTYPE_BYTES["fp8" if query.kv == "fp8" else resolve_dtypes(spec, query).model]
        classic_tokens = int(pool_measured // (_classic_kv_per_token(spec) * kv_bytes // 2))
    return CaseResult(
        **common,
        weights=report.weights,
        weights_measured=_gib(m.get("weights_gib")),
        activation=report.activation_peak,
        activation_measured=_gib(m.get("torch_activation_peak_gib")),
        non_torch=report.non_torch,
        non_torch_measured=_gib(m.get("non_torch_forward_increase_gib")),
        kv_pool=report.kv_cache_memory,
        kv_pool_measured=pool_measured,
        kv_tokens=report.kv_cache_tokens,
        kv_tokens_measured=m.get("kv_cache_tokens"),
        kv_tokens_from_measured_pool=from_measured,
        max_concurrency=report.max_concurrency,
        max_concurrency_measured=conc.get("x"),
        classic_kv_tokens=classic_tokens,
    )


def predict_transformers(case: dict[str, Any]) -> CaseResult:
    """A transformers ``generate`` run: what its figure measures, next to our terms.

    The Qwen benchmark's "GPU Memory (MB)" is MiB of torch-allocated memory once generation is done:
    at one input token it exceeds weights + KV cache by 33-73 MiB for every model, and it grows by
    exactly the KV cache's growth. It holds neither the CUDA context nor the prefill peak, so the
    comparable prediction is weights + KV cache for input + generated tokens; the engine's full
    total (with activations and overhead) is kept alongside for reference.
    """
    spec = _spec(MODEL_CONFIGS[case["model"]])
    common = _common(case, spec, "transformers")
    m = case["measured"]
    out = m.get("output_tokens", 0)
    batch = m.get("batch_size", 1)
    weights = weight_bytes(spec)
    points = []
    full_total = None
    for input_len, mb in sorted(m["gpu_memory_MB_by_input_len"].items(), key=lambda kv: int(kv[0])):
        seq = int(input_len) + out
        kv = kv_cache_bytes(spec, seq_len=seq, batch=batch, kv_dtype=spec.torch_dtype)
        points.append((seq, weights + kv, mb * MiB))
        terms = transformers_terms(
            spec, Query(engine="transformers", seq_len=seq, batch=batch), weights_bytes=weights, kv_cache_bytes=kv
        )
        full_total = weights + kv + terms.activations + terms.overhead
    worst = max(points, key=lambda p: abs(p[1] - p[2]) / p[2])
    return CaseResult(
        **common,
        weights=weights,
        total=worst[1],
        total_measured=worst[2],
        total_points=tuple(points),
        engine_total_longest=full_total,
    )


def _common(case: dict[str, Any], spec: ModelSpec, engine: Literal["vllm", "transformers"]) -> dict[str, Any]:
    if engine == "vllm":
        bits = [f"tp{case.get('tp') or 1}"]
        if (case.get("pp") or 1) > 1:
            bits.append(f"pp{case['pp']}")
        bits.append(case.get("dtype") or "")
        if case.get("quant"):
            bits.append(case["quant"].split(" (")[0])
        if case.get("kv_cache_dtype") == "fp8":
            bits.append("kv fp8")
        bits.append(f"len {case.get('max_model_len')}")
        if case.get("gpu_memory_utilization") != 0.95:
            bits.append(f"util {case.get('gpu_memory_utilization')}")
        setting = " ".join(b for b in bits if b)
    else:
        setting = case.get("workload", "")
    return {
        "id": case["id"],
        "model": case["model"],
        "family": _family(spec),
        "engine": engine,
        "engine_version": case["engine_version"],
        "setting": setting,
        "source": case["source"],
    }


def predict_all(cases: Iterable[dict[str, Any]], fitted: dict[str, VllmConstants]) -> list[CaseResult]:
    results = []
    for case in cases:
        if case["model"] not in MODEL_CONFIGS:
            continue
        if case["engine"].startswith("vLLM"):
            results.append(predict_vllm(case, constants_for_case(case, fitted)))
        else:
            results.append(predict_transformers(case))
    return results


# ---------------------------------------------------------------------------------------------
# Fitting the global constants (and refitting them with one family left out)


def _sampler_implied(case: dict[str, Any], spec: ModelSpec, query: Query, total: int) -> float | None:
    """Bytes per logit the measured peak implies, when the sampler warm-up is what sets the peak."""
    peak = case["measured"].get("torch_activation_peak_gib")
    if peak is None:
        return None
    tokens, seqs = vllm.served_batch(spec, query, _logged_gpu(query, total))
    rows = min(tokens, seqs)
    forward, _ = vllm._forward_peak(spec, query, tokens)
    measured = peak * GiB
    if measured <= forward * 1.05:  # the forward pass, not the sampler, may set this peak
        return None
    b = DTYPE_BYTES[resolve_dtypes(spec, query).model]
    return (measured - tokens * spec.hidden_size * b) / (rows * spec.vocab_size) - b


def fit_constants(cases: Sequence[dict[str, Any]], *, leave_out: str | None = None) -> dict[str, VllmConstants]:
    """Fit the profile's global constants on the vLLM cases (optionally without one family).

    Medians, not means: one odd log cannot drag a constant. Each constant is fitted from the
    quantity the logs print for it, never from the KV tokens it is then judged on.
    """
    current: dict[str, list[float]] = {"sampler": [], "nt1": [], "ntp": [], "ctx1": [], "ctxp": []}
    legacy_sampler: list[float] = []
    graph_points: list[tuple[int, float]] = []  # (layers, GiB per captured graph), single-GPU dense
    for case in cases:
        if not case["engine"].startswith("vLLM") or case["model"] not in MODEL_CONFIGS:
            continue
        spec = _spec(MODEL_CONFIGS[case["model"]])
        if _family(spec) == leave_out or (case.get("pp") or 1) > 1:
            continue
        total = _gpu_total(case)
        if total is None:
            continue
        query = _vllm_query(case, spec)
        m = case["measured"]
        implied = _sampler_implied(case, spec, query, total)
        legacy = (
            constants_for_case(case, {"current": vllm.DEFAULT_CONSTANTS, "legacy": vllm.LEGACY_CONSTANTS})
            is vllm.LEGACY_CONSTANTS
        )
        if legacy:
            if implied is not None:
                legacy_sampler.append(implied)
            continue
        if not case["engine_version"].startswith("v0.19"):
            continue  # the other constants: from the v0.19 study only
        if implied is not None:
            current["sampler"].append(implied)
        nt = m.get("non_torch_forward_increase_gib")
        ctx = m.get("baseline_cuda_context_gib")
        if query.gpus == 1:
            if nt is not None:
                current["nt1"].append(nt)
            if ctx is not None:
                current["ctx1"].append(ctx)
            if m.get("cuda_graph_actual_gib") is not None and not spec.num_experts:
                piecewise, full = vllm.cuda_graph_counts(spec, query, _logged_gpu(query, total))
                graph_points.append((spec.num_layers, m["cuda_graph_actual_gib"] / (piecewise + full)))
        else:
            if nt is not None:
                current["ntp"].append(nt)
            if ctx is not None:
                current["ctxp"].append(ctx)
    d = vllm.DEFAULT_CONSTANTS

    def med(values: list[float], default: float) -> float:
        return statistics.median(values) if values else default

    # Per captured graph: a fixed part and a per-layer part (the per-layer part that divides with
    # TP is kept as shipped: these single-GPU points cannot separate it).
    sharded = d.cuda_graph_per_layer_sharded / GiB
    graph_base, graph_per_layer = d.cuda_graph_per_graph / GiB, d.cuda_graph_per_layer / GiB
    if len({n for n, _ in graph_points}) >= 2:
        slope, intercept = statistics.linear_regression(
            [float(n) for n, _ in graph_points], [g for _, g in graph_points]
        )
        graph_base, graph_per_layer = intercept, max(slope - sharded, 0.0)
    ctx1 = med(current["ctx1"], d.cuda_context / GiB)
    fitted = VllmConstants(
        sampler_bytes_per_logit=round(med(current["sampler"], d.sampler_bytes_per_logit), 1),
        non_torch_single_gpu=round(med(current["nt1"], d.non_torch_single_gpu / GiB) * GiB),
        non_torch_tensor_parallel=round(med(current["ntp"], d.non_torch_tensor_parallel / GiB) * GiB),
        cuda_context=round(ctx1 * GiB),
        cuda_context_tp_extra=round((med(current["ctxp"], ctx1 + d.cuda_context_tp_extra / GiB) - ctx1) * GiB),
        cuda_graph_per_graph=round(graph_base * GiB),
        cuda_graph_per_layer=round(graph_per_layer * GiB),
    )
    legacy_constants = fitted.model_copy(
        update={
            "sampler_bytes_per_logit": round(med(legacy_sampler, vllm.LEGACY_CONSTANTS.sampler_bytes_per_logit), 1),
            "mxfp4_value_align": vllm.LEGACY_CONSTANTS.mxfp4_value_align,
        }
    )
    return {"current": fitted, "legacy": legacy_constants}


SHIPPED = {"current": vllm.DEFAULT_CONSTANTS, "legacy": vllm.LEGACY_CONSTANTS}


# ---------------------------------------------------------------------------------------------
# Summary


def _in_kv_target(r: CaseResult) -> bool:
    return (
        r.engine == "vllm"
        and r.skipped is None
        and r.kv_tokens_measured is not None
        and r.kv_pool_measured is not None
        and r.kv_pool_measured >= KV_POOL_MIN_BYTES
    )


def summarize(results: Sequence[CaseResult]) -> dict[str, Any]:
    """The targets' scorecard over the predicted cases."""
    vllm_cases = [r for r in results if r.engine == "vllm" and r.skipped is None]
    w_errs = [abs(e) for r in vllm_cases if (e := rel_err(r.weights, r.weights_measured)) is not None]
    kv_cases = [r for r in results if _in_kv_target(r)]
    kv_errs = [abs(rel_err(r.kv_tokens, r.kv_tokens_measured) or 0.0) for r in kv_cases]
    block_errs = [abs(rel_err(r.kv_tokens_from_measured_pool, r.kv_tokens_measured) or 0.0) for r in kv_cases]
    classic_errs = [abs(rel_err(r.classic_kv_tokens, r.kv_tokens_measured) or 0.0) for r in kv_cases]
    pool_errs = [abs(e) for r in vllm_cases if (e := rel_err(r.kv_pool, r.kv_pool_measured)) is not None]
    act_errs = [
        abs(r.activation - r.activation_measured)
        for r in vllm_cases
        if r.activation is not None and r.activation_measured is not None
    ]
    tf_cases = [r for r in results if r.engine == "transformers" and r.skipped is None]
    tf_errs = [abs(rel_err(p, m) or 0.0) for r in tf_cases for _, p, m in r.total_points]
    within = sum(e <= KV_TOKENS_TOLERANCE for e in kv_errs)
    return {
        "cases": len(results),
        "predicted": sum(r.skipped is None for r in results),
        "skipped": {r.id: r.skipped for r in results if r.skipped},
        "weights_cases": len(w_errs),
        "weights_within_1pct": sum(e <= WEIGHTS_TOLERANCE for e in w_errs),
        "weights_max_abs_err": max(w_errs, default=0.0),
        "kv_cases": len(kv_errs),
        "kv_within_5pct": within,
        "kv_share_within_5pct": within / len(kv_errs) if kv_errs else 0.0,
        "kv_median_abs_err": statistics.median(kv_errs) if kv_errs else 0.0,
        "kv_max_abs_err": max(kv_errs, default=0.0),
        "kv_block_arithmetic_max_abs_err": max(block_errs, default=0.0),
        "classic_kv_median_abs_err": statistics.median(classic_errs) if classic_errs else 0.0,
        "classic_kv_within_5pct": sum(e <= KV_TOKENS_TOLERANCE for e in classic_errs),
        "kv_pool_median_abs_err": statistics.median(pool_errs) if pool_errs else 0.0,
        "activation_median_abs_err_gib": statistics.median(act_errs) / GiB if act_errs else 0.0,
        "activation_max_abs_err_gib": max(act_errs, default=0) / GiB,
        "transformers_cases": len(tf_cases),
        "transformers_points": len(tf_errs),
        "transformers_within_10pct": sum(e <= TRANSFORMERS_TOLERANCE for e in tf_errs),
        "transformers_max_abs_err": max(tf_errs, default=0.0),
    }


def leave_one_family_out(cases: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Refit the constants without each family; the KV-token error on the family left out."""
    families = sorted(
        {
            _family(_spec(MODEL_CONFIGS[c["model"]]))
            for c in cases
            if c["engine"].startswith("vLLM") and c["model"] in MODEL_CONFIGS
        }
    )
    out: dict[str, dict[str, Any]] = {}
    for fam in families:
        fitted = fit_constants(cases, leave_out=fam)
        held = [
            c
            for c in cases
            if c["model"] in MODEL_CONFIGS
            and c["engine"].startswith("vLLM")
            and _family(_spec(MODEL_CONFIGS[c["model"]])) == fam
        ]
        results = [r for r in predict_all(held, fitted) if _in_kv_target(r)]
        errs = [abs(rel_err(r.kv_tokens, r.kv_tokens_measured) or 0.0) for r in results]
        out[fam] = {
            "cases": len(errs),
            "max_abs_err": max(errs, default=0.0),
            "within_5pct": sum(e <= KV_TOKENS_TOLERANCE for e in errs),
            "sampler_bytes_per_logit": fitted["current"].sampler_bytes_per_logit,
        }
    return out


def run(path: Path = MEASUREMENTS) -> dict[str, Any]:
    """Everything the command prints: per-case results, summary, fitted constants, leave-one-out."""
    cases = load_cases(path)
    results = predict_all(cases, SHIPPED)
    refit = fit_constants(cases)
    return {
        "vllm_version": vllm.VLLM_VERSION,
        "constants": {k: v.model_dump() for k, v in SHIPPED.items()},
        "refit_on_all": {k: v.model_dump() for k, v in refit.items()},
        "summary": summarize(results),
        "leave_one_family_out": leave_one_family_out(cases),
        "cases": [r.model_dump() for r in results],
    }


# ---------------------------------------------------------------------------------------------
# Output


def _g(value: int | None) -> str:
    return "" if value is None else f"{value / GiB:.2f}"


def _pct(predicted: float | None, measured: float | None) -> str:
    e = rel_err(predicted, measured)
    return "" if e is None else f"{e * 100:+.1f}%"


def _tok(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def markdown(data: dict[str, Any]) -> str:
    """The accuracy tables (vLLM, transformers, summary, leave-one-family-out) as Markdown."""
    cases = [CaseResult.model_validate(c) for c in data["cases"]]
    s = data["summary"]
    lines = [
        f"### vLLM start-up (profile follows v{data['vllm_version']})",
        "",
        'GiB; predicted / measured (error). KV tokens: vLLM\'s "GPU KV cache size". '
        "Classic: the classic KV formula's tokens on the measured pool.",
        "",
        "| case | model | setting | weights | activation peak | non-torch | KV pool | KV tokens | "
        "max concurrency | classic KV tokens |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in cases:
        if r.engine != "vllm":
            continue
        if r.skipped:
            lines.append(f"| {r.id} | {r.model} | {r.setting} | skipped: {r.skipped} ||||||||")
            continue
        conc = (
            "" if r.max_concurrency_measured is None else f"{r.max_concurrency:.2f} / {r.max_concurrency_measured:.2f}"
        )
        lines.append(
            f"| {r.id} | {r.model} | {r.setting} "
            f"| {_g(r.weights)} / {_g(r.weights_measured)} ({_pct(r.weights, r.weights_measured)}) "
            f"| {_g(r.activation)} / {_g(r.activation_measured)} "
            f"| {_g(r.non_torch)} / {_g(r.non_torch_measured)} "
            f"| {_g(r.kv_pool)} / {_g(r.kv_pool_measured)} ({_pct(r.kv_pool, r.kv_pool_measured)}) "
            f"| {_tok(r.kv_tokens)} / {_tok(r.kv_tokens_measured)} ({_pct(r.kv_tokens, r.kv_tokens_measured)}) "
            f"| {conc} "
            f"| {_tok(r.classic_kv_tokens)} ({_pct(r.classic_kv_tokens, r.kv_tokens_measured)}) |"
        )
    lines += [
        "",
        "### transformers `generate` (torch-allocated memory after generation, MiB)",
        "",
        "Predicted: weights + KV cache for input + 2,048 generated tokens (what the figure holds; see "
        "below). Last column: the transformers profile's full total (activations, CUDA context) "
        "at the longest point, for reference.",
        "",
        "| case | model | tokens | predicted | measured | error | full total |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in cases:
        if r.engine != "transformers":
            continue
        if r.skipped:
            lines.append(f"| {r.id} | {r.model} | skipped: {r.skipped} |||||")
            continue
        for i, (seq, pred, meas) in enumerate(r.total_points):
            full = ""
            if i == len(r.total_points) - 1 and r.engine_total_longest is not None:
                full = f"{r.engine_total_longest / MiB:,.0f}"
            lines.append(
                f"| {r.id} | {r.model} | {seq:,} | {pred / MiB:,.0f} | {meas / MiB:,.0f} "
                f"| {_pct(pred, meas)} | {full} |"
            )
    lines += [
        "",
        "### Summary",
        "",
        f"- Weights within 1%: {s['weights_within_1pct']} of {s['weights_cases']} vLLM cases "
        f"(largest error {s['weights_max_abs_err'] * 100:.1f}%).",
        f"- KV tokens within 5% (cases with a KV pool of 8 GiB or more): {s['kv_within_5pct']} of {s['kv_cases']} "
        f"({s['kv_share_within_5pct'] * 100:.0f}%); median error {s['kv_median_abs_err'] * 100:.2f}%, "
        f"largest {s['kv_max_abs_err'] * 100:.1f}%. Block arithmetic alone (measured pool in): largest error "
        f"{s['kv_block_arithmetic_max_abs_err'] * 100:.2f}%.",
        f"- The classic formula's KV term on the same measured pools: {s['classic_kv_within_5pct']} of "
        f"{s['kv_cases']} within 5%, median error {s['classic_kv_median_abs_err'] * 100:.0f}%.",
        f"- Activation peak: median error {s['activation_median_abs_err_gib']:.2f} GiB, largest "
        f"{s['activation_max_abs_err_gib']:.2f} GiB.",
        f"- transformers totals within 10%: {s['transformers_within_10pct']} of {s['transformers_points']} points "
        f"(largest error {s['transformers_max_abs_err'] * 100:.1f}%).",
        "",
        "### Leave one family out",
        "",
        "The global constants refitted without each family; KV-token error on the family left out.",
        "",
        "| family left out | cases (pool >= 8 GiB) | within 5% | largest error | refitted sampler bytes/logit |",
        "|---|---|---|---|---|",
    ]
    for fam, row in data["leave_one_family_out"].items():
        lines.append(
            f"| {fam} | {row['cases']} | {row['within_5pct']} | {row['max_abs_err'] * 100:.1f}% "
            f"| {row['sampler_bytes_per_logit']} |"
        )
    return "\n".join(lines) + "\n"


def plain(data: dict[str, Any]) -> str:
    cases = [CaseResult.model_validate(c) for c in data["cases"]]
    out = [f"{'case':8} {'model':44} {'weights':>15} {'act':>11} {'KV pool':>15} {'KV tokens':>24}"]
    for r in cases:
        if r.skipped:
            out.append(f"{r.id:8} {r.model[:44]:44} skipped: {r.skipped}")
        elif r.engine == "vllm":
            out.append(
                f"{r.id:8} {r.model[:44]:44} {_g(r.weights):>6} {_pct(r.weights, r.weights_measured):>8} "
                f"{_g(r.activation):>5}/{_g(r.activation_measured):>5} "
                f"{_g(r.kv_pool):>6} {_pct(r.kv_pool, r.kv_pool_measured):>8} "
                f"{_tok(r.kv_tokens):>11} {_pct(r.kv_tokens, r.kv_tokens_measured):>8}"
            )
        elif r.total is not None and r.total_measured is not None:
            out.append(
                f"{r.id:8} {r.model[:44]:44} total {r.total / MiB:,.0f} MiB vs {r.total_measured / MiB:,.0f} "
                f"({_pct(r.total, r.total_measured)}, worst point)"
            )
        else:
            out.append(f"{r.id:8} {r.model[:44]:44} no total measured or estimated")
    out.append("")
    out.extend(f"{k}: {v}" for k, v in data["summary"].items() if k != "skipped")
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.calibrate", description=__doc__.split("\n")[0])
    parser.add_argument("--measurements", type=Path, default=MEASUREMENTS)
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="everything as one JSON object")
    fmt.add_argument("--markdown", action="store_true", help="the accuracy tables as Markdown")
    args = parser.parse_args(argv)
    data = run(args.measurements)
    if args.json:
        sys.stdout.write(json.dumps(data, indent=1) + "\n")
    elif args.markdown:
        sys.stdout.write(markdown(data))
    else:
        sys.stdout.write(plain(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
