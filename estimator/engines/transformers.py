"""The HF transformers profile: what ``model.generate`` allocates beyond weights and KV cache.

The peak of a ``generate`` call is the prefill: one forward pass over the b x s prompt tokens,
layer by layer, while the ``DynamicCache`` fills up. At the last layer the cache holds (almost)
every layer's keys and values, so the peak is weights + KV cache + the largest transient of one
layer. The transients, as transformers 5.x (torch 2.x) allocates them in inference mode (checked op by
op with torch's MemTracker on CPU for transformers 5.17 / torch 2.11: llama-type, eager, gemma-3,
phi-3 and Qwen3-MoE layers within 3% of these formulas; GPU runs: bench/):

- Through the whole forward: the embedding output (the model keeps ``inputs_embeds``
  referenced; gemma also its scaled copy), the rotary tables and the attention masks.
- MLP: ``down(act(gate(x)) * up(x))`` holds act(gate), up and their product at once (3 x the
  intermediate width per token); phi3's fused ``gate_up_proj`` holds 4x. The layer's input
  (still referenced by the model's loop), the residual and the normed input (3 x hidden) are
  alive beside them.
- MoE (``grouped_mm`` experts, the 5.x default): tokens are replicated k times (one row per
  chosen expert); the gathered rows live through the experts call, next to either the gate/up
  output and its masked copy (2 x 2 x the expert width) or, later, the down output, its masked
  copy, the weighted rows and their re-ordered copy (4 x hidden): whichever is larger.
- Fused attention (``sdpa``, fa=on): q, its rotated copy and the output (3 x heads x head_dim),
  k and v (before they enter the cache); no s^2 term.
- Eager attention (fa=off): ``softmax(q k^T * scale + mask, dtype=float32).to(bf16)`` holds,
  per head and batch row, s x s scores in bf16 (2 B), their fp32 copy (4 B) and the fp32 softmax
  (4 B): 10 bytes per score element for bf16 (fp16 takes a fused half-to-float path: 8 B; fp32:
  8 B). ``repeat_kv`` copies keys and values to every head, and the float causal mask
  (b x s x s, one per attention kind) lives through the whole forward.
- Sliding-window layers: ``DynamicSlidingWindowLayer`` keeps a *view* of the last window-1
  tokens of the concatenated prefill keys/values, so the whole prompt's storage stays allocated
  until the first decode step: during prefill each sliding layer holds all s tokens, not the
  window. With sdpa and s > window, the sliding mask must be materialised (b x s x s bool, and
  SDPA converts it to a float bias), and ``repeat_kv`` copies keys/values (GQA cannot be used with
  a mask).
- Logits: ``generate`` asks for the last token only (``logits_to_keep=1``) and copies them to
  fp32, and the logits processors copy them again: b x vocab x (dtype + 8) bytes, small.
- State layers, as transformers runs them without the optional kernel packages (mamba-ssm,
  causal-conv1d, flash-linear-attention): a Mamba-1 mixer (Jamba, Mamba, Falcon-Mamba) goes
  through the PyTorch selective scan, which discretises the whole prompt in fp32 before its loop
  (3 x b x s x d_inner x d_state x 4 B, :func:`mamba1_scan_bytes`); LFM2's short convolution
  through F.conv1d (6 x hidden per token). Other state layers (Mamba-2, gated DeltaNet, KDA,
  RWKV, Zamba's Mamba...) are not modelled: the answer says so and gives no verdict
  (``EngineTerms.unmodelled``).
- Decode: each step ``torch.cat``s one layer's keys (then values) into a new tensor while the old
  one is alive: one layer's keys for b x s tokens on top of the full cache.

Overhead is what torch's ``max_memory_allocated`` does not see but ``nvidia-smi`` does: the CUDA
context (and the kernels and cuBLAS handles torch loads into it), plus the caching allocator's
reserve over the allocated peak: the cache's K/V and small tensors split the big blocks the
transients freed, so later layers cudaMalloc new segments. The reserve is modelled as a floor, a
share of the transient, and for eager attention about one fp32 score tensor; fitted to 77 runs
on one H200 (bench/README.md): totals within 10.1% of the device's used memory on every run.

So ``weights + kv_cache + activations`` predicts ``torch.cuda.max_memory_allocated()`` and the
total (with overhead) predicts the device's used memory. The prompt is taken as the whole s
tokens (the worst case for a given s: prefill peak and full cache at once).

With gpus > 1, transformers' ``device_map="auto"`` splits the *layers* across GPUs (pipeline, no
tensor parallelism; :meth:`TransformersEngine.layer_share`): each GPU holds whole decoder layers,
their weights and their KV cache (every KV head of them: nothing is replicated), and runs them
with full-width activations, so the per-layer transient is NOT divided by the number of GPUs.
Every GPU pays its own CUDA context. The layers go out in contiguous runs as even as the count
allows (the first GPUs take one more), the embedding (and a vision tower) with the first GPU and
an untied ``lm_head`` with the last; the busiest GPU decides the fit. accelerate balances by
bytes rather than layer counts, so its busiest GPU is at most about one layer lighter than this.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from estimator.arith import ceil_div
from estimator.dtypes import Dtypes, resolve_dtypes
from estimator.engines.base import BaseEngine, EngineTerms, GpuShare, KvPart, KvTerm, OverheadTerm
from estimator.gpus import lookup_gpu
from estimator.kv import contiguous_parts, kv_bytes_per_token, kv_cache_bytes, state_bytes_per_sequence
from estimator.memo import by_spec
from estimator.notes import Note, note
from estimator.spec import DTYPE_BYTES, Frozen, KVDType, LayerKV, ModelSpec, TorchDType
from estimator.weights import conversion_asked

if TYPE_CHECKING:
    from estimator.gpus import GPU
    from estimator.query import Query

MiB = 1024 * 1024

# The overhead constants are fitted to 77 generate runs on one H200 (torch 2.11 / CUDA 13,
# transformers 5.17, driver 580; bench/results/transformers-h200.json, bench/README.md): a few
# global constants, each for one mechanism, none per model.
#
# What torch's allocator does not count: the CUDA context plus the kernel modules, cuBLAS/cuBLASLt
# handles and stream state that load on first use. Device used minus torch reserved after a
# generate: 695-731 MiB, median 717 MiB over every run (0.51 GiB right after CUDA init, before
# any kernel ran: what the script's ``cuda_context_bytes`` holds for its first model).
CUDA_CONTEXT_BYTES = 720 * MiB
# The caching allocator's reserve above the allocated peak (max_reserved - max_allocated). Each
# layer's K/V (kept by the cache) and small tensors get carved out of the big blocks the previous
# layer's transients freed, so the next layer's transients no longer fit them whole and new
# segments are cudaMalloc'ed: what stays stranded grows with the transients, but by how much
# depends on the order of frees (sdpa runs: 0.15-1.1 x the peak transient, median 0.34, with no
# per-family rule we could find). A minimax fit on the 77 totals gives 0.12 (totals carry weights
# and KV beside it; leave-one-model-out error in bench/README.md), plus a floor for the
# small-block pool (2 MiB segments) and block rounding (20-145 MiB at the smallest cases).
RESERVE_FRACTION = 0.12
RESERVE_FLOOR_BYTES = 64 * MiB
# Eager attention: the largest freed blocks are the score tensors; the runs with > 1 GiB of
# scores strand 0.08-0.74 x the 10-byte score footprint (median 0.5, in steps of about one bf16
# score tensor, 0.2): about one fp32 softmax tensor (4 bytes per score element, what the free
# fit chooses too), whichever dtype the model runs in, on top of the reserve for the rest.
EAGER_RESERVE_BYTES_PER_SCORE = 4
# Persistent workspaces allocated through torch on the first matmul (cuBLAS; the runs show 32 MiB
# more allocated than the parameters once any matmul ran), and small per-forward tensors (rotary
# tables, position ids): a flat term in the activations.
WORKSPACE_BYTES = 32 * MiB

# Bytes per element of one eager score matrix at the softmax, by activation dtype (see above).
EAGER_SCORE_BYTES = {"bf16": 10, "fp16": 8, "fp32": 8}
# Intermediate-width tensors alive at once in the dense MLP, by model_type (default 3).
MLP_INTERMEDIATE_COPIES = {"phi3": 4}
# fp32 copies of the hidden states inside an RMSNorm (x.float(), x * rsqrt(...), gemma's weight).
NORM_FP32_COPIES = 3
# Types whose Mamba-1 mixer transformers runs through its PyTorch selective scan when mamba-ssm is
# not installed (``mamba_selective_scan`` in models/{jamba,mamba,falcon_mamba}/modeling_*.py: the
# sequential loop; mambapy's pscan only where that optional package is installed too).
MAMBA1_TORCH_SCAN = frozenset({"jamba", "mamba", "falcon_mamba"})
# Tensors of b x s x d_inner alive at the end of that scan (its locals live until it returns), in
# the model dtype: the in_proj output (x and gate, 2), the conv output, the time step (dt_proj's),
# softplus(dt + bias), the list of per-step outputs and their stack (or, a step later, silu(gate));
# and in fp32 (D is passed as D.float()): x * D and the sum with it (or the product with silu(gate)).
MAMBA1_INNER_COPIES = 7
MAMBA1_INNER_FP32_COPIES = 2
# fp32 tensors of b x s x d_inner x d_state the scan builds before its loop and holds through it:
# exp(A dt) (discrete_A), dt B (discrete_B) and dt B x (deltaB_u).
MAMBA1_SCAN_FP32_COPIES = 3
# Types whose short convolution is LFM2's ``Lfm2ShortConv`` (models/lfm2*/modeling_*.py; the VL
# model runs the LFM2 text model). Without causal-conv1d it runs F.conv1d on the whole prompt: the
# in_proj output (B, C, x: 3 x hidden) lives through the mixer beside, at most, the conv output,
# C x conv, its contiguous copy (or out_proj's output): 6 x hidden per token.
SHORT_CONV_TYPES = frozenset({"lfm2", "lfm2_moe", "lfm2_vl"})
SHORT_CONV_COPIES = 6
# How the answer names each mixer whose transformers prefill transients are not modelled.
MIXER_NAMES = {
    "mamba": "Mamba",
    "mamba2": "Mamba-2",
    "gated_deltanet": "gated DeltaNet",
    "kda": "Kimi Delta Attention",
    "short_conv": "short-convolution",
    "rwkv": "RWKV",
    "cca": "compressed convolutional attention",
    "mlstm": "mLSTM",
}


@cache
def attention_table() -> Mapping[str, Any]:
    """``data/attn_table.json`` (``tools/gen_attn_table.py``): each model type's auto class and whether it
    supports sdpa, flash-attention and flex_attention, read from the installed transformers' sources."""
    data: Mapping[str, Any] = json.loads(resources.files("estimator").joinpath("data/attn_table.json").read_text())
    return data


def attention_support(spec: ModelSpec) -> Mapping[str, Any] | None:
    """The table's entry for the model's type, or None when the table lacks it."""
    entry: Mapping[str, Any] | None = attention_table()["types"].get(spec.model_type)
    return entry


def _has_attention(spec: ModelSpec) -> bool:
    """Whether any layer attends (pure Mamba / RWKV stacks have no attention to choose)."""
    return not spec.layers or any(layer.kind in ("full", "sliding", "mla") for layer in spec.layers)


def fused_attention(spec: ModelSpec, query: Query) -> bool:
    """Fused attention as fa= says; unsaid, what ``from_pretrained`` picks without ``attn_implementation``:
    sdpa where the class supports it, else eager (``get_correct_attn_implementation``)."""
    if query.flash_attention is not None:
        return query.flash_attention
    support = attention_support(spec)
    # Attention-free stacks (Mamba, RWKV) have nothing to choose: their classes declare no sdpa.
    return True if support is None or not _has_attention(spec) else bool(support["sdpa"])


def _fused_options(support: Mapping[str, Any]) -> str:
    """The ``attn_implementation`` values that give the class fused attention besides sdpa."""
    options = []
    if support["flash_attn"]:
        options.append('"flash_attention_2" (or a flash kernel from the kernels library)')
    if support["flex_attn"]:
        options.append('"flex_attention"')
    return " or ".join(options)


def attention_notes(spec: ModelSpec, query: Query) -> list[Note]:
    """Why the attention sized is not sdpa, or what fa=on needs, when the model class has no sdpa."""
    support = attention_support(spec)
    if not _has_attention(spec):
        return []
    version = attention_table()["transformers_version"]
    if support is None:
        if query.flash_attention is not None:
            return []
        return [
            note(
                "attention_support_unread",
                f"vram's table of transformers {version}'s model classes lacks {spec.model_type}: sized with "
                "sdpa, what from_pretrained asks for first (fa=off sizes eager attention).",
            )
        ]
    if support["sdpa"]:
        return []
    cls, options = support["class"], _fused_options(support)
    if query.flash_attention is None:
        also = f"; fa=on sizes it loaded with attn_implementation={options}" if options else ""
        return [
            note(
                "eager_by_default",
                f"Eager attention: transformers {version}'s {cls} does not support sdpa, so from_pretrained "
                f"without attn_implementation runs eager{also}.",
            )
        ]
    if query.flash_attention and options:
        return [
            note(
                "fused_needs_attn_implementation",
                f"fa=on: transformers {version} does not run fused attention for {cls} by default (no sdpa: "
                f"from_pretrained falls back to eager); this sizes it loaded with attn_implementation={options}.",
            )
        ]
    return []


def _dtype(spec: ModelSpec, query: Query) -> TorchDType:
    """The dtype transformers runs in: ``dtype=fp32`` loads with torch_dtype=float32, and so on."""
    return resolve_dtypes(spec, query).model


def _kv_dtype_bytes(spec: ModelSpec, query: Query) -> int:
    """Bytes per cached element: the model dtype unless kv= names one."""
    return DTYPE_BYTES[resolve_dtypes(spec, query).kv_layout]


def _sliding_retention_bytes(spec: ModelSpec, query: Query) -> int:
    """Extra cache bytes sliding layers hold during prefill (the whole prompt, not the window)."""
    if query.kv == "off":
        return 0
    per_elem = _kv_dtype_bytes(spec, query)
    total = 0
    for layer in spec.layers:
        if layer.kind != "sliding" or layer.window is None:
            continue
        kept = min(query.seq_len, max(layer.window - 1, 0))
        extra_tokens = query.seq_len - kept
        if extra_tokens > 0:
            total += query.batch * extra_tokens * layer.kv_heads * (layer.key_dim + layer.value_dim) * per_elem
    # Layers are split across GPUs: each holds its share.
    return ceil_div(total, query.gpus)


def _has_sliding_mask(spec: ModelSpec, query: Query) -> bool:
    """sdpa needs an explicit mask for sliding layers once the prompt exceeds the window."""
    return any(
        layer.kind == "sliding" and layer.window is not None and query.seq_len > layer.window for layer in spec.layers
    )


def _attention_kinds(spec: ModelSpec) -> int:
    """How many distinct causal masks the model builds (full and/or sliding)."""
    kinds = {layer.kind for layer in spec.layers if layer.kind in ("full", "sliding", "mla")}
    has_full = bool(kinds & {"full", "mla"})
    has_sliding = "sliding" in kinds
    return max(1, int(has_full) + int(has_sliding))


def persistent_bytes(spec: ModelSpec, query: Query) -> int:
    """Tensors the model's forward keeps alive through every layer of the prefill.

    The embedding output (``inputs_embeds`` stays referenced; gemma also keeps its scaled copy),
    the rotary cos/sin tables, and the masks: eager builds a float mask per attention kind, sdpa
    a bool mask only for sliding layers once the prompt exceeds the window (else none).
    """
    dt = DTYPE_BYTES[_dtype(spec, query)]
    b, s = query.batch, query.seq_len
    tokens = b * s
    embeds = (2 if spec.model_type.startswith("gemma") else 1) * tokens * spec.hidden_size * dt
    rotary = 2 * tokens * spec.head_dim * dt
    if not fused_attention(spec, query):
        masks = _attention_kinds(spec) * b * s * s * dt
    elif _has_sliding_mask(spec, query):
        masks = b * s * s
    else:
        masks = 0
    return embeds + rotary + masks


def prefill_candidates(spec: ModelSpec, query: Query) -> dict[str, int]:
    """Each phase's transient bytes over weights + cache, for one GPU (the largest is the peak)."""
    dt = DTYPE_BYTES[_dtype(spec, query)]
    b, s = query.batch, query.seq_len
    tokens = b * s
    h = spec.hidden_size
    heads, kv_heads, hd = spec.num_attention_heads, spec.num_kv_heads, spec.head_dim
    q_width = heads * hd
    kv_width = kv_heads * hd
    keep = persistent_bytes(spec, query)
    # Inside a decoder layer: its input (still referenced by the caller's loop), the residual
    # after attention, and the normed input of the MLP; attention sees the input and its norm.
    mlp_stream = 3 * tokens * h * dt
    attn_stream = 2 * tokens * h * dt

    out: dict[str, int] = {}

    # RMSNorm: the layer input and residual, plus fp32 copies of the hidden states.
    out["norm"] = keep + tokens * h * (2 * dt + NORM_FP32_COPIES * 4)

    if spec.intermediate_size > 0:
        copies = MLP_INTERMEDIATE_COPIES.get(spec.model_type, 3)
        out["prefill MLP"] = keep + mlp_stream + copies * tokens * spec.intermediate_size * dt

    if spec.num_experts > 0 and spec.experts_per_token > 0 and spec.moe_intermediate_size > 0:
        rows = tokens * spec.experts_per_token
        # grouped_mm: the gathered rows stay alive throughout; gate/up output and its masked
        # copy (or act(gate), the product and gate/up), then the down output, its masked copy,
        # the weighted rows and their re-ordered copy (4 x hidden per row).
        per_row = max(h + 4 * spec.moe_intermediate_size, 4 * h)
        out["prefill MoE experts"] = keep + mlp_stream + rows * per_row * dt

    if fused_attention(spec, query):
        attn = keep + attn_stream + tokens * (3 * q_width + 2 * kv_width) * dt
        if _has_sliding_mask(spec, query):
            # SDPA's float bias made from the bool mask, and keys/values repeated to every head
            # (GQA cannot be used with a mask).
            attn += b * s * s * dt + 2 * tokens * q_width * dt
        # An attention-free stack (Mamba-2, RWKV) runs only the layer's stream here.
        out["prefill attention" if _has_attention(spec) else "prefill layer stream"] = attn
    else:
        scores = b * heads * s * s * EAGER_SCORE_BYTES[_dtype(spec, query)]
        repeated = 2 * tokens * q_width * dt if kv_heads < heads else 0
        out["attention scores"] = keep + attn_stream + tokens * q_width * dt + repeated + scores

    if (scan := mamba1_scan_bytes(spec, query)) is not None:
        out["prefill Mamba scan"] = keep + attn_stream + scan
    conv = _short_conv_layers(spec)
    if conv:
        out["prefill short convolution"] = (
            keep + attn_stream + SHORT_CONV_COPIES * tokens * max(layer.conv_channels for layer in conv) * dt
        )

    # After the forward returns only the normed last hidden states are left, and the last
    # token's logits: bf16, the fp32 copy generate makes, and the processors' fp32 copy.
    out["logits"] = tokens * h * dt + b * spec.vocab_size * (dt + 8)

    if query.kv != "off" and spec.layers:
        per_elem = _kv_dtype_bytes(spec, query)
        widest = max(layer.kv_heads * max(layer.key_dim, layer.value_dim) for layer in spec.layers)
        out["decode cache copy"] = b * s * widest * per_elem
    return out


def _mamba1_layers(spec: ModelSpec) -> list[LayerKV]:
    return [layer for layer in spec.layers if layer.mixer == "mamba" and spec.model_type in MAMBA1_TORCH_SCAN]


def _short_conv_layers(spec: ModelSpec) -> list[LayerKV]:
    return [layer for layer in spec.layers if layer.mixer == "short_conv" and spec.model_type in SHORT_CONV_TYPES]


def mamba1_scan_bytes(spec: ModelSpec, query: Query) -> int | None:
    """A Mamba-1 mixer's transients in transformers' PyTorch path, beyond the layer's input and its norm.

    ``mamba_selective_scan`` discretises the whole prompt before its loop: exp(A dt), dt B and
    dt B x, each b x s x d_inner x d_state in fp32 (A is fp32), held to the end, beside the
    b x s x d_inner tensors of :data:`MAMBA1_INNER_COPIES` and :data:`MAMBA1_INNER_FP32_COPIES`
    (the small x_proj / norm outputs of b x s x (dt_rank + 2 d_state) are left out: under 1% of
    these). None: no such mixer here.
    """
    layers = _mamba1_layers(spec)
    if not layers:
        return None
    dt = DTYPE_BYTES[_dtype(spec, query)]
    tokens = query.batch * query.seq_len
    widest = max(layers, key=lambda layer: layer.ssm_state_elements)
    inner = widest.conv_channels
    per_token = (MAMBA1_INNER_COPIES * dt + MAMBA1_INNER_FP32_COPIES * 4) * inner
    return tokens * (per_token + MAMBA1_SCAN_FP32_COPIES * widest.ssm_state_elements * 4)


def unmodelled_layers(spec: ModelSpec) -> str | None:
    """The sentence withholding the verdict when state layers' prefill transients are not modelled."""
    modelled = {id(layer) for layer in _mamba1_layers(spec) + _short_conv_layers(spec)}
    kinds = sorted(
        {
            MIXER_NAMES.get(layer.mixer, "state-space")
            for layer in spec.layers
            # Falcon-H1 and Zamba2 run a Mamba-2 mixer beside attention in the same layer.
            if (layer.kind == "state" or layer.mixer) and id(layer) not in modelled
        }
    )
    if not kinds:
        return None
    return (
        f"transformers' prefill activations of the {' and '.join(kinds)} layers are not modelled: the total "
        "leaves them out (engine=vllm sizes these layers)"
    )


def eager_score_elements(spec: ModelSpec, query: Query) -> int:
    """Elements of one layer's eager score matrix: b x heads x s x s (0 with fused attention)."""
    if fused_attention(spec, query):
        return 0
    return query.batch * spec.num_attention_heads * query.seq_len * query.seq_len


def reserve_terms(spec: ModelSpec, query: Query, *, activations: int, where: str) -> tuple[OverheadTerm, ...]:
    """The caching allocator's reserve over the allocated peak (see the constants above), in parts.

    A floor plus a share of the transient that is not eager scores, and, with eager attention,
    about one fp32 score tensor stranded by the score blocks' reuse.
    """
    elements = eager_score_elements(spec, query)
    scores_in_peak = elements * EAGER_SCORE_BYTES[_dtype(spec, query)] if where == "attention scores" else 0
    other = max(activations - scores_in_peak, 0)
    floor = RESERVE_FLOOR_BYTES
    reserve = OverheadTerm(part="reserve", bytes=floor + int(RESERVE_FRACTION * other), basis=other, floor=floor)
    if not elements:
        return (reserve,)
    scores = OverheadTerm(part="eager_scores", bytes=EAGER_RESERVE_BYTES_PER_SCORE * elements, basis=elements)
    return reserve, scores


def transformers_terms(spec: ModelSpec, query: Query, *, weights_bytes: int, kv_cache_bytes: int) -> EngineTerms:
    """Activations and overhead of ``generate`` (b sequences of s tokens), per GPU.

    ``weights_bytes`` and ``kv_cache_bytes`` are the per-GPU terms these add to; the transients
    do not depend on them (kept in the signature for profiles that size pools from them).
    """
    candidates = prefill_candidates(spec, query)
    where, peak = max(candidates.items(), key=lambda kv: kv[1])
    retention = _sliding_retention_bytes(spec, query)
    if retention > peak:
        where = "sliding-window prefill cache"
    activations = peak + retention + WORKSPACE_BYTES

    parts = (
        OverheadTerm(part="context", bytes=CUDA_CONTEXT_BYTES),
        *reserve_terms(spec, query, activations=activations, where=where),
    )
    return EngineTerms(
        activations=activations,
        overhead=sum(t.bytes for t in parts),
        overhead_terms=parts,
        activation_where=where,
        warnings=terms_warnings(spec, query),
        unmodelled=unmodelled_layers(spec),
    )


def terms_warnings(spec: ModelSpec, query: Query) -> tuple[Note, ...]:
    """What the transformers terms leave out or assume, for the whole model."""
    warnings: list[Note] = []
    if _mamba1_layers(spec):
        fp32 = (
            MAMBA1_SCAN_FP32_COPIES
            * query.batch
            * query.seq_len
            * max(layer.ssm_state_elements for layer in _mamba1_layers(spec))
            * 4
        )
        warnings.append(
            note(
                "state_scan_torch_path",
                f"Mamba layers sized as transformers runs them without mamba-ssm installed: its PyTorch scan "
                f"holds {fp32 / 2**30:,.1f} GiB of fp32 b x s x d_inner x d_state tensors; with mamba-ssm and "
                "causal-conv1d installed it runs their CUDA kernels, which do not build them.",
            )
        )
    if query.kv in ("fp8", "int8"):
        # DynamicCache keeps K/V in the model dtype; only QuantizedCache (quanto int2/int4, HQQ)
        # stores fewer bits, with scales and a window of recent tokens left in full precision.
        warnings.append(
            note(
                "kv_dtype_not_stored",
                f"transformers' default cache keeps K/V in the model dtype: kv={query.kv} counts 1 byte per "
                'element, which only a quantized cache (cache_implementation="quantized") or engine=vllm '
                "(kv=fp8) gives",
            )
        )
    if query.gpus > 1:
        warnings.append(
            note(
                "layer_split",
                f'transformers places whole layers on each GPU (device_map="auto"), not tensor parallel: the '
                f"busiest of the {query.gpus} GPUs decides, and each runs full-width activations, which more GPUs "
                "do not divide",
            )
        )
    return tuple(warnings)


def layer_runs(num_layers: int, gpus: int) -> list[tuple[int, int]]:
    """Contiguous [start, stop) runs of layers per GPU, as even as the count allows (first GPUs +1)."""
    base, extra = divmod(num_layers, gpus)
    runs, start = [], 0
    for i in range(gpus):
        stop = start + base + (1 if i < extra else 0)
        runs.append((start, stop))
        start = stop
    return runs


class _Run(Frozen):
    """What one contiguous run of layers costs a GPU whatever its weights: the terms and the cache."""

    terms: EngineTerms
    kv_cache: int
    kv_bytes_per_token: int
    state_bytes_per_sequence: int


@by_spec(size=8)
def _layer_codes(layers: tuple[LayerKV, ...]) -> tuple[int, ...]:
    """One small integer per layer, equal for equal layers: a run's composition as a cheap key."""
    codes: dict[LayerKV, int] = {}
    return tuple(codes.setdefault(layer, len(codes)) for layer in layers)


# Few entries: one card's search uses one; a deep model with mixed layers has up to L^2 / 2 runs.
@by_spec(size=4)
def _runs_of(spec: ModelSpec, query: Query, kv: KVDType | None) -> dict[tuple[int, ...], _Run]:
    """The runs already sized for this spec and one-GPU query: the fewest-GPU search asks for the same
    compositions at every count it tries (a model of identical layers has two run lengths per count)."""
    return {}


def _run(
    spec: ModelSpec,
    start: int,
    stop: int,
    single: Query,
    kv: KVDType | None,
    *,
    codes: tuple[int, ...],
    runs: dict[tuple[int, ...], _Run],
) -> _Run:
    """One run of layers sized, or taken from ``runs`` (keyed by the layers' ``codes``): the caller looks
    both up once per split, not once per run."""
    key = codes[start:stop]
    if (hit := runs.get(key)) is not None:
        return hit
    part = spec.model_copy(update={"layers": spec.layers[start:stop]})
    cache = 0 if kv is None else kv_cache_bytes(part, seq_len=single.seq_len, batch=single.batch, kv_dtype=kv)
    # The terms do not depend on the weights or the cache they add to (transformers_terms' docstring).
    run = _Run(
        terms=transformers_terms(part, single, weights_bytes=0, kv_cache_bytes=cache),
        kv_cache=cache,
        kv_bytes_per_token=kv_bytes_per_token(part, kv) if kv else 0,
        state_bytes_per_sequence=state_bytes_per_sequence(part) if kv else 0,
    )
    runs[key] = run
    return run


def layer_share(spec: ModelSpec, query: Query, dtypes: Dtypes, *, weights: int) -> GpuShare:
    """The busiest GPU's weights, KV cache, activations and overhead when ``device_map="auto"`` splits
    the layers over ``query.gpus`` GPUs; ``weights`` are the whole model's."""
    dt = DTYPE_BYTES[dtypes.model]
    p = spec.params
    first = (p.embedding + p.vision) * dt
    last = p.lm_head * dt  # 0 when tied: the head is the embedding, on the first GPU
    layers = len(spec.layers) or spec.num_layers
    per_layer = max(weights - first - last, 0) / max(layers, 1)
    single = query.model_copy(update={"gpus": 1})
    best: GpuShare | None = None
    best_total = -1
    codes, sized = _layer_codes(spec.layers), _runs_of(spec, single, dtypes.kv)
    runs = layer_runs(layers, query.gpus)
    for i, (start, stop) in enumerate(runs):
        run = _run(spec, start, stop, single, dtypes.kv, codes=codes, runs=sized)
        w = round(per_layer * (stop - start)) + (first if i == 0 else 0) + (last if i == len(runs) - 1 else 0)
        total = w + run.kv_cache + run.terms.activations + run.terms.overhead
        if total > best_total:
            share = GpuShare(
                weights=w,
                kv_cache=run.kv_cache,
                terms=run.terms,
                layers=stop - start,
                kv_bytes_per_token=run.kv_bytes_per_token,
                kv_state_bytes_per_sequence=run.state_bytes_per_sequence,
            )
            best, best_total = share, total
    assert best is not None
    whole = {"warnings": terms_warnings(spec, query), "unmodelled": unmodelled_layers(spec)}
    return best.model_copy(update={"terms": best.terms.model_copy(update=whole)})


# The NVIDIA compute capability below which transformers 5.25 loads a pre-quantized checkpoint
# dequantized to bf16 (``validate_environment`` in quantizers/quantizer_finegrained_fp8.py: "FP8
# quantized models is only supported on GPUs with compute capability >= 8.9"; quantizer_mxfp4.py:
# "MXFP4 quantization is only supported on GPUs with compute capability >= 7.5"). ROCm devices report
# 9.x there, so AMD GPUs keep the format.
_DEQUANTIZED_BELOW: dict[str, tuple[int, int]] = {"fp8": (8, 9), "mxfp4": (7, 5)}


def dequantized_query(spec: ModelSpec, query: Query, gpu: GPU | None) -> tuple[Query, str | None]:
    """A pre-quantized FP8 or MXFP4 checkpoint on an NVIDIA GPU older than its kernels: transformers
    loads it as bf16 (``dequantize=True``), which ``dtype=bf16`` sizes; else the query as asked."""
    q = spec.quantization
    needed = _DEQUANTIZED_BELOW.get(q.method)
    # Another format asked is a conversion on load (its own rules); the checkpoint's own, named, is not.
    asked = query.weight_format not in (None, q.format) or query.bits not in (None, q.weight_bits)
    if (
        needed is None
        or asked
        or q.expert_format
        or gpu is None
        or gpu.vendor != "nvidia"
        or gpu.compute_capability is None
        or gpu.compute_capability >= needed
    ):
        return query, None
    name = "FP8" if q.method == "fp8" else "MXFP4"
    major, minor = gpu.compute_capability
    return query.model_copy(update={"weight_format": "bf16", "bits": None}), (
        f"transformers loads {name} weights dequantized to bf16 on the {gpu.name} (compute capability "
        f"{major}.{minor}; its {name} kernels need {needed[0]}.{needed[1]}): the weights are sized in bf16, "
        f"as dtype=bf16 sizes them"
    )


def _nvfp4_refusal(spec: ModelSpec, query: Query) -> str | None:
    """NVFP4Config quantizes on load only on one CUDA device of compute capability 10.0 or more
    (``validate_environment`` in quantizers/quantizer_nvfp4.py, transformers 5.25)."""
    if spec.quantization.method != "none":
        return None
    if conversion_asked(spec, weight_format=query.weight_format, bits=query.bits) != "nvfp4":
        return None
    if query.gpus > 1:
        return (
            f"transformers quantizes to NVFP4 on load (NVFP4Config) on one GPU only, not over gpus={query.gpus}: "
            "use gpus=1, or engine=vllm with an NVFP4 checkpoint"
        )
    gpu = lookup_gpu(query.gpu) if query.gpu else None
    if gpu is None or (gpu.compute_capability is not None and gpu.compute_capability[0] >= 10):
        return None
    cc = (
        f"compute capability {gpu.compute_capability[0]}.{gpu.compute_capability[1]}"
        if gpu.compute_capability
        else ("not an NVIDIA GPU")
    )
    return (
        f"transformers quantizes to NVFP4 on load (NVFP4Config) only on Blackwell GPUs (compute capability 10.0 "
        f"and up), and the {gpu.name} is {cc}: pick a B200-class GPU, or another dtype= (fp8, int4, nf4)"
    )


class TransformersEngine(BaseEngine):
    """HF transformers ``generate``: the prefill peak over weights and a growing ``DynamicCache``."""

    name: ClassVar[str] = "transformers"
    aliases: ClassVar[tuple[str, ...]] = ("hf", "huggingface")
    label: ClassVar[str] = "transformers"
    help: ClassVar[str] = "HF transformers `generate` (the default)"
    split: ClassVar[Literal["tensor", "layers"]] = "layers"

    def layer_share(self, spec: ModelSpec, query: Query, gpu: GPU | None, dtypes: Dtypes, *, weights: int) -> GpuShare:
        return layer_share(spec, query, dtypes, weights=weights)

    def tp_sizes(self, spec: ModelSpec, limit: int, query: Query | None = None) -> tuple[int, ...]:
        """Any number of GPUs up to one layer each."""
        return tuple(range(1, min(limit, len(spec.layers) or spec.num_layers) + 1))

    def converts_on_load(self, query: Query) -> tuple[str, ...]:
        """The formats a quantization config in ``from_pretrained`` produces from a float checkpoint
        (transformers 5.25 ``quantizers/``): FineGrainedFP8Config (fp8), BitsAndBytesConfig (int8, nf4),
        TorchAoConfig and HqqConfig (int4; HQQ also 2 and 3 bits), Mxfp4Config and NVFP4Config (they
        quantize on the fly), GPTQConfig with a calibration dataset. AWQ checkpoints come from AutoAWQ
        or llm-compressor, and no config writes 5- or 6-bit weights."""
        return ("fp8", "int8", "nf4", "int4", "mxfp4", "nvfp4", "gptq", "2-bit", "3-bit")

    def setting_refusal(self, query: Query) -> str | None:
        """vLLM's quantized KV layouts, which transformers' caches do not have; vLLM's pipeline stages and
        data-parallel replicas."""
        if query.pp > 1:
            return (
                f"pp={query.pp} is vLLM's pipeline parallelism: transformers spreads the layers over gpus= "
                f"itself (device_map), so write gpus={query.gpus * query.pp}, or add engine=vllm"
            )
        if query.dp > 1:
            return (
                f"dp={query.dp} is vLLM's data parallelism (engine replicas, each with its own KV cache): "
                "transformers runs one copy of the model; add engine=vllm, or size one copy"
            )
        if query.kv in ("nvfp4", "int8_per_token_head"):
            return (
                f"transformers has no {query.kv} KV cache (it is a vLLM layout): use engine=vllm, or "
                "kv=fp8 / kv=int8 to count one byte per element"
            )
        return None

    def loaded_query(self, spec: ModelSpec, query: Query, gpu: GPU | None) -> tuple[Query, str | None]:
        return dequantized_query(spec, query, gpu)

    def fused_attention(self, spec: ModelSpec, query: Query) -> bool:
        return fused_attention(spec, query)

    def refusal(self, spec: ModelSpec, query: Query) -> str | None:
        support = attention_support(spec)
        fusable = support is None or support["sdpa"] or _fused_options(support)
        if query.flash_attention is True and not fusable and _has_attention(spec):
            assert support is not None
            return (
                f"transformers runs only eager attention for {support['class']} (it supports neither sdpa, "
                "flash-attention nor flex_attention), so fa=on cannot be run: drop fa= or write fa=off"
            )
        if spec.quantization.method == "modelopt" and query.weight_format is None and query.bits is None:
            # quantizers/auto.py (transformers 5.x) maps no "modelopt" quant_method to a quantizer.
            return "transformers has no ModelOpt quantizer, so it cannot load this NVFP4 checkpoint; use engine=vllm"
        if nvfp4 := _nvfp4_refusal(spec, query):
            return nvfp4
        layers = len(spec.layers) or spec.num_layers
        if query.gpus <= layers:
            return None
        return (
            f"transformers places whole layers on each GPU: gpus={query.gpus} is more than the model's "
            f"{layers} layers, so some GPUs would hold nothing; use gpus={layers} at most"
        )

    def terms(
        self, spec: ModelSpec, query: Query, gpu: GPU | None, dtypes: Dtypes, *, weights: int, kv_cache: int
    ) -> EngineTerms:
        return transformers_terms(spec, query, weights_bytes=weights, kv_cache_bytes=kv_cache)

    def kv_terms(self, spec: ModelSpec, query: Query, gpu: GPU | None, kv_cache: int) -> tuple[KvTerm, ...]:
        """The KV row by layer kind where bytes per token x s x b do not say it: sliding-window layers
        (they keep ``window - 1`` tokens) and compressed layers. With several GPUs the row is the
        busiest GPU's layers: the run of layers whose cache is the row's."""
        if query.method != "calibrated" or query.batch <= 0 or spec.cache_shared_bytes:
            return ()
        if any(layer.prefix_tokens for layer in spec.layers):
            return ()
        kv = resolve_dtypes(spec, query).kv
        if kv is None:
            return ()
        if query.gpus > 1:
            runs = layer_runs(len(spec.layers), query.gpus) if spec.layers else []
            parts = (spec.model_copy(update={"layers": spec.layers[a:b]}) for a, b in runs)
            found = next(
                (
                    part
                    for part in parts
                    if kv_cache_bytes(part, seq_len=query.seq_len, batch=query.batch, kv_dtype=kv) == kv_cache
                ),
                None,
            )
            if found is None:
                return ()
            spec = found
        sliding = any(layer.kind == "sliding" and layer.window for layer in spec.layers)
        compressed = any(layer.compress_rate for layer in spec.layers)
        if not (sliding or compressed):
            return ()
        kinds: dict[str, KvPart] = {"full": "attention", "sliding": "sliding", "compressed": "compressed"}
        terms = tuple(
            KvTerm(
                part=kinds.get(p.kind, "state"),
                layers=p.layers,
                bytes_per_token=p.bytes_per_token,
                tokens=p.tokens,
                bytes_per_sequence=p.bytes_per_sequence,
                window=p.window,
                compress_rate=p.compress_rate,
            )
            for p in contiguous_parts(spec, seq_len=query.seq_len, kv_dtype=kv)
        )
        if sum(t.bytes_per_sequence for t in terms) * query.batch != kv_cache:
            return ()  # a cache these parts do not describe: the per-token rule says it
        return terms

    def notes(self, spec: ModelSpec, query: Query, gpu: GPU | None) -> list[Note]:
        notes = []
        if spec.max_position_embeddings and query.seq_len > spec.max_position_embeddings:
            notes.append(
                note(
                    "context_window_exceeded",
                    f"s={query.seq_len:,} is longer than the model's "
                    f"context window ({spec.max_position_embeddings:,} tokens).",
                )
            )
        notes += attention_notes(spec, query)
        refusal = self.refusal(spec, query)
        if refusal and gpu is None:  # with a GPU the verdict says it
            notes.append(note("engine_refuses", refusal + "."))
        return notes


ENGINE = TransformersEngine()
