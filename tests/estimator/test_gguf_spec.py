"""GGUF-only repos are sized from the header's geometry and the file's bytes."""

import pytest

from common.errors import ConfigError
from estimator.estimate import estimate
from estimator.gguf import GgufInfo, spec_from_gguf
from estimator.kv import kv_bytes_per_token
from estimator.query import Query
from tests.helpers import messages

# Llama-3.2-1B-Instruct as a Q4_K_M GGUF (llama.cpp key values of that model; file size of the variant).
LLAMA_1B_Q4 = GgufInfo(
    filename="Llama-3.2-1B-Instruct-Q4_K_M.gguf",
    file_bytes=807_694_464,
    files={"Llama-3.2-1B-Instruct-Q4_K_M.gguf": 807_694_464},
    version=3,
    tensor_count=147,
    architecture="llama",
    file_type=15,
    block_count=16,
    embedding_length=2048,
    feed_forward_length=8192,
    head_count=32,
    head_count_kv=8,
    key_length=64,
    value_length=64,
    context_length=131072,
    vocab_size=128256,
    parameters=1_235_814_400,
    tied_embeddings=True,
)


def test_weights_are_the_file_and_kv_follows_the_header() -> None:
    spec = spec_from_gguf(LLAMA_1B_Q4)
    # KV per token: 16 layers x (K+V) x 8 KV heads x 64 dims x 2 bytes = 32,768.
    assert kv_bytes_per_token(spec, "bf16") == 16 * 2 * 8 * 64 * 2
    est = estimate(spec, Query(model="x", seq_len=8192), model_id="bartowski/Llama-3.2-1B-Instruct-GGUF")
    assert est.memory.weights == 807_694_464
    assert est.memory.kv_cache == 32_768 * 8192
    assert est.details.weight_format == "GGUF Q4_K_M"
    # The count is the file's: Llama-3.2-1B has 1,235,814,400 parameters (tied embeddings), not the
    # 1.50B an untied lm_head would add.
    assert est.params_total == 1_235_814_400
    assert any("GGUF" in w for w in messages(est))


def test_header_without_geometry_is_a_clear_error() -> None:
    broken = LLAMA_1B_Q4.model_copy(update={"block_count": None})
    with pytest.raises(ConfigError) as err:
        spec_from_gguf(broken)
    assert "llama.block_count" in str(err.value)
    # No silent defaults: a header without a vocabulary size is an error, not 32,000.
    with pytest.raises(ConfigError, match=r"llama\.vocab_size"):
        spec_from_gguf(LLAMA_1B_Q4.model_copy(update={"vocab_size": None}))
