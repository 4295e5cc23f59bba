"""vLLM's start-up memory accounting per release, as data and pure functions.

Each ``VllmProfile`` records what one vLLM minor release does when ``vllm serve`` sizes its KV
cache: defaults that change memory, and switches for the mechanisms that changed between releases.
Every field names the source line it came from as ``path@vX.Y.0`` (paths under ``vllm/``); the
narrative, with the log lines each mechanism prints, is in docs/engine-notes.md.

The helpers below reproduce vLLM's arithmetic for the mechanisms that changed (hybrid page
alignment, Mamba / linear-attention state pages, MLA sparse-attention caches, KV capacity and the
fit check). They take plain numbers, so the engine module can wire them in without new model types.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict

from common.errors import InputError

GiB = 1 << 30
MiB = 1 << 20

VllmVersion = Literal[
    "0.19",
    "0.20",
    "0.21",
    "0.22",
    "0.23",
    "0.24",
    "0.25",
    "0.26",
    "0.27",
    "0.28",
    "0.29",
    "0.30",
    "0.31",
    "0.32",
    "0.33",
    "0.34",
]
# How the CUDA-graph memory estimate reaches the KV budget (v1/worker/gpu_worker.py
# determine_available_memory): "opt_in" = profiled, logged, but only subtracted with
# VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS=1; "subtracted" = the same variable defaults to 1.
CudaGraphAccounting = Literal["opt_in", "subtracted"]
# How the non-KV memory is measured (utils/mem_utils.py memory_profiling):
# "torch_peak" = weights + torch peak increase of the profile run + non-torch increase;
# "consumed" = drop of free device memory since before model creation + (torch peak - torch
# allocated) after the profile run.
NonKvAccounting = Literal["torch_peak", "consumed"]
# "GPU KV cache size: N tokens" (v1/core/kv_cache_utils.py):
# "blocks" = num_blocks // num_groups * min_block_size; "concurrency" = int(max_concurrency x
# max_model_len).
KvTokensReport = Literal["blocks", "concurrency"]
# Blocks one max_model_len request needs (get_max_concurrency_for_kv_cache_config):
# "pooled" = cdiv(sum of max bytes over groups, page bytes); "per_group" = sum over groups of
# cdiv(group max bytes, group page bytes).
ConcurrencyRounding = Literal["pooled", "per_group"]
# What the start check counts for one max_model_len request: "layer_bytes" = every layer's own bytes
# (max_memory_usage_bytes summed over the layers); "group_blocks" = the pool's whole blocks (the
# blocks each KV-cache group takes, times the bytes one block index costs, padding layers included);
# "multi_group_blocks" = whole blocks where the layers form several groups, the layers' own bytes
# where they form one (a single group has no padding layers, so the two agree there).
StartCheckNeed = Literal["layer_bytes", "group_blocks", "multi_group_blocks"]
# How the hybrid attention block size is aligned (platforms/interface.py or, in 0.19,
# model_executor/models/config.py): "fixed" = 16 tokens (64 for MLA, 128 for CUTLASS MLA);
# "backend" = max(smallest kernel block size of the chosen backend, cache block size) (0.20-0.31;
# from 0.27 at least 128 for hybrid MLA models); "backend_lcm" = that, then rounded up to the lcm
# of every non-SSM backend's smallest block (0.32+).
HybridAlignment = Literal["fixed", "backend", "backend_lcm"]
# How the pool is sized: "profiled" = requested - non-KV (- CUDA graphs); "extensible" = the
# address range is reserved and physical pages are committed after warm-up from the memory actually
# free after CUDA-graph capture (0.34, config/cache.py enable_extensible_kv_cache).
KvSizing = Literal["profiled", "extensible"]
# Which GPU model runner a plain `vllm serve` uses (config/vllm.py use_v2_model_runner,
# _is_default_v2_model_runner_model): "v1" (V2 only with VLLM_USE_V2_MODEL_RUNNER=1; 0.19-0.21);
# "v2_listed_unquantized" = V2 for the architectures in DEFAULT_V2_MODEL_RUNNER_ARCHITECTURES when
# the model is neither MoE nor quantized (0.22: Qwen3ForCausalLM; 0.23: + LlamaForCausalLM,
# MistralForCausalLM); "v2_listed" = V2 for the listed architectures, whatever else (0.24);
# "v2_dense" = V2 for the listed architectures and for every generative model that is not MoE,
# hybrid or attention-free (0.25-0.26: `... or not model_config.is_moe` after `if is_hybrid: return
# False`); "v2_dense_or_listed" = the same, but a listed hybrid runs on V2 (0.27-0.28); "v2" = V2
# unless a feature it lacks is on (0.29-0.33); "v2_only" = the V1 runner (v1/worker/gpu_model_runner.py)
# is gone (0.34). The runners warm up the sampler differently (estimator/engines/vllm.py
# v2_sampler_peak), and the V2 runner's profile_cudagraph_memory is a stub that
# returns 0 up to 0.28.0 (v1/worker/gpu/model_runner.py: "It is TBD whether we keep this API or
# not."), so no CUDA-graph estimate leaves the pool of a model the V2 runner serves there; 0.29.0
# measures it (_profile_cudagraph_memory).
ModelRunner = Literal["v1", "v2_listed_unquantized", "v2_listed", "v2_dense", "v2_dense_or_listed", "v2", "v2_only"]
# mamba_cache_mode that prefix caching selects (model_executor/models/config.py MambaModelConfig):
# "all_if_supported" = "all" for models that declare supports_mamba_prefix_caching (Mamba-2 families:
# Nemotron-H, Granite-4 hybrid, Falcon-H1, Jamba, Zamba2, Mamba), else "align" (0.19-0.27);
# "align" for every model (0.28+).
PrefixCachingMambaMode = Literal["all_if_supported", "align"]
MambaCacheMode = Literal["none", "align", "all"]
LogLevel = Literal["debug", "info"]
UsageContext = Literal["openai_api_server", "llm_class"]


# Target model types of the aux-hidden-state check (config/speculative.py@v0.20.0).
_AUX_HIDDEN_STATE_TYPES = (
    "llama",
    "qwen",
    "minicpm",
    "gpt_oss",
    "hunyuan_vl",
    "hunyuan_v1_dense",
    "afmoe",
    "nemotron_h",
    "deepseek_v2",
    "deepseek_v3",
    "kimi_k2",
    "kimi_k25",
    "minimax_m2",
    "gemma4",
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BatchTier(_Frozen):
    """One row of ``EngineArgs.get_batch_defaults`` (engine/arg_utils.py)."""

    min_memory_bytes: int  # the tier applies from this device memory up
    excludes_a100: bool  # "a100" not in device_name
    excludes_gb10: bool  # compute capability (12, 1) kept on the small tier
    server_batched_tokens: int  # UsageContext.OPENAI_API_SERVER (vllm serve)
    offline_batched_tokens: int  # UsageContext.LLM_CLASS (LLM(...))
    max_num_seqs: int  # the same for both contexts in every release read


_SMALL = BatchTier(
    min_memory_bytes=0,
    excludes_a100=False,
    excludes_gb10=False,
    server_batched_tokens=2048,
    offline_batched_tokens=8192,
    max_num_seqs=256,
)
_H100 = BatchTier(
    min_memory_bytes=70 * GiB,
    excludes_a100=True,
    excludes_gb10=False,
    server_batched_tokens=8192,
    offline_batched_tokens=16384,
    max_num_seqs=1024,
)
# engine/arg_utils.py@v0.28.0: "for GPUs like B200/B300 with >= 160GB memory, use the largest
# defaults" (16384 / 16384 tokens, 1024 sequences); no A100 test on this tier.
_B200 = BatchTier(
    min_memory_bytes=160 * GiB,
    excludes_a100=False,
    excludes_gb10=False,
    server_batched_tokens=16384,
    offline_batched_tokens=16384,
    max_num_seqs=1024,
)


# DeepSeek-V4's cache planner (v1/core/kv_cache_utils.py; v1/core/kv_cache_planning.py from 0.33).
# Layer tuples (_get_kv_cache_groups_uniform_groups, 0.20-0.28): the latent / indexer caches in one
# group, the sliding windows and compressor states split into groups of _approximate_gcd tuples;
# "tuples" (0.20-0.22): states padded to the latent pages, a block index costs the distinct latent
# pages x the longest group (_get_kv_cache_config_deepseek_v4); "slots" (0.23-0.26): padded, a block
# index costs each page size x its most layers in one group (_bucket_layers_by_page_size);
# "unpadded" (0.27-0.28): no padding, the widest group (_get_packed_kv_cache_layout). "packed"
# (0.29-0.33): _get_packed_kv_cache_groups buckets by spec type, splits the balanced buckets, and a
# block index costs the widest group (_get_kv_cache_bytes_per_block); 0.34 plans the same
# (_get_packed_kv_cache_groups and the block-outermost _get_kv_cache_bytes_per_block unchanged,
# v1/core/kv_cache_planning.py@v0.34.0). "none": 0.19, which has no DeepSeek-V4.
Dsv4Planner = Literal["none", "tuples", "slots", "unpadded", "packed"]
# How a release builds a DFlash drafter's layers (model_executor/models/qwen3_dflash.py): "none" = no
# DFlash (0.19.0); "all_full" = every layer full attention, DFlashQwen3Attention passes no sliding
# window so ``layer_types`` is ignored (0.20.0-0.24.0); "unread" = not read (0.25.0); "layer_types" =
# ``_resolve_layer_attention`` follows ``layer_types`` (``dflash_config.use_swa`` / ``swa_window_size``
# too) from 0.26.0.
DflashLayers = Literal["none", "all_full", "unread", "layer_types"]
# Where the nvfp4 KV cache runs: "none" = not in CacheDType (0.19.0); "unimplemented" = listed, but
# FlashInfer's builder raises "nvfp4 KV cache is not yet supported" (0.20.0); "sm100" = trtllm-gen's
# kernels, sm100 family only (v1/attention/backends/flashinfer.py@v0.21.0 ... @v0.31.0); "fa2" = also
# an FA2 path for sm80, sm90 and sm120 (_nvfp4_kv_on_fa2, 0.32.0+).
Nvfp4Kv = Literal["none", "unimplemented", "sm100", "fa2"]


class VllmProfile(_Frozen):
    """What one vLLM minor release does at start-up that changes memory."""

    version: VllmVersion
    # config/cache.py CacheConfig.gpu_memory_utilization: Field(default=0.9) in 0.19,
    # Field(default=0.92) from 0.20.0; 0.34 resolves None to 1.0 under the extensible KV cache
    # (resolved_gpu_memory_utilization) and keeps DEFAULT_GPU_MEMORY_UTILIZATION = 0.92 otherwise.
    gpu_memory_utilization: float
    # config/cache.py CacheConfig.DEFAULT_BLOCK_SIZE: 16 up to 0.33.0, 64 in 0.34.0.
    default_block_size: int
    # envs.py "VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS": os.getenv(..., "0") in 0.19.0, "1" from
    # 0.20.0 (the log line says "default since v0.21.0", the source flipped one release earlier).
    cuda_graph_accounting: CudaGraphAccounting
    # utils/mem_utils.py memory_profiling: weights + torch_peak_increase + non_torch_increase up to
    # 0.26.0; total_consumed + transient_peak_headroom from 0.27.0.
    non_kv_accounting: NonKvAccounting
    # v1/worker/gpu_worker.py compile_or_warm_up_model: the "Free memory on device ... Actual usage
    # is ..." breakdown is logger.debug up to 0.25.0 and logger.info from 0.26.0; from 0.27.0 it
    # reads "X GiB for consumed memory (weights + non-torch), Y GiB for peak activation, and Z GiB
    # for CUDAGraph memory" instead of separate weight / non-torch figures.
    breakdown_log: LogLevel
    breakdown_splits_weights: bool
    # v1/core/kv_cache_utils.py "GPU KV cache size": num_blocks // len(groups) * min_block_size in
    # 0.19.0-0.20.0; int(max_concurrency * max_model_len) from 0.21.0.
    kv_tokens_report: KvTokensReport
    # v1/core/kv_cache_utils.py get_max_concurrency_for_kv_cache_config: pooled cdiv up to 0.26.0,
    # per-group cdiv from 0.27.0.
    concurrency_rounding: ConcurrencyRounding
    # v1/core/kv_cache_utils.py: size and concurrency printed in one line "GPU KV cache size: N
    # tokens, Maximum concurrency for L tokens per request: C.CCx" from 0.28.0 (two lines before);
    # 0.30.0 prints the device name in place of "GPU" (update_kv_cache_capacity).
    capacity_one_line: bool
    # v1/core/kv_cache_utils.py get_kv_cache_configs subtracts one block of the pool (the null block
    # BlockPool holds, ``check_memory``) before comparing with one max_model_len request: from 0.29.0
    # (absent at v0.28.0).
    fit_check_reserves_null_block: bool
    # The check that stops a start (get_kv_cache_configs -> _check_enough_kv_cache_memory) compares
    # _max_memory_usage_bytes_from_groups with the pool, and _estimate_max_model_len_from_groups
    # binary-searches the same function. v0.20.0-v0.28.0 (the same function at each): one group of
    # UniformTypeKVCacheSpecs sums its layers' max_memory_usage_bytes; otherwise group size x page x
    # the sum over groups of cdiv(group bytes, page), padding layers included ("multi_group_blocks";
    # DeepSeek-V4's all-uniform groups have their own tuple count, not modelled here). From v0.29.0
    # (v1/core/kv_cache_utils.py, v1/core/kv_cache_planning.py@v0.33.0) every group counts whole
    # pages, times the bytes per pool block, the blocks "Maximum concurrency" divides the pool by
    # ("group_blocks"). 0.19 not read.
    start_check_need: StartCheckNeed
    # Block-FP8 routed experts whose per-GPU intermediate width is not a multiple of the checkpoint's
    # weight block: Fp8MoEMethod.create_weights raises ("The output_size of gate's and up's weight =
    # N is not divisible by weight quantization block_n", "The input_size of down's weight ...") up
    # to 0.28.0 (layers/quantization/fp8.py@v0.23.0, @v0.25.0, @v0.28.0); from 0.29.0 the checkpoint's
    # scales are refined to gcd(block_n, block_k, per-GPU width, hidden size) when that is at least 32
    # (refine_fp8_moe_block_shape, layers/fused_moe/oracle/fp8.py@v0.29.0, @v0.32.0;
    # resolve_fp8_moe_weight_block_shape @v0.33.0), and only a smaller one still raises. Fp8Config's
    # experts only: compressed-tensors' (CompressedTensorsW8A8Fp8MoEMethod) keep the strict check.
    fp8_moe_block_refine: bool = False
    # DeepSeek-V4's shared expert (DeepseekV4MLP) rounds its intermediate size up to whole weight
    # blocks per GPU under block FP8 ("Block-FP8 shards in whole 128-blocks",
    # models/deepseek_v4/nvidia/model.py@v0.24.0 ... @v0.33.0; not at v0.23.0), so no TP size is
    # refused by its width.
    dsv4_shared_expert_block_padding: bool = False
    # engine/arg_utils.py get_batch_defaults tiers, largest first.
    batch_tiers: tuple[BatchTier, ...]
    # Hybrid attention block alignment; see HybridAlignment. 0.19.0 model_executor/models/config.py
    # (kernel_block_alignment_size = 16, 64 MLA, 128 CUTLASS MLA); 0.20.0+ platforms/interface.py
    # _align_hybrid_block_size: max(min of the backend's get_supported_kernel_block_sizes, cache
    # block size); 0.32.0+ also lcm over every non-SSM backend (backend_block_alignment).
    hybrid_alignment: HybridAlignment
    # v1/attention/backends/mla (FLASHMLA_SPARSE): NVFP4 DS-MLA cache format (352 B/token) exists
    # from 0.30.0.
    has_nvfp4_ds_mla: bool
    kv_sizing: KvSizing
    # config/vllm.py CUDA-graph capture sizes: the default largest size is
    # min(max_num_seqs x (1 + speculative tokens) x 2, cap); cap 512 up to 0.27.0, 1024 on data-centre
    # Blackwell (is_device_capability_family(100)) from 0.28.0.
    cudagraph_capture_cap_sm100: int
    # config/model.py is_prefix_caching_supported: "Hybrid models do not support prefix caching" up
    # to 0.25.0; "Generative hybrid models support prefix caching." from 0.26.0, so a hybrid model
    # starts with prefix caching on and MambaModelConfig sets mamba_cache_mode "align".
    hybrid_prefix_caching_default: bool
    # v1/kv_cache_interface.py MambaSpec.max_memory_usage_bytes in "align" mode:
    # 2 + num_speculative_blocks pages, plus num_prefill_checkpoint_blocks. The field exists from
    # 0.29.0, but only the mixers named here set it to 1: none of Mamba-2 / GDN in 0.29.0-0.31.0
    # (Kimi K3's KDA only), Mamba-2 from 0.32.0 (layers/mamba/mamba_mixer2.py), and from 0.33.0
    # Qwen's gated DeltaNet when its prefill runs on FlashInfer's kernel ("qwen_gdn_flashinfer":
    # QwenGatedDeltaNetAttention sets a checkpoint alignment only for that backend,
    # layers/mamba/gdn/qwen_gdn_linear_attn.py@v0.33.0, @v0.34.0; Triton's prefill and OLMo-hybrid's
    # layers export none). A Qwen3.8-27B log of a 0.29.1rc1 build (calibration2 n010) holds 2 pages
    # per GDN group in "align" mode.
    prefill_checkpoint_mixers: frozenset[str]
    prefix_caching_mamba_mode: PrefixCachingMambaMode
    # v1/kv_cache_interface.py MambaSpec.max_memory_usage_bytes in "all" mode: one page per block of
    # max_model_len, plus num_speculative_blocks from 0.22.0 (0.19.0-0.21.0 add none).
    all_mode_counts_speculative_pages: bool = True
    # v1/core/kv_cache_utils.py check_enough_kv_cache_memory: up to 0.21.0 the error reads "the
    # models's max seq len" and names `gpu_memory_utilization` alone; from 0.22.0 "the model's" and
    # "(which also controls CPU memory on the CPU backend)".
    fit_error_names_cpu_backend: bool = True
    model_runner: ModelRunner
    # config/vllm.py DEFAULT_V2_MODEL_RUNNER_ARCHITECTURES (0.22-0.28; see ModelRunner).
    v2_default_architectures: frozenset[str] = frozenset()
    # config/vllm.py _get_v2_model_runner_unsupported_features: the speculative methods (of those vram
    # sizes) the V2 runner takes; under any other a plain start falls back to the V1 runner. "eagle",
    # "eagle3", "mtp" from 0.22.0; "dflash" from 0.24.0; "draft_model" from 0.33.0 (before, it is
    # listed as an unsupported "speculative method 'draft_model'").
    v2_spec_methods: frozenset[str] = frozenset()
    # v1/worker/gpu/model_runner.py profile_cudagraph_memory: `return 0` up to 0.28.0, a measured
    # capture (_profile_cudagraph_memory) from 0.29.0.
    v2_profiles_cuda_graphs: bool = False
    # v1/worker/gpu/model_runner.py _dummy_sampler_run (V2 runner): from 0.33.0 the profile run
    # samples twice, the second time with SamplingParams.for_sampler_warmup() ("warmup_kernels ...
    # pays for the fp32 logits pipeline, so the profiled peak must too"); before, one default pass.
    v2_sampler_warmup_pass: bool
    # v1/worker/gpu/sample/sampler.py apply_sampling_params (V2 runner): 0.22.0-0.25.0 copy the logits
    # to a new fp32 tensor on every call, the profile's greedy pass too; 0.26.0 processes them in
    # place in the model dtype (a clone only for raw logprobs); from 0.27.0 nothing is copied unless a
    # request needs processing (_requires_logits_processing / needs_logits_processing).
    v2_sampler_fp32_copy: bool = False
    # DeepSeek-V4's KV-cache planner (see Dsv4Planner).
    dsv4_planner: Dsv4Planner = "none"
    # models/deepseek_v4/attention.py _resolve_dsv4_kv_cache_dtype: "auto" becomes fp8 (fp8_ds_mla)
    # from 0.30.0; before, a non-fp8 cache fails an assertion ("only supports fp8 kv-cache").
    dsv4_auto_kv_fp8: bool = False
    # v1/kv_cache_interface.py SlidingWindowSpec / ChunkedLocalAttentionSpec
    # max_admission_blocks_per_request, which max_memory_usage_bytes (the start check, the estimated
    # max_model_len, "Maximum concurrency") divides by the page: the window (or chunk) plus
    # max_num_batched_tokens up to 0.25.0; plus VllmConfig.max_in_flight_tokens =
    # max_concurrent_batches x max_num_batched_tokens from 0.26.0 (config/vllm.py@v0.26.0; see
    # in_flight_batches).
    windows_reserve_in_flight: bool = False
    # config/vllm.py VllmConfig.__post_init__, async_scheduling left unset: the speculative methods
    # under which a plain start keeps async scheduling on (EagleModelTypes, MTP included, and
    # NgramGPUTypes, "dspark"; "draft_model" from 0.28.0, "dflash" named from 0.31.0). Only the
    # methods vram sizes are listed. From 0.33.0 the check applies to the V1 model runner only and
    # lists "draft_model" and "dflash" too.
    async_spec_methods: frozenset[str] = frozenset({"eagle", "eagle3", "mtp", "dflash"})
    # v1/worker/gpu_worker.py load_model: from 0.21.0 the weights are loaded under
    # _scoped_allocator_max_split(max_split_size_mb=20) ("20 MiB is the minimum PyTorch allows");
    # PyTorch's caching allocator never splits a block for a request of max_split_size or more
    # (c10/cuda/CUDACachingAllocator.cpp should_split), so such a tensor keeps its whole cudaMalloc
    # segment, rounded up to 2 MiB, and memory_allocated ("Model loading took") counts all of it.
    # None up to 0.20.0 (no limit).
    load_max_split_bytes: int | None = None
    dflash_layers: DflashLayers = "none"
    # config/vllm.py use_v2_model_runner: a DFlash drafter that mixes sliding and full layers
    # (_dflash_needs_multi_kv_group, "Mixed sliding/full DFlash drafts need multiple KV groups (V2
    # only)") starts the V2 model runner whatever the target, from 0.26.0; 0.29.0+ also list it
    # among the features V1 lacks.
    v2_for_mixed_dflash: bool = False
    # EAGLE, EAGLE-3 and draft-model drafters, as vram has read them from 0.20.0
    # (model_executor/models/llama_eagle.py, llama_eagle3.py, v1/spec_decode/draft_model.py).
    reads_eagle_and_draft_models: bool = False
    # v1/worker/gpu_model_runner.py _get_eagle3_aux_layers_from_config: from 0.22.0 (.. 0.33.0) the
    # runner asks the target for the hidden state after layer ``id + 1`` of each DFlash
    # ``target_layer_ids`` entry; up to 0.21 after layer ``id``.
    dflash_layer_id_shift: int = 0
    # config/speculative.py@v0.20.0: SpeculativeConfig starts EAGLE-3 and DFlash only for targets
    # whose text model_type contains one of these ("laguna" added @v0.21.0); None from 0.22.0, where
    # the check is the target class's SupportsEagle3 interface at load time.
    aux_hidden_state_target_types: tuple[str, ...] | None = _AUX_HIDDEN_STATE_TYPES
    # model_executor/models/llama_eagle3.py: the ``fc`` takes 3 target hidden states up to 0.21.0
    # whatever the config says; from 0.22.0 the count num_aux_hidden_states /
    # eagle_config.eagle_aux_hidden_state_layer_ids give, with a per-tap ``fc_norm`` when configured.
    eagle3_taps_from_config: bool = False
    # llama_eagle3.py: ``draft_id_to_target_id`` is built always up to 0.29.0, from 0.30.0 only when
    # the draft vocabulary is not the target's.
    eagle3_d2t_only_when_smaller: bool = False
    # model_executor/models/qwen3_eagle3.py (0.24.0 .. 0.33.0): EAGLE-3 heads of Qwen3 layers
    # (Eagle3Qwen3ForCausalLM in the registry; speculators configs of Qwen3 layers built as one).
    eagle3_qwen3_layers: bool = False
    # v1/spec_decode/llm_base_proposer.py@v0.20.0 _raise_if_multimodal: a draft model beside a
    # multimodal target "does not support multimodal models yet" (0.20.0 only; 0.21.0 warns).
    draft_model_refuses_multimodal: bool = False
    # v1/kv_cache_interface.py@v0.28.0: SlidingWindowSpec keeps ``extra_retained_tokens`` below the
    # window from 0.28.0 (0.27.1 has no such field).
    sliding_extra_retained_tokens: bool = False
    # What ``--quantization`` makes of a float checkpoint for every linear layer: fp8; bitsandbytes'
    # in-flight 4-bit up to 0.27.0 (gone from model_executor/layers/quantization/__init__.py@v0.28.0);
    # MXFP4 from 0.28.0 (online/mxfp4.py@v0.28.0).
    online_quant_formats: tuple[str, ...] = ("fp8", "nf4")
    # bitsandbytes, in-flight and pre-quantized (NF4, int8), up to 0.27.x: the method is gone from
    # QuantizationMethods (model_executor/layers/quantization/__init__.py@v0.28.0), so from 0.28.0
    # ModelConfig refuses a bitsandbytes checkpoint and --quantization bitsandbytes alike.
    bitsandbytes: bool = True
    # GGUF checkpoints (model_executor/model_loader/gguf_loader.py and layers/quantization/gguf.py, and
    # "gguf" in QuantizationMethods) up to 0.23.x; all three are gone from the 0.24.0 wheel (and from
    # 0.27.1, 0.30.0, 0.32.0, 0.33.0, 0.34.0).
    gguf: bool = True
    # config/model.py _get_and_verify_max_len: from 0.30.0 yarn, deepseek_yarn and
    # deepseek_llama_scaling leave max_position_embeddings as given (before: yarn original x factor).
    yarn_positions_as_given: bool = False
    # quantization/auto_gptq.py from 0.22.0: every GPTQ checkpoint goes to AutoGPTQConfig, whose
    # TYPE_MAP takes 4- and 8-bit symmetric weights only ("Unsupported quantization config"); up to
    # 0.21 GPTQConfig (quantization/gptq.py) also served 2/3-bit and asymmetric ones.
    gptq_symmetric_4_8_only: bool = False
    # A multimodal prefix LM's default max_num_batched_tokens raised to its largest item
    # (engine/arg_utils.py _get_min_mm_batched_tokens, "Raising max_num_batched_tokens ... to
    # accommodate"): from 0.22.0 (not in the 0.20.0 and 0.21.0 wheels).
    raises_prefix_lm_batch: bool = False
    # GPTQ activation order (desc_act with groups): up to 0.29.0 each GPTQ linear registers an int32
    # ``g_idx`` and its kernel takes ``has_g_idx`` (quantization/gptq_marlin.py@v0.19.0,
    # auto_gptq.py@v0.29.0); from 0.30.0 there is no g_idx parameter and
    # utils/gptq_utils.py normalize_and_validate_gptq_desc_act raises "GPTQ group activation
    # ordering (desc_act=True) is no longer supported" (0.30.0, 0.31.0, 0.33.0 and 0.34.0 wheels).
    gptq_act_order: bool = True
    # AllSparkLinearKernel in the CUDA mixed-precision kernel list (kernels/linear/__init__.py):
    # there up to 0.30.0, gone from 0.31.0 (wheels read: 0.19.0, 0.27.1-0.31.0, 0.33.0).
    allspark_kernel: bool = True
    # The least hybrid block alignment of an MLA model under "backend" alignment: the MLA backends'
    # smallest kernel block (64), at least 128 for hybrid MLA models from 0.27.0
    # (platforms/interface.py _align_hybrid_block_size).
    hybrid_mla_alignment: int = 64
    # v1/core/kv_cache_utils.py update_kv_cache_capacity: from 0.30.0 the capacity line names the
    # device type ("GPU" for CUDA and ROCm, "XPU" for Intel); "GPU" always before.
    capacity_names_device: bool = False
    # config/cache.py CacheDType: int8_per_token_head from 0.20.0 (served by the Triton backend on
    # any GPU, v1/attention/backends/triton_attn.py@v0.20.0); none in 0.19.0.
    has_int8_per_token_head_kv: bool = False
    nvfp4_kv: Nvfp4Kv = "none"
    # Default gpu_memory_utilization when the extensible KV cache is off (kv_sizing "extensible"
    # only): CacheConfig.DEFAULT_GPU_MEMORY_UTILIZATION = 0.92, which resolved_gpu_memory_utilization
    # returns when enable_extensible_kv_cache is False (config/cache.py@v0.34.0). None elsewhere.
    fallback_gpu_memory_utilization: float | None = None
    # The extensible KV cache's margin (v1/worker/extensible_kv_cache.py@v0.34.0):
    # KV_CACHE_MARGIN_FLOOR_BYTES = 1 GiB on CUDA (3 GiB on ROCm), KV_CACHE_MARGIN_FRACTION = 0.75; the
    # margin is max(floor, int(0.75 x transient peak)) (measure_kv_cache_bytes). 0 where not extensible.
    kv_margin_floor_bytes: int = 0
    kv_margin_floor_bytes_rocm: int = 0
    kv_margin_fraction: float = 0.0
    # The commit granule of the extensible KV cache: the driver's VMM granularity, floored at 2 MiB
    # (utils/extensible_tensor.py@v0.34.0 granule_size, _MIN_GRANULARITY; CUDA's minimum granularity is
    # 2 MiB). Each per-layer segment of the cache is padded to it (pad_kv_cache_segments) and its
    # committed prefix rounded up to it (ExtensibleKVCache.physical_bytes_for). 0 where not extensible.
    kv_commit_granule_bytes: int = 0
    # config/vllm.py@v0.34.0 _split_cudagraph_capture_sizes: on data-centre Blackwell (SM100) the
    # capture sizes no longer come from the shared token list; prefill graphs take
    # prefill_cudagraph_capture_grid(min(8192, max_num_batched_tokens)) and decode graphs
    # decode_cudagraph_capture_grid(max_num_seqs) request counts (config/compilation.py@v0.34.0),
    # within max_decode_cudagraph_capture_tokens = 8192.
    cudagraph_split_grids_sm100: bool = False


_V019 = VllmProfile(
    version="0.19",
    all_mode_counts_speculative_pages=False,
    fit_error_names_cpu_backend=False,
    gpu_memory_utilization=0.9,
    default_block_size=16,
    cuda_graph_accounting="opt_in",
    non_kv_accounting="torch_peak",
    breakdown_log="debug",
    breakdown_splits_weights=True,
    kv_tokens_report="blocks",
    concurrency_rounding="pooled",
    capacity_one_line=False,
    fit_check_reserves_null_block=False,
    start_check_need="layer_bytes",
    batch_tiers=(_H100, _SMALL),
    hybrid_alignment="fixed",
    has_nvfp4_ds_mla=False,
    kv_sizing="profiled",
    cudagraph_capture_cap_sm100=512,
    hybrid_prefix_caching_default=False,
    prefill_checkpoint_mixers=frozenset(),
    prefix_caching_mamba_mode="all_if_supported",
    model_runner="v1",
    v2_sampler_warmup_pass=False,
)


def _next(prev: VllmProfile, version: VllmVersion, **changes: object) -> VllmProfile:
    return prev.model_copy(update={"version": version, **changes})


_V020 = _next(
    _V019,
    "0.20",
    gpu_memory_utilization=0.92,
    cuda_graph_accounting="subtracted",
    hybrid_alignment="backend",
    dsv4_planner="tuples",
    dflash_layers="all_full",
    reads_eagle_and_draft_models=True,
    draft_model_refuses_multimodal=True,
    has_int8_per_token_head_kv=True,
    nvfp4_kv="unimplemented",
    start_check_need="multi_group_blocks",
)
_V021 = _next(
    _V020,
    "0.21",
    kv_tokens_report="concurrency",
    load_max_split_bytes=20 * MiB,
    aux_hidden_state_target_types=(*_AUX_HIDDEN_STATE_TYPES, "laguna"),
    draft_model_refuses_multimodal=False,
    nvfp4_kv="sm100",
)
_V022 = _next(
    _V021,
    "0.22",
    gptq_symmetric_4_8_only=True,
    raises_prefix_lm_batch=True,
    all_mode_counts_speculative_pages=True,
    fit_error_names_cpu_backend=True,
    model_runner="v2_listed_unquantized",
    v2_default_architectures=frozenset({"Qwen3ForCausalLM"}),
    v2_spec_methods=frozenset({"eagle", "eagle3", "mtp"}),
    dflash_layer_id_shift=1,
    v2_sampler_fp32_copy=True,
    aux_hidden_state_target_types=None,
    eagle3_taps_from_config=True,
)
_V023 = _next(
    _V022,
    "0.23",
    dsv4_planner="slots",
    v2_default_architectures=frozenset({"LlamaForCausalLM", "MistralForCausalLM", "Qwen3ForCausalLM"}),
)
_V024 = _next(
    _V023,
    "0.24",
    model_runner="v2_listed",
    eagle3_qwen3_layers=True,
    v2_spec_methods=_V023.v2_spec_methods | {"dflash"},
    v2_default_architectures=_V023.v2_default_architectures
    | {"DeepseekV2ForCausalLM", "Qwen2MoeForCausalLM", "GraniteMoeForCausalLM"},
    dsv4_shared_expert_block_padding=True,
    gguf=False,
)
_V025 = _next(
    _V024,
    "0.25",
    model_runner="v2_dense",
    dflash_layers="unread",
    v2_default_architectures=frozenset({"DeepseekV2ForCausalLM", "Qwen2MoeForCausalLM", "GraniteMoeForCausalLM"}),
)
_V026 = _next(
    _V025,
    "0.26",
    windows_reserve_in_flight=True,
    dflash_layers="layer_types",
    v2_for_mixed_dflash=True,
    breakdown_log="info",
    v2_sampler_fp32_copy=False,
    hybrid_prefix_caching_default=True,
    v2_default_architectures=_V025.v2_default_architectures
    | {"InklingForCausalLM", "InklingForConditionalGeneration", "LongcatFlashNgramForCausalLM"},
)
_V027 = _next(
    _V026,
    "0.27",
    dsv4_planner="unpadded",
    non_kv_accounting="consumed",
    breakdown_splits_weights=False,
    concurrency_rounding="per_group",
    model_runner="v2_dense_or_listed",
    hybrid_mla_alignment=128,
    v2_default_architectures=_V026.v2_default_architectures | {"KimiK3ForConditionalGeneration"},
)
_V028 = _next(
    _V027,
    "0.28",
    async_spec_methods=_V027.async_spec_methods | {"draft_model"},
    batch_tiers=(_B200, _H100, _SMALL),
    cudagraph_capture_cap_sm100=1024,
    prefix_caching_mamba_mode="align",
    capacity_one_line=True,
    sliding_extra_retained_tokens=True,
    online_quant_formats=("fp8", "mxfp4"),
    bitsandbytes=False,
    v2_default_architectures=_V027.v2_default_architectures | {"DeepseekV4ForCausalLM"},
)
_V029 = _next(
    _V028,
    "0.29",
    model_runner="v2",
    v2_profiles_cuda_graphs=True,
    dsv4_planner="packed",
    fit_check_reserves_null_block=True,
    start_check_need="group_blocks",
    fp8_moe_block_refine=True,
)
_V030 = _next(
    _V029,
    "0.30",
    yarn_positions_as_given=True,
    has_nvfp4_ds_mla=True,
    dsv4_auto_kv_fp8=True,
    eagle3_d2t_only_when_smaller=True,
    capacity_names_device=True,
    gptq_act_order=False,
)
_V031 = _next(_V030, "0.31", allspark_kernel=False)
_V032 = _next(
    _V031, "0.32", hybrid_alignment="backend_lcm", prefill_checkpoint_mixers=frozenset({"mamba2"}), nvfp4_kv="fa2"
)
# engine/arg_utils.py@v0.33.0: "GB10 (DGX Spark, cc 12.1) has the memory but not the compute of a
# large discrete GPU, keep it on the small tier".
_V033 = _next(
    _V032,
    "0.33",
    batch_tiers=(_B200, _H100.model_copy(update={"excludes_gb10": True}), _SMALL),
    v2_sampler_warmup_pass=True,
    prefill_checkpoint_mixers=frozenset({"mamba2", "qwen_gdn_flashinfer"}),
    v2_spec_methods=_V032.v2_spec_methods | {"draft_model"},
)
_V034 = _next(
    _V033,
    "0.34",
    gpu_memory_utilization=1.0,
    fallback_gpu_memory_utilization=0.92,
    default_block_size=64,
    kv_sizing="extensible",
    kv_margin_floor_bytes=GiB,
    kv_margin_floor_bytes_rocm=3 * GiB,
    kv_margin_fraction=0.75,
    kv_commit_granule_bytes=2 * MiB,
    cudagraph_split_grids_sm100=True,
    model_runner="v2_only",
)

PROFILES: dict[str, VllmProfile] = {
    p.version: p
    for p in (
        _V019,
        _V020,
        _V021,
        _V022,
        _V023,
        _V024,
        _V025,
        _V026,
        _V027,
        _V028,
        _V029,
        _V030,
        _V031,
        _V032,
        _V033,
        _V034,
    )
}
NEWEST: VllmVersion = "0.34"


def release_of(version: str) -> tuple[int, int]:
    """(major, minor) of a release as given ("0.24", "v0.24.0", "0.29.1rc1.dev339+g..."), read as
    a PEP 440 version (vLLM's own version strings are)."""
    try:
        release = Version(version.strip().lstrip("~")).release
    except InvalidVersion as err:
        raise InputError(f'unknown vLLM version "{version}"; give it as 0.24 or v0.24.0') from err
    return release[0], release[1] if len(release) > 1 else 0


def patch_of(version: str) -> int:
    """The patch number of a release as given ("0.31.1" 1, "0.31" and "v0.31.0" 0): the minor
    release's profile sizes it (patch releases change no memory accounting vram follows)."""
    try:
        release = Version(version.strip().lstrip("~")).release
    except InvalidVersion as err:
        raise InputError(f'unknown vLLM version "{version}"; give it as 0.24 or v0.24.0') from err
    return release[2] if len(release) > 2 else 0


# The longest build string kept (vLLM's own are about 30 characters: 0.33.1rc1.dev50+g554340f3d).
MAX_VERSION_CHARS = 100


def version_text(version: str) -> str:
    """A release as vram keeps it: "0.33" for 0.33.0, "0.31.1" for a patch release, else the whole
    PEP 440 normal form of a build ("0.33.1rc1.dev50+g554340f3d", "0.30.0.post1")."""
    try:
        parsed = Version(version.strip().lstrip("~"))
    except InvalidVersion as err:
        raise InputError(f'unknown vLLM version "{version}"; give it as 0.24 or v0.24.0') from err
    if parsed.epoch or len(parsed.release) > 3 or len(str(parsed)) > MAX_VERSION_CHARS:
        raise InputError(f'unknown vLLM version "{version[:40]}"; give it as 0.24 or v0.24.0')
    major, minor = release_of(version)
    if parsed.pre is not None or parsed.dev is not None or parsed.post is not None or parsed.local is not None:
        return str(parsed)
    patch = patch_of(version)
    return f"{major}.{minor}.{patch}" if patch else f"{major}.{minor}"


def built_after_release(version: str) -> bool:
    """Whether ``version`` is a pre-release or development build numbered past its minor's .0
    ("0.33.1rc1.dev50": a main-branch build after the v0.33.0 tag, which may already carry the next
    minor's changes), as setuptools-scm numbers vLLM's builds."""
    parsed = Version(version.strip().lstrip("~"))
    if parsed.pre is None and parsed.dev is None:
        return False
    release = (*parsed.release, 0, 0)[:3]
    return release > (release[0], release[1], 0)


def profile_for(version: str) -> tuple[VllmProfile, str | None]:
    """The profile of a release ("0.24", "v0.24.0", "0.29.1rc1.dev339+g..."), and a warning when
    the release is not profiled and the nearest profiled one stands in for it."""
    major, minor = release_of(version)
    key = f"{major}.{minor}"
    if key in PROFILES:
        return PROFILES[key], None
    profiled = sorted(release_of(v) for v in PROFILES)
    nearest = min(profiled, key=lambda mm: (abs((mm[0] - major) * 1000 + mm[1] - minor), -mm[1]))
    chosen = PROFILES[f"{nearest[0]}.{nearest[1]}"]
    return chosen, (f"vLLM {key} is not profiled; using the nearest profiled release, {chosen.version}")


def serves_on_v2_runner(
    profile: VllmProfile,
    architectures: tuple[str, ...],
    *,
    moe: bool,
    hybrid: bool,
    attention_free: bool,
    quantized: bool,
    speculative_method: str | None = None,
    mixed_dflash: bool = False,
) -> bool:
    """Whether a plain ``vllm serve`` of this release runs the model on the V2 model runner
    (config/vllm.py ``_is_default_v2_model_runner_model``; generative models, and no feature V2
    lacks: of those vram sizes, a speculative method outside ``profile.v2_spec_methods``).
    ``mixed_dflash``: a DFlash drafter mixing sliding and full layers, which forces V2 from 0.26."""
    runner = profile.model_runner
    if runner == "v2_only":
        return True
    if mixed_dflash and profile.v2_for_mixed_dflash:
        return True
    if speculative_method is not None and speculative_method not in profile.v2_spec_methods:
        return False
    if runner == "v2":
        return True
    listed = any(arch in profile.v2_default_architectures for arch in architectures)
    if runner == "v2_listed_unquantized":
        return listed and not moe and not quantized
    if runner == "v2_listed":
        return listed
    if runner == "v2_dense":
        if attention_free or hybrid:
            return False
        return listed or not moe
    if runner == "v2_dense_or_listed":
        if attention_free or (hybrid and not listed):
            return False
        return listed or not moe
    return False


def cuda_graph_estimate_taken(profile: VllmProfile, *, on_v2_runner: bool) -> bool:
    """Whether the CUDA-graph estimate leaves the pool: the release subtracts it (0.20+) and the
    runner measures one (the V2 runner's profile_cudagraph_memory returns 0 up to 0.28)."""
    if profile.cuda_graph_accounting != "subtracted":
        return False
    return profile.v2_profiles_cuda_graphs or not on_v2_runner


# ---------------------------------------------------------------------------------------------
# Defaults


def batch_defaults(
    profile: VllmProfile,
    device_memory_bytes: int,
    device_name: str,
    usage: UsageContext = "openai_api_server",
    is_gb10: bool = False,
) -> tuple[int, int]:
    """(max_num_batched_tokens, max_num_seqs) as ``get_batch_defaults`` picks them.

    ``device_memory_bytes`` is what ``torch.cuda.get_device_properties().total_memory`` reports.
    """
    name = device_name.lower()
    for tier in profile.batch_tiers:
        if device_memory_bytes < tier.min_memory_bytes:
            continue
        if tier.excludes_a100 and "a100" in name:
            continue
        if tier.excludes_gb10 and is_gb10:
            continue
        tokens = tier.server_batched_tokens if usage == "openai_api_server" else tier.offline_batched_tokens
        return tokens, tier.max_num_seqs
    raise AssertionError("the last tier has no memory floor")


def cudagraph_capture_sizes(
    profile: VllmProfile,
    max_num_seqs: int,
    max_num_batched_tokens: int,
    num_speculative_tokens: int = 0,
    sm100: bool = False,
) -> list[int]:
    """The default CUDA-graph capture sizes (config/vllm.py): 1, 2, 4, every 8 below 256, then
    every 16 up to the largest size; the largest is min(max_num_seqs x decode query length x 2,
    512 or the SM100 cap) and at most max_num_batched_tokens. The graph-memory estimate grows with
    their number ("Profiling CUDA graph memory: PIECEWISE=N (largest=L), FULL=M (largest=K)")."""
    cap = profile.cudagraph_capture_cap_sm100 if sm100 else 512
    largest = min(max_num_seqs * (1 + num_speculative_tokens) * 2, cap, max_num_batched_tokens)
    sizes = [1, 2, 4, *range(8, 256, 8), *range(256, largest + 1, 16)]
    return [s for s in sizes if s <= largest]


def backend_block_size(profile: VllmProfile, kernel_block_sizes: Sequence[int]) -> int:
    """The cache block size when ``--block-size`` is not given (platforms/interface.py
    ``update_block_size_for_backend``, v1/attention/backend.py ``get_preferred_block_size``): the
    release default when it is a multiple of one of the backend's kernel block sizes, else the
    smallest of those ("Setting kv cache block size to 64 for DEEPSEEK_V32_INDEXER backend.").
    FlashAttention takes multiples of 16; FlashMLA and the DSA indexer 64;
    FLASHINFER_MLA_SPARSE 32 or 64."""
    default = profile.default_block_size
    if not kernel_block_sizes or any(default % size == 0 for size in kernel_block_sizes):
        return default
    return min(kernel_block_sizes)


# ---------------------------------------------------------------------------------------------
# The KV budget


def available_kv_cache_bytes(
    profile: VllmProfile,
    requested_bytes: int,
    non_kv_bytes: int,
    cuda_graph_estimate_bytes: int,
    estimate_cudagraphs: bool | None = None,
    *,
    extensible_off: bool = False,
) -> int:
    """``requested - non-KV - applied CUDA-graph estimate`` (determine_available_memory).

    ``estimate_cudagraphs`` is VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS when the user set it;
    None takes the release's default. With ``enforce_eager`` the estimate is 0. A release with the
    extensible KV cache sizes it this way only where that cache is off (``extensible_off``:
    kv_cache_memory_bytes or num_gpu_blocks_override set, a platform other than CUDA / ROCm, no VMM
    in the driver, some KV connectors; config/vllm.py@v0.34.0 _resolve_extensible_kv_cache).
    """
    if profile.kv_sizing == "extensible" and not extensible_off:
        raise InputError(
            f"vLLM {profile.version} sizes an extensible KV cache after CUDA-graph "
            "capture; the profiled budget does not apply"
        )
    applied = profile.cuda_graph_accounting == "subtracted" if estimate_cudagraphs is None else estimate_cudagraphs
    return int(requested_bytes - non_kv_bytes - (cuda_graph_estimate_bytes if applied else 0))


def default_utilization(profile: VllmProfile, *, extensible: bool) -> float:
    """gpu_memory_utilization left unset (``resolved_gpu_memory_utilization``, config/cache.py@v0.34.0):
    1.0 with the extensible KV cache, 0.92 where a release that has it runs without it; the release's
    one default before 0.34."""
    if not extensible and profile.fallback_gpu_memory_utilization is not None:
        return profile.fallback_gpu_memory_utilization
    return profile.gpu_memory_utilization


def extensible_margin_bytes(profile: VllmProfile, transient_peak_bytes: int, *, rocm: bool = False) -> int:
    """The margin the extensible KV cache keeps free beyond the transient peak
    (v1/worker/extensible_kv_cache.py@v0.34.0 measure_kv_cache_bytes):
    ``max(KV_CACHE_MARGIN_FLOOR_BYTES, int(transient peak x KV_CACHE_MARGIN_FRACTION))``."""
    floor = profile.kv_margin_floor_bytes_rocm if rocm else profile.kv_margin_floor_bytes
    return max(floor, int(transient_peak_bytes * profile.kv_margin_fraction))


def extensible_kv_cache_bytes(
    profile: VllmProfile,
    *,
    requested_bytes: int,
    device_bytes: int,
    outside_bytes: int,
    resident_non_kv_bytes: int,
    transient_peak_bytes: int,
    torch_reserve_growth_bytes: int | None = None,
    rocm: bool = False,
) -> int:
    """The bytes the extensible KV cache may occupy, as ``measure_kv_cache_bytes``
    (v1/worker/extensible_kv_cache.py@v0.34.0) works them out after warm-up and CUDA-graph capture.

    vLLM measures free memory then; here it is written from what holds the device:
    ``outside_bytes`` was in use before vLLM's start-up snapshot (the CUDA context), and
    ``resident_non_kv_bytes`` is what the engine holds after capture beside the KV prefix it committed
    (weights, non-torch memory, CUDA graphs, persistent runner buffers: ``non_kv_used``). So the
    headroom (free + committed) is ``device - outside - resident``, and the cache gets
    ``min(requested - resident, headroom - margin) - max(transient peak, torch reserve growth)``,
    at least 0. ``torch_reserve_growth_bytes`` None takes it as the transient peak (no fragmentation
    beyond it)."""
    margin = extensible_margin_bytes(profile, transient_peak_bytes, rocm=rocm)
    headroom = device_bytes - outside_bytes - resident_non_kv_bytes
    available = min(requested_bytes - resident_non_kv_bytes, headroom - margin)
    growth = transient_peak_bytes if torch_reserve_growth_bytes is None else torch_reserve_growth_bytes
    available -= max(transient_peak_bytes, growth)
    return max(available, 0)


def committed_bytes(segment_strides: Sequence[int], granule_bytes: int, num_blocks: int) -> int:
    """Physical bytes a commit of ``num_blocks`` maps: each segment's prefix rounded up to the granule
    (ExtensibleKVCache.physical_bytes_for, v1/worker/extensible_kv_cache.py@v0.34.0)."""
    return sum(-(-num_blocks * stride // granule_bytes) * granule_bytes for stride in segment_strides)


def committable_blocks(pool_bytes: int, segment_strides: Sequence[int], granule_bytes: int, capacity: int) -> int:
    """The most blocks whose physical footprint fits ``pool_bytes``, at most ``capacity``
    (ExtensibleKVCache.blocks_within: ``min(bytes // bytes_per_block, capacity)``, lowered while the
    granule-rounded commit exceeds the bytes). A bisection finds the same count as vLLM's loop."""
    per_block = sum(segment_strides)
    high = max(min(pool_bytes // per_block, capacity), 0)
    low = 0
    while low < high:
        mid = (low + high + 1) // 2
        if committed_bytes(segment_strides, granule_bytes, mid) <= pool_bytes:
            low = mid
        else:
            high = mid - 1
    return low


def extensible_fit_hint(profile: VllmProfile, utilization: float, *, after_warmup: bool) -> str:
    """How vLLM 0.34 tells the user to make room (v1/core/kv_cache_planning.py@v0.34.0
    _more_kv_cache_memory_hint, extensible KV cache on)."""
    used_by = "the model, its activations, CUDA graphs and warmup" if after_warmup else "the model and its activations"
    graphs = (
        " CUDA graphs take less with fewer or smaller capture sizes in the compilation config." if after_warmup else ""
    )
    if utilization < 1.0:
        return (
            f"The KV cache gets what is left after {used_by} within `gpu_memory_utilization`={utilization}; "
            "increase it (with the extensible KV cache it defaults to 1.0) or decrease `max_model_len` or "
            f"`max_num_seqs`.{graphs}"
        )
    return (
        f"The extensible KV cache already takes all device memory left after {used_by}; decrease "
        f"`max_model_len` or `max_num_seqs`, or the model needs a device with more memory.{graphs}"
    )


def _walk_grid(limit: int, step: Callable[[int], float]) -> list[int]:
    """Sizes 1, ..., ``limit``, each the next multiple of the largest power of two not above
    ``step(size)`` (config/compilation.py@v0.34.0 _walk_grid)."""
    grid, size = [], 1
    while size < limit:
        grid.append(size)
        stride = 1 << max(0, math.floor(math.log2(max(1.0, step(size)))))
        size = (size // stride + 1) * stride
    return [*grid, limit] if limit else []


def prefill_capture_grid(max_tokens: int) -> list[int]:
    """config/compilation.py@v0.34.0 prefill_cudagraph_capture_grid (no dense head): 1, 2, 4, every 8
    up to 64, four sizes per doubling up to 1024, then every 256 and every 512 (54 sizes at 8192)."""
    return _walk_grid(max_tokens, lambda t: min(t, max(8, t / 4), 0.07 * max(t, 4096)))


def decode_capture_grid(max_requests: int) -> list[int]:
    """config/compilation.py@v0.34.0 decode_cudagraph_capture_grid: every count up to 6, then steps of
    the largest power of two not above 0.65 x n^(2/3) (64 sizes at 1024)."""
    return _walk_grid(max_requests, lambda n: 0.65 * n ** (2 / 3))


def format_gib(n_bytes: int) -> str:
    """vLLM's ``format_gib`` (utils/mem_utils.py): ``round(b / GiB, 2)`` printed by Python."""
    return f"{round(n_bytes / GiB, 2)}"


def cuda_graph_utilization_advice(
    gpu_memory_utilization: float, cuda_graph_estimate_bytes: int, total_memory_bytes: int
) -> tuple[float, float]:
    """(equivalent util without CUDA-graph profiling, suggested util) as the 0.20+ log prints them:
    ``round(util -/+ estimate / total, 4)``, the suggestion capped at 1.0."""
    delta = cuda_graph_estimate_bytes / total_memory_bytes
    return round(gpu_memory_utilization - delta, 4), min(round(gpu_memory_utilization + delta, 4), 1.0)


# ---------------------------------------------------------------------------------------------
# Mamba / linear-attention state pages (model_executor/layers/mamba/mamba_utils.py, unchanged in
# its formulas from 0.19.0 to 0.33.0 except where noted). Each returns bytes per request per layer.


def extra_groups_for_head_shards(n_groups: int, tp: int) -> int:
    """Groups added so every head shard carries its groups (MambaStateShapeCalculator)."""
    return 0 if n_groups % tp == 0 else tp - n_groups


def mamba2_state_bytes(
    tp: int,
    intermediate_size: int,
    n_groups: int,
    num_heads: int,
    head_dim: int,
    state_size: int,
    conv_kernel: int,
    conv_dtype_bytes: int,
    ssm_dtype_bytes: int,
    num_spec: int = 0,
) -> int:
    """Mamba-2 (Nemotron-H, Granite-4, Falcon-H1, Bamba): conv (conv_dim/tp, kernel-1+spec) plus
    SSM state (heads/tp, head_dim, state_size)."""
    groups = n_groups + extra_groups_for_head_shards(n_groups, tp)
    conv = (intermediate_size + 2 * groups * state_size) // tp * (conv_kernel - 1 + num_spec)
    ssm = num_heads // tp * head_dim * state_size
    return conv * conv_dtype_bytes + ssm * ssm_dtype_bytes


def mamba1_state_bytes(
    tp: int, intermediate_size: int, state_size: int, conv_kernel: int, conv_dtype_bytes: int, ssm_dtype_bytes: int
) -> int:
    """Mamba-1 (Jamba): conv (inner/tp, kernel-1) plus SSM (inner/tp, state_size)."""
    inner = intermediate_size // tp
    return inner * (conv_kernel - 1) * conv_dtype_bytes + inner * state_size * ssm_dtype_bytes


def gated_delta_net_state_bytes(
    tp: int,
    num_k_heads: int,
    num_v_heads: int,
    head_k_dim: int,
    head_v_dim: int,
    conv_kernel: int,
    conv_dtype_bytes: int,
    ssm_dtype_bytes: int,
    num_spec: int = 0,
) -> int:
    """Gated DeltaNet (Qwen3-Next, Qwen3.5/3.6): conv over q, k, v (2 k-dims + v-dim) plus the
    recurrent state (v_heads/tp, head_v_dim, head_k_dim). With mamba_ssm_cache_dtype "auto" both
    use the KV-cache dtype (gated_delta_net_state_dtype)."""
    conv_dim = head_k_dim * num_k_heads * 2 + head_v_dim * num_v_heads
    conv = conv_dim // tp * (conv_kernel - 1 + num_spec)
    ssm = num_v_heads // tp * head_v_dim * head_k_dim
    return conv * conv_dtype_bytes + ssm * ssm_dtype_bytes


def kda_state_bytes(
    tp: int,
    num_heads: int,
    head_dim: int,
    conv_kernel: int,
    conv_dtype_bytes: int,
    ssm_dtype_bytes: int = 4,
    num_spec: int = 0,
) -> int:
    """Kimi Delta Attention (Kimi-Linear): conv over q, k, v plus an fp32 recurrent state
    (heads/tp, head_dim, head_dim); kda_state_dtype keeps fp32 under "auto"."""
    conv = 3 * num_heads * head_dim // tp * (conv_kernel - 1 + num_spec)
    return conv * conv_dtype_bytes + num_heads // tp * head_dim * head_dim * ssm_dtype_bytes


def short_conv_state_bytes(
    tp: int, intermediate_size: int, conv_kernel: int, dtype_bytes: int, num_spec: int = 0
) -> int:
    """Short convolution (LFM2): one conv state (inner/tp, kernel-1+spec)."""
    return intermediate_size // tp * (conv_kernel - 1 + num_spec) * dtype_bytes


def linear_attention_state_bytes(tp: int, num_heads: int, head_dim: int, dtype_bytes: int) -> int:
    """Lightning / linear attention (MiniMax-Text-01): one (heads/tp, head_dim, head_dim) state."""
    return num_heads // tp * head_dim * head_dim * dtype_bytes


# ---------------------------------------------------------------------------------------------
# Hybrid page alignment


class HybridPages(_Frozen):
    """What ``_align_hybrid_block_size`` settles: the attention block size and the page size all
    KV-cache groups share (the Mamba page padded up to it)."""

    block_size: int
    page_bytes: int
    mamba_padding_pct: float  # printed as "Padding mamba page size by %.2f%%"
    raised: bool  # True when "Setting attention block size to N tokens" is logged


def hybrid_attention_pages(
    mamba_page_bytes: int,
    attn_bytes_per_token: int,
    alignment: int,
    block_size: int,
    backend_lcm: int = 1,
    mamba_chunk_size: int | None = None,
) -> HybridPages:
    """The attention block size that makes one attention page at least one Mamba page.

    ``attn_block = alignment x cdiv(mamba_page, alignment x attn_bytes_per_token)``, rounded up to
    ``backend_lcm`` (0.32+); the configured block size is raised to it when smaller, and the Mamba
    page is padded to ``block_size x attn_bytes_per_token``. ``alignment`` is 16 for FlashAttention
    / FlashInfer / Triton (64 MLA, 128 CUTLASS MLA) in 0.19; from 0.20 it is
    ``max(backend's smallest kernel block, cache_config.block_size)`` (at least 128 for hybrid MLA
    models from 0.27).

    With ``mamba_cache_mode="all"`` (0.19-0.27) pass ``mamba_chunk_size`` (the Mamba-2 SSD chunk,
    or ``--mamba-block-size``): the block is then the smallest multiple of
    ``lcm(chunk, alignment)`` that holds ``cdiv(mamba_page, attn_bytes_per_token)`` tokens.
    """
    if mamba_chunk_size is not None:
        chunk = math.lcm(mamba_chunk_size, alignment)
        tokens = math.ceil(mamba_page_bytes / attn_bytes_per_token)
        attn_block = chunk * math.ceil(tokens / chunk)
    else:
        attn_block = alignment * math.ceil(mamba_page_bytes / (alignment * attn_bytes_per_token))
    attn_block = backend_lcm * math.ceil(attn_block / backend_lcm)
    raised = block_size < attn_block
    block = attn_block if raised else block_size
    page = block * attn_bytes_per_token
    pct = 100 * (page - mamba_page_bytes) / mamba_page_bytes
    return HybridPages(block_size=block, page_bytes=page, mamba_padding_pct=pct, raised=raised)


def hybrid_group_size(layers_per_type: Sequence[int]) -> int:
    """Layers per KV-cache group (``_get_kv_cache_groups_uniform_page_size``): the fewest layers of
    any type, or the most when max < 1.5 x min (gpt-oss + eagle: 12 sliding + 13 full -> 13)."""
    smallest, largest = min(layers_per_type), max(layers_per_type)
    return largest if largest < smallest * 1.5 else smallest


def hybrid_groups(layers_per_type: Sequence[int]) -> tuple[int, int, int]:
    """(group size, number of groups, padding layers) for the uniform-page layout: each type gets
    ``cdiv(n, group size)`` groups and its last group is padded ("Add N padding layers")."""
    size = hybrid_group_size(layers_per_type)
    groups = sum(math.ceil(n / size) for n in layers_per_type)
    padding = sum((size - n % size) % size for n in layers_per_type)
    return size, groups, padding


# ---------------------------------------------------------------------------------------------
# MLA sparse attention (DeepSeek-V3.2, GLM-5; DSA)

# model_executor/layers/attention/mla_attention.py: ds_mla layouts pack NoPE + RoPE + scales into
# one per-token blob: fp8_ds_mla = 512 fp8 NoPE + 4 fp32 scales (one per 128) + 64 bf16 RoPE = 656;
# nvfp4_ds_mla = 352 (0.30+). FLASHMLA_SPARSE serves any quantized KV dtype as fp8_ds_mla.
DS_MLA_BYTES_PER_TOKEN = {"fp8_ds_mla": 656, "nvfp4_ds_mla": 352}
# models/deepseek_v4/attention.py: DeepSeek-V4 compressed layers, "448B NoPE + 128B RoPE + 8B fp8
# scale = 584B per token" in fp8_ds_mla (576-byte aligned rows).
DSV4_FP8_DS_MLA_BYTES_PER_TOKEN = 584


def mla_bytes_per_token(kv_lora_rank: int, rope_dim: int, cache_dtype: str, dtype_bytes: int) -> int:
    """One MLA layer's cache per token: the latent plus the RoPE key, one head, not split by TP."""
    if cache_dtype in DS_MLA_BYTES_PER_TOKEN:
        return DS_MLA_BYTES_PER_TOKEN[cache_dtype]
    return (kv_lora_rank + rope_dim) * dtype_bytes


def dsa_indexer_bytes_per_token(index_head_dim: int = 128, quant_block_size: int = 128) -> int:
    """The DSA indexer's key cache per token per layer (models/deepseek_v2.py Indexer): fp8 values
    plus one fp32 scale per ``quant_block_size`` values, stored as uint8:
    ``head_dim + head_dim // quant_block_size x 4``."""
    return index_head_dim + index_head_dim // quant_block_size * 4


# ---------------------------------------------------------------------------------------------
# Capacity, concurrency and the fit check


def in_flight_batches(
    profile: VllmProfile, speculative_method: str | None = None, async_scheduling: bool | None = None
) -> int:
    """Batches whose tokens a sliding-window or chunked-local group reserves beyond its window.

    Up to 0.25 one (``max_num_batched_tokens``). From 0.26 ``VllmConfig.max_in_flight_tokens`` /
    ``max_num_batched_tokens`` = ``max_concurrent_batches``: with one pipeline stage (vram refuses
    windows over pipeline stages) 2 when async scheduling is on (either model runner), else 1. A plain
    start turns it on unless the runner is pooling, the executor cannot (the older Ray executor), or
    the speculative method is not one of ``profile.async_spec_methods`` (config/vllm.py@v0.26.0 ...
    @v0.33.0); vram sizes none of those exceptions but the speculative method. ``async_scheduling``
    is the flag when given: asked on, vLLM runs it with every speculative method vram sizes
    (config/vllm.py@v0.27.1 .. @v0.33.0 hard-fail only others); off, one batch.
    """
    if not profile.windows_reserve_in_flight:
        return 1
    if async_scheduling is not None:
        return 2 if async_scheduling else 1
    if speculative_method is not None and speculative_method not in profile.async_spec_methods:
        return 1
    return 2


def blocks_per_request(
    max_model_len: int,
    block_size: int,
    sliding_window: int | None = None,
    max_num_batched_tokens: int = 0,
    mamba: bool = False,
    num_speculative_blocks: int = 0,
    attention_chunk: int | None = None,
) -> int:
    """Blocks one request of ``max_model_len`` takes from one group (``max_memory_usage_bytes``
    / page): full attention ``cdiv(len, block)``; sliding window ``cdiv(min(window - 1 +
    in-flight tokens, len), block) + 1``; chunked-local attention ``cdiv(min(chunk + in-flight
    tokens, len), block)`` (in-flight tokens: ``max_num_batched_tokens`` x :func:`in_flight_batches`,
    given here already multiplied); Mamba (mamba_cache_mode "none") one state plus the speculative
    blocks."""
    if mamba:
        return 1 + num_speculative_blocks
    if attention_chunk is not None:
        return math.ceil(min(attention_chunk + max_num_batched_tokens, max_model_len) / block_size)
    if sliding_window is not None:
        tokens = min(sliding_window - 1 + max_num_batched_tokens, max_model_len)
        return math.ceil(tokens / block_size) + 1
    return math.ceil(max_model_len / block_size)


def mamba_cache_mode(
    profile: VllmProfile, prefix_caching: bool | None = None, supports_all_mode: bool = False
) -> MambaCacheMode:
    """The mamba_cache_mode a start-up ends with: "none" without prefix caching; with it "all" for
    models that support Mamba prefix caching up to 0.27, else "align". Hybrid models start with
    prefix caching on from 0.26 (``hybrid_prefix_caching_default``)."""
    caching = profile.hybrid_prefix_caching_default if prefix_caching is None else prefix_caching
    if not caching:
        return "none"
    if profile.prefix_caching_mamba_mode == "all_if_supported" and supports_all_mode:
        return "all"
    return "align"


def mamba_blocks_per_request(
    profile: VllmProfile,
    mode: MambaCacheMode,
    num_speculative_tokens: int = 0,
    mixers: Sequence[str] = ("mamba2",),
    max_model_len: int = 0,
    block_size: int = 0,
) -> int:
    """State pages one request holds in one Mamba group (``MambaSpec.max_memory_usage_bytes`` /
    page): "none" 1 + speculative; "align" 2 + speculative, plus one prefill-checkpoint page where
    the release's layers of every one of ``mixers`` export it; "all" one page per block of
    ``max_model_len`` (+ speculative from 0.22; 0.19-0.21 counted no speculative pages there)."""
    if mode == "none":
        return 1 + num_speculative_tokens
    if mode == "all":
        spec = num_speculative_tokens if profile.all_mode_counts_speculative_pages else 0
        return math.ceil(max_model_len / block_size) + spec
    exports = bool(mixers) and all(mixer in profile.prefill_checkpoint_mixers for mixer in mixers)
    checkpoint = 1 if exports else 0
    return 2 + num_speculative_tokens + checkpoint


# Token alignment of the prefill checkpoints a mixer declares (get_prefill_checkpoint_alignment):
# FlashInfer's GDN prefill emits states on a 64-token grid (FLASHINFER_GDN_CHECKPOINT_ALIGNMENT,
# layers/mamba/gdn/qwen_gdn_linear_attn.py@v0.33.0, v1/attention/backends/gdn_attn.py@v0.34.0).
# Mamba-2 exports at any token and declares none.
CHECKPOINT_ALIGNMENT: dict[str, int] = {"qwen_gdn_flashinfer": 64}


def prefill_checkpoint_alignment(profile: VllmProfile, mode: MambaCacheMode, mixers: Sequence[str]) -> int | None:
    """The alignment ``_align_hybrid_block_size`` folds into the attention block in "align" mode
    (platforms/interface.py@v0.33.0: ``lcm(kernel alignment, get_mamba_prefill_checkpoint_alignment)``):
    the lcm of the mixers' declared alignments, None unless every one declares one
    (layers/mamba/abstract.py get_mamba_prefill_checkpoint_alignment)."""
    if mode != "align" or not mixers:
        return None
    if not all(mixer in profile.prefill_checkpoint_mixers and mixer in CHECKPOINT_ALIGNMENT for mixer in mixers):
        return None
    return math.lcm(*(CHECKPOINT_ALIGNMENT[mixer] for mixer in mixers))


def max_concurrency(num_blocks: int, group_blocks_per_request: Sequence[int]) -> float:
    """``num_blocks / sum(blocks per request of each group)``, as "Maximum concurrency" prints it.

    For uniform-page groups the pooled (<= 0.26) and per-group (0.27+) roundings agree, because
    each group's need is already a whole number of pages.
    """
    return num_blocks / sum(group_blocks_per_request)


def kv_cache_size_tokens(
    profile: VllmProfile, num_blocks: int, num_groups: int, min_block_size: int, concurrency: float, max_model_len: int
) -> int:
    """The token count of the "GPU KV cache size" line for this release."""
    if profile.kv_tokens_report == "blocks":
        return num_blocks // num_groups * min_block_size
    return int(concurrency * max_model_len)


def estimate_max_model_len(bytes_for_len: Callable[[int], int], available_bytes: int, max_model_len: int) -> int:
    """vLLM's binary search for the longest ``max_model_len`` whose KV need fits (0 if even one
    token does not)."""
    if bytes_for_len(1) > available_bytes:
        return 0
    left, right, best = 1, max_model_len, 1
    while left <= right:
        mid = (left + right) // 2
        if bytes_for_len(mid) <= available_bytes:
            best, left = mid, mid + 1
        else:
            right = mid - 1
    return best


# v1/core/kv_cache_planning.py@v0.34.0 _more_kv_cache_memory_hint, the extensible KV cache off.
PROFILED_FIT_HINT = (
    "Try increasing `gpu_memory_utilization` when initializing the engine (this flag also controls CPU "
    "memory reservation on the CPU backend, despite its name)."
)
CONSERVING_MEMORY = "See https://docs.vllm.ai/en/latest/configuration/conserving_memory/ for more details."


def no_kv_memory_message(profile: VllmProfile, hint: str | None = None) -> str:
    """The ValueError text when no memory is left for the cache blocks: from 0.34 it carries the hint
    (``_check_enough_kv_cache_memory``, v1/core/kv_cache_planning.py@v0.34.0)."""
    if profile.kv_sizing == "extensible":
        return f"No available memory for the cache blocks. {hint or PROFILED_FIT_HINT} {CONSERVING_MEMORY}"
    return (
        "No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when initializing the "
        "engine."
    )


def fit_error_message(
    profile: VllmProfile,
    max_model_len: int,
    needed_bytes: int,
    available_bytes: int,
    estimated_max_len: int,
    hint: str | None = None,
) -> str:
    """The ValueError text vLLM raises when one ``max_model_len`` request does not fit. From 0.34 the
    advice is a hint that depends on the KV sizing (``hint``; None: the extensible cache off)."""
    estimated = (
        f"Based on the available memory, the estimated maximum model length is {estimated_max_len}. "
        if estimated_max_len > 0
        else ""
    )
    if profile.kv_sizing == "extensible":
        return (
            f"To serve at least one request with the model's max seq len ({max_model_len}), "
            f"({format_gib(needed_bytes)} GiB KV cache is needed, which is larger than the "
            f"available KV cache memory ({format_gib(available_bytes)} GiB). {estimated}"
            f"{hint or PROFILED_FIT_HINT} Decreasing `max_model_len` also reduces what is needed. {CONSERVING_MEMORY}"
        )
    old = not profile.fit_error_names_cpu_backend
    possessive = "models's" if old else "model's"
    knob = (
        "`gpu_memory_utilization`"
        if old
        else "`gpu_memory_utilization` (which also controls CPU memory on the CPU backend)"
    )
    return (
        f"To serve at least one request with the {possessive} max seq len ({max_model_len}), "
        f"({format_gib(needed_bytes)} GiB KV cache is needed, which is larger than the "
        f"available KV cache memory ({format_gib(available_bytes)} GiB). {estimated}"
        f"Try increasing {knob} or decreasing `max_model_len` when initializing the engine. "
        "See https://docs.vllm.ai/en/latest/configuration/conserving_memory/ for more details."
    )


def fit_check_bytes(profile: VllmProfile, available_bytes: int, bytes_per_block: int) -> int:
    """The memory the fit check compares with one request: from 0.29 one pool block (the null
    block) is held back first."""
    return available_bytes - bytes_per_block if profile.fit_check_reserves_null_block else available_bytes
