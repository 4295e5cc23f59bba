"""A model description from a GGUF header, for repos that ship only GGUF files.

The header gives the geometry (llama.cpp's ``{arch}.*`` keys); the file size gives the weights
exactly, as a GGUF runtime maps them. The geometry goes through the same normalisation as a
``config.json`` (so KV cache and activations follow the same rules).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from common.errors import ConfigError
from estimator.config import load_model_spec
from estimator.spec import Frozen, ModelSpec

GgufScalar = str | int | float | bool


class GgufInfo(Frozen):
    """What a GGUF file's header says (read by :mod:`sources` from a file or with range requests)."""

    filename: str  # the file whose header was read
    file_bytes: int  # bytes of this variant (all parts of a split GGUF): weights plus header
    files: dict[str, int]  # every .gguf file of the repo (quantisation variants), name -> bytes
    version: int
    tensor_count: int
    architecture: str
    file_type: int | None = None  # general.file_type (llama.cpp's LLAMA_FTYPE: 15 = Q4_K_M)
    block_count: int | None = None
    embedding_length: int | None = None
    feed_forward_length: int | None = None
    head_count: int | None = None
    head_count_kv: int | None = None
    key_length: int | None = None
    value_length: int | None = None
    context_length: int | None = None
    vocab_size: int | None = None  # {arch}.vocab_size, else the length of tokenizer.ggml.tokens
    expert_count: int | None = None
    expert_used_count: int | None = None
    sliding_window: int | None = None
    parameters: int | None = None  # the Hub's count (model_info gguf.total), when known
    # From the tensor infos, when the whole header was read (local files):
    tensor_parameters: int | None = None  # elements of every tensor
    tied_embeddings: bool | None = None  # no output.weight beside token_embd.weight
    metadata: dict[str, GgufScalar] = Field(default_factory=dict)  # scalar key-values (arrays left out)


# llama.cpp's general.architecture -> the transformers model_type with the same geometry.
_ARCH_MODEL_TYPE = {
    "llama": "llama",
    "mistral": "mistral",
    "qwen2": "qwen2",
    "qwen3": "qwen3",
    "qwen2moe": "qwen2_moe",
    "qwen3moe": "qwen3_moe",
    "gemma": "gemma",
    "gemma2": "gemma2",
    "gemma3": "gemma3_text",
    "phi3": "phi3",
    "granite": "granite",
}

# llama.cpp's LLAMA_FTYPE values (general.file_type): the names people know the files by.
FILE_TYPES = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
}


_REQUIRED = (
    ("block_count", "block_count"),
    ("embedding_length", "embedding_length"),
    ("head_count", "attention.head_count"),
    ("feed_forward_length", "feed_forward_length"),
    ("vocab_size", "vocab_size"),
)


def gguf_config(info: GgufInfo) -> dict[str, Any]:
    """The config.json fields a GGUF header implies (llama.cpp key names -> transformers names)."""
    for field, key in _REQUIRED:
        if getattr(info, field) is None:
            raise ConfigError(
                f"the GGUF file {info.filename} lacks {info.architecture}.{key}, so its size cannot be worked out"
            )
    config: dict[str, Any] = {
        "model_type": _ARCH_MODEL_TYPE.get(info.architecture, info.architecture),
        "num_hidden_layers": info.block_count,
        "hidden_size": info.embedding_length,
        "num_attention_heads": info.head_count,
        # llama.cpp leaves head_count_kv out when it equals head_count (multi-head attention).
        "num_key_value_heads": info.head_count_kv or info.head_count,
        "intermediate_size": info.feed_forward_length,
        "vocab_size": info.vocab_size,
        "max_position_embeddings": info.context_length,
        "torch_dtype": "bfloat16",
    }
    if info.tied_embeddings is not None:
        config["tie_word_embeddings"] = info.tied_embeddings
    if info.key_length:
        config["head_dim"] = info.key_length
    if info.sliding_window:
        config["sliding_window"] = info.sliding_window
    if info.expert_count:
        config["num_experts"] = info.expert_count
        config["num_local_experts"] = info.expert_count
        config["num_experts_per_tok"] = info.expert_used_count or 1
        # llama.cpp names the expert width {arch}.expert_feed_forward_length.
        width = info.metadata.get(f"{info.architecture}.expert_feed_forward_length")
        if isinstance(width, int):
            config["moe_intermediate_size"] = width
    return config


def spec_from_gguf(info: GgufInfo) -> ModelSpec:
    """A ModelSpec whose weights are the GGUF file's bytes."""
    spec = load_model_spec(gguf_config(info))
    label = FILE_TYPES.get(info.file_type, f"file type {info.file_type}") if info.file_type is not None else "GGUF"
    warnings = (
        *spec.warnings,
        f"Sized from the GGUF file {info.filename} ({label}): the repo has no config.json; "
        "weights are the file's bytes, as llama.cpp maps them.",
    )
    update: dict[str, Any] = {
        "checkpoint_bytes": info.file_bytes,
        "params_source": "gguf",
        "format_label": f"GGUF {label}",
        "warnings": warnings,
    }
    counted = info.tensor_parameters or info.parameters
    if counted is not None and counted != spec.params.total:
        # The file's own count is exact (the header's geometry misses norms' and biases' quirks):
        # carry the difference in `other` so the total shown is the file's.
        params = spec.params.model_copy(update={"other": spec.params.other + counted - spec.params.total})
        update["params"] = params.model_copy(update={"active": min(params.active, params.total)})
    return spec.model_copy(update=update)
