"""Layer kinds, per-layer traits and towers of the "layers" arch beyond the common ones in :mod:`estimator.config`.

The hooks, in the order :mod:`estimator.config` calls them: :func:`switched` applies the traits a config
switches on (and refuses values a family does not model), :func:`derived` fills fields the config names
otherwise; :func:`kinds` rewrites layer kinds (shared DSA indexers, layers reading another layer's keys
and values), :func:`block` and :func:`linear_block` size the kinds config.py does not (mixture of
attention experts, KDA with full-rank gates, MiniMax's lightning attention), :func:`q_up` and
:func:`expert_width` vary the latent-attention query and the experts' width, :func:`extras` adds the
per-layer tensors of the remaining traits of :class:`~estimator.families.Family`; :func:`weight_geometry`
and :func:`unrolled` handle weights run in cycles, :func:`vision` the towers in :data:`TOWERS`.
Each count reproduces the tensors transformers builds. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from common.errors import ConfigError, UnmodelledError
from estimator.families import Bias, Family
from estimator.fields import positive as _positive
from estimator.fields import whole
from estimator.spec import LayerKV, VisionSpec

if TYPE_CHECKING:
    from estimator.config import _Counts, _Geometry


class Unmodelled(UnmodelledError):
    """A layer kind or field vram does not model: the spec says so instead of guessing."""


# ---------------------------------------------------------------- config fields (as estimator.config reads them)


def _int(cfg: Mapping[str, Any], model_type: str, *names: str, default: int | None = None) -> int:
    """The first of ``names`` present (not null) as a whole number; absent: ``default``, else an error."""
    value = next((cfg[n] for n in names if cfg.get(n) is not None), None)
    if value is None:
        if default is not None:
            return default
        raise ConfigError(f"{model_type} config lacks {names[0]}, which vram needs to size its layers.")
    return whole(f"{model_type} config", names[0], value)


def _flag(cfg: Mapping[str, Any], rule: Bias, name: str = "attention_bias") -> bool:
    """A bias flag: fixed by the family, or read from the config field it names ("config": ``name``)."""
    if isinstance(rule, str):
        return bool(cfg.get(name if rule == "config" else rule) or False)
    return bool(rule)


def _experts(g: _Geometry) -> tuple[int, int]:
    """Routed experts and experts per token, by the names estimator.config reads."""
    e = _int(g.cfg, g.model_type, "num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts")
    k = _int(g.cfg, g.model_type, "num_experts_per_tok", "experts_per_token", "num_experts_per_token", "moe_topk")
    return e, k


def switched(fam: Family, cfg: Mapping[str, Any]) -> Family:
    """``fam`` with the traits its config flags switch on (``Family.switches``); a config value the
    family does not model (``Family.required``) is refused."""
    for name, values in fam.required.items():
        if cfg.get(name) not in values:
            raise Unmodelled(f"{fam.model_type} sets {name}={cfg.get(name)!r}, a layout vram does not model yet.")
    over: dict[str, Any] = {}
    for flag, traits in fam.switches.items():
        if cfg.get(flag):
            over.update(traits)
    return dataclasses.replace(fam, **over) if over else fam


def kinds(g: _Geometry, layer_kinds: list[str]) -> list[str]:
    """The layers' kinds once the family's traits are applied: Kolibri 1.1's weightless GQA indexers and
    layers reading another layer's keys and values ("reuse"), Hy-V4's shared indexers ("mla": no indexer)."""
    fam = g.fam
    if fam.gqa_indexer:
        layer_kinds = ["full" if k == "dsa" else k for k in layer_kinds]
    if fam.kv_sharing:
        sources = g.cfg.get("kv_source_layers")
        if not isinstance(sources, list) or len(sources) != len(layer_kinds):
            raise Unmodelled(f"{g.model_type} has kv_source_layers vram does not model.")
        layer_kinds = ["reuse" if s != i else k for i, (k, s) in enumerate(zip(layer_kinds, sources, strict=True))]
    if not fam.shared_indexers:
        return layer_kinds
    types = g.cfg.get("indexer_types")
    if not isinstance(types, list) or len(types) != len(layer_kinds) or set(types) - {"full", "shared"}:
        raise Unmodelled(f"{g.model_type} has indexer_types vram does not model.")
    return ["mla" if k == "dsa" and t == "shared" else k for k, t in zip(layer_kinds, types, strict=True)]


def weight_geometry(g: _Geometry) -> _Geometry:
    """The geometry whose layers hold weights: the distinct layers where passes reuse them (HRM-Text)."""
    if not g.fam.weight_stacks:
        return g
    per_stack = _positive(g.model_type, "num_layers_per_stack", g.cfg.get("num_layers_per_stack"))
    return dataclasses.replace(g, layers=g.fam.weight_stacks * per_stack)


def unrolled(g: _Geometry, layers: list[LayerKV]) -> list[LayerKV]:
    """One cache layer per pass over the weights (``num_hidden_layers`` of them), when passes reuse them."""
    if g.fam.recurrent_loops:
        return _looped(g, layers)
    if not g.fam.weight_stacks:
        return layers
    if len(set(layers)) != 1:
        raise Unmodelled(f"{g.model_type} reuses layers of different kinds, which vram does not model.")
    return [layers[0]] * g.layers


def _looped(g: _Geometry, layers: list[LayerKV]) -> list[LayerKV]:
    """Dory: the recurrent layers' caches again for every further loop ("per_loop"), or readers holding
    nothing ("last_loop"), after the layers' own."""
    mt = g.model_type
    start, count = _int(g.cfg, mt, "n_input_layers"), _int(g.cfg, mt, "n_recurrent_layers")
    loops = _positive(mt, "n_recurrent_loops", g.cfg.get("n_recurrent_loops"))
    mode = g.cfg.get("recurrent_kv_cache_mode", "per_loop")
    if start + count > len(layers):
        raise ConfigError(f"{mt} config has more input and recurrent layers than layers.")
    if mode == "per_loop":
        return layers + layers[start : start + count] * (loops - 1)
    if mode == "last_loop":
        return layers + [LayerKV(kind="none")] * count
    raise Unmodelled(f"{mt} sets recurrent_kv_cache_mode={mode!r}, which vram does not model.")


def _unpaired(cfg: Mapping[str, Any]) -> Mapping[str, Any]:
    """Dory's saved layer_types: (attention, "mlp") pairs, every count doubled; halved as DoryConfig does."""
    types = cfg.get("layer_types")
    if not isinstance(types, list) or "mlp" not in types:
        return cfg
    out = {**cfg, "layer_types": types[::2]}
    for name in ("num_hidden_layers", "n_input_layers", "n_output_layers", "n_recurrent_layers"):
        if isinstance(cfg.get(name), int):
            out[name] = cfg[name] // 2
    return out


def derived(fam: Family, cfg: Mapping[str, Any]) -> Mapping[str, Any]:
    """``cfg`` with the fields the family derives from others (``Family.derived``), and Dory's layer
    counts as its config class reads them."""
    if fam.paired_layer_types:
        cfg = _unpaired(cfg)
        if cfg.get("n_recurrent_layers") is None:
            layers = _int(cfg, fam.model_type, "num_hidden_layers")
            ends = _int(cfg, fam.model_type, "n_input_layers") + _int(cfg, fam.model_type, "n_output_layers")
            cfg = {**cfg, "n_recurrent_layers": layers - ends}
    if not fam.derived:
        return cfg
    out = dict(cfg)
    for name, factors in fam.derived.items():
        value = 1
        for factor in factors:
            value *= _int(cfg, fam.model_type, factor)
        out[name] = value
    return out


def q_up(c: _Counts, g: _Geometry, q_rank: int, q_out: int, n: int) -> None:
    """``n`` latent-attention query up-projections: q_b_proj, or AXK2's fused query and value gate."""
    if not g.fam.mla_q_gate:
        c.linear("attention", q_rank, q_out, "column", n)
        return
    gate = g.heads * _int(g.cfg, g.model_type, "v_head_dim")
    c.linear("attention", 2 * q_rank, q_out + gate, "column", n)


def expert_width(g: _Geometry) -> int:
    """The width the routed experts read and write: the hidden size, or Muse Spark's latent width."""
    return _int(g.cfg, g.model_type, "moe_hidden_size") if g.fam.moe_latent else g.hidden


def linear_block(c: _Counts, g: _Geometry, n: int) -> LayerKV:
    """``n`` fixed-state mixers of a kind :func:`estimator.config._linear_block` does not cover."""
    cfg, mt, h, kind = g.cfg, g.model_type, g.hidden, g.fam.linear
    if kind == "kda_full_gates":  # Ling 3 (bailing_hybrid): Kimi Delta Attention with full-rank f / g gates
        heads, dk = _int(cfg, mt, "linear_num_heads"), _int(cfg, mt, "linear_head_dim")
        kernel = _int(cfg, mt, "linear_conv_kernel_dim")
        proj = heads * dk
        c.linear("other", h, proj, "column", 3 * n)  # q, k, v
        c.add("other", n * (3 * proj * kernel + heads + proj))  # q/k/v short conv, A_log, dt_bias
        c.linear("other", h, proj, "column", 2 * n)  # forget gate f_proj, output gate g_proj
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
    if kind == "lightning":  # MiniMax-Text-01: the running K^T V per head, in the model dtype
        heads, hd = g.heads, g.head_dim
        width = heads * hd
        c.linear("other", h, 3 * width, "column", n)  # qkv_proj
        c.linear("other", h, width, "column", n)  # output_gate
        c.add("other", n * width)  # norm
        c.linear("other", width, h, "row", n)  # out_proj
        state = heads * hd * hd
        return LayerKV(kind="state", ssm_state_elements=state, state_elements=state, ssm_state_dtype_bytes=0)
    raise Unmodelled(f"{mt} has linear-attention layers of a kind vram does not model.")


def block(c: _Counts, g: _Geometry, kind: str, n: int) -> LayerKV:
    """``n`` attention layers of a kind :func:`estimator.config._build_layers` does not build itself."""
    h, mt = g.hidden, g.model_type
    if kind == "moa":  # JetMoE: shared k/v projections, routed experts of q and o projections
        experts, topk = _experts(g)
        width = g.kv_heads * g.head_dim
        c.linear("attention", h, 2 * width, "kv", n)  # kv_proj
        c.linear("routed_experts", h, width, "column", n * experts)  # q experts
        c.linear("routed_experts", width, h, "row", n * experts)  # o experts
        c.add("attention", n * h)  # the mixture's output bias
        c.add("router", n * experts * h)
        c.inactive += n * (experts - topk) * 2 * h * width
        return LayerKV(kind="full", kv_heads=g.kv_heads, key_dim=g.head_dim, value_dim=g.head_dim)
    if kind == "reuse":  # attention over another layer's keys and values: q, o and the q norm only
        q_out = g.heads * g.head_dim
        qkv_bias = _flag(g.cfg, g.fam.qkv_bias)
        o_bias = _flag(g.cfg, g.fam.o_bias)
        c.linear("attention", h, q_out, "column", n, qkv_bias)
        c.linear("attention", q_out, h, "row", n, o_bias)
        if g.fam.qk_norm is True:
            c.add("attention", n * g.head_dim)
        elif g.fam.qk_norm:
            raise Unmodelled(f"{mt} shares keys and values under a norm layout vram does not model.")
        return LayerKV(kind="none")
    raise Unmodelled(f"{mt} has layers of kind {kind!r}, which vram does not model.")


def extras(c: _Counts, g: _Geometry, kinds: list[str], moe_flags: list[bool]) -> None:
    """The per-layer tensors of the family's extra traits, over the layers ``kinds`` describes."""
    fam, h = g.fam, g.hidden
    attention = sum(k in ("full", "sliding", "chunked") for k in kinds)
    if fam.diff_attention:  # lambda_q1, lambda_k1, lambda_q2, lambda_k2 (the group norm has no weight)
        c.add("attention", attention * 4 * g.head_dim)
    if fam.moe_norm:
        c.add("norms", sum(moe_flags) * h)
    if fam.moe_bias:
        c.add("routed_experts", sum(moe_flags) * h)
    if fam.dynamic_mask:  # A (one per KV head) and dt_proj (values -> KV heads, biased like q/k/v)
        bias = _flag(g.cfg, fam.qkv_bias)
        c.add("attention", attention * g.kv_heads)
        c.linear("attention", g.kv_heads * g.head_dim, g.kv_heads, "none", attention, bias)
    c.add("norms", len(kinds) * fam.residual_scales * h)
    if fam.gated_norms:  # fc1 [rank, h] and fc2 [h, rank] per gated norm
        rank = _int(g.cfg, g.model_type, "gated_norm_rank")
        c.add("norms", (len(kinds) + sum(moe_flags)) * 2 * h * rank)
    if fam.moe_latent:  # pre_expert_proj, pre_expert_norm, post_expert_norm, post_expert_proj
        latent, n_moe = expert_width(g), sum(moe_flags)
        c.linear("dense_mlp", h, latent, "column", n_moe)
        c.linear("dense_mlp", latent, h, "row", n_moe)
        c.add("norms", n_moe * 2 * latent)
    if fam.expert_norms:  # [experts, hidden] after the routed experts, [hidden] after the shared one
        experts = _int(g.cfg, g.model_type, "num_experts", "num_local_experts", "n_routed_experts")
        c.add("norms", sum(moe_flags) * (experts + 1) * h)
    norm = h * (2 if fam.norm_bias else 1)
    if fam.no_first_attn_norm:  # counted with every layer's norms by the caller
        c.add("norms", -norm)
    if fam.prediction_head:
        c.linear("other", h, h, "none", 1, _flag(g.cfg, "config", "classifier_bias"))
        c.add("norms", norm)
    c.add("attention", attention * fam.attn_scales * g.heads * g.head_dim)
    c.add("dense_mlp", (len(kinds) - sum(moe_flags)) * fam.mlp_scales * g.intermediate)
    if fam.logit_scale:
        c.add("lm_head", g.vocab)
    if fam.weight_stacks:  # the low-level module's learned initial state
        c.add("other", h)
    if fam.last_o_bias:
        c.add("attention", h)
    if g.tied and _flag(g.cfg, fam.lm_head_bias, "lm_head_bias"):  # tying shares the weight, not the bias (CTRL)
        c.add("lm_head", g.vocab)
    latent = sum(k in ("mla", "dsa") for k in kinds)
    if latent and fam.attention != "gqa":
        # The output gates and sinks of latent-attention layers (GQA layers have theirs in config._attention_block).
        if fam.head_gate:  # one gate per head (Ling 3's g_proj)
            c.linear("attention", h, g.heads, "column", latent)
        if fam.attn_gate:  # a full sigmoid gate over the values (Hy-V4's gate_proj)
            c.linear("attention", h, g.heads * _int(g.cfg, g.model_type, "v_head_dim"), "column", latent)
        if fam.sinks is True:
            c.add("attention", latent * g.heads)
    if fam.hyper_connections:
        # Per layer, around attention and around the MLP: fn [2m, m*h], base [2m], scale [2];
        # before the final norm, the head: hc_fn [m, m*h], hc_base [m], hc_scale [1].
        m = _int(g.cfg, g.model_type, "hc_mult")
        c.add("other", len(kinds) * 2 * (2 * m * m * h + 2 * m + 2) + m * m * h + m + 1)


# Vision towers built here (``Family.vision``).
TOWERS = frozenset({"siglip2_merger", "moonvit_adapter", "conv_downsampled"})


def vision(c: _Counts, fam: Family, top: Mapping[str, Any], vc: Mapping[str, Any], text_hidden: int) -> VisionSpec:
    """The vision tower and projector of ``fam`` (one of :data:`TOWERS`)."""
    mt = f"{fam.model_type} vision_config"
    if fam.vision == "moonvit_adapter":
        return _moonvit_adapter(c, fam, top, vc, text_hidden)
    if fam.vision == "conv_downsampled":
        return _conv_downsampled(c, fam, top, vc, text_hidden)
    if fam.vision != "siglip2_merger":
        raise AssertionError(fam.vision)
    # SigLIP2: linear patch embedding (bias), a learned grid of num_patches positions, biased attention
    # and MLP under two LayerNorms per layer, a post-LayerNorm. The merger: LayerNorm (hv), then
    # spatial_merge_size^2 x hv -> projector_hidden_size -> the text width, biased.
    hv, layers = _int(vc, mt, "hidden_size"), _int(vc, mt, "num_hidden_layers")
    inter, heads = _int(vc, mt, "intermediate_size"), _int(vc, mt, "num_attention_heads")
    patch, positions = _int(vc, mt, "patch_size"), _int(vc, mt, "num_patches")
    channels, merge = _int(vc, mt, "num_channels", default=3), _int(vc, mt, "spatial_merge_size")
    block = 4 * (hv * hv + hv) + 2 * hv * inter + inter + hv + 2 * (2 * hv)
    c.add("vision", channels * patch * patch * hv + hv + positions * hv + layers * block + 2 * hv)
    width = _int(top, fam.model_type, "projector_hidden_size")
    c.add("vision", 2 * hv + merge * merge * hv * width + width + width * text_hidden + text_hidden)
    return VisionSpec(
        hidden_size=hv,
        num_layers=layers,
        intermediate_size=inter,
        num_heads=heads,
        image_size=_int(vc, mt, "image_size"),  # the largest image the processor makes (family default)
        patch_size=patch,
    )


def _moonvit_adapter(
    c: _Counts, fam: Family, top: Mapping[str, Any], vc: Mapping[str, Any], text_hidden: int
) -> VisionSpec:
    """Muse's tower: bias-free linear patches over patch_temporal frames, a learned position grid, pre- and
    post-LayerNorms around biased attention / MLP blocks; then the merged patches (out_hidden_size) through
    a bias-free two-layer adapter (projector_hidden_size) and a bias-free projection to the text width."""
    mt = f"{fam.model_type} vision_config"
    hv, layers = _int(vc, mt, "hidden_size"), _int(vc, mt, "num_hidden_layers")
    inter, heads = _int(vc, mt, "intermediate_size"), _int(vc, mt, "num_attention_heads")
    patch, frames = _int(vc, mt, "patch_size"), _int(vc, mt, "patch_temporal")
    grid = _int(vc, mt, "pos_emb_height") * _int(vc, mt, "pos_emb_width")
    block = 2 * (2 * hv) + 4 * (hv * hv + hv) + 2 * hv * inter + inter + hv
    c.add("vision", frames * 3 * patch * patch * hv + grid * hv + 2 * hv + layers * block + 2 * hv)
    merged, width = _int(top, fam.model_type, "out_hidden_size"), _int(top, fam.model_type, "projector_hidden_size")
    c.add("vision", merged * width + width * width + width * text_hidden)
    audio = top.get("audio_config")
    if isinstance(audio, Mapping):
        c.add("vision", _conv_audio(audio, fam.model_type))
    return VisionSpec(
        hidden_size=hv,
        num_layers=layers,
        intermediate_size=inter,
        num_heads=heads,
        image_size=_int(vc, mt, "image_size"),  # the largest image the processor makes (family default)
        patch_size=patch,
    )


def _conv_audio(ac: Mapping[str, Any], model_type: str) -> int:
    """Muse Spark's waveform encoder, counted with the towers: per stage a biased linear patch embedding
    and a norm, then ``depths`` blocks of a biased depthwise causal conv, a norm and a biased MLP
    (``mlp_ratio``); a final norm, a biased projection to ``out_hidden_size`` and its norm."""
    mt = f"{model_type} audio_config"
    if ac.get("model_type") != "muse_spark_audio":
        raise Unmodelled(f"vram does not model the audio tower of {model_type}, so its parameter count is incomplete.")
    stages = _int(ac, mt, "num_hidden_layers")
    lists = [ac.get(k) for k in ("hidden_sizes", "patch_sizes", "depths")]
    if not all(isinstance(x, list) and len(x) == stages for x in lists):
        raise Unmodelled(f"vram does not model the audio tower of {model_type}, so its parameter count is incomplete.")
    sizes, patches, depths = (list(x or ()) for x in lists)
    kernel, out = _int(ac, mt, "conv_kernel_size"), _int(ac, mt, "out_hidden_size")
    ratio = float(ac.get("mlp_ratio") or 4.0)
    n, prev = 0, 1
    for width, patch, depth in zip(sizes, patches, depths, strict=True):
        inter = int(width * ratio)
        n += prev * patch * width + width + width  # patch embedding and its norm
        n += depth * (width * kernel + width + width + 2 * width * inter + inter + width)
        prev = width
    return n + prev + prev * out + out + out


def _conv_downsampled(
    c: _Counts, fam: Family, top: Mapping[str, Any], vc: Mapping[str, Any], text_hidden: int
) -> VisionSpec:
    """Step 3.7's tower: bias-free conv patches, learned positions for the image grid, a pre-LayerNorm,
    biased attention / MLP blocks with two layer-scale vectors each; two 3x3 stride-2 convolutions (biased)
    doubling the width twice; a linear projector (biased per ``projector_bias``) to the text width."""
    mt = f"{fam.model_type} vision_config"
    hv, layers = _int(vc, mt, "hidden_size"), _int(vc, mt, "num_hidden_layers")
    inter, heads = _int(vc, mt, "intermediate_size"), _int(vc, mt, "num_attention_heads")
    image, patch = _int(vc, mt, "image_size"), _int(vc, mt, "patch_size")
    channels = _int(vc, mt, "num_channels", default=3)
    block = 2 * (2 * hv) + 4 * (hv * hv + hv) + 2 * hv * inter + inter + hv + 2 * hv
    n = channels * patch * patch * hv + (image // patch) ** 2 * hv + 2 * hv + layers * block
    n += hv * 2 * hv * 9 + 2 * hv + 2 * hv * 4 * hv * 9 + 4 * hv
    n += 4 * hv * text_hidden + (text_hidden if top.get("projector_bias") else 0)
    c.add("vision", n)
    return VisionSpec(
        hidden_size=hv, num_layers=layers, intermediate_size=inter, num_heads=heads, image_size=image, patch_size=patch
    )
