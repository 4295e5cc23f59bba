"""Vision (and audio) towers and multimodal projectors of image-text types, counted from their configs.

Each tower kind is counted once from its ``vision_config`` (keyed by that config's ``model_type``) and
reused by every image-text type that carries it; each projector is keyed by the type's
:data:`~estimator.families.Vision` value. The arithmetic follows the modules transformers builds
(the counts equal the meta-device parameter counts). Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from common.errors import ConfigError
from estimator.spec import VisionSpec

_MISSING = object()


class UnknownTower(ConfigError):
    """A tower or projector layout this module does not count."""


def _whole(value: Any, where: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value or value < 0:
        raise ConfigError(f"{where} has {name}={value!r}; expected a whole number.")
    return int(value)


def _i(cfg: Mapping[str, Any], where: str, name: str, default: Any = _MISSING) -> int:
    """A whole-number field of a tower's config (``default`` where it may be absent)."""
    value = cfg.get(name)
    if value is None:
        if default is _MISSING:
            raise ConfigError(f"{where} lacks {name}; vram needs it to size the vision tower.")
        return int(default)
    if isinstance(value, list | tuple) and value:
        value = value[0]  # [height, width] pairs: square images and patches are what configs use
    return _whole(value, where, name)


def _ints(cfg: Mapping[str, Any], where: str, name: str, default: Any = ()) -> list[int]:
    """A list of whole numbers (kernel sizes, channel counts, ratios)."""
    values = cfg.get(name)
    values = default if values is None else values
    if not isinstance(values, list | tuple):
        raise ConfigError(f"{where} has {name}={values!r}; expected a list of whole numbers.")
    return [_whole(v, where, name) for v in values]


def _positive(cfg: Mapping[str, Any], where: str, name: str, default: float, upper: float | None = None) -> float:
    """A positive real field (an MLP ratio; a downsample fraction, at most ``upper``)."""
    value = cfg.get(name, default)
    value = default if value is None else value
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0 or (upper and value > upper):
        raise ConfigError(f"{where} has {name}={value!r}; expected a positive number.")
    return float(value)


def _lin(i: int, o: int, bias: bool = True) -> int:
    return i * o + (o if bias else 0)


def _ln(d: int, bias: bool = True) -> int:
    return d * (2 if bias else 1)


def _conv(c_in: int, c_out: int, k: int, bias: bool = True) -> int:
    return c_in * c_out * k * k + (c_out if bias else 0)


@dataclass(frozen=True)
class Tower:
    """A tower's parameter count and the geometry its activation estimate reads."""

    n: int
    spec: VisionSpec


def _tower(n: int, hidden: int, layers: int, inter: int, heads: int, image: int, patch: int) -> Tower:
    spec = VisionSpec(
        hidden_size=hidden,
        num_layers=layers,
        intermediate_size=inter,
        num_heads=heads,
        image_size=image,
        patch_size=patch,
    )
    return Tower(n, spec)


# ---------------------------------------------------------------- towers (by vision_config model_type)


def _sam_vit(vc: Mapping[str, Any], where: str) -> Tower:
    """SAM's ViT (GOT-OCR2, DeepSeek-VL hybrid): conv patches, absolute positions, windowed blocks with
    relative positions (global ones span the whole grid), a conv neck to ``output_channels``."""
    h, layers = _i(vc, where, "hidden_size"), _i(vc, where, "num_hidden_layers")
    heads, mlp = _i(vc, where, "num_attention_heads"), _i(vc, where, "mlp_dim")
    image, patch = _i(vc, where, "image_size"), _i(vc, where, "patch_size")
    channels, out = _i(vc, where, "num_channels", 3), _i(vc, where, "output_channels")
    window = _i(vc, where, "window_size", 0)
    grid, head_dim = image // patch, h // heads
    globals_ = set(_ints(vc, where, "global_attn_indexes"))
    n = _conv(channels, h, patch)
    if vc.get("use_abs_pos", True):
        n += grid * grid * h
    for index in range(layers):
        size = grid if window == 0 or index in globals_ else window
        n += 2 * _ln(h) + _lin(h, 3 * h, bool(vc.get("qkv_bias", True))) + _lin(h, h)
        n += _lin(h, mlp) + _lin(mlp, h)
        if vc.get("use_rel_pos", True):
            n += 2 * (2 * size - 1) * head_dim
    n += _conv(h, out, 1, bias=False) + _ln(out) + _conv(out, out, 3, bias=False) + _ln(out)
    return _tower(n, h, layers, mlp, heads, image, patch)


def _blip_vit(vc: Mapping[str, Any], where: str) -> Tower:
    """BLIP-2 / InstructBLIP's EVA ViT: class token, conv patches, positions, fused qkv (q and v
    biases), biased projection and fc1/fc2, LayerNorms, a post-LayerNorm."""
    h, layers = _i(vc, where, "hidden_size"), _i(vc, where, "num_hidden_layers")
    heads, inter = _i(vc, where, "num_attention_heads"), _i(vc, where, "intermediate_size")
    image, patch = _i(vc, where, "image_size"), _i(vc, where, "patch_size")
    positions = (image // patch) ** 2 + 1
    n = h + _conv(3, h, patch) + positions * h
    attn = _lin(h, 3 * h, bool(vc.get("qkv_bias", True))) + _lin(h, h)
    n += layers * (2 * _ln(h) + attn + _lin(h, inter) + _lin(inter, h)) + _ln(h)
    return _tower(n, h, layers, inter, heads, image, patch)


def _siglip(vc: Mapping[str, Any], where: str) -> Tower:
    """SigLIP-style ViT: patch embedding with bias (a conv, or SigLIP2's equivalent linear), learned
    positions (one per patch of ``image_size``, SigLIP2's ``num_patches``, none for rotary towers),
    biased q/k/v/out and fc1/fc2, LayerNorms, a post-LayerNorm, the attention-pooling head when
    ``vision_use_head``."""
    kind = str(vc.get("model_type") or "")
    h, layers = _i(vc, where, "hidden_size"), _i(vc, where, "num_hidden_layers")
    heads, inter = _i(vc, where, "num_attention_heads"), _i(vc, where, "intermediate_size")
    patch, channels = _i(vc, where, "patch_size"), _i(vc, where, "num_channels", 3)
    if kind == "siglip2_vision_model":
        positions = _i(vc, where, "num_patches")
        image = math.isqrt(positions) * patch
    else:
        image = _i(vc, where, "image_size")
        positions = 0 if kind in _ROTARY_SIGLIP else (image // patch) ** 2
    block = 2 * _ln(h) + 4 * _lin(h, h) + _lin(h, inter) + _lin(inter, h)
    n = _conv(channels, h, patch) + positions * h + layers * block + _ln(h)
    if kind == "siglip2_vision_model" and vc.get("vision_use_head", True):  # the others build no head
        n += h + _lin(h, 3 * h) + _lin(h, h) + _ln(h) + _lin(h, inter) + _lin(inter, h)
    return _tower(n, h, layers, inter, heads, image, patch)


def _qwen2_5_vit(vc: Mapping[str, Any], where: str) -> Tower:
    """Qwen2.5-VL's ViT (HyperCLOVA X vision, EXAONE 4.5 with grouped KV heads): bias-free Conv3d
    patches, RMS-normed blocks with a biased fused qkv and proj and a biased gated MLP, then the
    patch merger (RMSNorm, two biased linears over ``spatial_merge_size``^2 patches)."""
    w, depth = _i(vc, where, "hidden_size"), _i(vc, where, "depth")
    heads, inter = _i(vc, where, "num_heads"), _i(vc, where, "intermediate_size")
    kv = _i(vc, where, "num_key_value_heads", heads)
    patch, temporal = _i(vc, where, "patch_size"), _i(vc, where, "temporal_patch_size")
    channels, out = _i(vc, where, "in_channels", 3), _i(vc, where, "out_hidden_size")
    merged = w * _i(vc, where, "spatial_merge_size") ** 2
    head_dim = w // heads
    block = 2 * w + _lin(w, (heads + 2 * kv) * head_dim) + _lin(w, w) + 2 * _lin(w, inter) + _lin(inter, w)
    n = channels * temporal * patch * patch * w + depth * block + w + _lin(merged, merged) + _lin(merged, out)
    return _tower(n, w, depth, inter, heads, _i(vc, where, "image_size"), patch)


def _rice_vit(vc: Mapping[str, Any], where: str) -> Tower:
    """LLaVA-OneVision-1.5's RiceViT: bias-free conv patches, a class token with its rotary slot, a
    pre-LayerNorm, LayerNorm blocks with biased fused qkv, proj and fc1/fc2, then the patch merger
    (LayerNorm, two biased linears over ``spatial_merge_size``^2 patches to ``out_hidden_size``)."""
    w, depth = _i(vc, where, "hidden_size"), _i(vc, where, "depth")
    heads, inter = _i(vc, where, "num_heads"), _i(vc, where, "intermediate_size")
    patch, channels = _i(vc, where, "patch_size"), _i(vc, where, "in_channels", 3)
    merged, out = w * _i(vc, where, "spatial_merge_size") ** 2, _i(vc, where, "out_hidden_size")
    block = 2 * _ln(w) + _lin(w, 3 * w) + _lin(w, w) + _lin(w, inter) + _lin(inter, w)
    n = _conv(channels, w, patch, bias=False) + w + w // heads // 2 + _ln(w) + depth * block
    n += _ln(w) + _lin(merged, merged) + _lin(merged, out)
    return _tower(n, w, depth, inter, heads, _i(vc, where, "image_size"), patch)


def _intern_vit(vc: Mapping[str, Any], where: str) -> Tower:
    """InternViT (Qianfan-OCR): class token, biased conv patches, positions, blocks with LayerNorms
    or RMSNorms (``norm_type``), q/k/v (bias per ``attention_bias``), optional q/k norms over the
    width, a biased projection and fc1/fc2, two layer-scale vectors; a final LayerNorm only without
    mean pooling."""
    h, layers = _i(vc, where, "hidden_size"), _i(vc, where, "num_hidden_layers")
    heads, inter = _i(vc, where, "num_attention_heads"), _i(vc, where, "intermediate_size")
    image, patch = _i(vc, where, "image_size"), _i(vc, where, "patch_size")
    norm = _ln(h, bias=vc.get("norm_type", "layer_norm") == "layer_norm")
    n = h + _conv(_i(vc, where, "num_channels", 3), h, patch)
    if vc.get("use_absolute_position_embeddings", True):
        n += ((image // patch) ** 2 + 1) * h
    if vc.get("use_mask_token"):
        n += h
    attn = 3 * _lin(h, h, bool(vc.get("attention_bias"))) + _lin(h, h) + (2 * h if vc.get("use_qk_norm") else 0)
    n += layers * (2 * norm + attn + _lin(h, inter) + _lin(inter, h) + 2 * h)
    if not vc.get("use_mean_pooling", True):
        n += _ln(h)
    return _tower(n, h, layers, inter, heads, image, patch)


def _minicpm_vit(vc: Mapping[str, Any], where: str) -> Tower:
    """MiniCPM-V 4.6 / 4.7 / MiniCPM-OCR: a SigLIP tower without its head, plus the window-attention
    merger inserted after ``insert_layer_id`` (an attention block and an MLP over a
    ``window_kernel_size`` window of patches, its widths that many times the tower's)."""
    base = _siglip(vc, where)
    h, inter = base.spec.hidden_size, base.spec.intermediate_size
    window = math.prod(_ints(vc, where, "window_kernel_size", (2, 2)))
    merger = 4 * _lin(h, h) + _ln(h) + _ln(window * h) + _lin(window * h, window * inter) + _lin(window * inter, h)
    return Tower(base.n + merger, base.spec)


def _ovis2_vit(vc: Mapping[str, Any], where: str) -> Tower:
    """Ovis2's visual tokenizer: biased conv patches, learned positions and an RMSNorm, RMS-normed
    blocks with q/k/v/out (bias per ``qkv_bias``) and a gated MLP (bias per ``mlp_bias``), a final
    RMSNorm, then the head: a bias-free linear over ``hidden_stride``^2 patches to the visual
    vocabulary (less its indicator tokens) and a LayerNorm."""
    h, layers = _i(vc, where, "hidden_size"), _i(vc, where, "num_hidden_layers")
    heads, inter = _i(vc, where, "num_attention_heads"), _i(vc, where, "intermediate_size")
    image, patch = _i(vc, where, "image_size"), _i(vc, where, "patch_size")
    stride = _i(vc, where, "hidden_stride", 1)
    vocab = _i(vc, where, "vocab_size") - _i(vc, where, "num_visual_indicator_tokens")
    qkv_bias, mlp_bias = bool(vc.get("qkv_bias")), bool(vc.get("mlp_bias"))
    block = 2 * h + 4 * _lin(h, h, qkv_bias) + 2 * _lin(h, inter, mlp_bias) + _lin(inter, h, mlp_bias)
    n = _conv(_i(vc, where, "num_channels", 3), h, patch) + (image // patch) ** 2 * h + h
    n += layers * block + h + h * stride * stride * vocab + _ln(vocab)
    return _tower(n, h, layers, inter, heads, image, patch)


def _radio(vc: Mapping[str, Any], where: str) -> Tower:
    """NVIDIA RADIO: bias-free linear patch (and video-patch) projections, a position grid of
    ``max_img_size / patch_size`` squared, class and register tokens, LayerNorm blocks with q/k/v
    (bias per ``qkv_bias``), a biased output, two layer-scale vectors and a biased MLP (plain of
    ``mlp_ratio`` x the width, or SwiGLU of two thirds of it rounded up to 8)."""
    h, layers = _i(vc, where, "hidden_size"), _i(vc, where, "num_hidden_layers")
    heads, patch = _i(vc, where, "num_attention_heads"), _i(vc, where, "patch_size")
    inter = int(h * _positive(vc, where, "mlp_ratio", 4.0))
    grid = _i(vc, where, "max_img_size") // patch
    n = _i(vc, where, "patch_dim") * h + grid * grid * h
    if vc.get("video_temporal_patch_size") is not None:
        n += _i(vc, where, "video_patch_dim") * h
    n += (_i(vc, where, "num_cls_tokens") + _i(vc, where, "num_registers")) * h
    if vc.get("use_swiglu_ffn"):
        inter = (int(inter * 2 / 3) + 7) // 8 * 8
        mlp = 2 * _lin(h, inter) + _lin(inter, h)
    else:
        mlp = _lin(h, inter) + _lin(inter, h)
    n += layers * (2 * _ln(h) + 3 * _lin(h, h, bool(vc.get("qkv_bias", True))) + _lin(h, h) + 2 * h + mlp)
    return _tower(n, h, layers, inter, heads, _i(vc, where, "image_size"), patch)


def _janus_vit(vc: Mapping[str, Any], where: str) -> Tower:
    """Janus's SigLIP-style tower: biased conv patches, learned positions, q/k/v (bias per
    ``attention_bias``) with optional LayerNorm q/k norms over the width, a biased projection, a
    biased MLP of ``mlp_ratio`` x the width, LayerNorms and a post-LayerNorm."""
    h, layers = _i(vc, where, "hidden_size"), _i(vc, where, "num_hidden_layers")
    heads, image, patch = _i(vc, where, "num_attention_heads"), _i(vc, where, "image_size"), _i(vc, where, "patch_size")
    inter = int(h * _positive(vc, where, "mlp_ratio", 4.0))
    attn = 3 * _lin(h, h, bool(vc.get("attention_bias", True))) + _lin(h, h)
    if vc.get("use_qk_norm"):
        attn += 2 * _ln(h)
    n = _conv(_i(vc, where, "num_channels", 3), h, patch) + (image // patch) ** 2 * h
    n += layers * (2 * _ln(h) + attn + _lin(h, inter) + _lin(inter, h)) + _ln(h)
    return _tower(n, h, layers, inter, heads, image, patch)


def _resnet(c_in: int, c_out: int) -> int:
    """A VQGAN ResNet block: two GroupNorms and 3x3 convs, a 1x1 shortcut when the width changes."""
    shortcut = _conv(c_in, c_out, 1) if c_in != c_out else 0
    return 2 * c_in + _conv(c_in, c_out, 3) + 2 * c_out + _conv(c_out, c_out, 3) + shortcut


def _attn_block(c: int) -> int:
    """A VQGAN attention block: a GroupNorm and 1x1 q/k/v/out convs."""
    return 2 * c + 4 * _conv(c, c, 1)


def _vq_levels(qc: Mapping[str, Any], where: str) -> tuple[int, list[int], int]:
    base, levels = _i(qc, where, "base_channels"), _ints(qc, where, "channel_multiplier")
    if not levels or 0 in levels:
        raise ConfigError(f"{where} has channel_multiplier={levels!r}; expected positive whole numbers.")
    return base, levels, _i(qc, where, "num_res_blocks")


def _vq_stage(c_in: int, c_out: int, blocks: int, attention: bool) -> int:
    """``blocks`` ResNet blocks from ``c_in`` to ``c_out`` channels (the first one changes the width),
    each followed by an attention block when ``attention``."""
    if blocks == 0:
        return 0
    return (
        _resnet(c_in, c_out) + (blocks - 1) * _resnet(c_out, c_out) + (blocks * _attn_block(c_out) if attention else 0)
    )


def _vq_encoder(qc: Mapping[str, Any], where: str, attention: Callable[[int], bool], out: int) -> int:
    """A VQGAN encoder: ``num_res_blocks`` ResNet blocks per level (with attention blocks where
    ``attention(level)``), stride-2 downsampling convs between levels, a mid block, a GroupNorm and a
    conv out to ``out`` channels."""
    base, levels, blocks = _vq_levels(qc, where)
    n, c_in = _conv(_i(qc, where, "in_channels", 3), base, 3), base
    for level, mult in enumerate(levels):
        n += _vq_stage(c_in, base * mult, blocks, attention(level))
        c_in = base * mult if blocks else c_in
        n += _conv(c_in, c_in, 3) if level != len(levels) - 1 else 0
    return n + 2 * _resnet(c_in, c_in) + _attn_block(c_in) + 2 * c_in + _conv(c_in, out, 3)


def _vqgan(qc: Mapping[str, Any], where: str) -> int:
    """Janus's VQGAN: the encoder (attention at the lowest resolution), the codebook, 1x1 quant convs,
    and the mirrored decoder (one more ResNet block per level, upsampling convs)."""
    base, levels, blocks = _vq_levels(qc, where)
    latent, embed = _i(qc, where, "latent_channels"), _i(qc, where, "embed_dim")
    last = len(levels) - 1
    out = 2 * latent if qc.get("double_latent") else latent
    n = _vq_encoder(qc, where, lambda level: level == last, out)
    n += _i(qc, where, "num_embeddings") * embed + _conv(latent, embed, 1) + _conv(embed, latent, 1)
    c_in = base * levels[last]
    n += _conv(latent, c_in, 3) + 2 * _resnet(c_in, c_in) + _attn_block(c_in)
    for level in reversed(range(len(levels))):
        n += _vq_stage(c_in, base * levels[level], blocks + 1, level == last)
        c_in = base * levels[level]
        n += _conv(c_in, c_in, 3) if level != 0 else 0
    return n + 2 * c_in + _conv(c_in, _i(qc, where, "out_channels", 3), 3)


def _emu3_5_tokenizer(vc: Mapping[str, Any], where: str) -> Tower:
    """Apertus 1.5's image tokenizer (the Emu3.5 VQGAN encoder): attention blocks at the levels whose
    resolution is in ``attn_resolutions``, a 1x1 quant conv, a bias-free codebook linear."""
    resolution, latent = _i(vc, where, "resolution"), _i(vc, where, "latent_channels")
    embed = _i(vc, where, "embed_dim")
    at = set(_ints(vc, where, "attn_resolutions"))
    n = _vq_encoder(vc, where, lambda level: resolution // 2**level in at, latent)
    n += _conv(latent, embed, 1) + embed * _i(vc, where, "codebook_size")
    base, levels, blocks = _vq_levels(vc, where)
    return _tower(n, base * levels[-1], len(levels) * blocks, 0, 1, resolution, _i(vc, where, "spatial_scale_factor"))


def _gemma4_vit(vc: Mapping[str, Any], where: str) -> Tower:
    """Gemma 4's ViT: a bias-free linear patch embedding, two position tables (rows, columns) of
    ``position_embedding_size``, sandwich-normed blocks (four RMSNorms) with bias-free GQA q/k/v/o,
    q/k RMSNorms of ``head_dim`` (the v norm has no scale) and a bias-free gated MLP; the pooler has
    no parameters. Images are sized to the processor's default budget, 280 soft tokens of
    ``pooling_kernel_size``^2 patches each."""
    h, layers = _i(vc, where, "hidden_size"), _i(vc, where, "num_hidden_layers")
    heads, inter = _i(vc, where, "num_attention_heads"), _i(vc, where, "intermediate_size")
    kv, head_dim = _i(vc, where, "num_key_value_heads", heads), _i(vc, where, "head_dim", h // heads)
    patch, pool = _i(vc, where, "patch_size"), _i(vc, where, "pooling_kernel_size")
    attn = h * heads * head_dim + 2 * h * kv * head_dim + heads * head_dim * h + 2 * head_dim
    n = 3 * patch * patch * h + 2 * _i(vc, where, "position_embedding_size") * h
    n += layers * (4 * h + attn + 3 * h * inter)
    return _tower(n, h, layers, inter, heads, math.isqrt(280 * pool * pool) * patch, patch)


def _gemma4_unified_embedder(vc: Mapping[str, Any], where: str) -> Tower:
    """Gemma 4 unified's encoder-free vision embedder: LayerNorm over raw ``patch_size`` x
    ``pooling_kernel_size`` square patches (3 channels), a biased dense to ``mm_embed_dim``, a
    LayerNorm, a factorized 2-D position table of ``mm_posemb_size`` rows per axis, a LayerNorm.
    Images are sized to 280 merged patches, the Gemma 4 processor's default budget."""
    side = _i(vc, where, "patch_size") * _i(vc, where, "pooling_kernel_size")
    raw, width = 3 * side * side, _i(vc, where, "mm_embed_dim")
    n = _ln(raw) + _lin(raw, width) + _ln(width) + _i(vc, where, "mm_posemb_size") * 2 * width + _ln(width)
    return _tower(n, width, 0, 0, 1, math.isqrt(280) * side, side)


# timm CNN towers named only by their architecture (activations sized by their output grid): the
# config does not give their size, so it is kept here, counted with timm as transformers builds it
# (TimmWrapperModel: timm.create_model(name, num_classes=0), no classifier head), with the input side
# of timm's pretrained config.
_TIMM_GRID: Mapping[str, tuple[int, int]] = {
    "mobilenetv5_300m_enc": (294_126_912, 768),  # Gemma 3n E2B / E4B (timm 1.0.31)
}


def _timm_tower(vc: Mapping[str, Any], where: str) -> Tower:
    """A timm vision tower (Gemma 3n's MobileNetV5), from the table of architectures counted above.
    It is a CNN: its activation geometry is its output grid (the ``hidden_size`` features of one
    soft token per ``image side / 16`` square, 256 per image), with no transformer layers."""
    name = str(vc.get("architecture") or "")
    if name not in _TIMM_GRID:
        raise UnknownTower(f"{where}: timm vision architecture {name or '(unnamed)'} is not modelled.")
    if vc.get("model_args"):
        raise UnknownTower(
            f"{where} passes model_args to timm, and vram knows only the default build of each timm tower."
        )
    n, side = _TIMM_GRID[name]
    return _tower(n, _i(vc, where, "hidden_size"), 0, 0, 1, side, side // 16)


@dataclass(frozen=True)
class _TimmBackbone:
    """A timm backbone as transformers' TimmWrapperModel builds it: ``timm.create_model(architecture,
    pretrained=False, num_classes=0, **model_args)``, so no classifier. Its config names only the
    architecture, so the size is data: ``params`` is timm's own count of that build."""

    params: int
    model_args: Mapping[str, Any]  # the model_args the count holds for
    stem_stride: int  # the first stage's stride over the image
    width: int  # channels of the first stage, the widest activations (the most pixels)
    mlp_ratio: int  # the first stage's MLP width over ``width``
    layers: int  # blocks over all stages


# timm 1.0.31's counts (sum of the parameters of the build above; buffers not counted).
_TIMM: Mapping[str, _TimmBackbone] = {
    # FastVLM-7B (apple/FastVLM-7B): FastViTHD, reparameterized for inference; stem stride 4, four
    # stride-2 stages, 2+12+24+4+2 blocks, stage widths 96..1536, a final conv to 3072.
    "fastvit_mci3": _TimmBackbone(122_714_208, {"inference_mode": True}, 4, 96, 4, 44),
}


def _timm_wrapper(vc: Mapping[str, Any], where: str) -> Tower:
    """A timm backbone by architecture name (FastVLM): its count from :data:`_TIMM`; for the encoder
    activations, the first stage's pixels at its width over an ``image_size`` image."""
    arch = str(vc.get("architecture") or "")
    backbone = _TIMM.get(arch)
    if backbone is None:
        raise UnknownTower(f"{where}: the timm backbone {arch or '(unnamed)'} is not modelled.")
    if dict(vc.get("model_args") or {}) != dict(backbone.model_args):
        raise UnknownTower(
            f"{where}: the timm backbone {arch} is modelled only with model_args {dict(backbone.model_args)}."
        )
    w, image = backbone.width, _i(vc, where, "image_size")
    return _tower(backbone.params, w, backbone.layers, w * backbone.mlp_ratio, 1, image, backbone.stem_stride)


# SigLIP towers with rotary positions instead of a learned table (VideoLLaMA3).
_ROTARY_SIGLIP = frozenset({"video_llama_3_vision"})

TOWERS: Mapping[str, Callable[[Mapping[str, Any], str], Tower]] = {
    "siglip2_vision_model": _siglip,
    "idefics2_vision": _siglip,
    "video_llama_3_vision": _siglip,
    "qwen2_5_vl_vision": _qwen2_5_vit,
    "exaone4_5_vision": _qwen2_5_vit,
    "llava_onevision1_5_vision": _rice_vit,
    "qianfan_ocr_vision": _intern_vit,
    "minicpm_ocr_vision": _minicpm_vit,
    "minicpmv4_6_vision": _minicpm_vit,
    "minicpmv4_7_vision": _minicpm_vit,
    "ovis2_vision": _ovis2_vit,
    "ovis2_5_vision": _siglip,
    "radio": _radio,
    "janus_vision_model": _janus_vit,
    "apertus1p5_vision_tokenizer": _emu3_5_tokenizer,
    "gemma4_vision": _gemma4_vit,
    "gemma4_unified_vision": _gemma4_unified_embedder,
    "gemma3n_vision": _timm_tower,
    "got_ocr2_vision": _sam_vit,
    "sam_vision_model": _sam_vit,
    "pp_chart2table_vision": _sam_vit,
    "blip_2_vision_model": _blip_vit,
    "instructblip_vision_model": _blip_vit,
    "instructblipvideo_vision_model": _blip_vit,
    "timm_wrapper": _timm_wrapper,
}


def _whisper_encoder(ac: Mapping[str, Any], where: str) -> int:
    """A Whisper encoder (MOSS transcribe-diarize): two biased 1-D convolutions over the mel bins, a
    position table, LayerNorm blocks with a bias-free k projection and biased q/v/out and fc1/fc2,
    a final LayerNorm."""
    h, layers = _i(ac, where, "hidden_size"), _i(ac, where, "num_hidden_layers")
    inter = _i(ac, where, "intermediate_size")
    n = _i(ac, where, "num_mel_bins") * h * 3 + h + h * h * 3 + h + _i(ac, where, "max_source_positions") * h
    attn = h * h + 3 * _lin(h, h)
    return n + layers * (2 * _ln(h) + attn + _lin(h, inter) + _lin(inter, h)) + _ln(h)


def _seanet(ac: Mapping[str, Any], where: str) -> int:
    """WavTokenizer's SEANet encoder (Apertus 1.5's audio tokenizer): weight-normed 1-D convs (weight,
    gain and bias; or a GroupNorm under ``time_group_norm``), residual blocks per downsampling ratio,
    an LSTM and a conv out to ``hidden_size``; its codebook is buffers."""
    grouped = ac.get("norm_type", "weight_norm") == "time_group_norm"
    compress = _i(ac, where, "compress")

    def conv(c_in: int, c_out: int, k: int) -> int:
        return c_in * c_out * k + c_out + 2 * c_out if grouped else c_in * c_out * k + 2 * c_out

    filters, residual_k = _i(ac, where, "num_filters"), _i(ac, where, "residual_kernel_size")
    n, scale = conv(_i(ac, where, "audio_channels"), filters, _i(ac, where, "kernel_size")), 1
    for ratio in reversed(_ints(ac, where, "upsampling_ratios")):
        dim = scale * filters
        hidden = dim // compress
        block = conv(dim, hidden, residual_k) + conv(hidden, dim, 1)
        block += conv(dim, dim, 1) if ac.get("use_conv_shortcut", True) else 0
        n += _i(ac, where, "num_residual_layers") * block + conv(dim, 2 * dim, 2 * ratio)
        scale *= 2
    dim = scale * filters
    n += _i(ac, where, "num_lstm_layers") * (8 * dim * dim + 8 * dim)
    return n + conv(dim, _i(ac, where, "hidden_size"), _i(ac, where, "last_kernel_size"))


def _gemma4_audio(ac: Mapping[str, Any], where: str) -> int:
    """Gemma 4's Conformer audio encoder: two bias-free stride-2 convs with LayerNorms (weights only)
    and a linear in, then per layer two macaron feed-forwards (4x, RMS pre/post norms), bias-free
    q/k/v/post and relative-key projections with a per-dimension scale, a light conv module (linear
    in to 2x for the GLU, a depthwise conv, a linear out, two RMSNorms), three more RMSNorms; a
    biased projection to ``output_proj_dims``."""
    h, layers = _i(ac, where, "hidden_size"), _i(ac, where, "num_hidden_layers")
    heads, kernel = _i(ac, where, "num_attention_heads"), _i(ac, where, "conv_kernel_size")
    channels = _ints(ac, where, "subsampling_conv_channels")
    if len(channels) != 2:
        raise ConfigError(f"{where} has subsampling_conv_channels={channels!r}; expected two channel counts.")
    c0, c1 = channels
    n = 9 * c0 + c0 + 9 * c0 * c1 + c1 + (c0 // 4) * c1 * h
    n += layers * _conformer_layer(h, heads, kernel)
    return n + _lin(h, _i(ac, where, "output_proj_dims"))


def _conformer_layer(h: int, heads: int, kernel: int) -> int:
    """One USM Conformer block (Gemma 3n, Gemma 4): two macaron feed-forwards (bias-free 4x linears,
    RMS pre/post norms), bias-free q/k/v/post and relative-key projections with a per-dimension
    scale and RMS pre/post norms, a light conv module (linear in to 2x for the GLU, a bias-free
    depthwise conv, a linear out, two RMSNorms), a final RMSNorm."""
    ff = 2 * 4 * h * h + 2 * h
    attn = 5 * h * h + h // heads
    conv = 2 * h * h + h * h + h * kernel + 2 * h
    return 2 * ff + attn + conv + 3 * h


def _gemma3n_audio(ac: Mapping[str, Any], where: str) -> int:
    """Gemma 3n's USM audio encoder: two bias-free 2-D convs (each with a cumulative GroupNorm's
    weight) over the mel frames, a bias-free linear from the flattened channels x frequencies to
    ``hidden_size``, then ``conf_num_hidden_layers`` Conformer blocks; no output projection."""
    h, layers = _i(ac, where, "hidden_size"), _i(ac, where, "conf_num_hidden_layers")
    heads, kernel = _i(ac, where, "conf_num_attention_heads"), _i(ac, where, "conf_conv_kernel_size")
    channels = _ints(ac, where, "sscp_conv_channel_size")
    kernels, strides = ac.get("sscp_conv_kernel_size"), ac.get("sscp_conv_stride_size")
    if len(channels) != 2 or not isinstance(kernels, list) or not isinstance(strides, list):
        raise ConfigError(f"{where} does not describe two subsampling convolutions.")
    if len(kernels) != 2 or len(strides) != 2:
        raise ConfigError(f"{where} does not describe two subsampling convolutions.")
    n, c_in, freq = 0, 1, _i(ac, where, "input_feat_size")
    for c_out, kernel_hw, stride_hw in zip(channels, kernels, strides, strict=True):
        kh, kw = _ints({"sscp_conv_kernel_size": kernel_hw}, where, "sscp_conv_kernel_size")
        _, sw = _ints({"sscp_conv_stride_size": stride_hw}, where, "sscp_conv_stride_size")
        n += c_in * c_out * kh * kw + c_out
        freq = (freq + 2 - kw) // sw + 1  # one frame of padding each side of the frequency axis
        c_in = c_out
    n += c_in * freq * h
    return n + layers * _conformer_layer(h, heads, kernel)


def _parakeet(ac: Mapping[str, Any], where: str) -> int:
    """NVIDIA's Parakeet (FastConformer) encoder (Nemotron-H Omni): a conv subsampler (a conv, then
    depthwise and pointwise convs per further factor of 2, a biased linear over the remaining mel
    bins), then per layer two feed-forwards, relative-position attention (q/k/v/o with bias per
    ``attention_bias``, a bias-free relative-key projection, two per-head bias vectors), a conv
    module (pointwise to 2x for the GLU, depthwise, BatchNorm, pointwise) and five LayerNorms."""
    h, layers = _i(ac, where, "hidden_size"), _i(ac, where, "num_hidden_layers")
    heads, inter = _i(ac, where, "num_attention_heads"), _i(ac, where, "intermediate_size")
    head_dim = _i(ac, where, "head_dim", h // heads)
    ch, k = _i(ac, where, "subsampling_conv_channels"), _i(ac, where, "subsampling_conv_kernel_size")
    stride, kernel = _i(ac, where, "subsampling_conv_stride"), _i(ac, where, "conv_kernel_size")
    steps = _i(ac, where, "subsampling_factor").bit_length() - 1
    if steps < 1:
        raise ConfigError(f"{where} has subsampling_factor={ac.get('subsampling_factor')!r}; expected 2 or more.")
    bias, conv_bias = bool(ac.get("attention_bias", True)), bool(ac.get("convolution_bias", True))
    n = _conv(1, ch, k) + (steps - 1) * (ch * k * k + ch + _conv(ch, ch, 1))
    n += _lin(ch * (_i(ac, where, "num_mel_bins") // stride**steps), h)
    ff = _lin(h, inter, bias) + _lin(inter, h, bias)
    attn = 2 * _lin(h, heads * head_dim, bias) + 2 * _lin(heads * head_dim, h, bias)
    attn += h * heads * head_dim + 2 * heads * head_dim
    conv = _lin(h, 2 * h, conv_bias) + h * kernel + (h if conv_bias else 0) + 2 * h + _lin(h, h, conv_bias)
    return n + layers * (2 * ff + attn + conv + 5 * _ln(h))


def _raw_frames(ac: Mapping[str, Any], where: str) -> int:
    """Gemma 4 unified's audio: raw waveform frames go straight to the embedder (no encoder)."""
    return 0


AUDIO: Mapping[str, Callable[[Mapping[str, Any], str], int]] = {
    "moss_transcribe_diarize_audio": _whisper_encoder,
    "wavtokenizer_encoder": _seanet,
    "gemma4_audio": _gemma4_audio,
    "gemma3n_audio": _gemma3n_audio,
    "parakeet_encoder": _parakeet,
    "gemma4_unified_audio": _raw_frames,
}


def audio(ac: Mapping[str, Any], where: str) -> int:
    """The parameters of the audio tower its ``audio_config`` describes."""
    kind = str(ac.get("model_type") or "")
    build = AUDIO.get(kind)
    if build is None:
        raise UnknownTower(f"{where}: audio tower {kind or '(unnamed)'} is not modelled.")
    return build(ac, where)


# The towers estimator.config counts for the LLaVA-style types (its ``_vit_tower``), passed in as
# the fallback so that they are counted once.
FALLBACK_KINDS = frozenset(
    {"clip_vision_model", "siglip_vision_model", "idefics3_vision", "smolvlm_vision", "internvl_vision"}
)

Fallback = Callable[[Mapping[str, Any], str], tuple[int, VisionSpec]]


def tower(vc: Mapping[str, Any], where: str, fallback: Fallback | None = None) -> Tower:
    """The tower its ``vision_config`` describes (``fallback`` counts the kinds this module does not)."""
    kind = str(vc.get("model_type") or "")
    build = TOWERS.get(kind)
    if build is not None:
        return build(vc, where)
    if fallback is None or kind not in FALLBACK_KINDS:
        raise UnknownTower(f"{where}: vision tower {kind or '(unnamed)'} is not modelled.")
    return Tower(*fallback(vc, where))


# ---------------------------------------------------------------- projectors (by the type's Vision value)


def _qformer(top: Mapping[str, Any], text_hidden: int, where: str) -> int:
    """BLIP-2's Q-Former (query tokens, self-attention, cross-attention every ``cross_attention_frequency``
    layers, a query MLP; with text input, InstructBLIP's, a text MLP and word/position embeddings) and
    the language projection to the text width."""
    qc = top.get("qformer_config") or {}
    w = f"{where} qformer_config"
    q, inter, layers = _i(qc, w, "hidden_size"), _i(qc, w, "intermediate_size"), _i(qc, w, "num_hidden_layers")
    enc, freq = _i(qc, w, "encoder_hidden_size"), _i(qc, w, "cross_attention_frequency")
    # InstructBLIP's Q-Former reads the prompt: word and position embeddings (their LayerNorm is
    # the one BLIP-2 keeps at the top) and a text MLP per layer, as BLIP-2's does with text input.
    embeds = str(top.get("model_type")) in ("instructblip", "instructblipvideo")
    text_input = embeds or bool(qc.get("use_qformer_text_input"))
    out = _lin(q, q) + _ln(q)  # attention output dense + LayerNorm
    mlp = _lin(q, inter) + _lin(inter, q) + _ln(q)
    n = _ln(q)
    for index in range(layers):
        n += 3 * _lin(q, q) + out + mlp * (2 if text_input else 1)
        if freq and index % freq == 0:
            n += _lin(q, q) + 2 * _lin(enc, q) + out
    if embeds:
        n += (_i(qc, w, "vocab_size") + _i(qc, w, "max_position_embeddings")) * q
    return n + _i(top, where, "num_query_tokens") * q + _lin(q, text_hidden)


def _got_ocr2(top: Mapping[str, Any], text_hidden: int, where: str) -> int:
    """Two stride-2 convolutions (no bias) from the neck's channels to the text width, one linear."""
    out = _i(top.get("vision_config") or {}, where, "output_channels")
    return (
        _conv(out, 2 * out, 3, bias=False) + _conv(2 * out, text_hidden, 3, bias=False) + _lin(text_hidden, text_hidden)
    )


def _idefics2(top: Mapping[str, Any], text_hidden: int, where: str) -> int:
    """A bias-free gated MLP from the tower's width through the text MLP width to the text width, then
    the perceiver resampler: latents, ``resampler_depth`` layers of RMS-normed GQA cross-attention and
    a gated MLP of 4x the width, a final RMSNorm."""
    vc, tc, pc = (top.get(k) or {} for k in ("vision_config", "text_config", "perceiver_config"))
    hv, inter = _i(vc, where, "hidden_size"), _i(tc, where, "intermediate_size")
    w = f"{where} perceiver_config"
    hp, depth = _i(pc, w, "hidden_size"), _i(pc, w, "resampler_depth")
    heads, head_dim = _i(pc, w, "resampler_n_heads"), _i(pc, w, "resampler_head_dim")
    kv = _i(pc, w, "num_key_value_heads")
    n = 2 * hv * inter + inter * text_hidden
    attn = 2 * hp * heads * head_dim + 2 * hp * kv * head_dim
    n += _i(pc, w, "resampler_n_latents") * hp + depth * (3 * hp + attn + 3 * hp * 4 * hp) + hp
    return n


def _pixel_unshuffle_mlp(top: Mapping[str, Any], text_hidden: int, where: str) -> int:
    """LFM2-VL: pixel unshuffle by ``downsample_factor``, an optional LayerNorm, two linears through
    ``projector_hidden_size``."""
    hv = _i(top.get("vision_config") or {}, where, "hidden_size")
    width = hv * _i(top, where, "downsample_factor") ** 2
    inner, bias = _i(top, where, "projector_hidden_size"), bool(top.get("projector_bias", True))
    norm = _ln(width) if top.get("projector_use_layernorm", True) else 0
    return norm + _lin(width, inner, bias) + _lin(inner, text_hidden, bias)


def _aria(top: Mapping[str, Any], text_hidden: int, where: str) -> int:
    """Aria: learned queries cross-attending to the patches (bias-free q/k/v, a biased
    nn.MultiheadAttention, a biased linear, two LayerNorms), a LayerNorm and a bias-free GELU MLP
    through the text width."""
    hv = _i(top.get("vision_config") or {}, where, "hidden_size")
    queries = _i(top, where, "max_value_projector_patch_to_query_dict")
    cross = 3 * hv * hv + _lin(hv, 3 * hv) + _lin(hv, hv) + _lin(hv, hv) + 2 * _ln(hv)
    return queries * hv + cross + _ln(hv) + hv * text_hidden + text_hidden * text_hidden


def _two_linears(top: Mapping[str, Any], text_hidden: int, where: str) -> int:
    """Two biased linears, the tower's width to the text width, then text to text (VideoLLaMA3)."""
    hv = _i(top.get("vision_config") or {}, where, "hidden_size")
    return _lin(hv, text_hidden) + _lin(text_hidden, text_hidden)


def _fast_vlm(top: Mapping[str, Any], text_hidden: int, where: str) -> int:
    """Two linears, the tower's width to the text width, then text to text, biased where
    ``multimodal_projector_bias`` (FastVLM)."""
    hv, bias = (
        _i(top.get("vision_config") or {}, where, "hidden_size"),
        bool(top.get("multimodal_projector_bias", True)),
    )
    return _lin(hv, text_hidden, bias) + _lin(text_hidden, text_hidden, bias)


def _none(top: Mapping[str, Any], text_hidden: int, where: str) -> int:
    """No projector beyond the tower's own patch merger (EXAONE 4.5, LLaVA-OneVision-1.5)."""
    return 0


def _merger_linear(top: Mapping[str, Any], text_hidden: int, where: str) -> int:
    """One biased linear from the tower's merger output to the text width (HyperCLOVA X vision)."""
    return _lin(_i(top.get("vision_config") or {}, where, "out_hidden_size"), text_hidden)


def _pixel_shuffle_ln_mlp(top: Mapping[str, Any], text_hidden: int, where: str) -> int:
    """InternVL-style: pixel shuffle by ``1 / downsample_ratio``, a LayerNorm, two biased linears to and
    at the text width (Qianfan-OCR)."""
    hv = _i(top.get("vision_config") or {}, where, "hidden_size")
    ratio = _positive(top, where, "downsample_ratio", 0.5, upper=1.0)
    width = hv * int(1 / ratio) ** 2
    return _ln(width) + _lin(width, text_hidden) + _lin(text_hidden, text_hidden)


def _minicpm(top: Mapping[str, Any], text_hidden: int, where: str) -> int:
    """MiniCPM-V's merger: ``merger_times`` MLPs over 2x2-merged patches (4x the tower's width:
    LayerNorm, a square linear, a linear out), the last one out to the text width."""
    hv = _i(top.get("vision_config") or {}, where, "hidden_size")
    wide = 4 * hv  # the class merges a fixed 2x2 window here, whatever merge_kernel_size says

    def mlp(out: int) -> int:
        return _ln(wide) + _lin(wide, wide) + _lin(wide, out)

    return (_i(top, where, "merger_times", 1) - 1) * mlp(hv) + mlp(text_hidden)


def _ovis2(top: Mapping[str, Any], text_hidden: int, where: str) -> int:
    """Ovis2's visual embedding table: one row of the text width per visual token."""
    return _i(top.get("vision_config") or {}, where, "vocab_size") * _i(top, where, "hidden_size", text_hidden)


def _ovis2_5(top: Mapping[str, Any], text_hidden: int, where: str) -> int:
    """Ovis2.5's visual tokenizer (a bias-free linear over ``spatial_merge_size``^2 patches to the visual
    vocabulary less its indicator tokens, a LayerNorm) and its bias-free embedding table."""
    vc = top.get("vision_config") or {}
    h, merge = _i(vc, where, "hidden_size"), _i(vc, where, "spatial_merge_size")
    vocab = _i(vc, where, "vocab_size")
    tokens = vocab - _i(vc, where, "num_visual_indicator_tokens")
    return h * merge * merge * tokens + _ln(tokens) + vocab * text_hidden


def _deepseek_vl_hybrid(top: Mapping[str, Any], text_hidden: int, where: str) -> int:
    """DeepSeek-VL's hybrid side: a SAM tower for high-resolution images with a second conv neck, two
    stride-2 convolutions (channels x2, x4; no bias) and a scalar gate, then the aligner (a biased
    linear from each tower to half the text width, one at the text width)."""
    hc = top.get("high_res_vision_config")
    if not isinstance(hc, Mapping):
        raise UnknownTower(f"{where} config has no high_res_vision_config, so vram cannot size its SAM tower.")
    w = f"{where} high_res_vision_config"
    sam = tower(hc, w).n
    out = _i(hc, w, "output_channels")
    neck = _conv(_i(hc, w, "hidden_size"), out, 1, bias=False) + _ln(out) + _conv(out, out, 3, bias=False) + _ln(out)
    proj = _conv(out, 2 * out, 3, bias=False) + _conv(2 * out, 4 * out, 3, bias=False)
    hv = _i(top.get("vision_config") or {}, where, "hidden_size")
    half = text_hidden // 2
    aligner = _lin(hv, half) + _lin(4 * out, half) + _lin(text_hidden, text_hidden)
    return sam + neck + proj + 1 + aligner


def _nemotron_h_omni(top: Mapping[str, Any], text_hidden: int, where: str) -> int:
    """Nemotron-H Omni: a LayerNorm on the tower's output when the text stack has MTP layers, then an
    RMSNorm and two bias-free linears (squared-ReLU) over pixel-shuffled features; with audio, the
    same RMSNorm and two linears (bias per ``projection_bias``) from the audio encoder's width."""
    n = 0
    if ac := top.get("audio_config"):
        w = f"{where} audio_config"
        ha, inner_a = _i(ac, w, "hidden_size"), _i(ac, w, "projection_hidden_size")
        bias = bool(ac.get("projection_bias", False))
        n += ha + _lin(ha, inner_a, bias) + _lin(inner_a, text_hidden, bias)
    hv = _i(top, where, "vision_hidden_size")
    ratio = _positive(top, where, "downsample_ratio", 0.5, upper=1.0)
    width, inner = hv * int(1 / ratio) ** 2, _i(top, where, "projector_hidden_size")
    mtp = _i(top.get("text_config") or {}, where, "num_nextn_predict_layers", 0) > 0
    return n + (_ln(hv) if mtp else 0) + width + width * inner + inner * text_hidden


def _moss(top: Mapping[str, Any], text_hidden: int, where: str) -> int:
    """MOSS transcribe-diarize: two linears (bias per ``projector_bias``) over ``audio_merge_size``
    merged frames to the text width, and a LayerNorm."""
    width = _i(top.get("audio_config") or {}, where, "hidden_size") * _i(top, where, "audio_merge_size")
    bias = bool(top.get("projector_bias", True))
    return _lin(width, text_hidden, bias) + _lin(text_hidden, text_hidden, bias) + _ln(text_hidden)


def _janus(top: Mapping[str, Any], text_hidden: int, where: str) -> int:
    """Janus: the understanding aligner (``depth`` biased linears to ``projection_dim``) and the
    generation side: the VQGAN, a codebook embedding, its aligner MLP and the image-token head."""
    vc, qc = top.get("vision_config") or {}, top.get("vq_config")
    if not isinstance(qc, Mapping):
        raise UnknownTower(f"{where} config has no vq_config, so vram cannot size its image generator.")
    w, wq = f"{where} vision_config", f"{where} vq_config"
    proj, depth = _i(vc, w, "projection_dim"), _i(vc, w, "depth")
    n = _lin(_i(vc, w, "hidden_size"), proj) + (depth - 1) * _lin(proj, proj)
    embed, codes = _i(qc, wq, "embed_dim"), _i(qc, wq, "num_embeddings")
    q_proj, q_layers = _i(qc, wq, "projection_dim"), _i(qc, wq, "num_hidden_layers")
    n += _vqgan(qc, wq) + codes * embed + _lin(embed, q_proj) + (q_layers - 1) * _lin(q_proj, q_proj)
    return n + _lin(_i(qc, wq, "image_token_embed_dim"), q_proj) + _lin(q_proj, codes)


def _gemma4(top: Mapping[str, Any], text_hidden: int, where: str) -> int:
    """Gemma 4's embedders: a bias-free linear from each tower's output (the ViT width, the audio
    encoder's ``output_proj_dims``; Gemma 4 unified's ``output_proj_dims`` and raw audio frames of
    ``audio_embed_dim``) to the text width, after a scale-free RMSNorm."""
    n = 0
    for sub in (top.get("vision_config"), top.get("audio_config")):
        if sub:
            width = _i(sub, where, "audio_embed_dim", _i(sub, where, "hidden_size", 0))
            n += _i(sub, where, "output_proj_dims", width) * text_hidden
    return n


def _gemma3n(top: Mapping[str, Any], text_hidden: int, where: str) -> int:
    """Gemma 3n's embedders, one per tower: an embedding table of the tower's ``vocab_size`` hard
    tokens at its width, two RMSNorms (hard, soft), a bias-free linear to the text width and a
    scale-free RMSNorm."""
    n = 0
    for key in ("vision_config", "audio_config"):
        sub = top.get(key)
        if sub:
            w = f"{where} {key}"
            width = _i(sub, w, "hidden_size")
            n += _i(sub, w, "vocab_size") * width + 2 * width + width * text_hidden
    return n


PROJECTORS: Mapping[str, Callable[[Mapping[str, Any], int, str], int]] = {
    "blip2": _qformer,
    "got_ocr2": _got_ocr2,
    "idefics2": _idefics2,
    "lfm2_vl": _pixel_unshuffle_mlp,
    "aria": _aria,
    "video_llama_3": _two_linears,
    "fast_vlm": _fast_vlm,
    "merger": _none,
    "merger_linear": _merger_linear,
    "pixel_shuffle_ln_mlp": _pixel_shuffle_ln_mlp,
    "minicpm": _minicpm,
    "ovis2": _ovis2,
    "ovis2_5": _ovis2_5,
    "deepseek_vl_hybrid": _deepseek_vl_hybrid,
    "nemotron_h_omni": _nemotron_h_omni,
    "moss": _moss,
    "janus": _janus,
    "gemma4": _gemma4,
    "gemma3n": _gemma3n,
}


def vision_params(
    kind: str,
    model_type: str,
    top: Mapping[str, Any],
    vc: Mapping[str, Any],
    text_hidden: int,
    fallback: Fallback | None = None,
) -> tuple[int, VisionSpec | None]:
    """The parameters of ``kind``'s towers and projector: ``top`` is the whole filled config, ``vc``
    its vision_config with the family's defaults; ``fallback`` counts vision towers kept elsewhere.
    The spec is the vision tower's geometry (None for an audio-only model)."""
    vision, sound = top.get("vision_config"), top.get("audio_config")
    if not vision and not sound:
        return 0, None  # a text-only save of an image-text type
    n, spec = 0, None
    if vision:
        t = tower(vc, f"{model_type} vision_config", fallback)
        n, spec = t.n, t.spec
    if isinstance(sound, Mapping) and sound:
        n += audio(sound, f"{model_type} audio_config")
    return n + PROJECTORS[kind](top, text_hidden, model_type), spec
