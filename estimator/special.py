"""Builders for architectures outside the layer-by-layer decoder: each sizes its own stack.

:mod:`estimator.config` calls :func:`build` for a family whose ``arch`` is ``"special"``; the
builder adds the text stack's parameters to the counts and returns one :class:`LayerKV` per decoder
layer, as the other builders do. Every count below follows the modules transformers builds for the
type (its ``modeling_<type>.py``); what a builder cannot establish raises :class:`Unmodelled`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from common.errors import ConfigError

# config imports this module only inside its functions, so importing config here makes no cycle.
from estimator.config import (
    Unmodelled,
    _attention_kinds,
    _count_by,
    _Counts,
    _gated_mlp,
    _Geometry,
    _gqa_layer,
    _int,
    _per_layer_inputs,
    _positive,
)
from estimator.spec import LayerKV

Builder = Callable[[_Counts, _Geometry], tuple[list[LayerKV], dict[str, int]]]

# Types with no attention at all: no head count to read, no per-token cache.
ATTENTION_FREE = frozenset({"mamba", "falcon_mamba"})


# ---------------------------------------------------------------- Mamba (v1)


def _mamba_mixer(c: _Counts, g: _Geometry, n: int, *, inner: int, d_state: int, kernel: int, dt_rank: int) -> LayerKV:
    """``n`` Mamba-1 mixers (in/x/dt/out projections, depthwise conv, A_log, D) and their state."""
    cfg, h = g.cfg, g.hidden
    proj_bias = bool(cfg.get("use_bias", False))
    conv_bias = bool(cfg.get("use_conv_bias", True))
    c.linear("other", h, 2 * inner, "column", n, proj_bias)  # in_proj
    c.add("other", n * (inner * kernel + (inner if conv_bias else 0)))  # depthwise conv1d
    c.linear("other", inner, dt_rank + 2 * d_state, "none", n)  # x_proj
    c.linear("other", dt_rank, inner, "column", n, bias=True)  # dt_proj
    c.add("other", n * (inner * d_state + inner))  # A_log, D
    c.linear("other", inner, h, "row", n, proj_bias)  # out_proj
    return LayerKV(
        kind="state",
        mixer="mamba",
        conv_channels=inner,
        conv_kernel=kernel,
        ssm_state_elements=inner * d_state,
        state_elements=inner * kernel + inner * d_state,
    )


def _build_mamba(c: _Counts, g: _Geometry) -> tuple[list[LayerKV], dict[str, int]]:
    """Mamba / Falcon-Mamba: every layer one Mamba-1 mixer under one RMSNorm, then a final norm.

    Falcon-Mamba's extra dt/B/C norms carry no weights, so both count the same.
    """
    cfg, mt, h = g.cfg, g.model_type, g.hidden
    inner = _positive(mt, "intermediate_size", cfg.get("intermediate_size"))
    d_state = _positive(mt, "state_size", cfg.get("state_size"))
    kernel = _positive(mt, "conv_kernel", cfg.get("conv_kernel"))
    rank = cfg.get("time_step_rank")
    dt_rank = math.ceil(h / 16) if rank == "auto" else _positive(mt, "time_step_rank", rank)
    layer = _mamba_mixer(c, g, g.layers, inner=inner, d_state=d_state, kernel=kernel, dt_rank=dt_rank)
    c.add("norms", g.layers * h + h)
    return [layer] * g.layers, {}


# ---------------------------------------------------------------- Gemma 3n


def mlp_widths(cfg: Mapping[str, Any], model_type: str, layers: int) -> list[int]:
    """One MLP width per layer: the config's list (Gemma 3n), or its one width repeated."""
    raw = cfg.get("intermediate_size")
    widths = raw if isinstance(raw, list) else [raw] * layers
    if len(widths) != layers:
        raise ConfigError(f"{model_type} config lists {len(widths)} MLP widths for {layers} layers.")
    return [_positive(model_type, "intermediate_size", w) for w in widths]


def _build_gemma3n(c: _Counts, g: _Geometry) -> tuple[list[LayerKV], dict[str, int]]:
    """Gemma 3n: per-layer MLP widths, AltUp and Laurel blocks, per-layer inputs, and the last
    ``num_kv_shared_layers`` layers reusing an earlier layer's keys and values (no k/v weights, no cache)."""
    cfg, mt, h, n = g.cfg, g.model_type, g.hidden, g.layers
    hd, q_out, kv_out = g.head_dim, g.heads * g.head_dim, g.kv_heads * g.head_dim
    shared = _int(cfg, mt, "num_kv_shared_layers", default=0)
    if shared >= n:
        raise ConfigError(f"{mt} config shares the keys and values of {shared} of its {n} layers.")
    owners = n - shared
    bias = bool(cfg.get("attention_bias"))
    c.linear("attention", h, q_out, "column", n, bias)
    c.linear("attention", q_out, h, "row", n, bias)
    c.linear("attention", h, kv_out, "kv", 2 * owners, bias)
    c.add("attention", n * hd + owners * hd)  # q_norm everywhere, k_norm where k is computed (v_norm has no weight)
    for width, count in _count_by(mlp_widths(cfg, mt, n)).items():
        _gated_mlp(c, "dense_mlp", h, width, count)
    inputs = _int(cfg, mt, "altup_num_inputs")
    rank = _int(cfg, mt, "laurel_rank")
    # AltUp per layer: output scale, correction and prediction coefficients, the modality router and its norm.
    c.add("other", n * (h + inputs * inputs + inputs**3 + h * inputs))
    c.add("norms", n * h)
    c.linear("other", h, rank, "none", n)  # Laurel: linear_left, linear_right and its norm
    c.linear("other", rank, h, "none", n)
    c.add("norms", n * h)
    c.add("norms", n * 4 * h + h)  # input, post-attention, pre- and post-feedforward norms; final norm
    c.linear("other", h, h, "none", 2 * (inputs - 1))  # altup_projections, altup_unembed_projections
    _per_layer_inputs(c, g)
    layers = [_gqa_layer(g, kind) if i < owners else LayerKV(kind="none") for i, kind in enumerate(_attention_kinds(g))]
    return layers, {}


BUILDERS: dict[str, Builder] = {
    "mamba": _build_mamba,
    "falcon_mamba": _build_mamba,
    "gemma3n_text": _build_gemma3n,
    "gemma3n": _build_gemma3n,
}


def build(c: _Counts, g: _Geometry) -> tuple[list[LayerKV], dict[str, int]]:
    """The text stack of ``g``'s special family: parameters into ``c``, one LayerKV per layer."""
    builder = BUILDERS.get(g.fam.model_type) or BUILDERS.get(g.model_type)
    if builder is None:
        raise Unmodelled(f"vram does not model the layers of {g.model_type}.")
    return builder(c, g)
