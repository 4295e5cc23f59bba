"""Vision (and audio) towers of image-text types whose tower is theirs alone.

Each builder returns the tower's parameters (encoder, merger / projector and any audio encoder, as
the model builds them from its config) and the :class:`VisionSpec` the engines read for the encoder
activations. The arithmetic follows the modeling code of each type in transformers; the numbers
are checked against the meta-device counts. Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from common.errors import ConfigError
from estimator.spec import VisionSpec

Tower = tuple[int, VisionSpec]


def _int(cfg: Mapping[str, Any], where: str, name: str, default: int | None = None) -> int:
    value = cfg.get(name)
    if value is None:
        if default is None:
            raise ConfigError(f"{where} lacks {name}; vram needs it to size the tower.")
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{where} has {name}={value!r}; vram needs a non-negative whole number.")
    return value


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


_TOWERS: Mapping[str, Callable[[Mapping[str, Any], Mapping[str, Any], str, int], Tower]] = {
    "glm4v": _glm_vision,  # GLM-4.1V-9B-Thinking
    "glm46v": _glm_vision,  # GLM-4.6V-Flash
    "glmga": _glm_vision,
    "glm4v_moe": _glm_vision,  # GLM-4.5V
    "glm_ocr": _glm_vision,  # GLM-OCR
}


def tower(model_type: str, top: Mapping[str, Any], vc: Mapping[str, Any], text_hidden: int) -> Tower:
    """The parameters and shape of ``model_type``'s own towers (``vc``: its vision_config, filled)."""
    return _TOWERS[model_type](top, vc, model_type, text_hidden)
