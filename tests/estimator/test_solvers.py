"""The fit solvers: verdict, headroom, max s at b, max b at s, min GPUs; each checked at its boundary."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from estimator.config import load_model_spec
from estimator.engines.vllm import (
    activation_peak,
    cuda_context_bytes,
    cuda_graph_bytes,
    kv_layout,
    persistent_runner_bytes,
)
from estimator.estimate import _largest, estimate, total_for
from estimator.gpus import lookup_gpu
from estimator.query import MAX_BATCH, MAX_SEQ_LEN, Query

CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "configs"


def spec(name: str):
    return load_model_spec(json.loads((CONFIGS / name).read_text()))


def _vllm_usable(s, q: Query, device: int, gpu=None) -> int:
    """vLLM's share (util x device) holds weights, KV, activations and non-torch memory; the CUDA
    context comes on top, and so do the CUDA graphs up to 0.19 (from 0.20 their estimate is taken
    out of the share). Default util: 0.9 in 0.19, 0.92 from 0.20 (config/cache.py), 1.0 in 0.34 (the
    default release) with its extensible KV cache, which also keeps a margin of the device free:
    max(1 GiB, 0.75 x the transient activation peak) (v1/worker/extensible_kv_cache.py@v0.34.0)."""
    old = q.vllm == "0.19"
    new = q.vllm in (None, "0.34")
    util = q.util or (0.9 if old else 1.0 if new else 0.92)
    outside = cuda_context_bytes(q) + (cuda_graph_bytes(s, q, gpu) if old else 0)
    # One block of the pool is BlockPool's null block, which no request gets.
    null = kv_layout(s, q)[0].bytes_per_block if q.kv != "off" else 0
    top = device
    if new:
        peak, _ = activation_peak(s, q, gpu=gpu)
        transient = peak - persistent_runner_bytes(s, q, gpu=gpu)
        top -= max(2**30, int(0.75 * transient))
    return min(math.ceil(util * device) + outside, top) - null


def test_largest_matches_a_linear_scan() -> None:
    rng = random.Random(7)
    for _ in range(5000):
        high = rng.choice([1, 2, 3, 17, 1000, 16 * 1024 * 1024])
        answer = rng.randint(0, high)
        start = rng.randint(1, high)
        assert _largest(lambda x, a=answer: x <= a, high, start) == answer


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("meta-llama__Llama-3.1-8B.json", dict(seq_len=32768, batch=8, gpu="l40s")),
        ("Qwen__Qwen3-30B-A3B.json", dict(seq_len=8192, batch=4, gpu="h100-80gb")),
        # fa=on: Gemma-2's class has no sdpa, and unsaid its eager scores fit no split.
        (
            "google__gemma-2-9b-it.json",
            dict(seq_len=8192, batch=2, gpu="rtx-4090", weight_format="nf4", flash_attention=True),
        ),
        ("Qwen__Qwen3-8B.json", dict(seq_len=4096, batch=64, gpu="h100-80gb", engine="vllm", vllm="0.19")),
        ("Qwen__Qwen3-8B.json", dict(seq_len=4096, batch=64, gpu="h100-80gb", engine="vllm", vllm="0.33")),
        ("Qwen__Qwen3-8B.json", dict(seq_len=4096, batch=64, gpu="h100-80gb", engine="vllm", vllm="0.34")),
        ("Qwen__Qwen3-8B.json", dict(seq_len=4096, batch=64, gpu="h100-80gb", engine="vllm", util=0.9)),
    ],
)
def test_fit_is_exact_at_its_boundaries(name: str, text: dict) -> None:
    s = spec(name)
    q = Query(model="m", **text)
    est = estimate(s, q, model_id="m")
    fit = est.fit
    assert fit is not None
    gpu = lookup_gpu(q.gpu or "")
    usable = gpu.memory_bytes
    if q.engine == "vllm":
        usable = _vllm_usable(s, q, gpu.memory_bytes, gpu)
    assert fit.gpu_memory == gpu.memory_bytes
    assert fit.headroom == usable - est.memory.total
    assert fit.fits == (est.memory.total <= usable)
    # max_seq_len: the largest s whose total still fits at this b.
    if fit.max_seq_len:
        assert total_for(s, q.model_copy(update={"seq_len": fit.max_seq_len})) <= usable
    assert total_for(s, q.model_copy(update={"seq_len": fit.max_seq_len + 1})) > usable
    if fit.max_batch:
        assert total_for(s, q.model_copy(update={"batch": fit.max_batch})) <= usable
    assert total_for(s, q.model_copy(update={"batch": fit.max_batch + 1})) > usable
    # min_gpus: the smallest power-of-two tensor-parallel group that fits.
    assert fit.min_gpus >= 1
    assert total_for(s, q.model_copy(update={"gpus": fit.min_gpus})) <= usable
    if fit.min_gpus > 1:
        assert total_for(s, q.model_copy(update={"gpus": fit.min_gpus // 2})) > usable


def test_a_model_that_cannot_fit_says_so() -> None:
    # Mixtral-8x7B in bf16: 46.7B parameters x 2 bytes = 93 GB of weights alone, more than an L4's
    # 22 GiB, so it needs several GPUs.
    est = estimate(spec("mistralai__Mixtral-8x7B-Instruct-v0.1.json"), Query(model="m", gpu="l4"), model_id="m")
    assert est.fit is not None and not est.fit.fits and est.fit.headroom < 0
    assert est.fit.max_seq_len == 0 and est.fit.max_batch == 0
    # transformers splits layers over any number of GPUs: 4 L4s (4 x 21.99 GiB = 87.96 GiB) cannot hold
    # 86.98 GiB of weights plus a 0.7 GiB CUDA context on each, so at least 5.
    assert est.fit.min_gpus >= 5


def test_largest_from_a_guess_with_a_small_step_matches_a_linear_scan() -> None:
    # The vLLM solvers start from an extrapolated guess with a small step, above or below the answer.
    rng = random.Random(11)
    for _ in range(5000):
        high = rng.choice([1, 2, 3, 17, 1000, 16 * 1024 * 1024])
        answer = rng.randint(0, high)
        start = rng.randint(1, high)
        step = rng.choice([1, 4, 16, 64, 1000])
        assert _largest(lambda x, a=answer: x <= a, high, start, step=step) == answer


@pytest.mark.parametrize(
    "name",
    [
        "meta-llama__Llama-3.1-8B.json",
        "openai__gpt-oss-20b.json",
        "google__gemma-2-9b-it.json",
        "google__gemma-3-1b-it.json",
        "deepseek-ai__DeepSeek-V2-Lite-Chat.json",
        "Qwen__Qwen3-30B-A3B.json",
    ],
)
@pytest.mark.parametrize(
    "text", [dict(vllm="0.19"), dict(seq_len=32768, batch=4, kv="fp8"), dict(gpus=2, batch=16, vllm="0.19")]
)
def test_vllm_solvers_find_what_a_search_over_whole_estimates_finds(name: str, text: dict) -> None:
    # The vLLM solvers re-use every term but the KV cache and start from an extrapolated point; a
    # plain search over whole re-estimates (the query's own s and b as starting points) is the oracle.
    s = spec(name)
    q = Query(model="m", gpu="h100-80gb", engine="vllm", **text)
    fit = estimate(s, q, model_id="m").fit
    assert fit is not None
    if fit.engine_refuses is not None:
        # gemma-2 at s=32k: past its 8,192 positions vLLM does not start, so nothing is held.
        assert fit.max_seq_len is None and fit.max_batch is None and name == "google__gemma-2-9b-it.json"
        return
    gpu = lookup_gpu("h100-80gb")
    usable = _vllm_usable(s, q, gpu.memory_bytes, gpu)

    def fits(**update: int) -> bool:
        return total_for(s, q.model_copy(update=update)) <= usable

    assert fit.max_seq_len == _largest(lambda x: fits(seq_len=x), MAX_SEQ_LEN, q.seq_len)
    assert fit.max_batch == _largest(lambda x: fits(batch=x), MAX_BATCH, q.batch)
