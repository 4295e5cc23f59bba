"""Builders for stacks unlike any decoder family: X-MOD, CPM-Ant, XLNet and xLSTM.

Called through :func:`estimator.special.build` (their families' ``arch`` is ``"special"``). Each adds
the stack's parameters beyond the token embedding (and untied lm_head) that :mod:`estimator.config`
counts, and returns one :class:`LayerKV` per layer. Every count follows the modules transformers 5.25
builds for the type (``modeling_<type>.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from common.errors import ConfigError
from estimator.spec import LayerKV, VisionSpec

if TYPE_CHECKING:
    from estimator.config import _Counts, _Geometry

Builder = Callable[["_Counts", "_Geometry"], tuple[list[LayerKV], dict[str, int]]]


def _whole(cfg: Mapping[str, Any], model_type: str, name: str, default: int | None = None) -> int:
    """``cfg[name]`` as a whole number >= 0 (``default`` when absent; required without one)."""
    value = cfg.get(name)
    if value is None:
        if default is None:
            raise ConfigError(f"{model_type} config lacks {name}, which vram needs to size it.")
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value or value < 0:
        raise ConfigError(f"{model_type} config has {name}={value!r}; expected a whole number.")
    return int(value)


def _positive(cfg: Mapping[str, Any], model_type: str, name: str, default: int | None = None) -> int:
    """``cfg[name]`` as a whole number >= 1 (a width or count something is divided by)."""
    value = _whole(cfg, model_type, name, default)
    if value < 1:
        raise ConfigError(f"{model_type} config has {name}={value!r}; expected a positive whole number.")
    return value


def _factor(cfg: Mapping[str, Any], model_type: str, name: str, default: float) -> float:
    """``cfg[name]`` as a positive number (a width factor)."""
    value = cfg.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1024:
        raise ConfigError(f"{model_type} config has {name}={value!r}; expected a positive number.")
    return float(value)


def _names(value: Any, model_type: str, name: str) -> list[str]:
    """A per-layer list of kind names."""
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{model_type} config has {name}={value!r}; expected a list of layer kinds.")
    return list(value)


def _round_up(x: float, multiple: int) -> int:
    """xLSTM's ``round_up_to_next_multiple_of`` (the same float arithmetic)."""
    return int(((x + multiple - 1) // multiple) * multiple)


# ---------------------------------------------------------------- X-MOD (RoBERTa with language adapters)


def _build_xmod(c: _Counts, g: _Geometry) -> tuple[list[LayerKV], dict[str, int]]:
    """X-MOD: RoBERTa-style post-norm layers (biased q/k/v/o and fc1/fc2, two LayerNorms), each with
    one bottleneck adapter per language; learned positions and token types; the RoBERTa LM head."""
    cfg, mt, h, n = g.cfg, g.model_type, g.hidden, g.layers
    if cfg.get("add_cross_attention"):
        raise ConfigError(f"vram does not model {mt} with cross-attention (it caches the encoder's states).")
    ln = 2 * h  # LayerNorm weight and bias
    positions = _whole(cfg, mt, "max_position_embeddings")
    c.add("other", positions * h)  # outside "embedding", which holds vocab rows only
    c.add("other", _whole(cfg, mt, "type_vocab_size", 2) * h)
    c.add("norms", ln)  # embeddings.LayerNorm
    q_out = g.heads * g.head_dim
    c.linear("attention", h, q_out, "column", n, bias=True)
    c.linear("attention", h, q_out, "kv", 2 * n, bias=True)
    c.linear("attention", q_out, h, "row", n, bias=True)
    c.linear("dense_mlp", h, g.intermediate, "column", n, bias=True)
    c.linear("dense_mlp", g.intermediate, h, "row", n, bias=True)
    c.add("norms", n * 2 * ln + (n * ln if cfg.get("adapter_layer_norm") else 0))
    languages = cfg.get("languages")
    if not isinstance(languages, list | tuple):
        raise ConfigError(f"{mt} config lacks languages, which vram needs to count its adapters.")
    bottleneck = h // _positive(cfg, mt, "adapter_reduction_factor", 2)
    adapters = n * len(languages)
    c.linear("other", h, bottleneck, "none", adapters, bias=True)
    c.linear("other", bottleneck, h, "none", adapters, bias=True)
    if cfg.get("pre_norm"):
        c.add("norms", ln)  # encoder.LayerNorm
    # lm_head: dense and layer_norm, and the decoder's bias (its weight is the embedding when tied);
    # counted outside "lm_head", which holds only the decoder matrix a tied model shares
    c.linear("other", h, h, "none", 1, bias=True)
    c.add("norms", ln)
    c.add("other", g.vocab)
    kv = LayerKV(kind="full", kv_heads=g.heads, key_dim=g.head_dim, value_dim=g.head_dim)
    return [kv] * n, {}


# ---------------------------------------------------------------- CPM-Ant


def _build_cpmant(c: _Counts, g: _Geometry) -> tuple[list[LayerKV], dict[str, int]]:
    """CPM-Ant: pre-norm layers (q/k/v/o without biases, a gated FFN of ``dim_ff``, weight-only norms),
    a bucketed relative position bias, segment embeddings, and ``prompt_types x prompt_length`` prompt
    rows in the input embedding. Each sequence caches its ``prompt_length`` prompt tokens too."""
    cfg, mt, h, n = g.cfg, g.model_type, g.hidden, g.layers
    prompt_len = _whole(cfg, mt, "prompt_length")
    # the prompt rows of input_embedding, kept outside "embedding" (vocab rows only)
    c.add("other", _whole(cfg, mt, "prompt_types") * prompt_len * h)
    segments = _whole(cfg, mt, "segment_types")
    c.add("other", segments * h)  # segment_embedding
    c.add("other", (segments * segments + _whole(cfg, mt, "position_bias_num_buckets")) * g.heads)
    head_dim = _whole(cfg, mt, "dim_head")
    ff = _whole(cfg, mt, "dim_ff")
    c.linear("attention", h, g.heads * head_dim, "column", n)
    c.linear("attention", h, g.heads * head_dim, "kv", 2 * n)
    c.linear("attention", g.heads * head_dim, h, "row", n)
    c.linear("dense_mlp", h, ff, "column", 2 * n)  # w_0, w_1
    c.linear("dense_mlp", ff, h, "row", n)  # w_out
    c.add("norms", n * 2 * h + h)  # two per layer, output_layernorm
    kv = LayerKV(kind="full", kv_heads=g.heads, key_dim=head_dim, value_dim=head_dim, prefix_tokens=prompt_len)
    return [kv] * n, {}


# ---------------------------------------------------------------- XLNet


def _build_xlnet(c: _Counts, g: _Geometry) -> tuple[list[LayerKV], dict[str, int]]:
    """XLNet: two-stream relative attention (q/k/v/o and the position key r, no biases; three bias
    vectors per head and segment embeddings), a post-norm FFN; a mask embedding and the LM head's bias.

    Its cache is the memory: each layer's input hidden state per token, the last ``mem_len`` tokens
    (all when ``mem_len`` is unset). transformers' XLNet runs in fp32 only (its bf16 forward fails on
    fp32 position tensors), so the memory is fp32."""
    cfg, mt, h, n = g.cfg, g.model_type, g.hidden, g.layers
    if cfg.get("reuse_len"):
        raise ConfigError(f"vram does not model {mt} with reuse_len set (its memory keeps a prefix).")
    qkv = g.heads * _whole(cfg, mt, "d_head")
    c.linear("attention", h, qkv, "column", 5 * n)  # q, k, v, o, r: [d_model, n_head, d_head] each
    c.add("attention", n * (3 * qkv + 2 * qkv))  # r_r/r_s/r_w biases, seg_embed
    c.add("norms", n * 2 * 2 * h)
    c.linear("dense_mlp", h, g.intermediate, "column", n, bias=True)
    c.linear("dense_mlp", g.intermediate, h, "row", n, bias=True)
    c.add("other", h + g.vocab)  # mask_emb, lm_loss bias (its weight is the embedding)
    mem_len = _whole(cfg, mt, "mem_len", 0)
    if cfg.get("use_mems_eval") is False:  # generation keeps no memory
        return [LayerKV(kind="none")] * n, {}
    if mem_len:
        # keeps the last mem_len tokens: a window of mem_len + 1 in vram's sense (window - 1 kept)
        kv = LayerKV(kind="sliding", window=mem_len + 1, kv_heads=1, key_dim=h, cache_dtype_bytes=4)
    else:
        kv = LayerKV(kind="full", kv_heads=1, key_dim=h, cache_dtype_bytes=4)
    return [kv] * n, {}


# ---------------------------------------------------------------- xLSTM (mLSTM blocks)


def _build_xlstm(c: _Counts, g: _Geometry) -> tuple[list[LayerKV], dict[str, int]]:
    """xLSTM-7B: per block an mLSTM layer (q, k, v, output gate, out projection; input and forget gate
    projections with biases; a multi-head norm) and a gated FFN, two RMSNorms; a final RMSNorm.

    Its cache per layer: the matrix memory C (heads x qk_head_dim x v_head_dim), the normaliser n
    (heads x qk_head_dim) and the max state m (heads) in the model dtype; and one int64 step counter
    for the whole cache."""
    cfg, mt, h, n = g.cfg, g.model_type, g.hidden, g.layers
    heads = g.heads
    bias = bool(cfg.get("use_bias"))
    qk_f, v_f = _factor(cfg, mt, "qk_dim_factor", 0.5), _factor(cfg, mt, "v_dim_factor", 1.0)
    qk_w, v_w = int(h * qk_f), int(h * v_f)  # the layer's widths truncate...
    qk_state, v_state = _round_up(h * qk_f, 64) // heads, _round_up(h * v_f, 64) // heads  # ...the cache's round up
    ffn_f = _factor(cfg, mt, "ffn_proj_factor", 2.667)
    ffn = _round_up(h * ffn_f, _positive(cfg, mt, "ffn_round_up_to_multiple_of", 64))
    if cfg.get("weight_mode", "single") not in ("single", "fused"):
        raise ConfigError(f"{mt} config has weight_mode={cfg.get('weight_mode')!r}; expected single or fused.")
    # fused mode holds the same weights in one matrix
    c.linear("attention", h, 2 * qk_w + 2 * v_w, "column", n, bias)  # q, k, v, output gate
    c.linear("attention", h, 2 * heads, "none", n, bias=True)  # input and forget gates
    c.add("attention", n * (v_w + (v_w if bias else 0)))  # multihead_norm
    c.linear("attention", v_w, h, "row", n, bias)  # out_proj
    c.linear("dense_mlp", h, ffn, "column", 2 * n, bias)
    c.linear("dense_mlp", ffn, h, "row", n, bias)
    c.add("norms", (2 * n + 1) * h * (2 if bias else 1))
    state = LayerKV(kind="state", mixer="mlstm", state_elements=heads * (qk_state * v_state + qk_state + 1))
    return [state] * n, {"cache_shared_bytes": 8}


BUILDERS: dict[str, Builder] = {
    "xmod": _build_xmod,
    "cpmant": _build_cpmant,
    "xlnet": _build_xlnet,
    "xlstm": _build_xlstm,
}


# ---------------------------------------------------------------- dots.llm3 note (text)

# Dots3NoteTextConfig's sliding-layer geometry when a config gives neither per_layer_config nor the
# swa_* keys (dots-studio/dots3-note-prev's released config names them swa_*).
_DOTS3_SWA_DEFAULTS = {
    "num_attention_heads": 64,
    "num_key_value_heads": 64,
    "q_lora_rank": 1024,
    "kv_lora_rank": 1024,
    "head_dim": 256,
    "qk_nope_head_dim": 192,
    "v_head_dim": 128,
}
_MLA_KEYS = frozenset(
    {*_DOTS3_SWA_DEFAULTS, "qk_rope_head_dim", "attention_bias", "rms_norm_eps", "sliding_window", "attention_dropout"}
)


def _dots3_layer_types(cfg: Mapping[str, Any], mt: str, n: int) -> list[str]:
    types = cfg.get("layer_types")
    if types is None:  # the config class: DSA on the first two layers and every fourth from 1
        types = ["indexed_attention" if i < 2 or i % 4 == 1 else "sliding_attention" for i in range(n)]
    types = _names(types, mt, "layer_types")
    if len(types) != n or set(types) - {"indexed_attention", "sliding_attention", "full_attention"}:
        raise ConfigError(f"vram does not model {mt}'s layer_types {sorted(set(types))} over {n} layers.")
    return types


def _dots3_overrides(cfg: Mapping[str, Any], mt: str, types: list[str]) -> list[dict[str, Any]]:
    """Each layer's attention fields: the model's, with the layer's per_layer_config entry over them."""
    per_layer = cfg.get("per_layer_config")
    if per_layer is None:
        swa = {name: cfg.get(f"swa_{name}", default) for name, default in _DOTS3_SWA_DEFAULTS.items()}
        swa["qk_rope_head_dim"] = cfg.get("swa_qk_rope_head_dim", swa["head_dim"] - swa["qk_nope_head_dim"])
        per_layer = {i: swa for i, t in enumerate(types) if t == "sliding_attention"}
    if not isinstance(per_layer, Mapping):
        raise ConfigError(f"{mt} config has per_layer_config={per_layer!r}; expected a mapping of layers.")
    by_index: dict[int, Mapping[str, Any]] = {}
    for key, values in per_layer.items():
        if not isinstance(values, Mapping) or not str(key).isdigit():
            raise ConfigError(f"{mt} config has per_layer_config entry {key!r}; expected a layer index.")
        unknown = set(values) - _MLA_KEYS
        if unknown:
            raise ConfigError(f"{mt} sets {sorted(unknown)} per layer, which vram does not model.")
        by_index[int(key)] = values
    return [{**cfg, **by_index.get(i, {})} for i in range(len(types))]


def _build_dots3_note(c: _Counts, g: _Geometry) -> tuple[list[LayerKV], dict[str, int]]:
    """dots.llm3 note: MLA layers whose geometry differs by layer (per_layer_config), DSA-indexed or
    sliding; each with a per-head output gate (g_proj) and a norm on the rope key; a dense first MLP,
    then MoE layers of routed experts and one shared expert.

    Cache: an indexed layer keeps the latent and rope key (model dtype) and the indexer's key, which
    leaves the fp32 RoPE in fp32; a sliding layer keeps its own (wider) latent over the window."""
    cfg, mt, h, n = g.cfg, g.model_type, g.hidden, g.layers
    types = _dots3_layer_types(cfg, mt, n)
    layers: list[LayerKV] = []
    for kind, lc in zip(types, _dots3_overrides(cfg, mt, types), strict=True):
        heads = _whole(lc, mt, "num_attention_heads")
        if _whole(lc, mt, "num_key_value_heads", heads) != heads:
            raise ConfigError(f"{mt} config has fewer key/value heads than query heads, which it does not support.")
        q_rank, kv_rank = _whole(lc, mt, "q_lora_rank"), _whole(lc, mt, "kv_lora_rank")
        nope, rope, v_dim = (_whole(lc, mt, k) for k in ("qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"))
        bias = bool(lc.get("attention_bias"))
        c.linear("attention", h, q_rank, "none", 1, bias)  # q_a_proj
        c.linear("attention", q_rank, heads * (nope + rope), "column", 1)  # q_b_proj
        c.linear("attention", h, kv_rank + rope, "none", 1, bias)  # kv_a_proj_with_mqa
        c.linear("attention", kv_rank, heads * (nope + v_dim), "column", 1)  # kv_b_proj
        c.linear("attention", heads * v_dim, h, "row", 1, bias)  # o_proj
        c.linear("attention", h, heads, "column", 1)  # g_proj
        c.add("attention", q_rank + kv_rank + rope)  # q_a, kv_a and k_rope_only norms
        index_dim = 0
        if kind == "indexed_attention":
            i_heads, index_dim = _whole(cfg, mt, "index_n_heads"), _whole(cfg, mt, "index_head_dim")
            c.linear("attention", q_rank, i_heads * index_dim, "none", 1)  # wq_b
            c.linear("attention", h, index_dim, "none", 1)  # wk
            c.add("attention", 2 * index_dim)  # k_norm (LayerNorm)
            c.linear("attention", h, i_heads, "none", 1)  # weights_proj
        if kind == "sliding_attention":
            window = _positive(lc, mt, "sliding_window")
            layers.append(LayerKV(kind="sliding", window=window, kv_heads=1, key_dim=kv_rank, value_dim=rope))
        else:
            layers.append(
                LayerKV(
                    kind="mla",
                    kv_heads=1,
                    key_dim=kv_rank,
                    value_dim=rope,
                    index_dim=index_dim,
                    index_dtype_bytes=4 if index_dim else 0,
                )
            )
    mlp_types = cfg.get("mlp_layer_types")
    if mlp_types is None:
        first = _whole(cfg, mt, "first_k_dense_replace", 1)
        mlp_types = ["sparse" if i >= first else "dense" for i in range(n)]
    mlp_types = _names(mlp_types, mt, "mlp_layer_types")
    if len(mlp_types) != n or set(mlp_types) - {"dense", "sparse"}:
        raise ConfigError(f"vram does not model {mt}'s mlp_layer_types {sorted(set(mlp_types))} over {n} layers.")
    n_moe = mlp_types.count("sparse")
    n_dense = n - n_moe
    c.linear("dense_mlp", h, g.intermediate, "column", 2 * n_dense)
    c.linear("dense_mlp", g.intermediate, h, "row", n_dense)
    experts, topk = _whole(cfg, mt, "n_routed_experts"), _whole(cfg, mt, "num_experts_per_tok")
    moe_inter = _whole(cfg, mt, "moe_intermediate_size")
    c.linear("routed_experts", h, moe_inter, "column", 2 * n_moe * experts)
    c.linear("routed_experts", moe_inter, h, "row", n_moe * experts)
    c.inactive += n_moe * (experts - topk) * 3 * h * moe_inter
    c.add("router", n_moe * experts * h)  # its e_score_correction_bias is a buffer
    shared = _whole(cfg, mt, "shared_experts_intermediate_size") * _whole(cfg, mt, "n_shared_experts", 1)
    c.linear("shared_experts", h, shared, "column", 2 * n_moe)
    c.linear("shared_experts", shared, h, "row", n_moe)
    c.add("norms", n * 2 * h + h)
    extra = {
        "num_experts": experts,
        "experts_per_token": topk,
        "moe_intermediate_size": moe_inter,
        "num_moe_layers": n_moe,
    }
    return layers, extra


BUILDERS["dots3_note_text"] = _build_dots3_note


# ---------------------------------------------------------------- dots.llm3 note (vision and audio towers)


def _dots3_vision(vc: Mapping[str, Any], mt: str) -> tuple[int, VisionSpec]:
    """The vision tower: a conv patch embedding and its RMSNorm, pre-norm blocks (fused biased-or-not
    qkv, per-head q/k RMSNorms) whose MLP is a gated MLP or, on "sparse" layers, routed experts
    (their count per layer from per_layer_config, a router, no shared expert); a final RMSNorm and
    a merger (LayerNorm, two linears over adapter_merge_size^2 patches) into the text width."""
    h, inter, layers = (
        _whole(vc, mt, "hidden_size"),
        _whole(vc, mt, "intermediate_size"),
        _whole(vc, mt, "num_hidden_layers"),
    )
    heads, patch = _positive(vc, mt, "num_attention_heads"), _whole(vc, mt, "patch_size")
    moe_inter, experts = _whole(vc, mt, "moe_intermediate_size"), _whole(vc, mt, "num_local_experts")
    attn_bias, mlp_bias = bool(vc.get("attention_bias")), bool(vc.get("mlp_bias"))
    types = _names(vc.get("mlp_layer_types") or ["dense"] * layers, mt, "mlp_layer_types")
    if len(types) != layers or set(types) - {"dense", "sparse"}:
        raise ConfigError(f"vram does not model {mt}'s mlp_layer_types {sorted(set(types))} over {layers} layers.")
    per_layer = vc.get("per_layer_config") or {}
    if not isinstance(per_layer, Mapping) or any(
        not isinstance(v, Mapping) or set(v) - {"num_local_experts"} for v in per_layer.values()
    ):
        raise ConfigError(f"vram does not model {mt}'s per_layer_config beyond num_local_experts.")
    over = {int(k): _whole(v, mt, "num_local_experts") for k, v in per_layer.items() if str(k).isdigit()}
    n = _whole(vc, mt, "num_channels", 3) * patch * patch * h + h + h  # patch conv (with bias), its norm
    block = 2 * h + 3 * h * h + h * h + (4 * h if attn_bias else 0) + 2 * (h // heads)  # norms, qkv, proj, q/k norms
    for i, kind in enumerate(types):
        n += block
        if kind == "dense":
            n += 3 * h * inter + ((2 * inter + h) if mlp_bias else 0)
        else:
            n += over.get(i, experts) * (3 * h * moe_inter + h)  # experts and router rows
    merged = _whole(vc, mt, "adapter_in_dim") * _whole(vc, mt, "adapter_merge_size") ** 2
    out = _whole(vc, mt, "adapter_out_dim")
    n += h + 2 * _whole(vc, mt, "adapter_in_dim") + merged * merged + merged + merged * out + out
    # Its processor is Qwen2-VL's: at most 28 x 28 x 1,280 pixels per image by default, as a square side.
    side = math.isqrt(28 * 28 * 1280)
    spec = VisionSpec(
        hidden_size=h, num_layers=layers, intermediate_size=inter, num_heads=heads, image_size=side, patch_size=patch
    )
    return n, spec


def _dots3_audio(ac: Mapping[str, Any], mt: str) -> int:
    """The audio tower: three stride-2 3x3 convolutions and a linear into the width, pre-norm blocks
    (q/v/o with attention_bias, k without; a biased gated MLP; RMSNorms), a final RMSNorm, and the
    adapter (LayerNorm, two biased linears) into the text width."""
    h, inter, layers = (
        _whole(ac, mt, "hidden_size"),
        _whole(ac, mt, "intermediate_size"),
        _whole(ac, mt, "num_hidden_layers"),
    )
    heads = _positive(ac, mt, "num_attention_heads")
    kv_heads = _whole(ac, mt, "num_key_value_heads", heads)
    hd = _whole(ac, mt, "head_dim", h // heads)
    down = _whole(ac, mt, "downsample_hidden_size")
    bias = bool(ac.get("attention_bias", True))
    n = (9 * down + down) + 2 * (down * 9 * down + down) + _whole(ac, mt, "conv_output_size") * h
    attn = h * heads * hd + h * h + h * kv_heads * hd + heads * hd * h
    attn += (heads * hd + kv_heads * hd + h) if bias else 0
    n += layers * (attn + h * 2 * inter + 2 * inter + inter * h + h + 2 * h) + h
    a_in, a_out = _whole(ac, mt, "adapter_input_size"), _whole(ac, mt, "adapter_out_dim")
    return n + 2 * a_in + a_in * a_out + a_out + a_out * a_out + a_out


def _dots3_note_towers(
    top: Mapping[str, Any], vc: Mapping[str, Any], model_type: str, text_hidden: int
) -> tuple[int, VisionSpec]:
    """dots.llm3 note's vision tower and, where the config has one, its audio tower."""
    n, spec = _dots3_vision(vc, f"{model_type} vision_config")
    audio = top.get("audio_config")
    if audio is not None:
        if not isinstance(audio, Mapping):
            raise ConfigError(f"{model_type} config has audio_config={audio!r}; expected a mapping.")
        n += _dots3_audio(audio, f"{model_type} audio_config")
    return n, spec


# Towers sized here, for families whose ``vision`` is "own" (called by estimator.towers_mm.tower).
TOWERS = {"dots3_note": _dots3_note_towers}
