"""The vLLM engine profile: what ``vllm serve`` allocates at start-up, by mechanism.

The accounting follows vLLM v0.19 (V1 engine, ``gpu_worker.determine_available_memory``):

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

A handful of global constants (``VllmConstants``) are fitted to published start-up logs
(``python -m estimator.calibrate``); each has a reason written next to it. Versions differ:
the sampler's bytes per logit dropped from about 36 (v0.16 and earlier images: a full-vocabulary
sort for top-k/top-p) to about 13 (v0.17+: top-k/top-p without that sort), which is most of the
activation peak for models with large vocabularies.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, ClassVar, Literal

from estimator.arith import ceil_div, round_up
from estimator.dtypes import Dtypes, resolve_dtypes
from estimator.engines.base import BaseEngine, EngineReport, EngineTerms, Escape
from estimator.errors import InputError
from estimator.gpus import GPU
from estimator.notes import Note, note
from estimator.spec import DTYPE_BYTES, Frozen, KVDType, LayerKV, ModelSpec

if TYPE_CHECKING:
    from estimator.query import Query
    from estimator.result import Estimate

VLLM_VERSION = "0.19"

GiB = 1 << 30
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
    # CUDA-graph pools (FULL_AND_PIECEWISE capture of ~67 batch sizes): a fixed part plus a small
    # per-layer part (0.87 GiB at 28 layers, 0.98 GiB at 40, in the v0.19 logs; least squares over
    # the single-GPU dense cases). Not part of the KV pool: it comes on top.
    cuda_graph_base: int = 494 * MiB
    cuda_graph_per_layer: int = 14 * MiB
    # Not fitted, a version fact: the alignment (bytes) both matrix dims of an MXFP4 expert weight
    # are padded to when vLLM's Triton MoE path swizzles it for Hopper. The triton_kernels that vLLM
    # v0.19 vendors pre-pads to 64 (vllm/third_party/triton_kernels/tensor_details/layout_details/
    # hopper_value.py, HopperMXValueLayout.swizzle_data: "Pre-pad both matrix dims to multiples of
    # 64"); the earlier triton_kernels of the v0.11-era images (swizzle_mxfp4_value_hopper) padded
    # only to the MMA tile, which the MXFP4 checkpoints' dims already are (1 = no pre-pad).
    mxfp4_value_align: int = 64
    # Not fitted, version facts: vLLM's batch defaults (engine/arg_utils.py, EngineArgs batch defaults
    # for `vllm serve`, i.e. the OPENAI_API_SERVER usage context): GPUs with >= 70 GiB that are not an
    # A100 get 8192 batched tokens and 1024 sequences, every other GPU 2048 and 256. max_num_seqs is
    # then capped at max_num_batched_tokens. The calibration set (H100, v0.19) ran with 8192 / 1024.
    big_gpu_bytes: int = 70 * GiB
    big_gpu_batched_tokens: int = 8192
    big_gpu_seqs: int = 1024
    small_gpu_batched_tokens: int = 2048
    small_gpu_seqs: int = 256
    # The GPU buffer each MLA backend that allocates one at import holds (see
    # mla_backend_workspace_bytes).
    mla_import_workspace: int = 128 * MiB


DEFAULT_CONSTANTS = VllmConstants()
# v0.16 and earlier: what the ~v0.11 logs show for the sampler warm-up (36.3 bytes per logit).
LEGACY_CONSTANTS = VllmConstants(sampler_bytes_per_logit=36.3, mxfp4_value_align=1)


def constants_for_version(version: str) -> VllmConstants:
    """The constants for a vLLM release ("0.19", "v0.11.0"): the sampler changed in v0.17."""
    text = version.strip().lstrip("v~")
    try:
        major, minor = (int(part) for part in text.split(".")[:2])
    except ValueError as err:
        raise InputError(f'unknown vLLM version "{version}"; give it as 0.19 or v0.11.0') from err
    return DEFAULT_CONSTANTS if (major, minor) >= (0, 17) else LEGACY_CONSTANTS


# ---------------------------------------------------------------------------------------------
# Scheduler defaults and the GPU

Mxfp4MoeBackend = Literal["triton", "marlin", "flashinfer_trtllm", "rocm"]


class VllmGpu(Frozen):
    """What vLLM decides from the GPU record: its batch defaults and the kernels it picks."""

    big_batch_defaults: bool  # >= 70 GiB and not an A100 (arg_utils reads the device name)
    mxfp4_moe_backend: Mxfp4MoeBackend
    mla_import_workspaces: int  # MLA backends whose import allocates a workspace (see below)


@cache
def vllm_gpu(gpu: GPU | None, constants: VllmConstants = DEFAULT_CONSTANTS) -> VllmGpu:
    """The vLLM facts of a GPU record; with no GPU, vLLM's small-GPU batch defaults and the kernels of
    the H100 the profile's logs come from."""
    if gpu is None:
        return VllmGpu(big_batch_defaults=False, mxfp4_moe_backend="triton", mla_import_workspaces=1)
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
    return VllmGpu(big_batch_defaults=gpu.memory_bytes >= constants.big_gpu_bytes and gpu.family != "a100",
                   mxfp4_moe_backend=backend, mla_import_workspaces=workspaces)


def batch_defaults(query: Query, gpu: GPU | None, constants: VllmConstants = DEFAULT_CONSTANTS) -> tuple[int, int]:
    """(max_num_batched_tokens, max_num_seqs) as ``vllm serve`` picks them when not given.

    With no GPU at all, vLLM's own fallback (the small-GPU defaults) applies.
    """
    c = constants
    big = vllm_gpu(gpu, c).big_batch_defaults
    mnbt = query.max_num_batched_tokens or (c.big_gpu_batched_tokens if big else c.small_gpu_batched_tokens)
    seqs = query.max_num_seqs or (c.big_gpu_seqs if big else c.small_gpu_seqs)
    return mnbt, min(seqs, mnbt)


# ---------------------------------------------------------------------------------------------
# Dtypes


def _act_bytes(spec: ModelSpec, query: Query) -> int:
    """Bytes per element of vLLM's ``--dtype`` (activations, logits): see :mod:`estimator.dtypes`."""
    return DTYPE_BYTES[resolve_dtypes(spec, query).model]


def kv_dtype_bytes(spec: ModelSpec, query: Query) -> int:
    """Bytes per cached element: ``auto`` is the model dtype; vLLM has fp8 but no int8 KV cache.

    vLLM allocates a pool even with kv=off, in the dtype kv=auto would give.
    """
    dtype = resolve_dtypes(spec, query).kv_layout
    if dtype == "int8":
        raise InputError("vLLM has no int8 KV cache: use kv=fp8, or kv=auto for the model's dtype")
    return DTYPE_BYTES[dtype]


# ---------------------------------------------------------------------------------------------
# Weights as vLLM loads them


def rope_cache_bytes(spec: ModelSpec, query: Query) -> int:
    """The rotary cos/sin cache: one (max_position x rotary_dim) table in the model dtype, per GPU."""
    if not spec.max_position_embeddings:
        return 0
    mla = next((layer for layer in spec.layers if layer.kind == "mla"), None)
    rotary_dim = mla.value_dim if mla is not None else spec.head_dim
    # gpt-oss builds its rotary embedding in fp32 (models/gpt_oss.py OAIAttention: get_rope(...,
    # dtype=torch.float32)); every other model in the model dtype.
    dtype_bytes = 4 if spec.model_type == "gpt_oss" else _act_bytes(spec, query)
    return spec.max_position_embeddings * rotary_dim * dtype_bytes


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
def mla_backend_workspace_bytes(spec: ModelSpec, gpu: GPU | None,
                                constants: VllmConstants = DEFAULT_CONSTANTS) -> int:
    """GPU buffers that importing vLLM's MLA attention backends allocates, per GPU (MLA models only).

    With no GPU named, the H100 the profile's logs come from.
    """
    if not any(layer.kind == "mla" for layer in spec.layers):
        return 0
    return constants.mla_import_workspace * vllm_gpu(gpu, constants).mla_import_workspaces


def loaded_weight_bytes(spec: ModelSpec, query: Query, gpu: GPU | None, weights_bytes: int,
                        constants: VllmConstants = DEFAULT_CONSTANTS) -> int:
    """What "Model loading took X GiB" reports, per GPU: the checkpoint's share (``weights_bytes``,
    from ``estimator.weights.weight_bytes``), re-laid MXFP4 experts, and buffers built at load time
    (the rotary cache, MLA backends' workspaces).
    """
    loaded = weights_bytes + rope_cache_bytes(spec, query) + mla_backend_workspace_bytes(spec, gpu, constants)
    if uses_mxfp4_experts(spec, query):
        loaded += mxfp4_expert_bytes(spec, query, gpu, constants) - _mxfp4_checkpoint_expert_bytes(spec, query.gpus)
    return loaded


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
    return (q.method == "mxfp4" and q.scope == "experts" and spec.num_experts > 0
            and query.weight_format in (None, "mxfp4") and query.bits in (None, 4))


def mxfp4_moe_backend(gpu: GPU | None) -> Mxfp4MoeBackend:
    """The MXFP4 MoE kernel vLLM v0.19 picks on the GPU.

    fused_moe/oracle/mxfp4.py select_mxfp4_moe_backend tries FlashInfer TRT-LLM (SM100 only),
    CK (ROCm), Triton (SM90 up to SM100, triton_kernels bundled), ..., Marlin. With no GPU named,
    Hopper (the H100 the profile's logs come from).
    """
    return vllm_gpu(gpu).mxfp4_moe_backend


def cuda_block_bytes(size: int) -> int:
    """Bytes PyTorch's CUDA caching allocator counts as allocated for a fresh ``size``-byte tensor.

    c10/cuda/CUDACachingAllocator.cpp: requests are rounded up to 512 B; one of 10 MiB or more gets
    its own cudaMalloc rounded up to 2 MiB (get_allocation_size), and that block is split only when
    more than 1 MiB would be left over (should_split). Otherwise the whole block is handed out, and
    ``memory_allocated`` (what vLLM reads) counts all of it.
    """
    rounded = round_up(max(size, 1), 512)
    if size < 10 * MiB:
        return rounded
    segment = round_up(size, 2 * MiB)
    return segment if segment - size <= MiB else rounded


def _expert_bias_params(spec: ModelSpec) -> int:
    """Bias parameters of all routed experts (gpt-oss has them): expert params beyond the matrices."""
    matrices = sum(lin.in_features * lin.out_features * lin.count for lin in spec.linears
                   if lin.component == "routed_experts")
    return max(0, spec.params.routed_experts - matrices)


def _mxfp4_checkpoint_expert_bytes(spec: ModelSpec, gpus: int) -> int:
    """The routed experts' bytes per GPU as the checkpoint share counts them (estimator.weights):
    each matrix's split share at 4 bits plus an e8m0 scale byte per 32, and the biases whole in
    the checkpoint dtype (they are not split there)."""
    total = 0
    for lin in spec.linears:
        if lin.component != "routed_experts":
            continue
        in_f, out_f = lin.in_features, lin.out_features
        if gpus > 1 and lin.split == "column":
            out_f = ceil_div(out_f, gpus)
        elif gpus > 1 and lin.split == "row":
            in_f = ceil_div(in_f, gpus)
        n = in_f * out_f
        total += (ceil_div(n, 2) + ceil_div(n, 32)) * lin.count
    return total + _expert_bias_params(spec) * DTYPE_BYTES[spec.torch_dtype]


def mxfp4_expert_bytes(spec: ModelSpec, query: Query, gpu: GPU | None,
                       constants: VllmConstants = DEFAULT_CONSTANTS) -> int:
    """Per-GPU bytes of the MXFP4 routed experts once vLLM has loaded and re-laid them."""
    experts, layers, tp = spec.num_experts, spec.num_moe_layers, query.gpus
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
        2 * inter * (hidden // 32), hidden * (inter // 32),
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
    dense = tokens * 3 * ceil_div(spec.intermediate_size, tp) * b if spec.intermediate_size else 0
    moe = 0
    if spec.num_experts and spec.moe_intermediate_size:
        inter = ceil_div(spec.moe_intermediate_size, tp)
        moe = tokens * spec.experts_per_token * (3 * inter + h) * b
    if moe > dense:
        return base + moe, f"MoE experts at {tokens:,} batched tokens"
    return base + dense, f"prefill MLP at {tokens:,} batched tokens"


def _sampler_peak(spec: ModelSpec, query: Query, tokens: int, rows: int, constants: VllmConstants) -> int:
    """Torch peak of the sampler warm-up: full-vocabulary logits for ``rows`` requests.

    The logits are gathered to the full vocabulary on every rank, so tensor parallelism does not
    shrink this term. The forward's hidden states (tokens x h) are still alive when it runs.
    """
    b = _act_bytes(spec, query)
    per_logit = constants.sampler_bytes_per_logit + b
    return tokens * spec.hidden_size * b + int(rows * spec.vocab_size * per_logit)


def _encoder_peak(spec: ModelSpec, query: Query) -> int:
    """Vision encoder dummy run: one image of the maximum size through the tower (rough)."""
    if spec.vision is None:
        return 0
    v = spec.vision
    patches = (v.image_size // v.patch_size) ** 2
    b = _act_bytes(spec, query)
    # Attention scores per head are materialised by most vision towers' eager paths.
    scores = v.num_heads * patches * patches * b
    return patches * (4 * v.hidden_size + 2 * v.intermediate_size) * b + scores


def activation_peak(spec: ModelSpec, query: Query, *, gpu: GPU | None,
                    constants: VllmConstants = DEFAULT_CONSTANTS) -> tuple[int, str]:
    """The profile run's torch activation peak per GPU (bytes) and a phrase saying what sets it."""
    tokens, seqs = batch_defaults(query, gpu, constants)
    rows = min(seqs, tokens)
    forward, where = _forward_peak(spec, query, tokens)
    sampler = _sampler_peak(spec, query, tokens, rows, constants)
    encoder = _encoder_peak(spec, query)
    peak = max(forward, sampler, encoder)
    if peak == sampler:
        sequences = f"{rows:,} sequence" + ("" if rows == 1 else "s")
        where = f"sampler warm-up: {sequences} x {spec.vocab_size:,}-token vocabulary"
    elif peak == encoder and encoder > forward:
        where = "vision encoder dummy run"
    return peak, where


def non_torch_bytes(query: Query, constants: VllmConstants = DEFAULT_CONSTANTS) -> int:
    """Non-torch memory the profile run adds (jumps with tensor parallelism > 1)."""
    return constants.non_torch_tensor_parallel if query.gpus > 1 else constants.non_torch_single_gpu


def cuda_graph_bytes(spec: ModelSpec, constants: VllmConstants = DEFAULT_CONSTANTS) -> int:
    """CUDA-graph memory captured after the KV cache is allocated (on top of the requested share)."""
    return constants.cuda_graph_base + spec.num_layers * constants.cuda_graph_per_layer


def cuda_context_bytes(query: Query, constants: VllmConstants = DEFAULT_CONSTANTS) -> int:
    return constants.cuda_context + (constants.cuda_context_tp_extra if query.gpus > 1 else 0)


# ---------------------------------------------------------------------------------------------
# KV cache layout: pages, groups, tokens


class KvGroupSpec(Frozen):
    """One kind of KV layer as vLLM groups them (full / sliding window w / MLA)."""

    kind: Literal["full", "sliding", "mla"]
    window: int | None
    page_bytes: int  # one block of BLOCK_SIZE tokens, one layer, per GPU
    num_layers: int


class KvLayout(Frozen):
    """How vLLM splits the pool: groups of equal size sharing one block count."""

    types: tuple[KvGroupSpec, ...]
    group_size: int  # layers per group (padding included)
    num_groups: int
    uniform: bool  # one attention type: every layer in a single group

    @property
    def bytes_per_block(self) -> int:
        """Pool bytes one block index costs across all groups' tensors."""
        if self.uniform:
            return sum(t.page_bytes * t.num_layers for t in self.types)
        return self.types[0].page_bytes * self.group_size


def _page_bytes(layer: LayerKV, tp: int, dtype_bytes: int) -> int:
    if layer.kind == "mla":
        # The compressed latent plus the rope key: one head, replicated on every rank, not split.
        return BLOCK_SIZE * (layer.key_dim + layer.value_dim) * dtype_bytes
    heads = ceil_div(layer.kv_heads, tp)  # the busiest rank's heads; replicated (1) where tp exceeds them
    return BLOCK_SIZE * heads * (layer.key_dim + layer.value_dim) * dtype_bytes


# Layouts already worked out, per ``spec.layers`` tuple, TP size and bytes per element: one estimate
# asks several times (terms, solvers, the report). Holding the tuple keeps its id from being reused.
_LAYOUTS: dict[tuple[int, int, int], tuple[tuple[LayerKV, ...], tuple[KvLayout, tuple[str, ...]]]] = {}


def kv_layout(spec: ModelSpec, query: Query) -> tuple[KvLayout, tuple[str, ...]]:
    """Group the model's KV layers the way vLLM's kv_cache_utils does (uniform page size)."""
    return _layout_for(spec, query.gpus, kv_dtype_bytes(spec, query))


def _layout_for(spec: ModelSpec, tp: int, dtype_bytes: int) -> tuple[KvLayout, tuple[str, ...]]:
    key = (id(spec.layers), tp, dtype_bytes)
    cached = _LAYOUTS.get(key)
    if cached is not None and cached[0] is spec.layers:
        return cached[1]
    layout = _kv_layout(spec, tp, dtype_bytes)
    if len(_LAYOUTS) >= 256:
        _LAYOUTS.clear()
    _LAYOUTS[key] = (spec.layers, layout)
    return layout


def _kv_layout(spec: ModelSpec, tp: int, dtype_bytes: int) -> tuple[KvLayout, tuple[str, ...]]:
    warnings: list[str] = []
    counts: dict[tuple[str, int | None, int], int] = {}
    for layer in spec.layers:
        if layer.kind == "none":
            continue
        if layer.kind == "state":
            raise InputError(
                f"{spec.model_type}: vLLM's block layout for hybrid state-space layers is not modelled yet; "
                "use engine=transformers for this model")
        key = (layer.kind, layer.window if layer.kind == "sliding" else None,
               _page_bytes(layer, tp, dtype_bytes))
        counts[key] = counts.get(key, 0) + 1
    if not counts:
        raise InputError(f"{spec.model_type}: the model has no KV-cache layers for vLLM to size")
    types = tuple(KvGroupSpec(kind=k[0], window=k[1], page_bytes=k[2], num_layers=n)  # type: ignore[arg-type]
                  for k, n in counts.items())
    kinds = {(t.kind, t.window) for t in types}
    if len(kinds) == 1:
        # One attention type (page sizes may still differ per layer): a single group.
        return KvLayout(types=types, group_size=sum(t.num_layers for t in types), num_groups=1,
                        uniform=True), ()
    pages = {t.page_bytes for t in types}
    if len(pages) > 1:
        # vLLM pads to the largest page in this case; we follow that and say so.
        warnings.append("KV layer types have different page sizes; vLLM pads them to the largest")
        biggest = max(pages)
        types = tuple(t.model_copy(update={"page_bytes": biggest}) for t in types)
    smallest = min(t.num_layers for t in types)
    largest = max(t.num_layers for t in types)
    # Groups take as many layers as the rarest type has (the "1" of an n:1 pattern); when the counts
    # are close, the largest count is used instead to avoid padding groups.
    group_size = largest if largest < smallest * 1.25 else smallest
    num_groups = sum(ceil_div(t.num_layers, group_size) for t in types)
    return KvLayout(types=types, group_size=group_size, num_groups=num_groups, uniform=False), tuple(warnings)


def _blocks_per_request(layout: KvLayout, max_model_len: int, batched_tokens: int) -> int:
    """Blocks one request of ``max_model_len`` tokens needs, in units of one shared block index."""
    def layer_blocks(t: KvGroupSpec) -> int:
        if t.kind == "sliding" and t.window is not None:
            span = min(t.window - 1 + batched_tokens, max_model_len)
            return ceil_div(span, BLOCK_SIZE) + 1
        return ceil_div(max_model_len, BLOCK_SIZE)

    if layout.uniform:
        need = sum(layer_blocks(t) * t.page_bytes * t.num_layers for t in layout.types)
        return ceil_div(need, layout.bytes_per_block)
    # One spec per group: a type split over several groups counts once per group.
    per_layer = sum(layer_blocks(t) * ceil_div(t.num_layers, layout.group_size) for t in layout.types)
    need = layout.group_size * per_layer * layout.types[0].page_bytes
    return ceil_div(need, layout.bytes_per_block)


def requests_kv_bytes(spec: ModelSpec, *, seq_len: int, batch: int, dtype_bytes: int, tp: int,
                      batched_tokens: int) -> int:
    """Pool bytes ``batch`` requests of ``seq_len`` tokens reserve, per GPU.

    The same blocks :func:`kv_capacity` divides the pool by: the query fits exactly when the pool
    holds its b requests (one rule for the fit and the concurrency).
    """
    layout, _ = _layout_for(spec, tp, dtype_bytes)
    return batch * _blocks_per_request(layout, seq_len, batched_tokens) * layout.bytes_per_block


def kv_capacity(spec: ModelSpec, query: Query, pool_bytes: int, *, batched_tokens: int) -> tuple[int, int, float]:
    """(num_gpu_blocks, "GPU KV cache size" tokens, max concurrency at query.seq_len) for a pool."""
    layout, _ = kv_layout(spec, query)
    if pool_bytes <= 0:
        return 0, 0, 0.0
    num_blocks = pool_bytes // layout.bytes_per_block
    tokens = num_blocks // layout.num_groups * BLOCK_SIZE
    per_request = _blocks_per_request(layout, query.seq_len, batched_tokens)
    return num_blocks, tokens, num_blocks / per_request


# ---------------------------------------------------------------------------------------------
# Public API


class VllmReport(EngineReport):
    """What vLLM's start-up log would report, and the terms behind it (bytes per GPU)."""

    version: str  # the vLLM release whose accounting this follows
    kv_cache_memory: int
    kv_cache_tokens: int
    max_concurrency: float
    weights: int
    activation_peak: int
    non_torch: int
    cuda_graphs: int
    requested_memory: int  # util x GPU total
    block_size: int
    num_gpu_blocks: int
    # The smallest util (two decimals) at which the pool holds the b requests of s tokens, when the
    # asked util falls short and one up to the device's limit does; None otherwise.
    util_to_fit: float | None = None


def vllm_terms(spec: ModelSpec, query: Query, *, gpu: GPU | None,
               constants: VllmConstants = DEFAULT_CONSTANTS) -> EngineTerms:
    """Per-GPU bytes vLLM adds besides weights and KV cache.

    ``activations`` is the profile run's torch activation peak; ``overhead`` is the CUDA context,
    the non-torch memory and the CUDA graphs. The GPU picks vLLM's batch defaults the way it would
    on that GPU; with none, vLLM's small-GPU defaults apply.
    """
    peak, where = activation_peak(spec, query, gpu=gpu, constants=constants)
    overhead = cuda_context_bytes(query, constants) + non_torch_bytes(query, constants) \
        + cuda_graph_bytes(spec, constants)
    warnings: list[Note] = []
    if query.kv == "off":
        warnings.append(note("kv_off_allocates",
                             "vLLM always allocates a KV cache; kv=off only drops it from the memory total"))
    if spec.max_position_embeddings and query.seq_len > spec.max_position_embeddings:
        warnings.append(note("context_window_exceeded", f"vLLM refuses max_model_len {query.seq_len:,} above the "
                             f"model's {spec.max_position_embeddings:,} positions unless told to override"))
    _, layout_warnings = kv_layout(spec, query)
    warnings.extend(note("kv_page_padding", w) for w in layout_warnings)
    return EngineTerms(activations=peak, overhead=overhead, activation_where=where, warnings=tuple(warnings))


def vllm_report(spec: ModelSpec, query: Query, *, weights_bytes: int, gpu: GPU,
                constants: VllmConstants = DEFAULT_CONSTANTS) -> VllmReport:
    """What vLLM's start-up log would report on ``gpu`` (per GPU).

    KV pool = util x the GPU's memory - (weights as loaded + activation peak + non-torch). The pool
    may come out negative (vLLM would refuse to start); tokens and concurrency are then 0.
    """
    batched_tokens, _ = batch_defaults(query, gpu, constants)
    weights = loaded_weight_bytes(spec, query, gpu, weights_bytes, constants)
    peak, _ = activation_peak(spec, query, gpu=gpu, constants=constants)
    non_torch = non_torch_bytes(query, constants)
    requested = int(query.util * gpu.memory_bytes)
    pool = requested - weights - peak - non_torch
    blocks, tokens, concurrency = kv_capacity(spec, query, pool, batched_tokens=batched_tokens)
    util = None
    if query.kv != "off" and concurrency < query.batch:
        need = weights + peak + non_torch + requests_kv_bytes(
            spec, seq_len=query.seq_len, batch=query.batch, dtype_bytes=kv_dtype_bytes(spec, query),
            tp=query.gpus, batched_tokens=batched_tokens)
        util = util_to_fit(need, gpu.memory_bytes, cuda_context_bytes(query, constants)
                           + cuda_graph_bytes(spec, constants))
    return VllmReport(
        version=VLLM_VERSION, kv_cache_memory=pool, kv_cache_tokens=tokens,
        max_concurrency=round(concurrency, 2), weights=weights, activation_peak=peak, non_torch=non_torch,
        cuda_graphs=cuda_graph_bytes(spec, constants), requested_memory=requested, block_size=BLOCK_SIZE,
        num_gpu_blocks=blocks, util_to_fit=util,
    )


def util_to_fit(requested_bytes: int, device_bytes: int, outside_bytes: int) -> float | None:
    """The smallest ``gpu_memory_utilization`` (two decimals) whose share of the device is at least
    ``requested_bytes``, with ``outside_bytes`` (CUDA context and graphs, on top of the share) still
    on the device; None when no util up to 1 gives that."""
    pct = ceil_div(requested_bytes * 100, device_bytes)
    while int(pct / 100 * device_bytes) < requested_bytes:  # vLLM truncates util x total
        pct += 1
    if pct > 100 or int(pct / 100 * device_bytes) + outside_bytes > device_bytes:
        return None
    return pct / 100


def tp_refusal(spec: ModelSpec, gpus: int) -> str | None:
    """Why vLLM refuses this tensor-parallel size, or None when it accepts it.

    vLLM checks that the attention heads divide by the TP size, and its QKV projection that the
    KV heads either divide by it or divide it (replicated past them); MLA has no KV heads to split.
    """
    if gpus == 1:
        return None
    heads = spec.num_attention_heads
    if heads % gpus:
        return f"the model's {heads} attention heads do not divide by {gpus}"
    kv = spec.num_kv_heads
    has_gqa = any(layer.kind in ("full", "sliding") for layer in spec.layers)
    if has_gqa and kv and (kv % gpus if gpus <= kv else gpus % kv):
        return f"the model's {kv} KV heads and {gpus} GPUs do not divide one another"
    return None


def nearest_tp_sizes(spec: ModelSpec, gpus: int) -> tuple[int, ...]:
    """The TP sizes vLLM accepts next to ``gpus``: the largest below it and the smallest above it
    (up to the attention heads, which every accepted size divides)."""
    has_gqa = any(layer.kind in ("full", "sliding") for layer in spec.layers)
    accepted = _accepted_tp_sizes(spec.num_attention_heads, spec.num_kv_heads, has_gqa,
                                  max(spec.num_attention_heads, gpus))
    below = [n for n in accepted if n < gpus]
    above = [n for n in accepted if n > gpus]
    return tuple(([below[-1]] if below else []) + ([above[0]] if above else []))


@cache
def _accepted_tp_sizes(heads: int, kv_heads: int, has_gqa: bool, limit: int) -> tuple[int, ...]:
    """TP sizes up to ``limit`` that vLLM accepts for these head counts (built once per shape)."""
    sizes = [1]
    for n in range(2, limit + 1):
        if heads % n:
            continue
        if has_gqa and kv_heads and (kv_heads % n if n <= kv_heads else n % kv_heads):
            continue
        sizes.append(n)
    return tuple(sizes)


class VllmEngine(BaseEngine):
    """``vllm serve``: the memory it reserves at start-up, its KV pool and concurrency."""

    name: ClassVar[str] = "vllm"
    label: ClassVar[str] = "vLLM"
    help: ClassVar[str] = "vLLM (`vllm serve`): KV pool and concurrency"
    report_key: ClassVar[str | None] = "vllm"
    report_model: ClassVar[type[EngineReport] | None] = VllmReport
    setting_keys: ClassVar[tuple[str, ...]] = ("util", "mnbt", "seqs")
    always_fused_attention: ClassVar[bool] = True
    overhead_label: ClassVar[str] = "CUDA context, non-torch memory, CUDA graphs"
    no_bf16: ClassVar[str] = "vLLM refuses to start in bf16"

    def kv_cache_bytes(self, spec: ModelSpec, query: Query, kv_dtype: KVDType, *, gpus: int,
                       gpu: GPU | None = None) -> int:
        """The pool bytes the b requests of s tokens reserve (see :func:`requests_kv_bytes`)."""
        batched_tokens, _ = batch_defaults(query, gpu)
        return requests_kv_bytes(spec, seq_len=query.seq_len, batch=query.batch, dtype_bytes=DTYPE_BYTES[kv_dtype],
                                 tp=gpus, batched_tokens=batched_tokens)

    def loaded_weight_bytes(self, spec: ModelSpec, query: Query, gpu: GPU | None, weights: int) -> int:
        return loaded_weight_bytes(spec, query, gpu, weights)

    def terms(self, spec: ModelSpec, query: Query, gpu: GPU | None, dtypes: Dtypes, *, weights: int,
              kv_cache: int) -> EngineTerms:
        return vllm_terms(spec, query, gpu=gpu)

    def usable_fraction(self, query: Query) -> float:
        return query.util

    def usable_bytes(self, spec: ModelSpec, query: Query, gpu: GPU) -> int:
        """vLLM's requested share (util x the device) holds the weights, the KV cache, the activation
        peak and non-torch memory; the CUDA context (there before vLLM measures) and the CUDA graphs
        (captured after the KV pool) come on top, within the device. So the query fits exactly when
        vLLM's KV pool holds its b x s tokens."""
        requested = int(query.util * gpu.memory_bytes)
        if query.method == "classic":
            return requested  # the classic terms have no overhead to place outside the share
        outside = cuda_context_bytes(query) + cuda_graph_bytes(spec)
        return min(requested + outside, gpu.memory_bytes)

    def tp_sizes(self, spec: ModelSpec, limit: int) -> tuple[int, ...]:
        """The sizes vLLM accepts (phi-4's 10 KV heads rule out 4 and 8 but allow 5 and 10)."""
        has_gqa = any(layer.kind in ("full", "sliding") for layer in spec.layers)
        return _accepted_tp_sizes(spec.num_attention_heads, spec.num_kv_heads, has_gqa, limit)

    def shape_total(self, spec: ModelSpec, query: Query, gpu: GPU | None, dtypes: Dtypes, *,
                    weights: int) -> Callable[[int, int], int] | None:
        """Only the KV cache depends on s and b: the rest is computed once."""
        if query.method != "calibrated":
            return None
        terms = vllm_terms(spec, query, gpu=gpu)
        fixed = loaded_weight_bytes(spec, query, gpu, weights) + terms.activations + terms.overhead
        kv = dtypes.kv
        if kv is None:
            return lambda s, b: fixed
        batched_tokens, _ = batch_defaults(query, gpu)
        dtype_bytes = DTYPE_BYTES[kv]

        def total(s: int, b: int) -> int:
            return fixed + requests_kv_bytes(spec, seq_len=s, batch=b, dtype_bytes=dtype_bytes, tp=query.gpus,
                                             batched_tokens=batched_tokens)

        return total

    def notes(self, spec: ModelSpec, query: Query, gpu: GPU | None) -> list[Note]:
        notes: list[Note] = []
        if not query.flash_attention:
            notes.append(note("fused_attention_always", "vLLM always runs fused (paged) attention kernels: fa=off "
                              "changes nothing with engine=vllm (its --enforce-eager turns off CUDA graphs, not "
                              "fused attention)."))
        _, max_seqs = batch_defaults(query, gpu)
        if query.batch > max_seqs:
            # The KV term still counts b sequences; vLLM would queue all but max_num_seqs of them.
            seqs = f"{max_seqs:,} sequence" + ("" if max_seqs == 1 else "s")
            why = f"seqs={query.max_num_seqs:,}" if query.max_num_seqs else "its default max_num_seqs"
            notes.append(note("batch_queued", f"vLLM runs at most {seqs} at once ({why}): b={query.batch:,} would "
                              "queue the rest; raise seqs= to run them together."))
        refusal = self.refusal(spec, query)
        if refusal and gpu is None:  # with a GPU the verdict says it
            notes.append(note("engine_refuses", refusal + "."))
        return notes

    def refusal(self, spec: ModelSpec, query: Query) -> str | None:
        """vLLM checks the TP size against the heads at start-up: say so, with the sizes it accepts."""
        why = tp_refusal(spec, query.gpus)
        if why is None:
            return None
        sizes = " or ".join(f"gpus={n}" for n in nearest_tp_sizes(spec, query.gpus))
        return f"vLLM will not start with gpus={query.gpus}: {why}; it accepts {sizes}"

    def report(self, spec: ModelSpec, query: Query, gpu: GPU | None, dtypes: Dtypes, *,
               weights: int) -> tuple[EngineReport | None, list[Note]]:
        if gpu is None:
            return None, [note("no_gpu_given", f"Give gpu= to see the KV pool vLLM {VLLM_VERSION} would reserve "
                               "and how many requests it holds.")]
        report = vllm_report(spec, query, weights_bytes=weights, gpu=gpu)
        if report.kv_cache_memory <= 0:
            return report, [note("no_kv_pool", "vLLM would not start: weights and activations leave no room for "
                                 f"the KV cache at util={query.util}.")]
        return report, []

    def summary_line(self, est: Estimate, esc: Escape) -> str | None:
        """What vLLM's start-up log would say: the KV pool, its tokens, and the concurrency at s."""
        v = est.engine_report
        if not isinstance(v, VllmReport) or v.kv_cache_memory <= 0:
            return None  # no GPU, or the estimate's warnings say vLLM would not start
        gib = f"{v.kv_cache_memory / GiB:.1f} GiB"
        return (f"vLLM {esc(v.version)} will hold about {v.kv_cache_tokens:,} tokens of KV cache "
                f"({gib} at util={est.query.util:g}): {v.max_concurrency:.2f} requests of "
                f"{est.query.seq_len:,} tokens at once")


    def verdict(self, est: Estimate, esc: Escape) -> str | None:
        """The fit is whether the KV pool holds the b requests of s tokens (what vLLM's concurrency
        counts): say how many it holds and what makes it hold them (util first, then b, then GPUs)."""
        fit, v, q = est.fit, est.engine_report, est.query
        if fit is None or not isinstance(v, VllmReport) or q.method != "calibrated" or q.kv == "off":
            return None
        total = f"Total {est.memory.total / GiB:.1f} GiB" + (" per GPU" if q.gpus > 1 else "")
        name = esc(fit.gpu_name)
        where = f"one {name}" if q.gpus == 1 else f"each of {q.gpus} {name}"
        pool = f"vLLM's KV pool at util={q.util:g}"
        asked = f"{q.batch:,} request" + ("" if q.batch == 1 else "s") + f" of {q.seq_len:,} tokens"
        if fit.fits:
            return f"{total}: fits {where}: {pool} holds {v.max_concurrency:.2f} requests of {q.seq_len:,} tokens " \
                   f"(b={q.batch:,} asked)"
        if v.max_concurrency >= q.batch and v.util_to_fit is None:
            # The pool holds them; what comes on top of util x the device (context, graphs) does not fit.
            return (f"{total}: does not fit {where}: {pool} holds the {asked}, but the CUDA context and "
                    f"graphs vLLM adds on top of it leave no room on the device; lower util")
        held = min(v.max_concurrency, q.batch - 0.01)  # never round up to what was asked
        if v.kv_cache_memory <= 0:
            line = (f"{total}: does not fit {where}: at util={q.util:g} the weights and activations leave vLLM "
                    "no KV pool")
        elif held < 1:
            line = f"{total}: does not fit {where}: {pool} holds {held:.2f} of one request of {q.seq_len:,} tokens"
        else:
            line = f"{total}: does not fit {where}: {pool} holds {held:.2f} of the {asked} asked"
        fixes = []
        if v.util_to_fit is not None:
            fixes.append(f"util={v.util_to_fit:g}")
        if fit.max_batch >= 1 and q.batch > 1:
            fixes.append(f"b={fit.max_batch:,}")
        if fit.max_seq_len >= 1 and held < 1:
            fixes.append(f"s={fit.max_seq_len:,}")
        if v.util_to_fit is None and fit.min_gpus > q.gpus:
            fixes.append(f"gpus={fit.min_gpus}")
        if fixes:
            line += "; use " + ", or ".join(fixes)
        elif fit.min_gpus == 0:
            line += "; no tensor-parallel group vLLM accepts fits it"
        return line


ENGINE = VllmEngine()
