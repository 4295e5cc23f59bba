"""The one place that decides dtypes: the model's, the KV cache's and the weights' bits.

Every engine takes these from :func:`resolve_dtypes`, so ``p=32`` and ``dtype=fp32`` mean the
same run whichever engine sizes it.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from estimator.spec import Frozen, KVDType, ModelSpec, TorchDType, WeightFormat

if TYPE_CHECKING:
    from estimator.query import KVSetting, Query

# The bits per weight each format stores: what ``p=`` must agree with, and the classic formula's p.
FORMAT_BITS: dict[WeightFormat, int] = {
    "bf16": 16,
    "fp16": 16,
    "fp32": 32,
    "fp8": 8,
    "int8": 8,
    "int4": 4,
    "nf4": 4,
    "mxfp4": 4,
    "nvfp4": 4,
    "awq": 4,
    "gptq": 4,
}


def model_dtype(spec: ModelSpec, weight_format: WeightFormat | None = None, bits: int | None = None) -> TorchDType:
    """The dtype the model runs in: a float ``dtype=`` (or ``p=32``/``p=16``) replaces the checkpoint's;
    quantized formats keep it.

    Both engines load ``dtype=fp32`` as ``torch_dtype=float32`` / ``--dtype float32``: activations and
    (with kv=on/auto) the KV cache follow it. ``p=16`` means the checkpoint's 16-bit dtype (bf16 for
    an fp32 checkpoint), as :mod:`estimator.weights` reads it.
    """
    return _dtypes(spec.torch_dtype, weight_format, bits, "on").model


def kv_dtype(
    spec: ModelSpec, kv: KVSetting, weight_format: WeightFormat | None = None, bits: int | None = None
) -> KVDType | None:
    """The KV cache dtype for the ``kv=`` setting: None when off, the model dtype for on/auto."""
    return _dtypes(spec.torch_dtype, weight_format, bits, kv).kv


class Dtypes(Frozen):
    """The dtypes of one query, decided once."""

    model: TorchDType  # activations, logits, and the KV cache with kv=on/auto
    kv: KVDType | None  # the KV cache's dtype; None with kv=off
    kv_layout: KVDType  # what a cache would hold even with kv=off (engines that always allocate one)


def resolve_dtypes(spec: ModelSpec, query: Query) -> Dtypes:
    """Model, KV and layout dtypes for a query, from the checkpoint and ``p=``/``dtype=``/``kv=``."""
    return _dtypes(spec.torch_dtype, query.weight_format, query.bits, query.kv)


@cache
def _dtypes(
    checkpoint: TorchDType, weight_format: WeightFormat | None, bits: int | None, kv_setting: KVSetting
) -> Dtypes:
    # Only the checkpoint's dtype matters of the spec; the engines ask many times per estimate.
    if weight_format in ("bf16", "fp16", "fp32"):
        model: TorchDType = weight_format
    elif weight_format is None and bits == 32:
        model = "fp32"
    elif weight_format is None and bits == 16 and checkpoint == "fp32":
        model = "bf16"
    else:
        model = checkpoint
    kv: KVDType | None
    if kv_setting == "off":
        kv = None
    elif kv_setting == "on" or kv_setting == "auto":
        kv = model
    else:
        kv = kv_setting
    return Dtypes(model=model, kv=kv, kv_layout=model if kv is None else kv)
