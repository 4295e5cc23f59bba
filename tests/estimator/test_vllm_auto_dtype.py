"""What dtype a checkpoint is served in when no dtype= is asked.

vLLM's default ``--dtype auto`` casts a float32 checkpoint to the platform's first dtype the model
takes: bf16, fp16 on GPUs without bf16, float32 only for model types it refuses fp16 for there
(config/model.py@v0.34.0 ``_resolve_auto_dtype``, "Downcast for float32 models";
``_FLOAT16_NOT_SUPPORTED_MODELS``). A config naming no dtype is read from the checkpoint's tensors
(transformers_utils/model_arch_config_convertor.py@v0.34.0 ``get_torch_dtype``), else as float32,
then cast the same way. transformers' ``dtype="auto"`` loads the float32 checkpoint as it is.

Expected bytes are the parameter count times 2 (16-bit) or 4 (float32), by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

from estimator.config import load_model_spec
from estimator.estimate import estimate
from estimator.query import Query
from estimator.spec import SafetensorsInfo
from estimator.weights import weight_bytes

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
QWEN3_8B = json.loads((FIXTURES / "configs" / "Qwen__Qwen3-8B.json").read_text())
N = 8_190_735_360  # Qwen3-8B's parameters (untied: embedding and lm_head both stored)


def _config(**update: object) -> dict[str, object]:
    cfg = {k: v for k, v in QWEN3_8B.items() if k not in ("torch_dtype", "dtype")}
    return {**cfg, **update}


def _weights(cfg: dict[str, object], st: SafetensorsInfo | None = None, **query: object) -> tuple[int, list[str]]:
    spec = load_model_spec(cfg, safetensors=st)
    est = estimate(spec, Query(**{"engine": "vllm", "gpu": "h100", "seq_len": 4096, **query}), model_id="m")
    # The checkpoint's share, without what vLLM builds at load (the rotary cache).
    share = next((t.bytes for t in est.details.weight_terms if t.part == "checkpoint"), est.memory.weights)
    return share, [w.code for w in est.warnings]


def test_a_float32_config_is_served_in_bf16_by_vllm() -> None:
    weights, codes = _weights(_config(torch_dtype="float32"))
    assert weights == 2 * N
    assert "dtype_cast" in codes
    spec = load_model_spec(_config(torch_dtype="float32"))
    est = estimate(spec, Query(engine="vllm", gpu="h100", seq_len=4096), model_id="m")
    assert est.details.kv_dtype == "bf16" and est.details.weight_format == "bf16"
    # 36 layers x 8 KV heads x 128 x 2 (K and V) x 2 bytes
    assert est.details.kv_bytes_per_token == 36 * 8 * 128 * 2 * 2


def test_dtype_fp32_keeps_float32_and_transformers_loads_it_as_stored() -> None:
    weights, codes = _weights(_config(torch_dtype="float32"), weight_format="fp32")
    assert weights == 4 * N and "dtype_cast" not in codes
    spec = load_model_spec(_config(torch_dtype="float32"))
    est = estimate(spec, Query(engine="transformers", gpu="h100", seq_len=4096), model_id="m")
    assert est.memory.weights == 4 * N == weight_bytes(spec)
    assert "dtype_cast" not in [w.code for w in est.warnings]


def test_without_bf16_the_cast_is_to_fp16_and_gemma_stays_float32() -> None:
    spec = load_model_spec(_config(torch_dtype="float32"))
    est = estimate(spec, Query(engine="vllm", gpu="v100", seq_len=1024), model_id="m")
    assert est.details.kv_dtype == "fp16"
    (cast,) = [w.message for w in est.warnings if w.code == "dtype_cast"]
    assert "float16" in cast and "bfloat16" not in cast
    gemma = json.loads((FIXTURES / "configs" / "google__gemma-3-1b-it.json").read_text())
    gemma = {**gemma, "torch_dtype": "float32"}
    g = estimate(load_model_spec(gemma), Query(engine="vllm", gpu="v100", seq_len=1024), model_id="g")
    assert g.details.kv_dtype == "fp32" and "dtype_cast" not in [w.code for w in g.warnings]


def test_float32_tensors_load_at_half_their_stored_bytes() -> None:
    # Stored in float32: 4 N bytes on disk, 2 N once vLLM casts them.
    as_f32, _ = _weights(_config(torch_dtype="float32"), SafetensorsInfo(parameters={"F32": N}))
    # A float32 config over bf16 tensors (saved so): already 2 N.
    as_bf16, _ = _weights(_config(torch_dtype="float32"), SafetensorsInfo(parameters={"BF16": N}))
    # Mixed: the float32 part halves, the bf16 part stays.
    mixed, _ = _weights(_config(torch_dtype="float32"), SafetensorsInfo(parameters={"F32": N - 4096, "BF16": 4096}))
    assert as_f32 == as_bf16 == mixed == 2 * N


def test_the_checkpoint_names_the_dtype_a_config_leaves_out() -> None:
    f16 = load_model_spec(_config(), safetensors=SafetensorsInfo(parameters={"F16": N}))
    assert f16.torch_dtype == "fp16" and not any("torch_dtype" in w for w in f16.warnings)
    # gpt-oss: bf16 tensors beside packed uint8 experts name bf16.
    packed = load_model_spec(_config(), safetensors=SafetensorsInfo(parameters={"BF16": N - 1024, "U8": 512}))
    assert packed.torch_dtype == "bf16" and not any("torch_dtype" in w for w in packed.warnings)
    # A mix reads as float32, as vLLM's get_torch_dtype reads it (common_broadcastable_dtype), and
    # --dtype auto then serves every tensor in bf16: 2 bytes each, the float32 ones halved.
    mixed_st = SafetensorsInfo(parameters={"F32": N // 2, "BF16": N - N // 2})
    mixed = load_model_spec(_config(), safetensors=mixed_st)
    assert mixed.torch_dtype == "fp32"
    assert any("mixes BF16, F32 tensors: read as float32" in w for w in mixed.warnings)
    weights, codes = _weights(_config(), mixed_st)
    assert weights == 2 * N and "dtype_cast" in codes
    bare = load_model_spec(_config())
    assert bare.torch_dtype == "bf16" and any("assuming bfloat16" in w for w in bare.warnings)


def test_a_quantized_format_asked_of_a_float32_checkpoint_runs_on_the_cast_dtype() -> None:
    # --quantization fp8 leaves --dtype auto to cast the float32 model: the KV cache, embeddings and
    # LM head are bf16, as for a bf16 checkpoint of the same model.
    for fmt in ("fp8", "int4"):
        f32 = estimate(
            load_model_spec(_config(torch_dtype="float32")),
            Query(engine="vllm", gpu="h100", seq_len=32_768, weight_format=fmt),
            model_id="m",
        )
        b16 = estimate(
            load_model_spec(_config(torch_dtype="bfloat16")),
            Query(engine="vllm", gpu="h100", seq_len=32_768, weight_format=fmt),
            model_id="m",
        )
        assert f32.details.kv_dtype == b16.details.kv_dtype == "bf16"
        assert f32.memory.weights == b16.memory.weights and f32.memory.kv_cache == b16.memory.kv_cache, fmt
