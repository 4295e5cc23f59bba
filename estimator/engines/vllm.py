"""The vLLM engine profile: what ``vllm serve`` allocates at start-up, by mechanism.

``vllm=<release>`` picks the release (0.19-0.34, default 0.34): what changed between releases is data
in :mod:`estimator.engines.vllm_profiles` (default utilization, the CUDA-graph estimate taken out of
the pool from 0.20, batch tiers, the token line's wording, the start-up check, hybrid alignment and
state pages), wired in below. The base accounting, as in v0.19 (V1 engine,
``gpu_worker.determine_available_memory``):

* ``requested = gpu_memory_utilization x CUDA total`` (per GPU).
* A profile run pushes ``max_num_batched_tokens`` dummy tokens through the model, then runs the
  sampler on ``min(max_num_seqs, max_num_batched_tokens)`` rows of full-vocabulary logits. The torch
  peak of that run, above the weights, is the *activation peak*.
* Memory that appears outside torch's allocator during the run (cuBLAS workspaces, and with
  tensor parallelism NCCL / all-reduce buffers) is *non-torch* memory.
* ``KV pool = requested - (weights + activation peak + non-torch)``. CUDA graphs are captured
  afterwards and come on top; the pool does not depend on ``max_model_len``.
* The pool is cut into blocks of 16 tokens. Every KV-cache group shares one block count:
  ``num_blocks = pool // (page_bytes x layers_per_group)``; the log's "GPU KV cache size" is
  ``num_blocks // num_groups x 16`` tokens, and "Maximum concurrency" divides ``num_blocks`` by
  the blocks one request of ``max_model_len`` tokens needs (sliding-window groups need only the
  window plus one prefill chunk).

Models that a release serves on Model Runner V2 (``uses_v2_runner``) warm up the sampler V2's way
instead of with the fitted constant: one greedy pass (over an fp32 copy of the logits in 0.22-0.25,
over the model-dtype logits 0.26-0.32), a second fp32 pass from 0.33, and from 0.27 the sampler's
penalty state and request tables count (``v2_sampler_peak``, ``v2_sampler_state_bytes``,
``v2_sampler_tables_bytes``).

From 0.34 the pool is vLLM's extensible KV cache, sized after warm-up and CUDA-graph capture from the
memory then free, util 1.0 only capping it (``extensible_sizing``).

A handful of global constants (``VllmConstants``) are fitted to published start-up logs
(``python -m tools.calibrate``); each has a reason written next to it. Versions differ:
the sampler's bytes per logit dropped from about 36 (v0.16 and earlier images: a full-vocabulary
sort for top-k/top-p) to about 13 (v0.17+: top-k/top-p without that sort), which is most of the
activation peak for models with large vocabularies.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, ClassVar, Literal

from common.errors import InputError, UnmodelledError
from estimator.arith import ceil_div, round_up
from estimator.dtypes import Dtypes, resolve_dtypes
from estimator.engines.base import (
    BaseEngine,
    EngineReport,
    EngineTerms,
    Escape,
    FitFix,
    KvPart,
    KvTerm,
    PoolSummary,
    WeightTerm,
)
from estimator.engines.vllm_profiles import (
    DS_MLA_BYTES_PER_TOKEN,
    DSV4_FP8_DS_MLA_BYTES_PER_TOKEN,
    NEWEST,
    PROFILES,
    BatchTier,
    VllmProfile,
    built_after_release,
    committable_blocks,
    committed_bytes,
    cuda_graph_estimate_taken,
    cudagraph_capture_sizes,
    decode_capture_grid,
    default_utilization,
    dsa_indexer_bytes_per_token,
    estimate_max_model_len,
    extensible_fit_hint,
    extensible_kv_cache_bytes,
    extensible_margin_bytes,
    fit_check_bytes,
    fit_error_message,
    format_gib,
    hybrid_attention_pages,
    hybrid_groups,
    in_flight_batches,
    mamba_blocks_per_request,
    mamba_cache_mode,
    no_kv_memory_message,
    prefill_capture_grid,
    prefill_checkpoint_alignment,
    profile_for,
    release_of,
    serves_on_v2_runner,
)
from estimator.eplb import eplb_served
from estimator.gpus import GPU, lookup_gpu
from estimator.kv import CacheLayout, element_bytes, head_token_bytes, kv_cache_bytes
from estimator.layout import fewest_settings, layout_settings, layout_words
from estimator.memo import by_spec
from estimator.notes import Note, note
from estimator.pipeline import stage_specs
from estimator.spec import (
    DTYPE_BYTES,
    FLOAT_FORMATS,
    Drafter,
    Frozen,
    KVDType,
    LayerKV,
    LinearComponent,
    LinearWeights,
    ModelSpec,
    TorchDType,
    VisionSpec,
    WeightFormat,
)
from estimator.units import gib_text, requests_text, tokens_text
from estimator.weights import (
    checkpoint_scheme_kept,
    conversion_asked,
    gptq_matrices,
    ignored_components,
    linear_bytes,
    matrix_share,
    matrix_values_bytes,
    query_weight_bytes,
    redundant_experts,
    weight_bytes,
    zero_point_matrices,
)

if TYPE_CHECKING:
    from estimator.query import Query
    from estimator.result import Estimate

# The release answers follow when vllm= is not given: the newest profiled one.
DEFAULT_VERSION = NEWEST
# The release the fitted constants and the first calibration set (tests/fixtures/calibration) follow.
VLLM_VERSION = "0.19"

GiB = 1 << 30
KiB = 1 << 10
MiB = 1 << 20
BLOCK_SIZE = 16  # vLLM's default block size on CUDA (tokens per KV block)


class VllmConstants(Frozen):
    """Every constant of the profile, in one place: the few fitted on the calibration logs (not per
    model), then the facts of the vLLM release it follows (per-version data)."""

    # Peak bytes the sampler warm-up holds per logit (rows x vocabulary), on top of the logits the
    # model itself returns in its dtype: the fp32 copy, softmax probabilities, the exponential noise
    # and top-k/top-p temporaries. v0.17+ 12.9 (median over the v0.19 logs whose peak the sampler
    # sets); v0.16 and earlier 36.3 (full-vocabulary sort: fp32 values plus int64 indices).
    sampler_bytes_per_logit: float = 12.9
    # Non-torch memory the profile run adds with one GPU: cuBLAS/cuBLASLt workspaces and kernel
    # modules loaded on first use (0.24-0.25 GiB in every single-GPU v0.19 log).
    non_torch_single_gpu: int = 256 * MiB
    # With tensor parallelism: NCCL channels and all-reduce buffers created on the first collective
    # of the profile run (2.06-2.13 GiB at TP 2 and 4; median 2.07).
    non_torch_tensor_parallel: int = 2120 * MiB
    # CUDA context and the CUDA runtime's own allocations before vLLM measures anything
    # (0.51 GiB single GPU); NCCL communicator set-up adds about 1 GiB per GPU with TP.
    cuda_context: int = 522 * MiB
    cuda_context_tp_extra: int = 1065 * MiB
    # CUDA-graph memory, per captured graph (FULL_AND_PIECEWISE captures a PIECEWISE graph per
    # capture size and a FULL graph per decode size; cudagraph_dispatcher.py). The graphs share one
    # pool and are captured largest first, and each piece's output is only weakly held
    # (compilation/cuda_graph.py), so activations are reused across sizes: at 512 tokens they are
    # tens of MiB (Llama-3.1-8B's gate_up output, 512 x 28,672 x 2 B = 28 MiB), not the 0.9 GiB
    # logged. What grows is per graph and per layer in it: the v0.19 logs (102 graphs) fall from
    # 0.91 to 0.65 and 0.51 GiB as pipeline stages cut Llama-3.1-8B's layers from 32 to 16 and 8,
    # and from 0.91 to 0.76 and 0.67 GiB at TP 2 and 4; fp32 (0.79) is not above bf16 (0.91).
    # Least squares over the dense logs (v0.19 measured graph pools, 0.20-0.27 "Estimated CUDA
    # graph memory" and "CUDA graph pool memory" lines): per graph 3.67 MiB, plus per layer
    # 0.074 MiB and 0.073 MiB / TP. MoE layers hold more (router, top-k, grouped GEMMs): 0.29 MiB
    # more per MoE layer per graph, the median over seven MoE logs (Mixtral 0.05 to DeepSeek-V4-Flash
    # 1.13 MiB, each the mean of its measured pool and its estimate; see engine-notes).
    cuda_graph_per_graph: int = 3760 * KiB
    cuda_graph_per_layer: int = 76 * KiB
    cuda_graph_per_layer_sharded: int = 75 * KiB
    cuda_graph_per_moe_layer: int = 297 * KiB
    # Not fitted, a version fact: the alignment (bytes) both matrix dims of an MXFP4 expert weight
    # are padded to when vLLM's Triton MoE path swizzles it for Hopper. The triton_kernels that vLLM
    # v0.19 vendors pre-pads to 64 (vllm/third_party/triton_kernels/tensor_details/layout_details/
    # hopper_value.py, HopperMXValueLayout.swizzle_data: "Pre-pad both matrix dims to multiples of
    # 64"); the earlier triton_kernels of the v0.11-era images (swizzle_mxfp4_value_hopper) padded
    # only to the MMA tile, which the MXFP4 checkpoints' dims already are (1 = no pre-pad).
    mxfp4_value_align: int = 64
    # vLLM's batch defaults per GPU are release facts: VllmProfile.batch_tiers (vllm_profiles.py).
    # The GPU buffer each MLA backend that allocates one at import holds (see
    # mla_backend_workspace_bytes).
    mla_import_workspace: int = 128 * MiB
    # Not a term of the answer, the size of a caveat: on a start whose torch.compile cache is empty the
    # compile runs inside the profiled window and its temporaries count toward the activation peak
    # (vllm-project/vllm#54122; still so at 0.33.0 and, through the extensible cache's transient
    # reserve, at 0.34.0). Published cold / warm pairs: 0.99 GiB (calibration2 n055, Qwen3-8B, 0.27.1),
    # 1.13 GiB (n066 / n067, Qwen3-8B-AWQ with an EAGLE-3 head, 0.31.0), 0.80 GiB (Llama-3.1-8B AWQ,
    # 0.28.0; docs/engine-notes.md).
    cold_compile_peak: int = GiB


DEFAULT_CONSTANTS = VllmConstants()
# v0.16 and earlier: what the ~v0.11 logs show for the sampler warm-up (36.3 bytes per logit).
LEGACY_CONSTANTS = VllmConstants(sampler_bytes_per_logit=36.3, mxfp4_value_align=1)


@cache
def _resolve(version: str) -> tuple[VllmProfile, str | None]:
    if release_of(version) > release_of(NEWEST):
        # A later release may size its KV cache another way again (0.34 did): no profile stands in.
        raise UnmodelledError(
            f"vllm={version} is past the newest release vram follows, {NEWEST}: vram has not read its start-up "
            f"accounting, and no earlier release's rules stand in for it; use vllm={NEWEST}"
        )
    return profile_for(version)


def version_profile(query: Query) -> tuple[VllmProfile, str | None]:
    """The profile of the release the query names (vllm=, default the newest followed) and, for a
    release that is not profiled, the warning naming the one that stands in for it."""
    return _resolve(query.vllm or DEFAULT_VERSION)


def stand_in(query: Query) -> str | None:
    """What vram applies for a release it has not profiled ("0.19's rules with the pre-0.17 sampler
    warm-up"), None for a profiled one. Releases below the oldest profiled one get its rules; those
    past the newest followed one are refused (:func:`version_profile`)."""
    profile, warning = version_profile(query)
    if warning is None:
        return None
    rules = f"{profile.version}'s rules"
    if query_constants(query) is LEGACY_CONSTANTS:
        rules += " with the pre-0.17 sampler warm-up"
    return rules


def _past_minor(query: Query) -> bool:
    """Whether vllm= names more than a minor release: a patch release or a build ("0.31.1", "0.33.0rc2")."""
    if query.vllm is None:
        return False
    major, minor = release_of(query.vllm)
    return query.vllm != f"{major}.{minor}"


def release_name(query: Query) -> str:
    """The release an answer follows, as the user asked it: "0.33", or "0.10.2 (0.19's rules with the
    pre-0.17 sampler warm-up)" for one vram has not profiled."""
    profile, _ = version_profile(query)
    if (rules := stand_in(query)) is None:
        return profile.version
    return f"{query.vllm} ({rules})"


def _dev_build_warning(query: Query) -> str | None:
    """A pre-release or development build past X.Y.0 (a nightly, "0.33.1rc1.dev50+g..."): sized with
    X.Y's rules, though a main-branch build may already carry the next release's accounting."""
    if query.vllm is None or not built_after_release(query.vllm):
        return None
    major, minor = release_of(query.vllm)
    profile, _ = version_profile(query)
    return (
        f"vLLM {query.vllm} is a build after {major}.{minor}.0 (a nightly or release candidate): vram sizes it "
        f"with {profile.version}'s rules, but a main-branch build may already carry the next release's accounting"
    )


def _release_warning(spec: ModelSpec, query: Query) -> str | None:
    """The warning of a release vram has not profiled: what stands in for what."""
    if stand_in(query) is None:
        return None
    profile, _ = version_profile(query)
    asked = release_name(query).partition(" ")[0]
    line = (
        f"vLLM {asked} is not profiled: vram applies the oldest profiled release's rules, {profile.version}'s "
        "(KV pool, batch defaults, CUDA graphs)"
    )
    legacy = query_constants(query)
    if legacy is LEGACY_CONSTANTS:
        line += (
            f", with the sampler warm-up of 0.16 and earlier ({legacy.sampler_bytes_per_logit:g} bytes per logit "
            f"where 0.17+ takes {DEFAULT_CONSTANTS.sampler_bytes_per_logit:g})"
        )
        if uses_mxfp4_experts(spec, query):
            line += " and MXFP4 expert weights without the Hopper pre-padding"
    # "0.3" for 0.30: a one-digit minor typed alone, whose tens release is profiled, is likely that one.
    major, minor = release_of(asked)
    if minor < 10 and asked.lstrip("v") == f"{major}.{minor}" and f"{major}.{minor * 10}" in PROFILES:
        line += f"; did you mean vllm={major}.{minor * 10}?"
    return line


def _larger_tiers(tiers: tuple[BatchTier, ...]) -> str:
    """The release's tiers above the small one, smallest first, as the no-GPU note words them: the
    device memory each starts at, the GPUs it passes over (A100s, the GB10) and its defaults."""
    above = sorted((t for t in tiers if t.min_memory_bytes), key=lambda t: t.min_memory_bytes)
    if not above:
        return "."
    parts = []
    for t in above:
        but = [name for name, out in (("A100s", t.excludes_a100), ("the GB10", t.excludes_gb10)) if out]
        kept = f", {' and '.join(but)} aside," if but else ""
        parts.append(
            f"GPUs of {t.min_memory_bytes // GiB} GiB and more{kept} get max_num_seqs {t.max_num_seqs:,}, "
            f"max_num_batched_tokens {t.server_batched_tokens:,}"
        )
    return " (" + "; ".join(parts) + ", and more activations)."


def query_constants(query: Query) -> VllmConstants:
    """The constants of the query's release (the sampler changed in v0.17)."""
    return constants_for_version(query.vllm or DEFAULT_VERSION)


def extensible_kv_cache(query: Query, gpu: GPU | None = None) -> bool:
    """Whether the release sizes an extensible KV cache here: 0.34 turns it on by default on CUDA and
    ROCm, and off on other platforms (config/vllm.py@v0.34.0 _resolve_extensible_kv_cache: "it is
    only supported on CUDA and ROCm"). With no GPU named, the CUDA GPUs of the batch defaults."""
    if version_profile(query)[0].kv_sizing != "extensible" or query.kv_cache_memory is not None:
        # "enabled on CUDA and ROCm unless kv_cache_memory_bytes is set" (config/cache.py@v0.34.0)
        return False
    return gpu is None or gpu.vendor in ("nvidia", "amd")


def util_of(query: Query, gpu: GPU | None = None) -> float:
    """gpu_memory_utilization: the query's, else the release's default (0.9 up to 0.19, then 0.92; from
    0.34 1.0 with the extensible KV cache, 0.92 without it: resolved_gpu_memory_utilization)."""
    if query.util is not None:
        return query.util
    return default_utilization(version_profile(query)[0], extensible=extensible_kv_cache(query, gpu))


def followed_versions() -> tuple[str, ...]:
    """The releases vllm= follows (every profiled one)."""
    return tuple(PROFILES)


def constants_for_version(version: str) -> VllmConstants:
    """The constants for a vLLM release ("0.19", "v0.11.0"): the sampler changed in v0.17."""
    return DEFAULT_CONSTANTS if release_of(version) >= (0, 17) else LEGACY_CONSTANTS


# ---------------------------------------------------------------------------------------------
# Scheduler defaults and the GPU

Mxfp4MoeBackend = Literal["triton", "marlin", "flashinfer_trtllm", "rocm"]


class VllmGpu(Frozen):
    """What vLLM decides from the GPU record: the kernels it picks (batch defaults: batch_defaults)."""

    mxfp4_moe_backend: Mxfp4MoeBackend
    mla_import_workspaces: int  # MLA backends whose import allocates a workspace (see below)


@cache
def vllm_gpu(gpu: GPU | None, constants: VllmConstants = DEFAULT_CONSTANTS) -> VllmGpu:
    """The vLLM facts of a GPU record; with no GPU, vLLM's small-GPU batch defaults and the kernels of
    the H100 the profile's logs come from."""
    if gpu is None:
        return VllmGpu(mxfp4_moe_backend="triton", mla_import_workspaces=1)
    sm100 = gpu.vendor == "nvidia" and gpu.compute_capability is not None and gpu.compute_capability[0] == 10
    backend: Mxfp4MoeBackend
    if gpu.vendor == "amd":
        backend = "rocm"
    elif gpu.compute_capability == (9, 0):
        backend = "triton"
    elif sm100:
        backend = "flashinfer_trtllm"
    else:
        backend = "marlin"  # Ampere, Ada and the SM120 Blackwell cards: outside Triton's SM90-SM100 range
    workspaces = 0 if gpu.vendor != "nvidia" else (2 if sm100 else 1)
    return VllmGpu(mxfp4_moe_backend=backend, mla_import_workspaces=workspaces)


def batch_defaults(
    query: Query, gpu: GPU | None, constants: VllmConstants = DEFAULT_CONSTANTS, *, prefix_item_tokens: int = 0
) -> tuple[int, int]:
    """(max_num_batched_tokens, max_num_seqs) as ``vllm serve`` picks them when not given.

    The release's tiers (engine/arg_utils.py get_batch_defaults) read the GPU record: its device
    total, whether it is an A100, whether it is a GB10 (compute capability 12.1). With no GPU at
    all, vLLM's own fallback (the small-GPU defaults) applies. ``prefix_item_tokens`` is a
    multimodal prefix LM's largest item (:func:`prefix_item_floor`; :func:`served_batch` passes it),
    which a default batch is raised to from 0.22.
    """
    tier = _batch_tier(query, gpu)
    seqs = query.max_num_seqs or tier.max_num_seqs
    mnbt = query.max_num_batched_tokens
    if mnbt is None:
        mnbt = tier.server_batched_tokens
        if prefix_item_tokens > mnbt and version_profile(query)[0].raises_prefix_lm_batch:
            # "Raising max_num_batched_tokens from 2048 to 2496 to accommodate 'video' input for
            # prefix-LM model" (engine/arg_utils.py@v0.22.0-v0.34.0, before the cap below).
            mnbt = prefix_item_tokens
        # The default batch is no more than max_num_seqs requests of max_model_len ("Ensure
        # max_num_batched_tokens does not exceed model limit", engine/arg_utils.py@v0.19.0-v0.34.0);
        # an unset max_num_seqs is then no more than that batch. One given is never lowered (above
        # the batch it is refused: _seqs_refusal).
        mnbt = min(seqs * query.seq_len, mnbt)
    return mnbt, seqs if query.max_num_seqs else min(seqs, mnbt)


def served_batch(
    spec: ModelSpec, query: Query, gpu: GPU | None, constants: VllmConstants = DEFAULT_CONSTANTS
) -> tuple[int, int]:
    """:func:`batch_defaults` for this model: a multimodal prefix LM's default batch raised to its
    largest item where the release does. Its max_num_seqs is the same as batch_defaults' (the raise
    only ever lifts a batch already above a tier's max_num_seqs)."""
    return batch_defaults(query, gpu, constants, prefix_item_tokens=prefix_item_floor(spec, query))


def _batch_tier(query: Query, gpu: GPU | None) -> BatchTier:
    """The release's batch tier for the GPU (get_batch_defaults); vLLM's fallback with none."""
    profile, _ = version_profile(query)
    if gpu is not None:
        for candidate in profile.batch_tiers:
            if gpu.memory_bytes < candidate.min_memory_bytes:
                continue
            if candidate.excludes_a100 and gpu.family == "a100":
                continue
            if candidate.excludes_gb10 and gpu.compute_capability == (12, 1):
                continue
            return candidate
    return profile.batch_tiers[-1]


def default_max_num_seqs(query: Query, gpu: GPU | None) -> int:
    """The release's max_num_seqs for the GPU before the batch lowers it (get_batch_defaults)."""
    return _batch_tier(query, gpu).max_num_seqs


def _seqs_refusal(spec: ModelSpec, query: Query) -> str | None:
    """A max_num_seqs given above max_num_batched_tokens: vLLM's scheduler config refuses it
    (config/scheduler.py@v0.19.0-v0.34.0 "max_num_batched_tokens ... must be greater than or equal
    to max_num_seqs"; only an unset max_num_seqs is lowered to the batch). Where the batch is the
    GPU's default and no GPU is named, the tier is not known: no refusal."""
    seqs = query.max_num_seqs
    if seqs is None:
        return None
    if query.max_num_batched_tokens is None and not query.gpu:
        # No GPU: its tier is not known, but above every tier's batch no GPU starts it.
        most = max(t.server_batched_tokens for t in version_profile(query)[0].batch_tiers)
        if seqs <= min(most, seqs * query.seq_len):
            return None
        mnbt = min(most, seqs * query.seq_len)
        return (
            f"vLLM will not start with seqs={seqs:,}: max_num_batched_tokens must be at least max_num_seqs, "
            f"and no GPU's default is more than {mnbt:,} here; use seqs={mnbt}, or mnbt={seqs}"
        )
    mnbt, _ = served_batch(spec, query, lookup_gpu(query.gpu) if query.gpu else None)
    if seqs <= mnbt:
        return None
    which = f"as mnbt={mnbt}" if query.max_num_batched_tokens else "its default here"
    return (
        f"vLLM will not start with seqs={seqs:,}: max_num_batched_tokens ({mnbt:,}, {which}) must be at least "
        f"max_num_seqs; use seqs={mnbt}, or mnbt={seqs}"
    )


def running_requests(query: Query, gpu: GPU | None) -> int:
    """The query's b requests (one replica's share) vLLM runs at once: at most max_num_seqs
    (:meth:`VllmEngine.max_running`); the rest wait, holding no KV blocks."""
    cap = ENGINE.max_running(query, gpu)
    return query.batch if cap is None else min(query.batch, cap)


# ---------------------------------------------------------------------------------------------
# Dtypes


def _act_bytes(spec: ModelSpec, query: Query) -> int:
    """Bytes per element of vLLM's ``--dtype`` (activations, logits): see :mod:`estimator.dtypes`."""
    return DTYPE_BYTES[resolve_dtypes(spec, query).model]


# The most GPUs (tensor x pipeline parallel) a query may span: the gpus= bound.
_MAX_WORLD = 1024
_NO_INT8_KV = "vLLM has no int8 KV cache: use kv=fp8, kv=int8_per_token_head, or kv=auto for the model's dtype"


def kv_cache_dtype(spec: ModelSpec, query: Query) -> KVDType:
    """The KV cache dtype vLLM lays its pages out in: ``auto`` is the model dtype; vLLM has fp8 and
    its quantized layouts (nvfp4, int8_per_token_head) but no plain int8 KV cache.

    vLLM allocates a pool even with kv=off, in the dtype kv=auto would give.
    """
    dtype = resolve_dtypes(spec, query).kv_layout
    if dtype == "int8":
        raise InputError(_NO_INT8_KV)
    if _dsv4_auto_fp8(spec, query) or _dsv4_fp8_pages(spec, query):
        # DeepSeek-V4's pages are fp8_ds_mla whatever is asked; another dtype is refused at start-up
        # (_dsv4_kv_refusal), and sized as the pages vLLM would lay out.
        return "fp8"
    return dtype


def compressed_attention(spec: ModelSpec) -> bool:
    """Whether any of the model's layers keeps a compressed cache (DeepSeek-V4's CSA/HCA)."""
    return _any_compressed(spec.layers)


# Per layer tuple: the KV dtype is asked at every solver probe, and scanning the layers each time
# was a fifth of an estimate's time.
@by_spec(256)
def _any_compressed(layers: tuple[LayerKV, ...]) -> bool:
    return any(layer.compress_rate for layer in layers)


def _dsv4_auto_fp8(spec: ModelSpec, query: Query) -> bool:
    """DeepSeek-V4 on FlashMLA (every CUDA GPU but compute capability 12) under vLLM 0.30+: "auto"
    becomes fp8 in the fp8_ds_mla layout (models/deepseek_v4/attention.py@v0.30.0-v0.34.0
    ``_resolve_dsv4_kv_cache_dtype``); 0.20-0.29 refuse any non-fp8 cache."""
    return (
        query.kv in ("on", "auto", "off") and compressed_attention(spec) and version_profile(query)[0].dsv4_auto_kv_fp8
    )


def _dsv4_fp8_pages(spec: ModelSpec, query: Query) -> bool:
    """Whether vLLM lays DeepSeek-V4's cache out (always in fp8_ds_mla pages: :func:`_deepseek_v4_layout`).
    That is the FlashMLA sparse backend's layout, the one vram sizes on CUDA; 0.34's
    ``_resolve_dsv4_kv_cache_dtype`` also names plain-row bf16 / fp8 caches for backends without it,
    which vram does not model."""
    return compressed_attention(spec) and version_profile(query)[0].dsv4_planner != "none"


def _dsv4_kv_refusal(spec: ModelSpec, query: Query) -> str | None:
    """DeepSeek-V4 starts with an fp8 KV cache only: 0.20-0.29 assert it (so kv=auto, the model's
    bf16, is refused), 0.30+ turn "auto" into fp8 and refuse any other dtype asked
    (models/deepseek_v4/attention.py@v0.30.0 ``_resolve_dsv4_kv_cache_dtype``)."""
    if not compressed_attention(spec) or version_profile(query)[0].dsv4_planner == "none":
        return None
    dtype = resolve_dtypes(spec, query).kv_layout  # what is asked, not the pages' fp8
    if dtype == "fp8" or _dsv4_auto_fp8(spec, query):
        return None
    version = version_profile(query)[0].version
    unsaid = query.kv in ("on", "auto", "off")
    asked = f"the model's {dtype} KV cache (kv= unsaid)" if unsaid else f"kv={query.kv}"
    return f"vLLM {version} will not start DeepSeek-V4 with {asked}: it serves it with an fp8 KV cache only; add kv=fp8"


def _quant_minimum(spec: ModelSpec, query: Query) -> tuple[str, tuple[int, int]] | None:
    """The weights' quantization method as vLLM names it, and the compute capability it needs
    (``QuantizationConfig.get_min_capability``, checked at start-up by config/vllm.py
    ``_get_quantization_config``; the same in the 0.27.1 and 0.34.0 wheels): awq 75, fp8 75 (Marlin
    below 8.9), ModelOpt FP8 80, mxfp4 80, NVFP4 75 (ModelOpt and the compressed-tensors schemes).
    None where the method takes any GPU vram lists (gptq 60, bitsandbytes 70)."""
    asked = query.weight_format
    if asked is None and query.bits is not None:
        return None
    q = spec.quantization
    if asked == "nvfp4" or (asked is None and q.format == "nvfp4"):
        return "NVFP4", (7, 5)
    if asked == "awq" or (asked is None and q.method == "awq"):
        return "AWQ", (7, 5)
    if asked is None and q.method == "modelopt" and q.format == "fp8":
        return "ModelOpt FP8", (8, 0)
    if asked == "fp8" or (asked is None and q.method == "fp8"):
        return "FP8", (7, 5)
    if asked == "mxfp4" and q.method == "none" and "mxfp4" in version_profile(query)[0].online_quant_formats:
        return "online MXFP4", (7, 5)  # OnlineQuantizationConfig (online/base.py@v0.34.0): 75
    if asked == "mxfp4" or (asked is None and q.method == "mxfp4"):
        return "MXFP4", (8, 0)
    if asked in ("int8", "int4") or (asked is None and q.method == "compressed-tensors"):
        # compressed-tensors checks its config (70), then each layer's scheme: W8A8 FP8 falls back to
        # W8A16 FP8 (75) below 8.9, WNA16 75, W8A8 int8 75, W4A4 NVFP4 75, W4A4 MXFP4 80
        # (compressed_tensors/schemes/*.py@v0.27.1 and @v0.34.0 get_min_capability).
        fmt = asked or q.format
        return f"compressed-tensors {fmt.upper()}", ((8, 0) if fmt == "mxfp4" else (7, 5))
    return None


def _quant_capability_refusal(spec: ModelSpec, query: Query) -> str | None:
    """Weights whose quantization method needs a newer GPU than the one named: vLLM raises "The
    quantization method ... is not supported for the current GPU" before loading."""
    gpu = lookup_gpu(query.gpu) if query.gpu else None
    needed = _quant_minimum(spec, query)
    if needed is None or gpu is None or gpu.compute_capability is None or gpu.compute_capability >= needed[1]:
        return None
    name, (need_major, need_minor) = needed
    major, minor = gpu.compute_capability
    return (
        f"its {name} kernels need compute capability {need_major}.{need_minor} or newer, and the {gpu.name} "
        f"is {major}.{minor}"
    )


# Model types vLLM will not run in fp16 (config/model.py@v0.33.0 _FLOAT16_NOT_SUPPORTED_MODELS,
# "Numerical instability"): without bf16, --dtype auto falls back to float32 for them.
_NO_FP16_MODEL_TYPES = frozenset({"gemma2", "gemma3", "gemma3_text", "glm4"})


def auto_dtype_spec(spec: ModelSpec, query: Query, gpu: GPU | None) -> tuple[ModelSpec, str | None]:
    """A float32 checkpoint as vLLM's default ``--dtype auto`` serves it: in the platform's first
    dtype the model takes, bf16, or fp16 on GPUs without it, float32 only where the model refuses fp16
    there (config/model.py@v0.34.0 ``_resolve_auto_dtype``: "Downcast for float32 models"). The
    float32 tensors load at half their stored bytes; a config naming no dtype reads as float32 there
    too (``get_torch_dtype``), which is the bf16 vram assumes. A float ``dtype=``/``p=`` keeps what it
    asks; a quantized one still runs on the cast model dtype."""
    # A float dtype asked (dtype=fp32/bf16/fp16, p=16/32) sets --dtype; a quantized format does not
    # change the model dtype auto resolves, which its unquantized tensors and the KV cache follow.
    float_asked = query.weight_format in FLOAT_FORMATS or query.bits in (16, 32)
    if spec.torch_dtype != "fp32" or float_asked:
        return spec, None
    if query.method != "calibrated":
        return spec, None
    target: TorchDType = "bf16"
    if gpu is not None and not gpu.bf16:
        if spec.model_type in _NO_FP16_MODEL_TYPES:
            return spec, None
        target = "fp16"
    update: dict[str, object] = {"torch_dtype": target}
    if spec.quantization.method == "none":
        update["quantization"] = spec.quantization.model_copy(update={"format": target})
    if spec.checkpoint_bytes is not None and spec.checkpoint_fp32_bytes is not None:
        update["checkpoint_bytes"] = spec.checkpoint_bytes - spec.checkpoint_fp32_bytes // 2
        update["checkpoint_fp32_bytes"] = 0
    name = "bfloat16" if target == "bf16" else "float16"
    return spec.model_copy(update=update), (
        f"The checkpoint is float32: vLLM's --dtype auto serves it in {name}, half the bytes, and vram sizes "
        f"that (add dtype=fp32 to size --dtype float32)."
    )


def bf16_refusal(spec: ModelSpec, query: Query, gpu: GPU | None) -> str | None:
    """A bf16 model on a GPU without bf16 (compute capability below 8.0). vLLM's default ``--dtype
    auto`` keeps the first of the platform's dtypes the model takes (config/model.py@v0.33.0
    ``_resolve_auto_dtype``: fp16, then fp32, on 7.x, platforms/cuda.py ``supported_dtypes``) and
    warns "Falling back to float16": the same bytes, so nothing to refuse. An explicit dtype=bf16 is
    refused at start-up (platforms/cuda.py@v0.33.0 ``check_if_supports_dtype``); a model type vLLM
    refuses fp16 for falls back to float32, twice the bytes vram sized."""
    if gpu is None or gpu.bf16 or query.method != "calibrated":
        return None
    if query.weight_format == "bf16":
        return (
            f"vLLM will not start with dtype=bf16 on the {gpu.name}: bfloat16 needs compute capability 8.0; "
            "drop dtype= (its --dtype auto serves the model in fp16, the same size) or use dtype=fp16"
        )
    if resolve_dtypes(spec, query).model == "bf16" and spec.model_type in _NO_FP16_MODEL_TYPES:
        return (
            f"vram sized bf16, but vLLM serves {spec.model_type} in float32 on the {gpu.name} (no bf16, and it "
            f"refuses fp16 for {spec.model_type}), twice those bytes: add dtype=fp32 to size that"
        )
    return None


def _async_refusal(query: Query) -> str | None:
    """async=on where vram does not know what it changes: before 0.26 (its windows then reserve one
    batch whatever the scheduler does, and vram has not read the flag's effect there), and with
    pipeline stages (the V1 model runner refuses it there, config/vllm.py@v0.33.0
    ``v1_async_sched_incompat``)."""
    if query.async_scheduling is not True or query.method != "calibrated":
        return None
    profile, _ = version_profile(query)
    if not profile.windows_reserve_in_flight:
        return (
            f"vram does not size async=on (--async-scheduling) at vLLM {profile.version}: it follows async "
            "scheduling from 0.26, where it is the default and windowed layers keep two batches in flight; "
            "drop it, or use vllm=0.26 or later"
        )
    if query.pp > 1:
        return (
            f"vram does not size async=on (--async-scheduling) with pp={query.pp}: vLLM's V1 model runner "
            "refuses async scheduling with pipeline parallelism; drop one"
        )
    return None


def kv_dtype_refusal(query: Query, gpu: GPU | None) -> str | None:
    """Why the release (or the GPU, when named) does not take the query's quantized KV dtype.

    ``int8_per_token_head`` and ``nvfp4`` enter ``CacheDType`` in 0.20.0 (``config/cache.py@v0.20.0``;
    neither is in 0.19.0). int8_per_token_head is served by the Triton backend
    (``v1/attention/backends/triton_attn.py@v0.20.0``) on any GPU. nvfp4 is listed by FlashInfer from
    0.21.0; 0.20.0's FlashInfer builder raises "nvfp4 KV cache is not yet supported". Its kernels are
    trtllm-gen's, for the sm100 family only ("--kv-cache-dtype nvfp4 requires sm100f",
    ``flashinfer.py@v0.23.0``; ``supports_kv_cache_dtype`` checks ``is_device_capability_family(100)``
    in 0.26.0-0.31.0) until 0.32.0 adds an FA2 path for sm80, sm90 and sm120 (``_nvfp4_kv_on_fa2``)."""
    if query.kv not in ("nvfp4", "int8_per_token_head"):
        return None
    profile, _ = version_profile(query)
    arrived = profile.has_int8_per_token_head_kv if query.kv == "int8_per_token_head" else profile.nvfp4_kv != "none"
    if not arrived:
        return f"vLLM {profile.version} has no {query.kv} KV cache (it arrived in 0.20): use vllm=0.20 or later"
    if query.kv == "int8_per_token_head":
        return None
    if profile.nvfp4_kv == "unimplemented":
        return (
            f"vLLM {profile.version} lists nvfp4 but its FlashInfer backend does not implement it yet: "
            "use vllm=0.21 or later"
        )
    if gpu is None or gpu.vendor != "nvidia" or gpu.compute_capability is None:
        return None if gpu is None else f"vLLM's nvfp4 KV cache runs on NVIDIA GPUs only, not on {gpu.name}"
    family = gpu.compute_capability[0]
    if family == 10:
        return None
    fa2 = profile.nvfp4_kv == "fa2"
    if fa2 and family in (8, 9, 12):
        return None
    where = "sm80, sm90, sm100 and sm120 GPUs" if fa2 else "sm100-family GPUs (B200, GB200, B300, GB300)"
    return f"vLLM {profile.version}'s nvfp4 KV cache runs on {where} only, not on {gpu.name}"


# ---------------------------------------------------------------------------------------------
# Weights as vLLM loads them


# Model types whose sliding layers build their own rotary embedding: gemma-3 gives them the default
# rope at ``rope_local_base_freq`` and its full layers the config's (scaled) rope
# (models/gemma3.py Gemma3Attention), so ``get_rope`` caches two tables.
_LOCAL_ROPE_TYPES = frozenset({"gemma3", "gemma3_text"})
# gemma-4 builds one table per layer type, each of its layers' head size (models/gemma4.py@v0.23.0
# Gemma4Attention: get_rope(head_dim, rope_parameters[layer_type])): the sliding layers' default
# rope, and the global layers' "proportional" rope, whose Gemma4RotaryEmbedding keeps
# ``rotary_dim = head_size`` (zero angles past partial_rotary_factor;
# layers/rotary_embedding/gemma4_rope.py@v0.23.0, @v0.33.0). gemma-4-31b: 262,144 x (256 + 512) x 2 B.
_PER_KIND_ROPE_TYPES = frozenset({"gemma4", "gemma4_text"})


def rope_cache_bytes(spec: ModelSpec, query: Query) -> int:
    """The rotary cos/sin caches, per GPU (not split by TP): one ``(rows x rotary_dim)`` table in
    the model dtype per distinct rope (``get_rope`` caches by its arguments).

    The table's rows are the scaled positions: linear and dynamic-NTK scaling build
    ``max_position x factor`` rows (layers/rotary_embedding/linear_scaling_rope.py: "the maximum
    length after applying the rope scaling is self.max_position_embeddings * self.scaling_factor"),
    YaRN ``original x factor``; llama3 and unscaled ropes the positions as given
    (``spec.scaled_max_positions``). gemma-3's sliding layers add an unscaled table of
    ``max_position_embeddings`` rows: gemma-3-4b (131,072 positions, linear x 8, head_dim 256) holds
    1,048,576 + 131,072 rows, 576 MiB in bf16."""
    if not spec.max_position_embeddings:
        return 0
    if spec.rope_head_dim:
        # DeepSeek-V4 (models/deepseek_v4.py@v0.21.0, models/deepseek_v4/common/rope.py@v0.33.0):
        # DeepseekV4ScalingRotaryEmbedding keeps its cos / sin cache in fp32 over qk_rope_head_dim,
        # one table per rope base (rope_theta, compress_rope_theta on compressed layers).
        rows = spec.scaled_max_positions or spec.max_position_embeddings
        return spec.rope_bases * rows * spec.rope_head_dim * 4
    mla = next((layer for layer in spec.layers if layer.kind == "mla"), None)
    rotary_dim = mla.value_dim if mla is not None else spec.head_dim
    # gpt-oss builds its rotary embedding in fp32 (models/gpt_oss.py OAIAttention: get_rope(...,
    # dtype=torch.float32)); every other model in the model dtype.
    dtype_bytes = 4 if spec.model_type == "gpt_oss" else _act_bytes(spec, query)
    rows = spec.scaled_max_positions or spec.max_position_embeddings
    if spec.model_type in _PER_KIND_ROPE_TYPES:
        dims = {layer.kind: layer.key_dim for layer in spec.layers if layer.kind in ("full", "sliding")}
        return spec.max_position_embeddings * sum(dims.values()) * dtype_bytes
    if spec.model_type in _LOCAL_ROPE_TYPES:
        rows += spec.max_position_embeddings
    return rows * rotary_dim * dtype_bytes


# MLA models: attention-backend workspaces that importing the backends allocates.
#
# Building the first MLAAttention layer (model_executor/layers/attention/mla_attention.py:
# get_attn_backend(..., use_mla=True)) makes CudaPlatform.get_valid_backends (platforms/cuda.py)
# import EVERY backend in the MLA priority list to validate it, not just the one it picks. Two of
# those modules allocate a GPU buffer at import, on the worker's GPU and inside the "Model loading"
# window (the DeviceMemoryProfiler around load_model):
# - v1/attention/backends/mla/flashinfer_mla.py: ``g_fi_workspace = torch.zeros(128 MiB)``. FLASHINFER_MLA
#   is in the list on every CUDA GPU (Hopper's list: FLASH_ATTN_MLA, FLASHMLA, FLASHINFER_MLA,
#   TRITON_MLA, FLASHMLA_SPARSE), so Hopper pays it while running FLASH_ATTN_MLA. The import needs
#   flashinfer-python, which vLLM's CUDA build ships.
# - v1/attention/backends/mla/cutlass_mla.py: ``g_sm100_workspace = SM100Workspace(128 MiB)``; CUTLASS_MLA is
#   listed only for compute capability 10 (B200/GB200).
# Imported once per process, so once per GPU, whatever the TP size. DeepSeek-V2-Lite logs 29.43 / 14.83
# / 7.51 GiB at TP 1 / 2 / 4; the split checkpoint plus rope is 29.28 / 14.68 / 7.38, 0.13-0.15 GiB
# short at every TP; with the workspace 29.40 / 14.81 / 7.51 (the rest, <= 0.03 GiB, is the caching
# allocator's rounding of the 11 MiB shared-expert matrices at TP 1 / 2). ROCm's list
# (platforms/rocm.py) has neither backend.
def mla_backend_workspace_bytes(spec: ModelSpec, gpu: GPU | None, constants: VllmConstants = DEFAULT_CONSTANTS) -> int:
    """GPU buffers that importing vLLM's MLA attention backends allocates, per GPU (MLA models only).

    With no GPU named, the H100 the profile's logs come from.
    """
    if not any(layer.kind == "mla" for layer in spec.layers):
        return 0
    return constants.mla_import_workspace * vllm_gpu(gpu, constants).mla_import_workspaces


def text_only(spec: ModelSpec, query: Query) -> bool:
    """True when vLLM starts a multimodal model without its vision tower: ``--limit-mm-per-prompt``
    0 for every modality (or ``--language-model-only``). SupportsMultiModal._mark_tower_model
    (model_executor/models/interfaces.py@v0.19.0) then builds the tower as a StageMissingLayer, so its
    weights are neither allocated nor loaded, and the encoder is not profiled."""
    return spec.vision is not None and query.mm_limit == 0


def prefix_item_floor(spec: ModelSpec, query: Query) -> int:
    """The fewest batched tokens a multimodal prefix LM starts with: its largest item, which vLLM
    prefills whole (platforms/cuda.py sets disable_chunked_mm_input for it, and the encoder budget,
    v1/core/encoder_cache_manager.py compute_mm_encoder_budget, raises "Chunked MM input disabled but
    max_tokens_per_mm_item ... is larger than max_num_batched_tokens" at start-up); 0 where items are
    chunked or the tower is not started (mm=0)."""
    if spec.vision is None or text_only(spec, query):
        return 0
    return spec.vision.prefix_item_tokens


def _small_batch(spec: ModelSpec, query: Query) -> int:
    """The smaller batch vram offers (mnbt=2048), no smaller than a prefix LM's largest item."""
    return max(_SMALL_BATCHED_TOKENS, prefix_item_floor(spec, query))


def _prefix_batch_refusal(spec: ModelSpec, query: Query) -> str | None:
    """A batch below a multimodal prefix LM's largest item: vLLM stops at start-up. A default batch is
    raised to the item from 0.22 (``VllmProfile.raises_prefix_lm_batch``), not in 0.20-0.21."""
    floor = prefix_item_floor(spec, query)
    if not floor:
        return None
    given = query.max_num_batched_tokens
    batched, _ = served_batch(spec, query, lookup_gpu(query.gpu) if query.gpu else None)
    capped = given is None and query.max_num_seqs is not None and batched == query.max_num_seqs * query.seq_len
    if batched >= floor or (given is None and not query.gpu and not capped):
        return None  # with no GPU and no seqs x s cap, the default's tier is not known
    which = f"mnbt={given}" if given is not None else "the default, at most seqs x s" if capped else "its default here"
    return (
        f"vLLM will not start with max_num_batched_tokens {batched:,} ({which}): {spec.model_type} prefills "
        f"each image or video whole, up to {floor:,} tokens; use mnbt={floor}, or mm=0 for text only"
    )


def text_only_saving_bytes(spec: ModelSpec, query: Query) -> int:
    """The vision tower and projector's bytes a text-only start does not load (replicated on every
    GPU, in the checkpoint's dtype, as :mod:`estimator.weights` counts them)."""
    return spec.params.vision * DTYPE_BYTES[spec.torch_dtype] if text_only(spec, query) else 0


# Model types whose vision (and audio) towers vLLM builds as replicated modules, whole on every GPU
# whatever the TP size. Gemma 4 (models/gemma4_mm.py@v0.23.0, @v0.25.0, @v0.28.0, @v0.30.0, @v0.33.0):
# the tower is transformers' own module (``AutoModel.from_config``), whose nn.Linear layers
# ``recursive_replace_linear`` swaps for ReplicatedLinear (style "replicate",
# models/transformers/utils.py), and the ``embed_vision`` projection is a ReplicatedLinear. Gemma 3n
# (models/gemma3n_mm.py@v0.33.0) builds its towers with ``AutoModel.from_config`` too.
_REPLICATED_TOWER_TYPES = frozenset({"gemma4", "gemma3n"})


def vision_split_saving_bytes(spec: ModelSpec, query: Query) -> int:
    """What tensor parallelism takes off the vision tower vLLM splits, per GPU.

    :mod:`estimator.weights` counts a vision tower as replicated (what transformers does), but vLLM
    builds the HF-format towers from QKVParallelLinear / ColumnParallelLinear / RowParallelLinear
    (model_executor/models/mllama4.py, pixtral.py PixtralHF*, siglip.py, clip.py, qwen2_5_vl.py,
    qwen3_vl.py, intern_vit.py, idefics2_vision_model.py @v0.19.0), so each GPU holds 1/tp of
    its matrices, which are nearly all of its bytes (Llama-4-Scout at TP 4: 1.22 of its 1.62 GiB
    tower is not on each GPU; the logs put its weights 1.19 GiB under the replicated count).
    Pixtral in Mistral's own format (nn.Linear), ``mm_encoder_tp_mode=data`` and the towers of
    :data:`_REPLICATED_TOWER_TYPES` (Gemma 4's) stay replicated.
    """
    if spec.vision is None or query.gpus == 1 or text_only(spec, query):
        return 0
    if spec.model_type in _REPLICATED_TOWER_TYPES:
        return 0
    fmt = query.weight_format
    dtype_bytes = DTYPE_BYTES[fmt] if fmt in FLOAT_FORMATS else DTYPE_BYTES[spec.torch_dtype]
    tower = spec.params.vision * dtype_bytes
    return tower - ceil_div(tower, query.gpus)


def mtp_tokens(query: Query) -> int:
    """``num_speculative_tokens`` of MTP speculative decoding (0: off)."""
    return query.mtp or 0


def mtp_refusal(spec: ModelSpec, query: Query) -> str | None:
    """vLLM's MTP proposer loads the checkpoint's own MTP layers: none, no start."""
    if mtp_tokens(query) and spec.mtp_layers == 0:
        return f"{spec.model_type} ships no MTP layers (mtp_num_hidden_layers / num_nextn_predict_layers)"
    return None


def mtp_kv_layers(spec: ModelSpec, query: Query) -> tuple[LayerKV, ...]:
    """The MTP layers' caches: each MTP layer is one decoder layer with the model's full attention
    (Qwen3-Next / Qwen3.5 ``Qwen3NextMultiTokenPredictor``: a ``full_attention`` layer; DeepSeek
    ``DeepSeekMultiTokenPredictorLayer``: an MLA layer with the indexer where the model has one). The
    drafter runs in the same model runner, so its attention layers join the target's KV-cache groups
    (v1/worker/gpu_model_runner.py get_kv_cache_spec walks every attention layer of the forward
    context); with 3 speculative tokens one MTP layer is reused, it is cached once."""
    if not mtp_tokens(query) or not spec.mtp_layers:
        return ()
    full = [layer for layer in spec.layers if layer.kind in ("full", "mla")]
    if not full:
        raise InputError(f"{spec.model_type}: no full-attention layer to model its MTP layers on")
    return (full[-1],) * spec.mtp_layers


def mtp_weight_bytes(spec: ModelSpec, query: Query) -> int:
    """Per GPU, the MTP layers vLLM loads beside the model: per layer one full-attention decoder
    layer (its attention and MLP / MoE share of the checkpoint) and the ``fc`` / ``eh_proj`` that
    joins the hidden state and the next token's embedding (2 x hidden -> hidden), all split by
    tensor parallelism. The embedding and the LM head are the target's (EagleProposer.load_model
    shares them when the shapes match). Counted in the checkpoint's unquantized dtype, except where
    the checkpoint's FP8 quantization covers the MTP layer (:func:`_fp8_mtp_layer_bytes`)."""
    if not mtp_tokens(query) or not spec.mtp_layers:
        return 0
    if compressed_attention(spec):
        return _deepseek_v4_mtp_bytes(spec, query)
    if _mtp_layer_fp8(spec):
        return spec.mtp_layers * _fp8_mtp_layer_bytes(spec, query.gpus)
    p = spec.params
    n_attn = sum(1 for layer in spec.layers if layer.kind in ("full", "sliding", "mla")) or 1
    attention = p.attention // n_attn
    if spec.num_moe_layers:
        mlp = (p.routed_experts + p.shared_experts + p.router) // spec.num_moe_layers
    else:
        mlp = p.dense_mlp // max(spec.num_layers, 1)
    per_layer = attention + mlp + 2 * spec.hidden_size * spec.hidden_size + 4 * spec.hidden_size
    return ceil_div(per_layer * spec.mtp_layers, query.gpus) * DTYPE_BYTES[spec.torch_dtype]


_DEEPSEEK_MTP_TYPES = ("deepseek_v3", "deepseek_v32", "glm_moe_dsa")


def _mtp_layer_fp8(spec: ModelSpec) -> bool:
    """Whether vLLM loads the MTP decoder layer in the checkpoint's FP8: DeepSeekMTP builds its
    ``mtp_block`` (a DeepseekV2DecoderLayer) with the model's quant config
    (models/deepseek_mtp.py@v0.20.0, @v0.33.0), and ``Fp8Config.get_quant_method`` quantizes every
    linear and MoE layer its ``ignored_layers`` does not name (layers/quantization/fp8.py@v0.20.0,
    @v0.33.0). DeepSeek-V3's block-FP8 checkpoint stores layer 61 (its MTP layer) in FP8 with block
    scales. An ignore entry naming the MTP layer (``mtp`` or ``layers.<num_hidden_layers>.``) keeps
    it unquantized. Only the types vLLM builds as DeepSeekMTP (``SpeculativeConfig.hf_config_override``,
    config/speculative.py@v0.20.0, @v0.33.0); other MTP modules keep the unquantized rule (an NVFP4
    checkpoint's MTP layer loads unquantized: "Using FlashInfer CUTLASS Unquantized MoE backend",
    calibration2 n047)."""
    q = spec.quantization
    if spec.model_type not in _DEEPSEEK_MTP_TYPES or q.method != "fp8" or q.format != "fp8" or q.expert_format:
        return False
    mtp_names = ("mtp", f"layers.{spec.num_layers}.")
    return not any(name in entry for entry in q.skipped_modules for name in mtp_names)


def _fp8_mtp_layer_bytes(spec: ModelSpec, gpus: int) -> int:
    """One FP8 MTP layer per GPU: one decoder layer's attention and MoE (or dense MLP) matrices in the
    checkpoint's FP8 with its scales, split over TP as the model's own layers; their norms and the
    router in the torch dtype; ``eh_proj`` (an ``nn.Linear``, 2 x hidden -> hidden, neither quantized
    nor split: models/deepseek_mtp.py@v0.20.0, @v0.33.0) and five norms (``enorm``, ``hnorm``,
    ``shared_head.norm``, the decoder layer's two) in the torch dtype. The embedding and
    ``shared_head.head`` are the target's (shared on load)."""
    p = spec.params
    n_attn = sum(1 for layer in spec.layers if layer.kind in ("full", "sliding", "mla")) or 1
    mlp_components = ("routed_experts", "shared_experts") if spec.num_moe_layers else ("dense_mlp",)
    mlp_layers = spec.num_moe_layers or max(spec.num_layers, 1)
    per_layer: list[LinearWeights] = []
    for lin in spec.linears:
        if lin.component == "attention":
            per_layer.append(lin.model_copy(update={"count": lin.count // n_attn}))
        elif lin.component in mlp_components:
            per_layer.append(lin.model_copy(update={"count": lin.count // mlp_layers}))
    linear_elements = sum(lin.in_features * lin.out_features * lin.count for lin in per_layer)
    mlp_total = p.routed_experts + p.shared_experts if spec.num_moe_layers else p.dense_mlp
    mlp_params = mlp_total // mlp_layers
    # Attention norms (q_a / kv_a layernorms) and the router (with its score bias) are not matrices.
    unquantized = p.attention // n_attn + mlp_params - linear_elements
    if spec.num_moe_layers:
        unquantized += p.router // spec.num_moe_layers
    unquantized += 2 * spec.hidden_size * spec.hidden_size + 5 * spec.hidden_size
    return linear_bytes(spec, tuple(per_layer), gpus=gpus) + unquantized * DTYPE_BYTES[spec.torch_dtype]


def _deepseek_v4_mtp_bytes(spec: ModelSpec, query: Query) -> int:
    """DeepSeek-V4's MTP layers as vLLM loads them (models/deepseek_v4_mtp.py@v0.21.0,
    models/deepseek_v4/nvidia/mtp.py@v0.33.0): per layer one decoder block in the checkpoint's own
    formats (its MXFP4 experts, block-fp8 linears), here the model's average decoder layer at the
    query's tensor parallelism (its compressors, a few MiB, included), plus ``e_proj`` and ``h_proj``
    (ReplicatedLinear, hidden x hidden each, quantized like the linears). The embedding and the head
    the checkpoint stores beside each MTP layer are dropped for the target's on load
    (v1/spec_decode/llm_base_proposer.py ``_maybe_share_embeddings`` / ``_maybe_share_lm_head``)."""
    gpus = query.gpus
    vocab = ceil_div(spec.vocab_size, gpus) * spec.hidden_size * DTYPE_BYTES[spec.torch_dtype]
    heads = 0 if spec.tie_word_embeddings else vocab
    layer = (weight_bytes(spec, gpus=gpus) - vocab - heads) // spec.num_layers
    joins = (
        LinearWeights(
            component="attention", in_features=spec.hidden_size, out_features=spec.hidden_size, count=2, split="none"
        ),
    )
    return spec.mtp_layers * (layer + linear_bytes(spec, joins, gpus=gpus))


def speculative_tokens(spec: ModelSpec, query: Query) -> int:
    """``num_speculative_tokens`` of the speculative config: the drafter's (spec=) or MTP's (mtp=).
    Every method widens the Mamba / GDN conv window, the state pages per request and the CUDA-graph
    capture sizes alike (model_executor/layers/mamba/abstract.py@v0.20.2 reads it from the
    speculative config, whatever the method)."""
    if spec.drafter is not None:
        return query.spec or 0
    return mtp_tokens(query)


class Unmodelled(str):
    """A refusal that is a limit of vram's (a layout it has not read: exit 1), not a setting vLLM
    refuses (exit 2)."""


def drafter_method_refusal(method: str, profile: VllmProfile) -> str | None:
    """Why the release runs (or vram sizes) no drafter of ``method`` at all, whatever its checkpoint."""
    version = profile.version
    if method == "dflash" and profile.dflash_layers == "none":
        return (
            f"vLLM {version} has no DFlash drafter (model_executor/models/qwen3_dflash.py arrives in 0.20): "
            "use vllm=0.20 or later"
        )
    if not profile.reads_eagle_and_draft_models:
        built = {"eagle3": "builds an EAGLE-3 drafter", "eagle": "builds an EAGLE drafter"}
        return Unmodelled(
            f"vram has not read how vLLM {version} {built.get(method, 'runs a draft model')} (it sizes them from 0.20)"
        )
    return None


def drafter_refusal(spec: ModelSpec, query: Query) -> str | None:
    """Why vLLM would not start this drafter, or why vram cannot say what it holds (one sentence)."""
    drafter = spec.drafter
    if drafter is None:
        return None
    profile = version_profile(query)[0]
    version = profile.version
    if (why := _aux_hidden_state_target_refusal(spec, drafter, profile)) is not None:
        return why
    if (why := _target_hidden_state_refusal(spec, drafter, profile)) is not None:
        return why
    if drafter.method == "eagle3":
        return _eagle3_refusal(drafter, profile)
    if drafter.method == "eagle":
        return _eagle_refusal(spec, drafter, profile)
    if drafter.method == "draft_model":
        return _draft_model_refusal(spec, drafter, query, profile)
    if why := drafter_method_refusal(drafter.method, profile):
        return why
    layers = [layer for layer in drafter.spec.layers if layer.kind != "none"]
    if any(layer.kind not in ("full", "sliding") for layer in layers):
        return Unmodelled(f"the drafter {drafter.model_id} has layers other than attention, which vram does not size")
    sliding = sum(layer.kind == "sliding" for layer in layers)
    if sliding and profile.dflash_layers == "unread":
        return Unmodelled(
            f"vram has not read how vLLM {version} keeps the sliding layers of a DFlash drafter "
            "(0.24 makes them full attention, 0.26 sliding)"
        )
    if profile.dflash_layers == "layer_types" and any(x.kind == "sliding" and x.window is None for x in layers):
        return (
            f"the drafter {drafter.model_id} has sliding layers but no window: its config leaves "
            "use_sliding_window off (then transformers' config has no sliding_window, whatever the file says) "
            f"and sets no dflash_config.swa_window_size, so vLLM {version} refuses to start it"
        )
    return None


def _mixed_dflash(spec: ModelSpec) -> bool:
    """A DFlash drafter whose layers mix sliding and full attention (config/vllm.py
    ``_dflash_needs_multi_kv_group``: by ``layer_types``)."""
    drafter = spec.drafter
    if drafter is None or drafter.method != "dflash":
        return False
    layers = [layer for layer in drafter.spec.layers if layer.kind != "none"]
    sliding = sum(layer.kind == "sliding" for layer in layers)
    return 0 < sliding < len(layers)


def _aux_hidden_state_target_refusal(spec: ModelSpec, drafter: Drafter, profile: VllmProfile) -> str | None:
    """Up to 0.21 EAGLE-3 and DFlash start only for the target types the release lists; from 0.22
    the check is the target class's SupportsEagle3 interface at load time, which vram does not follow."""
    supported = profile.aux_hidden_state_target_types
    if drafter.method not in ("eagle3", "dflash") or supported is None or spec.vision is not None:
        # A multimodal target is checked by its text config's type, which the spec does not keep.
        return None
    if any(name in spec.model_type for name in supported):
        return None
    return (
        f"vLLM {profile.version} starts {drafter.method} only for {', '.join(supported)} targets, not {spec.model_type}"
    )


def _target_hidden_state_refusal(spec: ModelSpec, drafter: Drafter, profile: VllmProfile) -> str | None:
    """An EAGLE-3 or DFlash ``fc`` the target cannot feed. The fc takes ``target_hidden_size`` (else
    the drafter's width) per tapped layer (llama_eagle3.py, qwen3_dflash.py @v0.20.0, @v0.33.0); the
    target hands over its own hidden states, collected where a layer index is in the aux list, from
    0 (the embedding) to ``num_hidden_layers`` (the last layer's output: Qwen2Model / LlamaModel
    forward). A width or a layer past that gives fc inputs of another size: the first forward fails
    (0.33's DFlash says "expects N concatenated aux hidden features but received M")."""
    if drafter.method not in ("eagle3", "dflash") or not drafter.target_hidden_size:
        return None
    name = "EAGLE-3" if drafter.method == "eagle3" else "DFlash"
    if drafter.target_hidden_size != spec.hidden_size:
        return (
            f"the {name} drafter {drafter.model_id} takes target hidden states of width "
            f"{drafter.target_hidden_size:,} (its target_hidden_size, else hidden_size), "
            f"but the target's hidden_size is {spec.hidden_size:,}"
        )
    shift = profile.dflash_layer_id_shift
    if drafter.target_layer_ids and max(drafter.target_layer_ids) + shift > spec.num_layers:
        return (
            f"the DFlash drafter {drafter.model_id}'s target_layer_ids reach layer {max(drafter.target_layer_ids)}, "
            f"past the target's {spec.num_layers} layers (num_hidden_layers), "
            f"so vLLM {profile.version} cannot feed its fc"
        )
    return None


def _eagle3_refusal(drafter: Drafter, profile: VllmProfile) -> str | None:
    """EAGLE-3 heads of Llama layers (model_executor/models/llama_eagle3.py, read at 0.20.0-0.33.0)
    and of Qwen3 layers (qwen3_eagle3.py, read at 0.24.0-0.33.0)."""
    version = profile.version
    if not profile.reads_eagle_and_draft_models:
        return Unmodelled(f"vram has not read how vLLM {version} builds an EAGLE-3 drafter (it sizes them from 0.20)")
    if drafter.eagle3_layer == "qwen3" and not profile.eagle3_qwen3_layers:
        # Before 0.24 the registry has no Eagle3Qwen3ForCausalLM, and speculators configs of Qwen3
        # layers are built as Eagle3LlamaForCausalLM, whose load vram has not followed.
        return Unmodelled(
            f"vram has not read how vLLM {version} takes the EAGLE-3 drafter {drafter.model_id} of Qwen3 layers "
            "(Eagle3Qwen3ForCausalLM arrives in 0.24, from which vram sizes it)"
        )
    if drafter.eagle3_layer == "qwen3" and drafter.spec.model_type != "qwen3":
        return Unmodelled(
            f"the EAGLE-3 drafter {drafter.model_id} is built of Qwen3 layers from a {drafter.spec.model_type} config, "
            "which vram does not size"
        )
    if any(layer.kind != "full" for layer in drafter.spec.layers):
        return Unmodelled(
            f"the EAGLE-3 drafter {drafter.model_id} has layers other than full attention, which vram does not size"
        )
    return None


def _eagle_refusal(spec: ModelSpec, drafter: Drafter, profile: VllmProfile) -> str | None:
    """An EAGLE-1 head of Llama layers (model_executor/models/llama_eagle.py, read at 0.20.0-0.33.0)."""
    version = profile.version
    if not profile.reads_eagle_and_draft_models:
        return Unmodelled(f"vram has not read how vLLM {version} builds an EAGLE drafter (it sizes them from 0.20)")
    if any(layer.kind != "full" for layer in drafter.spec.layers):
        return Unmodelled(
            f"the EAGLE drafter {drafter.model_id} has layers other than full attention, which vram does not size"
        )
    if drafter.own_lm_head:
        # EagleLlamaForCausalLM builds no LM head: logits come from the target's.
        return (
            f"the EAGLE drafter {drafter.model_id} ships an lm_head, "
            "which vLLM's EagleLlamaForCausalLM has no place for"
        )
    if drafter.spec.hidden_size != spec.hidden_size:
        return (
            f"the EAGLE drafter's width ({drafter.spec.hidden_size:,}) is not the target's ({spec.hidden_size:,}): "
            "its fc joins the token's embedding and the target's hidden state"
        )
    return None


def _draft_model_refusal(spec: ModelSpec, drafter: Drafter, query: Query, profile: VllmProfile) -> str | None:
    """A plain language model as drafter (v1/spec_decode/draft_model.py, read at 0.20.0 and 0.33.0)."""
    version = profile.version
    if not profile.reads_eagle_and_draft_models:
        return Unmodelled(f"vram has not read how vLLM {version} runs a draft model (it sizes them from 0.20)")
    if profile.draft_model_refuses_multimodal and spec.vision is not None and not text_only(spec, query):
        return (
            f"vLLM {version} runs a draft model beside a multimodal target only text-only (mm=0): "
            '"does not support multimodal models yet"'
        )
    if drafter.spec.vocab_size != spec.vocab_size:
        return (
            f"vLLM refuses a draft model whose vocabulary ({drafter.spec.vocab_size:,}) is not the target's "
            f"({spec.vocab_size:,}) unless use_heterogeneous_vocab is set (0.25+), which vram does not model"
        )
    if drafter.spec.vision is not None or any(layer.kind != "full" for layer in drafter.spec.layers):
        return Unmodelled(
            f"the draft model {drafter.model_id} has layers other than full attention (or a vision tower), "
            "which vram does not size as a drafter"
        )
    return None


def drafter_kv_layers(spec: ModelSpec, query: Query) -> tuple[LayerKV, ...]:
    """The drafter's attention layers as vLLM caches them: they register in the same forward context
    as the target's, so they join its KV-cache groups (SpecDecodeBaseProposer.load_model,
    v1/spec_decode/llm_base_proposer.py@v0.20.2: the draft layers are the attention layers the
    drafter adds); the KV of every context token is cached in each of them
    (``precompute_and_store_context_kv``). Sliding layers are full attention before 0.26."""
    drafter = spec.drafter
    if drafter is None:
        return ()
    if why := drafter_refusal(spec, query):
        error = UnmodelledError if isinstance(why, Unmodelled) else InputError
        raise error(f"vLLM cannot be sized with draft={drafter.model_id}: {why}")
    layers = tuple(layer for layer in drafter.spec.layers if layer.kind != "none")
    if drafter.method == "dflash" and version_profile(query)[0].dflash_layers == "all_full":
        layers = tuple(layer.model_copy(update={"kind": "full", "window": None}) for layer in layers)
    return layers


def drafter_weight_bytes(spec: ModelSpec, query: Query) -> int:
    """Per GPU, what vLLM loads for the drafter (DFlashQwen3ForCausalLM, in the target's dtype):
    its decoder layers split over tensor parallelism (QKV/Row/ColumnParallelLinear), the ``fc`` that
    projects the target's tapped hidden states (a ReplicatedLinear: whole on every GPU), its norms,
    and its own embedding / LM head only when the checkpoint ships them (else the target's are
    shared, ``_maybe_share_embeddings`` / ``_maybe_share_lm_head``)."""
    drafter = spec.drafter
    if drafter is None:
        return 0
    if drafter.method == "eagle3":
        return eagle3_weight_bytes(spec, drafter, query)
    p = drafter.spec.params
    dtype_bytes = DTYPE_BYTES[spec.torch_dtype]
    if drafter.method == "eagle":
        # EagleLlamaForCausalLM: its decoder layers split over TP, the first without input_layernorm,
        # no final norm and no LM head (the target's); fc (2 x hidden -> hidden) whole on every GPU;
        # the embedding only when shipped (else the target's is shared).
        h = drafter.spec.hidden_size
        split = p.attention + p.dense_mlp + p.other + (p.embedding if drafter.own_embed_tokens else 0)
        return (ceil_div(split, query.gpus) + 2 * h * h + p.norms - 2 * h) * dtype_bytes
    if drafter.method == "draft_model":
        # The whole model in the target's dtype, split as the target is (draft TP = target TP), with
        # its own embedding and LM head (tied: one matrix, even where the checkpoint stores both).
        lm_head = 0 if drafter.spec.tie_word_embeddings else p.lm_head
        split = p.attention + p.dense_mlp + p.routed_experts + p.shared_experts + p.other + p.embedding + lm_head
        return (ceil_div(split, query.gpus) + p.norms + p.router) * dtype_bytes
    split = p.attention + p.dense_mlp + p.routed_experts + p.shared_experts + p.other
    vocab = (p.embedding if drafter.own_embed_tokens else 0) + (
        (p.lm_head or p.embedding) if drafter.own_lm_head else 0
    )
    fc = drafter.fc_in_features * drafter.spec.hidden_size
    hidden_norm = drafter.spec.hidden_size if drafter.fc_in_features else 0
    replicated = fc + p.norms + p.router + hidden_norm
    return (ceil_div(split + vocab, query.gpus) + replicated) * dtype_bytes


def eagle3_weight_bytes(spec: ModelSpec, drafter: Drafter, query: Query) -> int:
    """Per GPU, what Eagle3LlamaForCausalLM / Eagle3Qwen3ForCausalLM load (model_executor/models/
    llama_eagle3.py, qwen3_eagle3.py, in the target's dtype). Split over tensor parallelism: its
    decoder layers, the first one's QKV taking 2 x hidden (the token's embedding and the hidden state
    side by side), its LM head of ``draft_vocab_size`` rows and its embedding, each only when the
    checkpoint ships it (else the target's is shared). Whole on every GPU: the ``fc`` (a
    ReplicatedLinear, target hidden x taps -> hidden), every layer's ``hidden_norm`` beside its two
    norms (and a Qwen3 layer's q / k norms of ``head_dim``), the final norm, ``input_norm`` /
    ``fc_norm`` over the taps, and ``draft_id_to_target_id`` (int64 per draft token)."""
    d = drafter.spec
    p = d.params
    dtype_bytes = DTYPE_BYTES[spec.torch_dtype]
    profile = version_profile(query)[0]
    qkv_out = (d.num_attention_heads + 2 * d.num_kv_heads) * d.head_dim
    first_layer_qkv = d.hidden_size * qkv_out if d.layers else 0
    vocab = (p.embedding if drafter.own_embed_tokens else 0) + (
        drafter.draft_vocab_size * d.hidden_size if drafter.own_lm_head else 0
    )
    # Qwen3Attention's q_norm / k_norm are RMSNorms of head_dim, whole on every GPU; the qwen3
    # config's parameter count keeps them under attention.
    qk_norms = 2 * d.head_dim * len(d.layers) if drafter.eagle3_layer == "qwen3" else 0
    split = p.attention - qk_norms + p.dense_mlp + p.other + first_layer_qkv + vocab
    taps = drafter.eagle3_taps if profile.eagle3_taps_from_config else (3 if drafter.eagle3_taps else 0)
    fc_in = drafter.target_hidden_size * taps
    norms = p.norms + len(d.layers) * d.hidden_size + qk_norms
    norms += fc_in if drafter.norm_before_fc else 0
    norms += fc_in if drafter.fc_norm and profile.eagle3_taps_from_config else 0
    replicated = fc_in * d.hidden_size + norms
    d2t = drafter.draft_vocab_size * 8
    if profile.eagle3_d2t_only_when_smaller and drafter.draft_vocab_size == spec.vocab_size:
        d2t = 0
    return (ceil_div(split, query.gpus) + replicated) * dtype_bytes + d2t


def value_slot_bytes(spec: ModelSpec, query: Query) -> int:
    """Per GPU, the value half vLLM allocates for layers whose values are their keys (gemma-4's
    ``attention_k_eq_v`` global layers): its fused ``qkv_proj`` keeps a V slot and the loader fills
    it with a second copy of ``k_proj`` (models/gemma4.py@v0.23.0 "k_eq_v layers load K weights into
    both K and V slots"; @v0.33.0 ``_gemma4_layer_weights_mapper`` maps ``k_proj`` to shards k and
    v). gemma-4-31b: 10 x 5,376 x 2,048 x 2 B = 210 MiB at TP 1."""
    if not spec.value_from_key:
        return 0
    return linear_bytes(spec, spec.value_from_key, weight_format=query.weight_format, bits=query.bits, gpus=query.gpus)


def loaded_weight_bytes(
    spec: ModelSpec, query: Query, gpu: GPU | None, weights_bytes: int, constants: VllmConstants = DEFAULT_CONSTANTS
) -> int:
    """What "Model loading took X GiB" reports, per GPU: the checkpoint's share (``weights_bytes``,
    from ``estimator.weights.weight_bytes``), re-laid MXFP4 experts, and buffers built at load time
    (the rotary cache, MLA backends' workspaces).
    """
    loaded = (
        weights_bytes
        + rope_cache_bytes(spec, query)
        + mla_backend_workspace_bytes(spec, gpu, constants)
        - text_only_saving_bytes(spec, query)
        - vision_split_saving_bytes(spec, query)
        + mtp_weight_bytes(spec, query)
        + drafter_weight_bytes(spec, query)
        + value_slot_bytes(spec, query)
        + eplb_state_bytes(spec, query)
    )
    loaded += machete_zero_point_bytes(spec, query, gpu)
    gptq_dropped, gptq_added = gptq_kernel_bytes(spec, query, gpu)
    loaded += gptq_added - gptq_dropped
    loaded += load_segment_rounding_bytes(spec, query, gpu)
    if uses_mxfp4_experts(spec, query):
        loaded += mxfp4_expert_bytes(spec, query, gpu, constants) - _mxfp4_checkpoint_expert_bytes(spec, query)
    return loaded


# Machete (model_executor/kernels/linear/mixed_precision/machete.py@v0.31.0, first in the CUDA
# mixed-precision kernel list since 0.19): Hopper only, uint4 with zero points (AWQ) or uint4b8
# without, group -1 / 64 / 128 with 16-bit activations, partition shapes multiples of [64, 128]
# (machete_utils.py MACHETE_PREPACKED_BLOCK_SHAPE). process_weights_after_loading repacks the
# values (same size) and rewrites the zero points as `-scale x zero` in the activation dtype, one
# value per group and output column instead of a packed 4-bit integer.
_MACHETE_GROUPS = (None, 64, 128)


def machete_zero_point_bytes(spec: ModelSpec, query: Query, gpu: GPU | None) -> int:
    """Bytes the Machete kernel adds per GPU by unpacking AWQ zero points into the activation dtype.
    GPTQ has none to unpack: vLLM serves only symmetric GPTQ with Marlin-family kernels and hands them
    ``zero_points=False`` whatever qzeros the checkpoint stores (quantization/auto_gptq.py@v0.34.0
    TYPE_MAP, MPLinearLayerConfig)."""
    if gpu is None or gpu.vendor != "nvidia" or gpu.compute_capability != (9, 0):
        return 0
    if (query.weight_format or (spec.quantization.method if query.bits is None else None)) == "gptq":
        return 0
    act = _act_bytes(spec, query)
    group, bits, shares = zero_point_matrices(spec, weight_format=query.weight_format, gpus=query.gpus)
    if act != 2 or bits != 4 or group not in _MACHETE_GROUPS:
        return 0
    extra = 0
    for in_f, out_f, count in shares:
        if in_f % 64 or out_f % 128:
            continue  # another kernel (Marlin) takes this layer and keeps the zero points packed
        zeros = (ceil_div(in_f, group) if group else 1) * out_f
        extra += count * (zeros * act - ceil_div(zeros * bits, 8))
    return extra


# GPTQ linears as vLLM's mixed-precision kernels keep them (kernels/linear/mixed_precision/, read in
# the 0.19.0, 0.27.1 and 0.30.0-0.34.0 wheels). vLLM serves GPTQ as symmetric (``zero_points=False``),
# so the checkpoint's packed qzeros are loaded and then:
# - Marlin (compute capability 7.5+; the usual kernel off Hopper, and on Hopper where Machete
#   cannot take a shape) replaces them, and ``g_idx`` without activation order, by empty
#   tensors; with activation order it keeps g_idx sorted and adds ``g_idx_sort_indices`` (int32 per
#   input row);
# - Machete (Hopper; 4/8-bit, groups -1/64/128, shapes in multiples of 64 x 128, no activation order on
#   a row-split matrix) and AllSpark (Ampere/Ada 8-bit per channel, up to 0.30) keep both, Machete
#   adding its activation-order permutation (int32 per input row);
# - ExLlama (GPTQConfig for 2/3-bit and asymmetric GPTQ up to 0.21; ExllamaLinearKernel below
#   compute capability 7.5, or where Marlin cannot take a shape) keeps qzeros and empties g_idx
#   without activation order;
# - from 0.30 there is no g_idx parameter: the checkpoint's g_idx is not loaded by any kernel.
# With activation order, a row-split matrix repeats its group scales (and qzeros) on every rank
# (utils/marlin_utils.py marlin_repeat_scales_on_all_ranks, up to 0.29).
_MACHETE_GPTQ_GROUPS = (None, 64, 128)
_MARLIN_GROUPS = (None, 32, 64, 128)


def gptq_kernel_bytes(spec: ModelSpec, query: Query, gpu: GPU | None) -> tuple[int, int]:
    """Per GPU, (bytes of the checkpoint's GPTQ qzeros and g_idx that vLLM's kernels do not keep,
    bytes the kernels add: act-order indices and scales repeated on row-split ranks); (0, 0) where the
    weights are not a kept GPTQ checkpoint or no NVIDIA GPU is named (the kernel is the GPU's)."""
    shares = gptq_matrices(spec, weight_format=query.weight_format, bits=query.bits, gpus=query.gpus)
    if not shares or gpu is None or gpu.compute_capability is None or _act_bytes(spec, query) != 2:
        return 0, 0
    profile, _ = version_profile(query)
    q = spec.quantization
    bits, group, act = q.weight_bits, q.group_size, q.act_order and profile.gptq_act_order
    cc = gpu.compute_capability
    # Up to 0.21 a GPTQ checkpoint that is not 4/8-bit symmetric goes to GPTQConfig
    # (quantization/gptq.py), not the Marlin family: the ExLlama-style path below.
    legacy = not profile.gptq_symmetric_4_8_only and not (bits in (4, 8) and q.symmetric)
    dropped = added = 0
    for m in shares:
        row_split = m.in_features != m.full_in_features
        groups = ceil_div(m.in_features, group) if group else 1
        counted_zeros, counted_g_idx = ceil_div(groups * m.out_features * bits, 8), 4 * m.in_features
        if act and row_split:
            # Every rank loads the whole matrix's scales and qzeros (marlin_repeat_scales_on_all_ranks).
            groups_loaded = ceil_div(m.full_in_features, group or m.full_in_features)
            added += m.matrices * (groups_loaded - groups) * m.out_features * q.scale_bytes
        else:
            groups_loaded = groups
        zeros = ceil_div(groups_loaded * m.out_features * bits, 8)
        g_idx = counted_g_idx if profile.gptq_act_order else 0
        # Kernels are chosen for the fused module's partition (q/k/v, gate/up: module_out_features).
        machete = (
            not legacy
            and cc == (9, 0)
            and bits in (4, 8)
            and group in _MACHETE_GPTQ_GROUPS
            and m.in_features % 64 == 0
            and m.module_out_features % 128 == 0
            and not (act and row_split)
        )
        allspark = (
            not legacy
            and profile.allspark_kernel
            and (8, 0) <= cc < (9, 0)
            and bits == 8
            and group is None
            and not act
            and m.in_features % 16 == 0
            and m.module_out_features % 16 == 0
        )
        marlin = (
            not legacy
            and cc >= (7, 5)
            and bits in (4, 8)
            and group in _MARLIN_GROUPS
            and (group is None or m.in_features % group == 0)
        )
        extra = 0
        if machete:
            extra = 4 * m.in_features if act else 0  # the permutation it applies to activations
        elif allspark:
            pass
        elif marlin:
            zeros = 0
            g_idx, extra = (g_idx, 4 * m.in_features) if act else (0, 0)  # sorted g_idx and its sort indices
        elif not act:
            g_idx = 0  # ExLlama (GPTQConfig up to 0.21, ExllamaLinearKernel) keeps qzeros, empties g_idx
        kept = zeros + g_idx
        counted = counted_zeros + counted_g_idx
        dropped += m.matrices * max(0, counted - kept)
        added += m.matrices * (max(0, kept - counted) + extra)
    return dropped, added


# ---------------------------------------------------------------------------------------------
# MXFP4 experts (gpt-oss) as vLLM lays them out
#
# vLLM v0.19 does not keep the checkpoint's MXFP4 expert tensors as they are. Per MoE layer and GPU:
# 1. FusedMoE splits the expert intermediate size over tensor parallelism and the MXFP4 method
#    rounds the per-GPU share up for the chosen kernel (fused_moe/oracle/mxfp4.py,
#    mxfp4_round_up_hidden_size_and_intermediate_size: Triton 64; Marlin 128 and hidden 256;
#    FlashInfer TRT-LLM and ROCm 256 both). Mxfp4MoEMethod.create_weights
#    (quantization/mxfp4.py) allocates values, block scales and bf16 biases at the padded shapes.
# 2. On Hopper the Triton backend (oracle/mxfp4.py convert_to_mxfp4_moe_kernel_format) then
#    - converts both biases to fp32;
#    - swizzles the values into new tensors (HopperMXValueLayout pads both dims of each transposed
#      uint8 matrix to ``mxfp4_value_align``) and frees the originals (``del layer.w13_weight``);
#    - swizzles the block scales into new tensors held by the kernel's PrecisionConfig
#      (HopperMXScaleLayout pads the output dim to 2 x num_warps(8) x 2 x 8 = 256 rows), while
#      the loaded scales stay registered on the layer (Mxfp4MoEMethod._setup_kernel only
#      replaces the weights for Triton): the scales are held twice.
# 3. Each of these tensors is a PyTorch caching-allocator block (``cuda_block_bytes``).
# The sum reproduces the v0.19 logs of gpt-oss-20b to 0.1-0.2% at TP 1, 2 and 4 (13.64, 7.01,
# 3.63 GiB) and the v0.11-era log (13.47 GiB, no 64-byte pre-pad) to 0.1%.


def uses_mxfp4_experts(spec: ModelSpec, query: Query) -> bool:
    """True when vLLM runs the checkpoint's own MXFP4 routed experts (gpt-oss)."""
    q = spec.quantization
    return (
        q.method == "mxfp4"
        and q.scope == "experts"
        and spec.num_experts > 0
        and query.weight_format in (None, "mxfp4")
        and query.bits in (None, 4)
    )


def mxfp4_moe_backend(gpu: GPU | None) -> Mxfp4MoeBackend:
    """The MXFP4 MoE kernel vLLM v0.19 picks on the GPU.

    fused_moe/oracle/mxfp4.py select_mxfp4_moe_backend tries FlashInfer TRT-LLM (SM100 only),
    CK (ROCm), Triton (SM90 up to SM100, triton_kernels bundled), ..., Marlin. With no GPU named,
    Hopper (the H100 the profile's logs come from).
    """
    return vllm_gpu(gpu).mxfp4_moe_backend


def cuda_block_bytes(size: int, max_split: int | None = None) -> int:
    """Bytes PyTorch's CUDA caching allocator counts as allocated for a fresh ``size``-byte tensor.

    c10/cuda/CUDACachingAllocator.cpp: requests are rounded up to 512 B; one of 10 MiB or more gets
    its own cudaMalloc rounded up to 2 MiB (get_allocation_size), and that block is split only when
    more than 1 MiB would be left over and the request is below ``max_split_size`` (should_split;
    no limit unless set). Otherwise the whole block is handed out, and ``memory_allocated`` (what
    vLLM reads) counts all of it.
    """
    rounded = round_up(max(size, 1), 512)
    if size < 10 * MiB:
        return rounded
    segment = round_up(size, 2 * MiB)
    if max_split is not None and rounded >= max_split:
        return segment
    return segment if segment - size <= MiB else rounded


@by_spec()
def _load_tensors(
    spec: ModelSpec, tp: int, weight_format: WeightFormat | None, bits: int | None
) -> tuple[tuple[int, int], ...]:
    """(bytes, count) of the weight tensors one GPU allocates at load for the layers whose layout
    is known: the vocabulary-parallel embedding and an untied lm_head, the fused ``qkv_proj`` and the
    ``o_proj`` of standard attention (one q, a k and a v per layer), the fused ``gate_up_proj`` and
    the ``down_proj`` of dense MLPs (QKVParallelLinear / MergedColumnParallelLinear hold each fused
    projection in one parameter). Values tensors only: scales and zero points are small. Other
    layouts (MLA, linear attention, experts, vision towers) are left out. Cached: the solvers ask for
    it at every group size they try."""

    def values(component: LinearComponent, in_f: int, out_f: int) -> int:
        return matrix_values_bytes(spec, component, in_f, out_f, weight_format=weight_format, bits=bits)

    tensors: list[tuple[int, int]] = []
    if spec.vocab_size and spec.params.embedding:
        dims = spec.params.embedding // spec.vocab_size
        rows = ceil_div(spec.vocab_size, tp)
        tensors.append((values("lm_head", dims, rows), 1))
    for lin in spec.linears:
        if lin.component == "lm_head" and not spec.tie_word_embeddings:
            in_f, out_f = matrix_share(lin, spec, tp)
            tensors.append((values("lm_head", in_f, out_f), lin.count))
    attention = [lin for lin in spec.linears if lin.component == "attention"]
    by_split = {lin.split: lin for lin in attention}
    if len(attention) == 3 and set(by_split) == {"column", "kv", "row"}:
        q, kv, o = by_split["column"], by_split["kv"], by_split["row"]
        if kv.count == 2 * q.count and o.count == q.count and q.in_features == kv.in_features:
            out_f = matrix_share(q, spec, tp)[1] + 2 * matrix_share(kv, spec, tp)[1]
            tensors.append((values("attention", q.in_features, out_f), q.count))
            tensors.append((values("attention", *matrix_share(o, spec, tp)), o.count))
    mlp = [lin for lin in spec.linears if lin.component == "dense_mlp"]
    by_split = {lin.split: lin for lin in mlp}
    if len(mlp) == 2 and set(by_split) == {"column", "row"}:
        up, down = by_split["column"], by_split["row"]
        if down.count and up.count % down.count == 0 and up.in_features == down.out_features:
            out_f = up.count // down.count * matrix_share(up, spec, tp)[1]
            tensors.append((values("dense_mlp", up.in_features, out_f), down.count))
            tensors.append((values("dense_mlp", *matrix_share(down, spec, tp)), down.count))
    return tuple(tensors)


def load_segment_rounding_bytes(spec: ModelSpec, query: Query, gpu: GPU | None = None) -> int:
    """Bytes per GPU that "Model loading took" counts beyond the tensors themselves because vLLM
    loads under a ``max_split_size`` (0.21+, ``VllmProfile.load_max_split_bytes``): every tensor of
    20 MiB or more keeps its whole cudaMalloc segment, rounded up to 2 MiB. Qwen2.5-1.5B: 28 x (a
    52.5 MiB gate_up_proj in 54 + a 26.25 MiB down_proj in 28) + the 445.125 MiB embedding in 446 =
    91.875 MiB. Tensors that reuse a freed block (up to 20 MiB larger) are not modelled. CUDA only:
    ``_scoped_allocator_max_split`` sets nothing on other platforms (no GPU record: CUDA)."""
    max_split = version_profile(query)[0].load_max_split_bytes
    if max_split is None or (gpu is not None and gpu.vendor != "nvidia"):
        return 0
    tensors = _load_tensors(spec, query.gpus, query.weight_format, query.bits)
    return sum(count * (cuda_block_bytes(size, max_split) - size) for size, count in tensors)


def expert_split(query: Query) -> int:
    """The GPUs a MoE layer's routed experts are split over: the tensor-parallel group, times the
    data-parallel replicas. With dp above 1 vLLM flattens tp x dp into one group for the fused MoE
    layers, tensor-splitting the experts over it, or with --enable-expert-parallel placing
    num_experts / (tp x dp) whole experts on each GPU (the same bytes where that divides):
    model_executor/layers/fused_moe/config.py ``FusedMoEParallelConfig.make`` and
    ``flatten_tp_across_dp_and_pcp``@v0.25.0 and @v0.33.0. Attention and the dense layers stay
    split over tp alone, so each replica holds them whole."""
    return query.gpus * query.dp


def expert_width_split(query: Query) -> int:
    """The GPUs each routed expert's intermediate width is split over: the flattened tp x dp group
    without expert parallelism; 1 with ``--enable-expert-parallel`` (ep=on), where
    ``FusedMoEParallelConfig.make`` sets the MoE tp_size to 1 and ep_size to tp x dp, so every GPU
    holds whole experts (layers/fused_moe/config.py@v0.25.0, @v0.28.0, @v0.29.0, @v0.33.0)."""
    return 1 if query.expert_parallel else expert_split(query)


def experts_per_gpu(spec: ModelSpec, query: Query) -> int:
    """The routed experts the busiest GPU holds: all of them (width-split) without expert
    parallelism; with it ``determine_expert_map`` gives num_experts // ep_size to each GPU and one
    more to the first num_experts % ep_size (both ``--expert-placement-strategy`` values, linear and
    round_robin, place the same counts: layers/fused_moe/expert_map_manager.py@v0.25.0, @v0.33.0)."""
    if not query.expert_parallel or expert_split(query) == 1:
        return spec.num_experts
    # EPLB's redundant experts are physical experts too (fused_moe/layer.py determine_expert_counts).
    return -(-(spec.num_experts + redundant_experts(spec, query)) // expert_split(query))


# EplbState.add_model (distributed/eplb/eplb_state.py, the same in the 0.27.1, 0.30.0 and 0.33.0
# wheels): per GPU, int64 maps sized by MAX_EXPERT_REDUNDANCY (1023) + 1 slots per logical expert,
# an int32 load window of EPLBConfig.window_size (1000) steps, and a receive buffer the size of one
# MoE layer's local expert weights (``torch.empty_like`` of ``model.expert_weights[0]``).
_EPLB_SLOTS = 1024
_EPLB_WINDOW = 1000


def eplb_state_bytes(spec: ModelSpec, query: Query) -> int:
    """Per GPU, what EPLB (eplb=) allocates beside the experts while the model loads: the
    logical-to-physical map (layers x experts x 1,024 int64), the replica counts and the
    physical-to-logical map (int64), the load pass (int32) and the 1,000-step load window (int32),
    and the rearrangement buffer: one MoE layer's local experts, in their stored format."""
    if query.eplb is None or not query.expert_parallel or not spec.num_moe_layers:
        return 0  # without expert parallelism vLLM refuses EPLB (eplb_refusal)
    if not eplb_served(spec, query.vllm):
        return 0  # a model class without MixtureOfExperts: vLLM starts without EPLB's state
    experts, layers = spec.num_experts, spec.num_moe_layers
    physical = experts + query.eplb
    # int64: logical-to-physical (1,024 slots) and replica counts per logical expert, and from 0.31
    # the last rearrangement's load (``last_expert_load``); physical-to-logical; int32: the load pass
    # and the 1,000-step window per physical expert.
    last_load = 8 if release_of(version_profile(query)[0].version) >= (0, 31) else 0
    per_logical = _EPLB_SLOTS * 8 + 8 + last_load
    maps = layers * experts * per_logical + layers * physical * (8 + 4) + _EPLB_WINDOW * layers * physical * 4
    held = experts_per_gpu(spec, query)
    one_layer = tuple(
        lin.model_copy(update={"count": lin.count // (experts * layers) * held})
        for lin in spec.linears
        if lin.component == "routed_experts"
    )
    buffer = linear_bytes(spec, one_layer, weight_format=query.weight_format, bits=query.bits)
    return maps + buffer


def eplb_refusal(spec: ModelSpec, query: Query) -> str | None:
    """Why vLLM will not start with eplb= (config/parallel.py ParallelConfig.__post_init__ and
    fused_moe/layer.py, 0.27.1-0.33.0 wheels), else None."""
    if query.eplb is None:
        return None
    if not spec.num_experts:
        return f"eplb= balances a MoE model's experts; {spec.model_type} has none"
    if not query.expert_parallel:
        return (
            "EPLB needs expert parallelism (enable_expert_parallel must be True): add ep=on (--enable-expert-parallel)"
        )
    if not eplb_served(spec, query.vllm):
        return None  # vLLM starts without EPLB for this model class (the setting_ignored note says so)
    world = expert_split(query)
    if world == 1:
        return "EPLB requires tensor or data parallelism: use gpus= or dp= above 1"
    physical = spec.num_experts + query.eplb
    if physical % world:
        near = [
            r
            for r in range(query.eplb - world, query.eplb + world + 1)
            if r >= 0 and (spec.num_experts + r) % world == 0
        ]
        return (
            f"EPLB places experts evenly only: {spec.num_experts} experts + {query.eplb} redundant = {physical} "
            f"do not divide over gpus x dp = {world} GPUs; eplb={' or eplb='.join(map(str, near))} would"
        )
    return None


def _expert_bias_params(spec: ModelSpec) -> int:
    """Bias parameters of all routed experts (gpt-oss has them): expert params beyond the matrices."""
    matrices = sum(
        lin.in_features * lin.out_features * lin.count for lin in spec.linears if lin.component == "routed_experts"
    )
    return max(0, spec.params.routed_experts - matrices)


def _mxfp4_checkpoint_expert_bytes(spec: ModelSpec, query: Query) -> int:
    """The routed experts' bytes per GPU as the checkpoint share counts them (estimator.weights):
    each matrix's split share at 4 bits plus an e8m0 scale byte per 32 (whole matrices, the busiest
    GPU's experts, with expert parallelism), and the biases whole in the checkpoint dtype (they are
    not split there)."""
    gpus = expert_width_split(query)
    total = 0
    for lin in spec.linears:
        if lin.component != "routed_experts":
            continue
        count = lin.count // spec.num_experts * experts_per_gpu(spec, query) if spec.num_experts else lin.count
        in_f, out_f = lin.in_features, lin.out_features
        if gpus > 1 and lin.split == "column":
            out_f = ceil_div(out_f, gpus)
        elif gpus > 1 and lin.split == "row":
            in_f = ceil_div(in_f, gpus)
        n = in_f * out_f
        total += (ceil_div(n, 2) + ceil_div(n, 32)) * count
    return total + _expert_bias_params(spec) * DTYPE_BYTES[spec.torch_dtype]


def mxfp4_expert_bytes(
    spec: ModelSpec, query: Query, gpu: GPU | None, constants: VllmConstants = DEFAULT_CONSTANTS
) -> int:
    """Per-GPU bytes of the MXFP4 routed experts once vLLM has loaded and re-laid them."""
    experts, layers, tp = experts_per_gpu(spec, query), spec.num_moe_layers, expert_width_split(query)
    hidden = spec.hidden_size
    backend = mxfp4_moe_backend(gpu)
    inter = spec.moe_intermediate_size // tp  # FusedMoE: intermediate_size // tp_size
    if backend == "triton":
        inter = round_up(inter, 64)
    elif backend == "marlin":
        inter, hidden = round_up(inter, 128), round_up(hidden, 256)
    else:  # flashinfer_trtllm, rocm
        inter, hidden = round_up(inter, 256), round_up(hidden, 256)
    has_bias = _expert_bias_params(spec) > 0
    if backend != "triton":
        # Padded shapes as create_weights allocates them; the later re-layout is not modelled.
        tensors = [2 * inter * hidden // 2, 2 * inter * hidden // 32, hidden * inter // 2, hidden * inter // 32]
        if has_bias:
            tensors += [2 * inter * 2, hidden * 2]
        return layers * sum(cuda_block_bytes(experts * t) for t in tensors)
    align = constants.mxfp4_value_align
    scale_rows = 2 * 8 * 2 * 8  # HopperMXScaleLayout: 2 x num_warps x 2 x 8, num_warps 8
    tensors = [
        # swizzled values: (hidden/2 bytes x 2I) and (I/2 bytes x hidden), both dims to the alignment,
        # then to the MMA tile (16 on the output dim, 32 on the packed input dim)
        round_up(round_up(2 * inter, align), 16) * round_up(round_up(hidden // 2, align), 32),
        round_up(round_up(hidden, align), 16) * round_up(round_up(inter // 2, align), 32),
        # the loaded block scales, still registered on the layer
        2 * inter * (hidden // 32),
        hidden * (inter // 32),
        # the swizzled block scales the kernel uses
        round_up(2 * inter, scale_rows) * round_up(hidden // 32, 2),
        round_up(hidden, scale_rows) * round_up(inter // 32, 2),
    ]
    if has_bias:
        tensors += [2 * inter * 4, hidden * 4]  # biases converted to fp32
    return layers * sum(cuda_block_bytes(experts * t) for t in tensors)


# ---------------------------------------------------------------------------------------------
# Activation peak of the profile run


def _forward_peak(spec: ModelSpec, query: Query, tokens: int) -> tuple[int, str]:
    """Torch peak of the dummy forward over ``tokens`` tokens, per GPU, and what sets it.

    At the MLP of the last layer the residual stream and the normed input are live (2 x h, model
    dtype), the compiled RMSNorm keeps one fp32 copy of the hidden state (4 x h bytes), and the MLP
    holds its up-projection output (2 x I, gate and up) and the activated product (I), sharded over
    the tensor-parallel group. MoE layers run fused experts: per routed slot the w13 output (2 x I),
    the activated product (I) and the w2 output before the weighted sum (h).
    """
    b = _act_bytes(spec, query)
    tp = query.gpus
    h = spec.hidden_size
    base = tokens * (2 * h * b + 4 * h)
    # A pipeline rank runs only its own layers: one of a model mixing dense and MoE layers may hold
    # none of one kind (DeepSeek-V3's first three dense layers alone on the first of many ranks).
    stage = spec.pp_stage is not None
    has_dense = not stage or spec.num_moe_layers < spec.num_layers
    has_moe = not stage or spec.num_moe_layers > 0
    dense = tokens * 3 * ceil_div(spec.intermediate_size, tp) * b if spec.intermediate_size and has_dense else 0
    moe = _moe_buffers(spec, query, tokens) if has_moe else 0
    if moe > dense:
        return base + moe, f"MoE experts at {tokens:,} batched tokens"
    return base + dense, f"prefill MLP at {tokens:,} batched tokens"


def _moe_buffers(spec: ModelSpec, query: Query, tokens: int) -> int:
    """The fused experts' buffers over ``tokens`` tokens, per GPU: per routed slot the w13 output
    (2 x I), the activated product (I) and the w2 output before the weighted sum (h). 0 for dense
    models."""
    if not (spec.num_experts and spec.moe_intermediate_size):
        return 0
    if spec.pp_stage is not None and spec.num_moe_layers == 0:
        return 0  # a pipeline stage of dense layers only (DeepSeek-V3's first ones)
    # With expert parallelism each GPU's experts are whole: the fused kernel's per-slot buffers are
    # sized by the full width (FusedMoEConfig.intermediate_size_per_partition, MoE tp 1).
    tp = query.gpus
    inter = spec.moe_intermediate_size if query.expert_parallel else ceil_div(spec.moe_intermediate_size, tp)
    return tokens * spec.experts_per_token * (3 * inter + spec.hidden_size) * _act_bytes(spec, query)


def _sampler_peak(spec: ModelSpec, query: Query, tokens: int, rows: int, constants: VllmConstants) -> int:
    """Torch peak of the sampler warm-up: full-vocabulary logits for ``rows`` requests.

    The logits are gathered to the full vocabulary on every rank, so tensor parallelism does not
    shrink this term. The forward's hidden states (tokens x h) are still alive when it runs.
    """
    b = _act_bytes(spec, query)
    per_logit = constants.sampler_bytes_per_logit + b
    return tokens * spec.hidden_size * b + int(rows * spec.vocab_size * per_logit)


# The V2 runner's gumbel sampler reduces each row in blocks of 1,024 logits and keeps, per row and
# block, the block's argmax (int64) and maximum (fp32) (v1/worker/gpu/sample/gumbel.py@v0.27.1).
_GUMBEL_BLOCK = 1024
_GUMBEL_BYTES_PER_BLOCK = 8 + 4


def flashinfer_sampler(gpu: GPU | None) -> bool:
    """Whether vLLM samples top-k/top-p with FlashInfer on this GPU: VLLM_USE_FLASHINFER_SAMPLER
    defaults to on (envs.py@v0.27.1..v0.33.0) and flashinfer_sampler_supported
    (v1/sample/ops/topk_topp_sampler.py@v0.33.0) takes CUDA GPUs that FlashInferBackend supports,
    compute capability 8.0 and up. (It also refuses 16 SMs or fewer, which the catalog does not say.)
    No GPU record: the larger FlashInfer pass, so that an unknown card is not sized optimistically."""
    if gpu is None:
        return True
    return gpu.vendor == "nvidia" and gpu.compute_capability is not None and gpu.compute_capability >= (8, 0)


def v2_sampler_peak(
    spec: ModelSpec,
    query: Query,
    tokens: int,
    rows: int,
    *,
    warmup_pass: bool,
    flashinfer: bool = True,
    fp32_copy: bool = False,
) -> int:
    """Torch peak of the V2 model runner's sampler warm-up (v1/worker/gpu/model_runner.py
    ``_dummy_sampler_run``), per GPU.

    ``compute_logits`` gives ``rows`` x vocabulary logits in the model dtype. With tensor parallelism
    each rank's shard is all-gathered into a (tp, rows, vocab / tp) tensor and reshaped along the
    vocabulary, a copy (distributed/device_communicators/base_device_communicator.py all_gather):
    shard, gathered tensor and copy are alive together. The dummy requests were never added, so their
    temperature is 0 and nothing asks for processing: the sampler takes the argmax over the logits
    in place, holding only the per-block maxima (v1/worker/gpu/sample/sampler.py, gumbel.py
    @v0.26.0-v0.32.0); 0.22-0.25 first copy the logits to fp32 whatever the requests ask
    (``fp32_copy``, apply_sampling_params@v0.22.0-v0.25.0), 4 B per logit. From 0.33 a second pass
    with SamplingParams.for_sampler_warmup() (temperature 0.9, top-k 50, top-p 0.9, penalties, logit
    bias, bad words: sample/sampler.py@v0.33.0) copies the logits to fp32 (4 B per logit beside them)
    and processes that copy in place; with FlashInfer
    (``flashinfer``) ``top_k_top_p_sampling_from_logits`` then holds the top-k-masked fp32 logits
    and their softmax (flashinfer/sampling.py@0.7.2.post1, the version vLLM 0.33.0 pins; a per-row
    top-k tensor takes the masked path), 8 B per logit more. Without it the Triton top-k/top-p
    works in place in a cached buffer of at most one row per SM (v1/sample/ops/topk_topp_triton.py),
    not counted here: the catalog has no SM counts.
    """
    b = _act_bytes(spec, query)
    tp = query.gpus
    vocab = spec.vocab_size
    logits = rows * vocab * b
    gather = rows * ceil_div(vocab, tp) * b + logits if tp > 1 else 0
    blocks = rows * ceil_div(vocab, _GUMBEL_BLOCK) * _GUMBEL_BYTES_PER_BLOCK
    greedy = rows * vocab * (4 if fp32_copy else 0) + blocks
    warmup = rows * vocab * (4 + (8 if flashinfer else 0)) + blocks if warmup_pass else 0
    sample = max(greedy, warmup)
    # The forward's hidden states (tokens x h) and the rows picked for sampling from them (a copy,
    # hidden_states[logits_indices]) stay alive through the sampler run.
    hidden = (tokens + rows) * spec.hidden_size * b
    return hidden + logits + max(gather, sample)


def v2_sampler_state_bytes(spec: ModelSpec, seqs: int) -> int:
    """Penalty state the V2 sampler allocates when the model is loaded, after the weights are
    measured (v1/worker/gpu/sample/penalties.py PenaltiesState@v0.22.0-v0.33.0): ``output_bin_counts``
    (max_num_seqs x vocabulary int32) and ``prompt_bin_mask`` (max_num_seqs x vocabulary / 32 int32)."""
    return seqs * spec.vocab_size * 4 + seqs * ceil_div(spec.vocab_size, 32) * 4


# Per-request GPU tables the V2 sampler allocates with the penalty state (v1/worker/gpu/sample/
# logit_bias.py LogitBiasState, bad_words.py BadWordsState, logprob.py LogprobTokenIdsState
# @v0.27.0-v0.33.0, each a StagedWriteTensor on the GPU): allowed token ids, logit-bias token ids
# and fp32 biases (1,024 each, MAX_NUM_ALLOWED_TOKEN_IDS / MAX_NUM_LOGIT_BIAS_TOKENS), stop token
# ids (128, MAX_NUM_STOP_TOKEN_IDS), bad-word token ids (1,024) and offsets (128 + 1,
# VLLM_MAX_BAD_WORDS_TOTAL_TOKENS / VLLM_MAX_NUM_BAD_WORDS, envs.py defaults), logprob token ids
# (128, MAX_LOGPROB_TOKEN_IDS in sampling_params.py): 4-byte elements per request row.
_V2_SAMPLER_TABLE_ELEMENTS = 1024 + 1024 + 1024 + 128 + 1024 + (128 + 1) + 128


def v2_sampler_tables_bytes(spec: ModelSpec, seqs: int, spec_tokens: int = 0) -> int:
    """GPU tables the V2 runner allocates in ``load_model`` beside the penalty state, after the
    weights are measured: the sampler's per-request tables (``_V2_SAMPLER_TABLE_ELEMENTS`` int32 /
    fp32 per request) and the structured-output worker's grammar bitmask, one int32 per 32 tokens
    of the vocabulary for each of ``max_num_reqs x decode_query_len`` logits, with its int32
    logits indices (v1/worker/gpu/structured_outputs.py StructuredOutputsWorker, sized by
    v1/worker/gpu/model_runner.py load_model@v0.27.0-v0.33.0; ``decode_query_len`` is
    1 + the speculative tokens)."""
    logits = seqs * (1 + spec_tokens)
    return seqs * _V2_SAMPLER_TABLE_ELEMENTS * 4 + logits * (ceil_div(spec.vocab_size, 32) + 1) * 4


def _encoder_peak_generic(spec: ModelSpec, query: Query) -> int:
    """Vision encoder dummy run of a tower not modelled tensor by tensor: one image of the maximum
    size, the hidden states and the MLP's intermediate (rough).

    vLLM's vision towers run fused attention (model_executor/models/pixtral.py@v0.19.0: xformers'
    memory_efficient_attention or F.scaled_dot_product_attention; siglip.py, clip.py, intern_vit.py,
    qwen2_5_vl.py, qwen3_vl.py, mllama4.py: MMEncoderAttention), so no per-head (patches x patches)
    score tensor exists: the peak is the hidden states and the MLP's intermediate.
    """
    v = spec.vision
    assert v is not None
    patches = (v.image_size // v.patch_size) ** 2
    return patches * (4 * v.hidden_size + 2 * v.intermediate_size) * _act_bytes(spec, query)


# An unspecified modality's per-prompt limit (config/multimodal.py get_limit_per_prompt@v0.27.1).
_MM_LIMIT_DEFAULT = 999
# Most frames of a Qwen2-VL / Qwen2.5-VL dummy video (models/qwen2_vl.py _MAX_FRAMES_PER_VIDEO@v0.23.0).
_QWEN2_VL_MAX_FRAMES = 14


class EncoderProfile(Frozen):
    """What vLLM's profile run pushes through a Qwen ViT (v1/worker/gpu_model_runner.py profile_run,
    multimodal/encoder_budget.py MultiModalBudget): ``items`` dummy items of the modality with the
    most tokens per item, batched into one encoder forward."""

    modality: Literal["image", "video"]
    items: int
    frames: int  # frames of one dummy item (1 for an image)
    tokens_per_item: int  # merged tokens the text model reads
    patches_per_item: int  # ViT sequence positions before the merge
    patch_bytes: int  # activation bytes per ViT position at the forward's peak
    output_bytes: int  # the encoder outputs the encoder cache holds through the text dummy run


def encoder_profile(
    spec: ModelSpec, query: Query, gpu: GPU | None, constants: VllmConstants = DEFAULT_CONSTANTS
) -> EncoderProfile | None:
    """The encoder profile of a Qwen2.5-VL / Qwen3-VL-family start, or None (no tower, a text-only
    start, or a tower vram sizes with the generic term).

    Largest item (models/qwen2_vl.py get_image_size_with_most_features@v0.27.1): max_pixels over
    (patch x merge)^2 merged tokens; the processors' 12,845,056 and 16,777,216 pixels factor as
    squares, so one side of ``image_size``. Qwen2-VL / Qwen2.5-VL also profile a video of those
    frames (get_num_frames_with_most_features: as many as ``max_model_len`` holds in tokens, at
    most 14, padded to the temporal patch), which ties or beats the image, and ties go to "video"
    (encoder_budget.py get_modality_with_max_tokens); the log line of n058 (v0.23.0, max_model_len
    128,000): "a budget of 114688 tokens, and profiled with 1 video items". Qwen3-VL / Qwen3.5
    profile the image: their video processor's longest_edge (25,165,824 pixels over 2 frames) gives
    12,288 tokens per video against 16,384 per image (qwen3_vl.py get_max_video_tokens).

    Items (encoder_budget.py _get_max_items): the encoder budget max(max_num_batched_tokens, one
    item's tokens) over one item's tokens, at most max_num_seqs x the items one prompt holds
    (min(--limit-mm-per-prompt, max_model_len // tokens), at least 1); all in one encoder forward.
    """
    v = spec.vision
    if v is None or text_only(spec, query) or v.encoder == "generic":
        return None
    unit = v.patch_size * v.merge_size
    image_tokens = (v.image_size // unit) ** 2
    modality: Literal["image", "video"] = "image"
    frames, groups = 1, 1
    if v.encoder == "qwen2_5_vl":
        modality = "video"
        most = v.temporal_patch_size * (query.seq_len // image_tokens)  # frames max_model_len holds
        frames = max(1, min(most, _QWEN2_VL_MAX_FRAMES))
        groups = ceil_div(frames, v.temporal_patch_size)
    tokens = groups * image_tokens
    mnbt, seqs = served_batch(spec, query, gpu, constants)
    limit = _MM_LIMIT_DEFAULT if query.mm_limit is None else query.mm_limit
    per_prompt = max(1, min(limit, query.seq_len // tokens))
    items = max(1, min(max(mnbt, tokens) // tokens, seqs * per_prompt))
    b = _act_bytes(spec, query)
    return EncoderProfile(
        modality=modality,
        items=items,
        frames=frames,
        tokens_per_item=tokens,
        patches_per_item=tokens * v.merge_size**2,
        patch_bytes=_qwen_vit_position_bytes(v, query.gpus, b),
        output_bytes=items * tokens * v.output_width * b,
    )


def _qwen_vit_position_bytes(v: VisionSpec, tp: int, b: int) -> int:
    """Activation bytes per ViT position at the peak of vLLM's Qwen2.5-VL / Qwen3-VL encoder forward.

    Held through the forward: the pixel patches (C x T x P^2, cast to the model dtype by the
    processor wrapper, multimodal/processing/context.py _postprocess_output), the rotary cos and sin
    (head_dim / 2 each) and, for Qwen3-VL, the interpolated position embeddings (width h) kept in
    the encoder metadata and the deepstack mergers' outputs (one merged token per merge^2 positions
    per level), which the last blocks run next to. In a block (models/qwen2_5_vl.py Qwen2_5_VisionAttention, qwen3_vl.py
    Qwen3_VisionBlock / Qwen3_VisionMLP @v0.27.1; heads and MLP columns split over TP):

    - attention: the block input and its norm (2h), the qkv output (3h/tp), the contiguous q/k
      copy and its rotated copy (2h/tp each), the context made contiguous (h/tp), the output
      projection (h) and, with TP, the all-reduce's out-of-place result (h); flash attention keeps
      no score matrix;
    - Qwen3-VL MLP (fc2(act(fc1(x)))): input and norm (2h), then fc1's output and its activation
      (2I/tp), or the activation, fc2's output and the reduced copy;
    - Qwen2.5-VL MLP: input and norm (2h), the gate_up output (2I/tp) kept while the native SiluAndMul
      (custom ops are off under the default Inductor compile, config/vllm.py) makes silu(gate) and
      the product (I/tp each), then down_proj's output (and the reduced copy).
    """
    h, h_tp, i_tp = v.hidden_size, ceil_div(v.hidden_size, tp), ceil_div(v.intermediate_size, tp)
    reduced = h if tp > 1 else 0
    attention = 3 * h + 8 * h_tp + reduced
    if v.encoder == "qwen2_5_vl":
        mlp = 2 * h + max(4 * i_tp, 3 * i_tp + h + reduced)
        held = 0
    else:
        mlp = 2 * h + max(2 * i_tp, i_tp + h + reduced)
        main_width = v.output_width // (1 + v.deepstack_levels)
        held = h + ceil_div(v.deepstack_levels * main_width, v.merge_size**2)
    pixels = v.in_channels * v.temporal_patch_size * v.patch_size**2
    rotary = h // v.num_heads
    return (pixels + rotary + held + max(attention, mlp)) * b


def _encoder_peak(spec: ModelSpec, query: Query, gpu: GPU | None, constants: VllmConstants) -> tuple[int, int, str]:
    """(encoder forward peak, encoder outputs held through the text dummy run, what it ran)."""
    if spec.vision is None or text_only(spec, query):
        return 0, 0, ""
    profile = encoder_profile(spec, query, gpu, constants)
    if profile is None:
        return _encoder_peak_generic(spec, query), 0, "vision encoder dummy run"
    what = f"{profile.items:,} {profile.modality}" + ("" if profile.items == 1 else "s")
    if profile.modality == "video":
        what += f" of {profile.frames} frames"
    patches = profile.items * profile.patches_per_item
    where = f"vision encoder dummy run: {what}, {patches:,} patches"
    return patches * profile.patch_bytes, profile.output_bytes, where


def activation_peak(
    spec: ModelSpec, query: Query, *, gpu: GPU | None, constants: VllmConstants = DEFAULT_CONSTANTS
) -> tuple[int, str]:
    """The profile run's torch activation peak per GPU (bytes) and a phrase saying what sets it.

    The encoder runs first; its outputs stay in the encoder cache through the text dummy run and
    the sampler warm-up (v1/worker/gpu_model_runner.py profile_run@v0.27.1), so they add to both.
    """
    tokens, seqs = served_batch(spec, query, gpu, constants)
    rows = min(seqs, tokens)
    encoder, held, encoder_where = _encoder_peak(spec, query, gpu, constants)
    forward, where = _forward_peak(spec, query, tokens)
    # The text run's first GDN layer allocates the checkpoint workspace and keeps it: it is under the
    # forward's peak and the sampler's after it.
    workspace = gdn_workspace_beyond_moe(spec, query, tokens)
    kept = f", plus FlashInfer's GDN checkpoint workspace ({workspace / MiB:.1f} MiB)" if workspace else ""
    held += workspace
    where += kept
    forward += held
    profile, _ = version_profile(query)
    v2 = uses_v2_runner(spec, query)
    stage = spec.pp_stage
    if stage is not None and not stage.first and (not v2 or profile.non_kv_accounting == "consumed"):
        # A rank after the first receives the previous rank's hidden states and residual into a
        # buffer of max_num_batched_tokens rows (make_empty_intermediate_tensors, models/qwen2.py and
        # llama.py@v0.27.1): made in the profile run by the V1 runner (gpu_model_runner.py _dummy_run),
        # at load by the V2 runner (gpu/model_runner.py load_model), where only 0.27+'s consumed-memory
        # accounting sees it.
        buffer = pp_intermediate_bytes(spec, query, tokens)
        forward += buffer
        where += f", plus the {buffer / GiB:,.2f} GiB buffer of the previous stage's hidden states"
    if stage is not None and not stage.last:
        # Only the last pipeline rank computes logits and runs the sampler warm-up, and only it builds
        # the V2 sampler (profile_run, load_model@v0.27.1).
        return max(forward, encoder), where
    if v2:
        sampler = v2_sampler_peak(
            spec,
            query,
            tokens,
            rows,
            warmup_pass=profile.v2_sampler_warmup_pass,
            flashinfer=flashinfer_sampler(gpu),
            fp32_copy=profile.v2_sampler_fp32_copy,
        )
    else:
        sampler = _sampler_peak(spec, query, tokens, rows, constants)
    sampler += held
    peak = max(forward, sampler, encoder)
    if peak == sampler:
        sequences = f"{rows:,} sequence" + ("" if rows == 1 else "s")
        per_logit, parts = _sampler_per_logit(spec, query, gpu, profile, constants, v2=v2)
        # The bytes per logit are what moves from release to release: say them, or two releases'
        # peaks read the same under one description.
        where = (
            f"sampler warm-up: {sequences} x {spec.vocab_size:,}-token vocabulary x {per_logit:.3g} B per logit "
            f"({parts}){kept}"
        )
    elif peak == encoder and encoder > forward:
        where = encoder_where
    if v2 and profile.non_kv_accounting == "consumed":
        # From 0.27 the non-KV share is the free memory consumed since start-up plus the transient
        # peak (utils/mem_utils.py memory_profiling total_consumed), so torch tensors allocated after
        # the weights were measured count too; up to 0.26 (weights + peak increase + non-torch
        # increase) the V2 sampler's state, allocated before the profile run, counted nowhere.
        peak += v2_sampler_state_bytes(spec, seqs) + v2_sampler_tables_bytes(
            spec, seqs, speculative_tokens(spec, query)
        )
        where += f", plus the V2 sampler's penalty state and request tables ({seqs:,} sequences)"
    return peak, where


def _sampler_per_logit(
    spec: ModelSpec, query: Query, gpu: GPU | None, profile: VllmProfile, constants: VllmConstants, *, v2: bool
) -> tuple[float, str]:
    """The bytes per logit the sampler warm-up holds at its peak (about: the hidden states and the
    per-block maxima come beside them) and what they are, as :func:`v2_sampler_peak` and
    :func:`_sampler_peak` count them."""
    b = _act_bytes(spec, query)
    if not v2:
        extra = constants.sampler_bytes_per_logit
        return b + extra, f"{b} B of logits + {extra:g} B of the sampler's fp32 copies and temporaries"
    tp = query.gpus
    gather = b * (1 + 1 / tp) if tp > 1 else 0.0
    fp32_copy = 4 if profile.v2_sampler_fp32_copy else 0
    flashinfer = flashinfer_sampler(gpu)
    warmup = 4 + (8 if flashinfer else 0) if profile.v2_sampler_warmup_pass else 0
    extra = max(gather, fp32_copy, warmup)
    if extra == 0:
        return b, f"{b} B of logits, sampled in place"
    if extra == warmup:
        what = "fp32 copy + FlashInfer top-k/top-p" if flashinfer else "fp32 copy"
        why = f"{warmup} B of the second warm-up pass from 0.33: {what}"
    elif extra == fp32_copy:
        why = f"{fp32_copy} B of the fp32 copy 0.22-0.25 make"
    else:
        why = f"{gather:.3g} B of the tensor-parallel all-gather's copies"
    return b + extra, f"{b} B of logits + {why}"


def pp_intermediate_bytes(spec: ModelSpec, query: Query, tokens: int) -> int:
    """The intermediate tensors a pipeline rank after the first receives: hidden states and residual,
    ``tokens`` x hidden each in the model dtype (not split by tensor parallelism)."""
    return 2 * tokens * spec.hidden_size * _act_bytes(spec, query)


# GPUs that sit in an NVSwitch domain with NVLink SHARP (NVLS): the SXM / HGX parts of Hopper and
# data-centre Blackwell (the H800's HGX board keeps the H100's third-generation NVSwitch, with fewer
# links; GB200 / GB300 NVL72 racks are one NVLink domain). NCCL's NVLS buffers need NVSwitch
# multicast; PCIe cards, NVLink-bridge pairs (h100-nvl) and GeForce / workstation cards have none, and
# A100's NVSwitch has no SHARP.
_NVLS_FAMILIES = frozenset({"h100", "h200", "h20", "h800", "gh200", "b200", "b300", "gb200", "gb300"})


def nvls_capable(gpu: GPU | None) -> bool:
    """Whether NCCL can run NVLS collectives among these GPUs (an NVSwitch with SHARP); no GPU
    record: the NVSwitch H100 hosts the TP constant was fitted on."""
    if gpu is None:
        return True
    return gpu.family in _NVLS_FAMILIES and not gpu.key.endswith(("-pcie", "-nvl"))


def non_torch_bytes(query: Query, constants: VllmConstants = DEFAULT_CONSTANTS, gpu: GPU | None = None) -> int:
    """Non-torch memory the profile run adds. With tensor parallelism the first large all-reduce of
    the profile run makes NCCL connect lazily (the communicator's warm-up at start-up moves one
    element, before vLLM's baseline snapshot): on NVSwitch hosts that is NVLS's multicast buffers,
    the ~2 GiB of the v0.19 H100 logs. Without NVLS the ring buffers are small: the newer logs
    without it show 0.13 GiB (TP 4, 80 GB cards) and at most 0.37 GiB (TP 2, RTX 5090), so the
    single-GPU figure stands for them."""
    if query.gpus > 1 and nvls_capable(gpu):
        return constants.non_torch_tensor_parallel
    return constants.non_torch_single_gpu


def cuda_graph_counts(
    spec: ModelSpec, query: Query, gpu: GPU | None, constants: VllmConstants = DEFAULT_CONSTANTS
) -> tuple[int, int]:
    """(PIECEWISE graphs, FULL graphs) the default FULL_AND_PIECEWISE mode captures
    (v1/cudagraph_dispatcher.py initialize_cudagraph_keys, 0.19-0.33): a PIECEWISE graph for every
    capture size, and a FULL graph for every capture size from the decode query length (1 + the
    speculative tokens) up to that length x max_num_seqs ("Profiling CUDA graph memory:
    PIECEWISE=51 (largest=512), FULL=35 (largest=256)" at max_num_seqs 256).

    The capture sizes follow config/vllm.py (the largest is min(2 x max_num_seqs x query length,
    512, max_num_batched_tokens); 1024 on data-centre Blackwell from 0.28). 0.34 keeps these counts off
    data-centre Blackwell (its decode graphs are those sizes' request counts capped at max_num_seqs) and
    gives SM100 its own grids (below). Backends that cannot capture FULL graphs (vLLM then falls back to
    PIECEWISE) are not modelled.

    With speculative decoding the V1 runner rounds every size up to a multiple of the decode query
    length, dropping those past the largest (config/compilation.py
    adjust_cudagraph_sizes_for_spec_decode; the V2 runner sizes its own): DeepSeek-V4-Flash with
    MTP x 2 at max_num_seqs 4 logs "PIECEWISE=5 (largest=24), FULL=3 (largest=9)"."""
    profile, _ = version_profile(query)
    tokens, seqs = served_batch(spec, query, gpu, constants)
    spec_tokens = speculative_tokens(spec, query)
    decode = 1 + spec_tokens
    if profile.cudagraph_split_grids_sm100 and _sm100(gpu):
        # 0.34 on SM100: prefill graphs over the token grid up to 8,192 tokens, decode graphs over the
        # request grid, each request count capped where its tokens pass 8,192 (config/vllm.py@v0.34.0
        # _split_cudagraph_capture_sizes, config/compilation.py decode_cudagraph_capture_shapes).
        prefill = prefill_capture_grid(min(8192, tokens))
        requests = decode_capture_grid(seqs)
        limit = min(seqs, min(tokens, 8192) // decode)
        reachable = requests[: bisect_left(requests, limit) + 1] if limit >= 1 else []
        return len(prefill), len({min(n, limit) for n in reachable})
    sizes = cudagraph_capture_sizes(profile, seqs, tokens, num_speculative_tokens=spec_tokens, sm100=_sm100(gpu))
    if decode > 1 and sizes and not uses_v2_runner(spec, query):
        sizes = sorted({round_up(size, decode) for size in sizes if round_up(size, decode) <= sizes[-1]})
    return len(sizes), sum(1 for size in sizes if decode <= size <= decode * seqs)


def cuda_graph_bytes(
    spec: ModelSpec, query: Query, gpu: GPU | None, constants: VllmConstants = DEFAULT_CONSTANTS
) -> int:
    """The CUDA-graph pool per GPU: the graphs captured (:func:`cuda_graph_counts`) times what one
    graph holds for this GPU's layers (``spec`` is the pipeline stage's when pp= is above 1).

    The same figure stands for vLLM 0.20+'s estimate ("Estimated CUDA graph memory: X GiB total",
    profile_cudagraph_memory: the first capture plus the second's increment for every further
    graph, which is this per-graph cost) and for the pool captured after the KV cache (0.19, and
    Model Runner V2 up to 0.28)."""
    if query.enforce_eager:
        # --enforce-eager sets cudagraph_mode NONE (config/vllm.py@v0.33.0 __post_init__): nothing is
        # captured, and the 0.20+ estimate (profile_cudagraph_memory) takes nothing from the pool.
        return 0
    piecewise, full = cuda_graph_counts(spec, query, gpu, constants)
    per_graph = (
        constants.cuda_graph_per_graph
        + spec.num_layers * (constants.cuda_graph_per_layer + constants.cuda_graph_per_layer_sharded // query.gpus)
        + spec.num_moe_layers * constants.cuda_graph_per_moe_layer
    )
    return (piecewise + full) * per_graph


def cuda_graph_estimate_bytes(
    spec: ModelSpec, query: Query, gpu: GPU | None, constants: VllmConstants = DEFAULT_CONSTANTS
) -> int:
    """The CUDA-graph memory vLLM 0.20+ estimates before sizing the pool (v1/worker/
    gpu_model_runner.py profile_cudagraph_memory; from 0.29 the V2 runner's
    _profile_cudagraph_memory, which captures every PIECEWISE graph and extrapolates the FULL ones
    from the two largest): modelled as the pool itself, :func:`cuda_graph_bytes`."""
    return cuda_graph_bytes(spec, query, gpu, constants)


def speculative_method(spec: ModelSpec, query: Query) -> str | None:
    """The ``method`` of the speculative config vLLM starts with: the drafter's, "mtp", or None."""
    if spec.drafter is not None:
        return spec.drafter.method
    return "mtp" if mtp_tokens(query) else None


def uses_v2_runner(spec: ModelSpec, query: Query) -> bool:
    """Whether the query's release serves the model on the V2 model runner by default
    (config/vllm.py _is_default_v2_model_runner_model: architecture, MoE, hybrid, quantized; and the
    speculative method, which V2 may not take)."""
    profile, _ = version_profile(query)
    state = sum(1 for layer in spec.layers if _has_state(layer))
    quantized = spec.quantization.method != "none" or (
        query.weight_format is not None and query.weight_format not in FLOAT_FORMATS
    )
    return serves_on_v2_runner(
        profile,
        spec.architectures,
        moe=spec.num_experts > 0,
        hybrid=0 < state < len(spec.layers),
        attention_free=bool(spec.layers) and state == len(spec.layers),
        quantized=quantized,
        speculative_method=speculative_method(spec, query),
        mixed_dflash=_mixed_dflash(spec),
    )


def graphs_in_budget(spec: ModelSpec, query: Query) -> bool:
    """True when the release takes the CUDA-graph estimate out of the KV budget (0.20+:
    VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS defaults to 1, envs.py) and the model's runner measures
    one: the V2 runner's profile_cudagraph_memory returns 0 up to 0.28, so for the models it serves
    there the graphs are captured after the pool and come on top of it, as in 0.19."""
    return cuda_graph_estimate_taken(version_profile(query)[0], on_v2_runner=uses_v2_runner(spec, query))


def cuda_context_bytes(query: Query, constants: VllmConstants = DEFAULT_CONSTANTS) -> int:
    return constants.cuda_context + (constants.cuda_context_tp_extra if query.gpus > 1 else 0)


# ---------------------------------------------------------------------------------------------
# KV cache layout: pages, groups, tokens


class KvGroupSpec(Frozen):
    """One kind of KV layer as vLLM groups them (full / sliding window w / chunked-local attention
    over chunks of w / MLA / Mamba state)."""

    kind: Literal["full", "sliding", "chunked", "mla", "mamba"]
    window: int | None
    page_bytes: int  # one block (KvLayout.block_size tokens, or one state), one layer, per GPU
    num_layers: int
    mamba_blocks: int = 0  # state pages one request holds in one Mamba group
    block_size: int | None = None  # tokens per block of this type, when raised to unify the pages


class KvLayout(Frozen):
    """How vLLM splits the pool: groups of equal size sharing one block count."""

    types: tuple[KvGroupSpec, ...]
    group_size: int  # layers per group (padding included)
    num_groups: int
    uniform: bool  # one attention type: every layer in a single group
    block_size: int = BLOCK_SIZE  # tokens per attention block (raised to the state page in hybrids)
    mamba_padding_pct: float = 0.0  # "Padding mamba page size by P%"
    # The state layers export prefill checkpoints on the block grid (FlashInfer's GDN prefill): their
    # workspace is sized by it (gdn_checkpoint_workspace_bytes).
    prefill_checkpoints: bool = False
    # DeepSeek-V4's planner (set only there): pool bytes per block index, and the page bytes a
    # request's need is divided by (its full-MLA group's); 0 elsewhere.
    pool_block_bytes: int = 0
    request_block_bytes: int = 0
    # DeepSeek-V4's packed planner (0.31+): one entry per vLLM KV-cache group (its block, window and
    # layers), a request taking each group's pages from the one pool. Empty elsewhere.
    request_groups: tuple[KvGroupSpec, ...] = ()
    # Batches of max_num_batched_tokens a sliding or chunked group keeps blocks for beyond its window
    # (vllm_profiles.in_flight_batches).
    in_flight_batches: int = 1
    # Tokens every sliding-window group keeps below its window (SlidingWindowSpec
    # extra_retained_tokens: multi-module MTP, see :func:`extra_retained_tokens`); not chunked groups.
    extra_retained_tokens: int = 0

    @property
    def bytes_per_block(self) -> int:
        """Pool bytes one block index costs across all groups' tensors."""
        if self.pool_block_bytes:
            return self.pool_block_bytes
        if self.uniform:
            return sum(t.page_bytes * t.num_layers for t in self.types)
        return self.types[0].page_bytes * self.group_size


def _attn_bytes_per_token(layer: LayerKV, tp: int, kv_dtype: KVDType) -> int:
    if layer.kind == "mla":
        # The compressed latent plus the rope key: one head, replicated on every rank, not split.
        return (layer.key_dim + layer.value_dim) * element_bytes(kv_dtype)
    heads = ceil_div(layer.kv_heads, tp)  # the busiest rank's heads; replicated (1) where tp exceeds them
    return heads * head_token_bytes(kv_dtype, layer.key_dim, layer.value_dim)


def _page_bytes(layer: LayerKV, tp: int, kv_dtype: KVDType, block: int = BLOCK_SIZE) -> int:
    return block * _attn_bytes_per_token(layer, tp, kv_dtype)


# Model types whose vLLM config hook (model_executor/models/config.py
# Qwen3_5ForConditionalGenerationConfig, every release read; registered for the Qwen3_5 and
# Qwen3_5Moe architectures) makes the config's ``mamba_ssm_dtype`` the SSM-state dtype under "auto".
# Qwen3.5 / Qwen3.6 publish float32 (calibration2 n035: the logged 2,096-token block needs the fp32
# state); a config without the field keeps "auto", the model dtype.
_SSM_DTYPE_HOOK_TYPES = frozenset({"qwen3_5", "qwen3_5_moe", "qwen3_5_text", "qwen3_5_moe_text"})


def _ssm_dtype_bytes(spec: ModelSpec, layer: LayerKV, version: str, model_bytes: int) -> int:
    """Bytes per element of the recurrent state as vLLM stores it (mamba_ssm_cache_dtype "auto")."""
    if layer.mixer == "kda":
        return 4  # mamba_utils.py kda_state_dtype: the recurrent state is always fp32
    if spec.model_type in _SSM_DTYPE_HOOK_TYPES and spec.mamba_ssm_dtype is not None:
        return DTYPE_BYTES[spec.mamba_ssm_dtype]
    if spec.model_type == "nemotron_h":
        # NemotronHForCausalLMConfig: float16 when the config names none in 0.19, float32 from 0.20.
        return 2 if version == "0.19" else 4
    return model_bytes  # "auto": the conv state's dtype, the model's


def _state_page_bytes(
    spec: ModelSpec, layer: LayerKV, tp: int, model_bytes: int, version: str, num_spec: int = 0
) -> int:
    """One request's state for one layer, per GPU (mamba_utils.py MambaStateShapeCalculator): the conv
    window of kernel - 1 columns over the layer's conv channels, and the recurrent state, split over
    tensor parallelism. The conv state is in the model dtype (mamba_cache_dtype "auto").

    Mamba-2 with fewer groups than GPUs replicates groups on every rank (extra_groups_for_head_shards);
    the spec does not give the group count, so the conv channels are split evenly (the conv state is
    about 1% of the page for the models named here).

    With speculative decoding the conv window keeps ``num_spec`` more columns
    (MambaStateShapeCalculator: ``conv_kernel - 1 + num_spec``)."""
    conv = layer.conv_channels // tp * (max(layer.conv_kernel - 1, 0) + num_spec) * model_bytes
    ssm = layer.ssm_state_elements // tp * _ssm_dtype_bytes(spec, layer, version, model_bytes)
    return conv + ssm


# Model types whose gated DeltaNet layers are vLLM's QwenGatedDeltaNetAttention (models/qwen3_next.py,
# models/qwen3_5.py@v0.33.0; MiniCPM-V 4.6 / 4.7 and MiniCPM-OCR build Qwen3_5ForCausalLM,
# models/minicpmv4_6.py), the class that exports prefill checkpoints; OLMo-hybrid's
# (OlmoHybridGatedDeltaNetAttention) subclasses the base layer and exports none.
_QWEN_GDN_TYPES = frozenset(
    {
        "qwen3_next",
        "qwen3_5",
        "qwen3_5_text",
        "qwen3_5_moe",
        "qwen3_5_moe_text",
        "minicpmv4_6",
        "minicpmv4_7",
        "minicpm_ocr",
    }
)


def gdn_flashinfer_prefill(gpu: GPU | None, key_dim: int) -> bool:
    """Whether vLLM runs gated DeltaNet's prefill on FlashInfer's kernel rather than Triton's (FLA)
    (_resolve_gdn_prefill_backend, layers/mamba/gdn/qwen_gdn_linear_attn.py@v0.33.0, @v0.34.0): on
    Hopper (SM 9.0) always; on Blackwell (SM 10.x, 12.x) for 128-wide key heads under a CUDA 13
    runtime, which the 0.33 and 0.34 wheels are built for (their METADATA requires
    nvidia-cutlass-dsl[cu13]). Ampere, Ada and AMD take Triton or AITER's kernels. No GPU record: the
    H100's."""
    if gpu is None:
        return True
    if gpu.vendor != "nvidia" or gpu.compute_capability is None:
        return False
    if gpu.compute_capability == (9, 0):
        return True
    return gpu.compute_capability[0] in (10, 12) and key_dim == 128


def vllm_mixer(spec: ModelSpec, layer: LayerKV, gpu: GPU | None) -> str:
    """The mixer as vLLM's checkpoint rules tell them apart: Qwen's gated DeltaNet on FlashInfer's
    prefill ("qwen_gdn_flashinfer") is the one that exports prefill checkpoints at an alignment."""
    if (
        layer.mixer == "gated_deltanet"
        and spec.model_type in _QWEN_GDN_TYPES
        and gdn_flashinfer_prefill(gpu, layer.mixer_key_dim)
    ):
        return "qwen_gdn_flashinfer"
    return layer.mixer


def gdn_checkpoint_workspace_bytes(spec: ModelSpec, query: Query, tokens: int) -> int:
    """The workspace FlashInfer's GDN prefill writes its checkpoints into, sized in the profile run and
    kept (QwenGatedDeltaNetAttention._checkpoint_buffer_spec, layers/mamba/gdn/
    qwen_gdn_linear_attn.py@v0.33.0: ``cdiv(max_num_batched_tokens, grid)`` fp32 states of
    value heads / TP x value width x key width, rounded to 256 B; the grid is the block size). 0 where
    the layout (for ``query.gpu``) exports no checkpoints."""
    states = [layer for layer in spec.layers if _has_state(layer)]
    if not states:
        return 0
    layout, _ = kv_layout(spec, query)
    if not layout.prefill_checkpoints:
        return 0
    state = max(layer.ssm_state_elements for layer in states) // query.gpus
    return round_up(ceil_div(tokens, layout.block_size) * state * 4, 256)


def gdn_workspace_beyond_moe(spec: ModelSpec, query: Query, tokens: int) -> int:
    """What the GDN checkpoint workspace adds to the profile run's peak. One workspace buffer serves
    every user, grown to the largest request (v1/worker/workspace.py ``_ensure_workspace_size``), and
    the fused-MoE kernel takes its intermediate buffers from it too (fused_moe/modular_kernel.py
    ``current_workspace_manager().get_simultaneous``, 0.22-0.34): the MoE term of the forward peak
    already holds that much."""
    return max(0, gdn_checkpoint_workspace_bytes(spec, query, tokens) - _moe_buffers(spec, query, tokens))


def _has_state(layer: LayerKV) -> bool:
    """A layer with a per-request recurrent / conv state (on its own, or beside attention)."""
    return layer.kind == "state" or (layer.mixer != "" and (layer.ssm_state_elements > 0 or layer.conv_channels > 0))


# Layouts already worked out, per ``spec.layers`` tuple, TP size, bytes per element and release: one
# estimate asks several times (terms, solvers, the report). Holding the tuple keeps its id from being
# reused.
_LayoutKey = tuple[int, str, int, str, str, bool | None, str | None, int, int | None, bool | None, int | None]
_LAYOUTS: dict[_LayoutKey, tuple[tuple[LayerKV, ...], tuple[KvLayout, tuple[str, ...]]]] = {}


def kv_layout(spec: ModelSpec, query: Query) -> tuple[KvLayout, tuple[str, ...]]:
    """Group the model's KV layers the way vLLM's kv_cache_utils does (uniform page size)."""
    kv_dtype = kv_cache_dtype(spec, query)
    profile, _ = version_profile(query)
    key = (
        id(spec.layers),
        spec.model_type,  # the mixers' classes and state dtypes follow it, beside the layers
        query.gpus,
        kv_dtype,
        profile.version,
        query.prefix_caching,
        query.gpu,
        speculative_tokens(spec, query),
        id(spec.drafter.spec.layers) if spec.drafter else None,
        query.async_scheduling,
        query.block_size,
    )
    cached = _LAYOUTS.get(key)
    if cached is not None and cached[0] is spec.layers:
        return cached[1]
    if why := serve_refusal(spec, query):
        raise InputError(why)
    if query.block_size is not None and (why := _block_size_unmodelled(spec, query.block_size)):
        raise UnmodelledError(why)
    if spec.model_type in _INKLING_TYPES:
        layout = _with_in_flight(_inkling_layout(spec, query, kv_dtype), spec, query)
        if len(_LAYOUTS) >= 256:
            _LAYOUTS.clear()
        _LAYOUTS[key] = (spec.layers, layout)
        return layout
    _refuse_unmodelled_cache(spec)
    if why := mtp_refusal(spec, query):
        raise InputError(f"vLLM will not start with mtp={query.mtp}: {why}")
    gpu = lookup_gpu(query.gpu) if query.gpu else None
    # The release's dtypes only: a GPU that does not run the dtype is the verdict's (startup_refusal).
    if why := kv_dtype_refusal(query, None):
        raise InputError(why)
    if kv_dtype in ("nvfp4", "int8_per_token_head") and any(layer.kind == "mla" for layer in spec.layers):
        raise UnmodelledError(f"vram does not model vLLM's {kv_dtype} KV cache for MLA attention ({spec.model_type})")
    if compressed_attention(spec):
        if spec.drafter is not None:
            raise UnmodelledError(
                f"{spec.model_type}: vram does not model a draft model beside DeepSeek-V4's caches yet"
            )
        layout = _with_in_flight(_deepseek_v4_layout(spec, query, profile, element_bytes(kv_dtype)), spec, query)
        if len(_LAYOUTS) >= 256:
            _LAYOUTS.clear()
        _LAYOUTS[key] = (spec.layers, layout)
        return layout
    extra = mtp_kv_layers(spec, query)
    drafter = drafter_kv_layers(spec, query)
    model = spec.model_copy(update={"layers": spec.layers + extra}) if extra else spec
    if any(layer.kind == "mla" and layer.index_dim for layer in spec.layers):
        if drafter:
            raise UnmodelledError(
                f"{spec.model_type}: vram does not model a draft model beside sparse-attention layers yet"
            )
        layout = _dsa_layout(model, element_bytes(kv_dtype), gpu)
    elif any(_has_state(layer) for layer in spec.layers):
        layout = _hybrid_layout(
            model,
            query.gpus,
            kv_dtype,
            _act_bytes(spec, query),
            profile,
            query.prefix_caching,
            speculative_tokens(spec, query),
            drafter,
            gpu,
        )
    else:
        if drafter:
            model = model.model_copy(update={"layers": model.layers + drafter})
        hma_off = _chunked_with_hidden_state_drafter(spec, query)
        if hma_off:
            model = model.model_copy(update={"layers": tuple(_as_full(layer) for layer in model.layers)})
        layout = _kv_layout(model, query.gpus, kv_dtype, query.block_size or profile.default_block_size)
    layout = _with_in_flight(layout, spec, query)
    if len(_LAYOUTS) >= 256:
        _LAYOUTS.clear()
    _LAYOUTS[key] = (spec.layers, layout)
    return layout


def _block_size_unmodelled(spec: ModelSpec, block_size: int) -> str | None:
    """Why vram does not size block= (``--block-size``) for this model, else None. A user's block size
    is the cache block of attention-only models as given (platforms/interface.py@v0.33.0
    ``update_block_size_for_backend`` skips the backend's preferred size when
    ``user_specified_block_size``); MLA backends take their own kernel blocks, and hybrid, sparse and
    compressed caches align the attention block to other pages, which vram does not follow from a
    user's size. DeepSeek-V4's 256, its FlashMLA sparse kernel's only block and the one its recipes
    give (``--block-size 256``), is the block vram sizes it with: that one is taken."""
    if compressed_attention(spec) and block_size == DSV4_MLA_BLOCK:
        return None
    if spec.model_type in _INKLING_TYPES or compressed_attention(spec):
        kind = "compressed attention"
    elif any(layer.kind == "mla" for layer in spec.layers):
        kind = "MLA attention"
    elif any(_has_state(layer) for layer in spec.layers):
        kind = "recurrent or conv states beside attention"
    else:
        return None
    return (
        f"block= (vLLM --block-size) is sized for attention-only models; {spec.model_type} has {kind}, "
        "whose pages vLLM aligns the block to: ask without block="
    )


def _with_in_flight(
    layout: tuple[KvLayout, tuple[str, ...]], spec: ModelSpec, query: Query
) -> tuple[KvLayout, tuple[str, ...]]:
    """The layout with the release's in-flight batches for its sliding and chunked groups."""
    batches = in_flight_batches(version_profile(query)[0], speculative_method(spec, query), query.async_scheduling)
    update = {"in_flight_batches": batches, "extra_retained_tokens": extra_retained_tokens(spec, query)}
    return layout[0].model_copy(update=update), layout[1]


def extra_retained_tokens(spec: ModelSpec, query: Query) -> int:
    """Tokens every SlidingWindowSpec keeps beyond ``window - 1`` (v1/kv_cache_interface.py
    ``max_admission_blocks_per_request``, @v0.28.0 .. @v0.33.0), set on every sliding layer at start-up
    (v1/core/kv_cache_utils.py@v0.28.0 / @v0.29.0: ``num_speculative_tokens - 1`` when
    ``use_multi_module_mtp()``; @v0.31.0 .. kv_cache_planning.py@v0.33.0: ``num_prefill_lookahead_tokens
    - 1``, which is ``num_speculative_tokens - 1`` for multi-module MTP, 0 for the other EAGLE-family
    methods and without speculation). ``use_multi_module_mtp`` (config/speculative.py, same releases):
    method "mtp" and ``min(num_nextn_predict_layers, num_speculative_tokens) > 1``. Drafters
    (EAGLE, EAGLE-3, DFlash, draft models) never set it."""
    if spec.drafter is not None or not version_profile(query)[0].sliding_extra_retained_tokens:
        return 0
    num_spec = mtp_tokens(query)
    if min(spec.mtp_layers, num_spec) > 1:
        return num_spec - 1
    return 0


def _chunked_with_hidden_state_drafter(spec: ModelSpec, query: Query) -> str | None:
    """The warning when vLLM turns its hybrid KV cache manager off: chunked-local attention beside an
    EAGLE-style drafter (``use_eagle()``: EAGLE, EAGLE-3, MTP, DFlash; config/vllm.py@v0.19.0 ...
    @v0.33.0 "not yet supported with chunked local attention + eagle"). unify_hybrid_kv_cache_specs
    then makes every sliding and chunked layer full attention."""
    if not any(layer.chunked for layer in spec.layers):
        return None
    method = spec.drafter.method if spec.drafter is not None else ("mtp" if mtp_tokens(query) else None)
    if method not in ("eagle", "eagle3", "mtp", "dflash"):
        return None
    return (
        f"vLLM turns its hybrid KV cache manager off for chunked local attention with {method} drafting: "
        "every layer caches the whole context"
    )


def _as_full(layer: LayerKV) -> LayerKV:
    if layer.kind != "sliding":
        return layer
    return layer.model_copy(update={"kind": "full", "window": None, "chunked": False})


def _group_kind(layer: LayerKV) -> str:
    """The KvGroupSpec kind of an attention layer."""
    return "chunked" if layer.chunked else layer.kind


# Types the vLLM model registry (model_executor/models/registry.py) does not serve, read at every
# minor release 0.19.0-0.33.0: type -> (the first release that serves it, or None), and why. None of
# them has a transformers class vLLM's Transformers backend takes in its place (RWKV's attention does
# not go through the attention interface; xLSTM and Inkling 2 keep recurrent / convolution states
# that backend does not cache; Mllama's cross-attention is encoder-decoder, which vLLM dropped).
_SERVED_FROM: dict[str, tuple[tuple[int, int] | None, str]] = {
    "rwkv": (None, "no RWKV architecture is in its model registry"),
    "xlstm": (None, "no xLSTM architecture is in its model registry"),
    # _PREVIOUSLY_SUPPORTED_MODELS: "MllamaForConditionalGeneration": "0.10.2" (encoder-decoder removed)
    "mllama": (None, "MllamaForConditionalGeneration left its model registry after v0.10.2"),
    **{
        t: (None, "no Inkling2 architecture is in its model registry")
        for t in ("inkling2", "inkling2_text", "inkling2_loop", "inkling2_loop_text")
    },
    **{t: ((0, 25), "UnlimitedOCRForCausalLM is in 0.25 and later") for t in ("unlimited_ocr", "unlimited_ocr_text")},
    "inkling_text": ((0, 26), "InklingForCausalLM is in 0.26 and later"),
    "deepseek_v4": ((0, 20), "DeepseekV4ForCausalLM is in 0.20 and later"),
}


def serve_refusal(spec: ModelSpec, query: Query) -> str | None:
    """The sentence when the query's vLLM release does not serve the model's type, else None."""
    entry = _SERVED_FROM.get(spec.model_type)
    if entry is None:
        return None
    first, why = entry
    version = version_profile(query)[0].version
    if first is not None and release_of(version) >= first:
        return None
    return f"vLLM {version} does not serve {spec.model_type} ({why}); engine=transformers sizes it"


# The answer per spec (keyed like _LAYOUTS, by the layers tuple): the fit solvers ask it at every probe.
def _refuse_unmodelled_cache(spec: ModelSpec) -> None:
    """Caches whose vLLM layout is not modelled: conv states transformers keeps in a dtype of their
    own (other than Inkling's, which :func:`_inkling_layout` lays out), RWKV and ZAYA states."""
    if (why := _unmodelled_cache(spec)) is not None:
        raise InputError(why)


@by_spec(256)
def _unmodelled_cache(spec: ModelSpec) -> str | None:
    if spec.model_type in _INKLING_TYPES:
        return None  # its conv states are laid out by _inkling_layout
    if any(layer.mixer == "rwkv" for layer in spec.layers):
        return f"{spec.model_type}: vram does not model RWKV's state in vLLM"
    if any(layer.mixer == "cca" for layer in spec.layers):
        return f"{spec.model_type}: vram does not model how vLLM keeps ZAYA's convolution states yet"
    if any(layer.conv_state_dtype_bytes for layer in spec.layers):
        return f"{spec.model_type}: vram does not model how vLLM keeps its short-convolution states yet"
    if spec.cache_shared_bytes or any(
        layer.cache_dtype_bytes or layer.prefix_tokens or layer.mixer == "mlstm" for layer in spec.layers
    ):
        # XLNet's fp32 memory, CPM-Ant's prompt tokens, xLSTM's matrix memory: transformers' caches only
        return f"{spec.model_type}: vram does not model how vLLM would page this model's cache"
    return None


# Inkling (InklingForCausalLM, 0.26+): every decoder layer owns one short-convolution state kept as a
# paged sliding-window cache (models/inkling/nvidia/sconv_swa_attn.py@v0.26.0, the same spec
# @v0.29.0 and @v0.33.0).
_INKLING_TYPES = frozenset({"inkling_text"})


def _inkling_conv(spec: ModelSpec, layer: LayerKV, tp: int) -> tuple[int, int, int]:
    """(heads per GPU, packed head width, padded head width) of one layer's conv-state spec
    (``InklingConvState``): the layer's KV heads, each holding its K and V head and its
    hidden / kv_heads share of the attention-output and MLP-output streams, the width padded to the
    next power of two; ``num_kv_heads // tp`` heads per GPU (it asserts ``tp <= num_kv_heads``)."""
    kv = layer.kv_heads
    if tp > kv:
        raise InputError(
            f"vLLM will not start {spec.model_type} at gpus={tp}: its short-convolution cache needs at most "
            f"{kv} GPUs (one KV head each)"
        )
    raw = 2 * layer.key_dim + 2 * (spec.hidden_size // kv)
    return kv // tp, raw, 1 << (raw - 1).bit_length()


def _inkling_layout(spec: ModelSpec, query: Query, kv_dtype: KVDType) -> tuple[KvLayout, tuple[str, ...]]:
    """Inkling's groups: each layer's attention (FullAttentionSpec, or SlidingWindowSpec over
    ``sliding_window_size``) and its conv state, a SlidingWindowSpec whose window and block are the
    conv kernel, ``heads x padded width`` per token, ``head_size_v=0``, always bf16 (the model asserts
    bf16). Pages are unified to the largest (v1/core/kv_cache_utils.py@v0.26.0 /
    kv_cache_planning.py@v0.33.0 ``unify_kv_cache_spec_page_size``): a smaller page that divides it
    raises its block size by the ratio, a conv page that does not is padded (0.26-0.28: its backend
    ``indexes_kv_by_block_stride``; 0.29+: any non-MLA attention spec). Layers group by equal spec
    (``_get_kv_cache_groups_uniform_page_size``), so conv states with different heads are separate
    types."""
    if mtp_tokens(query) or spec.drafter is not None:
        raise UnmodelledError(f"{spec.model_type}: vram does not model speculative decoding beside its conv states yet")
    if resolve_dtypes(spec, query).model != "bf16":
        raise InputError(f"vLLM serves {spec.model_type} in bf16 only (its conv-state cache asserts bfloat16)")
    tp = query.gpus
    cache_block = version_profile(query)[0].default_block_size
    # (attention or conv, kind, window, heads, head width) -> [layers, page bytes, block size]
    specs: dict[tuple[bool, str, int | None, int, int], list[int]] = {}
    for layer in spec.layers:
        if layer.kind not in ("full", "sliding") or not layer.conv_kernel:
            raise UnmodelledError(f"{spec.model_type}: a layer vram does not lay out in vLLM")
        window = layer.window if layer.kind == "sliding" else None
        attn = specs.setdefault((False, layer.kind, window, layer.kv_heads, layer.key_dim), [0, 0, cache_block])
        attn[0] += 1
        attn[1] = _page_bytes(layer, tp, kv_dtype, cache_block)
        heads, _, width = _inkling_conv(spec, layer, tp)
        kernel = layer.conv_kernel
        state = specs.setdefault((True, "sliding", kernel, heads, width), [0, 0, kernel])
        state[0] += 1
        state[1] = kernel * heads * width * 2  # bf16
    biggest = max(page for _, page, _ in specs.values())
    types = []
    for (conv, kind, window, _, _), (n, page, block) in specs.items():
        if page != biggest:
            if biggest % page == 0:
                block *= biggest // page
            elif not conv:
                raise UnmodelledError(
                    f"{spec.model_type}: an attention page that does not divide the conv-state page, which vram "
                    "does not model"
                )
        types.append(KvGroupSpec(kind=kind, window=window, page_bytes=biggest, num_layers=n, block_size=block))
    group_size, num_groups, _ = hybrid_groups([t.num_layers for t in types])
    return KvLayout(
        types=tuple(types), group_size=group_size, num_groups=num_groups, uniform=False, block_size=cache_block
    ), ()


def _kv_layout(
    spec: ModelSpec, tp: int, kv_dtype: KVDType, block: int = BLOCK_SIZE
) -> tuple[KvLayout, tuple[str, ...]]:
    """``block``: the release's cache block size (CacheConfig.DEFAULT_BLOCK_SIZE, 16 up to 0.33, 64 from
    0.34; FlashAttention, FlashInfer, Triton and FlashMLA take multiples of 16 or 64, so the default
    stands, vllm_profiles.backend_block_size)."""
    warnings: list[str] = []
    counts: dict[tuple[str, int | None, int], int] = {}
    for layer in spec.layers:
        if layer.kind == "none":
            continue
        key = (
            _group_kind(layer),
            layer.window if layer.kind == "sliding" else None,
            _page_bytes(layer, tp, kv_dtype, block),
        )
        counts[key] = counts.get(key, 0) + 1
    if not counts:
        raise InputError(f"{spec.model_type}: the model has no KV-cache layers for vLLM to size")
    types = tuple(KvGroupSpec(kind=k[0], window=k[1], page_bytes=k[2], num_layers=n) for k, n in counts.items())
    kinds = {(t.kind, t.window) for t in types}
    if len(kinds) == 1:
        # One attention type (page sizes may still differ per layer): a single group.
        return KvLayout(
            types=types, group_size=sum(t.num_layers for t in types), num_groups=1, uniform=True, block_size=block
        ), ()
    pages = {t.page_bytes for t in types}
    if len(pages) > 1:
        # v1/core/kv_cache_utils.py unify_kv_cache_spec_page_size: a smaller page that divides the
        # largest raises its layers' block size by the ratio (gemma-4-31b: its 512-dim global layers
        # take 32-token blocks beside 16-token sliding blocks, calibration2 n036); one that does not
        # divide it is padded (backends that index by block stride) or refused.
        biggest = max(pages)
        unified = []
        for t in types:
            if t.page_bytes == biggest:
                unified.append(t)
            elif biggest % t.page_bytes == 0:
                unified.append(
                    t.model_copy(update={"page_bytes": biggest, "block_size": block * (biggest // t.page_bytes)})
                )
            else:
                warnings.append("KV layer types have page sizes that do not divide; vLLM pads them to the largest")
                unified.append(t.model_copy(update={"page_bytes": biggest}))
        types = tuple(unified)
    group_size, num_groups, _ = hybrid_groups([t.num_layers for t in types])
    return KvLayout(types=types, group_size=group_size, num_groups=num_groups, uniform=False, block_size=block), tuple(
        warnings
    )


# DSA models' cache blocks: the indexer's backend takes 64-token blocks only on CUDA
# (v1/attention/backends/mla/indexer.py@v0.26.0, "Setting kv cache block size to 64 for
# DEEPSEEK_V32_INDEXER backend", calibration2 n044), and so does FlashMLA (sparse).
DSA_BLOCK_SIZE = 64


def _sm100(gpu: GPU | None) -> bool:
    return (
        gpu is not None
        and gpu.vendor == "nvidia"
        and gpu.compute_capability is not None
        and gpu.compute_capability[0] == 10
    )


def _dsa_latent_bytes(layer: LayerKV, dtype_bytes: int, *, sm100: bool) -> int:
    """Bytes per token of a sparse-attention layer's latent (see :func:`_dsa_layout`)."""
    if dtype_bytes == 1 and not sm100:
        return DS_MLA_BYTES_PER_TOKEN["fp8_ds_mla"]
    return (layer.key_dim + layer.value_dim) * dtype_bytes


def _dsa_layout(spec: ModelSpec, dtype_bytes: int, gpu: GPU | None) -> tuple[KvLayout, tuple[str, ...]]:
    """MLA with DeepSeek sparse attention (DeepSeek-V3.2, GLM-5, Mistral Large 4): each layer caches
    the latent plus the rope key, and its indexer caches fp8 keys with an fp32 scale per 128
    (models/deepseek_v2.py Indexer: index_head_dim + index_head_dim / 128 x 4 bytes per token). Both
    are full-attention specs, so vLLM keeps them in one group whose block holds every layer's pages.

    With an fp8 KV cache the sparse backend decides the latent's format
    (model_executor/layers/attention/mla_attention.py): FLASHMLA_SPARSE (Hopper) stores fp8_ds_mla,
    656 B/token (512 fp8 + 4 fp32 scales + 64 bf16 rope); FLASHINFER_MLA_SPARSE (data-centre
    Blackwell) keeps the standard fp8 layout, 576 B/token. No GPU named: Hopper."""
    sm100 = _sm100(gpu)
    pages: dict[int, int] = {}
    for layer in spec.layers:
        if layer.kind == "none":
            continue
        if layer.kind != "mla":
            raise InputError(
                f"{spec.model_type}: sparse-attention layers next to other attention kinds are not "
                "modelled for vLLM yet"
            )
        latent = _dsa_latent_bytes(layer, dtype_bytes, sm100=sm100)
        indexer = dsa_indexer_bytes_per_token(layer.index_dim) if layer.index_dim else 0
        page = DSA_BLOCK_SIZE * (latent + indexer)
        pages[page] = pages.get(page, 0) + 1
    types = tuple(KvGroupSpec(kind="mla", window=None, page_bytes=page, num_layers=n) for page, n in pages.items())
    return KvLayout(
        types=types, group_size=sum(pages.values()), num_groups=1, uniform=True, block_size=DSA_BLOCK_SIZE
    ), ()


# DeepSeek-V4 in vLLM 0.20-0.34 (models/deepseek_v4.py, layers/deepseek_v4_attention.py,
# layers/deepseek_compressor.py, v1/kv_cache_interface.py, v1/core/kv_cache_utils.py @v0.21.0;
# models/deepseek_v4/, v1/attention/backends/mla/sparse_swa.py and indexer.py @v0.23.0-v0.34.0: the
# same pages in every release, the planner per Dsv4Planner; the 256-token block is still the lcm of
# the backends' kernel blocks under 0.34's default of 64, which the latent backend does not take,
# platforms/interface.py@v0.34.0 _preferred_block_size_for_backends). Every cache page is padded to a multiple
# of 576 B (FlashMLA) and the KV cache is fp8, in the fp8_ds_mla format (584 B/token).
DSV4_ALIGN = 576
DSV4_SWA_BLOCK = 64  # DeepseekV4SWACache: the sliding-window cache's block (shares C4's page)
DSV4_MLA_BLOCK = 256  # V4_FLASHMLA_SPARSE's only kernel block size, so the default --block-size
DSV4_STATE_BLOCKS = {4: 4, 128: 8}  # CompressorStateCache: block by compress ratio


def _deepseek_v4_layout(
    spec: ModelSpec, query: Query, profile: VllmProfile, dtype_bytes: int
) -> tuple[KvLayout, tuple[str, ...]]:
    """DeepSeek-V4's caches as vLLM 0.20-0.34 plans them (see ``Dsv4Planner``). Per layer: the sliding-window cache
    (64-token blocks); on compressed layers the compressed latent (MLAAttentionSpec, ``block / ratio`` entries per
    256-token block) and the compressor's fp32 state (2 x coff x head_dim per slot, a "sliding window" of coff x
    ratio tokens in 4- or 8-token blocks); on CSA layers also the indexer's fp8 keys (index_head_dim + a 4-byte
    scale per 128) and its compressor's state. The MTP layers cache a sliding window only (compress ratio 1).

    Grouping (``group_and_unify_kv_cache_specs``, ``_get_kv_cache_groups_uniform_groups``): the latent and indexer
    caches form one group; the others one group per (block, window), padded to the nearest latent page size and
    split into sub-groups of ``num_layer_tuples`` (the ``_approximate_gcd`` of the groups' largest same-page
    counts); 0.27-0.28 no longer pad. A block index costs: 0.20-0.22 the sum of the distinct latent page sizes times
    the longest per-page bucket (``_get_kv_cache_config_deepseek_v4``); 0.23-0.26 each page size times its most
    layers in one group (``_bucket_layers_by_page_size``); 0.27-0.28 the widest group. A request's blocks
    (``get_max_concurrency_for_kv_cache_config``) are its bytes over all groups divided by the latent group's page
    up to 0.26, each group's pages summed from 0.27. 0.29+: :func:`_deepseek_v4_packed`."""
    version = profile.version
    if profile.dsv4_planner == "none":
        raise UnmodelledError(
            f"vram models DeepSeek-V4's vLLM cache layout for vLLM 0.20-0.34 only; vram has not read how vLLM "
            f"{version} lays it out, so use vllm=0.34 or engine=transformers"
        )
    # Its pages are fp8_ds_mla whatever --kv-cache-dtype says: another dtype is a refusal to start
    # (_dsv4_kv_refusal), sized as the pages vLLM would have laid out.
    pad = lambda n: ceil_div(n, DSV4_ALIGN) * DSV4_ALIGN  # noqa: E731
    block = DSV4_MLA_BLOCK
    latent: list[int] = []  # MLAAttentionSpec pages (compressed latent, CSA indexer keys)
    states: dict[tuple[int, int], list[int]] = {}  # (block, window) -> SlidingWindowMLASpec pages
    window = 0
    swa_layers = (spec.mtp_layers if mtp_tokens(query) else 0) + len(spec.layers)
    for layer in spec.layers:
        window = layer.window or window
        rate = layer.compress_rate
        if not rate:
            continue
        if rate not in DSV4_STATE_BLOCKS or block % rate:
            raise InputError(f"{spec.model_type}: vLLM {version} compresses by 4 or 128 only, not {rate}")
        csa = layer.overlap_dim > 0
        coff = 2 if csa else 1
        latent.append(pad(block // rate * DSV4_FP8_DS_MLA_BYTES_PER_TOKEN))
        state_block = DSV4_STATE_BLOCKS[rate]
        states.setdefault((state_block, coff * rate), []).append(pad(state_block * 2 * coff * layer.key_dim * 4))
        if csa:
            index_dim = layer.compressed_dim - layer.key_dim
            latent.append(pad(block // rate * dsa_indexer_bytes_per_token(index_dim)))
            states[(state_block, coff * rate)].append(pad(state_block * 2 * coff * index_dim * 4))
    if not latent:
        raise InputError(f"{spec.model_type}: no compressed layer, which vLLM's DeepSeek-V4 planner requires")
    if profile.dsv4_planner == "packed":
        return _deepseek_v4_packed(latent, states, swa_layers, window, profile), ()
    sizes = sorted(set(latent))
    buckets = {(block, None): {size: latent.count(size) for size in sizes}}
    groups = [(DSV4_SWA_BLOCK, window, [pad(DSV4_SWA_BLOCK * DSV4_FP8_DS_MLA_BYTES_PER_TOKEN)] * swa_layers)]
    groups += [(b, w, pages) for (b, w), pages in states.items()]
    tuples = [max(buckets[(block, None)].values())] + [
        max(pages.count(p) for p in set(pages)) for _, _, pages in groups
    ]
    chunk = _approximate_gcd(tuples, lower_bound=tuples[0])
    types = [
        KvGroupSpec(kind="mla", window=None, page_bytes=size, num_layers=n, block_size=block)
        for size, n in buckets[(block, None)].items()
    ]
    longest = max(buckets[(block, None)].values())
    # Pool bytes per block index, by page size: the most layers of that page in one group (0.23-0.26,
    # _bucket_layers_by_page_size); the widest group (0.27-0.28, _get_packed_kv_cache_layout).
    slots = dict(buckets[(block, None)])
    widest = sum(size * n for size, n in slots.items())
    padding = profile.dsv4_planner in ("tuples", "slots")
    request_groups = [KvGroupSpec(kind="mla", window=None, page_bytes=widest, num_layers=len(latent), block_size=block)]
    num_groups = 1
    for b, w, pages in groups:
        padded: dict[int, int] = {}
        for page in pages:
            up = min((size for size in sizes if size >= page), default=None) if padding else page
            if up is None:
                raise InputError(f"{spec.model_type}: a state page larger than every latent page, which vLLM refuses")
            padded[up] = padded.get(up, 0) + 1
        per_size = set(padded.values())
        if len(per_size) != 1:
            raise InputError(f"{spec.model_type}: unequal layer counts in one of vLLM's DeepSeek-V4 groups")
        count = per_size.pop()
        split = ceil_div(count, chunk)
        num_groups += split
        longest = max(longest, ceil_div(count, split))
        for size in padded:
            slots[size] = max(slots.get(size, 0), ceil_div(count, split))
        for i in range(split):
            # Round-robin: sub-group i takes layer tuples i, i + split, ...
            layers = len(range(i, count, split))
            page = sum(padded) * layers
            widest = max(widest, page)
            request_groups.append(
                KvGroupSpec(kind="sliding", window=w, page_bytes=page, num_layers=layers * len(padded), block_size=b)
            )
        types += [
            KvGroupSpec(kind="sliding", window=w, page_bytes=size, num_layers=n, block_size=b)
            for size, n in padded.items()
        ]
    if profile.dsv4_planner == "unpadded":
        pool = widest
    elif profile.dsv4_planner == "slots":
        pool = sum(size * n for size, n in slots.items())
    else:
        pool = sum(sizes) * longest
    return KvLayout(
        types=tuple(types),
        group_size=longest,
        num_groups=num_groups,
        uniform=True,
        block_size=min(DSV4_STATE_BLOCKS.values()),
        pool_block_bytes=pool,
        # Up to 0.26 a request's bytes over all groups are divided by the latent group's page
        # (get_max_concurrency_for_kv_cache_config, pooled); from 0.27 each group's pages are summed.
        request_block_bytes=sum(t.page_bytes * t.num_layers for t in types if t.kind == "mla"),
        request_groups=tuple(request_groups) if profile.dsv4_planner == "unpadded" else (),
    ), ()


def _deepseek_v4_packed(
    latent: list[int], states: dict[tuple[int, int], list[int]], swa_layers: int, window: int, profile: VllmProfile
) -> KvLayout:
    """DeepSeek-V4's caches as vLLM 0.29-0.34 pack them (``_get_packed_kv_cache_groups``,
    ``_get_kv_cache_bytes_per_block``; v1/core/kv_cache_planning.py@v0.33.0, @v0.34.0). Layers are bucketed by
    spec type and block size: the latent and indexer caches (256-token blocks), the sliding windows
    (64), the C4 states (4) and the C128 states (8), each page unpadded. A bucket holding as many
    layers of each of its page sizes is "balanced"; the largest balanced bucket mixing page sizes
    sets the floor of the repeats per group, ``_approximate_gcd`` of the balanced buckets' largest
    same-page counts picks it, and each balanced bucket splits into ``cdiv(count, repeats)`` groups
    (layers dealt round-robin). A block index costs the widest group's page bytes (all groups alias
    one block); a request takes, per group, its pages (``max_memory_usage_pages``)."""
    buckets: list[tuple[str, int, int | None, list[int]]] = [("mla", DSV4_MLA_BLOCK, None, latent)]
    buckets.append(
        ("sliding", DSV4_SWA_BLOCK, window, [_dsv4_pad(DSV4_SWA_BLOCK * DSV4_FP8_DS_MLA_BYTES_PER_TOKEN)] * swa_layers)
    )
    buckets += [("sliding", b, w, pages) for (b, w), pages in states.items()]
    counted = [(kind, b, w, {p: pages.count(p) for p in sorted(set(pages))}) for kind, b, w, pages in buckets]
    balanced = [len(set(by_page.values())) == 1 for _, _, _, by_page in counted]
    floor = max(
        (
            max(by_page.values())
            for (_, _, _, by_page), ok in zip(counted, balanced, strict=True)
            if ok and len(by_page) > 1
        ),
        default=0,
    )
    if not floor:
        raise UnmodelledError(
            "DeepSeek-V4: no balanced bucket of mixed pages, which vram's model of vLLM's planner needs"
        )
    repeats = _approximate_gcd(
        [max(by_page.values()) for (_, _, _, by_page), ok in zip(counted, balanced, strict=True) if ok],
        lower_bound=floor,
    )
    types: list[KvGroupSpec] = []
    groups: list[KvGroupSpec] = []
    widest = 0
    for (kind, b, w, by_page), ok in zip(counted, balanced, strict=True):
        split = ceil_div(max(by_page.values()), repeats) if ok else 1
        types += [
            KvGroupSpec(kind="mla" if kind == "mla" else "sliding", window=w, page_bytes=p, num_layers=n, block_size=b)
            for p, n in by_page.items()
        ]
        for i in range(split):
            # Round-robin: group i takes repeats i, i + split, ... of the bucket's pattern.
            layers = {p: len(range(i, n, split)) for p, n in by_page.items()}
            page = sum(p * n for p, n in layers.items())
            widest = max(widest, page)
            groups.append(
                KvGroupSpec(
                    kind="mla" if kind == "mla" else "sliding",
                    window=w,
                    page_bytes=page,
                    num_layers=sum(layers.values()),
                    block_size=b,
                )
            )
    return KvLayout(
        types=tuple(types),
        group_size=max(g.num_layers for g in groups),
        num_groups=len(groups),
        uniform=True,
        block_size=min(DSV4_STATE_BLOCKS.values()),
        pool_block_bytes=widest,
        request_groups=tuple(groups),
    )


def _dsv4_pad(n: int) -> int:
    """A DeepSeek-V4 cache page padded to FlashMLA's 576-byte alignment."""
    return ceil_div(n, DSV4_ALIGN) * DSV4_ALIGN


def _approximate_gcd(values: list[int], *, lower_bound: int) -> int:
    """vLLM's chunk size for DeepSeek-V4's layer tuples (v1/core/kv_cache_utils.py ``_approximate_gcd``):
    the d in [lower_bound, max] that rounds every value up to a multiple with the least padding,
    ties to the larger d."""
    best, best_pad = lower_bound, None
    for d in range(lower_bound, max(values) + 1):
        padding = sum((d - x % d) % d for x in values)
        if best_pad is None or padding <= best_pad:
            best, best_pad = d, padding
    return best


def _hybrid_layout(
    spec: ModelSpec,
    tp: int,
    kv_dtype: KVDType,
    model_bytes: int,
    profile: VllmProfile,
    prefix_caching: bool | None,
    num_spec: int = 0,
    drafter: tuple[LayerKV, ...] = (),
    gpu: GPU | None = None,
) -> tuple[KvLayout, tuple[str, ...]]:
    """vLLM's hybrid KV cache manager: state layers hold whole per-request states in pages as large
    as an attention block, whose size is raised until one attention page holds the largest state
    (platforms/interface.py / model_executor/models/config.py, the alignment of each release); every
    group then shares one page size and one block count.

    A drafter's attention layers (``drafter``) are a layer type of their own: their spec differs from
    the target's in its heads (FullAttentionSpec compares num_kv_heads and head_size), so they form
    their own groups (calibration2 n025: 16 full + 5 drafter + 48 GDN layers in groups of 5, "Add 4
    padding layers" and "Add 2 padding layers"). The block is aligned on the target's attention page
    (platforms/interface.py@v0.20.2 ``_align_hybrid_block_size`` reads the target's model config)."""
    attention = [layer for layer in spec.layers if layer.kind in ("full", "sliding", "mla")]
    # Falcon-H1's layers are attention layers that also carry a Mamba-2 state (both are cached).
    states = [layer for layer in spec.layers if _has_state(layer)]
    state_pages = [_state_page_bytes(spec, layer, tp, model_bytes, profile.version, num_spec) for layer in states]
    mamba_page = max(state_pages)
    mode = mamba_cache_mode(
        profile, prefix_caching, supports_all_mode=any(layer.mixer in ("mamba", "mamba2", "") for layer in states)
    )
    if mode == "all":
        raise UnmodelledError(
            f"vLLM {profile.version} caches {spec.model_type}'s Mamba state per chunk with prefix caching "
            "(mamba_cache_mode all), which vram does not model: use vllm=0.25 or vllm=0.28 and later"
        )
    mixers = tuple(sorted({vllm_mixer(spec, layer, gpu) for layer in states}))
    mamba_blocks = mamba_blocks_per_request(profile, mode, num_speculative_tokens=num_spec, mixers=mixers)
    if not attention:
        page = mamba_page
        only = KvGroupSpec(
            kind="mamba", window=None, page_bytes=page, num_layers=len(states), mamba_blocks=mamba_blocks
        )
        types: tuple[KvGroupSpec, ...] = (only,)
        block = profile.default_block_size
        return KvLayout(types=types, group_size=len(states), num_groups=1, uniform=True, block_size=block), ()
    per_token = max(_attn_bytes_per_token(layer, tp, kv_dtype) for layer in attention)
    mla = any(layer.kind == "mla" for layer in attention)
    cache_block = profile.default_block_size
    if profile.hybrid_alignment == "fixed":
        alignment = 64 if mla else BLOCK_SIZE
    else:
        # max(the backend's smallest kernel block, the cache block): 16 for FlashAttention; MLA
        # backends take 64, and hybrid MLA models at least 128 from 0.27; the cache block is 64 from
        # 0.34 (platforms/interface.py@v0.34.0 _align_hybrid_block_size).
        alignment = max(profile.hybrid_mla_alignment if mla else BLOCK_SIZE, cache_block)
    checkpoint_alignment = prefill_checkpoint_alignment(profile, mode, mixers)
    if checkpoint_alignment:
        # "Internal prefill checkpoints land on block boundaries" (platforms/interface.py@v0.33.0).
        alignment = math.lcm(alignment, checkpoint_alignment)
    pages = hybrid_attention_pages(mamba_page, per_token, alignment, cache_block)
    counts: dict[tuple[str, int | None, bool], int] = {}
    for layer in attention:
        kind = "mla" if layer.kind == "mla" else (_group_kind(layer) if layer.kind == "sliding" else "full")
        window = layer.window if layer.kind == "sliding" else None
        counts[(kind, window, False)] = counts.get((kind, window, False), 0) + 1
    drafter_blocks: dict[tuple[str, int | None, bool], int] = {}
    for layer in drafter:
        window = layer.window if layer.kind == "sliding" else None
        dkey = (_group_kind(layer), window, True)
        counts[dkey] = counts.get(dkey, 0) + 1
        drafter_blocks[dkey] = drafter_block_size(layer, tp, kv_dtype, per_token, pages.block_size)
    types = (
        *(
            KvGroupSpec(
                kind=k[0],
                window=k[1],
                page_bytes=pages.page_bytes,
                num_layers=n,
                block_size=drafter_blocks[k] if drafter_blocks.get(k, pages.block_size) != pages.block_size else None,
            )
            for k, n in counts.items()
        ),
        KvGroupSpec(
            kind="mamba", window=None, page_bytes=pages.page_bytes, num_layers=len(states), mamba_blocks=mamba_blocks
        ),
    )
    group_size, num_groups, _ = hybrid_groups([t.num_layers for t in types])
    return KvLayout(
        types=types,
        group_size=group_size,
        num_groups=num_groups,
        uniform=False,
        block_size=pages.block_size,
        mamba_padding_pct=pages.mamba_padding_pct,
        prefill_checkpoints=checkpoint_alignment is not None,
    ), ()


def drafter_block_size(layer: LayerKV, tp: int, kv_dtype: KVDType, target_per_token: int, block: int) -> int:
    """Tokens per block of a drafter layer beside a hybrid target, whose pages are the target's
    attention page (block x target_per_token): a smaller page that divides it gets its block size
    raised by the ratio (v1/core/kv_cache_utils.py@v0.20.2 unify_kv_cache_spec_page_size), e.g. the
    Qwen3.6-35B-A3B drafter at TP 8 (1 x 128 x 2 values per token against the target's 1 x 256 x 2).
    A larger page, or one that does not divide, is refused."""
    per_token = _attn_bytes_per_token(layer, tp, kv_dtype)
    if per_token == target_per_token:
        return block
    if per_token < target_per_token and target_per_token % per_token == 0:
        return block * (target_per_token // per_token)
    raise UnmodelledError(
        f"at gpus={tp} the drafter's attention page ({per_token:,} bytes per token per layer) does not divide the "
        f"model's ({target_per_token:,}), which vram does not model beside a hybrid model yet"
    )


def _layer_blocks(layout: KvLayout, t: KvGroupSpec, max_model_len: int, batched_tokens: int) -> int:
    """Blocks one request of ``max_model_len`` tokens takes in one layer (or group) of type ``t``, with
    ``batched_tokens`` in flight (all the in-flight batches together)."""
    block = t.block_size or layout.block_size
    if t.kind == "mamba":
        return t.mamba_blocks
    if t.kind == "sliding" and t.window is not None:
        span = min(t.window - 1 + layout.extra_retained_tokens + batched_tokens, max_model_len)
        return ceil_div(span, block) + 1
    if t.kind == "chunked" and t.window is not None:
        return ceil_div(min(t.window + batched_tokens, max_model_len), block)
    return ceil_div(max_model_len, block)


def _blocks_per_request(layout: KvLayout, max_model_len: int, batched_tokens: int) -> int:
    """Blocks one request of ``max_model_len`` tokens needs, in units of one shared block index."""

    def layer_blocks(t: KvGroupSpec) -> int:
        return _layer_blocks(layout, t, max_model_len, batched_tokens)

    batched_tokens *= layout.in_flight_batches
    if layout.request_groups:
        return sum(layer_blocks(g) for g in layout.request_groups)
    if layout.uniform:
        need = sum(layer_blocks(t) * t.page_bytes * t.num_layers for t in layout.types)
        return ceil_div(need, layout.request_block_bytes or layout.bytes_per_block)
    # One spec per group: a type split over several groups counts once per group.
    per_layer = sum(layer_blocks(t) * ceil_div(t.num_layers, layout.group_size) for t in layout.types)
    need = layout.group_size * per_layer * layout.types[0].page_bytes
    return ceil_div(need, layout.bytes_per_block)


def _request_layer_bytes(layout: KvLayout, max_model_len: int, batched_tokens: int) -> int:
    """Sum over the real layers (no padding layers) of one request's bytes (max_memory_usage_bytes)."""
    batched_tokens *= layout.in_flight_batches
    total = 0
    for t in layout.types:
        block = t.block_size or layout.block_size
        if t.kind == "mamba":
            blocks = t.mamba_blocks
        elif t.kind == "sliding" and t.window is not None:
            span = min(t.window - 1 + layout.extra_retained_tokens + batched_tokens, max_model_len)
            blocks = ceil_div(span, block) + 1
        elif t.kind == "chunked" and t.window is not None:
            blocks = ceil_div(min(t.window + batched_tokens, max_model_len), block)
        else:
            blocks = ceil_div(max_model_len, block)
        total += blocks * t.page_bytes * t.num_layers
    return total


def segment_strides(layout: KvLayout) -> tuple[int, ...]:
    """The segments of an extensible KV cache, by their block stride: the default layout (LBNHC first
    in _DEFAULT_LAYOUT_PREFERENCE, v1/attention/backends/utils.py@v0.34.0) is layer-outermost and
    block-compact, so every layer region of the allocation is a segment of its own
    (ExtensibleKVCache._segments, v1/worker/extensible_kv_cache.py@v0.34.0): each layer of a uniform
    layout, each layer slot of a hybrid group (the groups alias the slots' regions).

    DeepSeek-V4 (the one layout read per block index, ``pool_block_bytes``) is block-outermost: its
    indexer backend supports BLHNC and BLNHC only, "so the layer dim must sit inside the block dim"
    (DeepseekV4IndexerBackend.supported_kv_cache_layouts, v1/attention/backends/mla/indexer.py@v0.34.0),
    and resolve_kv_cache_layout takes BLHNC. Every tensor then has the one block stride, the widest
    group's bytes (get_kv_cache_config_from_groups, v1/core/kv_cache_planning.py@v0.34.0), the
    allocation is one segment of ``num_blocks`` blocks (``_segments``: "one overall for
    block-outermost"), and pad_kv_cache_segments leaves it as is."""
    if layout.pool_block_bytes:
        return (layout.pool_block_bytes,)
    if layout.uniform:
        return tuple(t.page_bytes for t in layout.types for _ in range(t.num_layers))
    return (layout.types[0].page_bytes,) * layout.group_size


def granule_padding_bytes(layout: KvLayout, profile: VllmProfile, num_blocks: int) -> int:
    """What committing ``num_blocks`` maps beyond their bytes: every segment's prefix is rounded up to
    the commit granule (2 MiB on CUDA; ExtensibleKVCache.physical_bytes_for)."""
    granule = profile.kv_commit_granule_bytes
    strides = segment_strides(layout)
    return committed_bytes(strides, granule, num_blocks) - num_blocks * sum(strides)


def requests_kv_bytes(
    spec: ModelSpec,
    query: Query,
    *,
    seq_len: int,
    batch: int,
    tp: int,
    batched_tokens: int,
    gpu: GPU | None = None,
) -> int:
    """Pool bytes ``batch`` requests of ``seq_len`` tokens reserve, per GPU.

    The same blocks :func:`kv_capacity` divides the pool by: the pool holds the query's b requests
    exactly when this fits it (one rule for the fit and the concurrency; the start check,
    :meth:`VllmEngine.start_limit`, comes on top). With the extensible KV cache (0.34) the blocks are
    committed in granules per segment: their blocks and the null block map
    ``granule_padding_bytes`` more, shared out over the b requests (each takes its share rounded up,
    so that the row stays b times one request's).
    """
    at = query.model_copy(update={"gpus": tp}) if tp != query.gpus else query
    layout, _ = kv_layout(spec, at)
    blocks = batch * _blocks_per_request(layout, seq_len, batched_tokens)
    kv = blocks * layout.bytes_per_block
    if extensible_kv_cache(at, gpu):
        padding = granule_padding_bytes(layout, version_profile(at)[0], blocks + 1)
        kv += batch * ceil_div(padding, batch)
    return kv


def kv_capacity(
    spec: ModelSpec, query: Query, pool_bytes: int, *, batched_tokens: int, num_blocks: int | None = None
) -> tuple[int, int, float]:
    """(num_gpu_blocks, "GPU KV cache size" tokens, max concurrency at query.seq_len) for a pool.

    The token figure follows the release (v1/core/kv_cache_utils.py): up to 0.20 the blocks per
    group times the block size; from 0.21 ``int(max concurrency x max_model_len)``. ``num_blocks``,
    when given, is the pool's block count (the extensible KV cache's committed blocks), else
    ``pool_bytes // bytes per block``.
    """
    layout, _ = kv_layout(spec, query)
    if pool_bytes <= 0 or num_blocks == 0:
        return 0, 0, 0.0
    if num_blocks is None:
        num_blocks = pool_bytes // layout.bytes_per_block
    per_request = _blocks_per_request(layout, query.seq_len, batched_tokens)
    concurrency = num_blocks / per_request
    if version_profile(query)[0].kv_tokens_report == "concurrency":
        tokens = int(concurrency * query.seq_len)
    else:
        tokens = num_blocks // layout.num_groups * layout.block_size
    return num_blocks, tokens, concurrency


def resident_requests(num_blocks: int, concurrency: float) -> float:
    """The requests of max_model_len tokens the scheduler can hold whole at once: BlockPool takes one
    block for itself at construction (its null block, ``self.null_block =
    self.free_block_queue.popleft()``, v1/core/block_pool.py@v0.25.0, @v0.30.0) and the KV-cache
    manager allocates only from the free queue (``get_num_free_blocks``), so num_blocks - 1 blocks
    serve requests. "Maximum concurrency" (get_max_concurrency_for_kv_cache_config) divides all
    ``num_blocks``, the null block counted; ``concurrency`` is that figure."""
    if num_blocks <= 0:
        return 0.0
    return concurrency * (num_blocks - 1) / num_blocks


def null_block_bytes(spec: ModelSpec, query: Query) -> int:
    """The pool bytes of the block no request gets (:func:`resident_requests`); 0 where no KV cache
    is sized."""
    if query.kv == "off" or query.method != "calibrated":
        return 0
    layout, _ = kv_layout(spec, query)
    return layout.bytes_per_block


def request_kv_bytes(spec: ModelSpec, query: Query, max_model_len: int, *, batched_tokens: int) -> int:
    """KV bytes one request of ``max_model_len`` tokens holds (max_memory_usage_bytes over layers)."""
    layout, _ = kv_layout(spec, query)
    return _request_layer_bytes(layout, max_model_len, batched_tokens)


def _start_need_bytes(layout: KvLayout, profile: VllmProfile, max_model_len: int, batched_tokens: int) -> int:
    """What the start check says one request of ``max_model_len`` tokens needs (see
    ``VllmProfile.start_check_need``): from 0.29 the whole pool blocks it takes; 0.20-0.28 those
    blocks where the layers form several groups (padding layers included) and the sum of the layers'
    bytes where they form one; 0.19 the sum of the layers' bytes."""
    rule = profile.start_check_need
    if rule == "group_blocks" or (rule == "multi_group_blocks" and not layout.uniform):
        return _blocks_per_request(layout, max_model_len, batched_tokens) * layout.bytes_per_block
    return _request_layer_bytes(layout, max_model_len, batched_tokens)


def _start_pool_bytes(layout: KvLayout, profile: VllmProfile, max_model_len: int, batched_tokens: int) -> int:
    """The smallest KV pool vLLM starts with at ``max_model_len``: one request's need, plus the block
    the check holds back first from 0.29 (the null block)."""
    held_back = layout.bytes_per_block - fit_check_bytes(profile, layout.bytes_per_block, layout.bytes_per_block)
    return _start_need_bytes(layout, profile, max_model_len, batched_tokens) + held_back


def start_need_bytes(spec: ModelSpec, query: Query, max_model_len: int, *, batched_tokens: int) -> int:
    """The KV bytes the release's start check needs for one request of ``max_model_len`` tokens."""
    layout, _ = kv_layout(spec, query)
    return _start_need_bytes(layout, version_profile(query)[0], max_model_len, batched_tokens)


def kv_terms(spec: ModelSpec, query: Query, gpu: GPU | None, kv_cache: int) -> tuple[KvTerm, ...]:
    """The parts of the KV-cache row (``kv_cache``, b requests): per layer kind what one request of s
    tokens caches, and the rest of the blocks vLLM reserves (whole blocks, pages padded to one size,
    padding layers of the KV-cache groups), so that they add up to the row."""
    if query.batch <= 0 or kv_cache <= 0:
        return ()
    per_request = kv_cache // query.batch
    if compressed_attention(spec):
        return _dsv4_kv_terms(spec, query, gpu, per_request)
    tp, s = query.gpus, query.seq_len
    kv_dtype = kv_cache_dtype(spec, query)
    dtype_bytes = element_bytes(kv_dtype)
    dsa = any(layer.kind == "mla" and layer.index_dim for layer in spec.layers)
    sm100 = _sm100(gpu)
    batched, _ = served_batch(spec, query, gpu)
    profile, _ = version_profile(query)
    num_spec = speculative_tokens(spec, query)
    model_bytes = _act_bytes(spec, query)
    layout, _ = kv_layout(spec, query)
    mamba_blocks = next((t.mamba_blocks for t in layout.types if t.kind == "mamba"), 1)
    # (part, tokens) -> [layers, bytes per token]
    parts: dict[tuple[KvPart, int], list[int]] = {}
    windows: dict[tuple[KvPart, int], int] = {}  # the sliding parts' window

    def add(part: KvPart, tokens: int, per_token: int) -> None:
        entry = parts.setdefault((part, tokens), [0, 0])
        entry[0] += 1
        entry[1] += per_token

    def attention(layer: LayerKV, part: KvPart) -> None:
        if layer.kind == "sliding" and layer.window is not None:
            # The window and every in-flight batch (two from 0.26 with async scheduling), as
            # _blocks_per_request reserves them; only the rounding to whole blocks is left to "blocks".
            span = min(layer.window - 1 + layout.extra_retained_tokens + batched * layout.in_flight_batches, s)
            kind: KvPart = "drafter_sliding" if part == "drafter" else "sliding"
            add(kind, span, _attn_bytes_per_token(layer, tp, kv_dtype))
            windows[(kind, span)] = layer.window
        elif dsa and layer.kind == "mla":
            add(part, s, _dsa_latent_bytes(layer, dtype_bytes, sm100=sm100))
            if layer.index_dim:
                indexer = dsa_indexer_bytes_per_token(layer.index_dim)
                if part == "attention":
                    add("indexer", s, indexer)
                else:
                    parts[(part, s)][1] += indexer  # the MTP layer's own indexer
        elif layer.kind in ("full", "sliding", "mla"):
            add(part, s, _attn_bytes_per_token(layer, tp, kv_dtype))

    states = 0
    state_bytes = 0
    for layer in spec.layers:
        attention(layer, "attention")
        if spec.model_type in _INKLING_TYPES:
            # The conv window one request needs: kernel - 1 tokens of the packed (unpadded) streams, bf16.
            states += 1
            heads, width, _ = _inkling_conv(spec, layer, tp)
            state_bytes += (layer.conv_kernel - 1) * heads * width * 2
        elif _has_state(layer):
            states += 1
            state_bytes += _state_page_bytes(spec, layer, tp, model_bytes, profile.version, num_spec) * mamba_blocks
    for layer in mtp_kv_layers(spec, query):
        attention(layer, "mtp")
    for layer in drafter_kv_layers(spec, query):
        attention(layer, "drafter")
    terms = [
        KvTerm(
            part=part,
            layers=n,
            bytes_per_token=per_token,
            tokens=tokens,
            bytes_per_sequence=per_token * tokens,
            in_flight_batches=layout.in_flight_batches if part in ("sliding", "drafter_sliding") else 0,
            batch_tokens=batched if part in ("sliding", "drafter_sliding") else 0,
            window=windows.get((part, tokens), 0),
        )
        for (part, tokens), (n, per_token) in parts.items()
    ]
    if states:
        if spec.model_type in _INKLING_TYPES:
            terms.append(KvTerm(part="state", layers=states, bytes_per_sequence=state_bytes))
        else:
            # Pages per layer: one (no prefix caching) or two (align mode), the prefill checkpoint where
            # the release's mixers export one, and one per speculative token (mamba_blocks_per_request).
            caching = profile.hybrid_prefix_caching_default if query.prefix_caching is None else query.prefix_caching
            base = 2 if caching else 1
            terms.append(
                KvTerm(
                    part="state",
                    layers=states,
                    bytes_per_sequence=state_bytes,
                    pages=mamba_blocks,
                    checkpoint_pages=max(mamba_blocks - base - num_spec, 0),
                    speculative_pages=num_spec,
                )
            )
    if extensible_kv_cache(query, gpu):
        # The b requests' blocks and the null block, committed in 2 MiB granules per layer segment.
        blocks = query.batch * _blocks_per_request(layout, s, batched)
        padding = granule_padding_bytes(layout, profile, blocks + 1)
        if padding:
            terms.append(KvTerm(part="granules", bytes_per_sequence=ceil_div(padding, query.batch)))
    rest = per_request - sum(t.bytes_per_sequence for t in terms)
    if rest:
        terms.append(KvTerm(part="blocks", bytes_per_sequence=rest))
    return tuple(terms)


def _dsv4_kv_terms(spec: ModelSpec, query: Query, gpu: GPU | None, per_request: int) -> tuple[KvTerm, ...]:
    """DeepSeek-V4's KV row by cache, as the planner's groups take one request's pages: the compressed
    latent and indexer keys over all s tokens, the sliding-window caches and the compressors' states
    over their window and the in-flight batches (most of a long request's pages at the default
    max_num_batched_tokens), and the rest of the blocks. The packed planner (0.29+) charges every
    group's pages at the widest group's page, so each group's share is its pages x that page; the
    earlier planners' groups are told by their own pages and the rounding goes to ``blocks``."""
    layout, _ = kv_layout(spec, query)
    batched, _ = served_batch(spec, query, gpu)
    in_flight = batched * layout.in_flight_batches
    s = query.seq_len
    groups = layout.request_groups or layout.types
    # (part, window) -> bytes
    shares: dict[tuple[KvPart, int], int] = {}
    for g in groups:
        blocks = _layer_blocks(layout, g, s, in_flight)
        share = blocks * layout.bytes_per_block if layout.request_groups else blocks * g.page_bytes * g.num_layers
        if g.kind == "mla":
            key: tuple[KvPart, int] = ("compressed", 0)
        elif g.block_size == DSV4_SWA_BLOCK:
            key = ("sliding", g.window or 0)
        else:
            key = ("compressor", g.window or 0)
        shares[key] = shares.get(key, 0) + share
    mtp = spec.mtp_layers if mtp_tokens(query) else 0
    compressing = [layer for layer in spec.layers if layer.compress_rate]

    def layers(part: KvPart, window: int) -> int:
        if part == "compressed":
            return len(compressing)
        if part == "sliding":
            return len(spec.layers) + mtp
        # A compressor's window is coff x rate tokens: two windows overlap on CSA layers.
        return sum(1 for x in compressing if (2 if x.overlap_dim else 1) * x.compress_rate == window)

    terms = [
        KvTerm(
            part=part,
            layers=layers(part, window),
            tokens=s if part == "compressed" else min(window - 1 + layout.extra_retained_tokens + in_flight, s),
            bytes_per_sequence=share,
            window=window,
            in_flight_batches=0 if part == "compressed" else layout.in_flight_batches,
            batch_tokens=0 if part == "compressed" else batched,
        )
        for (part, window), share in shares.items()
    ]
    if extensible_kv_cache(query, gpu):
        # The b requests' blocks and the null block, committed in 2 MiB granules of the one segment.
        blocks = query.batch * _blocks_per_request(layout, s, batched)
        padding = granule_padding_bytes(layout, version_profile(query)[0], blocks + 1)
        if padding:
            terms.append(KvTerm(part="granules", bytes_per_sequence=ceil_div(padding, query.batch)))
    rest = per_request - sum(t.bytes_per_sequence for t in terms)
    if rest:
        terms.append(KvTerm(part="blocks", bytes_per_sequence=rest))
    return tuple(terms)


def weight_terms(spec: ModelSpec, query: Query, gpu: GPU | None, weights: int) -> tuple[WeightTerm, ...]:
    """The parts of :func:`loaded_weight_bytes` beside the checkpoint's share ``weights`` (non-zero ones)."""
    constants = query_constants(query)
    mxfp4 = 0
    if uses_mxfp4_experts(spec, query):
        mxfp4 = mxfp4_expert_bytes(spec, query, gpu, constants) - _mxfp4_checkpoint_expert_bytes(spec, query)
    dropped = text_only_saving_bytes(spec, query)
    gptq_dropped, gptq_added = gptq_kernel_bytes(spec, query, gpu)
    terms = (
        WeightTerm(part="checkpoint", bytes=weights),
        WeightTerm(part="vision_dropped", bytes=-dropped, params=spec.params.vision if dropped else None),
        WeightTerm(part="vision_split", bytes=-vision_split_saving_bytes(spec, query)),
        WeightTerm(part="mtp", bytes=mtp_weight_bytes(spec, query)),
        WeightTerm(part="drafter", bytes=drafter_weight_bytes(spec, query)),
        WeightTerm(part="value_slots", bytes=value_slot_bytes(spec, query)),
        WeightTerm(part="eplb_state", bytes=eplb_state_bytes(spec, query)),
        WeightTerm(part="zero_points", bytes=machete_zero_point_bytes(spec, query, gpu)),
        WeightTerm(part="gptq_dropped", bytes=-gptq_dropped),
        WeightTerm(part="gptq_act_order", bytes=gptq_added),
        WeightTerm(part="mxfp4_repack", bytes=mxfp4),
        WeightTerm(part="rotary_cache", bytes=rope_cache_bytes(spec, query)),
        WeightTerm(part="mla_workspaces", bytes=mla_backend_workspace_bytes(spec, gpu, constants)),
        WeightTerm(part="load_segments", bytes=load_segment_rounding_bytes(spec, query, gpu)),
    )
    return tuple(t for t in terms if t.bytes or t.part == "checkpoint")


class StartCheck(Frozen):
    """vLLM's start-up check that one request of max_model_len fits the pool
    (check_enough_kv_cache_memory), and what it prints when it does not."""

    fits: bool
    needed_bytes: int  # one max_model_len request
    available_bytes: int  # the pool, less the null block from 0.29
    estimated_max_model_len: int  # the longest request that fits (vLLM's binary search)
    error: str | None  # vLLM's ValueError text when it does not fit


def start_check(spec: ModelSpec, query: Query, pool_bytes: int, *, batched_tokens: int) -> StartCheck:
    """Whether vLLM starts with this pool at max_model_len = s; if not, its message."""
    profile, _ = version_profile(query)
    layout, _ = kv_layout(spec, query)
    available = fit_check_bytes(profile, pool_bytes, layout.bytes_per_block)
    needed = _start_need_bytes(layout, profile, query.seq_len, batched_tokens)
    # What the check plans against (from 0.29 the pool less the null block): none at all is vLLM's
    # "No available memory for the cache blocks" (kv_cache_planning.py@v0.33.0).
    if available <= 0:
        return StartCheck(
            fits=False,
            needed_bytes=needed,
            available_bytes=available,
            estimated_max_model_len=0,
            error=no_kv_memory_message(profile),
        )
    if needed <= available:
        return StartCheck(
            fits=True, needed_bytes=needed, available_bytes=available, estimated_max_model_len=query.seq_len, error=None
        )
    longest = estimate_max_model_len(
        lambda n: _start_need_bytes(layout, profile, n, batched_tokens), available, query.seq_len
    )
    return StartCheck(
        fits=False,
        needed_bytes=needed,
        available_bytes=available,
        estimated_max_model_len=longest,
        error=fit_error_message(profile, query.seq_len, needed, available, longest),
    )


def extensible_start_check(
    spec: ModelSpec, query: Query, capacity_bytes: int, num_blocks: int, *, batched_tokens: int, util: float
) -> StartCheck:
    """vLLM 0.34's two checks that one request of max_model_len fits the extensible KV cache
    (v1/core/kv_cache_planning.py@v0.34.0): ``get_kv_cache_configs`` checks the reserved capacity
    (the profiled estimate) less one block; after warm-up and capture ``shrink_kv_cache_configs``
    checks the committed blocks less the null block, ``(num_blocks - 1) x bytes per block``. Each
    has its own advice (``_more_kv_cache_memory_hint``)."""
    profile, _ = version_profile(query)
    layout, _ = kv_layout(spec, query)
    per_block = layout.bytes_per_block
    needed = _start_need_bytes(layout, profile, query.seq_len, batched_tokens)
    checks = (
        (capacity_bytes - per_block, extensible_fit_hint(profile, util, after_warmup=False)),
        ((num_blocks - 1) * per_block, extensible_fit_hint(profile, util, after_warmup=True)),
    )
    for available, hint in checks:
        if available <= 0:
            return StartCheck(
                fits=False,
                needed_bytes=needed,
                available_bytes=available,
                estimated_max_model_len=0,
                error=no_kv_memory_message(profile, hint),
            )
        if needed > available:
            longest = estimate_max_model_len(
                lambda n: _start_need_bytes(layout, profile, n, batched_tokens), available, query.seq_len
            )
            return StartCheck(
                fits=False,
                needed_bytes=needed,
                available_bytes=available,
                estimated_max_model_len=longest,
                error=fit_error_message(profile, query.seq_len, needed, available, longest, hint),
            )
    return StartCheck(
        fits=True,
        needed_bytes=needed,
        available_bytes=(num_blocks - 1) * per_block,
        estimated_max_model_len=query.seq_len,
        error=None,
    )


# ---------------------------------------------------------------------------------------------
# Public API


class DrafterReport(Frozen):
    """What the draft model adds, per GPU (its share is inside ``weights`` and the KV pool)."""

    model: str
    method: str
    num_speculative_tokens: int
    weights: int  # bytes vLLM loads for it (its layers, fc, norms; embedding / LM head when its own)
    kv_layers: int  # attention layers it adds to the KV-cache groups
    kv_bytes_per_token: int  # bytes each token of context costs in its layers
    kv_cache: int  # bytes its layers hold for the b requests of s tokens


def drafter_report(spec: ModelSpec, query: Query) -> DrafterReport | None:
    """The drafter's terms for the report (None without one). Its KV is what the b requests' tokens
    need in its layers, counted as ``details.kv_terms`` counts every layer (its ``drafter`` and
    ``drafter_sliding`` terms): a full layer s tokens, a sliding one its window and the in-flight
    batches. What vLLM reserves beyond that (whole blocks, the sliding layers' extra block, pages
    padded to one size) is the pool's, in the ``blocks`` term, for the drafter's layers as for the
    target's: vLLM accounts for blocks per KV-cache group, which the drafter's layers share with the
    target's (v1/core/kv_cache_utils.py), not per model."""
    drafter = spec.drafter
    if drafter is None:
        return None
    layers = drafter_kv_layers(spec, query)
    kv_dtype = kv_cache_dtype(spec, query)
    per_token = sum(_attn_bytes_per_token(layer, query.gpus, kv_dtype) for layer in layers)
    layout, _ = kv_layout(spec, query)
    kv = 0
    for layer in layers:
        span = query.seq_len
        if layer.kind == "sliding" and layer.window is not None:
            batched, _ = served_batch(spec, query, lookup_gpu(query.gpu) if query.gpu else None)
            span = min(
                layer.window - 1 + layout.extra_retained_tokens + batched * layout.in_flight_batches, query.seq_len
            )
        kv += span * _attn_bytes_per_token(layer, query.gpus, kv_dtype)
    return DrafterReport(
        model=drafter.model_id,
        method=drafter.method,
        num_speculative_tokens=speculative_tokens(spec, query),
        weights=drafter_weight_bytes(spec, query),
        kv_layers=len(layers),
        kv_bytes_per_token=per_token,
        kv_cache=kv * running_requests(query, lookup_gpu(query.gpu) if query.gpu else None),
    )


class PipelineRank(Frozen):
    """One pipeline-parallel rank's share and the KV pool it measures (bytes per GPU)."""

    rank: int
    layers: int  # decoder layers [first_layer, first_layer + layers)
    first_layer: int
    params: int  # the parameters this rank holds (its layers, and the embedding or LM head at an end)
    weights: int
    activation_peak: int
    kv_cache_memory: int
    num_gpu_blocks: int  # what its own pool holds, before vLLM takes the fewest of all ranks


class VllmReport(EngineReport):
    """What vLLM's start-up log would report, and the terms behind it (bytes per GPU)."""

    version: str  # the vLLM release whose accounting this follows
    kv_cache_memory: int
    kv_cache_tokens: int
    max_concurrency: float  # "Maximum concurrency" as vLLM prints it: all the blocks, the null one counted
    # The requests of s tokens its scheduler holds whole at once: the blocks less the null block
    # (:func:`resident_requests`). The fit and max_batch follow this one.
    max_resident: float = 0.0
    weights: int
    activation_peak: int
    non_torch: int
    cuda_graphs: int
    cuda_graphs_in_budget: bool  # 0.20+: the graph estimate is taken out of the pool
    gpu_memory_utilization: float
    requested_memory: int  # util x GPU total
    block_size: int
    num_gpu_blocks: int
    max_num_batched_tokens: int
    max_num_seqs: int
    starts: bool  # one request of max_model_len fits the pool (vLLM's start-up check)
    estimated_max_model_len: int
    start_error: str | None  # vLLM's error text when it refuses to start
    log_lines: tuple[str, ...]  # the capacity lines as this release prints them
    # The smallest util (two decimals) at which the pool holds the b requests of s tokens, when the
    # asked util falls short and one up to the device's limit does; None otherwise.
    util_to_fit: float | None = None
    # The largest max_num_seqs below the one in effect, and not below the requests a replica gets of
    # b, at which the pool holds them and vLLM starts, when the one in effect falls short (the sampler
    # warm-up, the sampler's tables and the CUDA graphs' batch sizes follow it); None otherwise.
    seqs_to_fit: int | None = None
    # Other settings that alone make the b requests fit where the query's do not, as the verdict's own
    # rule has it: prefix=off (a hybrid model's state keeps one page per request, not align mode's two)
    # and mnbt=2048 (a smaller batch: a smaller activation peak, and sliding windows reserve less).
    settings_to_fit: tuple[str, ...] = ()
    drafter: DrafterReport | None = None  # the speculative-decoding draft model, when draft= is given
    # pp= above 1: every pipeline rank, first to last. The fields above are then the busiest rank's
    # (``pipeline_shown``: the largest memory total, the rank the answer's rows show), except the
    # blocks, tokens and concurrency, which are the engine's (the fewest blocks of any rank,
    # ``pipeline_fewest_blocks``), and the log lines, as vLLM prints them: the first rank logs its
    # own pool, and the shared block count's tokens and concurrency.
    pipeline: tuple[PipelineRank, ...] = ()
    pipeline_shown: int | None = None
    pipeline_fewest_blocks: int | None = None
    # dp= (data-parallel replicas, each an engine with its own pool that logs its own lines): the
    # fields above are one replica's, as each prints them; requests_per_replica is its share of b,
    # ceil(b / dp), and the *_all fields add the replicas up.
    data_parallel_size: int = 1
    requests_per_replica: int | None = None
    kv_cache_tokens_all: int | None = None
    max_concurrency_all: float | None = None
    # How the pool was sized: "profiled" (requested - non-KV, before CUDA-graph capture) or
    # "extensible" (0.34's extensible KV cache: from the memory free after warm-up and capture). The
    # fields below are the extensible cache's (0 / None when profiled): the capacity it reserves
    # address space for (the profiled estimate at its util, which "Available KV cache memory" prints),
    # the bytes its committed blocks map (granule-rounded, "Extended KV cache to N blocks (X GiB)"), the
    # margin it keeps free, the transient activation peak it keeps free, and the CUDA context (there
    # before vLLM measures: with util 1 it is not the KV cache's).
    # profiled: util x the device less the profiled use; extensible: 0.34's, after warm-up; fixed:
    # --kv-cache-memory-bytes (kvmem=), no profiling of the pool.
    kv_sizing: Literal["profiled", "extensible", "fixed"] = "profiled"
    kv_block_bytes: int = 0  # one block of every layer's cache (what the null block takes)
    kv_reserved_memory: int | None = None
    kv_committed_memory: int | None = None
    kv_margin: int = 0
    transient_reserve: int = 0
    cuda_context: int = 0


def vllm_terms(
    spec: ModelSpec, query: Query, *, gpu: GPU | None, constants: VllmConstants | None = None
) -> EngineTerms:
    """Per-GPU bytes vLLM adds besides weights and KV cache.

    ``activations`` is the profile run's torch activation peak; ``overhead`` is the CUDA context,
    the non-torch memory and the CUDA graphs. The GPU picks vLLM's batch defaults the way it would
    on that GPU; with none, vLLM's small-GPU defaults apply.
    """
    constants = constants or query_constants(query)
    peak, where = activation_peak(spec, query, gpu=gpu, constants=constants)
    graphs = cuda_graph_bytes(spec, query, gpu, constants)
    overhead = cuda_context_bytes(query, constants) + non_torch_bytes(query, constants, gpu) + graphs
    warnings: list[Note] = []
    if version_warning := _release_warning(spec, query):
        warnings.append(note("vllm_release", version_warning))
    if dev_warning := _dev_build_warning(query):
        warnings.append(note("vllm_dev_build", dev_warning))
    if query.kv == "off":
        warnings.append(
            note("kv_off_allocates", "vLLM always allocates a KV cache; kv=off only drops it from the memory total")
        )
    window = spec.max_position_embeddings
    if (longest := _longest_max_model_len(spec, query)) is not None and query.seq_len > longest:
        warnings.append(
            note("context_window_exceeded", f"vLLM refuses it: {_too_long(query.seq_len, longest, spec, query)}")
        )
    elif window and query.seq_len > window:
        # vLLM multiplies the positions by the config's RoPE factor and starts; the model's own window
        # (max_position_embeddings) is what it was trained to use.
        warnings.append(
            note(
                "context_window_exceeded",
                f"s={query.seq_len:,} is longer than the model's context window ({window:,} tokens): vLLM starts, "
                f"since it takes the config's RoPE scaling to allow {longest:,}, but the model may not use that much.",
            )
        )
    _, layout_warnings = kv_layout(spec, query)
    warnings.extend(note("kv_page_padding", w) for w in layout_warnings)
    if hma_off := _chunked_with_hidden_state_drafter(spec, query):
        warnings.append(note("hybrid_kv_manager_off", hma_off))
    return EngineTerms(activations=peak, overhead=overhead, activation_where=where, warnings=tuple(warnings))


def pipeline_report(spec: ModelSpec, query: Query, *, gpu: GPU, constants: VllmConstants | None = None) -> VllmReport:
    """What vLLM reports with ``query.pp`` pipeline ranks of the whole model ``spec``.

    Each rank profiles its own layers and measures its own pool; the engine then gives every rank
    the fewest blocks any rank holds (v1/core/kv_cache_utils.py get_kv_cache_configs@v0.27.1, step
    5), checks one max_model_len request against each rank's own pool, and prints the tokens and
    concurrency of that shared block count. "Available KV cache memory" is logged once per node
    (gpu_worker.py, logger.info_once with the "local" scope of logger.py), by the first rank.

    One rule for every figure: the per-GPU fields (weights, activations, the pool in bytes, the
    budget) are the busiest rank's, the one whose memory total is the largest, as the answer's rows
    show (``estimator.estimate``); the blocks, tokens and concurrency are the engine's shared block
    count; the log lines are what vLLM prints, the first rank's pool with the shared capacity.
    """
    ranks = stage_specs(spec, query.pp)
    ran = running_requests(query, gpu)  # of b: the rest wait, holding no blocks
    reports = []
    totals = []
    for stage in ranks:
        weights = weight_bytes(
            stage,
            weight_format=query.weight_format,
            bits=query.bits,
            gpus=query.gpus,
            expert_gpus=expert_split(query),
            experts_held=experts_per_gpu(stage, query) if query.expert_parallel else None,
        )
        if query.params_billions is not None and spec.params.total:
            weights = round(weights * query.params_billions * 1e9 / spec.params.total)
        r = vllm_report(stage, query, weights_bytes=weights, gpu=gpu, constants=constants)
        reports.append(r)
        kv_dtype = VllmEngine().dtypes(stage, query).kv
        kv = 0 if kv_dtype is None else _kv_bytes(stage, query, query.seq_len, ran, kv_dtype, query.gpus, gpu)
        # The rows' total less the CUDA context, the same on every rank.
        totals.append(r.weights + r.activation_peak + r.non_torch + r.cuda_graphs + kv)
    profile, _ = version_profile(query)
    shown = max(range(len(reports)), key=lambda r: totals[r])
    fewest = min(range(len(reports)), key=lambda r: reports[r].num_gpu_blocks)
    blocks = reports[fewest].num_gpu_blocks
    batched_tokens = reports[shown].max_num_batched_tokens
    # The shared block count's capacity, on any rank: every rank's blocks hold the same tokens.
    layout, _ = kv_layout(ranks[fewest], query)
    _, tokens, concurrency = kv_capacity(
        ranks[fewest], query, blocks * layout.bytes_per_block, batched_tokens=batched_tokens
    )
    first = reports[0]
    extended = None
    if first.kv_sizing == "extensible":
        # Every rank commits the fewest blocks any measured, and checks one request against them
        # with its own groups (finalize_extensible_kv_cache, shrink_kv_cache_configs@v0.34.0).
        reports = [
            r
            if not r.starts
            else r.model_copy(
                update=_check_fields(
                    extensible_start_check(
                        stage,
                        query,
                        r.kv_reserved_memory or 0,
                        blocks,
                        batched_tokens=r.max_num_batched_tokens,
                        util=r.gpu_memory_utilization,
                    )
                )
            )
            for stage, r in zip(ranks, reports, strict=True)
        ]
        first_layout, _ = kv_layout(ranks[0], query)
        extended = _extended(profile, first_layout, blocks)
    failing = next((r for r in reports if not r.starts), None)
    starts = failing is None
    logged = first.kv_reserved_memory if first.kv_reserved_memory is not None else first.kv_cache_memory
    if not starts:
        lines = first.log_lines[:1] if all(r.kv_cache_memory > 0 for r in reports) else ()
    else:
        lines = capacity_lines(
            profile, gpu, logged, tokens, concurrency, query.seq_len, extended=extended, fixed=query.kv_cache_memory
        )
    fits = [r.util_to_fit for r in reports if r.max_resident < ran or not r.starts]
    to_fit = None if not fits or None in fits else max(f for f in fits if f is not None)
    return reports[shown].model_copy(
        update={
            "kv_cache_tokens": tokens if starts else 0,
            "max_concurrency": floor_hundredths(concurrency) if starts else 0.0,
            "max_resident": floor_hundredths(resident_requests(blocks, concurrency)) if starts else 0.0,
            "num_gpu_blocks": blocks,
            "starts": starts,
            "estimated_max_model_len": failing.estimated_max_model_len if failing else first.estimated_max_model_len,
            "start_error": failing.start_error if failing else None,
            "log_lines": lines,
            "util_to_fit": to_fit,
            "pipeline_shown": shown,
            "pipeline_fewest_blocks": fewest,
            "pipeline": tuple(
                PipelineRank(
                    rank=i,
                    layers=stage.num_layers,
                    first_layer=stage.pp_stage.start if stage.pp_stage else 0,
                    params=stage.params.total,
                    weights=r.weights,
                    activation_peak=r.activation_peak,
                    kv_cache_memory=r.kv_cache_memory,
                    num_gpu_blocks=r.num_gpu_blocks,
                )
                for i, (stage, r) in enumerate(zip(ranks, reports, strict=True))
            ),
        }
    )


@by_spec(32)
def _engine_report(spec: ModelSpec, query: Query, weights_bytes: int, gpu: GPU, explain: bool = True) -> VllmReport:
    """:func:`vllm_report` for the engine's hooks: the fit's start check and the answer's report ask
    for it with the same arguments in one estimate (``explain=False``: the solvers' start checks, which
    need whether vLLM refuses a layout, not the sizes it would accept instead)."""
    return vllm_report(spec, query, weights_bytes=weights_bytes, gpu=gpu, explain=explain)


def vllm_report(
    spec: ModelSpec,
    query: Query,
    *,
    weights_bytes: int,
    gpu: GPU,
    constants: VllmConstants | None = None,
    explain: bool = True,
) -> VllmReport:
    """What vLLM's start-up log would report on ``gpu`` (per GPU).

    KV pool = util x the GPU's memory - (weights as loaded + activation peak + non-torch), less the
    CUDA-graph estimate from 0.20. The pool may come out negative (vLLM would refuse to start);
    tokens and concurrency are then 0. ``constants`` default to the query's release. With pp= above 1
    and a whole model's spec, every rank is sized (:func:`pipeline_report`); ``weights_bytes`` is then
    not used.
    """
    if query.pp > 1 and spec.pp_stage is None:
        return pipeline_report(spec, query, gpu=gpu, constants=constants)
    constants = constants or query_constants(query)
    profile, _ = version_profile(query)
    batched_tokens, max_seqs = served_batch(spec, query, gpu, constants)
    weights = loaded_weight_bytes(spec, query, gpu, weights_bytes, constants)
    peak, _ = activation_peak(spec, query, gpu=gpu, constants=constants)
    non_torch = non_torch_bytes(query, constants, gpu)
    util = util_of(query, gpu)
    requested = requested_bytes(util, gpu.memory_bytes)
    in_budget = graphs_in_budget(spec, query)
    graphs = cuda_graph_bytes(spec, query, gpu, constants)
    layout, _ = kv_layout(spec, query)
    context = cuda_context_bytes(query, constants)
    sizing = None
    if extensible_kv_cache(query, gpu):
        sizing = extensible_sizing(
            spec, query, gpu, weights=weights, peak=peak, non_torch=non_torch, graphs=graphs, constants=constants
        )
        pool = sizing.kv_bytes
        capacity_blocks = max(sizing.capacity // layout.bytes_per_block, 0)
        granule = profile.kv_commit_granule_bytes
        committed = committable_blocks(pool, segment_strides(layout), granule, capacity_blocks)
        blocks, tokens, concurrency = kv_capacity(
            spec, query, pool, batched_tokens=batched_tokens, num_blocks=committed
        )
        check = extensible_start_check(
            spec, query, sizing.capacity, committed, batched_tokens=batched_tokens, util=util
        )
    else:
        if query.kv_cache_memory is not None:
            # --kv-cache-memory-bytes: vLLM still runs the profile run (it compiles) but takes this
            # pool as given, whatever util says (v1/worker/gpu_worker.py@v0.27.1, @v0.34.0
            # determine_available_memory: "skipped memory profiling").
            pool = query.kv_cache_memory
        else:
            pool = requested - weights - peak - non_torch - (graphs if in_budget else 0)
        blocks, tokens, concurrency = kv_capacity(spec, query, pool, batched_tokens=batched_tokens)
        check = start_check(spec, query, pool, batched_tokens=batched_tokens)
    refused = startup_refusal(spec, query, explain=explain)
    if refused is None and (oom := fixed_pool_overflow(query, gpu, weights + peak + non_torch + graphs + context)):
        check = check.model_copy(update={"fits": False, "error": oom})
    short = _requested_past_free(query, gpu, util, requested) if sizing is None else None
    if refused is None and short:
        check = check.model_copy(update={"fits": False, "error": short})
    extended = _extended(profile, layout, blocks) if sizing is not None else None
    logged = sizing.capacity if sizing is not None else pool
    if refused is not None:
        # Refused before the profile run (configuration, TP size): vLLM prints no capacity line.
        check = check.model_copy(update={"fits": False, "error": refused})
        lines: tuple[str, ...] = ()
    elif not check.fits:
        # The pool is measured and logged; the check on one request stops it before the capacity line.
        lines = (
            capacity_lines(profile, gpu, logged, tokens, concurrency, query.seq_len, fixed=query.kv_cache_memory)[:1]
            if logged > 0
            else ()
        )
    else:
        lines = capacity_lines(
            profile, gpu, logged, tokens, concurrency, query.seq_len, extended=extended, fixed=query.kv_cache_memory
        )
    to_fit = None
    resident = resident_requests(blocks, concurrency)
    ran = running_requests(query, gpu)  # the rest of b waits for one of them to finish
    if query.kv != "off" and (resident < ran or (refused is None and not check.fits)):
        # What the requested share must hold for the b requests and the null block, and for the
        # start check (one request, and from 0.29 the null block); the CUDA context (and, up to
        # 0.19, the graphs) come on top of it.
        start_pool = _start_pool_bytes(layout, profile, query.seq_len, batched_tokens)
        if sizing is not None:
            # The extensible cache commits whole granules per segment.
            start_pool = committed_bytes(
                segment_strides(layout), profile.kv_commit_granule_bytes, ceil_div(start_pool, layout.bytes_per_block)
            )
        kv = max(
            requests_kv_bytes(
                spec,
                query,
                seq_len=query.seq_len,
                batch=ran,
                tp=query.gpus,
                batched_tokens=batched_tokens,
                gpu=gpu,
            )
            + layout.bytes_per_block,
            start_pool,
        )
        need = weights + peak + non_torch + (graphs if in_budget else 0) + kv
        if query.kv_cache_memory is not None:
            to_fit = None  # util does not size a pool kvmem= gives
        elif sizing is not None:
            # util only caps the extensible cache: past the device less the CUDA context and the
            # margin no util makes room.
            within = need + context + sizing.margin <= gpu.memory_bytes
            to_fit = util_to_fit(need, gpu.memory_bytes, 0) if within else None
        else:
            to_fit = util_to_fit(need, gpu.memory_bytes, context + (0 if in_budget else graphs))
    if short:
        to_fit = None  # a lower util is the way out, which the refusal names
    if refused is not None:
        # A server that does not start holds no request: the pool is what it would have been, no capacity.
        tokens, concurrency, resident, to_fit = 0, 0.0, 0.0, None
    return VllmReport(
        version=profile.version,
        kv_cache_memory=pool,
        kv_cache_tokens=tokens,
        max_concurrency=floor_hundredths(concurrency),
        max_resident=floor_hundredths(resident),
        weights=weights,
        activation_peak=peak,
        non_torch=non_torch,
        cuda_graphs=graphs,
        cuda_graphs_in_budget=in_budget,
        gpu_memory_utilization=util,
        requested_memory=requested,
        block_size=layout.block_size,
        num_gpu_blocks=blocks,
        max_num_batched_tokens=batched_tokens,
        max_num_seqs=max_seqs,
        starts=check.fits,
        estimated_max_model_len=check.estimated_max_model_len,
        start_error=check.error,
        util_to_fit=to_fit,
        drafter=drafter_report(spec, query),
        log_lines=lines,
        kv_sizing="extensible" if sizing is not None else "fixed" if query.kv_cache_memory is not None else "profiled",
        kv_block_bytes=layout.bytes_per_block,
        kv_reserved_memory=sizing.capacity if sizing is not None else None,
        kv_committed_memory=extended[1] if extended is not None else None,
        kv_margin=sizing.margin if sizing is not None else 0,
        transient_reserve=sizing.transient if sizing is not None else 0,
        cuda_context=context,
    )


def _check_fields(check: StartCheck) -> dict[str, object]:
    """The report's fields a start check sets."""
    return {
        "starts": check.fits,
        "estimated_max_model_len": check.estimated_max_model_len,
        "start_error": check.error,
    }


def _util_withheld_bytes(spec: ModelSpec, query: Query, gpu: GPU, report: VllmReport) -> int:
    """What an explicit util between 0.7 and 1 keeps out of the extensible KV cache, which vLLM 0.34
    logs as a warning from 1 GiB (measure_kv_cache_blocks, v1/worker/extensible_kv_cache.py@v0.34.0):
    the cache at a budget of all the memory free at start-up less the cache at util's budget, each
    ``max(min(budget - non-KV, headroom - margin) - transient, 0)``. Unclamped that is what util x the
    device leaves below the device less the CUDA context and the margin. 0 where vLLM stops before it
    measures: the first start check (one request against the reserved capacity less a block,
    get_kv_cache_configs, v1/core/kv_cache_planning.py@v0.34.0) runs before warm-up. With pipeline
    stages, 0 unless vLLM starts (vram does not redo each stage's first check here)."""
    util = query.util
    if util is None or not 0.7 < util < 1.0 or report.kv_sizing != "extensible" or query.method != "calibrated":
        return 0
    if not report.starts:
        if query.pp > 1 or startup_refusal(spec, query) is not None:
            return 0
        profile, _ = version_profile(query)
        layout, _ = kv_layout(spec, query)
        available = (report.kv_reserved_memory or 0) - layout.bytes_per_block
        need = _start_need_bytes(layout, profile, query.seq_len, report.max_num_batched_tokens)
        if available <= 0 or need > available:
            return 0
    # At the device's budget the headroom less the margin binds: device - context - margin less the
    # resident memory and the transient (the activation peak covers both the persistent buffers and it).
    non_kv = report.weights + report.non_torch + report.cuda_graphs + report.activation_peak
    whole_device = max(gpu.memory_bytes - report.cuda_context - report.kv_margin - non_kv, 0)
    return max(whole_device - report.kv_cache_memory, 0)


def _extended(profile: VllmProfile, layout: KvLayout, num_blocks: int) -> tuple[int, int]:
    """(blocks, bytes they map): "Extended KV cache to N blocks (X GiB)." (extend_kv_cache,
    v1/worker/extensible_kv_cache.py@v0.34.0), the bytes granule-rounded per segment."""
    return num_blocks, committed_bytes(segment_strides(layout), profile.kv_commit_granule_bytes, num_blocks)


def persistent_runner_bytes(
    spec: ModelSpec, query: Query, *, gpu: GPU | None, constants: VllmConstants = DEFAULT_CONSTANTS
) -> int:
    """The part of :func:`activation_peak` that stays allocated after the profile run: FlashInfer's
    GDN checkpoint workspace, and the V2 sampler's penalty state and request tables, which 0.27+'s
    consumed-memory accounting counts. The extensible KV cache (0.34) finds them resident after
    warm-up (``non_kv_used``), not in the transient peak its margin scales with."""
    profile, _ = version_profile(query)
    tokens, seqs = served_batch(spec, query, gpu, constants)
    workspace = gdn_workspace_beyond_moe(spec, query, tokens)
    stage = spec.pp_stage
    if stage is not None and not stage.last:
        return workspace
    if not uses_v2_runner(spec, query) or profile.non_kv_accounting != "consumed":
        return workspace
    sampler = v2_sampler_state_bytes(spec, seqs) + v2_sampler_tables_bytes(spec, seqs, speculative_tokens(spec, query))
    return workspace + sampler


class ExtensibleSizing(Frozen):
    """How vLLM 0.34 sizes its extensible KV cache on one GPU (bytes)."""

    requested: int  # util x the device: a cap (v1/worker/utils.py@v0.34.0 request_memory)
    capacity: int  # the profiled estimate it reserves address space for ("Available KV cache memory")
    transient: int  # the transient peak kept free (warm-up's, at least the profile run's)
    margin: int  # max(1 GiB, 0.75 x transient) on CUDA (3 GiB floor on ROCm)
    kv_bytes: int  # what the committed blocks may physically take (measure_kv_cache_bytes)


def extensible_sizing(
    spec: ModelSpec,
    query: Query,
    gpu: GPU,
    *,
    weights: int,
    peak: int,
    non_torch: int,
    graphs: int,
    constants: VllmConstants,
) -> ExtensibleSizing:
    """vLLM 0.34's extensible KV cache, by its mechanism (v1/worker/gpu_worker.py@v0.34.0
    determine_available_memory and _compile_or_warm_up_model, v1/worker/extensible_kv_cache.py
    measure_kv_cache_bytes, v1/engine/core.py finalize_extensible_kv_cache):

    * The profile run sizes a capacity as before, at util 1.0 and with no CUDA-graph estimate
      (profile_cudagraph_memory returns 0): ``requested - (weights + non-torch + activation peak)``.
      The address range is reserved for that many blocks; "Available KV cache memory" prints it.
    * After warm-up, CUDA-graph capture and the sampler warm-up, torch's cache is emptied and free
      memory measured. What is resident then besides the committed KV prefix (weights, non-torch
      memory, the graphs, the runner's persistent buffers) is ``non_kv_used``; the headroom is free
      memory plus the committed prefix. The cache gets ``min(requested - non_kv_used, headroom -
      margin) - max(transient peak, torch reserve growth)``.

    The measured quantities are vram's terms for the same memory: the CUDA context
    (:func:`cuda_context_bytes`, in use before vLLM's snapshot), non-torch memory
    (:func:`non_torch_bytes`), the graphs (:func:`cuda_graph_bytes`), the transient peak (the
    activation peak less its persistent part, :func:`persistent_runner_bytes`; vLLM keeps the larger
    of the profile run's and the warm-up steps' allocated peaks, both max_num_batched_tokens steps
    with the sampler), and the torch reservation growth is taken as that peak (no fragmentation
    beyond it)."""
    profile, _ = version_profile(query)
    device = gpu.memory_bytes
    requested = requested_bytes(util_of(query, gpu), device)
    persistent = persistent_runner_bytes(spec, query, gpu=gpu, constants=constants)
    transient = peak - persistent
    rocm = gpu.vendor == "amd"
    kv = extensible_kv_cache_bytes(
        profile,
        requested_bytes=requested,
        device_bytes=device,
        outside_bytes=cuda_context_bytes(query, constants),
        resident_non_kv_bytes=weights + non_torch + graphs + persistent,
        transient_peak_bytes=transient,
        rocm=rocm,
    )
    return ExtensibleSizing(
        requested=requested,
        capacity=requested - weights - peak - non_torch,
        transient=transient,
        margin=extensible_margin_bytes(profile, transient, rocm=rocm),
        kv_bytes=kv,
    )


def floor_hundredths(x: float) -> float:
    """``x`` rounded down to two decimals: the concurrency every line and field shows, so that a pool
    that holds 2.996 requests never reads as holding 3 (b=3 does not fit) while max_batch says 2. The
    rounding of ``x * 100`` first keeps a float such as 2.3 (229.99999999999997) at 2.30."""
    return math.floor(round(x * 100, 6)) / 100


def capacity_lines(
    profile: VllmProfile,
    gpu: GPU,
    pool: int,
    tokens: int,
    concurrency: float,
    max_model_len: int,
    *,
    extended: tuple[int, int] | None = None,
    fixed: int | None = None,
) -> tuple[str, ...]:
    """The start-up lines that report the pool, as the release words them (gpu_worker.py,
    v1/core/kv_cache_utils.py): one capacity line from 0.28; from 0.30 the device type names it
    ("GPU" for CUDA and ROCm, "XPU" for Intel; update_kv_cache_capacity). With the extensible KV
    cache (0.34) ``pool`` is the reserved capacity, which "Available KV cache memory" prints before
    warm-up, and ``extended`` the blocks committed after it and the bytes they map, which the workers
    log ("Extended KV cache to %d blocks (%.2f GiB).") after the capacity line: the engine core prints
    that line in finalize_extensible_kv_cache, then asks the workers to extend_kv_cache
    (v1/engine/core.py@v0.34.0 _initialize_kv_caches)."""
    available = f"Available KV cache memory: {format_gib(pool)} GiB"
    if fixed is not None:
        # determine_available_memory logs the pool it was given instead ("Initial free memory X GiB,
        # reserved ..."; the free memory at start-up is the host's).
        available = (
            f"reserved {format_gib(fixed)} GiB memory for KV Cache as specified by kv_cache_memory_bytes config "
            "and skipped memory profiling"
        )
    device = "XPU" if profile.capacity_names_device and gpu.vendor == "intel" else "GPU"
    size = f"{device} KV cache size: {tokens:,} tokens"
    conc = f"Maximum concurrency for {max_model_len:,} tokens per request: {concurrency:.2f}x"
    lines: tuple[str, ...] = (available, f"{size}, {conc}") if profile.capacity_one_line else (available, size, conc)
    if extended is not None:
        lines += (f"Extended KV cache to {extended[0]} blocks ({extended[1] / GiB:,.2f} GiB).",)
    return lines


def _log_size(v: VllmReport) -> str:
    """The capacity log line's token figure, as vLLM words it."""
    said = (part for line in v.log_lines for part in line.split(", ") if "KV cache size" in part)
    return next(said, f"GPU KV cache size: {v.kv_cache_tokens:,} tokens")


def fixed_pool_overflow(query: Query, gpu: GPU, non_kv_bytes: int) -> str | None:
    """With kvmem= (--kv-cache-memory-bytes) vLLM allocates the pool whatever the device holds: past
    the device beside ``non_kv_bytes`` (weights, activation peak, non-torch memory, CUDA graphs and
    context) it runs out of memory allocating the cache or capturing the graphs."""
    if query.kv_cache_memory is None or non_kv_bytes + query.kv_cache_memory <= gpu.memory_bytes:
        return None
    room = kvmem_round_down(gpu.memory_bytes - non_kv_bytes)
    most = f"at most kvmem={kvmem_words(room)}" if room > 0 else "no pool at all"
    return (
        f"vLLM runs out of memory: kvmem={kvmem_text(query.kv_cache_memory)} (--kv-cache-memory-bytes) beside "
        f"{non_kv_bytes / GiB:,.2f} GiB of weights, activations, non-torch memory, CUDA graphs and context passes "
        f"the {gpu.memory_bytes / GiB:,.2f} GiB {gpu.name}; it has room for {most}"
    )


# The smallest default max_num_batched_tokens tier (get_batch_defaults, config/vllm.py@v0.33.0).
_SMALL_BATCHED_TOKENS = 2048


def _tip_report(spec: ModelSpec, query: Query, gpu: GPU) -> tuple[int, VllmReport] | None:
    """The weights and the answer's own vLLM report (memoized) for a tip that sizes the query again
    with one setting changed; None where no such tip applies (kv=off, method=classic, kvmem=, or a
    configuration vLLM refuses)."""
    if query.kv == "off" or query.method != "calibrated" or query.kv_cache_memory is not None:
        return None
    if startup_refusal(spec, query, explain=False) is not None:
        return None
    weights = query_weight_bytes(spec, query, query.gpus)
    return weights, _engine_report(spec, query, weights, gpu)


@by_spec(32)
def seqs_to_fit(spec: ModelSpec, query: Query, weights_bytes: int, gpu: GPU) -> int | None:
    """The largest max_num_seqs that makes one replica's share of b fit where the one in effect does
    not (:attr:`VllmReport.seqs_to_fit`): halvings of it down to the share, then the share itself; it
    fits as the verdict's own rule has it (the pool holds them, vLLM starts, and what comes on top
    of util's share stays on the device).
    Fewer rows shrink the sampler warm-up and its tables, and the CUDA graphs captured; a cap under
    the share would only queue requests, so none is offered. ``query`` is one replica's."""
    if not _offers_fixes(spec, query):
        return None
    now = _engine_report(spec, query, weights_bytes, gpu)
    share = query.batch
    if util_refused(now) or share > now.max_num_seqs or (now.starts and now.max_resident >= share):
        return None
    candidates = []
    seqs = now.max_num_seqs // 2
    while seqs > share:
        candidates.append(seqs)
        seqs //= 2
    return next(
        (
            seqs
            for seqs in (*candidates, share)
            if _fits_as_asked(spec, query.model_copy(update={"max_num_seqs": seqs}), weights_bytes, gpu)
        ),
        None,
    )


def _offers_fixes(spec: ModelSpec, query: Query) -> bool:
    """Whether a verdict's setting fixes are sized for the query: a pool sized by vLLM's own rule
    (not kv=off, classic or kvmem=) and a configuration it starts."""
    if query.kv == "off" or query.method != "calibrated" or query.kv_cache_memory is not None:
        return False
    return startup_refusal(spec, query, explain=False) is None


def _fits_as_asked(spec: ModelSpec, asked: Query, weights_bytes: int, gpu: GPU) -> bool:
    """Whether a fix typed back fits by the verdict's own rule: vLLM starts, its pool holds the
    requests it runs of the share, and (one stage) what comes on top of util's share - the CUDA
    context, and up to 0.19 the graphs - stays on the device with them."""
    shaped = vllm_report(spec, asked, weights_bytes=weights_bytes, gpu=gpu)
    if not shaped.starts or shaped.max_resident < min(asked.batch, shaped.max_num_seqs):
        return False
    if asked.pp == 1:
        total = ENGINE.shape_total(spec, asked, gpu, ENGINE.dtypes(spec, asked), weights=weights_bytes)
        if total is not None and total(asked.seq_len, asked.batch) > ENGINE.usable_bytes(spec, asked, gpu):
            return False
    return True


def settings_to_fit(spec: ModelSpec, query: Query, weights_bytes: int, gpu: GPU) -> tuple[str, ...]:
    """The settings (``prefix=off``, ``mnbt=2048``) that alone make one replica's share of b fit
    where the query's settings do not (:attr:`VllmReport.settings_to_fit`), by the verdict's rule (as
    :func:`seqs_to_fit`). prefix=off where prefix caching is on by default or asked and the model keeps
    recurrent state (align mode's two pages per request); mnbt=2048 where the batch is larger and
    not given. ``query`` is one replica's."""
    if not _offers_fixes(spec, query):
        return ()
    now = _engine_report(spec, query, weights_bytes, gpu)
    share = min(query.batch, now.max_num_seqs)
    if util_refused(now) or (now.starts and now.max_resident >= share):
        return ()
    profile, _ = version_profile(query)
    candidates: list[tuple[str, dict[str, object]]] = []
    layout, _ = kv_layout(spec, query)
    caching = profile.hybrid_prefix_caching_default if query.prefix_caching is None else query.prefix_caching
    if caching and any(t.kind == "mamba" for t in layout.types):
        candidates.append(("prefix=off", {"prefix_caching": False}))
    batched, _ = served_batch(spec, query, gpu)
    small = _small_batch(spec, query)
    if query.max_num_batched_tokens is None and batched > small:
        candidates.append((f"mnbt={small}", {"max_num_batched_tokens": small}))
    return tuple(
        words
        for words, update in candidates
        if startup_refusal(spec, asked := query.model_copy(update=update), explain=False) is None
        and _fits_as_asked(spec, asked, weights_bytes, gpu)
    )


def _sliding_batch_tip(spec: ModelSpec, query: Query, gpu: GPU) -> Note | None:
    """Where sliding-window (or chunked) layers reserve each request's window plus the batches in
    flight (one; two with async scheduling from 0.26) of the release's default
    max_num_batched_tokens (8,192 or 16,384 on the larger GPUs), the requests the
    pool holds at mnbt=2048, which the smaller GPUs get by default: more memory can hold fewer users
    for this reason alone, and a smaller batch trades prefill speed for them."""
    if query.max_num_batched_tokens is not None or (answer := _tip_report(spec, query, gpu)) is None:
        return None
    layout, _ = kv_layout(spec, query)
    if not any(t.kind in ("sliding", "chunked") for t in layout.types):
        return None
    batched, _ = served_batch(spec, query, gpu)
    size = _small_batch(spec, query)
    if batched <= size:
        return None
    weights, now = answer
    small = query.model_copy(update={"max_num_batched_tokens": size})
    then = vllm_report(spec, small, weights_bytes=weights, gpu=gpu)
    if not now.starts or not then.starts or then.max_resident < now.max_resident * 1.1:
        return None
    batches = "one batch" if layout.in_flight_batches == 1 else f"{layout.in_flight_batches} batches"
    return note(
        "sliding_batches",
        f"Each request's sliding-window layers hold the window plus {batches} of max_num_batched_tokens "
        f"({batched:,}, vLLM's default on this GPU): mnbt={size} would hold "
        f"{requests_text(then.max_resident)} of {tokens_text(query.seq_len)}{' a replica' if query.dp > 1 else ''} "
        f"instead of {now.max_resident:,.2f}, at a slower prefill.",
    )


def _sampler_seqs_tip(spec: ModelSpec, query: Query, gpu: GPU) -> Note | None:
    """Where the sampler warm-up over vLLM's default max_num_seqs sets the activation peak (1,024 rows
    on the larger GPUs, 256 on the rest: get_batch_defaults): a quarter of it, if that still runs every
    request a replica gets at once, shrinks that peak and the pool grows by as much. Said where the
    answer is near its limit (it does not fit, or the pool holds fewer than twice the requests) and
    the quarter holds at least 10% more, so that more memory holding fewer users is explained and the
    setting that changes it is named."""
    if query.max_num_seqs is not None or query.max_num_batched_tokens is not None:
        return None  # a default of the user's making: not vLLM's to explain
    if (answer := _tip_report(spec, query, gpu)) is None:
        return None
    weights, now = answer
    _, seqs = served_batch(spec, query, gpu)
    _, where = activation_peak(spec, query, gpu=gpu)
    if not where.startswith("sampler warm-up") or not now.starts:
        return None
    share = ceil_div(query.batch, query.dp)  # the requests one replica gets
    # Where the share does not fit, the value the verdict offers (seqs_to_fit), however small its gain.
    fix = seqs_to_fit(spec, query.model_copy(update={"batch": share}), weights, gpu)
    candidate = fix or seqs // 4
    if candidate < share or now.max_resident >= 2 * share:
        return None
    small = query.model_copy(update={"max_num_seqs": candidate})
    then = vllm_report(spec, small, weights_bytes=weights, gpu=gpu)
    if not then.starts or (fix is None and then.max_resident < now.max_resident * 1.1):
        return None
    asked = f"b={query.batch:,}" + (f" ({share:,} a replica)" if query.dp > 1 else "")
    replica = " a replica" if query.dp > 1 else ""
    return note(
        "sampler_seqs",
        f"The activation peak is vLLM's sampler warm-up over max_num_seqs rows ({seqs:,}, its default on this "
        f"GPU): seqs={candidate:,}, which still runs the {asked} at once, would hold "
        f"{requests_text(then.max_resident)} of {tokens_text(query.seq_len)}{replica} instead of "
        f"{now.max_resident:,.2f}.",
    )


def start_context_bytes(query: Query, gpu: GPU) -> int:
    """What is in use on each GPU when vLLM takes its first memory snapshot, after NCCL's set-up
    (v1/worker/gpu_worker.py@v0.33.0 init_device: "take memory snapshot after NCCL is initialized"):
    the CUDA context, and with TP on NVSwitch-joined GPUs NCCL's NVLS buffers (the calibration's
    v0.19 DEBUG logs on H100 SXM: 1.53 GiB in use at TP 2, 1.55 GiB at TP 4, against 0.51 GiB at TP 1).
    Over PCIe NCCL's buffers are small: 2 x RTX 3090 at util 0.95 start (club-3090, calibration2),
    which 1.55 GiB would not let them."""
    constants = query_constants(query)
    return cuda_context_bytes(query, constants) if gpu.nvswitch else constants.cuda_context


def largest_starting_util(query: Query, gpu: GPU) -> float:
    """The largest util (two decimals) whose share of ``gpu`` is free beside what is in use at the
    first snapshot (:func:`start_context_bytes`)."""
    free = gpu.memory_bytes - start_context_bytes(query, gpu)
    most = math.floor(free * 100 / gpu.memory_bytes) / 100
    while most > 0 and requested_bytes(most, gpu.memory_bytes) > free:
        most = round(most - 0.01, 2)
    return most


# How the util start check's refusal begins (util_refused tells it from the others).
UTIL_REFUSAL_PREFIX = "vLLM will not start: util="


def util_refused(report: EngineReport | None) -> bool:
    """Whether vLLM's report is refused by the util start check (:func:`_requested_past_free`),
    which sets the report's start error once."""
    return isinstance(report, VllmReport) and (report.start_error or "").startswith(UTIL_REFUSAL_PREFIX)


def _requested_past_free(query: Query, gpu: GPU, util: float, requested: int) -> str | None:
    """vLLM's start check on util (v1/worker/utils.py request_memory, @v0.20.0 to @v0.33.0, and 0.34
    without the extensible cache): it refuses to start when the memory free at its first snapshot is
    less than util x the device ("Free memory on device ... on startup is less than desired GPU
    memory utilization"). Free there is the device less what is in use after NCCL's set-up
    (:func:`start_context_bytes`)."""
    context = start_context_bytes(query, gpu)
    free = gpu.memory_bytes - context
    if requested <= free:
        return None
    most = largest_starting_util(query, gpu)
    if query.gpus > 1 and gpu.nvswitch:
        beside = f"the CUDA context and NCCL's NVSwitch buffers ({context / GiB:,.2f} GiB)"
    elif query.gpus > 1:
        beside = f"the CUDA context ({context / GiB:,.2f} GiB; NCCL's buffers over PCIe are small)"
    else:
        beside = f"the CUDA context ({context / GiB:,.2f} GiB)"
    return (
        f"{UTIL_REFUSAL_PREFIX}{util:g} asks {requested / GiB:,.2f} GiB of the {gpu.memory_bytes / GiB:,.2f} GiB "
        f"{gpu.name}, more than the {free / GiB:,.2f} GiB free beside {beside}: "
        f'"Free memory on device ... on startup is less than desired GPU memory utilization"; use util={most:g} '
        "or less"
    )


def util_to_fit(need_bytes: int, device_bytes: int, outside_bytes: int) -> float | None:
    """The smallest ``gpu_memory_utilization`` (two decimals) whose share of the device is at least
    ``need_bytes``, with ``outside_bytes`` (CUDA context and graphs, on top of the share) still
    on the device; None when no util up to 1 gives that."""
    if need_bytes > device_bytes:
        # Past the device the answer is None anyway; and at sizes past float precision the loop
        # below would never see pct x total move.
        return None
    pct = ceil_div(need_bytes * 100, device_bytes)
    while requested_bytes(pct / 100, device_bytes) < need_bytes:
        pct += 1
    if pct > 100 or requested_bytes(pct / 100, device_bytes) + outside_bytes > device_bytes:
        return None
    return pct / 100


def requested_bytes(util: float, device_bytes: int) -> int:
    """The memory vLLM requests: ``math.ceil(total x gpu_memory_utilization)`` (v1/worker/utils.py
    request_memory, @v0.27.1 and @v0.34.0)."""
    return math.ceil(device_bytes * util)


# How one dimension must meet the TP size: "divide" (the size divides by it), "kv" (KV heads: they
# divide by it, or it by them, replicated past them), "groups" (Mamba-2's n_groups: they divide by
# it, or are one group, replicated on every rank).
_TpRule = Literal["divide", "kv", "groups"]


class _TpDim(Frozen):
    """One dimension vLLM's layers split by the tensor-parallel size, and how it must meet it."""

    what: str  # how the refusal names it, ``{n}`` standing for the size: "the model's {n} attention heads"
    size: int
    rule: _TpRule = "divide"
    plural: bool = False  # "do not divide" (heads) rather than "does not divide" (a size)
    moe: bool = False  # the routed experts' width: split over the MoE group (tp x dp, or 1 with EP)

    def accepts(self, tp: int) -> bool:
        """Whether this dimension meets ``tp`` (the solvers ask it of every size up to the limit)."""
        if self.rule == "kv":
            return not (self.size % tp if tp <= self.size else tp % self.size)
        return self.size % tp == 0 or (self.rule == "groups" and self.size == 1)

    def refusal(self, tp: int) -> str | None:
        """Why this dimension refuses ``tp``, or None."""
        if self.accepts(tp):
            return None
        named = self.what.format(n=f"{self.size:,}")
        if self.rule == "kv":
            return f"{named} and {tp} GPUs do not divide one another"
        return f"{named} {'do' if self.plural else 'does'} not divide by {tp}"


def _mlp_widths(spec: ModelSpec, component: str) -> tuple[int, ...]:
    """The intermediate widths of ``component``'s MLPs: the inputs of their row-parallel down
    projections (the gate/up projection's MergedColumnParallelLinear splits the same width)."""
    return tuple(sorted({w.in_features for w in spec.linears if w.component == component and w.split == "row"}))


@by_spec()
def _tp_dims(spec: ModelSpec, *, vision: bool) -> tuple[_TpDim, ...]:
    """The dimensions vLLM divides by the TP size, each a refusal when it does not divide.

    - attention heads: ModelConfig.verify_with_parallel_config (config/model.py) and
      QKVParallelLinear's divide(total_num_heads, tp) (model_executor/layers/linear.py); MLA's
      projections split the same heads. KV heads divide, or are replicated past them (divide(tp, kv)).
    - MLP widths: MergedColumnParallelLinear divides each output size and RowParallelLinear its input
      (linear.py); the routed experts' FusedMoEConfig asserts ``intermediate_size % tp_size == 0``
      (layers/fused_moe/config.py), its tp_size the MoE group's: tp x dp without expert parallelism,
      1 with it (``FusedMoEParallelConfig.make``), so these dims are ``moe`` and checked against it.
    - gated DeltaNet: divide(num_v_heads, tp) (layers/mamba/gdn/qwen_gdn_linear_attn.py), and its
      q/k/v/z views reshape by num_k_heads // tp, so the key heads divide too; KDA asserts
      ``num_heads % tp_size == 0`` (layers/mamba/gdn/kimi_gdn_linear_attn.py); Mamba-2 asserts its
      heads divide and its n_groups divide or are one (layers/mamba/mamba_mixer2.py); Mamba-1 and
      short convolutions divide their width (layers/mamba/mamba_mixer.py, mamba_utils.py).
    - the Qwen2.5-VL / Qwen3-VL vision towers (Qwen3.5's too): Qwen2_5_VisionAttention's
      divide(num_heads, tp) and the MLP's parallel linears (models/qwen2_5_vl.py, qwen3_vl.py); not
      built when text-only. Other towers are not checked: some are transformers' own replicated
      modules (Gemma 4's, models/gemma4_mm.py), and some fall back to data parallelism when their
      heads do not divide (is_vit_use_data_parallel, models/vision.py@v0.33.0).
    The vocabulary needs nothing: VocabParallelEmbedding pads it to a multiple of the TP size.
    Read in each file at v0.25.0, v0.27.1 and v0.33.0, where these checks are the same.
    """
    dims = [_TpDim(what="the model's {n} attention heads", size=spec.num_attention_heads, plural=True)]
    if spec.num_kv_heads and any(layer.kind in ("full", "sliding") for layer in spec.layers):
        dims.append(_TpDim(what="the model's {n} KV heads", size=spec.num_kv_heads, rule="kv", plural=True))
    labels = {
        "dense_mlp": "the model's intermediate_size {n}",
        "routed_experts": "the model's expert intermediate size {n}",
        "shared_experts": "the model's shared-expert intermediate size {n}",
    }
    for component, what in labels.items():
        moe = component == "routed_experts"
        dims += [_TpDim(what=what, size=width, moe=moe) for width in _mlp_widths(spec, component)]
    mixers = {
        "gated_deltanet": ("linear-attention value heads", "linear-attention key heads"),
        "kda": ("KDA heads", ""),
        "mamba2": ("Mamba heads", "Mamba groups (n_groups)"),
    }
    # Falcon-H1's attention layers carry a Mamba-2 mixer too, so every layer with a mixer counts.
    shapes = {(layer.mixer, layer.mixer_heads, layer.mixer_groups, layer.conv_channels) for layer in spec.layers}
    for mixer, heads, groups, width in sorted(shapes):
        if mixer in ("mamba", "short_conv"):
            dims.append(_TpDim(what=f"the model's {mixer.replace('_', '-')} width {{n}}", size=width))
        if mixer not in mixers or not heads:
            continue
        heads_name, groups_name = mixers[mixer]
        dims.append(_TpDim(what=f"the model's {{n}} {heads_name}", size=heads, plural=True))
        if groups_name and groups:
            rule: _TpRule = "groups" if mixer == "mamba2" else "divide"
            dims.append(_TpDim(what=f"the model's {{n}} {groups_name}", size=groups, rule=rule, plural=True))
    if vision and spec.vision is not None and spec.vision.encoder in ("qwen2_5_vl", "qwen3_vl"):
        dims.append(_TpDim(what="the vision tower's {n} heads", size=spec.vision.num_heads, plural=True))
        dims.append(_TpDim(what="the vision tower's intermediate size {n}", size=spec.vision.intermediate_size))
    return tuple(dims)


# Row-parallel matrices a block-FP8 checkpoint quantizes, by component, and how a refusal names
# their split width.
_FP8_ROW_LABELS = {
    "attention": "attention output projection's input width {n}",
    "dense_mlp": "intermediate_size {n}",
    "shared_experts": "shared-expert intermediate size {n}",
}


def _fp8_block_refusal(spec: ModelSpec, tp: int, profile: VllmProfile, moe_tp: int | None = None) -> str | None:
    """Why a block-FP8 checkpoint's weight blocks refuse ``tp`` (widths that divide by it already);
    the routed experts' width is split over ``moe_tp`` (default ``tp``; tp x dp without expert
    parallelism, 1 with it: ``FusedMoEConfig.intermediate_size_per_partition``).

    - Row-parallel linears: validate_fp8_block_shape raises when the input width per GPU is not a
      multiple of block_k (layers/quantization/utils/fp8_utils.py@v0.23.0, @v0.25.0, @v0.28.0,
      @v0.30.0, @v0.33.0; Fp8LinearMethod and the compressed-tensors W8A8/W8A16 FP8 schemes call it).
      Merged column linears (gate/up, QKV) set ``allow_fp8_block_shape_mismatch`` when a part is not a
      multiple of block_n (layers/linear.py), so they are not checked; nor are the non-merged column
      linears (MLA's q_b / kv_b projections at one head per GPU), whose out widths vram does not tell
      from merged ones, nor the state mixers' projections.
    - Routed experts: their per-GPU intermediate width must be a multiple of block_n, and of block_k
      where ``tp`` (the attention TP size) is above 1, unless the release refines the block
      (``VllmProfile.fp8_moe_block_refine``, Fp8Config only).
    Matrices the checkpoint's ignore list keeps unquantized are not checked."""
    q = spec.quantization
    moe_tp = tp if moe_tp is None else moe_tp
    if q.format != "fp8" or q.block_size is None or (tp == 1 and moe_tp == 1):
        return None
    block_n, block_k = q.block_size
    block = f"{block_n}x{block_k}"
    skipped = ignored_components(q.skipped_modules, q.method)
    padded = profile.dsv4_shared_expert_block_padding and spec.model_type == "deepseek_v4"
    for component, what in _FP8_ROW_LABELS.items():
        if component in skipped or (component == "shared_experts" and padded):
            continue
        widths = sorted({w.in_features for w in spec.linears if w.component == component and w.split == "row"})
        for width in widths:
            if tp > 1 and width % tp == 0 and (width // tp) % block_k:
                named = what.format(n=f"{width:,}")
                return (
                    f"the model's {named} over {tp} GPUs ({width // tp:,} each) is not a multiple of "
                    f"its {block} FP8 weight blocks"
                )
    if q.expert_format or "routed_experts" in skipped or moe_tp == 1:
        return None
    over = f"{moe_tp} GPUs" if moe_tp == tp else f"gpus x dp = {moe_tp} GPUs"
    for width in _mlp_widths(spec, "routed_experts"):
        if width % moe_tp:
            continue
        per_gpu = width // moe_tp
        # block_n always; block_k only where the attention TP size (get_tensor_model_parallel_world_size,
        # not the experts' flattened tp x dp) is above 1: validate_fp8_block_shape_moe in
        # layers/quantization/utils/fp8_utils.py@v0.33.0 (inline in fp8.py's Fp8MoEMethod.create_weights
        # @v0.27.1), and refine_fp8_moe_block_shape's early return in fused_moe/oracle/fp8.py@v0.33.0.
        if per_gpu % block_n == 0 and (tp == 1 or per_gpu % block_k == 0):
            continue
        refine = math.gcd(block_n, block_k, per_gpu, spec.hidden_size)
        refines = profile.fp8_moe_block_refine and q.method == "fp8"
        if refines and refine >= 32:
            continue  # the scales are refined to refine x refine blocks
        why = (
            f"the model's expert intermediate size {width:,} over {over} ({per_gpu:,} each) is not a "
            f"multiple of its {block} FP8 weight blocks"
        )
        if refines:
            why += f", nor of a refined block of 32 or more (the largest that fits is {refine})"
        return why
    return None


def tp_refusal(
    spec: ModelSpec,
    gpus: int,
    *,
    vision: bool = True,
    profile: VllmProfile | None = None,
    checkpoint_weights: bool = True,
    moe_gpus: int | None = None,
) -> str | None:
    """Why vLLM refuses this tensor-parallel size, or None when it accepts it: the first dimension
    of :func:`_tp_dims` that does not divide, then the FP8 weight blocks (:func:`_fp8_block_refusal`,
    by release: ``profile``, default the newest followed), then the drafter's, then Inkling's conv
    cache. ``vision=False``: a text-only start (mm=0), which builds no vision tower;
    ``checkpoint_weights=False``: weights cast or converted from the checkpoint's format (``dtype=`` /
    ``p=``), which keep none of its FP8 blocks. ``moe_gpus`` (default ``gpus``): the GPUs the routed
    experts' width is split over (:func:`expert_width_split`)."""
    moe_gpus = gpus if moe_gpus is None else moe_gpus
    if gpus == 1 and moe_gpus == 1:
        return None
    for dim in _tp_dims(spec, vision=vision):
        n = moe_gpus if dim.moe else gpus
        if n > 1 and (why := dim.refusal(n)):
            return why + (" (gpus x dp)" if dim.moe and n != gpus else "")
    profile = profile or _resolve(DEFAULT_VERSION)[0]
    if checkpoint_weights and (why := _fp8_block_refusal(spec, gpus, profile, moe_gpus)):
        return why
    drafter = spec.drafter
    if drafter is not None and (
        why := tp_refusal(drafter.spec, gpus, vision=False, profile=profile, moe_gpus=moe_gpus)
    ):
        # The drafter's layers are built from the same parallel linears (DFlashQwen3Attention too).
        return why.replace("the model's", "the drafter's")
    if (most := _inkling_max_tp(spec)) is not None and gpus > most:
        return f"its short-convolution cache keeps at least one KV head per GPU ({most} KV heads)"
    return None


def _inkling_max_tp(spec: ModelSpec) -> int | None:
    """Inkling's largest TP size: ``InklingConvState`` asserts ``tp_size <= num_kv_heads`` for every
    layer (models/inkling/nvidia/sconv_swa_attn.py@v0.26.0 .. @v0.33.0); None for other models."""
    if spec.model_type not in _INKLING_TYPES:
        return None
    return min((layer.kv_heads for layer in spec.layers if layer.kv_heads), default=None)


@by_spec()
def accepted_tp_sizes(
    spec: ModelSpec,
    limit: int,
    *,
    vision: bool = True,
    profile: VllmProfile | None = None,
    checkpoint_weights: bool = True,
    expert_parallel: bool = False,
) -> tuple[int, ...]:
    """Every TP size up to ``limit`` that vLLM accepts (:func:`tp_refusal`) as one replica, smallest
    first; with ``expert_parallel`` the routed experts' width is not split, so it refuses none."""
    dims = [dim for dim in _tp_dims(spec, vision=vision) if not (expert_parallel and dim.moe)]
    # Every accepted size divides each dimension that must divide: only the divisors of their gcd
    # need asking (the solvers ask this at every estimate, up to 1,024 GPUs).
    common = math.gcd(*(d.size for d in dims if d.rule == "divide" or (d.rule == "groups" and d.size != 1)))
    sizes = range(1, limit + 1) if common == 0 else (n for n in range(1, min(common, limit) + 1) if common % n == 0)
    firsts = [n for n in sizes if n == 1 or all(dim.accepts(n) for dim in dims)]

    def accepts(n: int) -> bool:
        moe = 1 if expert_parallel else n
        return (
            tp_refusal(spec, n, vision=vision, profile=profile, checkpoint_weights=checkpoint_weights, moe_gpus=moe)
            is None
        )

    return tuple(n for n in firsts if n == 1 or accepts(n))


def nearest_tp_sizes(
    spec: ModelSpec,
    gpus: int,
    *,
    vision: bool = True,
    profile: VllmProfile | None = None,
    checkpoint_weights: bool = True,
    expert_parallel: bool = False,
) -> tuple[int, ...]:
    """The TP sizes vLLM accepts next to ``gpus``: the largest below it and the smallest above it
    (up to the largest dimension with heads, which every accepted size divides)."""
    heads = [dim.size for dim in _tp_dims(spec, vision=vision) if dim.plural]
    limit = max([gpus, *heads])
    accepted = accepted_tp_sizes(
        spec,
        limit,
        vision=vision,
        profile=profile,
        checkpoint_weights=checkpoint_weights,
        expert_parallel=expert_parallel,
    )
    below = [n for n in accepted if n < gpus]
    above = [n for n in accepted if n > gpus]
    return tuple(([below[-1]] if below else []) + ([above[0]] if above else []))


def _refuse_unsized_pool(spec: ModelSpec, query: Query) -> None:
    """A model vLLM does not serve, or whose cache layout vram does not model: no pool to size."""
    if why := serve_refusal(spec, query):
        raise InputError(why)
    _refuse_unmodelled_cache(spec)


def _kv_bytes(
    spec: ModelSpec, query: Query, seq_len: int, batch: int, kv_dtype: KVDType, gpus: int, gpu: GPU | None = None
) -> int:
    """KV bytes one GPU's pool reserves for ``batch`` requests of ``seq_len`` tokens: the blocks vLLM
    gives each request (attention blocks of the layout's size, sliding windows capped, whole state
    pages per request), so the fit and the concurrency follow one rule. A KV dtype other than the
    query's (the classic comparison) is counted per token (estimator.kv)."""
    _refuse_unsized_pool(spec, query)
    if kv_cache_dtype(spec, query) != kv_dtype:
        return kv_cache_bytes(spec, seq_len=seq_len, batch=batch, kv_dtype=kv_dtype, gpus=gpus, layout="paged")
    at = query.model_copy(update={"gpus": gpus}) if gpus != query.gpus else query
    if gpu is None and at.gpu:
        gpu = lookup_gpu(at.gpu)
    batched, _ = served_batch(spec, at, gpu)
    return requests_kv_bytes(spec, at, seq_len=seq_len, batch=batch, tp=gpus, batched_tokens=batched, gpu=gpu)


# RoPE types whose max_position_embeddings vLLM takes as already scaled from 0.30.0
# (config/model.py@v0.30.0 _get_and_verify_max_len: "YaRN variants leave max_position_embeddings
# already scaled"); up to 0.29.0 yarn gives original x factor and the DeepSeek variants positions x factor.
_YARN_KINDS = frozenset({"yarn", "deepseek_yarn", "deepseek_llama_scaling"})


def _longest_max_model_len(spec: ModelSpec, query: Query) -> int | None:
    """The longest max_model_len vLLM derives from the config (config/model.py
    ``_get_and_verify_max_len``): its positions with RoPE scaling (``spec.scaled_max_positions``),
    except for a gemma3 model type, whose positions are "already scaled by RoPE scaling" (every
    release vram follows), and for YaRN from 0.30."""
    positions = spec.max_position_embeddings
    if positions and "gemma3" in spec.model_type:
        return positions
    if positions and spec.rope_scaling_type in _YARN_KINDS and version_profile(query)[0].yarn_positions_as_given:
        return positions
    return spec.scaled_max_positions or positions


def _longest_way(longest: int) -> str:
    return f"s=max ({longest:,})"


def _too_long(seq_len: int, longest: int, spec: ModelSpec, query: Query) -> str:
    """vLLM's refusal of a max_model_len past the positions, and the ways to a context it starts:
    the longest, or YaRN over the config's positions where the model's RoPE is unscaled."""
    line = (
        f"max_model_len {seq_len:,} is past the {longest:,} positions the model's config allows (RoPE scaling "
        "included); VLLM_ALLOW_LONG_MAX_MODEL_LEN=1 overrides that, at the risk of wrong outputs"
    )
    ways = [_longest_way(longest)] if longest > 0 else []
    if (factor := yarn_to_reach(seq_len, longest, spec, query)) is not None:
        ways.append(_yarn_way(factor, spec))
    return f"{line}; or use {', or '.join(ways)}" if ways else line


def yarn_to_reach(seq_len: int, longest: int, spec: ModelSpec, query: Query) -> int | None:
    """The least whole YaRN factor (yarn=, vLLM's --hf-overrides) whose stretched RoPE positions reach
    ``seq_len``, where the model's RoPE is unscaled and the positions are the longest; else None."""
    positions = spec.max_position_embeddings
    ropes = any(layer.kind in ("full", "sliding", "mla") for layer in spec.layers)
    if (
        query.yarn is None
        and positions
        and positions == longest
        and spec.rope_scaling_type in ("default", "mrope")
        and not spec.rope_bases
        and ropes
    ):
        factor = ceil_div(seq_len, positions)
        return factor if factor <= 64 else None
    return None


def _way_with_layout(refusal: str, way: str, layout: tuple[int, int, float | None], query: Query) -> str:
    """``refusal`` with its way out ``way`` followed by the layout (GPUs, replicas, util) that holds it,
    or by the words that no layout does."""
    tp, dp, util = layout
    if tp == 0:
        return refusal.replace(way, f"{way}, which no layout up to {_MAX_WORLD:,} GPUs holds at b={query.batch:,}", 1)
    settings = layout_settings(tp, dp, asked_dp=query.dp) + (f" util={util:g}" if util is not None else "")
    return refusal.replace(way, f"{way} with {settings}", 1)


def _yarn_way(factor: int, spec: ModelSpec) -> str:
    return f"yarn={factor} (RoPE YaRN, {(spec.max_position_embeddings or 0) * factor:,} positions)"


def _gptq_refusal(spec: ModelSpec, query: Query) -> str | None:
    """A GPTQ checkpoint the release's GPTQ config does not take (2/3-bit or asymmetric, from 0.22)."""
    q = spec.quantization
    # dtype=gptq or p=4 on a GPTQ checkpoint restates it: vLLM reads the checkpoint's config either way.
    kept = checkpoint_scheme_kept(spec, weight_format=query.weight_format, bits=query.bits)
    if q.method != "gptq" or not kept:
        return None
    profile, _ = version_profile(query)
    if q.act_order and not profile.gptq_act_order:
        return (
            f"vLLM {profile.version} will not start this GPTQ checkpoint: it no longer takes group activation "
            "ordering (desc_act=True; quantization/utils/gptq_utils.py, from 0.30); use vllm=0.29, or a "
            "checkpoint quantized with desc_act=False"
        )
    if not profile.gptq_symmetric_4_8_only or (q.weight_bits, q.symmetric) in ((4, True), (8, True)):
        return None
    kind = f"{q.weight_bits}-bit {'symmetric' if q.symmetric else 'asymmetric'}"
    return (
        f"vLLM {profile.version} will not start this GPTQ checkpoint: its GPTQ config takes 4- and 8-bit "
        f"symmetric weights only (quantization/auto_gptq.py TYPE_MAP, from 0.22), not {kind}"
    )


def _bitsandbytes_refusal(spec: ModelSpec, query: Query) -> str | None:
    """A bitsandbytes checkpoint, or dtype=nf4 (``--quantization bitsandbytes``), where the release has
    no bitsandbytes method (0.28 on): vLLM refuses the quantization method at start-up. Before that, a
    pre-quantized checkpoint refuses tensor parallelism: its quant states do not split
    (``model_loader/bitsandbytes_loader.py``, 0.19.0 and 0.27.1); in-flight NF4 splits."""
    profile, _ = version_profile(query)
    # A bitsandbytes checkpoint stays one whatever dtype= restates it as (vLLM detects it from the
    # checkpoint's config); dtype=nf4 on another checkpoint is in-flight quantization.
    same = checkpoint_scheme_kept(spec, weight_format=query.weight_format, bits=query.bits)
    kept = same and spec.quantization.method == "bitsandbytes"
    asked = query.weight_format == "nf4" and not kept
    if profile.bitsandbytes:
        if kept and query.gpus > 1:
            return (
                f"vLLM {profile.version} will not start this pre-quantized bitsandbytes checkpoint on "
                f"gpus={query.gpus}: its loader takes no tensor parallelism for one; use gpus=1 with pp= stages"
            )
        return None
    if not (asked or kept):
        return None
    what = "dtype=nf4 (--quantization bitsandbytes)" if asked else "this bitsandbytes checkpoint"
    return (
        f"vLLM {profile.version} will not start with {what}: bitsandbytes is gone from its quantization methods "
        "since 0.28; use vllm=0.27, or an AWQ, GPTQ or fp8 checkpoint"
    )


def startup_refusal(spec: ModelSpec, query: Query, *, explain: bool = True) -> str | None:
    """Why vLLM will not start this configuration (or cannot be sized with its drafter), else None.
    ``explain=False``: the first reason alone, without the sizes vLLM would accept (the solvers ask
    this of many layouts, and finding those sizes costs a scan of its own)."""
    if (longest := _longest_max_model_len(spec, query)) is not None and query.seq_len > longest:
        return f"vLLM will not start: {_too_long(query.seq_len, longest, spec, query)}"
    if why := _quant_capability_refusal(spec, query):
        return f"vLLM will not start: {why}"
    if why := _bitsandbytes_refusal(spec, query):
        return why
    wanted = conversion_asked(spec, weight_format=query.weight_format, bits=query.bits)
    profile = version_profile(query)[0]
    if wanted in ("2-bit", "3-bit", "5-bit", "6-bit") and profile.gptq_symmetric_4_8_only and not profile.gguf:
        # No checkpoint of that width loads: GPTQ takes 4 and 8 bits (0.22+), GGUF is gone (0.24+).
        return (
            f"vLLM {profile.version} serves no {wanted} weights: its GPTQ config takes 4- and 8-bit checkpoints "
            "and its GGUF loader is gone since 0.24; use p=4 or p=8, or vllm=0.23 with a GGUF file"
        )
    if spec.params_source == "gguf" and not version_profile(query)[0].gguf:
        return (
            f"vLLM {version_profile(query)[0].version} will not start a GGUF checkpoint: its GGUF loader and "
            "quantization method are gone since 0.24; use vllm=0.23, or engine=transformers, or a safetensors "
            "checkpoint (AWQ, GPTQ or fp8)"
        )
    if why := _gptq_refusal(spec, query):
        return why
    if why := eplb_refusal(spec, query):
        return f"vLLM will not start with eplb={query.eplb}: {why}"
    if why := _seqs_refusal(spec, query):
        return why
    if why := _prefix_batch_refusal(spec, query):
        return why
    if query.gpu and (why := bf16_refusal(spec, query, lookup_gpu(query.gpu))):
        return why
    if query.gpu and (why := kv_dtype_refusal(query, lookup_gpu(query.gpu))):
        return f"vLLM will not start with kv={query.kv}: {why}"
    if why := _dsv4_kv_refusal(spec, query):
        return why
    if why := mtp_refusal(spec, query):
        return f"vLLM will not start with mtp={query.mtp}: {why}"
    if spec.drafter is not None and (why := drafter_refusal(spec, query)):
        return f"vLLM cannot be sized with draft={spec.drafter.model_id}: {why}"
    vision = not text_only(spec, query)
    profile, _ = version_profile(query)
    kept = checkpoint_scheme_kept(spec, weight_format=query.weight_format, bits=query.bits)
    ep = query.expert_parallel

    def refusal(moe: int) -> str | None:
        return tp_refusal(spec, query.gpus, vision=vision, profile=profile, checkpoint_weights=kept, moe_gpus=moe)

    why = refusal(expert_width_split(query))
    if why is None or not explain:
        return why
    if query.dp == 1 or refusal(1 if ep else query.gpus) is not None:  # one replica is refused already
        nearest = nearest_tp_sizes(
            spec, query.gpus, vision=vision, profile=profile, checkpoint_weights=kept, expert_parallel=ep
        )
        sizes = " or ".join(f"gpus={n}" for n in nearest)
        return f"vLLM will not start with gpus={query.gpus}: {why}; it accepts {sizes}"
    # The group starts alone: its replicas split the experts' width over gpus x dp, without expert
    # parallelism (FusedMoEParallelConfig.make, flatten_tp_across_dp_and_pcp).
    # The nearest accepted counts on each side (one replica is always accepted here).
    below = next((d for d in range(query.dp - 1, 0, -1) if refusal(query.gpus * d) is None), None)
    above = next((d for d in range(query.dp + 1, query.dp * 2 + 1) if refusal(query.gpus * d) is None), None)
    accepts = " or ".join(f"dp={d}" for d in (below, above) if d is not None)
    return (
        f"vLLM will not start with gpus={query.gpus} dp={query.dp} without expert parallelism: {why}; "
        f"it accepts {accepts + ', or ' if accepts else ''}ep=on (--enable-expert-parallel), which places "
        "whole experts on each GPU"
    )


class VllmEngine(BaseEngine):
    """``vllm serve``: the memory it reserves at start-up, its KV pool and concurrency."""

    name: ClassVar[str] = "vllm"
    cache_layout: ClassVar[CacheLayout] = "paged"
    label: ClassVar[str] = "vLLM"
    help: ClassVar[str] = "vLLM (`vllm serve`): KV pool and concurrency"
    report_key: ClassVar[str | None] = "vllm"
    report_model: ClassVar[type[EngineReport] | None] = VllmReport
    setting_keys: ClassVar[tuple[str, ...]] = (
        "pp",
        "dp",
        "ep",
        "util",
        "mnbt",
        "seqs",
        "vllm",
        "prefix",
        "eager",
        "async",
        "mm",
        "mtp",
        "draft",
        "spec",
        "kvmem",
        "block",
        "eplb",
    )
    always_fused_attention: ClassVar[bool] = True
    overhead_label: ClassVar[str] = "CUDA context, non-torch memory, CUDA graphs"
    data_parallel: ClassVar[bool] = True
    kv_always_allocated: ClassVar[bool] = True
    refuses_past_longest: ClassVar[bool] = True

    def kv_cache_bytes(
        self, spec: ModelSpec, query: Query, kv_dtype: KVDType, *, gpus: int, gpu: GPU | None = None
    ) -> int:
        """The pool bytes the b requests of s tokens reserve (see :func:`requests_kv_bytes`)."""
        return _kv_bytes(spec, query, query.seq_len, query.batch, kv_dtype, gpus, gpu)

    def loaded_weight_bytes(self, spec: ModelSpec, query: Query, gpu: GPU | None, weights: int) -> int:
        return loaded_weight_bytes(spec, query, gpu, weights, query_constants(query))

    def display_name(self, query: Query) -> str:
        """``vllm 0.31``, ``vllm 0.31.1``, ``vllm 0.33.1rc1.dev50+g...`` (a patch release or build as asked)."""
        if _past_minor(query) and stand_in(query) is None:
            return f"vllm {query.vllm}"
        return f"vllm {release_name(query)}"

    def release_note(self, query: Query) -> str | None:
        """The default release is the newest vram follows; a patch release or a build is sized by its
        minor release's profile."""
        if query.vllm is None:
            return "the newest vram follows"
        if _past_minor(query) and stand_in(query) is None:
            return f"follows the {version_profile(query)[0].version} profile"
        return None

    def loaded_spec(self, spec: ModelSpec, query: Query, gpu: GPU | None) -> tuple[ModelSpec, str | None]:
        return auto_dtype_spec(spec, query, gpu)

    def longest_context(self, spec: ModelSpec, query: Query) -> int:
        """vLLM's default max_model_len: the longest it derives from the config (with RoPE scaling as
        the release reads it), else 2,048 ("Assuming the model's maximum length is 2048",
        config/model.py _get_and_verify_max_len)."""
        return _longest_max_model_len(spec, query) or 2048

    def dtypes(self, spec: ModelSpec, query: Query) -> Dtypes:
        dtypes = resolve_dtypes(spec, query)
        # DeepSeek-V4's pages are fp8 whatever is asked (kv_cache_dtype), and so is the dtype said beside them.
        if _dsv4_auto_fp8(spec, query) or _dsv4_fp8_pages(spec, query):
            kv: KVDType | None = None if dtypes.kv is None else "fp8"
            return dtypes.model_copy(update={"kv": kv, "kv_layout": "fp8"})
        return dtypes

    def terms(
        self, spec: ModelSpec, query: Query, gpu: GPU | None, dtypes: Dtypes, *, weights: int, kv_cache: int
    ) -> EngineTerms:
        return vllm_terms(spec, query, gpu=gpu)

    def usable_fraction(self, query: Query) -> float:
        return util_of(query, lookup_gpu(query.gpu) if query.gpu else None)

    def usable_bytes(self, spec: ModelSpec, query: Query, gpu: GPU) -> int:
        """vLLM's requested share (util x the device) holds the weights, the KV cache, the activation
        peak and non-torch memory (and, from 0.20, the CUDA-graph estimate); the CUDA context (there
        before vLLM measures) and, up to 0.19, the CUDA graphs (captured after the KV pool) come on
        top, within the device. One pool block is the null block, which no request gets
        (:func:`resident_requests`). So the total fits exactly when vLLM's KV pool holds its b x s
        tokens beside the null block (and the query fits when vLLM also starts: :meth:`start_limit`)."""
        requested = requested_bytes(util_of(query, gpu), gpu.memory_bytes)
        if query.method == "classic":
            return requested  # the classic terms have no overhead to place outside the share
        constants = query_constants(query)
        if query.kv_cache_memory is not None:
            # kvmem= gives the pool: the b requests fit while they and the null block fit it, and the
            # rest of the total (weights, activations, overhead) is what it is.
            terms = vllm_terms(spec, query, gpu=gpu)
            loaded = loaded_weight_bytes(spec, query, gpu, query_weight_bytes(spec, query, query.gpus), constants)
            fixed = loaded + terms.activations + terms.overhead
            return min(fixed + query.kv_cache_memory, gpu.memory_bytes) - null_block_bytes(spec, query)
        outside = cuda_context_bytes(query, constants)
        if not graphs_in_budget(spec, query):
            outside += cuda_graph_bytes(spec, query, gpu, constants)
        device = gpu.memory_bytes
        if extensible_kv_cache(query, gpu):
            # 0.34's extensible cache keeps its margin free beside the device's headroom
            # (min(requested - non-KV, headroom - margin), extensible_sizing); the granules its blocks
            # map are in the KV row (requests_kv_bytes).
            peak, _ = activation_peak(spec, query, gpu=gpu, constants=constants)
            transient = peak - persistent_runner_bytes(spec, query, gpu=gpu, constants=constants)
            device -= extensible_margin_bytes(version_profile(query)[0], transient, rocm=gpu.vendor == "amd")
        return min(requested + outside, device) - null_block_bytes(spec, query)

    def tp_sizes(self, spec: ModelSpec, limit: int, query: Query | None = None) -> tuple[int, ...]:
        """The sizes vLLM accepts (phi-4's 10 KV heads rule out 4 and 8 but allow 5 and 10; Qwen3.5-27B's
        intermediate_size 17,408 rules out 12), with the vision tower unless ``query`` is text-only."""
        if query is None:
            return accepted_tp_sizes(spec, limit)
        kept = checkpoint_scheme_kept(spec, weight_format=query.weight_format, bits=query.bits)
        profile, _ = version_profile(query)
        vision = not text_only(spec, query)
        return accepted_tp_sizes(
            spec, limit, vision=vision, profile=profile, checkpoint_weights=kept, expert_parallel=query.expert_parallel
        )

    def shape_total(
        self, spec: ModelSpec, query: Query, gpu: GPU | None, dtypes: Dtypes, *, weights: int
    ) -> Callable[[int, int], int] | None:
        """Only the KV cache depends on s and b: the rest is computed once."""
        if query.method != "calibrated":
            return None
        terms = vllm_terms(spec, query, gpu=gpu)
        fixed = (
            loaded_weight_bytes(spec, query, gpu, weights, query_constants(query)) + terms.activations + terms.overhead
        )
        kv = dtypes.kv
        if kv is None:
            return lambda s, b: fixed
        if kv != kv_cache_dtype(spec, query):

            def per_token(s: int, b: int) -> int:
                return fixed + _kv_bytes(spec, query, s, b, kv, query.gpus, gpu)

            return per_token
        # The probes change only s and b: the layout and the batch budget (what _kv_bytes reads from
        # the query each time) are read once, after the same refusals.
        _refuse_unsized_pool(spec, query)
        layout, _ = kv_layout(spec, query)
        gpu = gpu if gpu is not None else (lookup_gpu(query.gpu) if query.gpu else None)
        batched, _ = served_batch(spec, query, gpu)
        block = layout.bytes_per_block
        if extensible_kv_cache(query, gpu):
            profile = version_profile(query)[0]

            def committed(s: int, b: int) -> int:
                blocks = b * _blocks_per_request(layout, s, batched)
                return fixed + blocks * block + b * ceil_div(granule_padding_bytes(layout, profile, blocks + 1), b)

            return committed

        def total(s: int, b: int) -> int:
            return fixed + b * _blocks_per_request(layout, s, batched) * block

        return total

    def startable_query(self, query: Query, gpu: GPU) -> Query:
        """A util past what is free at start stops vLLM on every layout: the solver sizes the largest
        util that starts (see :func:`_requested_past_free`)."""
        if query.util is None or extensible_kv_cache(query, gpu):
            return query
        if _requested_past_free(query, gpu, query.util, requested_bytes(query.util, gpu.memory_bytes)) is None:
            return query
        return query.model_copy(update={"util": largest_starting_util(query, gpu)})

    def start_limit(
        self, spec: ModelSpec, query: Query, gpu: GPU | None, *, weights: int
    ) -> Callable[[int], bool] | None:
        """Whether vLLM starts at max_model_len = s with the pool it measures on ``gpu``: the start
        check on one request (from 0.29 less the null block), which the pool holding b requests does
        not imply at b = 1. The pool does not depend on s, so the solvers ask this at every s."""
        if gpu is None or query.method != "calibrated" or query.kv == "off":
            return None
        report = _engine_report(spec, query, weights, gpu, False)
        pool, batched = report.kv_cache_memory, report.max_num_batched_tokens
        if fixed_pool_overflow(query, gpu, _non_kv_bytes(report)):
            return lambda s: False  # kvmem='s pool does not fit the device beside the rest, whatever s
        if util_refused(report):
            return lambda s: False  # util asks more than is free at start, whatever s
        layout, _ = kv_layout(spec, query)
        profile, _ = version_profile(query)
        if report.kv_sizing == "extensible":
            # Checked against the committed blocks less the null block (shrink_kv_cache_configs); the
            # capacity's check before warm-up holds more blocks, so it passes whenever this does.
            pool = report.num_gpu_blocks * layout.bytes_per_block
        return lambda s: pool > 0 and _start_pool_bytes(layout, profile, s, batched) <= pool

    def no_bf16(self, spec: ModelSpec, query: Query, gpu: GPU) -> str | None:
        """``--dtype auto`` (the default) serves a bf16 model in fp16 on a GPU without bf16 (see
        :func:`bf16_refusal`); dtype=bf16 asked, or a model vLLM runs in float32 there, is refused."""
        if bf16_refusal(spec, query, gpu) is not None:
            return None  # the verdict says it
        return "vLLM serves it in fp16 there (its --dtype auto falls back from bf16; the same size)"

    def max_running(self, query: Query, gpu: GPU | None) -> int | None:
        """max_num_seqs (seqs=, else the release's tier for the GPU, at most max_num_batched_tokens):
        the scheduler admits no more into RUNNING (v1/core/sched/scheduler.py@v0.33.0: its admission
        limit defaults to max_num_seqs, and running never exceeds it); the rest wait, holding no blocks. With no
        GPU and no seqs= the tier is not known, so nothing is capped."""
        if query.method != "calibrated" or (gpu is None and query.max_num_seqs is None):
            return None
        return batch_defaults(query, gpu)[1]

    def state_bytes_per_sequence(self, spec: ModelSpec, query: Query) -> int:
        """One request's states as vLLM keeps them, one state page's content per state layer
        (:func:`_state_page_bytes`: the conv window in the model dtype, the SSM state in its cache
        dtype, split over TP); the pages prefix caching holds and their padding are KV terms."""
        states = [layer for layer in spec.layers if _has_state(layer)]
        if not states or spec.model_type in _INKLING_TYPES or compressed_attention(spec):
            return super().state_bytes_per_sequence(spec, query)
        version, model_bytes = version_profile(query)[0].version, _act_bytes(spec, query)
        spec_tokens = speculative_tokens(spec, query)
        return sum(_state_page_bytes(spec, layer, query.gpus, model_bytes, version, spec_tokens) for layer in states)

    def notes(self, spec: ModelSpec, query: Query, gpu: GPU | None) -> list[Note]:
        notes: list[Note] = []
        if query.flash_attention is False:
            notes.append(
                note(
                    "fused_attention_always",
                    "vLLM always runs fused (paged) attention kernels: fa=off "
                    "changes nothing with engine=vllm (its --enforce-eager, eager=on, turns off CUDA graphs, not "
                    "fused attention).",
                )
            )
        notes += _eager_async_notes(spec, query)
        batched, max_seqs = served_batch(spec, query, gpu)
        share = ceil_div(query.batch, query.dp)  # each data-parallel replica schedules its own share
        if share > max_seqs and _seqs_refusal(spec, query) is None:
            # The KV term counts the max_num_seqs it runs; the others wait, holding no blocks.
            why = f"seqs={query.max_num_seqs:,}" if query.max_num_seqs else "its default max_num_seqs"
            fix = "raise seqs= to run them together"
            if query.max_num_seqs is None and max_seqs < default_max_num_seqs(query, gpu):
                # The default max_num_seqs is no more than the batch: seqs= above it is refused.
                why = f"its default max_num_seqs, no more than max_num_batched_tokens {batched:,}"
                fix = "raise mnbt= to run them together"
            if query.dp == 1:
                who = f"vLLM runs {max_seqs:,} of b={query.batch:,} at once"
            else:
                # ceil(b / dp) is the busiest replica's share: "up to" where b does not divide.
                upto = "" if query.batch % query.dp == 0 else "up to "
                who = f"Each replica gets {upto}{share:,} of b={query.batch:,} and runs {max_seqs:,} at once"
            notes.append(
                note(
                    "batch_queued",
                    f"{who} ({why}); {share - max_seqs:,} wait; {fix}.",
                )
            )
        gpus = expert_split(query)
        if query.expert_parallel and spec.num_experts and gpus > 1 and spec.num_experts % gpus:
            # determine_expert_map: num_experts // ep_size each, one more on the first remainder GPUs.
            over = f"gpus x dp = {gpus}" if query.dp > 1 else f"{gpus}"
            most, extra = experts_per_gpu(spec, query), spec.num_experts % gpus
            notes.append(
                note(
                    "experts_uneven",
                    f"The {spec.num_experts} routed experts of each MoE layer do not split evenly over {over} "
                    f"GPUs: with expert parallelism {extra} of them hold {most} experts and the rest {most - 1}; "
                    "vram sizes the busiest.",
                )
            )
        if query.expert_parallel and not spec.num_experts:
            notes.append(
                note(
                    "setting_ignored",
                    f"ep=on changes nothing: {spec.model_type} has no routed experts.",
                )
            )
        if query.mm_limit is not None and spec.vision is None and spec.params.vision == 0:
            notes.append(
                note(
                    "setting_ignored",
                    f"mm={query.mm_limit} changes nothing: {spec.model_type} has no vision tower (it reads text only).",
                )
            )
        if gpu is not None and gpu.unified_memory and extensible_kv_cache(query, gpu):
            # 0.34: no start-up check against util x the total (request_memory skips it under the
            # extensible cache); the cache is sized from the memory free after warm-up, on an
            # integrated GPU the OS's available memory (utils/mem_utils.py@v0.34.0 device_memory_info),
            # and config/cache.py@v0.34.0 names unified-memory devices whose memory the CPU also uses as
            # a reason to set gpu_memory_utilization below 1.
            notes.append(
                note(
                    "unified_memory",
                    f"The {gpu.name}'s memory is the system's: vLLM {version_profile(query)[0].version} sizes its "
                    "KV cache from the memory free after warm-up and CUDA-graph capture, counted as the memory "
                    "the OS has available then, so what the CPU side holds or takes later (the OS, other "
                    "processes, vLLM's own host allocations) comes out of it or from under it; vLLM's docs ask "
                    "for util= below 1 on such devices.",
                )
            )
        elif gpu is not None and gpu.unified_memory:
            # v1/worker/utils.py (0.19-0.33): vLLM asks for util x the device total and refuses to start
            # when less is free; on an integrated GPU it counts the OS's available memory as free
            # (utils/mem_utils.py MemorySnapshot.measure), which the OS and other processes lower. The
            # same reading makes the non-torch term whatever the available memory lost between start-up
            # and the end of profiling, and the CUDA-graph estimate is a difference of cudaMemGetInfo
            # readings the OS moves (negative in some logs): both are the host's, not the model's.
            util = util_of(query, gpu)
            notes.append(
                note(
                    "unified_memory",
                    f"The {gpu.name}'s memory is the system's: vLLM {version_profile(query)[0].version} starts "
                    f"only if util x the device total torch reports ({util:g} x {gpu.memory_bytes / 2**30:.2f} = "
                    f"{util * gpu.memory_bytes / 2**30:,.2f} GiB) is free then, counted as the memory the OS has "
                    "available: lower util= if less is. Its KV pool depends on the host at start-up: vLLM counts what "
                    "the available memory loses while it loads and profiles (CPU-side allocations too) as "
                    "non-torch memory, and its CUDA-graph estimate moves with the OS (DGX Spark logs: 2.3 to "
                    "6.9 GiB less pool than vram's).",
                )
            )
        if query.prefix_caching is not None and not any(_has_state(layer) for layer in spec.layers):
            # Prefix caching shares the pool's attention pages; only state layers' pages change with it.
            notes.append(
                note(
                    "setting_ignored",
                    f"prefix={'on' if query.prefix_caching else 'off'} changes no figure here: prefix caching "
                    f"only changes the pages of state-space layers, and {spec.model_type} has none.",
                )
            )
        if query.eplb is not None and query.expert_parallel and spec.num_experts and not eplb_served(spec, query.vllm):
            arch = spec.architectures[0] if spec.architectures else spec.model_type
            notes.append(
                note(
                    "setting_ignored",
                    f"eplb={query.eplb} changes nothing here: vLLM {version_profile(query)[0].version}'s {arch} does "
                    "not implement EPLB (MixtureOfExperts), so it starts without EPLB and without redundant experts.",
                )
            )
        refusal = self.refusal(spec, query)
        if refusal and gpu is None:  # with a GPU the verdict says it
            notes.append(note("engine_refuses", refusal + "."))
        elif gpu is not None:
            notes.extend(
                tip for tip in (_sliding_batch_tip(spec, query, gpu), _sampler_seqs_tip(spec, query, gpu)) if tip
            )
        return notes

    def converts_on_load(self, query: Query) -> tuple[str, ...]:
        """What ``--quantization`` makes of a float checkpoint for every linear layer: fp8 (``fp8``,
        and the ``fp8_per_*`` shorthands of ``config/quantization.py`` from 0.22), bitsandbytes' 4-bit
        in-flight quantization up to 0.27 (gone from ``model_executor/layers/quantization/__init__.py``
        @v0.28.0), MXFP4 from 0.28 (``online/mxfp4.py@v0.28.0``, linear and MoE layers). The online
        int8 and NVFP4 shorthands quantize the MoE experts only (``int8_per_channel_weight_only``,
        ``nvfp4_per_token``), so int8 and nvfp4 of every linear layer need a pre-quantized checkpoint."""
        return version_profile(query)[0].online_quant_formats

    def serves_pre_quantized(self, query: Query, weight_format: str) -> bool:
        return weight_format != "nf4" or version_profile(query)[0].bitsandbytes

    def release_label(self, query: Query) -> str:
        return f"vLLM {version_profile(query)[0].version}"

    def setting_refusal(self, query: Query) -> str | None:
        """An int8 KV cache, which vLLM lacks for every model; a quantized KV dtype the release (or the
        named GPU) does not take."""
        if query.kv == "int8":
            return _NO_INT8_KV
        if why := _async_refusal(query):
            return why
        if query.pp > 1 and query.method == "classic":
            return f"pp={query.pp} is vLLM's pipeline parallelism, which method=classic does not size: drop one"
        if query.kv_cache_memory is not None and query.method == "classic":
            return "kvmem= is vLLM's KV pool as given, which method=classic does not size: drop one"
        if query.dp > 1 and query.method == "classic":
            return f"dp={query.dp} is vLLM's data parallelism, which method=classic does not size: drop one"
        if query.gpus * query.pp * query.dp > _MAX_WORLD:
            world = query.gpus * query.pp * query.dp
            layout = f"gpus={query.gpus} x pp={query.pp}" + (f" x dp={query.dp}" if query.dp > 1 else "")
            return f"{layout} is {world:,} GPUs: vram sizes at most {_MAX_WORLD:,}"
        # The release's KV dtypes only: whether one runs on the named GPU is the verdict's (startup_refusal).
        return kv_dtype_refusal(query, None)

    def check_drafter_method(self, method: str, model_id: str, query: Query) -> None:
        """A release without the method's drafter refuses it whatever the checkpoint holds: DFlash
        before 0.20 is vLLM's refusal (exit 2), EAGLE and draft models before 0.20 vram's limit."""
        if why := drafter_method_refusal(method, version_profile(query)[0]):
            error = UnmodelledError if isinstance(why, Unmodelled) else InputError
            raise error(f"vLLM cannot be sized with draft={model_id}: {why}")

    def kv_terms(self, spec: ModelSpec, query: Query, gpu: GPU | None, kv_cache: int) -> tuple[KvTerm, ...]:
        if query.method != "calibrated" or query.kv == "off":
            return ()
        return kv_terms(spec, query, gpu, kv_cache)

    def weight_terms(self, spec: ModelSpec, query: Query, gpu: GPU | None, weights: int) -> tuple[WeightTerm, ...]:
        if query.method != "calibrated":
            return ()
        return weight_terms(spec, query, gpu, weights)

    def refusal(self, spec: ModelSpec, query: Query) -> str | None:
        """What vLLM refuses at start-up: a max_model_len past the model's positions (with its RoPE
        scaling), and a TP size one of the dimensions it splits does not divide (with the sizes it accepts)."""
        return startup_refusal(spec, query)

    def yarn_way(self, spec: ModelSpec, query: Query) -> int | None:
        longest = _longest_max_model_len(spec, query)
        if longest is None or query.seq_len <= longest:
            return None
        return yarn_to_reach(query.seq_len, longest, spec, query)

    def refusal_with_yarn(
        self, spec: ModelSpec, refusal: str, factor: int, layout: tuple[int, int, float | None], query: Query
    ) -> str:
        return _way_with_layout(refusal, _yarn_way(factor, spec), layout, query)

    def refusal_at_longest(
        self, refusal: str, longest: int, layout: tuple[int, int, float | None], query: Query
    ) -> str:
        return _way_with_layout(refusal, _longest_way(longest), layout, query)

    def refuses(self, spec: ModelSpec, query: Query) -> bool:
        return startup_refusal(spec, query, explain=False) is not None

    def report(
        self, spec: ModelSpec, query: Query, gpu: GPU | None, dtypes: Dtypes, *, weights: int
    ) -> tuple[EngineReport | None, list[Note]]:
        version = version_profile(query)[0].version
        if gpu is None:
            # The batch tier follows the GPU, and with it the activation peak: say which one was sized.
            batched, seqs = served_batch(spec, query, None)
            given = query.max_num_batched_tokens is not None and query.max_num_seqs is not None
            tier = (
                ""
                if given
                else (
                    (" The rows, for no one card, size" if query.gpu_any else " Without one, vram sizes")
                    + " vLLM's small-GPU batch defaults: "
                    + (f"max_num_seqs {seqs:,}" if query.max_num_seqs is None else f"seqs={seqs:,} as given")
                    + (
                        f", max_num_batched_tokens {batched:,}"
                        if query.max_num_batched_tokens is None
                        else f", mnbt={batched:,} as given"
                    )
                    + _larger_tiers(version_profile(query)[0].batch_tiers)
                )
            )
            lead = (
                # gpu=any: each card is sized as gpu=<card> would be; the rows are no card's.
                f"With gpu=any each card is sized as gpu=<card> would be, with vLLM {version}'s KV pool and "
                "defaults on it."
                if query.gpu_any
                else f"Give gpu= to see the KV pool vLLM {version} would reserve and how many requests it holds."
            )
            return None, [note("no_gpu_given", lead + tier)]
        report = _engine_report(spec, query, weights, gpu)
        # ``query`` is one replica's (its share of b): the replicas are alike, so add them up.
        report = report.model_copy(
            update={
                "data_parallel_size": query.dp,
                "requests_per_replica": query.batch,
                "kv_cache_tokens_all": report.kv_cache_tokens * query.dp,
                "max_concurrency_all": round(report.max_concurrency * query.dp, 2),
                "seqs_to_fit": seqs_to_fit(spec, query, weights, gpu),
                "settings_to_fit": settings_to_fit(spec, query, weights, gpu),
            }
        )
        if startup_refusal(spec, query) is not None:
            return report, []  # the verdict says why it will not start
        notes: list[Note] = []
        if (withheld := _util_withheld_bytes(spec, query, gpu, report)) >= GiB:
            notes.append(
                note(
                    "util_caps_kv_cache",
                    f"util={query.util:g} keeps {withheld / GiB:,.2f} GiB of free device memory out of vLLM "
                    f"{version}'s KV cache, and vLLM warns so at start-up: its extensible "
                    "KV cache is sized from the memory measured after warm-up and CUDA-graph capture, so its own "
                    "use needs no headroom below 1; leave util unset unless something vLLM does not measure needs "
                    "the memory (other processes on the GPU, weight-update buffers, a KV connector's buffers).",
                )
            )
        if report.kv_cache_memory <= 0:
            return report, [
                *notes,
                note(
                    "no_kv_pool",
                    f"vLLM {version} would not start: "
                    + (
                        "weights, activations, CUDA graphs, the CUDA context and the margin its extensible KV "
                        "cache keeps free leave "
                        if report.kv_sizing == "extensible"
                        else "weights and activations leave "
                    )
                    + f"no room for the KV cache at util={report.gpu_memory_utilization:g}.",
                ),
            ]
        if util_refused(report):
            return report, notes  # not max_model_len's doing: the verdict says what util starts
        if report.kv_sizing == "fixed" and fixed_pool_overflow(query, gpu, _non_kv_bytes(report)):
            return report, notes  # kvmem='s pool passes the device, whatever max_model_len: the verdict says
        if not report.starts:
            after = ""
            if report.kv_sizing == "extensible" and report.num_gpu_blocks > 1:
                # vLLM's estimate comes from the check before warm-up (the reserved capacity); after
                # capture it checks again against the blocks it commits, which may hold less.
                layout, _ = kv_layout(spec, query)
                profile, _ = version_profile(query)
                committed = (report.num_gpu_blocks - 1) * layout.bytes_per_block
                longest = estimate_max_model_len(
                    lambda n: _start_need_bytes(layout, profile, n, report.max_num_batched_tokens),
                    committed,
                    query.seq_len,
                )
                if 0 < longest < report.estimated_max_model_len:
                    after = (
                        f" (that estimate is its check before warm-up; after warm-up it checks again against the "
                        f"{report.num_gpu_blocks:,} blocks it commits, where the longest that starts is {longest:,})"
                    )
            return report, [
                *notes,
                note(
                    "max_model_len_refused",
                    f"vLLM {version} would not start with max_model_len {query.seq_len:,}: {report.start_error}"
                    + after,
                ),
            ]
        return report, [*notes, *_cold_compile_notes(query, gpu, report)]

    def summary_line(self, est: Estimate, esc: Escape) -> str | None:
        """What vLLM's start-up log would say: the KV pool, its tokens, and the concurrency at s."""
        v = est.engine_report
        if not isinstance(v, VllmReport) or v.kv_cache_memory <= 0 or not v.starts:
            return None  # no GPU, or the verdict and warnings say vLLM would not start
        s = est.query.seq_len
        name = release_name(est.query) if stand_in(est.query) else v.version
        # What the process reserves (util x the device, what nvidia-smi shows beside the CUDA context),
        # not the total of the rows: the pool grows to fill whatever the other rows leave of it.
        device = est.fit.gpu_memory if est.fit is not None else 0
        per_gpu = " per GPU" if est.query.gpus * est.query.pp * est.query.dp > 1 else ""
        each = "" if v.data_parallel_size == 1 else f" (each of {v.data_parallel_size} replicas logs its own)"
        # The CUDA context (and graphs captured after the pool, where the release does not take their
        # estimate out of it) come on top of util's share: nvidia-smi shows the sum.
        outside = f" + {cuda_context_bytes(est.query, query_constants(est.query)) / GiB:,.2f} GiB CUDA context"
        if not v.cuda_graphs_in_budget and v.cuda_graphs > 0:
            outside += f" + {v.cuda_graphs / GiB:,.2f} GiB CUDA graphs"
        pool = f"the KV pool takes what the rest leaves, {v.kv_cache_memory / GiB:,.1f} GiB"
        capped = v.max_resident > v.max_num_seqs
        if v.pipeline:
            # Each stage measures its own pool and the engine gives them all the fewest blocks of any:
            # say which stage each figure is, or they read as one GPU's.
            shown, fewest = (v.pipeline_shown or 0) + 1, (v.pipeline_fewest_blocks or 0) + 1
            pool = (
                f"on stage {shown} (the one the rows show) the KV pool takes what the rest leaves, "
                f"{v.kv_cache_memory / GiB:,.1f} GiB; vLLM gives every stage the fewest blocks of any, "
                f"{v.num_gpu_blocks:,} (stage {fewest}'s)"
            )
        held = (
            f"vLLM {esc(name)}{each} will hold {v.requested_memory / GiB:,.1f} GiB of {device / GiB:,.1f} GiB{per_gpu} "
            f"(util={v.gpu_memory_utilization:g} x the device){outside}"
        )
        if v.kv_sizing == "fixed":
            # --kv-cache-memory-bytes: no util share; the pool as given beside what the rest holds.
            rest = _non_kv_bytes(v)
            held = (
                f"vLLM {esc(name)}{each} takes the KV pool as given (kvmem=, --kv-cache-memory-bytes; util is not "
                f"used to size it): beside {rest / GiB:,.2f} GiB of weights, activations, non-torch memory, CUDA "
                f"graphs and context it holds {(rest + v.kv_cache_memory) / GiB:,.1f} GiB of "
                f"{device / GiB:,.1f} GiB{per_gpu}"
            )
            pool = f"the KV pool is {v.kv_cache_memory / GiB:,.1f} GiB"
        if v.kv_sizing == "extensible":
            # 0.34 sizes the pool after CUDA-graph capture from the memory then free: util only caps it.
            cap = (
                "the whole device"
                if v.gpu_memory_utilization >= 1
                else f"at most util={v.gpu_memory_utilization:g} x the device, {v.requested_memory / GiB:,.1f} GiB"
            )
            kept = f"{v.kv_margin / GiB:,.2f} GiB free as a margin"
            if v.requested_memory + v.cuda_context < device - v.kv_margin:
                # util's cap binds (min(requested - non_kv_used, headroom - margin), measure_kv_cache_bytes):
                # what stays free is what util x the device leaves beside the context, not the margin.
                free = device - v.requested_memory - v.cuda_context
                kept = (
                    f"{free / GiB:,.2f} GiB free (what util={v.gpu_memory_utilization:g} leaves, more than its "
                    f"{v.kv_margin / GiB:,.2f} GiB margin)"
                )
            held = (
                f"vLLM {esc(name)}{each} sizes its KV cache after CUDA-graph capture from the memory then free "
                f"(the extensible KV cache, {cap}): of {device / GiB:,.1f} GiB{per_gpu} it keeps "
                f"{kept} and {v.transient_reserve / GiB:,.2f} GiB for transient "
                f"activations, beside the {v.cuda_context / GiB:,.2f} GiB CUDA context"
            )
            if not v.pipeline:
                # Name what "the rest" is, so the sentence adds up: the activation row less its transient
                # part stays allocated (buffers the profile run keeps).
                kept_buffers = v.activation_peak - v.transient_reserve
                buffers = (
                    f" and the {kept_buffers / GiB:,.2f} GiB of the activation row that stays allocated"
                    if kept_buffers >= GiB // 200
                    else ""
                )
                pool = (
                    f"the KV pool takes what the weights, non-torch memory, CUDA graphs{buffers} leave, "
                    f"{v.kv_cache_memory / GiB:,.1f} GiB"
                )
        line = (
            f"{held}; {pool}, "
            f"room for {requests_text(v.max_resident)} of {tokens_text(s)}"
            + ("" if capped else " at once")
            + (
                f" (its {v.num_gpu_blocks:,} blocks less the null block, which no request gets)"
                if f"{v.max_resident:.2f}" != f"{v.max_concurrency:.2f}"
                else ""
            )
            # The scheduler runs no more than max_num_seqs, whatever room the pool has.
            + (f", of which vLLM runs {v.max_num_seqs:,} at once ({seqs_words(est.query, v)})" if capped else "")
            + f'; its log will print "{_log_size(v)}"'
        )
        # That figure is the release's own arithmetic, not a token budget: say which, or it reads as
        # a contradiction of the requests (sliding windows and states make the two differ). No factor
        # is printed: vLLM multiplies its unrounded concurrency, which no two-decimal figure gives back.
        if version_profile(est.query)[0].kv_tokens_report == "concurrency":
            line += " (vLLM's maximum concurrency, over all its blocks, times max_model_len)"
        else:
            blocks = v.kv_cache_tokens // v.block_size
            line += f" ({blocks:,} blocks per KV-cache group x {v.block_size} tokens per block)"
        if (d := v.drafter) is not None:
            tokens = f"{d.num_speculative_tokens} speculative token{'' if d.num_speculative_tokens == 1 else 's'}"
            line += (
                f". The {esc(d.method)} drafter {esc(d.model)} ({tokens}) takes "
                f"{d.weights / GiB:,.2f} GiB of weights and {d.kv_bytes_per_token / 1024:g} KiB of KV per token in its "
                f"{d.kv_layers} layer{'' if d.kv_layers == 1 else 's'}, counted in both"
            )
        if v.pipeline and (avail := next((x for x in v.log_lines if x.startswith("Available KV cache memory")), None)):
            line += f'; "{avail}" is stage 1\'s own pool, which only its rank logs'
        if v.data_parallel_size > 1:
            every = v.max_resident * v.data_parallel_size
            line += (
                f". The {v.data_parallel_size} replicas hold {requests_text(every)} of {tokens_text(s)} "
                "in all; vLLM's load balancer gives each request to one replica, the least loaded"
            )
        return line

    def pool(self, est: Estimate) -> PoolSummary | None:
        v = est.engine_report
        if not isinstance(v, VllmReport):
            return None
        return PoolSummary(
            memory_bytes=v.kv_cache_memory, requests=v.max_resident, replicas=v.data_parallel_size, starts=v.starts
        )

    def speculative_words(self, est: Estimate, esc: Escape) -> str | None:
        """MTP's tokens, or the drafter and its tokens."""
        q, v = est.query, est.engine_report

        def tokens(count: int) -> str:
            return f"{count} speculative token{'' if count == 1 else 's'}"

        if isinstance(v, VllmReport) and (d := v.drafter) is not None:
            return f"{esc(d.method)} drafter {esc(d.model)} ({tokens(d.num_speculative_tokens)})"
        if q.draft and q.spec:
            return f"drafter {esc(q.draft)} ({tokens(q.spec)})"
        if q.mtp:
            return f"MTP ({tokens(q.mtp)})"
        return None

    def setting_default(self, key: str, est: Estimate) -> object | None:
        v = est.engine_report
        field = _REPORTED_DEFAULTS.get(key)
        return getattr(v, field) if field is not None and isinstance(v, VllmReport) else None

    def release_sized(self, est: Estimate) -> str | None:
        v = est.engine_report
        return v.version if isinstance(v, VllmReport) else None

    def util_refused(self, est: Estimate) -> bool:
        return util_refused(est.engine_report)

    def fit_fixes(self, est: Estimate) -> tuple[FitFix, ...] | None:
        """The ways to fit that the verdict offers, in its order: util, seqs, the settings that alone fit
        (prefix=off, a smaller batch), kvmem, b, s, then the fewest layout. The util start check's way
        is the util that starts (and the fewest layout at it, where fewer GPUs than asked hold it)."""
        fit, v, q = est.fit, est.engine_report, est.query
        if fit is None or not isinstance(v, VllmReport) or q.method != "calibrated":
            return None
        if fit.fits or fit.engine_refuses:
            return ()
        if v.kv_sizing == "fixed" and fixed_pool_overflow(q, gpu := lookup_gpu(fit.gpu), _non_kv_bytes(v)):
            # The pool asked does not fit beside the rest: the verdict offers the most that does.
            room = kvmem_round_down(gpu.memory_bytes - _non_kv_bytes(v))
            return (FitFix(settings=f"kvmem={kvmem_words(room)}"),) if room > 0 else ()
        if util_refused(v):
            most = largest_starting_util(q, lookup_gpu(fit.gpu))
            ways = [FitFix(settings=f"util={most:g}")]
            if 0 < fit.min_gpus * fit.min_gpus_dp < q.gpus * q.dp:
                ways.append(FitFix(settings=fewest_settings(fit, q)))
            return tuple(ways)
        running = min(v.requests_per_replica or -(-q.batch // q.dp) if q.dp > 1 else q.batch, v.max_num_seqs)
        held = min(v.max_resident, running - 0.01)
        fixes: list[FitFix] = []
        if v.util_to_fit is not None:
            fixes.append(FitFix(settings=f"util={v.util_to_fit:g}"))
        if v.seqs_to_fit is not None:
            fixes.append(FitFix(settings=f"seqs={v.seqs_to_fit:,}"))
        fixes += [FitFix(settings=setting) for setting in v.settings_to_fit]
        if v.kv_sizing == "fixed" and (need := kvmem_to_fit(est)) is not None:
            fixes.append(FitFix(settings=f"kvmem={kvmem_words(need)}"))
        if fit.max_batch is not None and fit.max_batch >= 1 and q.batch > 1:
            fixes.append(FitFix(settings=f"b={fit.max_batch:,}"))
        if fit.max_seq_len is not None and fit.max_seq_len >= 1 and (held < 1 or not v.starts):
            fixes.append(FitFix(settings=f"s={fit.max_seq_len:,}"))
        if v.util_to_fit is None and fit.min_gpus > 0 and (fit.min_gpus, fit.min_gpus_dp) != (q.gpus, q.dp):
            why = None
            if fit.min_gpus_dp > q.batch and est.params_active is not None:
                # More replicas than requests: they are there because each splits the experts' width
                # over gpus x dp (FusedMoEParallelConfig), not to serve more requests.
                why = f"the replicas split the experts over all {fit.min_gpus * q.pp * fit.min_gpus_dp:,} GPUs"
            fixes.append(FitFix(settings=fewest_settings(fit, q), why=why))
        return tuple(fixes)

    def verdict(self, est: Estimate, esc: Escape) -> str | None:
        """The fit is whether the KV pool holds the b requests of s tokens (what vLLM's concurrency
        counts) and vLLM starts: say how many it holds and what makes it hold them (util first, then
        seqs, then b, then s, then GPUs). With dp= replicas, each pool holds its share of b, ceil(b / dp)."""
        fit, v, q = est.fit, est.engine_report, est.query
        # kv=off: the pool is allocated all the same (kv_always_allocated), and the fit is its.
        if fit is None or not isinstance(v, VllmReport) or q.method != "calibrated":
            return None
        world = q.gpus * q.pp * q.dp
        total = f"Total {gib_text(est.memory.total)}" + (" per GPU" if world > 1 else "")
        name = esc(fit.gpu_name)
        where = f"one {name}" if world == 1 else f"each of {world} {name}"
        sized = (
            f"of kvmem={kvmem_text(v.kv_cache_memory)}"
            if v.kv_sizing == "fixed"
            else f"at util={v.gpu_memory_utilization:g}"
        )
        pool = f"vLLM's KV pool {sized}"
        share = q.batch
        # The replicas' layout: beside what vLLM reserves where it fits, after the GPUs elsewhere.
        replicas = layout_words(q.gpus, q.pp, q.dp) if q.dp > 1 else ""
        if q.dp > 1:
            pool = f"each replica's KV pool {sized}"
            share = v.requests_per_replica or -(-q.batch // q.dp)
        # vLLM runs at most max_num_seqs of them at once; the rest wait (queued, not refused), so the
        # pool must hold those it runs.
        running = min(share, v.max_num_seqs)
        queued = share - running
        asked = f"{share:,} request" + ("" if share == 1 else "s") + f" of {tokens_text(q.seq_len)}"
        if q.dp > 1:
            asked += f" it gets of b={q.batch:,}"
        if queued:
            whose = "each replica" if q.dp > 1 else "vLLM"
            asked = (
                f"{running:,} requests of {tokens_text(q.seq_len)} {whose} runs at once ({seqs_words(q, v)}; "
                f"the other {queued:,} of {'its ' if q.dp > 1 else 'b='}{share:,} wait)"
            )
        if fit.fits:
            # The total is what the rows need; vLLM takes util x the device whatever they need (the pool
            # grows into the rest), plus what comes on top of that share: say what nvidia-smi will show.
            each = " per GPU" if world > 1 else ""
            layout = f"{replicas}; " if replicas else ""
            if any(w.code == "cold_compile" for w in est.warnings):
                where += " once its compile cache is warm"
                reserves = (
                    f" ({layout}vLLM reserves {reserved_bytes(q, v) / GiB:,.1f} GiB{each}; see the first-start note)"
                )
            else:
                reserves = f" ({layout}vLLM reserves {reserved_bytes(q, v) / GiB:,.1f} GiB{each})"
            line = (
                f"{total}: fits {where}{reserves}: {pool} holds {requests_text(v.max_resident)} of "
                f"{tokens_text(q.seq_len)}"
            )
            wait = f"; {queued:,} wait" + (" in each" if q.dp > 1 else "") if queued else ""
            if q.dp > 1:
                every = v.max_resident * q.dp
                runs = f", which runs {running:,} at once ({seqs_words(q, v)})" if queued else ""
                # The least loaded replica gets each request: ceil(b / dp) is the most one gets.
                bound = "" if q.batch % q.dp == 0 else " at most"
                return line + f", {every:,.2f} in all (b={q.batch:,} asked: {share:,} a replica{bound}{runs}{wait})"
            if queued:
                return line + f" (b={q.batch:,} asked: vLLM runs {running:,} at once, {seqs_words(q, v)}{wait})"
            return line + f" (b={q.batch:,} asked)"
        if replicas:
            where += f" ({replicas})"
        if v.max_resident >= running and v.starts and v.util_to_fit is None:
            # The pool holds them; what comes on top of util x the device (context, graphs) does not fit.
            return (
                f"{total}: does not fit {where}: {pool} holds the {asked}, but the CUDA context and "
                f"graphs vLLM adds on top of it leave no room on the device; lower util"
            )
        held = min(v.max_resident, running - 0.01)  # never round up to what was asked
        if v.kv_sizing == "fixed" and (oom := fixed_pool_overflow(q, lookup_gpu(fit.gpu), _non_kv_bytes(v))):
            return f"{total}: does not fit {where}: {oom}"
        if util_refused(v):
            line = f"{total}: does not fit {where}: {v.start_error}"
            if fit.min_gpus > 0 and (fit.min_gpus, fit.min_gpus_dp) != (q.gpus, q.dp):
                # The fewest layout is the solver's at the util that starts there (startable_query).
                most = (
                    fit.min_gpus_util
                    if fit.min_gpus_util is not None
                    else largest_starting_util(q, lookup_gpu(fit.gpu))
                )
                layout = layout_settings(fit.min_gpus, fit.min_gpus_dp, asked_dp=q.dp)
                fewer = fit.min_gpus * fit.min_gpus_dp < q.gpus * q.dp
                line += f"; at util={most:g} {layout} is enough" if fewer else f"; at util={most:g} it takes {layout}"
            return line
        # The pool's blocks hold one whole request (int(concurrency x s) >= s from 0.21, where the
        # two-decimal concurrency may round up to 1.00), yet vLLM will not start: from 0.30 its check
        # holds one block back (the null block) first.
        holds_one = version_profile(q)[0].kv_tokens_report == "concurrency" and v.kv_cache_tokens >= q.seq_len
        if v.starts and v.max_concurrency >= running > v.max_resident:
            # vLLM prints a concurrency of b, over all its blocks; its scheduler holds the null block
            # back, so the last request cannot reach s tokens.
            # vLLM's own figure only as its log line words it (it rounds where the answer rounds down).
            printed = next(
                (part for line in v.log_lines for part in line.split(", ") if part.startswith("Maximum concurrency")),
                None,
            )
            prints = f'its log prints "{printed}"' if printed else "vLLM prints a concurrency of the whole pool"
            line = (
                f"{total}: does not fit {where}: {pool} has {v.num_gpu_blocks:,} blocks and {prints}, "
                f"but one block is its null block, which no request gets: it holds {held:,.2f} of the {asked} at once"
            )
        elif not v.starts and v.kv_cache_memory > 0 and holds_one:
            line = (
                f"{total}: does not fit {where}: {pool} has {v.num_gpu_blocks:,} blocks, as many as one request of "
                f"{q.seq_len:,} tokens takes, but vLLM {v.version} keeps one back (the null block) and will not start"
            )
        elif v.kv_cache_memory <= 0 and v.weights > v.requested_memory:
            per = " per GPU" if world > 1 else ""
            capped_at = (
                f"the device ({gib_text(v.requested_memory)})"
                if v.gpu_memory_utilization >= 1
                else f"util={v.gpu_memory_utilization:g} x the device ({gib_text(v.requested_memory)})"
            )
            alone = f"{gib_text(v.weights)}{per}"
            line = f"{total}: does not fit {where}: the weights alone take {alone}, more than {capped_at}"
        elif v.kv_cache_memory <= 0:
            rest = (
                "the weights, activations, CUDA graphs, CUDA context and margin"
                if v.kv_sizing == "extensible"
                else "the weights and activations"
            )
            line = f"{total}: does not fit {where}: at util={v.gpu_memory_utilization:g} {rest} leave vLLM no KV pool"
        elif held < 1:
            line = f"{total}: does not fit {where}: {pool} holds {held:,.2f} of one request of {tokens_text(q.seq_len)}"
        else:
            line = f"{total}: does not fit {where}: {pool} holds {held:,.2f} of the {asked}"
            line += "" if queued else " asked"
        fixes = self.fit_fixes(est) or ()
        if fixes:
            line += "; use " + ", or ".join(fix.text() for fix in fixes)
        elif fit.min_gpus == 0:
            line += "; no tensor-parallel group vLLM accepts, nor replicas of one, fits it"
            if q.pp == 1:
                # The solver searches TP groups and replicas; stages split what TP may not (a
                # pre-quantized bitsandbytes checkpoint up to 0.27, heads no TP size divides).
                line += " (pipeline stages are not searched: ask with pp=)"
        return line


def _cold_compile_notes(query: Query, gpu: GPU, report: VllmReport) -> list[Note]:
    """Where the b requests fit a warm start's pool but not one a first start's compile shrinks.

    vram answers the start whose torch.compile cache (~/.cache/vllm) is warm: every restart that keeps
    it. From 0.27 the profiled non-KV share is consumed memory plus the transient peak of the profile
    run (utils/mem_utils.py@v0.27.1 memory_profiling), and the first compile runs inside it, so its
    temporaries count; 0.34 keeps that peak free beside its KV cache and widens its margin with it
    (v1/worker/extensible_kv_cache.py@v0.34.0 measure_kv_cache_bytes). Before 0.27, and with eager=on
    (nothing compiled), no note."""
    profile, _ = version_profile(query)
    if query.enforce_eager or profile.non_kv_accounting != "consumed" or report.pipeline:
        return []
    if report.kv_sizing == "fixed":
        return []  # kvmem= gives the pool: a larger profiled peak does not shrink it
    running = running_requests(query, gpu)
    if report.max_resident < running or report.kv_cache_memory <= 0:
        return []
    constants = query_constants(query)
    cold = constants.cold_compile_peak
    if report.kv_sizing == "extensible":
        widened = extensible_margin_bytes(profile, report.transient_reserve + cold, rocm=gpu.vendor == "amd")
        cold += widened - report.kv_margin
    # Requests scale with the pool's bytes (whole blocks aside): about this many in the smaller pool.
    held = report.max_resident * max(report.kv_cache_memory - cold, 0) / report.kv_cache_memory
    if held >= running:
        return []
    return [
        note(
            "cold_compile",
            f"Close to the edge on a first start: this is the pool of a start whose torch.compile cache "
            f"(~/.cache/vllm) is warm. On the first start vLLM {profile.version} counts the compiler's "
            "temporary memory toward its profiled activation peak (vllm-project/vllm#54122)"
            + (", and its extensible KV cache widens its margin with it" if report.kv_sizing == "extensible" else "")
            + f": about {constants.cold_compile_peak / GiB:.0f} GiB in published 8B starts, which leaves room for "
            f"about {math.floor(held * 100) / 100:,.2f} of the {running:,} request{'' if running == 1 else 's'}. "
            "Start it once and restart "
            "with the cache kept, or leave that much room.",
        )
    ]


def _eager_async_notes(spec: ModelSpec, query: Query) -> list[Note]:
    """What eager=on leaves out, and async= where it changes no figure."""
    notes: list[Note] = []
    if query.method != "calibrated":
        return notes
    if query.enforce_eager:
        notes.append(
            note(
                "eager",
                "eager=on (--enforce-eager): vLLM captures no CUDA graphs and compiles nothing (config/vllm.py "
                "sets cudagraph_mode and the compilation mode to NONE), so the CUDA-graph term is 0. The "
                "activation peak is still sized as compiled: uncompiled, vLLM's RMSNorm kernel keeps no fp32 "
                "copy of the hidden state, so it may be up to 4 bytes x hidden size x batched tokens lower.",
            )
        )
    if query.async_scheduling is not None and query.kv != "off":
        profile, _ = version_profile(query)
        method = speculative_method(spec, query)
        said = "on" if query.async_scheduling else "off"
        asked = in_flight_batches(profile, method, query.async_scheduling)
        if asked == in_flight_batches(profile, method):
            why = (
                f"it is vLLM {profile.version}'s default here"
                if profile.windows_reserve_in_flight
                else f"vLLM {profile.version}'s windowed layers reserve one batch either way"
            )
            notes.append(note("setting_ignored", f"async={said} changes no figure: {why}."))
        elif not any(t.kind in ("sliding", "chunked") for t in kv_layout(spec, query)[0].types):
            notes.append(
                note(
                    "setting_ignored",
                    f"async={said} changes no figure here: only sliding-window and chunked layers keep the "
                    f"batches in flight, and {spec.model_type} has none.",
                )
            )
    return notes


def reserved_bytes(q: Query, v: VllmReport) -> int:
    """What vLLM holds on each GPU once started: util x the device (the pool grows to fill it), the
    CUDA context beside that share and, up to 0.19, the CUDA graphs captured after the pool. 0.34's
    extensible KV cache grows into what is free after capture, less the margin it keeps free, and
    util x the device (v1/worker/utils.py@v0.34.0 request_memory, from the snapshot taken after the
    CUDA context) only caps it, the context beside that share as before."""
    device = round(v.requested_memory / v.gpu_memory_utilization)
    if v.kv_sizing == "extensible":
        return min(v.requested_memory + v.cuda_context, device - v.kv_margin)
    if v.kv_sizing == "fixed":
        # kvmem= (--kv-cache-memory-bytes): the pool as given beside what the rest takes.
        return _non_kv_bytes(v) + v.kv_cache_memory
    outside = cuda_context_bytes(q, query_constants(q))
    if not v.cuda_graphs_in_budget:
        outside += v.cuda_graphs
    # Never more than the device: past it, part of what vram places beside the share is inside it
    # (logged TP starts at util 0.95 on 24 GB cards run), as the fit takes it (usable_bytes).
    return min(v.requested_memory + outside, device)


def kvmem_words(size: int) -> str:
    """A kvmem= size as written: hundredths of a GiB, whole MiB below one GiB (``size`` rounded up
    to one of those by :func:`kvmem_round_up` reads back as itself)."""
    return f"{size / GiB:.2f}GiB" if size >= GiB else f"{-(-size // MiB)}MiB"


def kvmem_setting(size: int) -> str:
    """A kvmem= size as ``kvmem=`` takes it back exactly: ``20.00GiB`` / ``585MiB`` where that is
    exact, else decimal units as vLLM's human_readable_int writes them (``20g``: 10^9 bytes, where
    ``20G`` is GiB, which read back in vram's grammar and in --kv-cache-memory-bytes alike), else the
    bytes."""
    if kvmem_round_up(size) == size:
        return kvmem_words(size)
    for unit, name in ((10**9, "g"), (10**6, "m")):
        if size % unit == 0:
            return f"{size // unit}{name}"
    return str(size)


def kvmem_text(size: int) -> str:
    """A kvmem= size as it reads back, with its GiB where the setting is not in GiB (``20g (18.63 GiB)``)."""
    setting = kvmem_setting(size)
    return setting if kvmem_round_up(size) == size else f"{setting} ({size / GiB:,.2f} GiB)"


def kvmem_round_down(size: int) -> int:
    """``size`` down to what :func:`kvmem_words` writes (whole MiB below a GiB, else hundredths of a
    GiB), so that the size written fits where ``size`` does; 0 below one MiB."""
    if size < GiB:
        return max(size // MiB, 0) * MiB
    return int(math.floor(size * 100 / GiB) / 100 * GiB)


def kvmem_round_up(size: int) -> int:
    """``size`` up to what :func:`kvmem_words` writes and the grammar reads back: whole MiB below a
    GiB, else hundredths of a GiB (36.0022 GiB is 36.01GiB)."""
    if size < GiB:
        return -(-size // MiB) * MiB
    return int(math.ceil(size * 100 / GiB) / 100 * GiB)


def kvmem_to_fit(est: Estimate) -> int | None:
    """With kvmem=: the pool (rounded up as the suggestion writes it) that holds the
    requests vLLM runs at once (the KV row) and the null block, where it still fits the device beside
    the rest; else None."""
    v, fit = est.engine_report, est.fit
    if not isinstance(v, VllmReport) or v.kv_sizing != "fixed" or fit is None or v.kv_block_bytes <= 0:
        return None
    need = est.memory.kv_cache + v.kv_block_bytes
    if v.pipeline:
        # Every rank gets the same pool; the rank with the most layers needs the most (pp= sizes only
        # models whose layers cache alike, so the need scales with the layers).
        shown = v.pipeline[v.pipeline_shown or 0].layers
        need = -(-need * max(rank.layers for rank in v.pipeline) // shown)
    need = kvmem_round_up(need)
    return need if need > v.kv_cache_memory and _non_kv_bytes(v) + need <= fit.gpu_memory else None


def _non_kv_bytes(v: VllmReport) -> int:
    """What a started server holds on each GPU beside its KV pool: weights, the activation peak,
    non-torch memory, CUDA graphs and the CUDA context."""
    return v.weights + v.activation_peak + v.non_torch + v.cuda_graphs + v.cuda_context


def seqs_words(q: Query, v: VllmReport) -> str:
    """Where the max_num_seqs in force comes from: ``seqs=16``, or the release's default here."""
    if q.max_num_seqs is not None and q.max_num_seqs == v.max_num_seqs:
        return f"seqs={v.max_num_seqs:,}"
    if q.max_num_seqs is not None:
        return f"max_num_seqs {v.max_num_seqs:,}, no more than max_num_batched_tokens"
    if q.max_num_batched_tokens is not None and v.max_num_seqs == q.max_num_batched_tokens:
        # The default tier's max_num_seqs is capped at max_num_batched_tokens (one token a sequence).
        return f"max_num_seqs {v.max_num_seqs:,}, no more than mnbt={q.max_num_batched_tokens:,}"
    return f"max_num_seqs {v.max_num_seqs:,}, its default here"


# Keys whose unset value is a default the report states: the report field that holds it.
_REPORTED_DEFAULTS = {
    "mnbt": "max_num_batched_tokens",
    "seqs": "max_num_seqs",
    "util": "gpu_memory_utilization",
    "vllm": "version",
}

ENGINE = VllmEngine()
