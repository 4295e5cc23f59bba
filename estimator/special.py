"""Builders for architectures outside the layer-by-layer decoder: each sizes its own stack.

:mod:`estimator.config` calls :func:`build` for a family whose ``arch`` is ``"special"``; the
builder adds the text stack's parameters to the counts and returns one :class:`LayerKV` per decoder
layer, as the other builders do. Every count below follows the modules transformers builds for the
type (its ``modeling_<type>.py``); what a builder cannot establish raises :class:`Unmodelled`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

# config imports this module only inside its functions, so importing config here makes no cycle.
from estimator.config import Unmodelled, _Counts, _Geometry, _positive
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


BUILDERS: dict[str, Builder] = {
    "mamba": _build_mamba,
    "falcon_mamba": _build_mamba,
}


def build(c: _Counts, g: _Geometry) -> tuple[list[LayerKV], dict[str, int]]:
    """The text stack of ``g``'s special family: parameters into ``c``, one LayerKV per layer."""
    builder = BUILDERS.get(g.fam.model_type) or BUILDERS.get(g.model_type)
    if builder is None:
        raise Unmodelled(f"vram does not model the layers of {g.model_type}.")
    return builder(c, g)
