"""Normalise a ``config.json`` into a :class:`~estimator.spec.ModelSpec`.

All the reading of raw config dicts happens here, once: named field helpers with ordered
fallbacks, the per-family quirks from :mod:`estimator.families`, and the parameter arithmetic
that reproduces published totals exactly. Pure: no I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from common.errors import ConfigError
from estimator.families import UNKNOWN, Family, family
from estimator.spec import (
    LayerKV,
    LinearComponent,
    LinearSplit,
    LinearWeights,
    ModelSpec,
    ParamCounts,
    Quantization,
    SafetensorsInfo,
    TorchDType,
    VisionSpec,
)

_MISSING = object()
MAX_LAYERS = 10_000  # the deepest real decoders have a few hundred layers

# Safetensors dtype names -> bytes per element (for exact checkpoint bytes from the Hub's counts).
SAFETENSORS_DTYPE_BYTES: dict[str, int] = {
    "F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2, "I16": 2,
    "U16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1, "I8": 1, "U8": 1, "BOOL": 1,
}
_FLOAT_DTYPES = {"F32", "F16", "BF16"}

_TORCH_DTYPES: dict[str, TorchDType] = {
    "bfloat16": "bf16", "bf16": "bf16", "float16": "fp16", "fp16": "fp16", "half": "fp16",
    "float32": "fp32", "fp32": "fp32", "float": "fp32",
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
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value or value < 0:
        raise ConfigError(f"{model_type} config has {names[0]}={value!r}; expected a whole number.")
    return int(value)


def _count(cfg: Mapping[str, Any], model_type: str, *names: str, default: int) -> int:
    """An optional whole-number field (absent, null or 0: ``default``); negative or fractional raises."""
    value = _int(cfg, model_type, *names, default=None)
    return value or default


def hidden_size(cfg: Mapping[str, Any], model_type: str) -> int:
    return _int(cfg, model_type, "hidden_size", "n_embd", "d_model", "dim")


def num_layers(cfg: Mapping[str, Any], model_type: str) -> int:
    return _int(cfg, model_type, "num_hidden_layers", "n_layer", "num_layers", "n_layers")


def num_heads(cfg: Mapping[str, Any], model_type: str) -> int:
    return _int(cfg, model_type, "num_attention_heads", "n_head", "num_heads", "n_heads")


def num_kv_heads(cfg: Mapping[str, Any], model_type: str, heads: int) -> int:
    if cfg.get("multi_query") is True:
        return 1
    return _int(cfg, model_type, "num_key_value_heads", "n_head_kv", "num_kv_heads", "n_kv_heads",
                default=heads)


def head_dim(cfg: Mapping[str, Any], model_type: str, hidden: int, heads: int) -> int:
    explicit = _field(cfg, "head_dim", "kv_channels", default=None)
    if explicit is not None:
        return _int(cfg, model_type, "head_dim", "kv_channels")
    if hidden % heads:
        raise ConfigError(f"{model_type} config has hidden_size {hidden} not divisible by "
                          f"{heads} attention heads and no head_dim.")
    return hidden // heads


def vocab_size(cfg: Mapping[str, Any], model_type: str) -> int:
    return _int(cfg, model_type, "vocab_size", "padded_vocab_size", "n_vocab")


def intermediate_size(cfg: Mapping[str, Any], model_type: str, hidden: int) -> int:
    return _int(cfg, model_type, "intermediate_size", "n_inner", "ffn_dim", "ffn_hidden_size",
                default=4 * hidden)


def torch_dtype(cfgs: tuple[Mapping[str, Any], ...], model_type: str, fam: Family) -> tuple[TorchDType, str | None]:
    """The dtype of unquantized tensors, and a warning when the config names none."""
    for cfg in cfgs:
        raw = _field(cfg, "torch_dtype", "dtype", default=None)
        if raw is not None:
            key = str(raw).removeprefix("torch.").lower()
            if key not in _TORCH_DTYPES:
                raise ConfigError(f"{model_type} config has torch_dtype {raw!r}; expected bfloat16, "
                                  "float16 or float32.")
            return _TORCH_DTYPES[key], None
    if fam.dtype_default is not None:
        return _TORCH_DTYPES[fam.dtype_default], None
    return "bf16", f"{model_type} config names no torch_dtype; assuming bfloat16 weights."


def _flag(cfg: Mapping[str, Any], name: str, rule: bool | str) -> bool:
    """A bias/norm flag: fixed by the family, or read from the config (default False)."""
    if rule == "config":
        return bool(cfg.get(name) or False)
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

    def linear(self, component: LinearComponent, in_f: int, out_f: int, split: LinearSplit,
               count: int = 1, bias: bool = False) -> None:
        """``count`` matrices [out_f, in_f] (plus biases, which stay unquantized)."""
        n = count * in_f * out_f + (count * out_f if bias else 0)
        setattr(self, component, getattr(self, component) + n)
        key = (component, in_f, out_f, split)
        self.linears[key] = self.linears.get(key, 0) + count

    def add(self, component: str, n: int) -> None:
        setattr(self, component, getattr(self, component) + n)

    def params(self) -> ParamCounts:
        total = (self.embedding + self.lm_head + self.attention + self.dense_mlp + self.routed_experts
                 + self.shared_experts + self.router + self.norms + self.other + self.vision)
        return ParamCounts(
            embedding=self.embedding, lm_head=self.lm_head, attention=self.attention,
            dense_mlp=self.dense_mlp, routed_experts=self.routed_experts,
            shared_experts=self.shared_experts, router=self.router, norms=self.norms, other=self.other,
            vision=self.vision, active=total - self.inactive,
        )

    def linear_specs(self) -> tuple[LinearWeights, ...]:
        return tuple(
            LinearWeights(component=c, in_features=i, out_features=o, count=n, split=s)  # type: ignore[arg-type]
            for (c, i, o, s), n in self.linears.items()
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
    moe = g.fam.moe
    if moe in ("mixtral", "gpt_oss"):
        return [True] * n
    if moe == "qwen":
        step = _count(cfg, g.model_type, "decoder_sparse_step", default=1)
        only_mlp = set(cfg.get("mlp_only_layers") or ())
        return [i not in only_mlp and (i + 1) % step == 0 for i in range(n)]
    if moe == "deepseek":
        first = _count(cfg, g.model_type, "first_k_dense_replace", default=0)
        freq = _count(cfg, g.model_type, "moe_layer_freq", default=1)
        return [i >= first and i % freq == 0 for i in range(n)]
    if moe == "llama4":
        if cfg.get("moe_layers") is not None:
            layers = set(cfg["moe_layers"])
            return [i in layers for i in range(n)]
        step = _count(cfg, g.model_type, "interleave_moe_layer_step", default=1)
        return [(i + 1) % step == 0 for i in range(n)]
    if moe == "jamba":
        period = _positive(g.model_type, "expert_layer_period", cfg["expert_layer_period"])
        offset = _int(cfg, g.model_type, "expert_layer_offset")
        return [i % period == offset for i in range(n)]
    return [False] * n


def _experts(g: _Geometry) -> tuple[int, int]:
    """Routed experts per MoE layer and experts per token."""
    e = _int(g.cfg, g.model_type, "num_local_experts", "num_experts", "n_routed_experts")
    k = _int(g.cfg, g.model_type, "num_experts_per_tok", "experts_per_token", "num_experts_per_token",
             "moe_topk")
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


def _positive(model_type: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value or value < 1:
        raise ConfigError(f"{model_type} config has {name}={value!r}; expected a positive whole number.")
    return int(value)


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
    window = _window(g)
    if kind == "sliding" and g.fam.sliding == "chunked":
        window = _positive(g.model_type, "attention_chunk_size", _int(g.cfg, g.model_type, "attention_chunk_size"))
    return LayerKV(kind=kind, window=window if kind == "sliding" else None,  # type: ignore[arg-type]
                   kv_heads=g.kv_heads, key_dim=g.head_dim, value_dim=g.head_dim)


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
        extra = {"num_experts": experts, "experts_per_token": topk, "moe_intermediate_size": moe_inter,
                 "num_moe_layers": sum(flags)}
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
    cfg, mt, h, n, heads = g.cfg, g.model_type, g.hidden, g.layers, g.heads
    kv_rank = _int(cfg, mt, "kv_lora_rank")
    rope = _int(cfg, mt, "qk_rope_head_dim")
    nope = _int(cfg, mt, "qk_nope_head_dim")
    v_dim = _int(cfg, mt, "v_head_dim")
    q_rank = cfg.get("q_lora_rank")
    q_out = heads * (nope + rope)
    if q_rank is None:  # V2-Lite: a plain q_proj
        c.linear("attention", h, q_out, "column", n)
    else:
        c.linear("attention", h, int(q_rank), "none", n)  # q_a_proj (replicated in vLLM)
        c.add("attention", n * int(q_rank))  # q_a_layernorm
        c.linear("attention", int(q_rank), q_out, "column", n)  # q_b_proj
    c.linear("attention", h, kv_rank + rope, "none", n)  # kv_a_proj_with_mqa
    c.add("attention", n * kv_rank)  # kv_a_layernorm
    c.linear("attention", kv_rank, heads * (nope + v_dim), "column", n)  # kv_b_proj
    c.linear("attention", heads * v_dim, h, "row", n)  # o_proj
    flags = _moe_layer_flags(g)
    n_moe = sum(flags)
    experts, topk = _experts(g)
    moe_inter = _int(cfg, mt, "moe_intermediate_size")
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
    layer = LayerKV(kind="mla", kv_heads=1, key_dim=kv_rank, value_dim=rope)
    extra = {"num_experts": experts, "experts_per_token": topk, "moe_intermediate_size": moe_inter,
             "num_moe_layers": n_moe}
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
    extra = {"num_experts": experts, "experts_per_token": topk, "moe_intermediate_size": inter,
             "num_moe_layers": n}
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
            layers.append(LayerKV(kind="state", state_elements=state, conv_channels=d_inner, conv_kernel=d_conv,
                                  ssm_state_elements=d_inner * d_state))
    extra = {"num_experts": experts, "experts_per_token": topk, "moe_intermediate_size": g.intermediate,
             "num_moe_layers": sum(flags)}
    return layers, extra


_BUILDERS = {"decoder": _build_decoder, "phi": _build_phi, "mla": _build_mla, "gpt_oss": _build_gpt_oss,
             "jamba": _build_jamba}


# ---------------------------------------------------------------- vision towers


def _vision(c: _Counts, fam: Family, top: Mapping[str, Any], text_hidden: int) -> VisionSpec | None:
    if fam.vision == "none":
        return None
    vc = {**fam.vision_defaults, **{k: v for k, v in (top.get("vision_config") or {}).items() if v is not None}}
    mt = f"{fam.model_type} vision_config"
    if fam.vision in ("qwen2_vl", "qwen2_5_vl"):
        return _qwen_vision(c, fam, vc, text_hidden)
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
    return VisionSpec(hidden_size=hv, num_layers=layers, intermediate_size=inter, num_heads=heads,
                      image_size=image, patch_size=patch)


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
    return VisionSpec(hidden_size=width, num_layers=layers, intermediate_size=inter, num_heads=heads,
                      image_size=_int(vc, mt, "image_size"), patch_size=patch)


# ---------------------------------------------------------------- quantization


def _quantization(top: Mapping[str, Any], text: Mapping[str, Any], model_type: str,
                  dtype: TorchDType) -> Quantization:
    qc = top.get("quantization_config") or text.get("quantization_config")
    if not qc:
        return Quantization(method="none", format=dtype)
    method = str(qc.get("quant_method") or "").lower()
    skipped = tuple(qc.get("modules_to_not_convert") or qc.get("ignore") or ())
    if method == "fp8":
        block = qc.get("weight_block_size")
        # transformers/vLLM "fp8" checkpoints: weight_scale_inv in fp32, per block or per tensor.
        return Quantization(method="fp8", format="fp8", weight_bits=8, scale_bytes=4, skipped_modules=skipped,
                            block_size=(int(block[0]), int(block[1])) if block else None, granularity="tensor")
    if method in ("gptq", "awq"):
        bits = int(qc.get("bits") or qc.get("w_bit") or 4)
        group = int(qc.get("group_size") or qc.get("q_group_size") or 128)
        zero = (method == "awq" and qc.get("zero_point", True)) or method == "gptq"
        return Quantization(method=method, format=method, weight_bits=bits, group_size=None if group < 0 else group,
                            scale_bytes=2, zero_points=bool(zero), skipped_modules=skipped)
    if method == "bitsandbytes":
        if qc.get("load_in_4bit") or qc.get("_load_in_4bit"):
            if str(qc.get("bnb_4bit_quant_type") or "fp4") != "nf4":
                raise ConfigError(f"{model_type} checkpoint uses bitsandbytes fp4, which vram does not size.")
            return Quantization(method="bitsandbytes", format="nf4", weight_bits=4, group_size=64, scale_bytes=4,
                                double_quant=bool(qc.get("bnb_4bit_use_double_quant")), skipped_modules=skipped)
        return Quantization(method="bitsandbytes", format="int8", weight_bits=8, scale_bytes=4,
                            skipped_modules=skipped)
    if method == "mxfp4":
        return Quantization(method="mxfp4", format="mxfp4", weight_bits=4, group_size=32, scale_bytes=1,
                            scope="experts", skipped_modules=skipped)
    if method == "compressed-tensors":
        return _compressed_tensors(qc, model_type, skipped)
    raise ConfigError(f"{model_type} checkpoint uses quantization method {method!r}, which vram does not size.")


def _compressed_tensors(qc: Mapping[str, Any], model_type: str, skipped: tuple[str, ...]) -> Quantization:
    groups = qc.get("config_groups") or {}
    schemes = [g.get("weights") for g in groups.values() if g.get("weights")]
    if len(schemes) != 1:
        raise ConfigError(f"{model_type} checkpoint has {len(schemes)} compressed-tensors weight schemes; "
                          "vram sizes exactly one.")
    w = schemes[0]
    bits, kind, strategy = int(w.get("num_bits") or 8), w.get("type") or "int", w.get("strategy") or "tensor"
    group = w.get("group_size")
    block = w.get("block_structure")
    common: dict[str, Any] = {"method": "compressed-tensors", "weight_bits": bits, "skipped_modules": skipped}
    if strategy not in ("tensor", "channel", "group", "block"):
        raise ConfigError(f"{model_type} checkpoint uses compressed-tensors strategy {strategy!r}, which vram "
                          "does not size.")
    granularity = "tensor" if strategy == "tensor" else "channel"
    if kind == "float" and bits == 8:
        # float-quantized scales are stored in fp32 (weight_scale [out, 1] or per block / tensor)
        return Quantization(format="fp8", scale_bytes=4, granularity=granularity,
                            block_size=(int(block[0]), int(block[1])) if block else None, **common)
    if kind == "int" and bits == 8:
        return Quantization(format="int8", scale_bytes=4, granularity=granularity, **common)
    if kind == "int" and bits == 4:
        return Quantization(format="int4", group_size=int(group) if strategy == "group" else None,
                            scale_bytes=2, zero_points=not w.get("symmetric", True), **common)
    raise ConfigError(f"{model_type} checkpoint uses compressed-tensors {kind}{bits}, which vram does not size.")


# ---------------------------------------------------------------- entry point


def _text_config(config: Mapping[str, Any], fam: Family) -> Mapping[str, Any]:
    """The text model's config (nested for multimodal families), the family's defaults filled in."""
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

    Raises :class:`ConfigError` when the standard size fields are missing or a field holds a value
    of the wrong shape. An unknown ``model_type`` with the standard fields is read as a Llama-style
    decoder, with a warning.
    """
    if not isinstance(config, Mapping):
        raise ConfigError("config.json must hold a JSON object; this one holds "
                          f"{type(config).__name__}.")
    model_type = str(config.get("model_type") or "unknown")
    try:
        return _load(config, model_type, safetensors)
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


def _load(config: Mapping[str, Any], model_type: str, safetensors: SafetensorsInfo | None) -> ModelSpec:
    fam = family(model_type)
    warnings: list[str] = []
    known = fam is not None
    if fam is None:
        fam = UNKNOWN
        warnings.append(f"model_type {model_type!r} is not one vram knows; it was read as a Llama-style "
                        "decoder, so parameters and KV cache may be off.")
    cfg = _text_config(config, fam)
    if fam.sliding in ("all_if_window", "qwen2") and "sliding_window" not in cfg:
        cfg = {**cfg, "sliding_window": None}
    layers = num_layers(cfg, model_type)
    hidden = hidden_size(cfg, model_type)
    heads = num_heads(cfg, model_type)
    vocab = vocab_size(cfg, model_type)
    for name, value in (("num_hidden_layers", layers), ("hidden_size", hidden),
                        ("num_attention_heads", heads), ("vocab_size", vocab)):
        _positive(model_type, name, value)
    if layers > MAX_LAYERS:
        # One LayerKV per layer is built: a corrupt config must not exhaust memory.
        raise ConfigError(f"{model_type} config has num_hidden_layers={layers}; vram sizes models of at most "
                          f"{MAX_LAYERS:,} layers.")
    kv_heads = _positive(model_type, "num_key_value_heads", num_kv_heads(cfg, model_type, heads))
    hd = _positive(model_type, "head_dim", head_dim(cfg, model_type, hidden, heads))
    inter = intermediate_size(cfg, model_type, hidden)
    tied = bool(_field(cfg, "tie_word_embeddings", default=_field(config, "tie_word_embeddings",
                                                                default=fam.tie_default)))
    dtype, dtype_warning = torch_dtype((cfg, config), model_type, fam)
    if dtype_warning:
        warnings.append(dtype_warning)
    if fam.arch == "jamba":
        cfg = {**cfg, "mamba_dt_rank": cfg.get("mamba_dt_rank", "auto")}
    g = _Geometry(model_type=model_type, fam=fam, cfg=cfg, top=config, hidden=hidden, layers=layers,
                  heads=heads, kv_heads=kv_heads, head_dim=hd, vocab=vocab, intermediate=inter, tied=tied)

    c = _Counts()
    c.add("embedding", vocab * hidden)
    if not tied:
        c.linear("lm_head", hidden, vocab, "vocab", 1, bias=fam.arch == "phi")
    layer_kv, extra = _BUILDERS[fam.arch](c, g)
    vision = _vision(c, fam, config, hidden)
    quant = _quantization(config, cfg, model_type, dtype)

    params = c.params()
    params_source = "config"
    checkpoint_bytes = None
    if safetensors is not None:
        checkpoint_bytes = _loaded_bytes(safetensors, layers)
        if checkpoint_bytes is None:
            checkpoint_bytes = _bytes_from_counts(safetensors.parameters, model_type)
        if quant.method == "none":
            params, note = _params_from_checkpoint(params, safetensors, tied, vocab * hidden)
            params_source = "safetensors"
            if note:
                warnings.append(note)

    return ModelSpec(
        model_type=model_type, known_family=known,
        architectures=tuple(config.get("architectures") or ()),
        torch_dtype=dtype, hidden_size=hidden, num_layers=layers, num_attention_heads=heads,
        num_kv_heads=kv_heads, head_dim=hd, vocab_size=vocab,
        intermediate_size=_dense_width(c, g),
        max_position_embeddings=_int(cfg, model_type, "max_position_embeddings", "n_positions", default=None),
        tie_word_embeddings=tied, layers=tuple(layer_kv), params=params, quantization=quant, vision=vision,
        checkpoint_bytes=checkpoint_bytes, params_source=params_source,  # type: ignore[arg-type]
        warnings=tuple(warnings), linears=c.linear_specs(), **extra,
    )


def _dense_width(c: _Counts, g: _Geometry) -> int:
    """The dense MLP width actually used by some layer (0 when every layer is MoE)."""
    if c.dense_mlp == 0:
        return 0
    if g.fam.moe == "llama4":
        return int(g.cfg["intermediate_size_mlp"])
    return g.intermediate


_LAYER_INDEX = re.compile(r"(?:^|\.)layers\.(\d+)\.")


def _loaded_bytes(st: SafetensorsInfo, num_layers: int) -> int | None:
    """Exact bytes of the tensors an engine loads, from the headers (None without them).

    Decoder layers past ``num_hidden_layers`` are multi-token-prediction modules (DeepSeek-V3's
    layer 61) that engines skip unless speculative decoding asks for them.
    """
    if st.tensors is None:
        return None
    total = 0
    for name, tensor in st.tensors.items():
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


def _params_from_checkpoint(params: ParamCounts, st: SafetensorsInfo, tied: bool,
                            embedding: int) -> tuple[ParamCounts, str | None]:
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
        return params, (f"the checkpoint stores {stored:,} parameters but the config implies "
                        f"{params.total:,}; using the config's count.")
    data["other"] += diff
    data["active"] += diff
    return ParamCounts(**data), (f"the checkpoint stores {stored:,} parameters, {diff:+,} against the "
                                 "config's arithmetic.")
