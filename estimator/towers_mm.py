"""Vision (and audio) towers of image-text types whose tower is theirs alone.

Each builder returns the tower's parameters (encoder, merger / projector and any audio encoder, as
the model builds them from its config) and the :class:`VisionSpec` the engines read for the encoder
activations. The arithmetic follows the modeling code of each type in transformers; the numbers
are checked against the meta-device counts. Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from common.errors import ConfigError
from estimator import stacks
from estimator.fields import whole
from estimator.spec import VisionSpec

Tower = tuple[int, VisionSpec]


class Counts(Protocol):
    """The parameter accumulator of :mod:`estimator.config` (linears by component, other tensors by count)."""

    def linear(self, component: Any, in_f: int, out_f: int, split: Any, count: int = 1, bias: bool = False) -> None: ...

    def add(self, component: str, n: int) -> None: ...


class NotModelled(Exception):
    """A variant of the type (a config setting) whose tensors vram does not model: one sentence, no verdict."""


def _int(cfg: Mapping[str, Any], where: str, name: str, default: int | None = None) -> int:
    value = cfg.get(name)
    if value is None:
        if default is None:
            raise ConfigError(f"{where} lacks {name}; vram needs it to size the tower.")
        return default
    return whole(where, name, value)


def _linear(i: int, o: int, bias: bool) -> int:
    return i * o + (o if bias else 0)


def _glm_vision(top: Mapping[str, Any], vc: Mapping[str, Any], model_type: str, text_hidden: int) -> Tower:
    """GLM-4.1V / 4.5V / 4.6V and GLM-OCR: a ViT of RMSNorm blocks (fused qkv, SwiGLU MLP), a
    Conv2d downsample of ``spatial_merge_size`` to ``out_hidden_size``, and a SwiGLU patch merger.

    GLM-4V: learned positions over ``image_size``, an RMSNorm after the patch conv, bias-free proj,
    an MLP of ``out_hidden_size``, a merger of ``intermediate_size``. GLM-OCR: no positions, per-head
    q/k RMSNorms, proj and MLP biased like qkv (``attention_bias``), an MLP of ``intermediate_size``,
    a merger of ``out_hidden_size x in_channels``.
    """
    mt = f"{model_type} vision_config"
    hv, depth, heads = _int(vc, mt, "hidden_size"), _int(vc, mt, "depth"), _int(vc, mt, "num_heads")
    inter, out = _int(vc, mt, "intermediate_size"), _int(vc, mt, "out_hidden_size")
    patch, temporal = _int(vc, mt, "patch_size"), _int(vc, mt, "temporal_patch_size")
    channels, merge = _int(vc, mt, "in_channels"), _int(vc, mt, "spatial_merge_size")
    bias = bool(vc.get("attention_bias"))
    ocr = model_type == "glm_ocr"
    n = channels * temporal * patch * patch * hv + hv  # Conv3d patch embedding
    attn = _linear(hv, 3 * hv, bias) + _linear(hv, hv, bias and ocr)
    if ocr:
        mlp_inter, merger_inter = inter, out * channels
        attn += 2 * (hv // heads)  # q_norm, k_norm
    else:
        mlp_inter, merger_inter = out, inter
        image = _int(vc, mt, "image_size")
        n += (image // patch) ** 2 * hv + hv  # position embedding, post-conv RMSNorm
    mlp = 2 * _linear(hv, mlp_inter, bias and ocr) + _linear(mlp_inter, hv, bias and ocr)
    n += depth * (2 * hv + attn + mlp)
    n += hv  # post_layernorm
    n += hv * out * merge * merge + out  # downsample Conv2d
    n += out * out + 2 * out + 3 * out * merger_inter  # merger: proj, LayerNorm, gate/up/down
    # The image processor's default most pixels per image (28 x 28 x 15,000), as a square side.
    side = math.isqrt(28 * 28 * 15000)
    return n, VisionSpec(
        hidden_size=hv,
        num_layers=depth,
        intermediate_size=mlp_inter,
        num_heads=heads,
        image_size=side,
        patch_size=patch,
    )


def _siglip_body(hv: int, layers: int, inter: int, channels: int, patch: int, positions: int) -> int:
    """A SigLIP encoder without its pooling head: biased patch conv, learned positions, LayerNorm
    blocks with biased q/k/v/out and fc1/fc2, a post-LayerNorm."""
    block = 2 * 2 * hv + 4 * _linear(hv, hv, True) + _linear(hv, inter, True) + _linear(inter, hv, True)
    return channels * patch * patch * hv + hv + positions * hv + layers * block + 2 * hv


def _paddleocr_vision(top: Mapping[str, Any], vc: Mapping[str, Any], model_type: str, text_hidden: int) -> Tower:
    """PaddleOCR-VL: a SigLIP (NaViT) encoder and a projector that merges ``spatial_merge_size``^2
    patches (LayerNorm over the ViT width, then two biased linears to the text width)."""
    mt = f"{model_type} vision_config"
    hv, layers = _int(vc, mt, "hidden_size"), _int(vc, mt, "num_hidden_layers")
    inter, heads = _int(vc, mt, "intermediate_size"), _int(vc, mt, "num_attention_heads")
    image, patch = _int(vc, mt, "image_size"), _int(vc, mt, "patch_size")
    channels, merge = _int(vc, mt, "num_channels", 3), _int(vc, mt, "spatial_merge_size")
    n = _siglip_body(hv, layers, inter, channels, patch, (image // patch) ** 2)
    merged = hv * merge * merge
    n += 2 * hv + _linear(merged, merged, True) + _linear(merged, text_hidden, True)
    # The image processor's default most pixels per image (1536 x 1536).
    return n, VisionSpec(
        hidden_size=hv, num_layers=layers, intermediate_size=inter, num_heads=heads, image_size=1536, patch_size=patch
    )


def _qwen25_vit(vc: Mapping[str, Any], mt: str) -> Tower:
    """A Qwen2.5-VL-style ViT: bias-free Conv3d patches, RMSNorm blocks with biased q/k/v/proj and a
    biased SwiGLU MLP, a patch merger (RMSNorm, two biased linears to ``out_hidden_size``)."""
    hv, depth, heads = _int(vc, mt, "hidden_size"), _int(vc, mt, "depth"), _int(vc, mt, "num_heads")
    inter, out = _int(vc, mt, "intermediate_size"), _int(vc, mt, "out_hidden_size")
    patch, temporal = _int(vc, mt, "patch_size"), _int(vc, mt, "temporal_patch_size")
    channels, merge = _int(vc, mt, "in_channels"), _int(vc, mt, "spatial_merge_size")
    block = 2 * hv + 4 * _linear(hv, hv, True) + 2 * _linear(hv, inter, True) + _linear(inter, hv, True)
    merged = hv * merge * merge
    n = channels * temporal * patch * patch * hv + depth * block
    n += hv + _linear(merged, merged, True) + _linear(merged, out, True)
    # The Qwen2-VL image processor's default most pixels per image (12,845,056 = 3584 x 3584).
    return n, VisionSpec(
        hidden_size=hv, num_layers=depth, intermediate_size=inter, num_heads=heads, image_size=3584, patch_size=patch
    )


def _whisper_audio(ac: Mapping[str, Any], mt: str) -> int:
    """A Whisper-style audio encoder (Qwen2-Audio / Qwen2.5-Omni): two biased Conv1d of kernel 3,
    sinusoidal positions (a buffer), LayerNorm blocks with a bias-free k_proj, a post-LayerNorm, a
    biased projection to ``output_dim`` and two audio begin/end embeddings of that width."""
    d, layers = _int(ac, mt, "d_model"), _int(ac, mt, "encoder_layers")
    ffn, mels, out = _int(ac, mt, "encoder_ffn_dim"), _int(ac, mt, "num_mel_bins"), _int(ac, mt, "output_dim")
    block = 4 * d * d + 3 * d + 2 * 2 * d + _linear(d, ffn, True) + _linear(ffn, d, True)
    n = mels * d * 3 + d + d * d * 3 + d + layers * block + 2 * d + _linear(d, out, True)
    return n + 2 * out


def _qwen25_omni(top: Mapping[str, Any], vc: Mapping[str, Any], model_type: str, text_hidden: int) -> Tower:
    """Qwen2.5-Omni's thinker: the Qwen2.5-VL-style vision encoder and the Whisper-style audio encoder."""
    n, spec = _qwen25_vit(vc, f"{model_type} vision_config")
    return n + _whisper_audio(_audio_config(top, model_type), f"{model_type} audio_config"), spec


def _audio_config(top: Mapping[str, Any], model_type: str) -> Mapping[str, Any]:
    """The thinker's ``audio_config``, which the Omni models' audio encoders are sized from."""
    ac = top.get("audio_config")
    if not isinstance(ac, Mapping):
        raise ConfigError(f"{model_type} config lacks audio_config; vram needs it to size the audio encoder.")
    return ac


def qwen3_vit(vc: Mapping[str, Any], mt: str) -> Tower:
    """Qwen3-VL / Qwen3.5 / Qwen3-Omni ViT: Conv3d patches (bias), learned positions, LayerNorm blocks
    with biased qkv/proj and fc1/fc2, a patch merger, and one more merger per deepstack layer."""
    hv, layers, heads = _int(vc, mt, "hidden_size"), _int(vc, mt, "depth"), _int(vc, mt, "num_heads")
    inter, patch = _int(vc, mt, "intermediate_size"), _int(vc, mt, "patch_size")
    temporal, channels = _int(vc, mt, "temporal_patch_size"), _int(vc, mt, "in_channels")
    merge, out = _int(vc, mt, "spatial_merge_size"), _int(vc, mt, "out_hidden_size")
    positions = _int(vc, mt, "num_position_embeddings")
    merged = hv * merge * merge
    n = channels * temporal * patch * patch * hv + hv + positions * hv
    n += layers * (4 * hv + 3 * hv * hv + 3 * hv + hv * hv + hv + 2 * hv * inter + inter + hv)
    n += 2 * hv + merged * merged + merged + merged * out + out
    deepstack = len(vc.get("deepstack_visual_indexes") or ())
    n += deepstack * (2 * merged + merged * merged + merged + merged * out + out)
    if "image_size" not in vc:  # no processor geometry known: the learned position grid's image
        side = math.isqrt(positions) * patch * merge
        return n, VisionSpec(
            hidden_size=hv,
            num_layers=layers,
            intermediate_size=inter,
            num_heads=heads,
            image_size=side,
            patch_size=patch,
        )
    # The processor's largest image (its family supplies the side), run as vLLM runs this ViT.
    return n, VisionSpec(
        hidden_size=hv,
        num_layers=layers,
        intermediate_size=inter,
        num_heads=heads,
        image_size=_int(vc, mt, "image_size"),
        patch_size=patch,
        encoder="qwen3_vl",
        merge_size=merge,
        temporal_patch_size=temporal,
        in_channels=channels,
        output_width=out * (1 + deepstack),  # the main merger's output and one per deepstack merger
        deepstack_levels=deepstack,
    )


def _qwen3_omni_audio(ac: Mapping[str, Any], mt: str) -> int:
    """Qwen3-Omni's audio encoder: three stride-2 Conv2d (biased, kernel 3) over the mel frames, a
    bias-free linear from the flattened conv features to ``d_model``, sinusoidal positions (a buffer),
    LayerNorm blocks with biased q/k/v/out and fc1/fc2, a post-LayerNorm, then proj1 (d_model) and
    proj2 (``output_dim``), both biased."""
    d, layers = _int(ac, mt, "d_model"), _int(ac, mt, "encoder_layers")
    ffn, mels, out = _int(ac, mt, "encoder_ffn_dim"), _int(ac, mt, "num_mel_bins"), _int(ac, mt, "output_dim")
    down = _int(ac, mt, "downsample_hidden_size")
    freq = (((mels + 1) // 2 + 1) // 2 + 1) // 2  # mel bins left after three stride-2 convs
    convs = (9 * down + down) + 2 * (9 * down * down + down)
    block = 4 * _linear(d, d, True) + 2 * 2 * d + _linear(d, ffn, True) + _linear(ffn, d, True)
    return convs + down * freq * d + layers * block + 2 * d + _linear(d, d, True) + _linear(d, out, True)


def _qwen3_omni(top: Mapping[str, Any], vc: Mapping[str, Any], model_type: str, text_hidden: int) -> Tower:
    """Qwen3-Omni's thinker: the Qwen3-VL ViT with deepstack mergers and its own audio encoder."""
    n, spec = qwen3_vit(vc, f"{model_type} vision_config")
    return n + _qwen3_omni_audio(_audio_config(top, model_type), f"{model_type} audio_config"), spec


def _granite_docling(top: Mapping[str, Any], vc: Mapping[str, Any], model_type: str, text_hidden: int) -> Tower:
    """Granite-Docling: a SigLIP encoder and a connector with a coarse (``scale_factor``) and, with
    ``use_fine_route``, a fine (half the factor) pixel-shuffle path, each a bias-free projection to
    ``out_hidden_size`` and one DeepStack merger per ``deepstack_visual_indexes`` entry (LayerNorm,
    two biased linears); shared LayerNorms in/mid/out and a bias-free fc2; an optional density router."""
    mt = f"{model_type} vision_config"
    hv, layers = _int(vc, mt, "hidden_size"), _int(vc, mt, "num_hidden_layers")
    inter, heads = _int(vc, mt, "intermediate_size"), _int(vc, mt, "num_attention_heads")
    image, patch = _int(vc, mt, "image_size"), _int(vc, mt, "patch_size")
    channels, out = _int(vc, mt, "num_channels", 3), _int(vc, mt, "out_hidden_size")
    scale = _int(vc, mt, "scale_factor")
    n = _siglip_body(hv, layers, inter, channels, patch, (image // patch) ** 2)
    n += 2 * hv + 2 * out + out * out + 2 * out  # ln_in, ln_mid, mlp_fc2, ln_out
    deepstack = len(vc.get("deepstack_visual_indexes") or ())
    for factor in (scale, scale // 2) if vc.get("use_fine_route") else (scale,):
        merged = hv * factor * factor
        n += merged * out + deepstack * (2 * merged + _linear(merged, out, True) + _linear(out, out, True))
    router = top.get("density_router_hidden_size")
    if router is not None:
        width = _int(top, model_type, "density_router_hidden_size")
        n += _linear(hv, 1, True) + 2 * hv + _linear(hv, width, True) + _linear(width, 1, True)
    return n, VisionSpec(
        hidden_size=hv, num_layers=layers, intermediate_size=inter, num_heads=heads, image_size=image, patch_size=patch
    )


def _molmo2(top: Mapping[str, Any], vc: Mapping[str, Any], model_type: str, text_hidden: int) -> Tower:
    """Molmo2: a SigLIP-2-style ViT (linear patch embedding, learned positions, no final norm) and an
    adapter: one attention layer pooling the concatenated ``vision_feature_layer`` features, then a
    SwiGLU projector to the adapter's ``text_hidden_size``."""
    text = top.get("text_config") or {}
    if text.get("qk_norm_type", "qwen3") != "qwen3":
        raise NotModelled(f"vram does not model {model_type}'s q/k norms over all heads (qk_norm_type 'olmo').")
    mt = f"{model_type} vision_config"
    hv, layers = _int(vc, mt, "hidden_size"), _int(vc, mt, "num_hidden_layers")
    inter, heads = _int(vc, mt, "intermediate_size"), _int(vc, mt, "num_attention_heads")
    kv_heads, hd = _int(vc, mt, "num_key_value_heads", heads), _int(vc, mt, "head_dim", hv // heads)
    patch, channels = _int(vc, mt, "patch_size"), _int(vc, mt, "num_channels", 3)
    positions, bias = _int(vc, mt, "num_position_embeddings"), bool(vc.get("attention_bias"))

    def attention(width: int, out: int, heads: int, kv_heads: int, hd: int, bias: bool) -> int:
        return (
            _linear(width, heads * hd, bias) + 2 * _linear(width, kv_heads * hd, bias) + _linear(heads * hd, out, bias)
        )

    block = (
        2 * 2 * hv + attention(hv, hv, heads, kv_heads, hd, bias) + _linear(hv, inter, True) + _linear(inter, hv, True)
    )
    n = _linear(patch * patch * channels, hv, True) + positions * hv + layers * block
    ac = top.get("adapter_config")
    if not isinstance(ac, Mapping):
        raise ConfigError(f"{model_type} config lacks adapter_config; vram needs it to size the adapter.")
    at = f"{model_type} adapter_config"
    ah, a_inter = _int(ac, at, "hidden_size"), _int(ac, at, "intermediate_size")
    a_heads = _int(ac, at, "num_attention_heads")
    a_kv, a_hd = _int(ac, at, "num_key_value_heads", a_heads), _int(ac, at, "head_dim", ah // a_heads)
    pooled = ah * len(ac.get("vision_feature_layer") or ())
    n += attention(pooled, ah, a_heads, a_kv, a_hd, bool(ac.get("attention_bias")))
    n += 2 * _linear(ah, a_inter, bool(ac.get("mlp_bias"))) + a_inter * _int(ac, at, "text_hidden_size")
    size = vc.get("image_size")
    image = int(size[0]) if isinstance(size, list | tuple) and size else _int(vc, mt, "image_size")
    return n, VisionSpec(
        hidden_size=hv, num_layers=layers, intermediate_size=inter, num_heads=heads, image_size=image, patch_size=patch
    )


def _sub(top: Mapping[str, Any], model_type: str, key: str) -> Mapping[str, Any]:
    sub = top.get(key)
    if not isinstance(sub, Mapping):
        raise ConfigError(f"{model_type} config lacks {key}; vram needs it to size the model's encoders.")
    return sub


def _siglip_head(hv: int, inter: int) -> int:
    """SigLIP's attention-pooling head: a probe, a biased MultiheadAttention, a LayerNorm and an MLP."""
    return (
        hv + 3 * hv * hv + 3 * hv + _linear(hv, hv, True) + 2 * hv + _linear(hv, inter, True) + _linear(inter, hv, True)
    )


def _conformer_audio(ac: Mapping[str, Any], mt: str) -> int:
    """Phi-4-multimodal's Conformer audio encoder: a NeMo-style convolutional subsampling (a 3x3 conv,
    then depthwise-separable 3x3 pairs to ``time_reduction``), a relative-position bias table, and
    ``num_blocks`` Conformer layers (two half-step biased SwiGLU feed-forwards with LayerNorms,
    biased attention, a GLU convolution module, two LayerNorms)."""
    h, blocks = _int(ac, mt, "hidden_size"), _int(ac, mt, "num_blocks")
    inter, heads = _int(ac, mt, "intermediate_size"), _int(ac, mt, "num_attention_heads")
    channels, final = _int(ac, mt, "nemo_conv_channels"), _int(ac, mt, "nemo_final_size")
    reduction, kernel = _int(ac, mt, "time_reduction"), _int(ac, mt, "kernel_size")
    ext, mult = _int(ac, mt, "ext_pw_out_channel"), _int(ac, mt, "depthwise_multiplier")
    dw_out = _int(ac, mt, "depthwise_separable_out_channel")
    if reduction < 2 or reduction & (reduction - 1):
        raise ConfigError(f"{mt} has time_reduction={reduction}; vram needs a power of two of at least 2.")
    n = 9 * channels + channels  # Conv2d(1, C, 3)
    n += (reduction.bit_length() - 2) * (9 * channels + channels + _linear(channels, channels, True))
    n += _linear(channels * final, h, True)
    buckets = _int(ac, mt, "bias_max_distance") * (1 if ac.get("bias_symmetric") else 2)
    n += buckets * heads
    ffn = 2 * h + _linear(h, 2 * inter, True) + _linear(inter, h, True)
    conv = 2 * h + _linear(h, 2 * ext, True) + 2 * ext  # LayerNorm, GLU point-wise conv and its b1/b2
    conv += h * mult * kernel + h * mult + _linear(h * mult, dw_out, True)  # depthwise, point-wise
    conv += _linear(h, ext, True)
    n += blocks * (2 * ffn + 4 * _linear(h, h, True) + conv + 2 * 2 * h)
    return n


def _phi4_multimodal(top: Mapping[str, Any], vc: Mapping[str, Any], model_type: str, text_hidden: int) -> Tower:
    """Phi-4-multimodal: a SigLIP encoder with its pooling head and a two-linear projection (plus the
    global / sub-image separator vectors); the Conformer audio encoder and its two two-linear
    projections (speech, vision-speech)."""
    mt = f"{model_type} vision_config"
    hv, layers = _int(vc, mt, "hidden_size"), _int(vc, mt, "num_hidden_layers")
    inter, heads = _int(vc, mt, "intermediate_size"), _int(vc, mt, "num_attention_heads")
    image, patch = _int(vc, mt, "image_size"), _int(vc, mt, "patch_size")
    channels = _int(vc, mt, "num_channels", 3)
    n = _siglip_body(hv, layers, inter, channels, patch, (image // patch) ** 2) + _siglip_head(hv, inter)
    n += _linear(hv, text_hidden, True) + _linear(text_hidden, text_hidden, True) + 2 * hv
    at = f"{model_type} audio_config"
    ac = _sub(top, model_type, "audio_config")
    width = _int(ac, at, "hidden_size") * _int(ac, at, "downsample_rate")
    n += _conformer_audio(ac, at) + 2 * (_linear(width, text_hidden, True) + _linear(text_hidden, text_hidden, True))
    return n, VisionSpec(
        hidden_size=hv, num_layers=layers, intermediate_size=inter, num_heads=heads, image_size=image, patch_size=patch
    )


def _minimax_m3_vl(top: Mapping[str, Any], vc: Mapping[str, Any], model_type: str, text_hidden: int) -> Tower:
    """MiniMax-M3-VL: a CLIP-like ViT (bias-free Conv3d patches, a pre-LayerNorm, LayerNorm blocks with
    biased attention and fc1/fc2) and a projector: a GELU MLP per patch to the text width, then one
    over ``spatial_merge_size``^2 patches (``merged_hidden_size`` wide) to the text width."""
    mt = f"{model_type} vision_config"
    hv, layers = _int(vc, mt, "hidden_size"), _int(vc, mt, "num_hidden_layers")
    inter, heads = _int(vc, mt, "intermediate_size"), _int(vc, mt, "num_attention_heads")
    patch, temporal = _int(vc, mt, "patch_size"), _int(vc, mt, "temporal_patch_size")
    channels, image = _int(vc, mt, "num_channels", 3), _int(vc, mt, "image_size")
    width, merged = _int(top, model_type, "projector_hidden_size"), _int(top, model_type, "merged_hidden_size")
    block = 2 * 2 * hv + 4 * _linear(hv, hv, True) + _linear(hv, inter, True) + _linear(inter, hv, True)
    n = channels * temporal * patch * patch * hv + 2 * hv + layers * block
    n += _linear(hv, width, True) + _linear(merged, width, True) + 2 * _linear(width, text_hidden, True)
    return n, VisionSpec(
        hidden_size=hv, num_layers=layers, intermediate_size=inter, num_heads=heads, image_size=image, patch_size=patch
    )


def _hy_v4_vl(top: Mapping[str, Any], vc: Mapping[str, Any], model_type: str, text_hidden: int) -> Tower:
    """HY-V4-VL: a ViT with a biased patch conv, learned positions over ``max_image_size`` (plus a
    class row), LayerNorm blocks with biased attention and fc1/fc2, and a patch merger (RMSNorm, a
    ``spatial_merge_size`` conv to ``hidden x merge^2``, a 1x1 conv to ``out_hidden_size``, an
    image-newline vector)."""
    mt = f"{model_type} vision_config"
    hv, layers = _int(vc, mt, "hidden_size"), _int(vc, mt, "num_hidden_layers")
    inter, heads = _int(vc, mt, "intermediate_size"), _int(vc, mt, "num_attention_heads")
    patch, channels = _int(vc, mt, "patch_size"), _int(vc, mt, "num_channels", 3)
    image, out = _int(vc, mt, "max_image_size"), _int(vc, mt, "out_hidden_size")
    merge = _int(vc, mt, "spatial_merge_size")
    hd = _int(vc, mt, "head_dim", hv // heads)
    block = 2 * 2 * hv + 3 * _linear(hv, heads * hd, True) + _linear(heads * hd, hv, True)
    block += _linear(hv, inter, True) + _linear(inter, hv, True)
    n = channels * patch * patch * hv + hv + ((image // patch) ** 2 + 1) * hv + layers * block
    merged = hv * merge * merge
    n += hv + hv * merge * merge * merged + merged + _linear(merged, out, True) + out
    return n, VisionSpec(
        hidden_size=hv, num_layers=layers, intermediate_size=inter, num_heads=heads, image_size=image, patch_size=patch
    )


def _lfm3_vl(top: Mapping[str, Any], vc: Mapping[str, Any], model_type: str, text_hidden: int) -> Tower:
    """LFM3-VL: a ViT of RMSNorm layers that are either attention (GQA, per-head q/k norms) or a gated
    depthwise 2-D convolution (``layer_types``), each with a SwiGLU MLP, all bias-free, over a linear
    patch embedding and an RMSNorm; a projector merging ``spatial_merge_size``^2 tokens (LayerNorm,
    two linears, biased per ``projector_bias``)."""
    mt = f"{model_type} vision_config"
    hv, layers = _int(vc, mt, "hidden_size"), _int(vc, mt, "num_hidden_layers")
    inter, heads = _int(vc, mt, "intermediate_size"), _int(vc, mt, "num_attention_heads")
    kv_heads, kernel = _int(vc, mt, "num_key_value_heads", heads), _int(vc, mt, "conv_kernel_size")
    patch, temporal = _int(vc, mt, "patch_size"), _int(vc, mt, "temporal_patch_size")
    channels, merge = _int(vc, mt, "in_channels"), _int(vc, mt, "spatial_merge_size")
    types = vc.get("layer_types") or ()
    if len(types) != layers or any(t not in ("conv", "full_attention") for t in types):
        raise NotModelled(f"vram does not model {model_type}'s vision layer types {sorted({str(t) for t in types})}.")
    hd = hv // heads
    attention = 2 * hv * heads * hd + 2 * hv * kv_heads * hd + 2 * hd
    conv = 3 * hv * hv + hv * kernel * kernel + hv * hv
    n = channels * temporal * patch * patch * hv + hv
    n += layers * (2 * hv + 3 * hv * inter) + sum(conv if t == "conv" else attention for t in types)
    width, bias = _int(top, model_type, "projector_hidden_size"), bool(top.get("projector_bias"))
    merged = hv * merge * merge
    n += 2 * hv + _linear(merged, width, bias) + _linear(width, text_hidden, bias)
    # The Qwen2-VL image processor's default most pixels per image (12,845,056 = 3584 x 3584).
    return n, VisionSpec(
        hidden_size=hv, num_layers=layers, intermediate_size=inter, num_heads=heads, image_size=3584, patch_size=patch
    )


def _clip_body(hv: int, layers: int, inter: int, channels: int, patch: int, patches: int) -> int:
    """A CLIP vision transformer: a class token, a bias-free patch conv, positions for the patches and
    the class token, pre- and post-LayerNorms, LayerNorm blocks with biased attention and fc1/fc2."""
    block = 2 * 2 * hv + 4 * _linear(hv, hv, True) + _linear(hv, inter, True) + _linear(inter, hv, True)
    return hv + channels * patch * patch * hv + (patches + 1) * hv + 2 * 2 * hv + layers * block


def _git(top: Mapping[str, Any], vc: Mapping[str, Any], model_type: str, text_hidden: int) -> Tower:
    """GIT: a CLIP image encoder, a visual projection (biased linear, LayerNorm) and, with
    ``num_image_with_embedding``, one temporal embedding vector per image."""
    mt = f"{model_type} vision_config"
    hv, layers = _int(vc, mt, "hidden_size"), _int(vc, mt, "num_hidden_layers")
    inter, heads = _int(vc, mt, "intermediate_size"), _int(vc, mt, "num_attention_heads")
    image, patch = _int(vc, mt, "image_size"), _int(vc, mt, "patch_size")
    n = _clip_body(hv, layers, inter, _int(vc, mt, "num_channels", 3), patch, (image // patch) ** 2)
    n += _linear(hv, text_hidden, True) + 2 * text_hidden
    n += _int(top, model_type, "num_image_with_embedding", 0) * hv
    return n, VisionSpec(
        hidden_size=hv, num_layers=layers, intermediate_size=inter, num_heads=heads, image_size=image, patch_size=patch
    )


def _kosmos_projection(top: Mapping[str, Any], hv: int, model_type: str, text_hidden: int) -> int:
    """Kosmos-2 / 2.5's image-to-text projection: a biased dense to the text width, ``latent_query_num``
    learned queries and one biased cross-attention (q/k/v/out) over them."""
    latents = _int(top, model_type, "latent_query_num")
    return _linear(hv, text_hidden, True) + latents * text_hidden + 4 * _linear(text_hidden, text_hidden, True)


def _kosmos2(top: Mapping[str, Any], vc: Mapping[str, Any], model_type: str, text_hidden: int) -> Tower:
    """Kosmos-2: a CLIP image encoder and the latent-query projection."""
    mt = f"{model_type} vision_config"
    hv, layers = _int(vc, mt, "hidden_size"), _int(vc, mt, "num_hidden_layers")
    inter, heads = _int(vc, mt, "intermediate_size"), _int(vc, mt, "num_attention_heads")
    image, patch = _int(vc, mt, "image_size"), _int(vc, mt, "patch_size")
    n = _clip_body(hv, layers, inter, _int(vc, mt, "num_channels", 3), patch, (image // patch) ** 2)
    n += _kosmos_projection(top, hv, model_type, text_hidden)
    return n, VisionSpec(
        hidden_size=hv, num_layers=layers, intermediate_size=inter, num_heads=heads, image_size=image, patch_size=patch
    )


def _kosmos25(top: Mapping[str, Any], vc: Mapping[str, Any], model_type: str, text_hidden: int) -> Tower:
    """Kosmos-2.5: a Pix2Struct-style encoder (a biased linear patch projection, row and column
    embeddings of ``max_num_patches``, T5 LayerNorms, bias-free attention and gated MLP, a final
    norm) and the latent-query projection."""
    mt = f"{model_type} vision_config"
    hv, layers = _int(vc, mt, "hidden_size"), _int(vc, mt, "num_hidden_layers")
    inter, heads = _int(vc, mt, "intermediate_size"), _int(vc, mt, "num_attention_heads")
    hd, patches = _int(vc, mt, "head_dim"), _int(vc, mt, "max_num_patches")
    n = _linear(_int(vc, mt, "patch_embed_hidden_size"), hv, True) + 2 * patches * hv
    n += layers * (2 * hv + 4 * hv * heads * hd + 3 * hv * inter) + hv
    n += _kosmos_projection(top, hv, model_type, text_hidden)
    # Flattened RGB patches of patch_embed_hidden_size values; at most max_num_patches of them, as a square.
    patch = math.isqrt(_int(vc, mt, "patch_embed_hidden_size") // 3)
    side = math.isqrt(patches) * patch
    return n, VisionSpec(
        hidden_size=hv, num_layers=layers, intermediate_size=inter, num_heads=heads, image_size=side, patch_size=patch
    )


def _idefics(top: Mapping[str, Any], vc: Mapping[str, Any], model_type: str, text_hidden: int) -> Tower:
    """IDEFICS: a CLIP image encoder and, with ``use_resampler``, a Perceiver resampler (learned latents,
    LayerNormed bias-free cross-attention and MLP blocks, a final LayerNorm)."""
    mt = f"{model_type} vision_config"
    hv, layers = _int(vc, mt, "embed_dim"), _int(vc, mt, "num_hidden_layers")
    inter, heads = _int(vc, mt, "intermediate_size"), _int(vc, mt, "num_attention_heads")
    image, patch = _int(vc, mt, "image_size"), _int(vc, mt, "patch_size")
    n = _clip_body(hv, layers, inter, _int(vc, mt, "num_channels", 3), patch, (image // patch) ** 2)
    if top.get("use_resampler"):
        pc, pt = _sub(top, model_type, "perceiver_config"), f"{model_type} perceiver_config"
        depth, width = (
            _int(pc, pt, "resampler_depth"),
            _int(pc, pt, "resampler_n_heads") * _int(pc, pt, "resampler_head_dim"),
        )
        qk_norms = 2 * 2 * _int(pc, pt, "resampler_head_dim") if pc.get("qk_layer_norms_perceiver") else 0
        attention = 2 * 2 * hv + qk_norms + 3 * hv * width + width * hv
        mlp = 2 * hv + 2 * hv * (4 * hv)
        n += _int(pc, pt, "resampler_n_latents") * hv + depth * (attention + mlp) + 2 * hv
    return n, VisionSpec(
        hidden_size=hv, num_layers=layers, intermediate_size=inter, num_heads=heads, image_size=image, patch_size=patch
    )


def _idefics_text(c: Counts, cfg: Mapping[str, Any], top: Mapping[str, Any], model_type: str) -> None:
    """IDEFICS' text side beyond its Llama layers: a gated cross-attention layer (to the image
    encoder's width) every ``cross_layer_interval`` layers, with its SwiGLU MLP, two RMSNorms and two
    tanh gates (``alpha_type`` float or vector), and ``additional_vocab_size`` extra embedding and
    output rows. The cross-attention reads the image features anew each step: no cache."""
    h, heads = _int(cfg, model_type, "hidden_size"), _int(cfg, model_type, "num_attention_heads")
    layers, inter = _int(cfg, model_type, "num_hidden_layers"), _int(cfg, model_type, "intermediate_size")
    interval = _int(cfg, model_type, "cross_layer_interval", 1)
    if interval < 1:
        raise ConfigError(f"{model_type} has cross_layer_interval={interval}; vram needs at least 1.")
    width = _int(_sub(top, model_type, "vision_config"), f"{model_type} vision_config", "embed_dim")
    n = layers // interval
    c.linear("attention", h, h, "column", n)
    c.linear("attention", width, h, "kv", 2 * n)
    c.linear("attention", h, h, "row", n)
    if cfg.get("qk_layer_norms"):
        c.add("attention", n * 2 * (h // heads))
    c.linear("dense_mlp", h, inter, "column", 2 * n)
    c.linear("dense_mlp", inter, h, "row", n)
    c.add("norms", n * 2 * h)
    alpha = cfg.get("alpha_type", "float")
    if alpha not in ("float", "vector"):
        raise ConfigError(f"{model_type} has alpha_type={alpha!r}; vram knows 'float' and 'vector'.")
    c.add("other", n * 2 * (h if alpha == "vector" else 1))
    extra = _int(cfg, model_type, "additional_vocab_size", 0)
    if extra:
        c.add("embedding", extra * h)
        c.linear("lm_head", h, extra, "vocab")


_TEXT_EXTRAS: Mapping[str, Callable[[Counts, Mapping[str, Any], Mapping[str, Any], str], None]] = {
    "idefics": _idefics_text,
}


def text_extras(c: Counts, model_type: str, cfg: Mapping[str, Any], top: Mapping[str, Any]) -> None:
    """Text-side tensors of an own-tower type beyond its text family's layers (none for most)."""
    if model_type in _TEXT_EXTRAS:
        _TEXT_EXTRAS[model_type](c, cfg, top, model_type)


_TOWERS: Mapping[str, Callable[[Mapping[str, Any], Mapping[str, Any], str, int], Tower]] = {
    "glm4v": _glm_vision,  # GLM-4.1V-9B-Thinking
    "glm46v": _glm_vision,  # GLM-4.6V-Flash
    "glmga": _glm_vision,
    "glm4v_moe": _glm_vision,  # GLM-4.5V
    "glm_ocr": _glm_vision,  # GLM-OCR
    "paddleocr_vl": _paddleocr_vision,  # PaddleOCR-VL
    "qwen2_5_omni_thinker": _qwen25_omni,  # Qwen2.5-Omni-7B's thinker
    "qwen3_omni_moe_thinker": _qwen3_omni,  # Qwen3-Omni-30B-A3B's thinker
    "granite_docling": _granite_docling,  # granite-docling-258M
    "molmo2": _molmo2,  # Molmo2-8B
    "phi4_multimodal": _phi4_multimodal,  # Phi-4-multimodal-instruct
    "minimax_m3_vl": _minimax_m3_vl,  # MiniMax-M3-VL
    "hy_v4_vl": _hy_v4_vl,  # HY-V4-VL
    "lfm3_vl": _lfm3_vl,  # LFM3-VL
    "git": _git,  # GIT-base
    "kosmos-2": _kosmos2,  # Kosmos-2-patch14-224
    "kosmos-2.5": _kosmos25,  # Kosmos-2.5
    "idefics": _idefics,  # IDEFICS-9B / 80B
}


def tower(model_type: str, top: Mapping[str, Any], vc: Mapping[str, Any], text_hidden: int) -> Tower:
    """The parameters and shape of ``model_type``'s own towers (``vc``: its vision_config, filled)."""
    build = _TOWERS.get(model_type) or stacks.TOWERS.get(model_type)
    if build is None:
        raise NotModelled(f"vram does not model the vision tower and projector of {model_type}.")
    return build(top, vc, model_type, text_hidden)
