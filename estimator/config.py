"""Normalise a ``config.json`` into a :class:`~estimator.spec.ModelSpec`.

The config is first filled the way transformers' own config class fills it (defaults, aliases,
derived fields such as ``layer_types``, ``head_dim``, ``mlp_layer_types``; see
:mod:`estimator.archconfig`). Each decoder layer is then sized by its kind (full / sliding /
chunked attention, MLA, DSA, gated DeltaNet, Kimi Delta Attention, Mamba-2, short convolution,
dense or MoE MLP) with the per-type traits the config does not state from
:mod:`estimator.families`; the parameter arithmetic reproduces the meta-device counts exactly.
With a checkpoint's tensors, :mod:`estimator.structure` confirms each layer's cache geometry.
What cannot be established goes to ``ModelSpec.unread`` (no verdict), never into a guess. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from common.errors import ConfigError
from estimator import archconfig, layerkinds, special, structure, towers, towers_mm
from estimator.families import UNKNOWN, UNMODELLED, Family, family
from estimator.fields import positive as _positive
from estimator.fields import whole
from estimator.spec import (
    DTYPE_BYTES,
    LayerKV,
    LinearComponent,
    LinearSplit,
    LinearWeights,
    ModelSpec,
    ParamCounts,
    Quantization,
    QuantMethod,
    SafetensorsInfo,
    TorchDType,
    VisionSpec,
)

_MISSING = object()
MAX_LAYERS = 10_000  # the deepest real decoders have a few hundred layers

# Safetensors dtype names -> bytes per element (for exact checkpoint bytes from the Hub's counts).
SAFETENSORS_DTYPE_BYTES: dict[str, int] = {
    "F64": 8,
    "I64": 8,
    "U64": 8,
    "F32": 4,
    "I32": 4,
    "U32": 4,
    "F16": 2,
    "BF16": 2,
    "I16": 2,
    "U16": 2,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "F8_E8M0": 1,
    "I8": 1,
    "U8": 1,
    "BOOL": 1,
}
_FLOAT_DTYPES = {"F32", "F16", "BF16"}
_SAFETENSORS_TORCH_DTYPES: dict[str, TorchDType] = {"F32": "fp32", "F16": "fp16", "BF16": "bf16"}

_TORCH_DTYPES: dict[str, TorchDType] = {
    "bfloat16": "bf16",
    "bf16": "bf16",
    "float16": "fp16",
    "fp16": "fp16",
    "half": "fp16",
    "float32": "fp32",
    "fp32": "fp32",
    "float": "fp32",
}


# ---------------------------------------------------------------- field helpers


def _field(cfg: Mapping[str, Any], *names: str, default: Any = _MISSING) -> Any:
    """The first of ``names`` present (and not null) in ``cfg``, else ``default``."""
    for name in names:
        value = cfg.get(name)
        if value is not None:
            return value
    return default


def _int(cfg: Mapping[str, Any], model_type: str, *names: str, default: Any = _MISSING) -> int:
    value = _field(cfg, *names, default=default)
    if value is default and default is not _MISSING:
        return value  # the caller's default (may be None for optional fields)
    if value is _MISSING:
        raise ConfigError(
            f"{model_type} config lacks {names[0]}; vram needs num_hidden_layers, hidden_size, "
            "num_attention_heads and vocab_size to size a model."
        )
    return whole(f"{model_type} config", names[0], value)


def _count(cfg: Mapping[str, Any], model_type: str, *names: str, default: int) -> int:
    """An optional whole-number field (absent, null or 0: ``default``); negative or fractional raises."""
    value = _int(cfg, model_type, *names, default=None)
    return value or default


def hidden_size(cfg: Mapping[str, Any], model_type: str) -> int:
    return _int(cfg, model_type, "hidden_size", "n_embd", "d_model", "dim")


def num_layers(cfg: Mapping[str, Any], model_type: str) -> int:
    types = cfg.get("layer_types")
    if (
        _field(cfg, "num_hidden_layers", "n_layer", "num_layers", "n_layers", default=None) is None
        and isinstance(types, list)
        and types
    ):
        return len(types)  # Nemotron-H: the layer count is the length of its block pattern
    return _int(cfg, model_type, "num_hidden_layers", "n_layer", "num_layers", "n_layers")


def num_heads(cfg: Mapping[str, Any], model_type: str) -> int:
    return _int(cfg, model_type, "num_attention_heads", "n_head", "num_heads", "n_heads")


def num_kv_heads(cfg: Mapping[str, Any], model_type: str, heads: int) -> int:
    if cfg.get("multi_query") is True:
        return 1
    return _int(cfg, model_type, "num_key_value_heads", "n_head_kv", "num_kv_heads", "n_kv_heads", default=heads)


def head_dim(cfg: Mapping[str, Any], model_type: str, hidden: int, heads: int) -> int:
    explicit = _field(cfg, "head_dim", "kv_channels", default=None)
    if explicit is not None:
        return _int(cfg, model_type, "head_dim", "kv_channels")
    if hidden % heads:
        raise ConfigError(
            f"{model_type} config has hidden_size {hidden} not divisible by {heads} attention heads and no head_dim."
        )
    return hidden // heads


def vocab_size(cfg: Mapping[str, Any], model_type: str) -> int:
    return _int(cfg, model_type, "vocab_size", "padded_vocab_size", "n_vocab")


def intermediate_size(cfg: Mapping[str, Any], model_type: str, hidden: int) -> int:
    if isinstance(cfg.get("intermediate_size"), list):  # Gemma 3n: one MLP width per layer
        raise ConfigError(
            f"{model_type} gives one MLP width per layer, a layout vram does not model yet, so "
            "its parameters are not known."
        )
    return _int(cfg, model_type, "intermediate_size", "n_inner", "ffn_dim", "ffn_hidden_size", default=4 * hidden)


def torch_dtype(
    cfgs: tuple[Mapping[str, Any], ...],
    model_type: str,
    fam: Family,
    stored: Mapping[str, int] | None = None,
) -> tuple[TorchDType, str | None]:
    """The dtype of unquantized tensors, and a warning when neither the config nor the checkpoint
    names it. ``stored``: the checkpoint's element counts by safetensors dtype, when known; where the
    config names no dtype, a checkpoint whose float tensors are all of one dtype names it (what
    transformers' and vLLM's ``dtype="auto"`` then load)."""
    for cfg in cfgs:
        raw = _field(cfg, "torch_dtype", "dtype", default=None)
        if raw is not None:
            key = str(raw).removeprefix("torch.").lower()
            if key not in _TORCH_DTYPES:
                raise ConfigError(
                    f"{model_type} config has torch_dtype {raw!r}; expected bfloat16, float16 or float32."
                )
            return _TORCH_DTYPES[key], None
    floats = sorted(d for d, n in (stored or {}).items() if d in _FLOAT_DTYPES and n)
    if len(floats) == 1:
        return _SAFETENSORS_TORCH_DTYPES[floats[0]], None
    if fam.dtype_default is not None:
        return _TORCH_DTYPES[fam.dtype_default], None
    if floats:
        # vLLM takes the dtype all of them cast to without loss (get_torch_dtype:
        # common_broadcastable_dtype), float32 for any mix, which --dtype auto then serves in 16 bits.
        return "fp32", (
            f"{model_type} config names no torch_dtype and its checkpoint mixes {', '.join(floats)} tensors: "
            "read as float32, as vLLM reads it (it then serves it in bfloat16); transformers loads the dtype "
            "of its first float tensor, which vram does not know."
        )
    return "bf16", f"{model_type} config names no torch_dtype; assuming bfloat16 weights."


def _flag(cfg: Mapping[str, Any], name: str, rule: bool | str) -> bool:
    """A bias/norm flag: fixed by the family, or read from the config (default False)."""
    if isinstance(rule, str):  # "config" (the caller's field) or the name of the deciding field
        return bool(cfg.get(name if rule == "config" else rule) or False)
    return bool(rule)


# ---------------------------------------------------------------- the accumulator


@dataclass
class _Counts:
    """Parameters by component plus the weight matrices, as the builders add them."""

    embedding: int = 0
    lm_head: int = 0
    attention: int = 0
    dense_mlp: int = 0
    routed_experts: int = 0
    shared_experts: int = 0
    router: int = 0
    norms: int = 0
    other: int = 0
    vision: int = 0
    inactive: int = 0  # routed-expert parameters a token does not touch
    linears: dict[tuple[str, int, int, str], int] = field(default_factory=dict)
    # Key projections that also give the values (Family.k_eq_v): (in, out) -> count.
    value_from_key: dict[tuple[int, int], int] = field(default_factory=dict)

    def linear(
        self, component: LinearComponent, in_f: int, out_f: int, split: LinearSplit, count: int = 1, bias: bool = False
    ) -> None:
        """``count`` matrices [out_f, in_f] (plus biases, which stay unquantized)."""
        n = count * in_f * out_f + (count * out_f if bias else 0)
        setattr(self, component, getattr(self, component) + n)
        key = (component, in_f, out_f, split)
        self.linears[key] = self.linears.get(key, 0) + count

    def add(self, component: str, n: int) -> None:
        setattr(self, component, getattr(self, component) + n)

    def params(self) -> ParamCounts:
        total = (
            self.embedding
            + self.lm_head
            + self.attention
            + self.dense_mlp
            + self.routed_experts
            + self.shared_experts
            + self.router
            + self.norms
            + self.other
            + self.vision
        )
        return ParamCounts(
            embedding=self.embedding,
            lm_head=self.lm_head,
            attention=self.attention,
            dense_mlp=self.dense_mlp,
            routed_experts=self.routed_experts,
            shared_experts=self.shared_experts,
            router=self.router,
            norms=self.norms,
            other=self.other,
            vision=self.vision,
            active=total - self.inactive,
        )

    def linear_specs(self) -> tuple[LinearWeights, ...]:
        return tuple(
            LinearWeights(component=c, in_features=i, out_features=o, count=n, split=s)
            for (c, i, o, s), n in self.linears.items()
        )

    def value_from_key_specs(self) -> tuple[LinearWeights, ...]:
        return tuple(
            LinearWeights(component="attention", in_features=i, out_features=o, count=n, split="kv")
            for (i, o), n in self.value_from_key.items()
        )


@dataclass
class _Geometry:
    model_type: str
    fam: Family
    cfg: Mapping[str, Any]  # the text config, family defaults filled in
    top: Mapping[str, Any]  # the whole config.json
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    intermediate: int
    tied: bool


# ---------------------------------------------------------------- attention and MLP blocks


def _gqa_attention(c: _Counts, g: _Geometry, n_layers: int) -> None:
    h, q_out, kv_out = g.hidden, g.heads * g.head_dim, g.kv_heads * g.head_dim
    qkv_bias = _flag(g.cfg, "attention_bias", g.fam.qkv_bias)
    o_bias = _flag(g.cfg, "attention_bias", g.fam.o_bias)
    c.linear("attention", h, q_out, "column", n_layers, qkv_bias)
    c.linear("attention", h, kv_out, "kv", 2 * n_layers, qkv_bias)
    c.linear("attention", q_out, h, "row", n_layers, o_bias)
    if g.fam.qk_norm:
        c.add("attention", n_layers * 2 * g.head_dim)


def _gated_mlp(c: _Counts, component: LinearComponent, h: int, inter: int, n: int, bias: bool = False) -> None:
    c.linear(component, h, inter, "column", 2 * n, bias)  # gate, up
    c.linear(component, inter, h, "row", n, bias)  # down


def _moe_layer_flags(g: _Geometry) -> list[bool]:
    """Which decoder layers are MoE layers, by the family's placement rule."""
    cfg, n = g.cfg, g.layers
    # transformers' derived per-layer list ("dense" / "sparse"), where the config class gives one: it is
    # derived from the same keys (first_k_dense_replace, moe_layer_freq, ...) vLLM's model classes read.
    types = cfg.get("mlp_layer_types")
    if isinstance(types, list) and len(types) == n and set(types) <= {"dense", "sparse"}:
        return [t == "sparse" for t in types]
    moe = g.fam.moe
    if moe in ("mixtral", "gpt_oss"):
        return [True] * n
    if moe == "qwen":
        step = _count(cfg, g.model_type, "decoder_sparse_step", default=1)
        only_mlp = set(cfg.get("mlp_only_layers") or ())
        return [i not in only_mlp and (i + 1) % step == 0 for i in range(n)]
    if moe == "deepseek":
        first = _count(cfg, g.model_type, "first_k_dense_replace", "num_dense_layers", default=0)
        freq = _count(cfg, g.model_type, "moe_layer_freq", default=1)
        return [i >= first and i % freq == 0 for i in range(n)]
    if moe == "llama4":
        if cfg.get("moe_layers") is not None:
            layers = set(cfg["moe_layers"])
            return [i in layers for i in range(n)]
        step = _count(cfg, g.model_type, "interleave_moe_layer_step", default=1)
        return [(i + 1) % step == 0 for i in range(n)]
    if moe == "ernie":
        start = _count(cfg, g.model_type, "moe_layer_start_index", default=0)
        end = _int(cfg, g.model_type, "moe_layer_end_index", default=n - 1)
        end = n - 1 if end < 0 else end
        step = _count(cfg, g.model_type, "moe_layer_interval", default=1)
        return [(i + 1) % step == 0 and start <= i <= end for i in range(n)]
    if moe == "jamba":
        period = _positive(g.model_type, "expert_layer_period", cfg["expert_layer_period"])
        offset = _int(cfg, g.model_type, "expert_layer_offset")
        return [i % period == offset for i in range(n)]
    return [False] * n


def _experts(g: _Geometry) -> tuple[int, int]:
    """Routed experts per MoE layer and experts per token."""
    e = _int(g.cfg, g.model_type, "num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts")
    k = _int(g.cfg, g.model_type, "num_experts_per_tok", "experts_per_token", "num_experts_per_token", "moe_topk")
    return e, k


def _mlps(c: _Counts, g: _Geometry, moe_flags: list[bool], moe_inter: int, experts: int, topk: int) -> None:
    """Dense MLPs and MoE blocks for the standard decoder families."""
    h, cfg, moe = g.hidden, g.cfg, g.fam.moe
    n_moe = sum(moe_flags)
    n_dense = g.layers - n_moe
    dense_inter = g.intermediate
    if moe == "llama4":
        dense_inter = _int(cfg, g.model_type, "intermediate_size_mlp")
    bias = _flag(cfg, "mlp_bias", g.fam.mlp_bias)
    if n_dense:
        _gated_mlp(c, "dense_mlp", h, dense_inter, n_dense, bias)
    if not n_moe:
        return
    per_expert = 3 * h * moe_inter
    _gated_mlp(c, "routed_experts", h, moe_inter, n_moe * experts)
    c.inactive += n_moe * (experts - topk) * per_expert
    c.add("router", n_moe * experts * h)
    if moe == "qwen":
        shared = _count(cfg, g.model_type, "shared_expert_intermediate_size", default=0)
        if shared:
            _gated_mlp(c, "shared_experts", h, shared, n_moe)
            c.add("shared_experts", n_moe * h)  # shared_expert_gate: Linear(h, 1)
    elif moe == "llama4":
        _gated_mlp(c, "shared_experts", h, g.intermediate, n_moe)


# ---------------------------------------------------------------- layer kinds (KV cache)


def _window(g: _Geometry) -> int | None:
    w = g.cfg.get("sliding_window")
    if w is None or w is False:
        return None
    return _positive(g.model_type, "sliding_window", w)


def _attention_kinds(g: _Geometry) -> list[str]:
    """'full' or 'sliding' per decoder layer, as transformers builds its cache."""
    cfg, n, rule = g.cfg, g.layers, g.fam.sliding
    types = cfg.get("layer_types")
    if types is not None:
        kinds = []
        for t in types:
            if t in ("full_attention", "attention"):
                kinds.append("full")
            elif t in ("sliding_attention", "chunked_attention"):
                kinds.append("sliding")
            else:
                raise ConfigError(f"{g.model_type} config has layer type {t!r}, which vram does not know.")
        if len(kinds) != n:
            raise ConfigError(f"{g.model_type} config lists {len(kinds)} layer_types for {n} layers.")
        return kinds
    window = _window(g)
    if rule == "chunked":
        interval = _count(cfg, g.model_type, "no_rope_layer_interval", default=4)
        no_rope = cfg.get("no_rope_layers")
        if not no_rope:
            no_rope = [int((i + 1) % interval != 0) for i in range(n)]
        return ["sliding" if no_rope[i] else "full" for i in range(n)]
    if window is None or rule == "none":
        return ["full"] * n
    if rule == "all_if_window":
        return ["sliding"] * n
    if rule == "qwen2":
        if not cfg.get("use_sliding_window"):
            return ["full"] * n
        first = _count(cfg, g.model_type, "max_window_layers", default=0)
        return ["sliding" if i >= first else "full" for i in range(n)]
    if rule == "alternate":
        return ["sliding" if (i + 1) % 2 else "full" for i in range(n)]
    if rule == "pattern":
        pattern = _count(cfg, g.model_type, "sliding_window_pattern", "_sliding_window_pattern", default=6)
        return ["sliding" if (i + 1) % pattern else "full" for i in range(n)]
    raise AssertionError(rule)


def _gqa_layer(g: _Geometry, kind: str) -> LayerKV:
    vd = _value_dim(g) if g.fam.arch == "layers" else g.head_dim
    if kind not in ("sliding", "chunked"):
        return LayerKV(kind="full", kv_heads=g.kv_heads, key_dim=g.head_dim, value_dim=vd)
    window = _window(g)
    chunked = kind == "chunked" or g.fam.sliding == "chunked"
    if chunked:
        window = _positive(g.model_type, "attention_chunk_size", _int(g.cfg, g.model_type, "attention_chunk_size"))
    return LayerKV(
        kind="sliding", window=window, chunked=chunked, kv_heads=g.kv_heads, key_dim=g.head_dim, value_dim=vd
    )


# ---------------------------------------------------------------- builders per architecture


def _build_decoder(c: _Counts, g: _Geometry) -> tuple[list[LayerKV], dict[str, int]]:
    _gqa_attention(c, g, g.layers)
    flags = _moe_layer_flags(g)
    extra: dict[str, int] = {}
    if any(flags):
        experts, topk = _experts(g)
        moe_inter = _int(g.cfg, g.model_type, "moe_intermediate_size", default=g.intermediate)
        if g.fam.moe == "llama4":
            moe_inter = g.intermediate
        _mlps(c, g, flags, moe_inter, experts, topk)
        extra = {
            "num_experts": experts,
            "experts_per_token": topk,
            "moe_intermediate_size": moe_inter,
            "num_moe_layers": sum(flags),
        }
    else:
        _mlps(c, g, flags, 0, 0, 0)
    c.add("norms", g.layers * g.fam.norms_per_layer * g.hidden + g.hidden)
    layers = [_gqa_layer(g, k) for k in _attention_kinds(g)]
    return layers, extra


def _build_phi(c: _Counts, g: _Geometry) -> tuple[list[LayerKV], dict[str, int]]:
    """phi-2: parallel attention + MLP under one LayerNorm, biases everywhere, plain fc1/fc2."""
    h, n = g.hidden, g.layers
    _gqa_attention(c, g, n)
    c.linear("dense_mlp", h, g.intermediate, "column", n, bias=True)
    c.linear("dense_mlp", g.intermediate, h, "row", n, bias=True)
    c.add("norms", n * 2 * h + 2 * h)  # LayerNorm weight + bias, per layer and final
    return [_gqa_layer(g, k) for k in _attention_kinds(g)], {}


def _build_mla(c: _Counts, g: _Geometry) -> tuple[list[LayerKV], dict[str, int]]:
    """DeepSeek V2/V3 multi-head latent attention and their MoE."""
    cfg, mt, h, n = g.cfg, g.model_type, g.hidden, g.layers
    layer = _mla_block(c, g, n, indexed=False)  # the attention projections and the latent cache
    routed = _field(cfg, "n_routed_experts", "num_local_experts", "num_experts", default=None)
    flags = _moe_layer_flags(g) if routed else [False] * n  # no routed experts: a dense MLA model
    n_moe = sum(flags)
    experts, topk = _experts(g) if n_moe else (0, 0)
    moe_inter = _int(cfg, mt, "moe_intermediate_size") if n_moe else 0
    _gated_mlp(c, "dense_mlp", h, g.intermediate, n - n_moe)
    _gated_mlp(c, "routed_experts", h, moe_inter, n_moe * experts)
    c.inactive += n_moe * (experts - topk) * 3 * h * moe_inter
    shared = _count(cfg, g.model_type, "n_shared_experts", default=0)
    if shared:
        _gated_mlp(c, "shared_experts", h, moe_inter * shared, n_moe)
    c.add("router", n_moe * experts * h)
    if cfg.get("topk_method") == "noaux_tc":  # V3: e_score_correction_bias per expert
        c.add("router", n_moe * experts)
    c.add("norms", n * 2 * h + h)
    extra = {
        "num_experts": experts,
        "experts_per_token": topk,
        "moe_intermediate_size": moe_inter,
        "num_moe_layers": n_moe,
    }
    return [layer] * n, extra


def _build_gpt_oss(c: _Counts, g: _Geometry) -> tuple[list[LayerKV], dict[str, int]]:
    """gpt-oss: biased attention with per-head sinks; fused experts with biases; biased router."""
    h, n = g.hidden, g.layers
    _gqa_attention(c, g, n)
    c.add("attention", n * g.heads)  # sinks
    experts, topk = _experts(g)
    inter = g.intermediate
    # gate_up_proj [E, h, 2I] + bias [E, 2I]; down_proj [E, I, h] + bias [E, h]
    c.linear("routed_experts", h, 2 * inter, "column", n * experts, bias=True)
    c.linear("routed_experts", inter, h, "row", n * experts, bias=True)
    per_expert = 3 * h * inter + 2 * inter + h
    c.inactive += n * (experts - topk) * per_expert
    c.add("router", n * (experts * h + experts))
    c.add("norms", n * 2 * h + h)
    layers = [_gqa_layer(g, k) for k in _attention_kinds(g)]
    extra = {"num_experts": experts, "experts_per_token": topk, "moe_intermediate_size": inter, "num_moe_layers": n}
    return layers, extra


def _build_jamba(c: _Counts, g: _Geometry) -> tuple[list[LayerKV], dict[str, int]]:
    """Jamba: Mamba (v1) mixers with attention every ``attn_layer_period`` layers, MoE every other."""
    cfg, h, n = g.cfg, g.hidden, g.layers
    mt = g.model_type
    # Checked like the core fields: a negative or fractional size gave negative parameter counts.
    period = _positive(mt, "attn_layer_period", cfg["attn_layer_period"])
    offset = _int(cfg, mt, "attn_layer_offset")
    is_attn = [i % period == offset for i in range(n)]
    n_attn = sum(is_attn)
    n_mamba = n - n_attn
    d_inner = _positive(mt, "mamba_expand", cfg["mamba_expand"]) * h
    d_state = _positive(mt, "mamba_d_state", cfg["mamba_d_state"])
    d_conv = _positive(mt, "mamba_d_conv", cfg["mamba_d_conv"])
    dt_rank = cfg["mamba_dt_rank"]
    dt_rank = math.ceil(h / 16) if dt_rank == "auto" else _positive(mt, "mamba_dt_rank", dt_rank)
    proj_bias, conv_bias = bool(cfg["mamba_proj_bias"]), bool(cfg["mamba_conv_bias"])
    _gqa_attention(c, g, n_attn)
    c.linear("other", h, 2 * d_inner, "column", n_mamba, proj_bias)  # in_proj
    c.add("other", n_mamba * (d_inner * d_conv + (d_inner if conv_bias else 0)))  # depthwise conv1d
    c.linear("other", d_inner, dt_rank + 2 * d_state, "none", n_mamba)  # x_proj
    c.linear("other", dt_rank, d_inner, "column", n_mamba, bias=True)  # dt_proj
    c.add("other", n_mamba * (d_inner * d_state + d_inner))  # A_log, D
    c.add("other", n_mamba * (dt_rank + 2 * d_state))  # dt / B / C layernorms
    c.linear("other", d_inner, h, "row", n_mamba, proj_bias)  # out_proj
    flags = _moe_layer_flags(g)
    experts, topk = _experts(g)
    _mlps(c, g, flags, g.intermediate, experts, topk)
    c.add("norms", n * 2 * h + h)
    state = d_inner * d_conv + d_inner * d_state  # transformers: conv_states + ssm_states per sequence
    layers = []
    for attn in is_attn:
        if attn:
            layers.append(LayerKV(kind="full", kv_heads=g.kv_heads, key_dim=g.head_dim, value_dim=g.head_dim))
        else:
            layers.append(
                LayerKV(
                    kind="state",
                    mixer="mamba",
                    state_elements=state,
                    conv_channels=d_inner,
                    conv_kernel=d_conv,
                    ssm_state_elements=d_inner * d_state,
                )
            )
    extra = {
        "num_experts": experts,
        "experts_per_token": topk,
        "moe_intermediate_size": g.intermediate,
        "num_moe_layers": sum(flags),
    }
    return layers, extra


Unmodelled = layerkinds.Unmodelled  # a layer kind or field vram does not model: the spec says so


_LAYER_TYPE_KINDS = {
    "full_attention": "full",
    "attention": "full",
    "sliding_attention": "sliding",
    "chunked_attention": "chunked",
    "indexed_attention": "dsa",
    "linear_attention": "linear",
    "mamba": "linear",
    "conv": "linear",
    # Nemotron-H: a layer that is only an MLP or only an MoE block
    "mlp": "ffn",
    "moe": "ffn_moe",
}


def _layer_kinds(g: _Geometry) -> list[str]:
    """Each layer's mixer: full / sliding / chunked attention, dsa, or the family's linear mixer."""
    types = g.cfg.get("layer_types")
    if types is None and g.fam.linear != "none" and not g.fam.parallel_mamba:
        # Bamba: the attention layers are listed, every other layer is the linear mixer.
        attn = set(g.cfg.get("attn_layer_indices") or ())
        return ["full" if i in attn else "linear" for i in range(g.layers)]
    if types is None:
        kinds = _attention_kinds(g)
        return [g.fam.attention if g.fam.attention in ("mla", "moa") and k == "full" else k for k in kinds]
    if len(types) != g.layers:
        raise ConfigError(f"{g.model_type} config lists {len(types)} layer_types for {g.layers} layers.")
    kinds = []
    for t in types:
        kind = _LAYER_TYPE_KINDS.get(t)
        if kind is None or (kind == "linear" and g.fam.linear == "none"):
            raise Unmodelled(f"{g.model_type} has layers of type {t!r}, which vram does not model.")
        if kind == "full" and g.fam.attention != "gqa":
            kind = g.fam.attention
        kinds.append(kind)
    return _shared_indexers(g, kinds)


def _shared_indexers(g: _Geometry, kinds: list[str]) -> list[str]:
    """GLM-5.x ``indexer_types``: a "shared" layer reuses the previous "full" layer's top-k, so it
    has no lightning indexer (no weights, no indexer key cache): a plain MLA layer."""
    types = g.cfg.get("indexer_types")
    if types is None:
        return kinds
    if len(types) != g.layers or any(t not in ("full", "shared") for t in types):
        raise Unmodelled(f"{g.model_type} has indexer_types vram does not model.")
    return ["mla" if k == "dsa" and t == "shared" else k for k, t in zip(kinds, types, strict=True)]


def _moe_flags_from_config(g: _Geometry) -> list[bool]:
    types = g.cfg.get("mlp_layer_types")
    if types is not None:
        if len(types) != g.layers or any(t not in ("dense", "sparse") for t in types):
            raise Unmodelled(f"{g.model_type} has MLP layer types {sorted(set(types))}, which vram does not model.")
        return [t == "sparse" for t in types]
    return _moe_layer_flags(g)


def _attention_block(c: _Counts, g: _Geometry, n: int, kind: str = "full") -> None:
    """``n`` GQA attention blocks with the family's biases, q/k norms, output gate and sinks."""
    h, hd, vd = g.hidden, g.head_dim, _value_dim(g)
    q_out, kv_out = g.heads * hd, g.kv_heads * hd
    qkv_bias = _flag(g.cfg, _bias_key(g.fam.qkv_bias), g.fam.qkv_bias)
    o_bias = _flag(g.cfg, _bias_key(g.fam.o_bias), g.fam.o_bias)
    c.linear("attention", h, q_out * (2 if g.fam.attn_gate else 1), "column", n, qkv_bias)
    if g.fam.k_eq_v and kind == "full":
        # Gemma 4 (attention_k_eq_v): no v_proj on full-attention layers, the values are k_proj's output.
        c.linear("attention", h, kv_out, "kv", n, qkv_bias)
        c.value_from_key[(h, kv_out)] = c.value_from_key.get((h, kv_out), 0) + n
    elif vd == hd:
        c.linear("attention", h, kv_out, "kv", 2 * n, qkv_bias)
    else:
        c.linear("attention", h, kv_out, "kv", n, qkv_bias)
        c.linear("attention", h, g.kv_heads * vd, "kv", n, qkv_bias)
    c.linear("attention", g.heads * vd, h, "row", n, o_bias)
    if g.fam.qk_norm == "full":
        c.add("attention", n * (q_out + kv_out))
    elif g.fam.qk_norm:
        c.add("attention", n * 2 * hd * (2 if g.fam.qk_norm_bias else 1))
    if g.fam.attn_gate_bias:  # Beam: the output gate's per-head bias
        c.add("attention", n * g.heads)
    if g.fam.head_gate:  # Laguna: one sigmoid output gate per head (g_proj: hidden -> heads)
        c.linear("attention", h, g.heads, "column", n)
    if g.fam.sinks is True or (g.fam.sinks == "sliding" and kind == "sliding"):
        c.add("attention", n * g.heads)


def _value_dim(g: _Geometry) -> int:
    """The value head size: ``v_head_dim`` where the family's attention reads it (MiMo-V2), else head_dim."""
    if g.fam.v_head_dim:
        return _int(g.cfg, g.model_type, "v_head_dim")
    return g.head_dim


def _bias_key(rule: bool | str) -> str:
    return "attention_bias" if rule in (True, False, "config") else str(rule)


def _mla_block(c: _Counts, g: _Geometry, n: int, indexed: bool) -> LayerKV:
    """``n`` DeepSeek MLA blocks (q_lora or a plain q_proj), plus the DSA lightning indexer."""
    cfg, mt, h, heads = g.cfg, g.model_type, g.hidden, g.heads
    kv_rank, rope = _int(cfg, mt, "kv_lora_rank"), _int(cfg, mt, "qk_rope_head_dim")
    nope, v_dim = _int(cfg, mt, "qk_nope_head_dim"), _int(cfg, mt, "v_head_dim")
    q_rank = cfg.get("q_lora_rank")
    q_out = heads * (nope + rope)
    if q_rank is None:
        c.linear("attention", h, q_out, "column", n)
    else:
        c.linear("attention", h, int(q_rank), "none", n)  # q_a_proj (replicated in vLLM)
        c.add("attention", n * int(q_rank))  # q_a_layernorm
        layerkinds.q_up(c, g, int(q_rank), q_out, n)  # q_b_proj (or a fused query and gate projection)
    c.linear("attention", h, kv_rank + rope, "none", n)  # kv_a_proj_with_mqa
    c.add("attention", n * kv_rank)  # kv_a_layernorm
    c.linear("attention", kv_rank, heads * (nope + v_dim), "column", n)  # kv_b_proj
    c.linear("attention", heads * v_dim, h, "row", n)  # o_proj
    index_dim = 0
    if indexed:
        # Lightning indexer: wq_b (q_lora -> heads x dim), wk (h -> dim), k_norm (LayerNorm), weights_proj.
        i_heads, index_dim = _int(cfg, mt, "index_n_heads"), _int(cfg, mt, "index_head_dim")
        q_in = int(q_rank) if q_rank is not None else h
        c.linear("attention", q_in, i_heads * index_dim, "none", n)
        c.linear("attention", h, index_dim, "none", n)
        c.add("attention", n * 2 * index_dim)
        c.linear("attention", h, i_heads, "none", n)
    return LayerKV(kind="mla", kv_heads=1, key_dim=kv_rank, value_dim=rope, index_dim=index_dim)


def _linear_block(c: _Counts, g: _Geometry, n: int) -> LayerKV:
    """``n`` fixed-state mixers of the family's kind, and the state one sequence holds in each."""
    cfg, mt, h, kind = g.cfg, g.model_type, g.hidden, g.fam.linear
    if kind == "gated_deltanet":  # Qwen3-Next / Qwen3.5
        nk, nv = _int(cfg, mt, "linear_num_key_heads"), _int(cfg, mt, "linear_num_value_heads")
        dk, dv = _int(cfg, mt, "linear_key_head_dim"), _int(cfg, mt, "linear_value_head_dim")
        kernel = _int(cfg, mt, "linear_conv_kernel_dim")
        key, value = nk * dk, nv * dv
        conv = 2 * key + value
        c.linear("other", h, conv + value, "column", n)  # in_proj_qkv + in_proj_z
        c.linear("other", h, 2 * nv, "column", n)  # in_proj_b, in_proj_a
        c.add("other", n * (conv * kernel + 2 * nv + dv))  # conv1d, dt_bias, A_log, gated norm
        c.linear("other", value, h, "row", n)
        return LayerKV(
            kind="state",
            mixer="gated_deltanet",
            mixer_heads=nv,
            mixer_groups=nk,
            mixer_key_dim=dk,
            conv_channels=conv,
            conv_kernel=kernel,
            ssm_state_elements=nv * dk * dv,
            state_elements=conv * kernel + nv * dk * dv,
        )
    if kind == "kda":  # Kimi Delta Attention
        la = cfg.get("linear_attn_config") or {}
        heads = _int({**la, **cfg}, mt, "linear_num_heads", "num_heads")
        dk = _int({**la, **cfg}, mt, "linear_head_dim", "head_dim")
        kernel = _int({**la, **cfg}, mt, "linear_conv_kernel_dim", "short_conv_kernel_size")
        proj = heads * dk
        c.linear("other", h, proj, "column", 3 * n)  # q, k, v
        c.add("other", n * (3 * proj * kernel + proj + heads))  # q/k/v short convs, dt_bias, A_log
        c.linear("other", h, dk, "none", 2 * n)  # f_a_proj, g_a_proj
        c.linear("other", dk, proj, "column", 2 * n)  # f_b_proj, g_b_proj
        c.linear("other", h, heads, "column", n)  # b_proj
        c.add("other", n * dk)  # o_norm
        c.linear("other", proj, h, "row", n)
        return LayerKV(
            kind="state",
            mixer="kda",
            mixer_heads=heads,
            conv_channels=3 * proj,
            conv_kernel=kernel,
            ssm_state_elements=heads * dk * dk,
            state_elements=3 * proj * kernel + heads * dk * dk,
        )
    if kind == "mamba2":  # Mamba-2 (Granite-4 hybrid, Nemotron-H, Bamba)
        # Hybrid configs prefix the mixer's fields with mamba_; a pure Mamba-2 config does not.
        pure = g.fam.model_type == "mamba2"
        heads = _int(cfg, mt, "mamba_n_heads", "mamba_num_heads", *(("num_heads",) if pure else ()))
        d_head = _int(cfg, mt, "mamba_d_head", "mamba_head_dim", *(("head_dim",) if pure else ()))
        groups = _int(cfg, mt, "mamba_n_groups", "n_groups")
        d_state = _int(cfg, mt, "mamba_d_state", "ssm_state_size", "state_size")
        kernel = _int(cfg, mt, "mamba_d_conv", "conv_kernel")
        inner = heads * d_head
        conv = inner + 2 * groups * d_state
        proj_bias = bool(cfg.get("mamba_proj_bias", cfg.get("use_bias", False)))
        conv_bias = bool(cfg.get("mamba_conv_bias", cfg.get("use_conv_bias", True)))
        c.linear("other", h, inner + conv + heads, "column", n, proj_bias)
        gated_norm = inner if cfg.get("mamba_rms_norm", True) is not False else 0  # Falcon-H1 may drop it
        c.add("other", n * (conv * kernel + (conv if conv_bias else 0) + 3 * heads + gated_norm))
        c.linear("other", inner, h, "row", n, proj_bias)
        return LayerKV(
            kind="state",
            mixer="mamba2",
            mixer_heads=heads,
            mixer_groups=groups,
            conv_channels=conv,
            conv_kernel=kernel,
            ssm_state_elements=heads * d_head * d_state,
            state_elements=conv * kernel + heads * d_head * d_state,
        )
    if kind == "short_conv":  # LFM2: gated depthwise convolution over a short cache
        kernel = _int(cfg, mt, "conv_L_cache")
        bias = bool(cfg.get("conv_bias", False))
        c.linear("other", h, 3 * h, "column", n, bias)
        c.add("other", n * h * kernel)
        c.linear("other", h, h, "row", n, bias)
        return LayerKV(kind="state", mixer="short_conv", conv_channels=h, conv_kernel=kernel, state_elements=h * kernel)
    return layerkinds.linear_block(c, g, n)


def _ff_width(g: _Geometry) -> int:
    """The dense MLP width; LFM2's ``block_auto_adjust_ff_dim`` takes 2/3 of it, rounded up to a multiple."""
    cfg, inter = g.cfg, g.intermediate
    if g.fam.dense_width:
        return _int(cfg, g.model_type, g.fam.dense_width)
    if not cfg.get("block_auto_adjust_ff_dim"):
        return inter
    inter = int(2 * inter / 3)
    if cfg.get("block_ffn_dim_multiplier") is not None:
        inter = int(float(cfg["block_ffn_dim_multiplier"]) * inter)
        multiple = _count(cfg, g.model_type, "block_multiple_of", default=1)
        inter = multiple * _cdiv(inter, multiple)
    return inter


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _count_by(items: Any) -> dict[Any, int]:
    out: dict[Any, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return out


def _layer_geometry(g: _Geometry, index: int, kind: str) -> _Geometry:
    """Layer ``index``'s attention geometry: the config's per-layer overrides (gemma4's
    ``per_layer_config``), else the model's."""
    per_layer = g.cfg.get("per_layer_config") or {}
    over = dict(per_layer.get(str(index)) or per_layer.get(f"{index:02d}") or {})
    if kind == "sliding" and g.fam.sliding_kv_factor != 1:  # MiMo-V2: sliding layers double the KV heads
        over.setdefault("num_key_value_heads", g.kv_heads * g.fam.sliding_kv_factor)
    unknown = set(over) - {"head_dim", "num_key_value_heads", "num_attention_heads"}
    if unknown:
        raise Unmodelled(f"{g.model_type} sets {sorted(unknown)} per layer, which vram does not model.")
    if not over:
        return g
    where = f"per_layer_config[{index}]"
    return dataclasses.replace(
        g,
        head_dim=_positive(g.model_type, f"{where}.head_dim", over.get("head_dim", g.head_dim)),
        kv_heads=_positive(g.model_type, f"{where}.num_key_value_heads", over.get("num_key_value_heads", g.kv_heads)),
        heads=_positive(g.model_type, f"{where}.num_attention_heads", over.get("num_attention_heads", g.heads)),
    )


def _per_layer_inputs(c: _Counts, g: _Geometry) -> None:
    """Gemma-4 / 3n per-layer inputs: a second embedding (``hidden_size_per_layer_input`` per layer),
    its projection from the hidden state and norm, and per layer a gate, a projection and a norm."""
    cfg, mt, h, n = g.cfg, g.model_type, g.hidden, g.layers
    width = _int(cfg, mt, "hidden_size_per_layer_input")
    if not width:  # gemma-4-31b / 26b-a4b: 0, no per-layer inputs (Gemma4TextDecoderLayer builds none)
        return
    vocab = _int(cfg, mt, "vocab_size_per_layer_input")
    c.add("other", vocab * n * width)
    c.linear("other", h, n * width, "none", 1)
    c.add("norms", width)
    c.linear("other", h, width, "none", n)
    c.linear("other", width, h, "none", n)
    c.add("norms", n * h)


def _build_layers(c: _Counts, g: _Geometry) -> tuple[list[LayerKV], dict[str, int]]:
    """A decoder built layer by layer from its kinds (the config's layer_types and mlp_layer_types)."""
    cfg, mt, h, fam = g.cfg, g.model_type, g.hidden, g.fam
    for flag in fam.unmodelled_flags:
        if cfg.get(flag):
            raise Unmodelled(f"{mt} sets {flag}, a layout vram does not model yet.")
    kinds = layerkinds.kinds(g, _layer_kinds(g))
    counts = {k: kinds.count(k) for k in dict.fromkeys(kinds)}
    built: dict[str, LayerKV] = {}
    geometry = [_layer_geometry(g, i, kind) for i, kind in enumerate(kinds)]
    keys = [(k, gi.heads, gi.kv_heads, gi.head_dim) for k, gi in zip(kinds, geometry, strict=True)]
    shapes = dict(zip(keys, geometry, strict=True))
    for key, n in _count_by(keys).items():
        if key[0] in ("full", "sliding", "chunked"):
            _attention_block(c, shapes[key], n, key[0])
    for kind, n in counts.items():
        if kind in ("full", "sliding", "chunked", "ffn", "ffn_moe"):
            continue
        elif kind in ("mla", "dsa"):
            layer = _mla_block(c, g, n * fam.sublayers, indexed=kind == "dsa")
            # LongCat-Flash: two attention sub-layers per layer, two latents cached (not split by TP)
            built[kind] = layer.model_copy(update={"kv_heads": fam.sublayers}) if fam.sublayers > 1 else layer
        else:
            built[kind] = _linear_block(c, g, n) if kind == "linear" else layerkinds.block(c, g, kind, n)
    if fam.single_block:  # each layer is one block: a mixer, an MLP or an MoE (Nemotron-H)
        flags = [k == "ffn_moe" for k in kinds]
        n_dense = kinds.count("ffn")
    elif fam.sublayers > 1:  # LongCat-Flash: per layer, one MLP per sub-layer and one MoE block
        flags = [True] * g.layers
        n_dense = g.layers * fam.sublayers
    else:
        flags = _moe_flags_from_config(g)
        n_dense = g.layers - sum(flags)
    n_moe = sum(flags)
    bias = _flag(cfg, _bias_key(fam.mlp_bias) if fam.mlp_bias != "config" else "mlp_bias", fam.mlp_bias)
    inter = _ff_width(g)
    if n_dense:
        if fam.mlp == "gated":
            _gated_mlp(c, "dense_mlp", h, inter, n_dense, bias)
        else:
            c.linear("dense_mlp", h, inter, "column", n_dense, bias)
            c.linear("dense_mlp", inter, h, "row", n_dense, bias)
    extra: dict[str, int] = {}
    if n_moe:
        experts, topk = _experts(g)
        moe_inter = _int(cfg, mt, "moe_intermediate_size", default=g.intermediate)
        eh = layerkinds.expert_width(g)  # the experts' model width: hidden, or a latent width
        per_expert = (3 if fam.mlp == "gated" else 2) * eh * moe_inter
        if fam.mlp == "gated":
            _gated_mlp(c, "routed_experts", eh, moe_inter, n_moe * experts)
        else:
            c.linear("routed_experts", eh, moe_inter, "column", n_moe * experts)
            c.linear("routed_experts", moe_inter, eh, "row", n_moe * experts)
        c.inactive += n_moe * (experts - topk) * per_expert
        # LongCat: the router also scores zero-compute experts (identity outputs, no weights).
        scored = experts + _count(cfg, mt, "zero_expert_num", default=0)
        c.add("router", n_moe * scored * (h + (1 if fam.router_bias else 0)))
        if fam.shared == "deepseek":
            shared = _count(cfg, mt, "n_shared_experts", "num_shared_experts", "moe_num_shared_experts", default=0)
            if shared:
                _gated_mlp(c, "shared_experts", h, moe_inter * shared, n_moe)
        elif fam.shared == "qwen":
            width = _count(cfg, mt, "shared_expert_intermediate_size", default=0)
            if width:
                _gated_mlp(c, "shared_experts", h, width, n_moe)
                if fam.shared_gate:
                    c.add("shared_experts", n_moe * h)  # shared_expert_gate: Linear(h, 1)
        elif fam.shared == "dense":  # an always-on gated MLP beside the experts (Granite-4)
            _gated_mlp(c, "shared_experts", h, _int(cfg, mt, "shared_intermediate_size"), n_moe)
        elif fam.shared == "plain":  # an always-on up/down MLP beside the experts (Nemotron-H)
            width = _int(cfg, mt, "moe_shared_expert_intermediate_size")
            c.linear("shared_experts", h, width, "column", n_moe)
            c.linear("shared_experts", width, h, "row", n_moe)
        extra = {
            "num_experts": experts,
            "experts_per_token": topk,
            "moe_intermediate_size": moe_inter,
            "num_moe_layers": n_moe,
        }
    norm = h * (2 if fam.norm_bias else 1)
    if fam.single_block:
        c.add("norms", g.layers * norm + (norm if fam.final_norm else 0))
        norm = 0
    c.add("norms", g.layers * fam.norms_per_layer * fam.sublayers * norm + (norm if fam.final_norm else 0))
    if fam.sub_norms:  # BitNet: norms before o_proj (hidden) and down_proj (MLP width); Kosmos-2.5: the MLP one
        c.add("norms", g.layers * ((h if fam.sub_norms is True else 0) + inter) * (2 if fam.norm_bias else 1))
    if fam.token_types:  # Kosmos-2.5's segment embeddings
        c.add("embedding", fam.token_types * h)
    if fam.embedding_norm:  # BLOOM: a LayerNorm right after the embedding
        c.add("norms", norm if norm else h * (2 if fam.norm_bias else 1))
    if fam.act_params:  # Apertus: xIELU's learned alphas, per MLP
        c.add("dense_mlp", n_dense * fam.act_params)
    if fam.learned_positions:
        positions = _int(cfg, mt, "max_position_embeddings", "n_positions") + fam.position_offset
        c.add("other", positions * h)
    if fam.per_layer_inputs:
        _per_layer_inputs(c, g)
    layerkinds.extras(c, g, kinds, flags)
    parallel = _linear_block(c, g, g.layers) if fam.parallel_mamba else None
    layers = []
    for kind, gi in zip(kinds, geometry, strict=True):
        if kind in ("ffn", "ffn_moe"):
            layers.append(LayerKV(kind="none"))
        elif kind in ("full", "sliding", "chunked"):
            layer = _gqa_layer(gi, kind)
            if parallel is not None:  # Falcon-H1: a Mamba-2 state beside the KV cache in every layer
                layer = layer.model_copy(
                    update={
                        k: getattr(parallel, k)
                        for k in (
                            "mixer",
                            "mixer_heads",
                            "mixer_groups",
                            "conv_channels",
                            "conv_kernel",
                            "ssm_state_elements",
                            "ssm_state_dtype_bytes",
                        )
                    }
                )
            layers.append(layer)
        else:
            layers.append(built[kind])
    return layers, extra


_BUILDERS = {
    "special": special.build,
    "layers": _build_layers,
    "decoder": _build_decoder,
    "phi": _build_phi,
    "mla": _build_mla,
    "gpt_oss": _build_gpt_oss,
    "jamba": _build_jamba,
}


# ---------------------------------------------------------------- vision towers


# Gemma 4 with bidirectional attention over its vision tokens (text_config.use_bidirectional_attention
# "vision") is a multimodal prefix LM in vLLM 0.20-0.34 (transformers_utils/model_arch_config_convertor.py
# is_mm_prefix_lm); its largest item is a video of 32 frames x (70 soft tokens + 2 + 6 timestamp
# tokens) = 2,496 (models/gemma4_mm.py get_mm_max_tokens_per_item, _VIDEO_MAX_FRAMES, _VIDEO_MAX_SOFT_TOKENS).
_GEMMA4_VIDEO_ITEM_TOKENS = 32 * (70 + 2 + 6)


def _prefix_item_tokens(fam: Family, top: Mapping[str, Any], vision: VisionSpec | None) -> VisionSpec | None:
    """The tower with the tokens of the largest item a multimodal prefix LM prefills whole."""
    text = top.get("text_config") or {}
    if vision is not None and fam.model_type == "gemma4" and text.get("use_bidirectional_attention") == "vision":
        return vision.model_copy(update={"prefix_item_tokens": _GEMMA4_VIDEO_ITEM_TOKENS})
    return vision


def _vision(c: _Counts, fam: Family, top: Mapping[str, Any], text_hidden: int) -> VisionSpec | None:
    if fam.vision == "none":
        return None
    vc = {**fam.vision_defaults, **{k: v for k, v in (top.get("vision_config") or {}).items() if v is not None}}
    mt = f"{fam.model_type} vision_config"
    if fam.vision == "own":  # a tower of the type's own (estimator.towers_mm)
        try:
            n, spec = towers_mm.tower(fam.model_type, top, vc, text_hidden)
        except towers_mm.NotModelled as err:
            raise Unmodelled(str(err)) from err
        c.add("vision", n)
        return spec
    if fam.vision in ("qwen2_vl", "qwen2_5_vl"):
        return _qwen_vision(c, fam, vc, text_hidden)
    if fam.vision == "qwen3_vl":
        return _qwen3_vision(c, fam, vc)
    if fam.vision == "kimi_k25":
        return _moonvit(c, fam, vc, text_hidden)
    if fam.vision in towers.PROJECTORS:
        try:
            n, tower_spec = towers.vision_params(fam.vision, fam.model_type, top, vc, text_hidden, _vit_tower)
        except towers.UnknownTower as err:
            raise Unmodelled(str(err)) from err
        c.add("vision", n)
        return tower_spec
    if fam.vision == "special":  # a tower sized with its family's own builder
        return special.vision(c, fam, vc, text_hidden)
    if fam.vision in layerkinds.TOWERS:
        return layerkinds.vision(c, fam, top, vc, text_hidden)
    if fam.vision == "unmodelled":
        if not any(top.get(k) for k in ("vision_config", "audio_config")):
            return None
        raise Unmodelled(
            f"vram does not model the vision tower and projector of {fam.model_type}, so its "
            "parameter count is incomplete."
        )
    if fam.vision in (
        "llava",
        "llava_next",
        "internvl",
        "paligemma",
        "vipllava",
        "idefics3",
        "video_llava",
        "cohere2_vision",
    ):
        return _vit_with_projector(c, fam, top, vc, text_hidden)
    hv = _int(vc, mt, "hidden_size")
    layers = _int(vc, mt, "num_hidden_layers")
    inter = _int(vc, mt, "intermediate_size")
    heads = _int(vc, mt, "num_attention_heads")
    image, patch = _int(vc, mt, "image_size"), _int(vc, mt, "patch_size")
    channels = _int(vc, mt, "num_channels", default=3)
    patches = (image // patch) ** 2
    if fam.vision == "siglip":
        # SigLIP: conv patch embedding (bias), learned positions, biased attention/MLP, LayerNorms;
        # gemma3's projector: mm_input_projection [hv, text_hidden] and mm_soft_emb_norm (RMS, hv).
        n = channels * patch * patch * hv + hv + patches * hv
        n += layers * (4 * (hv * hv + hv) + 2 * hv * inter + inter + hv + 4 * hv) + 2 * hv
        n += hv * text_hidden + hv
        if vc.get("vision_use_head"):  # the class default; Gemma 3 checkpoints turn it off
            n += hv + 3 * hv * hv + 3 * hv + hv * hv + hv + 2 * hv + 2 * hv * inter + inter + hv
    elif fam.vision == "pixtral":
        # Pixtral: bias-free conv patches, RMS ln_pre, gated MLP; mistral3 projector: RMS norm,
        # patch merger (spatial_merge_size^2 * hv -> hv), linear_1 (hv -> text), linear_2 (text -> text).
        merge = int(top.get("spatial_merge_size") or 2)
        bias = bool(top.get("multimodal_projector_bias") or False)
        n = channels * patch * patch * hv + hv
        n += layers * (4 * hv * hv + 3 * hv * inter + 2 * hv)
        n += hv + merge * merge * hv * hv
        n += hv * text_hidden + text_hidden * text_hidden + (2 * text_hidden if bias else 0)
    else:  # llama4
        # Unfold-conv patches (no bias), class embedding, positions for patches + class token,
        # pre/post LayerNorms, biased attention/MLP, pixel-shuffle MLP adapter, projector.
        p_in = _int(vc, mt, "projector_input_dim")
        p_out = _int(vc, mt, "projector_output_dim")
        out_dim = _int(vc, mt, "vision_output_dim")
        n = channels * patch * patch * hv + hv + (patches + 1) * hv + 4 * hv
        n += layers * (4 * (hv * hv + hv) + 2 * hv * inter + inter + hv + 4 * hv)
        n += inter * p_in + p_out * p_out
        n += out_dim * text_hidden
    c.add("vision", n)
    return VisionSpec(
        hidden_size=hv, num_layers=layers, intermediate_size=inter, num_heads=heads, image_size=image, patch_size=patch
    )


def _vit_tower(vc: Mapping[str, Any], mt: str) -> tuple[int, VisionSpec]:
    """A CLIP / SigLIP / InternViT encoder: conv patches, positions, biased attention and MLP, LayerNorms.

    CLIP: a class token, bias-free patch conv, pre- and post-LayerNorm. SigLIP: no class token,
    patch conv with bias, post-LayerNorm. InternViT: class token, patch conv with bias, layer-scale
    vectors (2 per layer), no final norm (mean pooling off: the projector reads the last layer).
    """
    kind = str(vc.get("model_type") or "")
    hv, layers = _int(vc, mt, "hidden_size"), _int(vc, mt, "num_hidden_layers")
    inter, heads = _int(vc, mt, "intermediate_size"), _int(vc, mt, "num_attention_heads")
    # InternViT gives [height, width] pairs; square images and patches are what its configs use.
    sizes = {k: vc.get(k) for k in ("image_size", "patch_size")}
    flat = {k: v[0] if isinstance(v, list | tuple) else v for k, v in sizes.items()}
    image, patch = _int(flat, mt, "image_size"), _int(flat, mt, "patch_size")
    channels = _int(vc, mt, "num_channels", default=3)
    patches = (image // patch) ** 2
    block = 2 * (2 * hv) + 2 * hv * inter + inter + hv  # two LayerNorms, MLP
    if kind == "clip_vision_model":
        n = hv + channels * patch * patch * hv + (patches + 1) * hv + 2 * hv + 2 * hv
        n += layers * (block + 4 * (hv * hv + hv))
    elif kind in ("idefics3_vision", "smolvlm_vision"):  # SigLIP without the pooling head
        n = channels * patch * patch * hv + hv + patches * hv + 2 * hv
        n += layers * (block + 4 * (hv * hv + hv))
    elif kind == "siglip_vision_model":
        n = channels * patch * patch * hv + hv + patches * hv + 2 * hv
        n += layers * (block + 4 * (hv * hv + hv))
        if vc.get("vision_use_head", True):  # attention-pooling head: probe, MHA, LayerNorm, MLP
            n += hv + 3 * hv * hv + 3 * hv + hv * hv + hv + 2 * hv + 2 * hv * inter + inter + hv
    elif kind == "internvl_vision":
        qkv_bias = bool(vc.get("attention_bias"))
        n = hv + channels * patch * patch * hv + hv + (patches + 1) * hv
        attn = 4 * hv * hv + (3 * hv if qkv_bias else 0) + hv  # projection_layer has a bias
        if vc.get("use_qk_norm"):
            attn += 2 * hv
        n += layers * (block + attn + 2 * hv)  # lambda_1, lambda_2 layer scales
        if not vc.get("use_mean_pooling", True):
            n += 2 * hv
    else:
        raise Unmodelled(f"{mt}: vision tower {kind or '(unnamed)'} is not modelled.")
    return n, VisionSpec(
        hidden_size=hv, num_layers=layers, intermediate_size=inter, num_heads=heads, image_size=image, patch_size=patch
    )


def _vit_with_projector(
    c: _Counts, fam: Family, top: Mapping[str, Any], vc: Mapping[str, Any], text_hidden: int
) -> VisionSpec:
    """LLaVA-style towers and their projectors (two biased linears; NeXT adds an image-newline vector;
    InternVL a pixel-shuffle LayerNorm over ``hv / downsample_ratio^2`` features)."""
    mt = f"{fam.model_type} vision_config"
    n, spec = _vit_tower(vc, mt)
    hv = spec.hidden_size
    if fam.vision == "video_llava":  # a second (video) CLIP tower beside the image tower
        n *= 2
    if fam.vision == "cohere2_vision":  # pixel shuffle, a SwiGLU pair of biased linears to the text width
        factor = _count(top, fam.model_type, "downsample_factor", default=2)
        width, inner = hv * factor * factor, _int(top, fam.model_type, "alignment_intermediate_size")
        n += width * inner + inner + inner // 2 * text_hidden + text_hidden
    elif fam.vision == "idefics3":  # pixel shuffle by scale_factor, one bias-free linear to the text width
        scale = _count(top, fam.model_type, "scale_factor", default=2)
        n += hv * scale * scale * text_hidden
    elif fam.vision == "paligemma":  # one biased linear to the text width
        n += hv * text_hidden + text_hidden
    elif fam.vision == "vipllava":  # LayerNorm over the concatenated feature layers, two biased linears
        width = hv * len(top.get("vision_feature_layers") or [-1])
        n += 2 * width + width * text_hidden + text_hidden + text_hidden * text_hidden + text_hidden
    elif fam.vision == "internvl":
        ratio = float(top.get("downsample_ratio") or 0.5)
        width = int(hv / ratio / ratio)
        n += 2 * width + width * text_hidden + text_hidden + text_hidden * text_hidden + text_hidden
    else:
        layers = top.get("vision_feature_layer")
        width = hv * (len(layers) if isinstance(layers, list) else 1)
        bias = bool(top.get("multimodal_projector_bias", True))
        n += width * text_hidden + text_hidden * text_hidden + (2 * text_hidden if bias else 0)
        if fam.vision == "llava_next":
            n += text_hidden  # image_newline
    c.add("vision", n)
    return spec


def _moonvit(c: _Counts, fam: Family, vc: Mapping[str, Any], text_hidden: int) -> VisionSpec:
    """Kimi-K2.5's MoonViT: conv patches (bias), a 2-D learned position grid, LayerNorm blocks with
    biased q/k/v/proj and fc1/fc2, a final LayerNorm; the projector merges ``merge_kernel_size``
    patches (LayerNorm, in_proj, out_proj to the text width, all biased)."""
    mt = f"{fam.model_type} vision_config"
    hv, layers = _int(vc, mt, "hidden_size"), _int(vc, mt, "num_hidden_layers")
    heads, inter = _int(vc, mt, "num_attention_heads"), _int(vc, mt, "intermediate_size")
    patch = _int(vc, mt, "patch_size")
    grid_h, grid_w = _int(vc, mt, "pos_emb_height"), _int(vc, mt, "pos_emb_width")
    kernel = vc.get("merge_kernel_size") or [2, 2]
    merged = hv * int(kernel[0]) * int(kernel[1])
    n = 3 * patch * patch * hv + hv + grid_h * grid_w * hv
    n += layers * (4 * hv + 4 * (hv * hv + hv) + 2 * hv * inter + inter + hv) + 2 * hv
    n += 2 * hv + merged * merged + merged + merged * text_hidden + text_hidden
    c.add("vision", n)
    return VisionSpec(
        hidden_size=hv,
        num_layers=layers,
        intermediate_size=inter,
        num_heads=heads,
        image_size=grid_h * patch,
        patch_size=patch,
    )


def _qwen3_vision(c: _Counts, fam: Family, vc: Mapping[str, Any]) -> VisionSpec:
    """Qwen3-VL / Qwen3.5 ViT (estimator.towers_mm.qwen3_vit)."""
    n, spec = towers_mm.qwen3_vit(vc, f"{fam.model_type} vision_config")
    c.add("vision", n)
    return spec


def _qwen_vision(c: _Counts, fam: Family, vc: Mapping[str, Any], text_hidden: int) -> VisionSpec:
    """Qwen2-VL / Qwen2.5-VL ViT: Conv3d patches (no bias), blocks with biased qkv/proj, a patch merger.

    Qwen2-VL: LayerNorms (weight + bias) and a plain fc1/fc2 MLP of ``embed_dim x mlp_ratio``; its
    ``hidden_size`` is the output width. Qwen2.5-VL: RMSNorms and a biased gated MLP of
    ``intermediate_size``; ``hidden_size`` is the ViT width and ``out_hidden_size`` the output.
    """
    mt = f"{fam.model_type} vision_config"
    layers, heads = _int(vc, mt, "depth"), _int(vc, mt, "num_heads")
    patch, temporal = _int(vc, mt, "patch_size"), _int(vc, mt, "temporal_patch_size")
    channels = _int(vc, mt, "in_chans", "in_channels")
    merge = _int(vc, mt, "spatial_merge_size")
    if fam.vision == "qwen2_vl":
        width, out = _int(vc, mt, "embed_dim"), _int(vc, mt, "hidden_size", default=text_hidden)
        inter = int(width * vc["mlp_ratio"])
        norms, norm = 2 * 2 * width, 2 * width  # LayerNorm weight + bias
        mlp = width * inter + inter + inter * width + width
    else:
        width, out = _int(vc, mt, "hidden_size"), _int(vc, mt, "out_hidden_size", default=text_hidden)
        inter = _int(vc, mt, "intermediate_size")
        norms, norm = 2 * width, width  # RMSNorm weight
        mlp = 2 * (width * inter + inter) + inter * width + width
    attn = width * 3 * width + 3 * width + width * width + width
    merged = width * merge * merge
    n = channels * temporal * patch * patch * width  # Conv3d, no bias
    n += layers * (norms + attn + mlp)
    n += norm + merged * merged + merged + merged * out + out  # merger: ln_q, Linear, GELU, Linear
    c.add("vision", n)
    tower = VisionSpec(
        hidden_size=width,
        num_layers=layers,
        intermediate_size=inter,
        num_heads=heads,
        image_size=_int(vc, mt, "image_size"),
        patch_size=patch,
    )
    if fam.vision == "qwen2_vl":
        return tower
    # Qwen2.5-VL's encoder profile run is modelled tensor by tensor (estimator.engines.vllm).
    update = {
        "encoder": "qwen2_5_vl",
        "merge_size": merge,
        "temporal_patch_size": temporal,
        "in_channels": channels,
        "output_width": out,
    }
    return VisionSpec.model_validate({**tower.model_dump(), **update})


# ---------------------------------------------------------------- quantization


def _quantization(top: Mapping[str, Any], text: Mapping[str, Any], model_type: str, dtype: TorchDType) -> Quantization:
    qc = top.get("quantization_config") or text.get("quantization_config")
    if not qc:
        return Quantization(method="none", format=dtype)
    method = str(qc.get("quant_method") or "").lower()
    skipped = tuple(qc.get("modules_to_not_convert") or qc.get("ignore") or ())
    if method == "fp8":
        # vLLM's Fp8Config reads ``ignored_layers`` first, then ``modules_to_not_convert``
        # (layers/quantization/fp8.py@v0.20.0, @v0.33.0).
        skipped = tuple(qc.get("ignored_layers") or qc.get("modules_to_not_convert") or ())
        block = qc.get("weight_block_size")
        # transformers/vLLM "fp8" checkpoints: weight_scale_inv in fp32, per block or per tensor.
        return Quantization(
            method="fp8",
            format="fp8",
            weight_bits=8,
            scale_bytes=4,
            skipped_modules=skipped,
            block_size=(int(block[0]), int(block[1])) if block else None,
            granularity="tensor",
        )
    if method in ("gptq", "awq"):
        bits = int(qc.get("bits") or qc.get("w_bit") or 4)
        group = int(qc.get("group_size") or qc.get("q_group_size") or 128)
        zero = (method == "awq" and qc.get("zero_point", True)) or method == "gptq"
        return Quantization(
            method=method,
            format=method,
            weight_bits=bits,
            group_size=None if group < 0 else group,
            scale_bytes=2,
            zero_points=bool(zero),
            symmetric=bool(qc.get("sym", True)) if method == "gptq" else True,
            # With one group per row (group_size -1) the order changes nothing.
            act_order=method == "gptq" and bool(qc.get("desc_act")) and group > 0,
            skipped_modules=skipped,
        )
    if method == "bitsandbytes":
        if qc.get("load_in_4bit") or qc.get("_load_in_4bit"):
            if str(qc.get("bnb_4bit_quant_type") or "fp4") != "nf4":
                raise ConfigError(f"{model_type} checkpoint uses bitsandbytes fp4, which vram does not size.")
            return Quantization(
                method="bitsandbytes",
                format="nf4",
                weight_bits=4,
                group_size=64,
                scale_bytes=4,
                double_quant=bool(qc.get("bnb_4bit_use_double_quant")),
                skipped_modules=skipped,
            )
        return Quantization(method="bitsandbytes", format="int8", weight_bits=8, scale_bytes=4, skipped_modules=skipped)
    if method == "mxfp4":
        return Quantization(
            method="mxfp4",
            format="mxfp4",
            weight_bits=4,
            group_size=32,
            scale_bytes=1,
            scope="experts",
            skipped_modules=skipped,
        )
    if method == "compressed-tensors":
        return _compressed_tensors(qc, model_type, skipped)
    if method == "modelopt":
        return _modelopt(qc, model_type)
    raise ConfigError(f"{model_type} checkpoint uses quantization method {method!r}, which vram does not size.")


def _mixed_experts(
    top: Mapping[str, Any], text: Mapping[str, Any], model_type: str, quant: Quantization
) -> tuple[Quantization, str | None]:
    """DeepSeek-V4's ``expert_dtype`` (top level, or moved into ``quantization_config`` by
    DeepseekV4Config): routed experts stored in another format than the rest. vLLM
    (``models/deepseek_v4.py@v0.21.0``, ``models/deepseek_v4/quant_config.py@v0.33.0``) loads
    ``expert_dtype: fp4`` experts with ``Mxfp4MoEMethod`` (FP4 values two per byte, one e8m0 scale
    byte per 32 inputs, no bias) and, for those checkpoints, keeps the fp8 linears' block scales
    as e8m0 (one byte, ``is_scale_e8m0``). Any other mix is said, not guessed."""
    qc = top.get("quantization_config") or text.get("quantization_config") or {}
    expert = top.get("expert_dtype") or text.get("expert_dtype") or qc.get("expert_dtype")
    if not expert or quant.method == "none" or str(expert).lower() == quant.format:
        return quant, None
    if str(expert).lower() == "fp4" and quant.format == "fp8" and quant.block_size:
        return quant.model_copy(update={"expert_format": "mxfp4", "scale_bytes": 1}), None
    return quant, (
        f"{model_type} stores its routed experts as {expert} (expert_dtype) beside {quant.format} weights, "
        "a mix vram does not size yet."
    )


# NVFP4 (compressed-tensors ``nvfp4-pack-quantized``, NVIDIA ModelOpt ``quant_algo: NVFP4``): per
# quantized matrix, FP4 E2M1 values two per byte (``weight_packed`` / ``weight`` U8 [out, in / 2]),
# one FP8 E4M3 scale per 16 inputs (``weight_scale`` [out, in / 16]) and fp32 per-tensor scales
# (``weight_global_scale`` / ``weight_scale_2``, plus ``input_global_scale`` / ``input_scale`` when
# activations are FP4 too); vLLM creates exactly these (compressed_tensors_w4a4_nvfp4.py,
# compressed_tensors_w4a16_nvfp4.py, modelopt.py ModelOptNvFp4LinearMethod, @v0.20.0).
NVFP4_GROUP = 16


def _nvfp4(method: QuantMethod, skipped: tuple[str, ...], activations: bool) -> Quantization:
    return Quantization(
        method=method,
        format="nvfp4",
        weight_bits=4,
        group_size=NVFP4_GROUP,
        scale_bytes=1,
        tensor_scales=2 if activations else 1,
        skipped_modules=skipped,
    )


def _modelopt(qc: Mapping[str, Any], model_type: str) -> Quantization:
    """ModelOpt's config as vLLM's modelopt.py reads it: ``quant_algo`` and ``ignore`` at the top
    (config.json), or ``quant_algo`` and ``exclude_modules`` under ``quantization`` (the legacy
    hf_quant_config.json)."""
    nested = qc.get("quantization")
    inner: Mapping[str, Any] = nested if isinstance(nested, Mapping) else qc
    algo = str(inner.get("quant_algo") or "").upper()
    if algo != "NVFP4":
        raise ConfigError(
            f"{model_type} checkpoint uses ModelOpt quant_algo {algo or 'none'!r}, which vram does not size."
        )
    group = inner.get("group_size", NVFP4_GROUP)
    if group != NVFP4_GROUP:
        raise ConfigError(f"{model_type} checkpoint uses ModelOpt NVFP4 with group size {group}; NVFP4 groups are 16.")
    excluded = inner.get("exclude_modules") or qc.get("ignore") or qc.get("exclude_modules") or ()
    skipped = tuple(str(m) for m in excluded)
    return _nvfp4("modelopt", skipped, activations=True)


def _ct_group(qc: Mapping[str, Any]) -> Mapping[str, Any]:
    """The one compressed-tensors config group that quantizes weights."""
    groups = qc.get("config_groups") or {}
    return next((g for g in groups.values() if g.get("weights")), {})


def _compressed_tensors(qc: Mapping[str, Any], model_type: str, skipped: tuple[str, ...]) -> Quantization:
    groups = qc.get("config_groups") or {}
    schemes = [g.get("weights") for g in groups.values() if g.get("weights")]
    if len(schemes) != 1:
        raise ConfigError(
            f"{model_type} checkpoint has {len(schemes)} compressed-tensors weight schemes; vram sizes exactly one."
        )
    w = schemes[0]
    bits, kind, strategy = int(w.get("num_bits") or 8), w.get("type") or "int", w.get("strategy") or "tensor"
    group = w.get("group_size")
    block = w.get("block_structure")
    common: dict[str, Any] = {"method": "compressed-tensors", "weight_bits": bits, "skipped_modules": skipped}
    if strategy not in ("tensor", "channel", "group", "block", "tensor_group"):
        raise ConfigError(
            f"{model_type} checkpoint uses compressed-tensors strategy {strategy!r}, which vram does not size."
        )
    granularity = "tensor" if strategy == "tensor" else "channel"
    if kind == "float" and bits == 8:
        # float-quantized scales are stored in fp32 (weight_scale [out, 1] or per block / tensor)
        return Quantization(
            format="fp8",
            scale_bytes=4,
            granularity=granularity,
            block_size=(int(block[0]), int(block[1])) if block else None,
            **common,
        )
    if kind == "int" and bits == 8:
        return Quantization(format="int8", scale_bytes=4, granularity=granularity, **common)
    if kind == "float" and bits == 4 and strategy == "tensor_group" and int(group or 0) == NVFP4_GROUP:
        return _nvfp4("compressed-tensors", skipped, activations=bool(_ct_group(qc).get("input_activations")))
    if strategy == "tensor_group":
        raise ConfigError(
            f"{model_type} checkpoint uses compressed-tensors {kind}{bits} per tensor group, which vram does not size."
        )
    if kind == "int" and bits == 4:
        return Quantization(
            format="int4",
            group_size=int(group) if strategy == "group" else None,
            scale_bytes=2,
            zero_points=not w.get("symmetric", True),
            **common,
        )
    raise ConfigError(f"{model_type} checkpoint uses compressed-tensors {kind}{bits}, which vram does not size.")


# ---------------------------------------------------------------- entry point


def _text_config(config: Mapping[str, Any], fam: Family) -> Mapping[str, Any]:
    """The text model's config (nested for multimodal types), as transformers filled it."""
    text: Any = config
    nested = config.get(fam.text_key or "text_config")
    # Nested for multimodal families; also where a saved config moved the text fields into
    # text_config (newer transformers saves of Qwen2.5-VL) or an unknown type nests them.
    if isinstance(nested, Mapping) and (fam.text_key is not None or "num_hidden_layers" not in config):
        text = nested
    # An explicit null sliding_window overrides a family default (Mistral-7B-v0.3 turns it off).
    return {**fam.text_defaults, **{k: v for k, v in text.items() if v is not None or k == "sliding_window"}}


def load_model_spec(config: Mapping[str, Any], *, safetensors: SafetensorsInfo | None = None) -> ModelSpec:
    """Normalise ``config`` (a parsed config.json) into a :class:`ModelSpec`.

    The config is first filled by transformers' own config class for its ``model_type`` (defaults,
    aliases, derived fields; see :mod:`estimator.archconfig`). Raises :class:`ConfigError` when the
    standard size fields are missing or a field holds a value of the wrong shape. A type whose layers
    vram does not model, or that the installed transformers does not know, is read through the
    standard fields with ``unread`` saying why: its numbers carry no verdict.
    """
    if not isinstance(config, Mapping):
        raise ConfigError(f"config.json must hold a JSON object; this one holds {type(config).__name__}.")
    model_type = str(config.get("model_type") or "unknown")
    try:
        return _check_spec(_load(config, model_type, safetensors))
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, ArithmeticError) as err:
        # A field of the wrong type deep in a family's layout (a string where a number belongs):
        # one sentence for the user, never a traceback.
        if isinstance(err, ValidationError):
            where = ".".join(str(part) for part in err.errors()[0]["loc"])
            detail = f"{where}: {err.errors()[0]['msg']}"
        else:
            detail = f"{type(err).__name__}: {err}"
        detail = " ".join(detail.split())[:120]
        raise ConfigError(f"{model_type} config has a field vram cannot read ({detail}).") from err


def _with_text_family(fam: Family, config: Mapping[str, Any]) -> Family:
    """An image-text type whose text stack is any known type: that type's traits, this type's tower."""
    text = config.get("text_config")
    if fam.vision not in (
        "own",
        "llava",
        "llava_next",
        "internvl",
        "paligemma",
        "vipllava",
        "pixtral",
        "idefics3",
        "video_llava",
        "cohere2_vision",
        "kimi_k25",
        "unmodelled",
        *towers.PROJECTORS,
    ) or not isinstance(text, Mapping):
        return fam
    text_type = str(text.get("model_type") or "")
    text_fam = family(text_type)
    if text_fam is None and text_type and fam.vision in towers.PROJECTORS:
        # BLIP-2 over Flan-T5: a text stack that is not the family's must not be read as its layout.
        raise ConfigError(f"vram does not model the {text_type} text stack of {fam.model_type}.")
    if text_fam is None or text_fam.text_key is not None:
        return fam
    return dataclasses.replace(
        text_fam,
        model_type=fam.model_type,
        text_key="text_config",
        vision=fam.vision,
        vision_defaults=fam.vision_defaults,
    )


def _unmodelled_sentence(model_type: str, config: Mapping[str, Any]) -> str:
    """Why a type without a family gets no verdict: its layer kinds vram does not model, if it names them."""
    text = config.get("text_config") if isinstance(config.get("text_config"), Mapping) else config
    types = text.get("layer_types") if isinstance(text, Mapping) else None
    odd = sorted({str(t) for t in types or () if str(t) not in _LAYER_TYPE_KINDS})
    if odd:
        kinds = ", ".join(repr(t) for t in odd)
        return f"vram does not model {model_type}'s {kinds} layers, so its parameters and cache are not known."
    return f"vram does not model the layers of {model_type}, so its parameters and cache are not known."


def _filled(config: Mapping[str, Any]) -> tuple[Mapping[str, Any], str, str | None]:
    """The config as transformers fills it, where it came from, and why it could not be, if not."""
    try:
        full, source = archconfig.normalise(config)
    except archconfig.UnknownModelType as err:
        return config, "raw", str(err)
    return full, source, None


# Layer counts and periods whose value decides the layout; a config class derives layer lists from
# them without checking, so a negative or fractional one is refused before it is read.
_COUNT_FIELDS = (
    "sliding_window_pattern",
    "interleave_moe_layer_step",
    "decoder_sparse_step",
    "first_k_dense_replace",
    "moe_layer_freq",
    "n_shared_experts",
    "num_shared_experts",
    "shared_expert_intermediate_size",
    "expert_layer_period",
    "expert_layer_offset",
    "attn_layer_period",
    "attn_layer_offset",
    "full_attention_interval",
    "max_window_layers",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "hidden_size",
    "intermediate_size",
    "moe_intermediate_size",
    "vocab_size",
    "head_dim",
)


def _check_counts(config: Mapping[str, Any], model_type: str) -> None:
    for cfg in (config, config.get("text_config")):
        if not isinstance(cfg, Mapping):
            continue
        for name in _COUNT_FIELDS:
            value = cfg.get(name)
            if value is None or (name in ("intermediate_size", "moe_intermediate_size") and isinstance(value, list)):
                continue  # per-layer (or per-modality) widths are refused where the MLP is read
            if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value or value < 0:
                raise ConfigError(f"{model_type} config has {name}={value!r}; expected a whole number.")


# Upper bounds on the fields that size a model, far above any real one (the largest real models
# have hidden 16k-25k, vocab 256k, a few hundred layers, 128 heads, 512 experts, 10M context), so a
# hostile or mistyped value is refused with its name instead of yielding a 55-digit answer.
_CAP_HIDDEN = 1 << 20
_CAP_WIDTH = 1 << 22  # MLP widths
_CAP_VOCAB = 1 << 24
_CAP_HEADS = 1 << 16
_CAP_EXPERTS = 1 << 16
_CAP_TOKENS = 1 << 32  # context lengths and windows
_CAP_PIXELS = 1 << 16  # an image side in pixels (real vision towers take 224-2,048)
_CAP_GROUPS: tuple[tuple[tuple[str, ...], int, str], ...] = (
    (("hidden_size", "n_embd", "d_model", "dim", "kv_lora_rank", "q_lora_rank"), _CAP_HIDDEN, "hidden units"),
    (
        (
            "intermediate_size",
            "n_inner",
            "ffn_dim",
            "ffn_hidden_size",
            "moe_intermediate_size",
            "shared_expert_intermediate_size",
            "expert_intermediate_size",
        ),
        _CAP_WIDTH,
        "MLP units",
    ),
    (("vocab_size", "padded_vocab_size", "n_vocab"), _CAP_VOCAB, "tokens in its vocabulary"),
    (("num_hidden_layers", "n_layer", "num_layers", "n_layers"), MAX_LAYERS, "layers"),
    (
        (
            "num_attention_heads",
            "n_head",
            "num_heads",
            "n_heads",
            "num_key_value_heads",
            "n_head_kv",
            "num_kv_heads",
            "n_kv_heads",
            "linear_num_key_heads",
            "linear_num_value_heads",
        ),
        _CAP_HEADS,
        "heads",
    ),
    (
        (
            "head_dim",
            "kv_channels",
            "qk_nope_head_dim",
            "qk_rope_head_dim",
            "v_head_dim",
            "linear_key_head_dim",
            "linear_value_head_dim",
        ),
        _CAP_HEADS,
        "units per head",
    ),
    (
        (
            "num_local_experts",
            "num_experts",
            "n_routed_experts",
            "moe_num_experts",
            "num_experts_per_tok",
            "experts_per_token",
            "num_experts_per_token",
            "moe_topk",
            "n_shared_experts",
            "num_shared_experts",
            "n_group",
            "topk_group",
        ),
        _CAP_EXPERTS,
        "experts",
    ),
    (
        ("max_position_embeddings", "n_positions", "sliding_window", "attention_chunk_size", "max_window_layers"),
        _CAP_TOKENS,
        "tokens of context",
    ),
    (("image_size", "max_image_size", "patch_size"), _CAP_PIXELS, "pixels per image side"),
)
_FIELD_CAPS: dict[str, tuple[int, str]] = {name: (cap, noun) for names, cap, noun in _CAP_GROUPS for name in names}
_MAX_CONFIG_DEPTH = 32  # real configs nest 3-5 levels (quantization_config.config_groups.group_0.weights)
_MAX_NUMBER = 2**63  # no field of a real config comes near it


def _check_values(node: Any, model_type: str, path: str = "", depth: int = 0) -> None:
    """Refuse NaN, infinities, absurd numbers and absurd nesting anywhere in a config, naming the field."""
    if depth > _MAX_CONFIG_DEPTH:
        where = path or "the top"
        raise ConfigError(
            f"{model_type} config nests more than {_MAX_CONFIG_DEPTH} levels deep at {where}: vram cannot read it."
        )
    if isinstance(node, Mapping):
        for key, value in node.items():
            _check_values(value, model_type, f"{path}.{key}" if path else str(key), depth + 1)
            if str(key) in _FIELD_CAPS:
                for item in value if isinstance(value, list) else (value,):
                    _check_capped(model_type, str(key), item)
    elif isinstance(node, list | tuple):
        for index, value in enumerate(node):
            _check_values(value, model_type, f"{path}[{index}]", depth + 1)
    elif _unusable_number(node):
        raise ConfigError(f"{model_type} config has {path}={_shown(node)}, which is not a usable number.")


def _check_capped(model_type: str, key: str, value: Any) -> None:
    """One value of a field that sizes the model: a finite number from 0 to the field's cap."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return  # the wrong type is refused where the field is read
    cap, noun = _FIELD_CAPS[key]
    if not math.isfinite(value):
        raise ConfigError(f"{model_type} config has {key}={_shown(value)}, a value vram cannot read.")
    if value < 0:
        raise ConfigError(f"{model_type} config has {key}={_shown(value)}; it cannot be negative.")
    if value > cap:
        raise ConfigError(
            f"{model_type} config has {key}={_shown(value)}: vram reads models of at most {cap:,} {noun}."
        )


def _unusable_number(value: Any) -> bool:
    # Infinity is a real value in places (Mamba-2's time_step_limit [0, inf]); NaN never is, nor an
    # integer no machine type holds. The fields that size the model are bounded by _FIELD_CAPS.
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) > _MAX_NUMBER


def _shown(value: Any) -> str:
    """A value as a sentence shows it (a 400-digit integer is cut)."""
    text = repr(value)
    return text if len(text) <= 24 else f"{text[:12]}... ({len(text):,} characters)"


_MAX_PARAMS = 100_000 * 10**9  # the n= override's bound: 100,000 billion


# The fields every real checkpoint's config states (by one of these names, or an alias its config
# class maps): the layer count and the width. Heads and vocabulary are left out: published configs
# lean on the class defaults for those (gemma-3-4b-it's text_config gives neither).
_SIZE_FIELDS: dict[str, tuple[str, ...]] = {
    "num_hidden_layers": ("num_hidden_layers", "n_layer", "num_layers", "n_layers", "layer_types"),
    "hidden_size": ("hidden_size", "n_embd", "d_model", "dim"),
}


def _unstated_size(config: Mapping[str, Any], model_type: str, fam: Family) -> list[str]:
    """The size fields ``config`` leaves to class defaults, at its top level and in its text config."""
    parts: list[tuple[Mapping[str, Any], str]] = [(config, model_type)]
    for key in dict.fromkeys((fam.text_key or "text_config", "text_config")):
        nested = config.get(key)
        if isinstance(nested, Mapping):
            parts.append((nested, str(nested.get("model_type") or "")))
    missing = []
    for wanted, names in _SIZE_FIELDS.items():
        stated = False
        for part, part_type in parts:
            entry = archconfig.table()["types"].get(part_type) or {}
            aliases = {alias for alias, real in entry.get("attribute_map", {}).items() if real in names}
            aliases |= {real for alias, real in entry.get("attribute_map", {}).items() if alias in names}
            stated = stated or any(part.get(name) is not None for name in (*names, *aliases))
        if not stated:
            missing.append(wanted)
    return missing


def _check_spec(spec: ModelSpec) -> ModelSpec:
    """What the fields allow one by one but no model can be: more active than total, absurd totals."""
    if spec.num_experts and spec.experts_per_token > spec.num_experts:
        raise ConfigError(
            f"{spec.model_type} config routes each token to {spec.experts_per_token} experts "
            f"of {spec.num_experts}: num_experts_per_tok cannot exceed the expert count."
        )
    if spec.params.total > _MAX_PARAMS:
        raise ConfigError(
            f"{spec.model_type} config describes {spec.params.total:.3g} parameters, more than "
            f"{_MAX_PARAMS:.0e}: check hidden_size, num_hidden_layers and the MLP widths."
        )
    return spec


def _load(config: Mapping[str, Any], model_type: str, safetensors: SafetensorsInfo | None) -> ModelSpec:
    _check_values(config, model_type)
    _check_counts(config, model_type)
    warnings: list[str] = []
    # vLLM builds the model its architectures name; transformers does too once the checkpoint's
    # remote code (a copy of that class) is trusted. A type the table's transformers lacks is read
    # so without importing the installed one; else that one decides whether it knows the type.
    by_class = None if archconfig.defines(model_type) else archconfig.architecture_type(config)
    if by_class is None:
        full, source, unknown = _filled(config)
        by_class = archconfig.architecture_type(config) if unknown else None
    if by_class is not None:
        read_as, cls = by_class
        full, source, unknown = _filled({**config, "model_type": read_as})
        warnings.append(f"{model_type} is read as {read_as}, the type of its architecture {cls}.")
        model_type = read_as
    fam = family(model_type)
    unread: list[str] = [unknown] if unknown else []
    text = full.get("text_config")
    text_type = str(text.get("model_type") or "") if isinstance(text, Mapping) else ""
    if model_type in UNMODELLED:
        unread.append(f"vram does not model {model_type} ({UNMODELLED[model_type]}).")
        text_type = ""
    if fam is None and not unknown and family(text_type) is not None:
        # An image-text type vram has no entry for, over a text stack it models: the text stack is
        # read exactly and the towers are named as not modelled.
        fam = Family(model_type, text_key="text_config", vision="unmodelled")
    known = fam is not None
    if fam is None:
        fam = UNKNOWN
        if not unread:
            unread.append(_unmodelled_sentence(model_type, full))
    fam = _with_text_family(fam, full)
    unstated = _unstated_size(config, model_type, fam)
    if unstated:
        unread.append(
            f"the config gives no {' or '.join(unstated)}, so the size here is transformers' {model_type} "
            "default, not this model's."
        )
    try:
        return _build(full, config, model_type, fam, known, source, warnings, unread, safetensors)
    except Unmodelled as err:
        if fam is UNKNOWN:
            raise
        # A layer kind the family's layout does not cover: read the rest as a Llama-style decoder.
        return _build(full, config, model_type, UNKNOWN, False, source, warnings, [*unread, str(err)], safetensors)


def _attention_free(fam: Family) -> bool:
    """A family with no attention layers (Mamba): no head count to read, heads and head_dim 0."""
    return fam.arch == "special" and fam.model_type in special.ATTENTION_FREE


def _build(
    config: Mapping[str, Any],
    raw: Mapping[str, Any],
    model_type: str,
    fam: Family,
    known: bool,
    source: str,
    warnings: list[str],
    unread: list[str],
    safetensors: SafetensorsInfo | None,
) -> ModelSpec:
    warnings = list(warnings)
    fam = layerkinds.switched(fam, _text_config(config, fam))
    cfg = layerkinds.derived(fam, _text_config(config, fam))
    if fam.sliding in ("all_if_window", "qwen2") and "sliding_window" not in cfg:
        cfg = {**cfg, "sliding_window": None}
    if fam is UNKNOWN:
        cfg = {k: v for k, v in cfg.items() if k not in ("layer_types", "mlp_layer_types")}
    layers = num_layers(cfg, model_type)
    hidden = hidden_size(cfg, model_type)
    attention_free = _attention_free(fam)
    heads = 0 if attention_free else num_heads(cfg, model_type)
    vocab = vocab_size(cfg, model_type)
    for name, value in (
        ("num_hidden_layers", layers),
        ("hidden_size", hidden),
        ("num_attention_heads", 1 if attention_free else heads),
        ("vocab_size", vocab),
    ):
        _positive(model_type, name, value)
    if layers > MAX_LAYERS:
        # One LayerKV per layer is built: a corrupt config must not exhaust memory.
        raise ConfigError(
            f"{model_type} config has num_hidden_layers={layers}; vram sizes models of at most {MAX_LAYERS:,} layers."
        )
    kv_heads = (
        0 if attention_free else _positive(model_type, "num_key_value_heads", num_kv_heads(cfg, model_type, heads))
    )
    # MLA: the classes derive head_dim = qk_rope_head_dim (a RoPE width); the engines' activation
    # terms read spec.head_dim as the config states it, else hidden / heads, as before.
    mla = fam.arch == "mla" or fam.attention in ("mla", "dsa")
    head_cfg = {**_text_config(raw, fam), "hidden_size": hidden, "num_attention_heads": heads} if mla else cfg
    try:
        hd = 0 if attention_free else _positive(model_type, "head_dim", head_dim(head_cfg, model_type, hidden, heads))
    except ConfigError:
        if not mla:
            raise
        hd = _positive(model_type, "head_dim", head_dim(cfg, model_type, hidden, heads))
    if fam.arch == "special" and isinstance(cfg.get("intermediate_size"), list):
        # Gemma 3n: one MLP width per layer; the widest sizes activations
        inter = max(special.mlp_widths(cfg, model_type, layers))
    else:
        inter = intermediate_size(cfg, model_type, hidden)
    # An image-text model ties (or not) its lm_head by its own top-level flag, whatever its text_config says.
    # (when the saved config states it; the classes' defaults differ from what published checkpoints store).
    outer = raw.get("tie_word_embeddings") if fam.text_key is not None else None
    tied = (
        bool(
            outer
            if outer is not None
            else _field(
                cfg, "tie_word_embeddings", default=_field(config, "tie_word_embeddings", default=fam.tie_default)
            )
        )
        and not fam.never_tied
    )
    # The dtype the checkpoint was saved in: the raw config's (transformers fills none when absent).
    dtype, dtype_warning = torch_dtype(
        (_text_config(raw, fam), raw), model_type, fam, safetensors.parameters if safetensors else None
    )
    if dtype_warning:
        warnings.append(dtype_warning)
    if fam.arch == "jamba":
        cfg = {**cfg, "mamba_dt_rank": cfg.get("mamba_dt_rank", "auto")}
    g = _Geometry(
        model_type=model_type,
        fam=fam,
        cfg=cfg,
        top=config,
        hidden=hidden,
        layers=layers,
        heads=heads,
        kv_heads=kv_heads,
        head_dim=hd,
        vocab=vocab,
        intermediate=inter,
        tied=tied,
    )

    c = _Counts()
    extra_rows = _int(cfg, model_type, fam.extra_vocab, default=0) if fam.extra_vocab else 0
    c.add("embedding", (vocab + extra_rows) * hidden)
    if not tied:
        head_bias = fam.arch == "phi" or _flag(cfg, "lm_head_bias", fam.lm_head_bias)
        c.linear("lm_head", hidden, vocab, "vocab", 1, bias=head_bias)
    layer_kv, extra = _BUILDERS[fam.arch](c, layerkinds.weight_geometry(g))
    # Which decoder layers are MoE, where the family's placement rule gives the builder's count (a
    # pipeline rank's share of dense and MoE weights follows where its layers fall).
    moe_flags = _moe_layer_flags(g) if extra.get("num_moe_layers") and not g.fam.weight_stacks else []
    placed = tuple(moe_flags) if sum(moe_flags) == extra.get("num_moe_layers") and len(moe_flags) == layers else ()
    layer_kv = layerkinds.unrolled(g, layer_kv)  # weights run in cycles: one cache layer per pass
    if fam.arch == "special":
        warnings.extend(special.notes(g, DTYPE_BYTES[dtype]))
    try:
        vision = _prefix_item_tokens(fam, config, _vision(c, fam, config, hidden))
    except Unmodelled as err:  # the text stack is known; the tower is not: say so, no verdict
        vision = None
        unread = [*unread, str(err)]
    if fam.vision == "own":  # text-side tensors of an own-tower type beyond its text family's layers
        towers_mm.text_extras(c, fam.model_type, cfg, config)
    quant = _quantization(config, cfg, model_type, dtype)
    quant, why = _mixed_experts(config, cfg, model_type, quant)
    if why:
        unread = [*unread, why]

    params = c.params()
    params_source = "config"
    checkpoint_bytes = None
    checkpoint_fp32_bytes = None
    if safetensors is not None:
        checkpoint_bytes = _loaded_bytes(safetensors, layers)
        checkpoint_fp32_bytes = _loaded_bytes(safetensors, layers, "F32")
        if checkpoint_bytes is None:
            checkpoint_bytes = _bytes_from_counts(safetensors.parameters, model_type)
            checkpoint_fp32_bytes = 4 * safetensors.parameters.get("F32", 0)
        if quant.method == "none":
            params, note = _params_from_checkpoint(params, safetensors, tied, vocab * hidden)
            params_source = "safetensors"
            if note:
                warnings.append(note)
        if safetensors.tensors is not None:
            checked, notes, covered = structure.check_layers(
                tuple(layer_kv),
                safetensors.tensors,
                hidden=hidden,
                q_width=heads * hd,
                head_dim=hd,
                model_type=model_type,
            )
            layer_kv = list(checked)
            warnings.extend(notes)
            if unread and covered and not any(layer.kind == "state" for layer in layer_kv):
                # The weights are the checkpoint's bytes and every layer's cache is read from its
                # tensors: the structure no longer rests on a guess.
                warnings.append(
                    f"vram does not model {model_type}'s layers: its weights are the checkpoint's "
                    "bytes and its KV cache is read from the attention tensors of every layer."
                )
                unread = []

    return ModelSpec(
        model_type=model_type,
        known_family=known,
        architectures=tuple(raw.get("architectures") or ()),
        torch_dtype=dtype,
        hidden_size=hidden,
        num_layers=layers,
        num_attention_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=hd,
        vocab_size=vocab,
        intermediate_size=_dense_width(c, g),
        max_position_embeddings=_int(cfg, model_type, "max_position_embeddings", "n_positions", default=None),
        scaled_max_positions=_scaled_max_positions(
            cfg, _int(cfg, model_type, "max_position_embeddings", "n_positions", default=None)
        ),
        rope_scaling_type=_rope_scaling_type(cfg),
        moe_layer_flags=placed,
        tie_word_embeddings=tied,
        layers=tuple(layer_kv),
        mtp_layers=_int(cfg, model_type, "mtp_num_hidden_layers", "num_nextn_predict_layers", default=0),
        mamba_ssm_dtype=_mamba_ssm_dtype(cfg, model_type),
        params=params,
        quantization=quant,
        vision=vision,
        checkpoint_bytes=checkpoint_bytes,
        checkpoint_fp32_bytes=checkpoint_fp32_bytes,
        params_source=params_source,
        warnings=tuple(warnings),
        linears=c.linear_specs(),
        value_from_key=c.value_from_key_specs(),
        unread=tuple(unread),
        config_source=source,
        **extra,
    )


def _mamba_ssm_dtype(cfg: Mapping[str, Any], model_type: str) -> TorchDType | None:
    """The config's ``mamba_ssm_dtype`` (the recurrent state's dtype Qwen3.5/3.6 name), or None."""
    raw = cfg.get("mamba_ssm_dtype")
    if raw is None or str(raw).lower() == "auto":  # "auto": the model's dtype, as unset
        return None
    key = str(raw).removeprefix("torch.").lower()
    if key not in _TORCH_DTYPES:
        raise ConfigError(f"{model_type} config has mamba_ssm_dtype {raw!r}; expected bfloat16, float16 or float32.")
    return _TORCH_DTYPES[key]


def _rope_scaling_type(cfg: Mapping[str, Any]) -> str:
    """The config's RoPE scaling type as transformers standardises it (rope_type, else type)."""
    scaling = cfg.get("rope_scaling") or cfg.get("rope_parameters")
    if not isinstance(scaling, Mapping):
        return "default"
    return str(scaling.get("rope_type") or scaling.get("type") or "default")


def _scaled_max_positions(cfg: Mapping[str, Any], positions: int | None) -> int | None:
    """``positions`` with the config's RoPE scaling applied as vLLM derives its longest max_model_len."""
    if positions is None:
        return None
    scaling = cfg.get("rope_scaling") or cfg.get("rope_parameters")
    if not isinstance(scaling, Mapping):
        return positions
    kind = str(scaling.get("rope_type") or scaling.get("type") or "default")
    factor = scaling.get("factor")
    if kind in ("default", "su", "longrope", "llama3") or not isinstance(factor, int | float) or factor <= 1:
        return positions
    if kind == "yarn":
        original = scaling.get("original_max_position_embeddings")
        if isinstance(original, int) and original > 0:
            positions = original
    return int(positions * factor)


def _dense_width(c: _Counts, g: _Geometry) -> int:
    """The dense MLP width actually used by some layer (0 when every layer is MoE)."""
    if c.dense_mlp == 0:
        return 0
    if g.fam.moe == "llama4":
        return int(g.cfg["intermediate_size_mlp"])
    return g.intermediate


_LAYER_INDEX = re.compile(r"(?:^|\.)layers\.(\d+)\.")
# Qwen3.5 / Qwen3.6 checkpoints keep their multi-token-prediction layer under ``mtp.`` (numbered
# from 0, so the layer-index rule below would count it): loaded only for speculative decoding.
_MTP_MODULE = re.compile(r"(?:^|\.)mtp\.")


def _loaded_bytes(st: SafetensorsInfo, num_layers: int, dtype: str | None = None) -> int | None:
    """Exact bytes of the tensors an engine loads (of one safetensors ``dtype`` only, when given),
    from the headers (None without them).

    Decoder layers past ``num_hidden_layers`` are multi-token-prediction modules (DeepSeek-V3's
    layer 61) that engines skip unless speculative decoding asks for them; so are ``mtp.`` modules.
    """
    if st.tensors is None:
        return None
    total = 0
    for name, tensor in st.tensors.items():
        if _MTP_MODULE.search(name) or (dtype is not None and tensor.dtype != dtype):
            continue
        match = _LAYER_INDEX.search(name)
        if match and "vision" not in name and int(match.group(1)) >= num_layers:
            continue
        total += tensor.nbytes
    return total


def _bytes_from_counts(parameters: Mapping[str, int], model_type: str) -> int:
    total = 0
    for dtype, count in parameters.items():
        if dtype not in SAFETENSORS_DTYPE_BYTES:
            raise ConfigError(f"{model_type} checkpoint has tensors of dtype {dtype!r}, which vram does not know.")
        total += SAFETENSORS_DTYPE_BYTES[dtype] * count
    return total


def _params_from_checkpoint(
    params: ParamCounts, st: SafetensorsInfo, tied: bool, embedding: int
) -> tuple[ParamCounts, str | None]:
    """Counts that follow an unquantized checkpoint: what is stored is what is counted.

    A tied checkpoint that also stores ``lm_head`` (Qwen3-0.6B) counts it as ``lm_head``; any other
    difference from the config arithmetic goes to ``other``, with a note.
    """
    stored = sum(n for d, n in st.parameters.items() if d in _FLOAT_DTYPES or d.startswith("F8"))
    diff = stored - params.total
    if diff == 0:
        return params, None
    data = params.model_dump(exclude={"total"})
    if tied and params.lm_head == 0 and diff == embedding:
        data["lm_head"] = embedding
        data["active"] += embedding
        return ParamCounts(**data), None
    if params.other + diff < 0:
        return params, (
            f"the checkpoint stores {stored:,} parameters but the config implies "
            f"{params.total:,}; using the config's count."
        )
    data["other"] += diff
    data["active"] += diff
    return ParamCounts(**data), (
        f"the checkpoint stores {stored:,} parameters, {diff:+,} against the config's arithmetic."
    )
