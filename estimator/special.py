"""Builders for architectures outside the layer-by-layer decoder: each sizes its own stack.

:mod:`estimator.config` calls :func:`build` for a family whose ``arch`` is ``"special"``; the
builder adds the text stack's parameters to the counts and returns one :class:`LayerKV` per decoder
layer, as the other builders do. Every count below follows the modules transformers builds for the
type (its ``modeling_<type>.py``); what a builder cannot establish is refused with one sentence (a ConfigError).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from common.errors import ConfigError
from estimator import stacks
from estimator.families import Family
from estimator.fields import positive as _positive
from estimator.fields import whole
from estimator.spec import LayerKV, LinearComponent, VisionSpec

if TYPE_CHECKING:
    from estimator.config import _Counts, _Geometry

Builder = Callable[["_Counts", "_Geometry"], tuple[list[LayerKV], dict[str, int]]]

_REQUIRED: Any = object()


# ---------------------------------------------------------------- field helpers
# (config imports this module, so its helpers are not imported here: these read fields the same way)


def _int(cfg: Mapping[str, Any], model_type: str, *names: str, default: Any = _REQUIRED) -> Any:
    """The first of ``names`` set in ``cfg`` as a whole number, else ``default`` (required without one)."""
    value = next((cfg[name] for name in names if cfg.get(name) is not None), None)
    if value is None:
        if default is _REQUIRED:
            raise ConfigError(f"{model_type} config lacks {names[0]}, which vram needs to size it.")
        return default
    return whole(f"{model_type} config", names[0], value)


def _count_by(items: Iterable[Any]) -> dict[Any, int]:
    out: dict[Any, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return out


def _gated_mlp(c: _Counts, component: LinearComponent, h: int, inter: int, n: int, bias: bool = False) -> None:
    c.linear(component, h, inter, "column", 2 * n, bias)  # gate, up
    c.linear(component, inter, h, "row", n, bias)  # down


def _unmodelled(message: str) -> ConfigError:
    """A layout this module does not size: the type is refused with this sentence."""
    return ConfigError(message)


# Types with no attention at all: no head count to read, no per-token cache.
ATTENTION_FREE = frozenset({"mamba", "falcon_mamba", "rwkv"})


# ---------------------------------------------------------------- Mamba (v1)


def _mamba_mixer(
    c: _Counts,
    g: _Geometry,
    n: int,
    *,
    inner: int,
    d_state: int,
    kernel: int,
    dt_rank: int,
    proj_bias: bool,
    conv_bias: bool,
) -> LayerKV:
    """``n`` Mamba-1 mixers (in/x/dt/out projections, depthwise conv, A_log, D) and their state.

    Zamba splits x_proj and dt_proj per Mamba head; the weights add up to the same counts."""
    h = g.hidden
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
    layer = _mamba_mixer(
        c,
        g,
        g.layers,
        inner=inner,
        d_state=d_state,
        kernel=kernel,
        dt_rank=dt_rank,
        proj_bias=bool(cfg.get("use_bias", False)),
        conv_bias=bool(cfg.get("use_conv_bias", True)),
    )
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
    # Per-layer inputs: their embedding (hidden_size_per_layer_input per layer), its projection from
    # the hidden state and norm, and per layer a gate, a projection back and a norm.
    width = _int(cfg, mt, "hidden_size_per_layer_input")
    c.add("other", _int(cfg, mt, "vocab_size_per_layer_input") * n * width)
    c.linear("other", h, n * width, "none", 1)
    c.add("norms", width)
    c.linear("other", h, width, "none", n)
    c.linear("other", width, h, "none", n)
    c.add("norms", n * h)
    window = _positive(mt, "sliding_window", cfg.get("sliding_window"))
    layers = []
    for i, kind in enumerate(_per_layer_list(cfg, mt, "layer_types", n)):
        if kind not in ("sliding_attention", "full_attention"):
            raise _unmodelled(f"{mt} has layers of type {kind!r}, which vram does not model.")
        sliding = kind == "sliding_attention"
        layer = LayerKV(
            kind="sliding" if sliding else "full",
            window=window if sliding else None,
            kv_heads=g.kv_heads,
            key_dim=hd,
            value_dim=hd,
        )
        layers.append(layer if i < owners else LayerKV(kind="none"))
    return layers, {}


# ---------------------------------------------------------------- Mistral Large 4


def _per_layer_list(cfg: Mapping[str, Any], model_type: str, name: str, layers: int) -> list[Any]:
    values = cfg.get(name)
    if not isinstance(values, list) or len(values) != layers:
        raise ConfigError(f"{model_type} config needs {name} with one entry per layer ({layers}).")
    return values


def _build_mistral_large4(c: _Counts, g: _Geometry) -> tuple[list[LayerKV], dict[str, int]]:
    """Mistral Large 4: DSA attention without Q-LoRA whose layers differ one by one.

    ``no_rope_layers`` (0: no RoPE) drops the rope key from the latent (kv_a_proj and the cache);
    ``indexer_types`` "shared" layers reuse the previous indexer's top-k (no indexer, no indexer
    key cached); ``kv_source_layers`` lets a layer reuse an earlier layer's latent (no kv_a_proj,
    no latent cached). Every attention and indexer carries a learned per-head softmax scale and bias.
    """
    cfg, mt, h, n, heads = g.cfg, g.model_type, g.hidden, g.layers, g.heads
    kv_rank, rope = _int(cfg, mt, "kv_lora_rank"), _int(cfg, mt, "qk_rope_head_dim")
    nope, v_dim = _int(cfg, mt, "qk_nope_head_dim"), _int(cfg, mt, "v_head_dim")
    i_heads, i_dim = _int(cfg, mt, "index_n_heads"), _int(cfg, mt, "index_head_dim")
    uses_rope = [bool(x) for x in _per_layer_list(cfg, mt, "no_rope_layers", n)]
    indexers = _per_layer_list(cfg, mt, "indexer_types", n)
    sources = _per_layer_list(cfg, mt, "kv_source_layers", n)
    if any(t not in ("full", "shared") for t in indexers):
        raise _unmodelled(f"{mt} has indexer types {sorted(set(indexers))}, which vram does not model.")
    owns = [sources[i] == i for i in range(n)]
    bias = bool(cfg.get("attention_bias"))
    c.linear("attention", h, heads * (nope + rope), "column", n)  # q_proj (no Q-LoRA)
    c.linear("attention", heads * v_dim, h, "row", n, bias)  # o_proj
    c.add("attention", n * 2 * heads)  # softmax scaling: a scale and a bias per head
    for with_rope in (True, False):
        # A layer without RoPE widens its non-rotary key part by the rope width (kv_b_proj).
        width = nope + (0 if with_rope else rope)
        c.linear("attention", kv_rank, heads * (width + v_dim), "column", uses_rope.count(with_rope))  # kv_b_proj
        count = sum(o and r == with_rope for o, r in zip(owns, uses_rope, strict=True))
        c.linear("attention", h, kv_rank + (rope if with_rope else 0), "none", count, bias)  # kv_a_proj_with_mqa
        c.add("attention", count * kv_rank)  # kv_a_layernorm
    n_index = indexers.count("full")
    # Lightning indexer: wq_b, wk, k_norm (LayerNorm), weights_proj, q_input_norm (LayerNorm), softmax scaling.
    c.linear("attention", h, i_heads * i_dim, "none", n_index)
    c.linear("attention", h, i_dim, "none", n_index)
    c.linear("attention", h, i_heads, "none", n_index)
    c.add("attention", n_index * (2 * i_dim + 2 * h + 2 * i_heads))
    # The rotary embedding's learned frequency scale: one value per rotary frequency.
    c.add("attention", _int(cfg, mt, "head_dim") // 2)
    flags = [t == "sparse" for t in _per_layer_list(cfg, mt, "mlp_layer_types", n)]
    n_moe = sum(flags)
    _gated_mlp(c, "dense_mlp", h, g.intermediate, n - n_moe)
    extra: dict[str, int] = {}
    if n_moe:
        experts = _int(cfg, mt, "n_routed_experts")
        topk = _int(cfg, mt, "num_experts_per_tok")
        moe_inter = _int(cfg, mt, "moe_intermediate_size")
        shared = _int(cfg, mt, "n_shared_experts", default=0)
        _gated_mlp(c, "routed_experts", h, moe_inter, n_moe * experts)
        c.inactive += n_moe * (experts - topk) * 3 * h * moe_inter
        c.add("router", n_moe * experts * h)
        if shared:
            _gated_mlp(c, "shared_experts", h, moe_inter * shared, n_moe)
        extra = {
            "num_experts": experts,
            "experts_per_token": topk,
            "moe_intermediate_size": moe_inter,
            "num_moe_layers": n_moe,
        }
    c.add("norms", n * 2 * h + h)
    layers = []
    for i in range(n):
        index_dim = i_dim if indexers[i] == "full" else 0
        if owns[i]:
            layers.append(
                LayerKV(
                    kind="mla", kv_heads=1, key_dim=kv_rank, value_dim=rope if uses_rope[i] else 0, index_dim=index_dim
                )
            )
        elif index_dim:  # the latent is read from an earlier layer; only the indexer's keys are cached here
            layers.append(LayerKV(kind="mla", kv_heads=1, index_dim=index_dim))
        else:
            layers.append(LayerKV(kind="none"))
    return layers, extra


# ---------------------------------------------------------------- Mllama (Llama 3.2 Vision)


def _cross_layers(g: _Geometry) -> set[int]:
    layers = g.cfg.get("cross_attention_layers") or []
    if not isinstance(layers, list) or any(not isinstance(i, int) or not 0 <= i < g.layers for i in layers):
        raise ConfigError(f"{g.model_type} config has cross_attention_layers={layers!r}; expected layer indices.")
    return set(layers)


def _build_mllama(c: _Counts, g: _Geometry) -> tuple[list[LayerKV], dict[str, int]]:
    """Mllama's text stack: Llama layers, and at ``cross_attention_layers`` layers that attend to the
    image tokens (q/k norms, tanh gates on attention and MLP). The cross-attention layers cache only
    the images' keys and values, none without an image (see :func:`notes`)."""
    h, n = g.hidden, g.layers
    cross = len(_cross_layers(g))
    hd = h // g.heads  # both attentions size heads as hidden_size / num_attention_heads
    c.linear("attention", h, g.heads * hd, "column", n)
    c.linear("attention", h, g.kv_heads * hd, "kv", 2 * n)
    c.linear("attention", g.heads * hd, h, "row", n)
    c.add("attention", cross * (2 * hd + 2))  # cross-attention q/k norms and the two tanh gates
    _gated_mlp(c, "dense_mlp", h, g.intermediate, n)
    c.add("norms", n * 2 * h + h)
    c.add("embedding", 8 * h)  # the embedding holds 8 rows past the vocabulary (image and special tokens)
    self_attention = LayerKV(kind="full", kv_heads=g.kv_heads, key_dim=hd, value_dim=hd)
    crossed = _cross_layers(g)
    return [LayerKV(kind="none") if i in crossed else self_attention for i in range(n)], {}


def _mllama_vision(c: _Counts, vc: Mapping[str, Any], text_hidden: int) -> VisionSpec:
    """Mllama's tiled ViT: local and gated global encoders, tile and aspect-ratio embeddings, and
    the projector from the concatenated intermediate layers to the text width."""
    mt = "mllama vision_config"
    hv, inter = _int(vc, mt, "hidden_size"), _int(vc, mt, "intermediate_size")
    local, glob = _int(vc, mt, "num_hidden_layers"), _int(vc, mt, "num_global_layers")
    image, patch = _int(vc, mt, "image_size"), _int(vc, mt, "patch_size")
    tiles, channels = _int(vc, mt, "max_num_tiles"), _int(vc, mt, "num_channels", default=3)
    ratios = vc.get("supported_aspect_ratios")
    if not isinstance(ratios, list) or not ratios:
        raise ConfigError(f"{mt} lacks supported_aspect_ratios.")
    rows = len(ratios) + 1  # aspect-ratio ids 0..len(supported_aspect_ratios)
    patches = (image // patch) ** 2 + 1  # with the class token
    n = channels * patch * patch * hv + hv  # patch convolution (no bias), class embedding
    n += 1 + patches * hv + rows * tiles * patches * hv  # gated position and tile-position embeddings
    n += 2 * (rows * tiles * hv + 1)  # pre- and post-tile aspect-ratio embeddings with their gates
    n += 2 * 2 * hv  # layernorm_pre, layernorm_post
    block = 4 * hv * hv + hv * inter + inter + inter * hv + hv + 2 * 2 * hv
    n += local * block + glob * (block + 2)  # global layers gate attention and MLP
    out = _int(vc, mt, "vision_output_dim")
    n += out * text_hidden + text_hidden  # multi_modal_projector
    c.add("vision", n)
    return VisionSpec(
        hidden_size=hv,
        num_layers=local + glob,
        intermediate_size=inter,
        num_heads=_int(vc, mt, "attention_heads"),
        image_size=image,
        patch_size=patch,
    )


def _mllama_notes(g: _Geometry, dtype_bytes: int) -> list[str]:
    vc = g.top.get("vision_config")
    if not isinstance(vc, Mapping):
        return []
    mt = "mllama vision_config"
    tokens = _int(vc, mt, "max_num_tiles") * ((_int(vc, mt, "image_size") // _int(vc, mt, "patch_size")) ** 2 + 1)
    cross = len(_cross_layers(g))
    per_image = cross * 2 * g.kv_heads * (g.hidden // g.heads) * tokens * dtype_bytes
    return [
        f"{g.model_type}'s {cross} cross-attention layers also cache each image's keys and values "
        f"({tokens:,} image tokens, {per_image / 2**20:,.1f} MiB per image in the model dtype); "
        "the cache here is for text-only prompts."
    ]


# ---------------------------------------------------------------- DeepSeek-V4


_V4_KINDS = ("sliding_attention", "compressed_sparse_attention", "heavily_compressed_attention")


def _build_deepseek_v4(c: _Counts, g: _Geometry) -> tuple[list[LayerKV], dict[str, int]]:
    """DeepSeek-V4: shared-KV multi-query attention over a sliding window, plus per layer either a
    compressor with a lightning indexer (CSA: a compressed entry every few tokens) or a heavier
    compressor without one (HCA); grouped low-rank output projection, per-head sinks, hyper-connections
    (``hc_mult`` residual streams) around attention and MoE, hash-routed MoE in the first layers."""
    cfg, mt, h, n, heads = g.cfg, g.model_type, g.hidden, g.layers, g.heads
    hd, q_rank = g.head_dim, _int(cfg, mt, "q_lora_rank")
    groups, o_rank = _int(cfg, mt, "o_groups"), _int(cfg, mt, "o_lora_rank")
    i_heads, i_dim = _int(cfg, mt, "index_n_heads"), _int(cfg, mt, "index_head_dim")
    streams = _int(cfg, mt, "hc_mult")
    window = _positive(mt, "sliding_window", cfg.get("sliding_window"))
    rates = cfg.get("compress_rates") or {}
    types = _per_layer_list(cfg, mt, "layer_types", n)
    if any(t not in _V4_KINDS for t in types):
        raise _unmodelled(f"{mt} has layer types {sorted(set(types))}, which vram does not model.")
    csa, hca = types.count("compressed_sparse_attention"), types.count("heavily_compressed_attention")
    csa_rate = _positive(mt, "compress_rates", rates.get("compressed_sparse_attention")) if csa else 0
    hca_rate = _positive(mt, "compress_rates", rates.get("heavily_compressed_attention")) if hca else 0
    # Attention: q_a, its norm, q_b; one kv_proj (keys are values) and its norm; o_a (grouped: each of
    # o_groups groups of heads to o_lora_rank), o_b; a sink per head.
    c.linear("attention", h, q_rank, "none", n)
    c.linear("attention", q_rank, heads * hd, "column", n)
    c.linear("attention", h, hd, "none", n)
    c.linear("attention", heads * hd // groups, groups * o_rank, "column", n)
    c.linear("attention", groups * o_rank, h, "row", n)
    c.add("attention", n * (q_rank + hd + heads))
    # HCA compressor: kv and gate projections to head_dim, a position bias per window slot, a norm.
    # The compressors' kv / gate projections and the indexer's per-head weights are not quantized:
    # vLLM builds them with quant_config=None (DeepseekCompressor.fused_wkv_wgate and
    # weights_proj, models/deepseek_v4/compressor.py and attention.py@v0.27.1-v0.31.0), replicated on
    # every rank, so they are torch-dtype parameters here, outside the quantizable linears.
    c.add("attention", hca * 2 * h * hd)
    c.add("attention", hca * (hca_rate * hd + hd))
    # CSA compressor: two overlapping series (2 x head_dim); its indexer compresses at index_head_dim
    # the same way and scores with its own queries (q_b from the q latent, block fp8 like the other
    # linears) and per-head weights.
    c.add("attention", csa * 2 * h * 2 * hd)
    c.add("attention", csa * (csa_rate * 2 * hd + hd))
    c.add("attention", csa * 2 * h * 2 * i_dim)
    c.add("attention", csa * (csa_rate * 2 * i_dim + i_dim))
    c.linear("attention", q_rank, i_heads * i_dim, "none", csa)
    c.add("attention", csa * h * i_heads)
    # Every layer is MoE (top-k or hash routed: both hold a router weight) with one shared expert.
    experts, topk = _int(cfg, mt, "n_routed_experts"), _int(cfg, mt, "num_experts_per_tok")
    moe_inter = _int(cfg, mt, "moe_intermediate_size")
    _gated_mlp(c, "routed_experts", h, moe_inter, n * experts)
    c.inactive += n * (experts - topk) * 3 * h * moe_inter
    c.add("router", n * experts * h)
    _gated_mlp(c, "shared_experts", h, moe_inter, n)
    # Hyper-connections: per layer two (attention, MoE), each mixing hc_mult streams of hidden_size
    # into pre / post / comb weights ((2 + N) x N outputs) with a bias and 3 scales; the head collapses them.
    mix = (2 + streams) * streams
    c.add("other", n * 2 * (mix * streams * h + mix + 3))
    c.add("other", streams * streams * h + streams + 1)
    c.add("norms", n * 2 * h + h)
    sliding = LayerKV(kind="sliding", window=window, kv_heads=1, key_dim=hd, value_dim=0)
    kinds = {
        "sliding_attention": sliding,
        "heavily_compressed_attention": sliding.model_copy(
            update={"compress_rate": hca_rate, "compressed_dim": hd, "compress_buffer_dim": 2 * hd}
        ),
        "compressed_sparse_attention": sliding.model_copy(
            update={
                "compress_rate": csa_rate,
                "compressed_dim": hd + i_dim,
                "compress_buffer_dim": 4 * (hd + i_dim),  # kv and gate, two series each
                "overlap_dim": csa_rate * (hd + i_dim),
            }
        ),
    }
    bases = {cfg.get("rope_theta")} | ({cfg.get("compress_rope_theta")} if csa or hca else set())
    extra = {
        "num_experts": experts,
        "experts_per_token": topk,
        "moe_intermediate_size": moe_inter,
        "num_moe_layers": n,
        "rope_head_dim": _int(cfg, mt, "qk_rope_head_dim"),
        "rope_bases": len(bases),
    }
    return [kinds[t] for t in types], extra


# ---------------------------------------------------------------- Zamba / Zamba2


def _zamba_layer_types(g: _Geometry) -> list[str]:
    types = _per_layer_list(g.cfg, g.model_type, "layers_block_type", g.layers)
    if any(t not in ("linear_attention", "hybrid") for t in types):
        raise _unmodelled(f"{g.model_type} has layer types {sorted(set(types))}, which vram does not model.")
    return types


def _zamba_shared_blocks(
    c: _Counts, g: _Geometry, blocks: int, hybrids: int, *, attention_rank: int = 0, mlp_rank: int = 0
) -> None:
    """Zamba's shared transformer blocks, counted once each however many layers reuse them: attention
    over the concatenated input and hidden state (2 x hidden_size), a gated MLP, two norms. Zamba2's
    per-use LoRA adapters on q/k/v (``attention_rank``) and gate_up (``mlp_rank``; 0: none) live in
    the block that serves that use. Each hybrid layer adds its own hidden x hidden linear."""
    cfg, mt, h = g.cfg, g.model_type, g.hidden
    wide = 2 * h
    hd = _int(cfg, mt, "attention_head_dim", "head_dim")
    inter = g.intermediate
    bias = bool(cfg.get("add_bias_linear"))
    c.linear("attention", wide, g.heads * hd, "column", blocks)
    c.linear("attention", wide, g.kv_heads * hd, "kv", 2 * blocks)
    c.linear("attention", g.heads * hd, h, "row", blocks)
    c.linear("dense_mlp", h, 2 * inter, "column", blocks, bias)
    c.linear("dense_mlp", inter, h, "row", blocks, bias)
    c.add("norms", blocks * (wide + h))
    if attention_rank:
        c.linear("attention", wide, attention_rank, "none", 3 * hybrids)
        c.linear("attention", attention_rank, wide, "none", 3 * hybrids)
    if mlp_rank:
        c.linear("dense_mlp", h, mlp_rank, "none", hybrids)
        c.linear("dense_mlp", mlp_rank, 2 * inter, "none", hybrids)
    c.linear("other", h, h, "none", hybrids)


def _zamba_layers(g: _Geometry, types: list[str], mixer: LayerKV) -> list[LayerKV]:
    """Every layer holds its mixer's state; hybrid layers also cache the shared attention's keys and values."""
    hd = _int(g.cfg, g.model_type, "attention_head_dim", "head_dim")
    attention = mixer.model_copy(update={"kind": "full", "kv_heads": g.kv_heads, "key_dim": hd, "value_dim": hd})
    return [attention if t == "hybrid" else mixer for t in types]


def _build_zamba(c: _Counts, g: _Geometry) -> tuple[list[LayerKV], dict[str, int]]:
    """Zamba: Mamba-1 layers (x_proj and dt_proj per Mamba head), one shared transformer block."""
    cfg, mt, h, n = g.cfg, g.model_type, g.hidden, g.layers
    types = _zamba_layer_types(g)
    inner = _positive(mt, "mamba_expand", cfg.get("mamba_expand")) * h
    rank = cfg.get("mamba_dt_rank")
    dt_rank = math.ceil(h / 16) if rank in (None, "auto") else _positive(mt, "mamba_dt_rank", rank)
    d_state = _positive(mt, "mamba_d_state", cfg.get("mamba_d_state"))
    kernel = _positive(mt, "mamba_d_conv", cfg.get("mamba_d_conv"))
    mixer = _mamba_mixer(
        c,
        g,
        n,
        inner=inner,
        d_state=d_state,
        kernel=kernel,
        dt_rank=dt_rank,
        proj_bias=bool(cfg.get("mamba_proj_bias")),
        conv_bias=bool(cfg.get("mamba_conv_bias", True)),
    )
    c.add("norms", n * h + h)
    hybrids = types.count("hybrid")
    _zamba_shared_blocks(c, g, min(1, hybrids), hybrids)
    return _zamba_layers(g, types, mixer), {}


def _build_zamba2(c: _Counts, g: _Geometry) -> tuple[list[LayerKV], dict[str, int]]:
    """Zamba2: Mamba-2 layers and ``num_mem_blocks`` shared transformer blocks used in turn."""
    cfg, mt, h, n = g.cfg, g.model_type, g.hidden, g.layers
    types = _zamba_layer_types(g)
    heads, d_head = _int(cfg, mt, "n_mamba_heads"), _int(cfg, mt, "mamba_headdim")
    groups, d_state = _int(cfg, mt, "mamba_ngroups"), _int(cfg, mt, "mamba_d_state")
    kernel = _positive(mt, "mamba_d_conv", cfg.get("mamba_d_conv"))
    inner = _positive(mt, "mamba_expand", cfg.get("mamba_expand")) * h
    conv = inner + 2 * groups * d_state
    bias = bool(cfg.get("add_bias_linear"))
    c.linear("other", h, inner + conv + heads, "column", n, bias)  # in_proj
    c.add("other", n * (conv * kernel + conv + 3 * heads + inner))  # conv1d with bias, dt_bias, A_log, D, gated norm
    c.linear("other", inner, h, "row", n, bias)  # out_proj
    c.add("norms", n * h + h)
    mixer = LayerKV(
        kind="state",
        mixer="mamba2",
        mixer_heads=heads,
        mixer_groups=groups,
        conv_channels=conv,
        conv_kernel=kernel,
        ssm_state_elements=heads * d_head * d_state,
        state_elements=conv * kernel + heads * d_head * d_state,
    )
    hybrids = types.count("hybrid")
    blocks = min(_positive(mt, "num_mem_blocks", cfg.get("num_mem_blocks", 1)), hybrids)
    rank = _int(cfg, mt, "adapter_rank")
    # The MLP's gate_up adapters are always built; the attention's only with use_shared_attention_adapter.
    attention_rank = rank if cfg.get("use_shared_attention_adapter") else 0
    _zamba_shared_blocks(c, g, blocks, hybrids, attention_rank=attention_rank, mlp_rank=rank)
    return _zamba_layers(g, types, mixer), {}


# ---------------------------------------------------------------- Inkling


def _build_inkling(c: _Counts, g: _Geometry) -> tuple[list[LayerKV], dict[str, int]]:
    """Inkling: every layer attention ('hybrid': full, 'hybrid_sliding': a window with its own head
    counts) with a relative-position bias and short convolutions on k, v and after attention and the
    MLP (fp32 conv states); dense or MoE MLPs whose router also scores the shared experts."""
    cfg, mt, h, n = g.cfg, g.model_type, g.hidden, g.layers
    types = _per_layer_list(cfg, mt, "layer_types", n)
    if any(t not in ("hybrid", "hybrid_sliding") for t in types):
        raise _unmodelled(f"{mt} has layer types {sorted(set(types))}, which vram does not model.")
    d_rel, kernel = _int(cfg, mt, "d_rel"), _positive(mt, "conv_kernel_size", cfg.get("conv_kernel_size"))
    window = _positive(mt, "sliding_window_size", cfg.get("sliding_window_size"))
    layers = []
    for kind, count in _count_by(types).items():
        sliding = kind == "hybrid_sliding"
        prefix = "swa_" if sliding else ""
        heads = _int(cfg, mt, f"{prefix}num_attention_heads")
        kv, hd = _int(cfg, mt, f"{prefix}num_key_value_heads"), _int(cfg, mt, f"{prefix}head_dim")
        extent = window if sliding else _int(cfg, mt, "rel_extent")
        c.linear("attention", h, heads * hd, "column", count)  # q_proj
        c.linear("attention", h, kv * hd, "kv", 2 * count)  # k_proj, v_proj
        c.linear("attention", h, heads * d_rel, "column", count)  # r_proj
        c.linear("attention", heads * hd, h, "row", count)  # o_proj
        # k/v short convolutions, q/k norms, the relative-logit profiles
        c.add("attention", count * (2 * kv * hd * kernel + 2 * hd + d_rel * extent))
    c.add("other", n * 2 * h * kernel)  # the short convolutions after attention and after the MLP
    flags = [t == "sparse" for t in _per_layer_list(cfg, mt, "mlp_layer_types", n)]
    n_moe = sum(flags)
    _gated_mlp(c, "dense_mlp", h, g.intermediate, n - n_moe)
    c.add("dense_mlp", n - n_moe)  # a global output scale per dense MLP
    extra: dict[str, int] = {}
    if n_moe:
        experts, topk = _int(cfg, mt, "n_routed_experts"), _int(cfg, mt, "num_experts_per_tok")
        shared, moe_inter = _int(cfg, mt, "n_shared_experts"), _int(cfg, mt, "moe_intermediate_size")
        _gated_mlp(c, "routed_experts", h, moe_inter, n_moe * experts)
        c.inactive += n_moe * (experts - topk) * 3 * h * moe_inter
        c.add("router", n_moe * ((experts + shared) * h + 1))  # scores routed and shared experts; a global scale
        _gated_mlp(c, "shared_experts", h, moe_inter, n_moe * shared)
        extra = {
            "num_experts": experts,
            "experts_per_token": topk,
            "moe_intermediate_size": moe_inter,
            "num_moe_layers": n_moe,
        }
    c.add("norms", n * 2 * h + h + h)  # two per layer, the final norm, the embedding's norm
    for kind in types:
        sliding = kind == "hybrid_sliding"
        prefix = "swa_" if sliding else ""
        kv, hd = _int(cfg, mt, f"{prefix}num_key_value_heads"), _int(cfg, mt, f"{prefix}head_dim")
        channels = 2 * kv * hd + 2 * h  # k, v, post-attention and post-MLP convolutions
        layers.append(
            LayerKV(
                kind="sliding" if sliding else "full",
                window=window if sliding else None,
                kv_heads=kv,
                key_dim=hd,
                value_dim=hd,
                mixer="short_conv",
                conv_channels=channels,
                conv_kernel=kernel,
                conv_state_dtype_bytes=4,
            )
        )
    return layers, extra


def _resize_lm_head(c: _Counts, h: int, vocab: int, rows: int) -> None:
    """An lm_head with ``rows`` outputs instead of the embedding's ``vocab`` (Inkling 2's unpadded vocabulary)."""
    key = ("lm_head", h, vocab, "vocab")
    if rows == vocab or key not in c.linears:
        return
    count = c.linears.pop(key)
    c.lm_head -= count * h * vocab
    c.linear("lm_head", h, rows, "vocab", count)


def _build_inkling2(c: _Counts, g: _Geometry) -> tuple[list[LayerKV], dict[str, int]]:
    """Inkling 2: sliding and full attention layers, each with a gated output projection, per-head
    sink logits, a relative-position bias with learned scales, short convolutions on k and v (dynamic
    ones, with per-token taps, in full layers) and after attention and the MoE block; block attention
    residuals feed every layer's inputs. Every layer is MoE; the lm_head covers the unpadded vocabulary."""
    cfg, mt, h, n = g.cfg, g.model_type, g.hidden, g.layers
    types = _per_layer_list(cfg, mt, "layer_types", n)
    if any(t not in ("hybrid", "hybrid_sliding") for t in types):
        raise _unmodelled(f"{mt} has layer types {sorted(set(types))}, which vram does not model.")
    d_rel, kernel = _int(cfg, mt, "d_rel"), _positive(mt, "conv_kernel_size", cfg.get("conv_kernel_size"))
    window = _positive(mt, "sliding_window_size", cfg.get("sliding_window_size"))
    for kind, count in _count_by(types).items():
        sliding = kind == "hybrid_sliding"
        prefix = "swa_" if sliding else ""
        heads = _int(cfg, mt, f"{prefix}num_attention_heads")
        kv, hd = _int(cfg, mt, f"{prefix}num_key_value_heads"), _int(cfg, mt, f"{prefix}head_dim")
        extent = window if sliding else _int(cfg, mt, "rel_extent")
        c.linear("attention", h, heads * hd, "column", 2 * count)  # q_proj, the output gate
        c.linear("attention", h, kv * hd, "kv", 2 * count)  # k_proj, v_proj
        c.linear("attention", heads * hd, h, "row", count)  # o_proj
        c.linear("attention", h, heads, "column", count)  # sink_proj
        c.linear("attention", h, heads * d_rel, "column", count)  # relative-position states
        # q scale, relative-state scale and profiles, k/v conv taps (+ per-token tap projections when dynamic)
        c.add("attention", count * (heads * hd + heads * d_rel + d_rel * extent + 2 * kv * hd * kernel))
        if not sliding:
            c.linear("attention", h, kv * kernel, "none", 2 * count)
    c.add("other", n * 2 * h * kernel)  # the short convolutions after attention and after the MoE block
    full = types.count("hybrid")
    # Block attention residual queries: the MoE input's, the attention input's (3 in full layers: q, k,
    # v inputs; none in layer 0), the final input's.
    attention_inputs = sum((3 if t == "hybrid" else 1) for t in types[1:])
    c.add("other", n * h + attention_inputs * h + h)
    experts, topk = _int(cfg, mt, "n_routed_experts"), _int(cfg, mt, "num_experts_per_tok")
    moe_inter = _int(cfg, mt, "moe_intermediate_size")
    _gated_mlp(c, "routed_experts", h, moe_inter, n * experts)
    c.inactive += n * (experts - topk) * 3 * h * moe_inter
    c.add("router", n * experts * h)
    # Norms: sliding layers input + post-attention, full layers q/k/v input + post-attention; final, embedding.
    c.add("norms", (n - full) * 2 * h + full * 4 * h + 2 * h)
    vocab = g.vocab
    _resize_lm_head(c, h, vocab, _int(cfg, mt, "unpadded_vocab_size", default=vocab) or vocab)
    # Inkling 2 Loop: layers [loop_layer_index_start, loop_layer_index_end) run loop_num_passes times,
    # each pass with a cache of its own; the looped layers mix in messages from the previous pass
    # (four low-rank gates each, and one learned query per message and looped layer).
    passes = _int(cfg, mt, "loop_num_passes", default=1) or 1
    start = _int(cfg, mt, "loop_layer_index_start", default=0)
    end = _int(cfg, mt, "loop_layer_index_end", default=0) if passes > 1 else 0
    if end and not 0 <= start < end <= n:
        raise ConfigError(f"{mt} config loops layers {start} to {end} of {n}.")
    looped = range(start, end)
    if looped:
        rank = _int(cfg, mt, "loop_gate_rank")
        c.linear("other", 2 * h, rank, "none", 4 * len(looped))
        c.linear("other", rank, h, "none", 2 * 4 * len(looped))
        c.add("other", len(looped) * 4 * h)
    layers = []
    for i, kind in enumerate(types):
        sliding = kind == "hybrid_sliding"
        prefix = "swa_" if sliding else ""
        kv, hd = _int(cfg, mt, f"{prefix}num_key_value_heads"), _int(cfg, mt, f"{prefix}head_dim")
        copies = passes if i in looped else 1  # a looped layer holds one cache per pass
        layers.append(
            LayerKV(
                kind="sliding" if sliding else "full",
                window=window if sliding else None,
                kv_heads=kv * copies,
                key_dim=hd,
                value_dim=hd,
                mixer="short_conv",
                conv_channels=(2 * kv * hd + 2 * h) * copies,
                conv_kernel=kernel,
                conv_state_dtype_bytes=4,
            )
        )
    extra = {"num_experts": experts, "experts_per_token": topk, "moe_intermediate_size": moe_inter, "num_moe_layers": n}
    return layers, extra


# ---------------------------------------------------------------- RWKV (v4)


def _build_rwkv(c: _Counts, g: _Geometry) -> tuple[list[LayerKV], dict[str, int]]:
    """RWKV-4: per layer a time-mix (key/value/receptance/output, decay and bonus, three mixing
    vectors) and a channel-mix (key, receptance, value, two mixing vectors), two LayerNorms (a third
    before the first layer). Its state per layer: the previous token's input to each mix (model
    dtype) and the WKV numerator, denominator and running maximum (fp32)."""
    cfg, mt, h, n = g.cfg, g.model_type, g.hidden, g.layers
    att = _int(cfg, mt, "attention_hidden_size", default=h) or h
    c.linear("other", h, att, "column", 3 * n)  # key, value, receptance
    c.linear("other", att, h, "row", n)  # output
    c.add("other", n * (2 * att + 3 * h))  # time_decay, time_first, time_mix_k/v/r
    c.linear("dense_mlp", h, g.intermediate, "column", n)  # channel-mix key
    c.linear("dense_mlp", h, h, "column", n)  # receptance
    c.linear("dense_mlp", g.intermediate, h, "row", n)  # value
    c.add("dense_mlp", n * 2 * h)  # time_mix_k/r
    c.add("norms", n * 2 * 2 * h + 2 * h + 2 * h)  # ln1, ln2 per layer; pre_ln; ln_out
    state = LayerKV(
        kind="state",
        mixer="rwkv",
        conv_channels=h,
        conv_kernel=2,
        ssm_state_elements=3 * h,
        state_elements=5 * h,
    )
    return [state] * n, {}


# ---------------------------------------------------------------- ERNIE 4.5 VL (MoE)


def _build_ernie4_5_vl(c: _Counts, g: _Geometry) -> tuple[list[LayerKV], dict[str, int]]:
    """ERNIE-4.5-VL's text stack: GQA, and MoE layers with two expert sets (text tokens' experts of
    moe_intermediate_size[0], image tokens' of [1]), each with its router and score-correction bias,
    plus always-on shared experts. A token runs k experts of its own modality's set."""
    cfg, mt, h, n = g.cfg, g.model_type, g.hidden, g.layers
    widths = cfg.get("moe_intermediate_size")
    if not isinstance(widths, list) or len(widths) != 2:
        raise _unmodelled(f"{mt} config has moe_intermediate_size={widths!r}; vram models a [text, vision] pair.")
    text_inter, vision_inter = (_positive(mt, "moe_intermediate_size", w) for w in widths)
    bias = bool(cfg.get("use_bias"))
    c.linear("attention", h, g.heads * g.head_dim, "column", n, bias)
    c.linear("attention", h, g.kv_heads * g.head_dim, "kv", 2 * n, bias)
    c.linear("attention", g.heads * g.head_dim, h, "row", n, bias)
    flags = [t == "sparse" for t in _per_layer_list(cfg, mt, "mlp_layer_types", n)]
    n_moe = sum(flags)
    _gated_mlp(c, "dense_mlp", h, g.intermediate, n - n_moe, bias)
    experts, topk = _int(cfg, mt, "moe_num_experts"), _int(cfg, mt, "moe_k")
    shared = _int(cfg, mt, "moe_num_shared_experts", default=0)
    for width in (text_inter, vision_inter):
        _gated_mlp(c, "routed_experts", h, width, n_moe * experts)
        c.add("router", n_moe * (experts * h + experts))
    # A text token touches k of the text experts; the image experts are all idle for it.
    c.inactive += n_moe * ((experts - topk) * 3 * h * text_inter + experts * 3 * h * vision_inter)
    if shared:
        _gated_mlp(c, "shared_experts", h, text_inter * shared, n_moe, bias)
    c.add("norms", n * 2 * h + h)
    layer = LayerKV(kind="full", kv_heads=g.kv_heads, key_dim=g.head_dim, value_dim=g.head_dim)
    extra = {
        "num_experts": experts,
        "experts_per_token": topk,
        "moe_intermediate_size": text_inter,
        "num_moe_layers": n_moe,
    }
    return [layer] * n, extra


# The image processor's default pixel budget (image_processing_ernie4_5_vl_moe.py: longest_edge
# 28 x 28 x 6177 pixels), as the side of a square image: the largest image the tower sees.
_ERNIE_VL_MAX_SIDE = math.isqrt(28 * 28 * 6177)


def _ernie4_5_vl_vision(c: _Counts, vc: Mapping[str, Any], text_hidden: int) -> VisionSpec:
    """ERNIE-4.5-VL's ViT (fused biased qkv, LayerNorms, a fc1/fc2 MLP) and its resampler: spatial
    and temporal MLPs over merged patches, a projection to the text width and an RMSNorm."""
    mt = "ernie4_5_vl_moe vision_config"
    hv, inter, depth = _int(vc, mt, "hidden_size"), _int(vc, mt, "intermediate_size"), _int(vc, mt, "depth")
    patch, channels = _int(vc, mt, "patch_size"), _int(vc, mt, "in_channels", default=3)
    merge, temporal = _int(vc, mt, "spatial_merge_size"), _int(vc, mt, "temporal_merge_size")
    n = channels * patch * patch * hv  # patch embedding, no bias
    n += depth * (3 * hv * hv + 3 * hv + hv * hv + hv + hv * inter + inter + inter * hv + hv + 2 * 2 * hv)
    n += 2 * hv  # final LayerNorm
    spatial, wide = hv * merge * merge, hv * merge * merge * temporal
    n += 2 * (spatial * spatial + spatial) + 2 * spatial  # spatial MLP: fc1, fc2, LayerNorm
    n += wide * spatial + spatial + spatial * spatial + spatial + 2 * spatial  # temporal MLP
    n += spatial * text_hidden + text_hidden + text_hidden  # projection and its RMSNorm
    c.add("vision", n)
    return VisionSpec(
        hidden_size=hv,
        num_layers=depth,
        intermediate_size=inter,
        num_heads=_int(vc, mt, "num_heads"),
        image_size=_ERNIE_VL_MAX_SIDE,
        patch_size=patch,
    )


# ---------------------------------------------------------------- ZAYA


def _build_zaya(c: _Counts, g: _Geometry) -> tuple[list[LayerKV], dict[str, int]]:
    """ZAYA1: compressed convolutional attention (q/k through a depthwise then a grouped causal
    conv, values half current and half the previous token's), residual scaling around each block,
    and an MLP router (with a skip class) feeding MoE experts in every layer."""
    cfg, mt, h, n = g.cfg, g.model_type, g.hidden, g.layers
    types = _per_layer_list(cfg, mt, "layer_types", n)
    if any(t not in ("hybrid", "hybrid_sliding") for t in types):
        raise _unmodelled(f"{mt} has layer types {sorted(set(types))}, which vram does not model.")
    heads, kv, hd = g.heads, g.kv_heads, g.head_dim
    t0, t1 = _positive(mt, "cca_time0", cfg.get("cca_time0")), _positive(mt, "cca_time1", cfg.get("cca_time1"))
    bias = bool(cfg.get("attention_bias"))
    q_out, kv_out = heads * hd, kv * hd
    channels = q_out + kv_out
    c.linear("attention", h, q_out, "column", n, bias)
    c.linear("attention", h, kv_out, "kv", n, bias)
    c.linear("attention", h, kv_out // 2, "kv", 2 * n, bias)  # v_proj_current, v_proj_delayed
    c.linear("attention", q_out, h, "row", n, bias)
    # Depthwise conv (t0 taps) and grouped conv (one group per q and kv head: head_dim inputs, t1 taps), both biased;
    # the learned key temperature per KV head.
    c.add("attention", n * (channels * t0 + channels + channels * hd * t1 + channels + kv))
    c.add("norms", n * 2 * h + h)
    c.add("other", n * 2 * 4 * h + 2 * h)  # residual scales and biases per block; the input's scale and bias
    experts, topk = _int(cfg, mt, "num_experts"), _int(cfg, mt, "num_experts_per_tok")
    r, moe_inter = _int(cfg, mt, "router_hidden_size"), _int(cfg, mt, "moe_intermediate_size")
    # Router: down_proj (biased), a state scale past layer 0, an MLP (norm, fc1, fc2 biased) over
    # experts + 1 classes (the last skips the experts).
    c.add("router", n * (h * r + r + r + 2 * (r * r + r) + r * (experts + 1)) + (n - 1) * r)
    _gated_mlp(c, "routed_experts", h, moe_inter, n * experts)
    c.inactive += n * (experts - topk) * 3 * h * moe_inter
    window = cfg.get("sliding_window")
    layers = []
    for kind in types:
        sliding = kind == "hybrid_sliding"
        layers.append(
            LayerKV(
                kind="sliding" if sliding else "full",
                window=_positive(mt, "sliding_window", window) if sliding else None,
                kv_heads=kv,
                key_dim=hd,
                value_dim=hd,
                mixer="cca",
                conv_channels=channels,
                conv_kernel=(t0 - 1) + (t1 - 1),
                ssm_state_elements=kv_out // 2,
                ssm_state_dtype_bytes=0,  # the delayed value half, in the model dtype
            )
        )
    extra = {"num_experts": experts, "experts_per_token": topk, "moe_intermediate_size": moe_inter, "num_moe_layers": n}
    return layers, extra


# ---------------------------------------------------------------- Unlimited-OCR


def _build_unlimited_ocr(c: _Counts, g: _Geometry) -> tuple[list[LayerKV], dict[str, int]]:
    """Unlimited-OCR's text stack: GQA with reference sliding-window attention (the whole prompt is
    kept, generated tokens past the window are evicted), dense then DeepSeek-style MoE MLPs."""
    cfg, mt, h, n = g.cfg, g.model_type, g.hidden, g.layers
    types = _per_layer_list(cfg, mt, "layer_types", n)
    if any(t not in ("reference_sliding_attention", "full_attention") for t in types):
        raise _unmodelled(f"{mt} has layer types {sorted(set(types))}, which vram does not model.")
    if cfg.get("topk_method", "greedy") not in ("greedy", "group_limited_greedy"):
        raise _unmodelled(f"{mt} routes with {cfg.get('topk_method')!r}, which vram does not model.")
    bias = bool(cfg.get("attention_bias"))
    c.linear("attention", h, g.heads * g.head_dim, "column", n, bias)
    c.linear("attention", h, g.kv_heads * g.head_dim, "kv", 2 * n, bias)
    c.linear("attention", g.heads * g.head_dim, h, "row", n, bias)
    flags = [t == "sparse" for t in _per_layer_list(cfg, mt, "mlp_layer_types", n)]
    n_moe = sum(flags)
    _gated_mlp(c, "dense_mlp", h, g.intermediate, n - n_moe, bool(cfg.get("mlp_bias")))
    experts, topk = _int(cfg, mt, "n_routed_experts"), _int(cfg, mt, "num_experts_per_tok")
    moe_inter, shared = _int(cfg, mt, "moe_intermediate_size"), _int(cfg, mt, "n_shared_experts", default=0)
    _gated_mlp(c, "routed_experts", h, moe_inter, n_moe * experts)
    c.inactive += n_moe * (experts - topk) * 3 * h * moe_inter
    c.add("router", n_moe * experts * h)
    if shared:
        _gated_mlp(c, "shared_experts", h, moe_inter * shared, n_moe, bool(cfg.get("mlp_bias")))
    c.add("norms", n * 2 * h + h)
    # Every token is counted as kept: exact for the prompt, an upper bound once generation passes the window.
    layer = LayerKV(kind="full", kv_heads=g.kv_heads, key_dim=g.head_dim, value_dim=g.head_dim)
    extra = {
        "num_experts": experts,
        "experts_per_token": topk,
        "moe_intermediate_size": moe_inter,
        "num_moe_layers": n_moe,
    }
    return [layer] * n, extra


def _unlimited_ocr_notes(g: _Geometry) -> list[str]:
    window = g.cfg.get("sliding_window")
    return [
        f"{g.model_type} keeps the whole prompt's keys and values but the generated tokens' only within "
        f"a {window}-token window; vram counts every token as kept (exact for the prompt, an upper bound past it)."
    ]


def _unlimited_ocr_vision(c: _Counts, vc: Mapping[str, Any], text_hidden: int) -> VisionSpec:
    """Unlimited-OCR's towers (DeepSeek-OCR's layout): a SAM ViT-B (windowed and global blocks with
    relative positions, a conv neck and two stride-2 convs), a CLIP-L encoder over the SAM features
    (no patch convolution of its own), the projector from both to the text width, and the two
    learned separator tokens (image newline, view separator)."""
    sam, clip = vc.get("sam_config"), vc.get("encoder_config")
    if not isinstance(sam, Mapping) or not isinstance(clip, Mapping):
        raise _unmodelled("unlimited_ocr vision_config lacks sam_config or encoder_config.")
    mt = "unlimited_ocr sam_config"
    hs, sam_layers, mlp = _int(sam, mt, "hidden_size"), _int(sam, mt, "num_hidden_layers"), _int(sam, mt, "mlp_dim")
    heads, patch, image = _int(sam, mt, "num_attention_heads"), _int(sam, mt, "patch_size"), _int(sam, mt, "image_size")
    window, out_ch = _int(sam, mt, "window_size"), _int(sam, mt, "output_channels")
    down = sam.get("downsample_channels")
    glob = set(sam.get("global_attn_indexes") or ())
    if not isinstance(down, list) or len(down) != 2:
        raise _unmodelled(f"{mt} has downsample_channels={down!r}; vram models two downsampling convs.")
    grid, head_dim = image // patch, hs // heads
    n = _int(sam, mt, "num_channels", default=3) * patch * patch * hs + hs  # patch conv with bias
    n += grid * grid * hs if sam.get("use_abs_pos", True) else 0
    qkv_bias = bool(sam.get("qkv_bias", True))
    for i in range(sam_layers):
        span = grid if i in glob else window
        n += 2 * 2 * hs + hs * 3 * hs + (3 * hs if qkv_bias else 0) + hs * hs + hs
        n += 2 * (2 * span - 1) * head_dim if sam.get("use_rel_pos", True) else 0
        n += hs * mlp + mlp + mlp * hs + hs
    n += hs * out_ch + 2 * out_ch + out_ch * out_ch * 9 + 2 * out_ch  # neck
    n += out_ch * down[0] * 9 + down[0] * down[1] * 9  # downsampling convs, no bias
    mt = "unlimited_ocr encoder_config"
    hv, layers, inter = (
        _int(clip, mt, "hidden_size"),
        _int(clip, mt, "num_hidden_layers"),
        _int(clip, mt, "intermediate_size"),
    )
    positions = (_int(clip, mt, "image_size") // _int(clip, mt, "patch_size")) ** 2 + 1
    n += hv + positions * hv + 2 * hv  # class token, positions, pre-LayerNorm
    n += layers * (4 * (hv * hv + hv) + 2 * 2 * hv + hv * inter + inter + inter * hv + hv)
    n += (down[1] + hv) * text_hidden + text_hidden  # multi_modal_projector
    n += 2 * text_hidden  # image_newline, view_separator
    c.add("vision", n)
    return VisionSpec(
        hidden_size=hs,
        num_layers=sam_layers,
        intermediate_size=mlp,
        num_heads=heads,
        image_size=image,
        patch_size=patch,
    )


BUILDERS: dict[str, Builder] = {
    "mamba": _build_mamba,
    "falcon_mamba": _build_mamba,
    "gemma3n_text": _build_gemma3n,
    "mistral_large4_text": _build_mistral_large4,
    "mistral_large4": _build_mistral_large4,
    "mllama": _build_mllama,
    "deepseek_v4": _build_deepseek_v4,
    "zamba": _build_zamba,
    "zamba2": _build_zamba2,
    "inkling_text": _build_inkling,
    "inkling2_text": _build_inkling2,
    "inkling2_loop_text": _build_inkling2,
    "rwkv": _build_rwkv,
    "ernie4_5_vl_moe_text": _build_ernie4_5_vl,
    "zaya": _build_zaya,
    "unlimited_ocr_text": _build_unlimited_ocr,
}


def _inkling2_vision(c: _Counts, vc: Mapping[str, Any], text_hidden: int) -> VisionSpec:
    """Inkling 2's ViT: linear patch embedding, learned grid positions and a class token, layer-scaled
    pre-norm blocks, and a merger (spatial_merge_size^2 patches -> projection_hidden_dim -> text)."""
    mt = "inkling2 vision_config"
    hv, inter, layers = (
        _int(vc, mt, "hidden_size"),
        _int(vc, mt, "intermediate_size"),
        _int(vc, mt, "num_hidden_layers"),
    )
    patch, grid = _int(vc, mt, "patch_size"), _int(vc, mt, "posemb_grid_size")
    merge, proj = _int(vc, mt, "spatial_merge_size"), _int(vc, mt, "projection_hidden_dim")
    channels = _int(vc, mt, "num_channels", default=3)
    bias = bool(vc.get("projector_bias"))
    n = channels * patch * patch * hv + grid * grid * hv + 2 * hv  # patches, positions, class token and its position
    n += 2 * hv  # pre_layernorm
    n += layers * (4 * (hv * hv + hv) + 2 * hv * inter + inter + hv + 2 * 2 * hv + 2 * hv)  # blocks and layer scales
    n += merge * merge * hv * proj + proj * text_hidden + ((proj + text_hidden) if bias else 0)
    c.add("vision", n)
    return VisionSpec(
        hidden_size=hv,
        num_layers=layers,
        intermediate_size=inter,
        num_heads=_int(vc, mt, "num_attention_heads"),
        image_size=grid * patch,  # the grid the learned positions cover (other sizes interpolate them)
        patch_size=patch,
    )


def vision(c: _Counts, fam: Family, vc: Mapping[str, Any], text_hidden: int) -> VisionSpec:
    """The vision tower and projector of a family whose tower is sized here (``vision="special"``)."""
    if fam.model_type == "mllama":
        return _mllama_vision(c, vc, text_hidden)
    if fam.model_type in ("inkling2", "inkling2_loop"):
        return _inkling2_vision(c, vc, text_hidden)
    if fam.model_type == "ernie4_5_vl_moe":
        return _ernie4_5_vl_vision(c, vc, text_hidden)
    if fam.model_type == "unlimited_ocr":
        return _unlimited_ocr_vision(c, vc, text_hidden)
    raise _unmodelled(f"vram does not model the vision tower and projector of {fam.model_type}.")


def notes(g: _Geometry, dtype_bytes: int) -> list[str]:
    """What the spec should say about a special stack beyond its numbers."""
    if g.fam.model_type == "mllama":
        return _mllama_notes(g, dtype_bytes)
    if g.fam.model_type in ("unlimited_ocr", "unlimited_ocr_text"):
        return _unlimited_ocr_notes(g)
    return []


def build(c: _Counts, g: _Geometry) -> tuple[list[LayerKV], dict[str, int]]:
    """The text stack of ``g``'s special family: parameters into ``c``, one LayerKV per layer."""
    text = g.top.get("text_config")
    text_type = str(text.get("model_type") or "") if isinstance(text, Mapping) else ""
    # An image-text type over a special text stack: that stack's builder.
    builders = {**BUILDERS, **stacks.BUILDERS}
    builder = builders.get(g.fam.model_type) or builders.get(g.model_type) or builders.get(text_type)
    if builder is None:
        raise _unmodelled(f"vram does not model the layers of {g.model_type}.")
    return builder(c, g)
