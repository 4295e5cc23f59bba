"""vLLM 0.34's extensible KV cache, by hand from its source (v1/worker/extensible_kv_cache.py@v0.34.0
measure_kv_cache_bytes, blocks_within; v1/worker/gpu_worker.py@v0.34.0; v1/engine/core.py@v0.34.0
finalize_extensible_kv_cache; v1/core/kv_cache_planning.py@v0.34.0 shrink_kv_cache_configs).

After warm-up and CUDA-graph capture vLLM measures free memory and gives the cache

    min(requested - non_kv_used, free + committed - margin) - transient peak
    margin = max(1 GiB, int(0.75 x transient peak))        (CUDA; 3 GiB floor on ROCm)

then commits the most blocks whose per-layer segments, each rounded up to 2 MiB granules, fit. vram
writes the measured memory from its own terms (weights, non-torch memory, CUDA graphs, the activation
peak, the CUDA context), which these tests take from the 0.33 answer of the same model and GPU (the
terms 0.34 reuses) and combine by hand. Constants: the CUDA context is 522 MiB on one GPU and
522 + 1,065 MiB with tensor parallelism; non-torch memory 256 MiB on one GPU and 2,120 MiB with
tensor parallelism on NVSwitch hosts (estimator/engines/vllm.py VllmConstants).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from estimator.config import load_model_spec
from estimator.engines import vllm
from estimator.engines import vllm_profiles as vp
from estimator.estimate import estimate
from estimator.gpus import lookup_gpu
from estimator.query import Query
from estimator.spec import ModelSpec
from estimator.weights import weight_bytes

GiB = 1 << 30
MiB = 1 << 20
GRANULE = 2 * MiB
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
QWEN3_8B = load_model_spec(json.loads((FIXTURES / "configs" / "Qwen__Qwen3-8B.json").read_text()))
LLAMA = load_model_spec(json.loads((FIXTURES / "configs" / "meta-llama__Llama-3.1-8B.json").read_text()))
_MOE = json.loads((FIXTURES / "calibration2" / "configs" / "qwen3_5_moe.json").read_text())
_MOE["text_config"]["max_position_embeddings"] = 262_144
QWEN35_MOE = load_model_spec(_MOE)
L40S = 47_803_531_264  # what CUDA reports for an L40S 48GB (estimator/data/gpus.json)
H100 = 85_030_617_088
CONTEXT = 522 * MiB
CONTEXT_TP = (522 + 1_065) * MiB


def q(**kw) -> Query:
    return Query(engine="vllm", **kw)


def report(spec: ModelSpec, query: Query) -> vllm.VllmReport:
    gpu = lookup_gpu(query.gpu or "")
    r = vllm.vllm_report(spec, query, weights_bytes=weight_bytes(spec, gpus=query.gpus), gpu=gpu)
    assert isinstance(r, vllm.VllmReport)
    return r


def committed_blocks(pool: int, segments: int, stride: int, capacity: int) -> int:
    """blocks_within, as vLLM loops: from pool // bytes per block down, while the segments' granules
    do not fit."""
    n = min(pool // (segments * stride), capacity)
    while n > 0 and segments * math.ceil(n * stride / GRANULE) * GRANULE > pool:
        n -= 1
    return n


def test_qwen3_8b_on_one_l40s_by_hand() -> None:
    query = q(gpu="l40s", seq_len=32_768)
    v = report(QWEN3_8B, query)
    old = report(QWEN3_8B, q(gpu="l40s", seq_len=32_768, vllm="0.33"))
    # The measured terms are vram's 0.33 terms for the same memory.
    assert (v.weights, v.non_torch, v.cuda_graphs, v.activation_peak) == (
        old.weights,
        old.non_torch,
        old.cuda_graphs,
        old.activation_peak,
    )
    assert v.non_torch == 256 * MiB and v.cuda_context == CONTEXT
    # The V2 sampler's penalty state and request tables (256 sequences) stay allocated: resident, not
    # the transient peak the margin scales with.
    resident_buffers = vllm.v2_sampler_state_bytes(QWEN3_8B, 256) + vllm.v2_sampler_tables_bytes(QWEN3_8B, 256)
    transient = v.activation_peak - resident_buffers
    assert v.transient_reserve == transient
    margin = max(GiB, int(0.75 * transient))
    assert transient < GiB and v.kv_margin == margin == GiB  # a 0.5 GiB peak: the 1 GiB floor
    # util 1.0 (resolved_gpu_memory_utilization): requested = the device.
    assert v.gpu_memory_utilization == 1.0 and v.requested_memory == L40S
    non_kv_used = v.weights + v.non_torch + v.cuda_graphs + resident_buffers
    headroom = L40S - CONTEXT - non_kv_used  # free + committed, after capture
    pool = min(L40S - non_kv_used, headroom - margin) - transient
    assert pool == L40S - CONTEXT - margin - v.weights - v.non_torch - v.cuda_graphs - v.activation_peak
    assert v.kv_sizing == "extensible" and v.kv_cache_memory == pool
    # Capacity: the profiled estimate at util 1.0 with no CUDA-graph estimate.
    capacity = L40S - (v.weights + v.non_torch + v.activation_peak)
    assert v.kv_reserved_memory == capacity
    # 64-token blocks (config/cache.py@v0.34.0 DEFAULT_BLOCK_SIZE): 36 layers x 8 KV heads x 128 x
    # (K, V) x 2 B x 64 = 9,437,184 B a block, each layer's segment 262,144 B, 8 blocks to a granule.
    stride = 64 * 8 * 128 * 2 * 2
    assert v.block_size == 64 and stride == 262_144
    n = committed_blocks(pool, 36, stride, capacity // (36 * stride))
    assert n == 8 * (pool // (36 * GRANULE))
    assert v.num_gpu_blocks == n
    # A 32,768-token request takes 512 blocks.
    assert v.max_concurrency == math.floor(n / 512 * 100) / 100
    assert v.kv_cache_tokens == int(n / 512 * 32_768)
    assert v.kv_committed_memory == 36 * math.ceil(n * stride / GRANULE) * GRANULE
    # The engine core prints the capacity line in finalize_extensible_kv_cache, then has the workers
    # extend the cache, which logs the blocks it commits (v1/engine/core.py@v0.34.0).
    assert v.log_lines == (
        f"Available KV cache memory: {round(capacity / GiB, 2)} GiB",
        f"GPU KV cache size: {int(n / 512 * 32_768):,} tokens, Maximum concurrency for 32,768 tokens per request: "
        f"{n / 512:.2f}x",
        f"Extended KV cache to {n} blocks ({v.kv_committed_memory / GiB:.2f} GiB).",
    )
    # The answer: the longest request the scheduler holds beside the null block, the most requests.
    est = estimate(QWEN3_8B, query, model_id="m")
    assert est.fit is not None and est.fit.fits
    assert est.fit.max_seq_len == (n - 1) * 64
    assert est.fit.max_batch == (n - 1) // 512


def test_qwen3_8b_tp2_on_h100_by_hand() -> None:
    # Tensor parallelism: the NCCL set-up is in the context (before vLLM's snapshot), NVLS buffers in
    # the non-torch memory; 4 of the 8 KV heads a GPU. H100 defaults: 8,192 batched tokens, 1,024 seqs.
    v = report(QWEN3_8B, q(gpu="h100", gpus=2, seq_len=32_768))
    assert v.cuda_context == CONTEXT_TP and v.non_torch == 2_120 * MiB
    assert (v.max_num_batched_tokens, v.max_num_seqs) == (8_192, 1_024)
    resident_buffers = vllm.v2_sampler_state_bytes(QWEN3_8B, 1_024) + vllm.v2_sampler_tables_bytes(QWEN3_8B, 1_024)
    transient = v.activation_peak - resident_buffers
    margin = max(GiB, int(0.75 * transient))
    assert v.kv_margin == margin
    pool = H100 - CONTEXT_TP - margin - v.weights - v.non_torch - v.cuda_graphs - v.activation_peak
    assert v.kv_cache_memory == pool
    stride = 64 * 4 * 128 * 2 * 2  # 131,072 B a layer: 16 blocks to a granule
    capacity = H100 - (v.weights + v.non_torch + v.activation_peak)
    n = committed_blocks(pool, 36, stride, capacity // (36 * stride))
    assert n == min(16 * (pool // (36 * GRANULE)), pool // (36 * stride))
    assert v.num_gpu_blocks == n and v.max_concurrency == math.floor(n / 512 * 100) / 100


def test_hybrid_qwen35_moe_aligns_to_64_token_blocks() -> None:
    # Qwen3.5-35B-A3B: 10 full-attention layers (2 KV heads x 256) and 30 gated-DeltaNet layers. The
    # GDN state: conv (2 x 16 + 32) x 128 channels x (kernel 4 - 1) x 2 B = 49,152 B, recurrent state
    # 32 x 128 x 128 x 4 B (fp32) = 2,097,152 B: 2,146,304 B. The attention block is aligned to
    # max(FlashAttention's 16, the cache block 64) = 64 (platforms/interface.py@v0.34.0):
    # 64 x cdiv(2,146,304, 64 x 2,048) = 64 x 17 = 1,088 tokens. 0.33 aligns to 16 (1,056 = 16 x 66)
    # unless the GDN prefill runs on FlashInfer (an H100), whose 64-token checkpoints also give 1,088.
    state = 64 * 128 * 3 * 2 + 32 * 128 * 128 * 4
    per_token = 2 * 256 * 2 * 2
    block = 64 * math.ceil(state / (64 * per_token))
    assert block == 1_088
    query = q(gpu="h100", seq_len=131_072)
    layout, _ = vllm.kv_layout(QWEN35_MOE, query)
    page = block * per_token  # 2,228,224 B, every group's page
    assert (layout.block_size, layout.group_size, layout.bytes_per_block) == (block, 10, 10 * page)
    assert vllm.kv_layout(QWEN35_MOE, q(gpu="a100-80gb", vllm="0.33"))[0].block_size == 1_056
    assert vllm.kv_layout(QWEN35_MOE, q(gpu="h100", vllm="0.33"))[0].block_size == 1_088
    v = report(QWEN35_MOE, query)
    # Ten segments (one per layer slot of a group) of 2,228,224 B a block, each rounded to granules.
    capacity = H100 - (v.weights + v.non_torch + v.activation_peak)
    n = committed_blocks(v.kv_cache_memory, 10, page, capacity // (10 * page))
    assert v.num_gpu_blocks == n
    assert v.kv_committed_memory == 10 * math.ceil(n * page / GRANULE) * GRANULE
    # One request: ceil(131,072 / 1,088) attention blocks in each of the 10-layer attention group, and
    # 2 state pages + the prefill checkpoint (GDN, "align" mode) in each of 3 GDN groups.
    per_request = math.ceil(131_072 / block) + 3 * 3
    assert v.max_concurrency == math.floor(n / per_request * 100) / 100


def test_an_explicit_util_caps_the_extensible_cache() -> None:
    # util=0.9 on an H100: 0.9 x 85,030,617,088 is below the device less the context and the margin,
    # so the budget is util's: the 0.33 formula without the graph estimate's own figure changing.
    v = report(QWEN3_8B, q(gpu="h100", seq_len=32_768, util=0.9))
    requested = math.ceil(0.9 * H100)
    assert requested < H100 - CONTEXT - v.kv_margin
    assert v.kv_sizing == "extensible" and v.gpu_memory_utilization == 0.9
    assert v.kv_cache_memory == requested - v.weights - v.non_torch - v.cuda_graphs - v.activation_peak
    # vLLM warns that it withholds the device's free memory beyond that: H100 - context - margin - 0.9 x H100.
    est = estimate(QWEN3_8B, q(gpu="h100", seq_len=32_768, util=0.9), model_id="m")
    withheld = H100 - CONTEXT - v.kv_margin - requested
    (said,) = [w.message for w in est.warnings if w.code == "util_caps_kv_cache"]
    assert said.startswith(f"util=0.9 keeps {withheld / GiB:.2f} GiB of free device memory out of vLLM 0.34's")
    # Left unset (1.0) there is nothing withheld and no warning.
    assert not any(w.code == "util_caps_kv_cache" for w in estimate(QWEN3_8B, q(gpu="h100"), model_id="m").warnings)


def test_the_util_warning_is_vllms_clamped_difference_and_only_after_warm_up() -> None:
    # Qwen3-8B on an L4 (23,612,293,120 B; 2,048 batched tokens, 256 seqs): the cache at a budget of the
    # whole device is device - context - margin - (weights + non-torch + graphs + activation peak);
    # at util's budget it is util x device - the same terms, clamped at 0 (measure_kv_cache_bytes).
    l4 = 23_612_293_120
    need = 64 * 36 * 262_144  # one 4,096-token request: 64 blocks of 9,437,184 B
    for util in (0.75, 0.77, 0.8):
        v = report(QWEN3_8B, q(gpu="l4", util=util))
        non_kv = v.weights + v.non_torch + v.cuda_graphs + v.activation_peak
        whole = l4 - CONTEXT - v.kv_margin - non_kv
        at_util = max(math.ceil(util * l4) - non_kv, 0)
        capacity = math.ceil(util * l4) - (v.weights + v.non_torch + v.activation_peak)
        first_check = need <= capacity - 36 * 262_144
        warned = [w.message for w in estimate(QWEN3_8B, q(gpu="l4", util=util), model_id="m").warnings]
        said = [m for m in warned if m.startswith(f"util={util:g} keeps ")]
        if util == 0.75:
            # The capacity less a block is short of one request: vLLM stops before warm-up, no warning.
            assert not first_check and not v.starts and said == []
        else:
            assert first_check and whole - at_util >= GiB
            assert said == [said[0]] and said[0].startswith(f"util={util:g} keeps {(whole - at_util) / GiB:.2f} GiB ")
    # util=0.77: the pool at util is below 0 and clamps to it, so the warning gives the whole device's
    # pool, not device - context - margin - util x device (what it is unclamped, 0.02 GiB more).
    v = report(QWEN3_8B, q(gpu="l4", util=0.77))
    non_kv = v.weights + v.non_torch + v.cuda_graphs + v.activation_peak
    assert math.ceil(0.77 * l4) - non_kv < 0 and v.kv_cache_memory == 0
    whole = l4 - CONTEXT - v.kv_margin - non_kv
    unclamped = l4 - CONTEXT - v.kv_margin - math.ceil(0.77 * l4)
    assert f"{whole / GiB:.2f}" != f"{unclamped / GiB:.2f}"
    warned = [w.message for w in estimate(QWEN3_8B, q(gpu="l4", util=0.77), model_id="m").warnings]
    assert any(m.startswith(f"util=0.77 keeps {whole / GiB:.2f} GiB of free device memory") for m in warned)


def test_the_answer_says_what_stays_free_when_util_caps_the_cache() -> None:
    # At util=0.9 the process holds at most the context + 0.9 x the device (weights, graphs, buffers,
    # the pool and the transient together: requested - non_kv_used - transient is the pool), so what
    # stays free is H100 - context - 0.9 x H100, not the 1.58 GiB margin, which only binds at 1.0.
    v = report(QWEN3_8B, q(gpu="h100", util=0.9))
    transient = v.activation_peak - vllm.persistent_runner_bytes(QWEN3_8B, q(gpu="h100"), gpu=lookup_gpu("h100"))
    margin = max(GiB, int(0.75 * transient))
    free = H100 - CONTEXT - math.ceil(0.9 * H100)
    assert free > margin
    line = vllm.ENGINE.summary_line(estimate(QWEN3_8B, q(gpu="h100", util=0.9), model_id="m"), lambda s: s)
    assert line is not None
    assert (
        f"it keeps {free / GiB:.2f} GiB free (what util=0.9 leaves, more than its {margin / GiB:.2f} GiB margin) "
        f"and {transient / GiB:.2f} GiB for transient activations, beside the 0.51 GiB CUDA context;"
    ) in line
    # Left at 1.0 the margin is what stays free.
    line = vllm.ENGINE.summary_line(estimate(QWEN3_8B, q(gpu="h100"), model_id="m"), lambda s: s)
    assert line is not None and f"it keeps {margin / GiB:.2f} GiB free as a margin and " in line


def test_without_the_extensible_cache_0_34_sizes_the_profiled_pool_at_0_92() -> None:
    # config/vllm.py@v0.34.0 _resolve_extensible_kv_cache: "it is only supported on CUDA and ROCm". On
    # another platform (an L40S record marked Intel here) 0.34 falls back to 0.33's profiled budget at
    # DEFAULT_GPU_MEMORY_UTILIZATION = 0.92, with its CUDA-graph estimate, in 64-token blocks.
    intel = lookup_gpu("l40s").model_copy(update={"vendor": "intel"})
    query = q(gpu="l40s", seq_len=32_768)
    assert not vllm.extensible_kv_cache(query, intel) and vllm.extensible_kv_cache(query, lookup_gpu("l40s"))
    v = vllm.vllm_report(QWEN3_8B, query, weights_bytes=weight_bytes(QWEN3_8B), gpu=intel)
    assert v.kv_sizing == "profiled" and v.gpu_memory_utilization == 0.92
    pool = math.ceil(0.92 * L40S) - v.weights - v.activation_peak - v.non_torch - v.cuda_graphs
    bpb = 36 * 64 * 8 * 128 * 2 * 2
    assert v.kv_cache_memory == pool and v.num_gpu_blocks == pool // bpb
    assert v.kv_reserved_memory is None and v.kv_committed_memory is None and v.kv_margin == 0
    assert v.log_lines[0] == f"Available KV cache memory: {round(pool / GiB, 2)} GiB"
    assert v.log_lines[1].startswith("XPU KV cache size: ")
    # The pure functions: the fallback default and the profiled budget vLLM 0.34 then applies.
    profile = vp.PROFILES["0.34"]
    assert vp.default_utilization(profile, extensible=False) == 0.92
    assert vp.default_utilization(profile, extensible=True) == 1.0
    assert vp.available_kv_cache_bytes(profile, 70 * GiB, 20 * GiB, 2 * GiB, extensible_off=True) == 48 * GiB


def test_0_33_answers_keep_their_rules() -> None:
    # 0.33: util 0.92 of the device less weights, activation peak, non-torch memory and the graph
    # estimate, cut into 16-token blocks of 36 x 8 x 128 x 2 x 2 x 16 = 2,359,296 B.
    v = report(QWEN3_8B, q(gpu="l40s", seq_len=32_768, vllm="0.33"))
    pool = math.ceil(0.92 * L40S) - v.weights - v.activation_peak - v.non_torch - v.cuda_graphs
    assert (v.kv_sizing, v.block_size, v.kv_cache_memory) == ("profiled", 16, pool)
    assert v.num_gpu_blocks == pool // 2_359_296
    assert len(v.log_lines) == 2 and v.kv_margin == 0 and v.kv_reserved_memory is None


@pytest.mark.parametrize("after_warmup", [False, True])
def test_the_two_start_checks_and_their_advice(after_warmup: bool) -> None:
    # Llama-3.1-8B on an L4: capacity C blocks (profiled), N committed after warm-up (fewer). A request
    # of 64 N tokens passes the capacity check (C - 1 >= N) but not the committed one (N - 1 < N); one
    # of 64 C tokens fails the capacity check itself, before warm-up.
    base = report(LLAMA, q(gpu="l4", seq_len=4_096))
    bpb = 32 * 64 * 8 * 128 * 2 * 2
    capacity_blocks = base.kv_reserved_memory // bpb  # type: ignore[operator]
    n = base.num_gpu_blocks
    assert n < capacity_blocks - 1
    s = 64 * n if after_warmup else 64 * capacity_blocks
    v = report(LLAMA, q(gpu="l4", seq_len=s))
    assert not v.starts and v.start_error is not None
    if after_warmup:
        available = (n - 1) * bpb
        assert v.estimated_max_model_len == 64 * (n - 1)
        assert (
            "The extensible KV cache already takes all device memory left after the model, its activations, "
            "CUDA graphs and warmup; decrease `max_model_len` or `max_num_seqs`, or the model needs a device "
            "with more memory. CUDA graphs take less with fewer or smaller capture sizes in the compilation "
            "config. Decreasing `max_model_len` also reduces what is needed."
        ) in v.start_error
        # Stopped after warm-up: the capacity was logged, nothing after it.
        assert v.log_lines == (f"Available KV cache memory: {round(base.kv_reserved_memory / GiB, 2)} GiB",)  # type: ignore[operator]
    else:
        available = base.kv_reserved_memory - bpb  # type: ignore[operator]
        assert "The extensible KV cache already takes all device memory left after the model and its activations;" in (
            v.start_error
        )
    assert v.start_error.startswith(
        f"To serve at least one request with the model's max seq len ({s}), ({round(s // 64 * bpb / GiB, 2)} GiB KV "
        f"cache is needed, which is larger than the available KV cache memory ({round(available / GiB, 2)} GiB)."
    )


def test_sm100_captures_the_split_grids() -> None:
    # config/compilation.py@v0.34.0: "54 sizes at 8192" prefill token sizes, "64 sizes at 1024" decode
    # request counts; a B200 (SM100, 16,384 batched tokens and 1,024 sequences by default) takes both.
    b200 = lookup_gpu("b200")
    assert vllm.cuda_graph_counts(QWEN3_8B, q(gpu="b200"), b200) == (54, 64)
    # 0.33 on the same GPU: 1, 2, 4, every 8 to 248, every 16 from 256 to 1,024 = 3 + 31 + 49 sizes,
    # each also a FULL decode graph (all within 1,024 sequences).
    assert vllm.cuda_graph_counts(QWEN3_8B, q(gpu="b200", vllm="0.33"), b200) == (83, 83)
    # Off SM100 0.34 keeps 0.33's counts.
    l40s = lookup_gpu("l40s")
    assert vllm.cuda_graph_counts(QWEN3_8B, q(gpu="l40s"), l40s) == vllm.cuda_graph_counts(
        QWEN3_8B, q(gpu="l40s", vllm="0.33"), l40s
    )


DSV4 = load_model_spec(json.loads((FIXTURES / "calibration2" / "configs" / "deepseek_v4_flash.json").read_text()))
H200 = 150_119_844_413  # what CUDA reports for an H200 141GB (estimator/data/gpus.json)
B200 = 191_501_854_310
# DeepSeek-V4-Flash's pages (fp8_ds_mla, 584 B an entry; every page padded to 576 B multiples):
# C4 latent 64 x 584 = 37,376 -> 37,440; C4 indexer keys 64 x (128 + 4) = 8,448 -> 8,640; C128 latent
# 2 x 584 = 1,168 -> 1,728. The packed planner's widest group is the latent one (21 C4 + 21 indexer +
# 20 C128 pages); the others are narrower: sliding 22 x 37,440 = 823,680, C4 states 21 x (4 x 2 x 2 x
# 512 x 4 -> 32,832 + 4 x 2 x 2 x 128 x 4 -> 8,640) = 870,912, C128 states 20 x 32,832 = 656,640.
DSV4_BLOCK = 21 * 37_440 + 21 * 8_640 + 20 * 1_728


@pytest.mark.parametrize(
    ("gpu", "total", "batched", "per_request"),
    [
        # 8,192 batched tokens, two in flight: latent cdiv(32,768, 256) = 128 pages; two sliding groups
        # cdiv(128 - 1 + 16,384, 64) + 1 = 259 each; C4 states cdiv(8 - 1 + 16,384, 4) + 1 = 4,099; C128
        # states cdiv(128 - 1 + 16,384, 8) + 1 = 2,065.
        ("h200", H200, 8_192, 128 + 2 * 259 + 4_099 + 2_065),
        # B200: 16,384 batched tokens, so every window reaches the whole 32,768 tokens: 2 x (512 + 1),
        # 8,192 + 1, 4,096 + 1.
        ("b200", B200, 16_384, 128 + 2 * 513 + 8_193 + 4_097),
    ],
)
def test_deepseek_v4_flash_tp8_by_hand(gpu: str, total: int, batched: int, per_request: int) -> None:
    # 0.34 plans DeepSeek-V4 as 0.29-0.33 do (_get_packed_kv_cache_groups): 5 groups aliasing one block of
    # the widest group's bytes. Its indexer backend supports only block-outermost layouts (BLHNC,
    # BLNHC), so every tensor shares that one block stride and the extensible cache is ONE segment
    # (ExtensibleKVCache._segments), not a segment per layer: the commit rounds n x 1,002,240 B up to
    # one 2 MiB granule, where 62 layer segments would each be rounded.
    assert DSV4_BLOCK == 1_002_240
    query = q(gpu=gpu, gpus=8, seq_len=32_768)
    v = report(DSV4, query)
    layout, _ = vllm.kv_layout(DSV4, query)
    assert vllm.segment_strides(layout) == (DSV4_BLOCK,)
    assert max(g.page_bytes for g in layout.request_groups) == DSV4_BLOCK and len(layout.request_groups) == 5
    assert (v.max_num_batched_tokens, v.max_num_seqs) == (batched, 1_024)
    assert v.cuda_context == CONTEXT_TP and v.non_torch == 2_120 * MiB
    resident_buffers = vllm.v2_sampler_state_bytes(DSV4, 1_024) + vllm.v2_sampler_tables_bytes(DSV4, 1_024)
    transient = v.activation_peak - resident_buffers
    margin = max(GiB, int(0.75 * transient))
    assert v.kv_margin == margin and v.requested_memory == total
    pool = total - CONTEXT_TP - margin - v.weights - v.non_torch - v.cuda_graphs - v.activation_peak
    assert v.kv_sizing == "extensible" and v.kv_cache_memory == pool
    capacity = total - (v.weights + v.non_torch + v.activation_peak)
    assert v.kv_reserved_memory == capacity
    n = committed_blocks(pool, 1, DSV4_BLOCK, capacity // DSV4_BLOCK)
    assert v.num_gpu_blocks == n
    committed = math.ceil(n * DSV4_BLOCK / GRANULE) * GRANULE
    assert v.kv_committed_memory == committed and committed - n * DSV4_BLOCK < GRANULE
    assert v.max_concurrency == math.floor(n / per_request * 100) / 100
    assert v.kv_cache_tokens == int(n / per_request * 32_768)
    # The engine core logs the capacity line, then the workers "Extended KV cache to ..." (v1/engine/core.py@v0.34.0).
    assert v.log_lines == (
        f"Available KV cache memory: {round(capacity / GiB, 2)} GiB",
        f"GPU KV cache size: {int(n / per_request * 32_768):,} tokens, Maximum concurrency for 32,768 tokens per "
        f"request: {n / per_request:.2f}x",
        f"Extended KV cache to {n} blocks ({committed / GiB:.2f} GiB).",
    )
    # The most requests: their blocks and the null block within the committed blocks.
    est = estimate(DSV4, query, model_id="m")
    assert est.fit is not None and est.fit.fits and est.fit.max_batch == (n - 1) // per_request
    # The KV row of 4 requests: their 4 x per_request blocks and the null block, the one segment's last
    # granule shared over the 4 (a "granules" term; no per-layer rounding).
    four = estimate(DSV4, q(gpu=gpu, gpus=8, seq_len=32_768, batch=4), model_id="m")
    blocks = 4 * per_request + 1
    padding = math.ceil(blocks * DSV4_BLOCK / GRANULE) * GRANULE - blocks * DSV4_BLOCK
    assert four.memory.kv_cache == 4 * per_request * DSV4_BLOCK + 4 * math.ceil(padding / 4)
    (granules,) = [t for t in four.details.kv_terms if t.part == "granules"]
    assert granules.bytes_per_sequence == math.ceil(padding / 4)
    assert sum(t.bytes_per_sequence for t in four.details.kv_terms) * 4 == four.memory.kv_cache


def test_deepseek_v4_keeps_0_33_rules() -> None:
    # 0.33 on the same GPUs: the profiled pool at util 0.92 (no margin, granules or capacity), cut
    # into the same 1,002,240-byte blocks; a 32,768-token request takes the same 6,810 of them.
    v = report(DSV4, q(gpu="h200", gpus=8, seq_len=32_768, vllm="0.33"))
    pool = math.ceil(0.92 * H200) - v.weights - v.activation_peak - v.non_torch - v.cuda_graphs
    n = pool // DSV4_BLOCK
    assert (v.kv_sizing, v.kv_cache_memory, v.num_gpu_blocks) == ("profiled", pool, n)
    assert v.kv_margin == 0 and v.kv_reserved_memory is None and v.kv_committed_memory is None
    assert v.log_lines == (
        f"Available KV cache memory: {round(pool / GiB, 2)} GiB",
        f"GPU KV cache size: {int(n / 6_810 * 32_768):,} tokens, Maximum concurrency for 32,768 tokens per request: "
        f"{n / 6_810:.2f}x",
    )
    four = estimate(DSV4, q(gpu="h200", gpus=8, seq_len=32_768, batch=4, vllm="0.33"), model_id="m")
    assert four.memory.kv_cache == 4 * 6_810 * DSV4_BLOCK
    assert all(t.part != "granules" for t in four.details.kv_terms)
    # The terms 0.34 measures instead are the same on an H200 (SM90: 0.33's CUDA-graph sizes).
    new = report(DSV4, q(gpu="h200", gpus=8, seq_len=32_768))
    assert (new.weights, new.non_torch, new.cuda_graphs, new.activation_peak) == (
        v.weights,
        v.non_torch,
        v.cuda_graphs,
        v.activation_peak,
    )
    # Another KV dtype is refused as in 0.33 (_resolve_dsv4_kv_cache_dtype is unchanged in 0.34).
    assert "with kv=bf16" in (vllm.startup_refusal(DSV4, q(gpu="h200", gpus=8, seq_len=8_192, kv="bf16")) or "")


def test_the_help_gives_the_default_releases_util() -> None:
    # resolved_gpu_memory_utilization (config/cache.py@v0.34.0): 1.0 with the extensible KV cache,
    # which 0.34, the default release, turns on on CUDA and ROCm; 0.92 from 0.20 to 0.33.
    from estimator.grammar import KEYS

    (util,) = [k for k in KEYS if k.name == "util"]
    assert util.default.startswith("1.0 ")
    assert vllm.util_of(q(gpu="h100"), lookup_gpu("h100")) == 1.0
    assert vllm.util_of(q(gpu="h100", vllm="0.33"), lookup_gpu("h100")) == 0.92


def test_no_pool_names_what_0_34_holds_besides_it() -> None:
    # Qwen3-32B in bf16 (61 GiB of weights) on one 24 GB L4: nothing is left for the KV cache. Under
    # 0.34 the CUDA graphs, the context and the margin also come out of the device before the cache.
    qwen32 = load_model_spec(json.loads((FIXTURES / "configs" / "Qwen__Qwen3-32B.json").read_text()))
    new = estimate(qwen32, q(gpu="l4"), model_id="m")
    old = estimate(qwen32, q(gpu="l4", vllm="0.33"), model_id="m")
    (new_note,) = [w.message for w in new.warnings if w.code == "no_kv_pool"]
    (old_note,) = [w.message for w in old.warnings if w.code == "no_kv_pool"]
    assert "margin its extensible KV cache keeps free" in new_note and "margin" not in old_note
    assert "weights and activations leave no room" in old_note


def test_the_refusal_note_gives_the_longest_that_passes_the_check_after_warm_up() -> None:
    # vLLM 0.34's message estimates the longest max_model_len from its check before warm-up (the
    # reserved capacity); its second check, on the committed blocks, can hold less: the note says
    # which is the longest that starts, the one the verdict's s= suggests (fit.max_seq_len).
    cfg = json.loads(
        (Path(__file__).resolve().parents[1] / "fixtures/configs/meta-llama__Llama-3.1-8B.json").read_text()
    )
    est = estimate(load_model_spec(cfg), Query(engine="vllm", gpu="l4", vllm="0.34", seq_len=131072), model_id="m")
    (message,) = [w.message for w in est.warnings if w.code == "max_model_len_refused"]
    assert est.fit is not None and est.fit.max_seq_len
    assert f"where the longest that starts is {est.fit.max_seq_len:,})" in message
    assert "estimated maximum model length is" in message
