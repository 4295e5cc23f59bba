"""Weight bytes: what one GPU holds for the model's weights, by format and tensor-parallel share.

The model is ``spec.linears`` (matrices a scheme may quantize, plus an untied ``lm_head``) and the
rest of ``spec.params`` (embedding, norms, biases, routers, SSM parameters, vision tower), which
stays in the torch dtype unless the user asks for a float dtype for everything.

Choices worth knowing:

- With no ``dtype=``/``p=`` override and the checkpoint's exact bytes known
  (``spec.checkpoint_bytes``), the answer is those bytes: what is stored is what is loaded. One
  exception: a tied model whose checkpoint also stores ``lm_head`` (Qwen3-0.6B) is re-tied on load
  by transformers and vLLM, so the duplicate is not counted.
- Tensor parallelism: column-parallel matrices split their outputs, row-parallel their inputs,
  the embedding and ``lm_head`` their vocabulary rows (each GPU holds ``ceil(V / gpus)``), K/V
  projections by KV heads (replicated where gpus > KV heads); norms, biases, routers, replicated
  projections (MLA's ``*_a_proj``) and vision towers are replicated. With checkpoint bytes, the
  per-GPU share is the checkpoint bytes less what the split removes from the modelled bytes.
- Overrides quantize the text stack's linear layers on load: ``fp8`` with one fp32 scale per
  tensor (vLLM's online FP8), ``int8`` with an fp32 scale per output channel, ``int4``/``p=4``
  with an fp16 scale per 128 inputs (symmetric), ``gptq``/``awq`` int4 g128 with packed zero
  points (GPTQ also its int32 ``g_idx``), ``nf4`` as bitsandbytes' default (absmax fp32 per 64,
  no double quantization), ``mxfp4`` (an e8m0 scale byte per 32), ``nvfp4`` (an FP8 scale byte
  per 16 and two fp32 global scales per matrix, as an NVFP4 W4A4 checkpoint stores them), and
  ``p=2,3,5,6`` as k-bit weights with an fp16 scale per 32.
- NVFP4 checkpoints leave unquantized what their quantization config's ignore list
  (compressed-tensors ``ignore``, ModelOpt ``exclude_modules``) names: see :func:`ignored_components`.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, NamedTuple

from common.errors import ConfigError, InputError
from estimator.arith import ceil_div as _cdiv
from estimator.dtypes import FORMAT_BITS
from estimator.eplb import eplb_served
from estimator.spec import (
    DTYPE_BYTES,
    FLOAT_FORMATS,
    LinearComponent,
    LinearWeights,
    ModelSpec,
    Quantization,
    WeightFormat,
)

if TYPE_CHECKING:
    from estimator.query import Query

_QUANTIZED_COMPONENTS = {"attention", "dense_mlp", "routed_experts", "shared_experts", "other"}


@dataclass(frozen=True)
class _Scheme:
    """How weights are laid out in memory (internal; built from the spec or an override)."""

    kind: str  # dense, fp8, int8, int4 (packed ints of `bits`, GPTQ/AWQ style), nf4, bnb8, mxfp4, kbits
    name: str
    dense_bytes: int  # bytes per element of everything not quantized
    scope: str = "linear"  # linear | experts
    bits: int = 16
    group: int | None = None
    block: tuple[int, int] | None = None
    granularity: str = "channel"
    scale_bytes: int = 2
    zero_points: bool = False
    g_idx: bool = False
    double_quant: bool = False
    shape_bytes: int = 0  # compressed-tensors stores each packed matrix's shape (2 x int64)
    tensor_scales: int = 0  # fp32 per-tensor scales per quantized matrix (NVFP4's global scales)
    ignored: frozenset[str] = frozenset()  # components the checkpoint's ignore list keeps unquantized
    expert_kind: Literal["", "mxfp4"] = ""  # routed experts in another kind than ``kind`` (mxfp4 beside fp8); "" none


def _quantized(
    q: Quantization,
    torch_bytes: int,
    name: str,
    kind: str,
    *,
    double_quant: bool = False,
    g_idx: bool = False,
    shape_bytes: int = 0,
) -> _Scheme:
    """A quantized scheme laid out as the checkpoint's quantization config says."""
    return _Scheme(
        kind=kind,
        name=name,
        dense_bytes=torch_bytes,
        scope=q.scope,
        bits=q.weight_bits,
        group=q.group_size,
        block=q.block_size,
        granularity=q.granularity,
        scale_bytes=q.scale_bytes,
        zero_points=q.zero_points,
        g_idx=g_idx,
        double_quant=double_quant,
        shape_bytes=shape_bytes,
        tensor_scales=q.tensor_scales,
        expert_kind=q.expert_format,
        ignored=ignored_components(q.skipped_modules, q.method) if kind == "nvfp4" else frozenset(),
    )


# One module name per kind of matrix vram lists, in the spellings of the HF checkpoints ignore lists
# are written against (Llama / Qwen / Mixtral / DeepSeek / Qwen3-Next and Qwen3.5 / Mamba names),
# under the decoder-layer prefixes of text-only and multimodal checkpoints.
_COMPONENT_MODULES: dict[str, tuple[str, ...]] = {
    "attention": (
        "self_attn.q_proj",
        "self_attn.k_proj",
        "self_attn.v_proj",
        "self_attn.o_proj",
        "self_attn.qkv_proj",
        "self_attn.q_a_proj",
        "self_attn.q_b_proj",
        "self_attn.kv_a_proj_with_mqa",
        "self_attn.kv_b_proj",
    ),
    "dense_mlp": ("mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"),
    "routed_experts": (
        "mlp.experts.0.gate_proj",
        "mlp.experts.0.up_proj",
        "mlp.experts.0.down_proj",
        "block_sparse_moe.experts.0.w1",
        "block_sparse_moe.experts.0.w2",
        "block_sparse_moe.experts.0.w3",
    ),
    "shared_experts": (
        "mlp.shared_expert.gate_proj",
        "mlp.shared_expert.up_proj",
        "mlp.shared_expert.down_proj",
        "mlp.shared_experts.gate_proj",
        "mlp.shared_experts.up_proj",
        "mlp.shared_experts.down_proj",
    ),
    "other": (
        "linear_attn.in_proj_qkvz",
        "linear_attn.in_proj_ba",
        "linear_attn.in_proj_qkv",
        "linear_attn.in_proj_z",
        "linear_attn.out_proj",
        "mixer.in_proj",
        "mixer.out_proj",
    ),
}
_LAYER_PREFIXES = (
    "model.layers.0.",
    "model.language_model.layers.0.",
    "language_model.model.layers.0.",
    "backbone.layers.0.",
)
_LAYER_NUMBER = re.compile(r"layers\.\d+\.")


def _ignores(entry: str, name: str, method: str) -> bool:
    """Whether one ignore-list entry names the module: compressed-tensors and vLLM take ``re:``
    entries as ``re.match`` patterns and others as exact names; vLLM's ModelOpt config
    (``ModelOptQuantConfigBase.is_layer_excluded``, modelopt.py@v0.20.0) also takes an entry found
    inside the name (here only as whole dotted parts, so a router's ``mlp.gate`` does not take
    ``mlp.gate_proj`` with it) and shell patterns (``fnmatch``). An exact name of one decoder layer
    counts for the kind of matrix it is."""
    if entry.startswith("re:"):
        try:
            return re.match(entry[3:], name) is not None
        except re.error as err:
            # vLLM's re.match raises the same and the load fails (quantization/utils/config_utils.py
            # is_equal_or_regex_match@v0.33.0): no guess of what the entry meant to keep.
            raise ConfigError(
                f"the quantization config's ignore entry {entry!r} is not a regular expression ({err})"
            ) from None
    entry = _LAYER_NUMBER.sub("layers.0.", entry)
    if method == "modelopt":
        return f".{entry}." in f".{name}." or fnmatch.fnmatchcase(name, entry)
    return entry == name


def ignored_components(skipped: tuple[str, ...], method: str) -> frozenset[str]:
    """The kinds of matrix an ignore list keeps unquantized: those one of whose module names (in any
    of the usual decoder-layer prefixes) an entry names. A list that names some layers only is taken
    for the whole kind (vram does not count matrices per layer)."""
    out: set[str] = set()
    for component, modules in _COMPONENT_MODULES.items():
        names = [prefix + module for prefix in _LAYER_PREFIXES for module in modules]
        if any(_ignores(entry, name, method) for entry in skipped for name in names):
            out.add(component)
    return frozenset(out)


def _from_quantization(q: Quantization, torch_bytes: int, name: str) -> _Scheme:
    if q.method == "none":
        return _Scheme(kind="dense", name=name, dense_bytes=DTYPE_BYTES[q.format])
    if q.format == "fp8":
        return _quantized(q, torch_bytes, name, "fp8")
    if q.method == "bitsandbytes":
        if q.format == "nf4":
            return _quantized(q, torch_bytes, name, "nf4", double_quant=q.double_quant)
        return _quantized(q, torch_bytes, name, "bnb8")
    if q.format == "mxfp4":
        return _quantized(q, torch_bytes, name, "mxfp4")
    if q.format == "nvfp4":
        return _quantized(q, torch_bytes, name, "nvfp4")
    if q.format == "int8":
        return _quantized(q, torch_bytes, name, "int8")
    if q.method in ("gptq", "awq", "compressed-tensors"):
        return _quantized(
            q,
            torch_bytes,
            name,
            "int4",
            g_idx=q.method == "gptq",
            shape_bytes=16 if q.method == "compressed-tensors" else 0,
        )
    raise AssertionError(q)  # config.py only builds the schemes above


def _checkpoint_name(spec: ModelSpec) -> str:
    q = spec.quantization
    group = f"g{q.group_size}" if q.group_size else "per-channel"
    if q.method == "none":
        return q.format
    if q.method in ("gptq", "awq"):
        return f"{q.method} int{q.weight_bits} {group}"
    if q.method == "mxfp4":
        return f"mxfp4 experts + {spec.torch_dtype}" if q.scope == "experts" else "mxfp4"
    if q.method == "bitsandbytes":
        return "nf4" if q.format == "nf4" else "int8 (bitsandbytes)"
    if q.format == "nvfp4":
        return f"nvfp4 ({q.method})"
    if q.format == "fp8":
        fp8 = f"fp8 block {q.block_size[0]}x{q.block_size[1]}" if q.block_size else "fp8"
        return f"{q.expert_format} experts + {fp8}" if q.expert_format else fp8
    if q.format == "int8":
        return "int8 w8a8"
    return f"int{q.weight_bits} {group}"


def _override(spec: ModelSpec, weight_format: WeightFormat | None, bits: int | None) -> _Scheme | None:
    """The scheme a ``dtype=``/``p=`` override asks for, or None when it is the checkpoint's own."""
    if weight_format is None and bits is None:
        return None
    q = spec.quantization
    if weight_format is not None and bits is not None and FORMAT_BITS[weight_format] != bits:
        raise InputError(
            f"dtype={weight_format} stores {FORMAT_BITS[weight_format]}-bit weights, "
            f"so p={bits} contradicts it; give one of them."
        )
    if weight_format is None:
        assert bits is not None
        if bits == q.weight_bits and (q.method != "none" or (bits == 16 and spec.torch_dtype != "fp32")):
            return None
        if q.method == "none" and bits == 32 and q.format == "fp32":
            return None
        weight_format = {
            16: "bf16" if spec.torch_dtype == "fp32" else spec.torch_dtype,
            32: "fp32",
            8: "int8",
            4: "int4",
        }.get(bits)
        if weight_format is None:
            if bits not in (2, 3, 5, 6):
                raise InputError(f"p={bits} is not a weight width vram knows; use 2, 3, 4, 5, 6, 8, 16 or 32.")
            return _Scheme(
                kind="kbits",
                name=f"{bits}-bit g32",
                dense_bytes=DTYPE_BYTES[spec.torch_dtype],
                bits=bits,
                group=32,
                scale_bytes=2,
            )
    if weight_format == q.format and (q.method == "none" or weight_format not in FLOAT_FORMATS):
        return None
    if weight_format in FLOAT_FORMATS:
        return _Scheme(kind="dense", name=weight_format, dense_bytes=DTYPE_BYTES[weight_format])
    dense = DTYPE_BYTES[spec.torch_dtype]
    if weight_format == "fp8":
        return _Scheme(kind="fp8", name="fp8", dense_bytes=dense, bits=8, granularity="tensor", scale_bytes=4)
    if weight_format == "int8":
        return _Scheme(kind="int8", name="int8", dense_bytes=dense, bits=8, scale_bytes=4)
    if weight_format == "int4":
        return _Scheme(kind="int4", name="int4 g128", dense_bytes=dense, bits=4, group=128, scale_bytes=2)
    if weight_format in ("gptq", "awq"):
        return _Scheme(
            kind="int4",
            name=f"{weight_format} int4 g128",
            dense_bytes=dense,
            bits=4,
            group=128,
            scale_bytes=2,
            zero_points=True,
            g_idx=weight_format == "gptq",
        )
    if weight_format == "nf4":
        return _Scheme(kind="nf4", name="nf4", dense_bytes=dense, bits=4, group=64, scale_bytes=4)
    if weight_format == "mxfp4":
        return _Scheme(kind="mxfp4", name="mxfp4", dense_bytes=dense, bits=4, group=32, scale_bytes=1)
    if weight_format == "nvfp4":
        return _Scheme(kind="nvfp4", name="nvfp4", dense_bytes=dense, bits=4, group=16, scale_bytes=1, tensor_scales=2)
    raise InputError(f"dtype={weight_format} is not a weight format vram knows.")


def _matrix_bytes(s: _Scheme, in_f: int, out_f: int) -> int:
    """Bytes of one [out_f, in_f] matrix stored in scheme ``s`` (quantized kinds only)."""
    n = in_f * out_f
    if s.kind == "fp8":
        if s.block is not None:
            scales = _cdiv(out_f, s.block[0]) * _cdiv(in_f, s.block[1])
        else:
            scales = 1 if s.granularity == "tensor" else out_f
        return n + scales * s.scale_bytes
    if s.kind in ("int8", "bnb8"):
        return n + (1 if s.granularity == "tensor" else out_f) * s.scale_bytes
    if s.kind == "int4":  # packed integers of s.bits (4 for int4/GPTQ/AWQ; GPTQ may use 2, 3 or 8)
        groups = _cdiv(in_f, s.group) if s.group else 1
        size = _cdiv(n * s.bits, 8) + groups * out_f * s.scale_bytes + s.shape_bytes
        if s.zero_points:
            size += _cdiv(groups * out_f * s.bits, 8)
        if s.g_idx:
            size += 4 * in_f
        return size
    if s.kind == "nf4":
        blocks = _cdiv(n, 64)
        if s.double_quant:  # absmax as uint8, plus an fp32 absmax per 256 blocks
            return _cdiv(n, 2) + blocks + 4 * _cdiv(blocks, 256)
        return _cdiv(n, 2) + 4 * blocks
    if s.kind == "mxfp4":
        return _cdiv(n, 2) + _cdiv(n, 32)
    if s.kind == "nvfp4":  # FP4 values two per byte, an FP8 scale per 16 inputs of each row, fp32 globals
        return _cdiv(n, 2) + out_f * _cdiv(in_f, 16) * s.scale_bytes + 4 * s.tensor_scales
    if s.kind == "kbits":
        return _cdiv(n * s.bits, 8) + _cdiv(n, s.group or 32) * s.scale_bytes
    raise AssertionError(s.kind)


def _quantized_matrix_bytes(s: _Scheme, lin: LinearWeights, in_f: int, out_f: int) -> int:
    """One quantized matrix of ``lin``: routed experts in their own kind where the checkpoint says so."""
    if s.expert_kind and lin.component == "routed_experts":
        return _matrix_bytes(_Scheme(kind=s.expert_kind, name=s.name, dense_bytes=s.dense_bytes), in_f, out_f)
    return _matrix_bytes(s, in_f, out_f)


def _share(lin: LinearWeights, spec: ModelSpec, gpus: int) -> tuple[int, int]:
    """(in_features, out_features) of one GPU's piece of ``lin``."""
    if gpus == 1 or lin.split == "none":
        return lin.in_features, lin.out_features
    if lin.split in ("column", "vocab"):
        return lin.in_features, _cdiv(lin.out_features, gpus)
    if lin.split == "row":
        return _cdiv(lin.in_features, gpus), lin.out_features
    heads = lin.out_features // spec.head_dim  # kv: split by KV heads, replicated past them
    # ceil: where gpus does not divide the KV heads, the busiest GPU holds the rounded-up share.
    return lin.in_features, _cdiv(heads, gpus) * spec.head_dim


def _is_quantized(s: _Scheme, lin: LinearWeights) -> bool:
    if s.kind == "dense" or lin.component == "lm_head" or lin.component in s.ignored:
        return False
    if s.scope == "experts":
        return lin.component == "routed_experts"
    return lin.component in _QUANTIZED_COMPONENTS


def _modelled_bytes(
    spec: ModelSpec, s: _Scheme, gpus: int, expert_gpus: int | None = None, experts_held: int | None = None
) -> int:
    p = spec.params
    linear_elements = sum(lin.in_features * lin.out_features * lin.count for lin in spec.linears)
    # Everything not in a listed matrix: norms, biases, routers, SSM params, vision. A tied lm_head
    # that the checkpoint also stores is re-tied on load (not counted).
    rest = p.total - linear_elements - p.embedding
    if spec.tie_word_embeddings:
        rest -= p.lm_head
    embedding = _cdiv(spec.vocab_size, gpus) * (p.embedding // spec.vocab_size) * s.dense_bytes
    return rest * s.dense_bytes + embedding + _linears_bytes(spec, s, spec.linears, gpus, expert_gpus, experts_held)


def _linears_bytes(
    spec: ModelSpec,
    s: _Scheme,
    linears: tuple[LinearWeights, ...],
    gpus: int,
    expert_gpus: int | None = None,
    experts_held: int | None = None,
) -> int:
    """Bytes ONE GPU holds for ``linears`` under scheme ``s``: quantized where it applies, else dense.
    ``expert_gpus`` (default ``gpus``) is what the routed experts are split over; ``experts_held``:
    the routed experts are instead held whole, this many of each MoE layer's ``spec.num_experts``."""
    total = 0
    for lin in linears:
        count = lin.count
        if lin.component == "routed_experts" and experts_held is not None and spec.num_experts:
            in_f, out_f = lin.in_features, lin.out_features
            count = lin.count // spec.num_experts * experts_held  # each MoE layer's matrices, whole
        else:
            split = expert_gpus if expert_gpus is not None and lin.component == "routed_experts" else gpus
            in_f, out_f = _share(lin, spec, split)
        if _is_quantized(s, lin):
            total += _quantized_matrix_bytes(s, lin, in_f, out_f) * count
        else:
            total += in_f * out_f * count * s.dense_bytes
    return total


def _scheme(spec: ModelSpec, weight_format: WeightFormat | None, bits: int | None) -> tuple[_Scheme, bool]:
    """The effective scheme, and whether it is the checkpoint's own."""
    override = _override(spec, weight_format, bits)
    if override is not None:
        return override, False
    return _from_quantization(spec.quantization, DTYPE_BYTES[spec.torch_dtype], _checkpoint_name(spec)), True


def weight_bytes(
    spec: ModelSpec,
    *,
    weight_format: WeightFormat | None = None,
    bits: int | None = None,
    gpus: int = 1,
    expert_gpus: int | None = None,
    experts_held: int | None = None,
) -> int:
    """Bytes ONE GPU holds for the weights (its tensor-parallel share). ``expert_gpus`` (default
    ``gpus``): the GPUs the routed experts are split over, where more than the tensor-parallel group
    share them (vLLM data parallelism of a MoE model: tp x dp). ``experts_held``: the routed experts
    are placed whole instead (vLLM expert parallelism), this many per MoE layer on the busiest GPU."""
    scheme, own = _scheme(spec, weight_format, bits)
    expert_gpus = None if expert_gpus == gpus else expert_gpus
    experts_held = None if experts_held == spec.num_experts and expert_gpus is None and gpus == 1 else experts_held
    share = _modelled_bytes(spec, scheme, gpus, expert_gpus, experts_held)
    if not own or spec.checkpoint_bytes is None:
        return share
    stored = spec.checkpoint_bytes
    if spec.tie_word_embeddings and spec.params.lm_head:
        stored -= spec.params.lm_head * DTYPE_BYTES[spec.torch_dtype]
    if gpus == 1 and expert_gpus is None and experts_held is None:
        return stored
    return max(0, stored - (_modelled_bytes(spec, scheme, 1) - share))


def redundant_experts(spec: ModelSpec, query: Query) -> int:
    """EPLB's redundant experts vLLM places (eplb= with ep=on, on a model it balances), else 0."""
    if query.eplb is None or not query.expert_parallel or query.engine != "vllm":
        return 0
    return query.eplb if eplb_served(spec, query.vllm) else 0


def query_weight_bytes(spec: ModelSpec, query: Query, gpus: int, *, layer_split: bool = False) -> int:
    """The weights one GPU holds with tensor parallelism over ``gpus``; the whole model's weights for
    an engine that splits layers (``layer_split``: its ``layer_share`` divides them)."""
    if layer_split:
        gpus = 1
    # vLLM data parallelism splits a MoE model's routed experts over every replica's GPUs (tp x dp);
    # the rest is each replica's own (estimator.engines.vllm.expert_split). With expert parallelism
    # (ep=on) they are placed whole instead, ceil(experts / (tp x dp)) on the busiest GPU
    # (estimator.engines.vllm.experts_per_gpu).
    held = None
    if query.expert_parallel and spec.num_experts:
        # EPLB (eplb=) adds redundant copies: vLLM places num_experts + redundant physical experts.
        held = -(-(spec.num_experts + redundant_experts(spec, query)) // (gpus * query.dp))
    weights = weight_bytes(
        spec,
        weight_format=query.weight_format,
        bits=query.bits,
        gpus=gpus,
        expert_gpus=gpus * query.dp,
        experts_held=held,
    )
    total = spec.pp_stage.whole_params if spec.pp_stage is not None else spec.params.total
    if query.params_billions is not None and total:
        # n= overrides the parameter count (of the whole model): scale the checkpoint's byte mix to it.
        weights = round(weights * query.params_billions * 1e9 / total)
    return weights


def linear_bytes(
    spec: ModelSpec,
    linears: tuple[LinearWeights, ...],
    *,
    weight_format: WeightFormat | None = None,
    bits: int | None = None,
    gpus: int = 1,
) -> int:
    """Bytes ONE GPU holds for ``linears`` (matrices beyond the spec's own) in the effective format."""
    scheme, _ = _scheme(spec, weight_format, bits)
    return _linears_bytes(spec, scheme, linears, gpus)


def matrix_share(lin: LinearWeights, spec: ModelSpec, gpus: int) -> tuple[int, int]:
    """(in_features, out_features) of one GPU's piece of one matrix of ``lin``."""
    return _share(lin, spec, gpus)


def matrix_values_bytes(
    spec: ModelSpec,
    component: LinearComponent,
    in_features: int,
    out_features: int,
    *,
    weight_format: WeightFormat | None = None,
    bits: int | None = None,
) -> int:
    """Bytes of the values tensor alone (no scales, zero points or shapes) of one ``in_features`` x
    ``out_features`` matrix of ``component`` in the effective format: one tensor as an engine
    allocates it (fused projections are passed whole)."""
    s, _ = _scheme(spec, weight_format, bits)
    lin = LinearWeights(component=component, in_features=in_features, out_features=out_features, count=1, split="none")
    n = in_features * out_features
    if not _is_quantized(s, lin):
        return n * s.dense_bytes
    if s.kind in ("fp8", "int8", "bnb8"):
        return n
    if s.kind in ("int4", "kbits"):
        return _cdiv(n * s.bits, 8)
    if s.kind in ("nf4", "mxfp4", "nvfp4"):
        return _cdiv(n, 2)
    raise AssertionError(s.kind)


def weight_format_name(spec: ModelSpec, *, weight_format: WeightFormat | None = None, bits: int | None = None) -> str:
    """The effective weight format shown to users ("bf16", "gptq int4 g128", "mxfp4 experts + bf16")."""
    return _scheme(spec, weight_format, bits)[0].name


def checkpoint_scheme_kept(
    spec: ModelSpec, *, weight_format: WeightFormat | None = None, bits: int | None = None
) -> bool:
    """Whether the weights stay as the checkpoint stores them (no ``dtype=``/``p=`` override of
    another format or width)."""
    return _override(spec, weight_format, bits) is None


def conversion_asked(
    spec: ModelSpec, *, weight_format: WeightFormat | None = None, bits: int | None = None
) -> str | None:
    """The quantized format a ``dtype=``/``p=`` override asks the engine to produce on load ("awq",
    "int4", "3-bit"), or None when it is the checkpoint's own format or a float cast."""
    s = _override(spec, weight_format, bits)
    if s is None or s.kind == "dense":
        return None
    if weight_format is not None:
        return weight_format
    return {8: "int8", 4: "int4"}.get(s.bits, f"{s.bits}-bit")


def zero_point_matrices(
    spec: ModelSpec, *, weight_format: WeightFormat | None = None, bits: int | None = None, gpus: int = 1
) -> tuple[int | None, int, tuple[tuple[int, int, int], ...]]:
    """For a packed-integer scheme with zero points (AWQ): its group size, its bits, and the
    (in_features, out_features, count) of ONE GPU's share of every quantized matrix; no matrices
    for any other scheme. Engines that re-lay zero points (vLLM's Machete kernel) size them from this."""
    s, _ = _scheme(spec, weight_format, bits)
    if s.kind != "int4" or not s.zero_points:
        return s.group, s.bits, ()
    shares = tuple((*_share(lin, spec, gpus), lin.count) for lin in spec.linears if _is_quantized(s, lin))
    return s.group, s.bits, shares


class PackedMatrix(NamedTuple):
    """One GPU's share of a group of identical packed-integer matrices."""

    in_features: int  # this GPU's input rows
    out_features: int  # this GPU's output columns
    full_in_features: int  # the whole matrix's input rows (more than ``in_features`` when row-split)
    matrices: int  # how many identical matrices
    # This GPU's output columns of the module it is fused into (q/k/v, gate/up: the column- and
    # KV-split matrices of one component that read the same input), which kernels are chosen for.
    module_out_features: int


def gptq_matrices(
    spec: ModelSpec, *, weight_format: WeightFormat | None = None, bits: int | None = None, gpus: int = 1
) -> tuple[PackedMatrix, ...]:
    """One GPU's share of every GPTQ-packed matrix outside the routed experts, where the weights are
    the checkpoint's own GPTQ ones; none otherwise. Each share is counted in :func:`weight_bytes` with
    its packed zero points and its int32 ``g_idx`` (what the checkpoint stores), which engines whose
    kernels keep neither (vLLM's Marlin) take back from this."""
    s, own = _scheme(spec, weight_format, bits)
    if not own or spec.quantization.method != "gptq" or s.kind != "int4":
        return ()
    linears = [lin for lin in spec.linears if _is_quantized(s, lin) and lin.component != "routed_experts"]

    def fused(lin: LinearWeights) -> list[LinearWeights]:
        if lin.split not in ("column", "kv"):
            return [lin]
        return [
            o
            for o in linears
            if o.component == lin.component and o.in_features == lin.in_features and o.split in ("column", "kv")
        ]

    out = []
    for lin in linears:
        in_s, out_s = _share(lin, spec, gpus)
        module_out = out_s
        if lin.split in ("column", "kv"):
            group = fused(lin)
            # One module per row-split partner that reads its output (o_proj, down_proj): q counts
            # once a module, k and v (one entry, 2 x layers) twice, gate and up (one entry) twice.
            rows = [o.count for o in linears if o.component == lin.component and o.split == "row"]
            modules = min(rows) if rows else min(o.count for o in group)
            module_out = sum(_share(o, spec, gpus)[1] * max(1, o.count // modules) for o in group)
        out.append(PackedMatrix(in_s, out_s, lin.in_features, lin.count, module_out))
    return tuple(out)
