"""KV cache bytes: per token and for ``batch`` sequences, as each engine allocates them.

Pure arithmetic over ``spec.layers`` (see :func:`estimator.config.load_model_spec`):

- full / sliding GQA layers cache ``kv_heads x (key_dim + value_dim)`` per token; with tensor
  parallelism the busiest GPU holds ``ceil(kv_heads / gpus)`` heads (replicated where gpus > heads;
  where gpus does not divide the heads, some GPU holds the rounded-up share);
- MLA layers cache one latent (``kv_lora_rank``) plus the rope key (``qk_rope_head_dim``) per
  token, the same on every GPU (not split);
- DSA layers (MLA with a lightning indexer) also cache the indexer's key (``index_dim``) per token;
- DeepSeek-V4's compressed layers keep, beside a sliding window, one compressed entry per
  ``compress_rate`` tokens, the unfinished window's tokens and an overlap (not split across GPUs);
- state layers (Mamba, gated DeltaNet, Kimi Delta Attention, short convolutions) hold a fixed state
  per sequence, whatever the length, split across GPUs
  with the mixer's channels: transformers 5.17 keeps a conv window of ``d_conv`` in the model
  dtype and the SSM state in fp32 (seen on a GPU); vLLM keeps ``d_conv - 1`` and the model dtype.

Sliding layers: transformers' ``DynamicSlidingWindowLayer`` keeps at most ``window - 1`` tokens
(engine-notes.md). vLLM allocates in blocks of 16 tokens; a sliding layer keeps the blocks that
cover the last ``window - 1`` tokens plus the block being written.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from estimator.arith import ceil_div as _cdiv
from estimator.spec import DTYPE_BYTES, KVDType, LayerKV, ModelSpec

VLLM_BLOCK_SIZE = 16

# How an engine lays its cache out (each engine declares its own, see ``Engine.cache_layout``):
# contiguous: per-token tensors as long as the sequence, a sliding window keeps ``window - 1`` tokens,
# the conv state keeps ``d_conv`` columns and the recurrent state its own dtype (transformers);
# paged: blocks of VLLM_BLOCK_SIZE tokens, ``d_conv - 1`` conv columns, states in the model dtype (vLLM).
CacheLayout = Literal["contiguous", "paged"]


# vLLM's quantized KV layouts (v1/kv_cache_interface.py, utils/torch_utils.py@v0.20.0..v0.33.0):
# nvfp4 keeps each head's K (and V) as FP4 values two per byte plus one FP8 scale per 16 elements
# (``nvfp4_kv_cache_full_dim`` = head_size // 2 + head_size // 16); int8_per_token_head keeps int8
# values plus one fp32 scale per token and head for K and one for V (``AttentionSpec.page_size_bytes``:
# 2 x block_size x num_kv_heads x 4).
_PER_TOKEN_HEAD_SCALE_BYTES = 4


def head_token_bytes(kv_dtype: KVDType, key_dim: int, value_dim: int) -> int:
    """Bytes one cached head holds per token (its key and value, with their scales)."""
    if kv_dtype == "nvfp4":
        return key_dim // 2 + key_dim // 16 + value_dim // 2 + value_dim // 16
    if kv_dtype == "int8_per_token_head":
        return key_dim + value_dim + 2 * _PER_TOKEN_HEAD_SCALE_BYTES
    return (key_dim + value_dim) * DTYPE_BYTES[kv_dtype]


def element_bytes(kv_dtype: KVDType) -> int:
    """Bytes per element of the plain dtypes; the quantized layouts' values are stored in one byte."""
    return DTYPE_BYTES.get(kv_dtype, 1)


def _heads_per_gpu(layer: LayerKV, gpus: int) -> int:
    if layer.kind == "mla":
        return layer.kv_heads  # the latent is not split across GPUs
    # ceil, not floor: with 8 heads on 3 GPUs one GPU holds 3 of them (floor would drop 2 heads).
    return _cdiv(layer.kv_heads, gpus)


def _layer_bytes_per_token(layer: LayerKV, kv_dtype: KVDType, gpus: int) -> int:
    if layer.kind not in ("full", "sliding", "mla"):
        return 0
    # DSA: the indexer's key (one head, not split) is cached next to the latent, in the latent's
    # dtype unless the layer keeps it in its own.
    index_bytes = layer.index_dim * (layer.index_dtype_bytes or layer.cache_dtype_bytes or element_bytes(kv_dtype))
    if layer.cache_dtype_bytes:
        head = (layer.key_dim + layer.value_dim) * layer.cache_dtype_bytes
    else:
        head = head_token_bytes(kv_dtype, layer.key_dim, layer.value_dim)
    return _heads_per_gpu(layer, gpus) * head + index_bytes


def _compressed_bytes(layer: LayerKV, seq_len: int, dtype_bytes: int) -> int:
    """DeepSeek-V4's compressed cache for one sequence: an entry per closed window, the tokens of the
    unfinished window, and the last closed window's overlap (its gates in fp32)."""
    if not layer.compress_rate:
        return 0
    closed, rest = divmod(seq_len, layer.compress_rate)
    overlap = layer.overlap_dim * (dtype_bytes + 4) if closed else 0
    return (closed * layer.compressed_dim + rest * layer.compress_buffer_dim) * dtype_bytes + overlap


# Identical layers grouped with their counts, per ``spec.layers`` tuple: the solvers call these
# functions many times per estimate. Holding the tuple itself keeps the id from being reused.
_GROUPS: dict[int, tuple[tuple[LayerKV, ...], tuple[tuple[LayerKV, int], ...]]] = {}


def _groups(layers: tuple[LayerKV, ...]) -> tuple[tuple[LayerKV, int], ...]:
    cached = _GROUPS.get(id(layers))
    if cached is not None and cached[0] is layers:
        return cached[1]
    counts: dict[LayerKV, int] = {}
    for layer in layers:
        counts[layer] = counts.get(layer, 0) + 1
    groups = tuple(counts.items())
    if len(_GROUPS) >= 256:
        _GROUPS.clear()
    _GROUPS[id(layers)] = (layers, groups)
    return groups


def kv_bytes_per_token(spec: ModelSpec, kv_dtype: KVDType, *, gpus: int = 1) -> int:
    """Bytes per token on one GPU, summed over every attention layer (full, sliding and MLA)."""
    dtype_bytes = element_bytes(kv_dtype)
    return sum(
        (_layer_bytes_per_token(layer, kv_dtype, gpus) + _compressed_per_token(layer, dtype_bytes)) * n
        for layer, n in _groups(spec.layers)
    )


def _compressed_per_token(layer: LayerKV, dtype_bytes: int) -> int:
    """A compressed layer's entries, per token of the sequence (one entry per ``compress_rate`` tokens)."""
    return layer.compressed_dim * dtype_bytes // layer.compress_rate if layer.compress_rate else 0


def _tokens_kept(layer: LayerKV, seq_len: int, layout: CacheLayout) -> int:
    """Tokens one sequence of ``seq_len`` keeps in this layer's cache."""
    if layout == "contiguous":
        if layer.kind == "sliding" and layer.window is not None:
            return min(seq_len, layer.window - 1)
        return seq_len + layer.prefix_tokens
    blocks = _cdiv(seq_len + layer.prefix_tokens, VLLM_BLOCK_SIZE)
    if layer.kind == "sliding" and layer.window is not None:
        blocks = min(blocks, _cdiv(layer.window - 1, VLLM_BLOCK_SIZE) + 1)
    return blocks * VLLM_BLOCK_SIZE


def _state_bytes(layer: LayerKV, dtype_bytes: int, gpus: int, layout: CacheLayout) -> int:
    """One sequence's fixed state in a Mamba layer; its channels are split across GPUs."""
    if not layer.conv_channels:
        return _cdiv(layer.state_elements, gpus) * dtype_bytes
    channels = _cdiv(layer.conv_channels, gpus)
    ssm = _cdiv(layer.ssm_state_elements, gpus)
    if layout == "contiguous":
        # conv window of conv_kernel in the model dtype; the recurrent state in fp32 (Mamba, DeltaNet, KDA)
        conv_bytes = layer.conv_state_dtype_bytes or dtype_bytes
        return channels * layer.conv_kernel * conv_bytes + ssm * (layer.ssm_state_dtype_bytes or dtype_bytes)
    return channels * (layer.conv_kernel - 1) * dtype_bytes + ssm * dtype_bytes


def state_bytes_per_sequence(spec: ModelSpec, *, gpus: int = 1, layout: CacheLayout = "contiguous") -> int:
    """Fixed bytes one sequence holds whatever its length (Mamba, linear-attention and conv states)."""
    dtype_bytes = DTYPE_BYTES[spec.torch_dtype]
    state = sum(
        _state_bytes(layer, dtype_bytes, gpus, layout) * n
        for layer, n in _groups(spec.layers)
        if layer.kind == "state" or layer.conv_channels
    )
    # Prefix tokens every sequence caches (CPM-Ant's prompt), at the model dtype's KV bytes.
    prefix = sum(
        _layer_bytes_per_token(layer, spec.torch_dtype, gpus) * layer.prefix_tokens * n
        for layer, n in _groups(spec.layers)
        if layer.prefix_tokens
    )
    return state + prefix


def kv_cache_bytes(
    spec: ModelSpec,
    *,
    seq_len: int,
    batch: int,
    kv_dtype: KVDType,
    gpus: int = 1,
    layout: CacheLayout = "contiguous",
) -> int:
    """Bytes one GPU holds for ``batch`` sequences of ``seq_len`` tokens, as the engine allocates."""
    dtype_bytes = element_bytes(kv_dtype)
    state_bytes = DTYPE_BYTES[spec.torch_dtype]  # Mamba state is never quantized with the KV cache
    per_sequence = 0
    for layer, n in _groups(spec.layers):
        if layer.kind == "state" or layer.conv_channels:  # Falcon-H1 layers hold both
            per_sequence += _state_bytes(layer, state_bytes, gpus, layout) * n
        if layer.kind not in ("state", "none"):
            per_sequence += _layer_bytes_per_token(layer, kv_dtype, gpus) * _tokens_kept(layer, seq_len, layout) * n
        per_sequence += _compressed_bytes(layer, seq_len, dtype_bytes) * n
    return per_sequence * batch + (spec.cache_shared_bytes if batch else 0)


class ContiguousPart(NamedTuple):
    """One kind of layer's share of one sequence's contiguous cache (see :func:`contiguous_parts`)."""

    kind: Literal["full", "sliding", "compressed", "state"]
    layers: int
    bytes_per_token: int  # 0 for the compressed entries and the states
    tokens: int  # tokens each of these layers keeps (s for the compressed entries; 0 for states)
    bytes_per_sequence: int
    window: int = 0  # sliding layers' window
    compress_rate: int = 0  # compressed entries: one per this many tokens


def contiguous_parts(spec: ModelSpec, *, seq_len: int, kv_dtype: KVDType) -> tuple[ContiguousPart, ...]:
    """One sequence's contiguous cache (one GPU, no prefix tokens) by layer kind: the full layers'
    s tokens, each window's sliding layers (``window - 1`` tokens), DeepSeek-V4's compressed entries
    per rate, and the states; they add up to :func:`kv_cache_bytes` of one sequence (without
    ``cache_shared_bytes``)."""
    dtype_bytes = element_bytes(kv_dtype)
    state_bytes = DTYPE_BYTES[spec.torch_dtype]
    # (kind, window or rate) -> [layers, bytes per token, tokens, bytes per sequence]
    parts: dict[tuple[str, int], list[int]] = {}

    def add(kind: str, key: int, n: int, per_token: int, tokens: int, per_sequence: int) -> None:
        entry = parts.setdefault((kind, key), [0, 0, tokens, 0])
        entry[0] += n
        entry[1] += per_token * n
        entry[3] += per_sequence * n

    for layer, n in _groups(spec.layers):
        if layer.kind == "state" or layer.conv_channels:
            add("state", 0, n, 0, 0, _state_bytes(layer, state_bytes, 1, "contiguous"))
        if layer.kind not in ("state", "none"):
            per_token = _layer_bytes_per_token(layer, kv_dtype, 1)
            kept = _tokens_kept(layer, seq_len, "contiguous")
            sliding = layer.kind == "sliding" and layer.window is not None and kept < seq_len
            kind, key = ("sliding", layer.window or 0) if sliding else ("full", 0)
            add(kind, key, n, per_token, kept, per_token * kept)
        if layer.compress_rate:
            add("compressed", layer.compress_rate, n, 0, seq_len, _compressed_bytes(layer, seq_len, dtype_bytes))
    return tuple(
        ContiguousPart(
            kind=kind,  # type: ignore[arg-type]
            layers=n,
            bytes_per_token=per_token,
            tokens=tokens,
            bytes_per_sequence=per_sequence,
            window=key if kind == "sliding" else 0,
            compress_rate=key if kind == "compressed" else 0,
        )
        for (kind, key), (n, per_token, tokens, per_sequence) in parts.items()
    )
