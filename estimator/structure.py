"""Each decoder layer's cache geometry as a checkpoint's tensors show it.

The safetensors headers name every tensor and give its shape; the projections that feed the cache
say what a layer caches per token without any config reading:

- ``k_proj`` / ``v_proj`` (or a fused ``qkv_proj`` / ``query_key_value`` / ``Wqkv`` / ``c_attn``,
  less the query's ``heads x head_dim``): the key and value widths;
- MLA's ``kv_a_proj_with_mqa`` (latent + rope key, the latent's width from ``kv_a_layernorm``) and
  a DSA indexer's ``indexer.wk`` (its key width);
- a ``conv1d`` in a linear-attention or Mamba mixer: the channels and kernel of its fixed state.

:func:`check_layers` compares that with the config reading (``spec.layers``); where they disagree it
says so and takes the checkpoint's widths. Quantized projections (packed ``qweight``) are not read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from estimator.spec import LayerKV, TensorInfo

_LAYER = re.compile(r"^(?P<prefix>.*?)(?:layers|h|blocks)\.(?P<index>\d+)\.(?P<rest>.+)$")
_VISION = re.compile(r"vision|visual|vit\.|image_|audio|mm_projector|multi_modal")
_FLOAT = {"BF16", "F16", "F32", "F8_E4M3", "F8_E5M2"}
_FUSED = ("qkv_proj.weight", "query_key_value.weight", "Wqkv.weight", "c_attn.weight")


@dataclass(frozen=True)
class Observed:
    """What one layer's tensors say it caches (elements per token, and the fixed state's conv)."""

    kind: str  # "attention", "mla", "state"
    key: int = 0  # key elements per token, all heads
    value: int = 0  # value elements per token, all heads
    latent: int = 0  # MLA: kv_lora_rank
    rope: int = 0  # MLA: rope key width
    index: int = 0  # DSA: indexer key width
    conv_channels: int = 0
    conv_kernel: int = 0


def _shape(tensors: Mapping[str, TensorInfo], name: str) -> tuple[int, ...] | None:
    info = tensors.get(name)
    if info is None or info.dtype not in _FLOAT:
        return None
    return info.shape


def observe(tensors: Mapping[str, TensorInfo], *, hidden: int, q_width: int) -> dict[int, Observed]:
    """Per decoder-layer index, the cache geometry its tensors show (layers with none are left out).

    ``q_width`` is the query's output width (heads x head_dim), to split a fused qkv projection.
    """
    by_layer: dict[int, dict[str, str]] = {}
    for name in tensors:
        if _VISION.search(name):
            continue
        m = _LAYER.match(name)
        if m:
            by_layer.setdefault(int(m["index"]), {})[m["rest"]] = name
    out: dict[int, Observed] = {}
    for index, rests in by_layer.items():
        found = _observe_layer(tensors, rests, hidden, q_width)
        if found is not None:
            out[index] = found
    return out


def _find(rests: Mapping[str, str], suffix: str) -> str | None:
    for rest, name in rests.items():
        if rest == suffix or rest.endswith("." + suffix):
            return name
    return None


def _observe_layer(
    tensors: Mapping[str, TensorInfo], rests: Mapping[str, str], hidden: int, q_width: int
) -> Observed | None:
    kv_a = _find(rests, "kv_a_proj_with_mqa.weight")
    if kv_a is not None:
        shape, norm = _shape(tensors, kv_a), _find(rests, "kv_a_layernorm.weight")
        norm_shape = _shape(tensors, norm) if norm else None
        if shape is None or norm_shape is None:
            return None
        wk = _find(rests, "indexer.wk.weight")
        wk_shape = _shape(tensors, wk) if wk else None
        latent = norm_shape[0]
        return Observed(kind="mla", latent=latent, rope=shape[0] - latent, index=wk_shape[0] if wk_shape else 0)
    k, v = _find(rests, "k_proj.weight"), _find(rests, "v_proj.weight")
    # Cross-attention (Mllama) projects the image tokens, not the text: no per-token text cache.
    if k is not None and v is not None and "indexer" not in k and "cross_attn" not in k:
        ks, vs = _shape(tensors, k), _shape(tensors, v)
        if ks is None or vs is None:
            return None
        return Observed(kind="attention", key=ks[0], value=vs[0])
    for suffix in _FUSED:
        fused = _find(rests, suffix)
        if fused is not None:
            shape = _shape(tensors, fused)
            if shape is None or len(shape) != 2:
                return None
            # GPT-2's Conv1D stores [in, out]; every other fused projection [out, in].
            out_features = shape[1] if suffix == "c_attn.weight" else shape[0]
            kv = out_features - q_width
            if kv <= 0 or kv % 2:
                return None
            return Observed(kind="attention", key=kv // 2, value=kv // 2)
    conv = _find(rests, "conv1d.weight")
    if conv is not None:
        shape = _shape(tensors, conv)
        if shape is None or len(shape) != 3:
            return None
        return Observed(kind="state", conv_channels=shape[0], conv_kernel=shape[2])
    return None


def _expected(layer: LayerKV) -> Observed | None:
    if layer.kind == "mla":
        return Observed(kind="mla", latent=layer.key_dim, rope=layer.value_dim, index=layer.index_dim)
    if layer.kind in ("full", "sliding"):
        return Observed(kind="attention", key=layer.kv_heads * layer.key_dim, value=layer.kv_heads * layer.value_dim)
    if layer.kind == "state" and layer.conv_channels:
        return Observed(kind="state", conv_channels=layer.conv_channels, conv_kernel=layer.conv_kernel)
    return None


def _from_checkpoint(layer: LayerKV, seen: Observed, head_dim: int) -> LayerKV:
    """``layer`` with the checkpoint's widths (its window and state fields kept)."""
    if seen.kind == "mla":
        return layer.model_copy(
            update={
                "kind": "sliding" if layer.kind == "sliding" else "mla",
                "kv_heads": 1,
                "key_dim": seen.latent,
                "value_dim": seen.rope,
                "index_dim": seen.index,
            }
        )
    if seen.kind == "attention":
        heads = seen.key // head_dim if head_dim and seen.key % head_dim == 0 else 1
        kind = layer.kind if layer.kind in ("full", "sliding") else "full"
        return layer.model_copy(
            update={"kind": kind, "kv_heads": heads, "key_dim": seen.key // heads, "value_dim": seen.value // heads}
        )
    return layer.model_copy(update={"conv_channels": seen.conv_channels, "conv_kernel": seen.conv_kernel})


def check_layers(
    layers: tuple[LayerKV, ...],
    tensors: Mapping[str, TensorInfo],
    *,
    hidden: int,
    q_width: int,
    head_dim: int,
    model_type: str,
) -> tuple[tuple[LayerKV, ...], list[str], bool]:
    """The layers with the checkpoint's cache widths, the disagreements in words, and whether the
    checkpoint showed every layer's cache (so the geometry no longer rests on the config reading)."""
    seen = observe(tensors, hidden=hidden, q_width=q_width)
    if not seen:
        return layers, [], False
    out = list(layers)
    differ: list[int] = []
    for i, layer in enumerate(layers):
        got = seen.get(i)
        if got is None:
            continue
        want = _expected(layer)
        if got.kind == "mla" and layer.kind == "sliding":  # a latent over a window (dots.llm3's sliding layers)
            want = Observed(kind="mla", latent=layer.key_dim, rope=layer.value_dim, index=layer.index_dim)
        if (
            want is None
            or want.kind != got.kind
            or (got.kind == "state" and (want.conv_channels, want.conv_kernel) != (got.conv_channels, got.conv_kernel))
            or (got.kind != "state" and want != got)
        ):
            if got.kind == "state" and layer.kind != "state":
                continue  # a conv inside an attention layer (Falcon-H1) is checked with its state fields
            differ.append(i)
            out[i] = _from_checkpoint(layer, got, head_dim)
    notes = []
    if differ:
        shown = ", ".join(str(i) for i in differ[:6]) + (" ..." if len(differ) > 6 else "")
        notes.append(
            f"the checkpoint's tensors give {len(differ)} {model_type} layer(s) ({shown}) a different "
            "cache geometry from the config reading; vram uses the checkpoint's."
        )
    covered = all(i in seen for i, layer in enumerate(layers) if layer.kind != "none")
    return tuple(out), notes, covered
