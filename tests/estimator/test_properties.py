"""Property tests: physical sanity of every estimate, over random fixtures and queries.

- every term is non-negative and the total is their sum;
- more tokens (s) or more sequences (b) never need less memory;
- an fp8 KV cache is exactly half of a bf16 one (the models here without state-space layers);
- per-GPU weights never grow with more GPUs (powers of two);
- an estimate raises nothing but VramError subclasses.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.errors import VramError
from estimator.config import load_model_spec
from estimator.engines.vllm import VllmReport, version_profile
from estimator.engines.vllm import tp_refusal as vllm_tp_refusal
from estimator.estimate import estimate
from estimator.query import Query
from estimator.spec import ModelSpec
from estimator.weights import checkpoint_scheme_kept

# Subprocesses, both databases or many generated examples: outside the fast subset.
pytestmark = pytest.mark.slow

CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
NAMES = sorted(p.stem for p in CONFIGS.glob("*.json"))
WEIGHT_FORMATS = (None, "bf16", "fp16", "fp32", "fp8", "int8", "int4", "nf4", "mxfp4", "awq", "gptq")
KV = ("on", "off", "auto", "bf16", "fp16", "fp8", "int8")

PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def refuses_tp(name: str, query: Query, gpus: int) -> bool:
    """vLLM's TP check for ``gpus`` with the query's release and weights (a cast keeps no FP8 blocks)."""
    kept = checkpoint_scheme_kept(spec(name), weight_format=query.weight_format, bits=query.bits)
    profile, _ = version_profile(query)
    return vllm_tp_refusal(spec(name), gpus, profile=profile, checkpoint_weights=kept) is not None


@cache
def spec(name: str) -> ModelSpec:
    return load_model_spec(json.loads((CONFIGS / f"{name}.json").read_text()))


def has_state_layers(s: ModelSpec) -> bool:
    return any(layer.kind == "state" for layer in s.layers)


queries = st.fixed_dictionaries(
    {
        "seq_len": st.integers(1, 2 * 1024 * 1024),
        "batch": st.integers(1, 64),
        "weight_format": st.sampled_from(WEIGHT_FORMATS),
        "kv": st.sampled_from(KV),
        "flash_attention": st.booleans(),
        "gpus": st.sampled_from((1, 2, 3, 4, 8, 64)),
        "engine": st.sampled_from(("transformers", "vllm")),
    }
)


def run(name: str, **fields):
    """The estimate, or None when it is refused with a VramError (anything else fails the test)."""
    try:
        return estimate(spec(name), Query(**fields), model_id=name)
    except VramError:
        return None


@PROPS
@given(name=st.sampled_from(NAMES), q=queries)
def test_terms_non_negative_and_monotone_in_s_and_b(name: str, q: dict) -> None:
    est = run(name, **q)
    if est is None:
        return
    m = est.memory
    assert min(m.weights, m.kv_cache, m.activations, m.overhead) >= 0
    assert m.total == m.weights + m.kv_cache + m.activations + m.overhead
    longer = run(name, **{**q, "seq_len": q["seq_len"] * 2})
    more = run(name, **{**q, "batch": q["batch"] + 1})
    assert longer is not None and more is not None
    # vLLM 0.34 (the default) maps its blocks in 2 MiB granules: the bytes mapped never shrink, but the
    # row is b equal shares of them, each rounded up, so it may shrink by less than a byte a sequence.
    slack = q["batch"] if q["engine"] == "vllm" else 0
    assert longer.memory.total >= m.total and longer.memory.kv_cache >= m.kv_cache
    assert more.memory.total >= m.total - slack and more.memory.kv_cache >= m.kv_cache - slack


@PROPS
@given(name=st.sampled_from(NAMES), q=queries)
def test_fp8_kv_is_half_of_bf16(name: str, q: dict) -> None:
    if has_state_layers(spec(name)):
        return  # Mamba state stays in the model dtype whatever kv= says
    bf16 = run(name, **{**q, "kv": "bf16"})
    fp8 = run(name, **{**q, "kv": "fp8"})
    if bf16 is None or fp8 is None:
        return

    def per_token_kv(est) -> int:  # type: ignore[no-untyped-def]
        # vLLM 0.34's granules (2 MiB per layer segment) are mapped whole, whatever the dtype.
        granules = sum(t.bytes_per_sequence for t in est.details.kv_terms if t.part == "granules")
        return est.memory.kv_cache - granules * est.query.batch

    assert 2 * per_token_kv(fp8) == per_token_kv(bf16)
    assert 2 * fp8.details.kv_bytes_per_token == bf16.details.kv_bytes_per_token


@PROPS
@given(name=st.sampled_from(NAMES), q=queries)
def test_weights_per_gpu_never_grow_with_more_gpus(name: str, q: dict) -> None:
    previous = None
    for gpus in (1, 2, 4, 8, 16, 64):
        est = run(name, **{**q, "gpus": gpus})
        if est is None:
            return
        if previous is not None and q["engine"] == "transformers":
            # Whole layers per GPU: the busiest GPU may change (the embedding's, or one with more KV
            # layers), but none holds more than the whole model.
            assert est.memory.weights <= previous, (gpus, est.memory.weights, previous)
            continue
        if previous is not None:
            assert est.memory.weights <= previous, (gpus, est.memory.weights, previous)
        previous = est.memory.weights


@PROPS
@given(
    name=st.sampled_from(NAMES),
    q=queries,
    gpu=st.sampled_from(("h100", "l4", "a100-40gb", "rtx4090", "h200", "mi300x")),
)
def test_fit_agrees_with_the_total(name: str, q: dict, gpu: str) -> None:
    est = run(name, **{**q, "seq_len": min(q["seq_len"], 256 * 1024), "gpu": gpu})
    if est is None:
        return
    fit = est.fit
    assert fit is not None
    # Fits exactly when the total is within the usable memory and the engine runs the group at all
    # (vLLM: and its start check passes, which from 0.30 holds one pool block back).
    starts = not isinstance(est.engine_report, VllmReport) or est.engine_report.starts
    assert fit.fits == (fit.headroom >= 0 and fit.engine_refuses is None and starts)
    if fit.fits:
        # The query itself fits: the solvers must find at least its own s and b, and its own GPU count.
        assert fit.max_seq_len >= est.query.seq_len and fit.max_batch >= est.query.batch
        refused = est.query.engine == "vllm" and refuses_tp(name, est.query, est.query.gpus)
        if est.query.gpus in (1, 2, 4, 8, 64) and not refused:  # sizes the min-GPU solver tries
            assert 1 <= fit.min_gpus <= est.query.gpus
    elif fit.engine_refuses is None:
        assert fit.max_seq_len < est.query.seq_len and fit.max_batch < est.query.batch
    if fit.min_gpus and est.query.engine == "vllm":
        assert not refuses_tp(name, est.query, fit.min_gpus)  # never a size vLLM refuses


@PROPS
@given(name=st.sampled_from(NAMES), q=queries, gpus=st.integers(2, 96))
def test_gpus_together_hold_the_whole_model(name: str, q: dict, gpus: int) -> None:
    # Per-GPU figures are the busiest GPU's: at least the average, and the GPUs' layers together hold
    # the whole model (each its own activations and context besides), so n x the busiest total is at
    # least one GPU's total (less the rounding of the per-layer weight shares, a byte per GPU). No GPU
    # holds more weights or caches more per token than the whole model.
    one = run(name, **{**q, "gpus": 1, "engine": "transformers"})
    split = run(name, **{**q, "gpus": gpus, "engine": "transformers"})
    if one is None or split is None:
        return
    assert split.memory.total * gpus >= one.memory.total - gpus
    assert split.memory.weights <= one.memory.weights
    assert split.details.kv_bytes_per_token <= one.details.kv_bytes_per_token
