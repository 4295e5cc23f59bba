"""``method=classic``: the original calculator's six lines, to the digit.

Kept for comparison only (see interface.md): its KV term uses h/g where g x head_dim belongs,
its activation terms describe a single layer, and GQA does not really shrink attention scores.
GB here is 10^9 bytes, and every term is rounded with Python's ``round(x, 2)`` as the original did.
"""

from __future__ import annotations

from estimator.result import Classic

GB = 10**9


def classic(
    *,
    n_billions: float,
    bits: int,
    seq_len: int,
    batch: int,
    hidden: int,
    heads: int,
    kv_heads: int | None,
    layers: int,
    flash_attention: bool,
    kv_cache: bool,
) -> Classic:
    """The six numbers of the original calculator for these inputs."""
    s, b, h, a, g, L = seq_len, batch, hidden, heads, kv_heads or 0, layers
    gqa = 0 < g != a
    model = round(n_billions * bits / 8, 2)
    vanilla = round((32 * s * b * h + 4 * a * s * s * b) * 2 / GB, 2)
    gqa_act = round((28 * s * b * h + (2 * g / a) * s * b * h + 4 * g * s * s * b) * 2 / GB, 2) if gqa else None
    flash = round((32 * s * b * h + 4 * 128 * s * b) * 2 / GB, 2)
    if not kv_cache:
        kv = 0.0
    elif gqa:
        kv = round(2 * L * s * b * (h / g) * 2 / GB, 2)
    else:
        kv = round(2 * L * s * b * h * 2 / GB, 2)
    if flash_attention:
        activations = flash
    elif gqa_act is not None:
        activations = gqa_act
    else:
        activations = vanilla
    total = round(model + kv + activations, 2)
    return Classic(model_gb=model, vanilla_gb=vanilla, gqa_gb=gqa_act, flash_gb=flash, kv_cache_gb=kv, total_gb=total)


def classic_lines(result: Classic, *, gqa: bool) -> list[str]:
    """The six lines the original calculator printed."""
    gqa_line = (
        f"{result.gqa_gb} GB"
        if result.gqa_gb is not None
        else "not applicable (the model has as many KV heads as query heads)"
    )
    kv_label = "the KV cache (with GQA)" if gqa else "the KV cache"
    return [
        f"Memory consumption of the model: {result.model_gb} GB",
        f"Memory consumption of vanilla inference: {result.vanilla_gb} GB",
        f"Memory consumption of inference with GQA: {gqa_line}",
        f"Memory consumption of inference with FlashAttention: {result.flash_gb} GB",
        f"Memory consumption of {kv_label}: {result.kv_cache_gb} GB",
        f"Total Memory consumption (given the selected configuration): {result.total_gb} GB",
    ]
