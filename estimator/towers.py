"""Vision (and audio) towers and multimodal projectors of image-text types, counted from their configs.

Each tower kind is counted once from its ``vision_config`` (keyed by that config's ``model_type``) and
reused by every image-text type that carries it; each projector is keyed by the type's
:data:`~estimator.families.Vision` value. The arithmetic follows the modules transformers builds
(the counts equal the meta-device parameter counts). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from common.errors import ConfigError
from estimator.spec import VisionSpec

_MISSING = object()


class UnknownTower(ConfigError):
    """A tower or projector layout this module does not count."""


def _i(cfg: Mapping[str, Any], where: str, name: str, default: Any = _MISSING) -> int:
    value = cfg.get(name)
    if value is None:
        if default is _MISSING:
            raise ConfigError(f"{where} lacks {name}; vram needs it to size the vision tower.")
        return int(default)
    if isinstance(value, list | tuple) and value:
        value = value[0]  # [height, width] pairs: square images and patches are what configs use
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value or value < 0:
        raise ConfigError(f"{where} has {name}={value!r}; expected a whole number.")
    return int(value)


def _lin(i: int, o: int, bias: bool = True) -> int:
    return i * o + (o if bias else 0)


def _ln(d: int, bias: bool = True) -> int:
    return d * (2 if bias else 1)


def _conv(c_in: int, c_out: int, k: int, bias: bool = True) -> int:
    return c_in * c_out * k * k + (c_out if bias else 0)


class Tower:
    """A tower's parameter count and the geometry its activation estimate reads."""

    def __init__(self, n: int, hidden: int, layers: int, inter: int, heads: int, image: int, patch: int) -> None:
        self.n = n
        self.spec = VisionSpec(
            hidden_size=hidden,
            num_layers=layers,
            intermediate_size=inter,
            num_heads=heads,
            image_size=image,
            patch_size=patch,
        )


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
    globals_ = set(vc.get("global_attn_indexes") or ())
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
    return Tower(n, h, layers, mlp, heads, image, patch)


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
    return Tower(n, h, layers, inter, heads, image, patch)


TOWERS: Mapping[str, Callable[[Mapping[str, Any], str], Tower]] = {
    "got_ocr2_vision": _sam_vit,
    "pp_chart2table_vision": _sam_vit,
    "blip_2_vision_model": _blip_vit,
    "instructblip_vision_model": _blip_vit,
    "instructblipvideo_vision_model": _blip_vit,
}


def tower(vc: Mapping[str, Any], where: str) -> Tower:
    """The tower its ``vision_config`` describes."""
    kind = str(vc.get("model_type") or "")
    build = TOWERS.get(kind)
    if build is None:
        raise UnknownTower(f"{where}: vision tower {kind or '(unnamed)'} is not modelled.")
    return build(vc, where)


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
    embeds = str(qc.get("model_type")) != "blip_2_qformer"
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


PROJECTORS: Mapping[str, Callable[[Mapping[str, Any], int, str], int]] = {
    "blip2": _qformer,
    "got_ocr2": _got_ocr2,
}


def vision_params(kind: str, model_type: str, top: Mapping[str, Any], text_hidden: int) -> tuple[int, VisionSpec]:
    """The parameters of ``kind``'s towers and projector (``top`` is the whole filled config)."""
    where = f"{model_type} vision_config"
    vc = top.get("vision_config")
    if not isinstance(vc, Mapping):
        raise UnknownTower(f"{model_type} config has no vision_config, so vram cannot size its vision tower.")
    t = tower(vc, where)
    return t.n + PROJECTORS[kind](top, text_hidden, model_type), t.spec
