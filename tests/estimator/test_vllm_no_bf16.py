"""A bf16 model on a GPU without bf16 (T4, V100: compute capability 7.x) under vLLM.

vLLM's default ``--dtype auto`` keeps the first dtype the platform supports that the model takes
(config/model.py@v0.33.0 ``_resolve_auto_dtype``; platforms/cuda.py@v0.33.0 ``supported_dtypes`` is
[float16, float32] below 8.0) and logs "Falling back to float16 for compatibility": it starts, in fp16,
the same two bytes a weight. Only an explicit ``--dtype bfloat16`` raises ("Bfloat16 is only supported
on GPUs with compute capability of at least 8.0", ``check_if_supports_dtype``). Gemma 2/3 and GLM-4
take no fp16 (``_FLOAT16_NOT_SUPPORTED_MODELS``), so auto falls back to float32 for them.
"""

from __future__ import annotations

import json
from pathlib import Path

from bot import report
from estimator.config import load_model_spec
from estimator.estimate import estimate
from estimator.query import Query
from estimator.result import Estimate
from tests.helpers import messages

CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "configs"


def _estimate(name: str, **query: object) -> Estimate:
    spec = load_model_spec(json.loads((CONFIGS / f"{name}.json").read_text()))
    return estimate(spec, Query(model="m", engine="vllm", **query), model_id="m")  # type: ignore[arg-type]


def test_dtype_auto_serves_fp16_and_the_verdict_stands() -> None:
    # Qwen3-32B over 8 T4s at 32k: the same verdict as in fp16, and no word of a refusal.
    est = _estimate("Qwen__Qwen3-32B", seq_len=32768, gpu="t4", gpus=8)
    fp16 = _estimate("Qwen__Qwen3-32B", seq_len=32768, gpu="t4", gpus=8, weight_format="fp16")
    assert est.fit is not None and fp16.fit is not None
    assert est.fit.fits and est.fit.engine_refuses is None
    assert est.memory == fp16.memory  # fp16 and bf16 are both two bytes
    said = " ".join(messages(est))
    assert "refuses" not in said and "vLLM serves it in fp16 there" in said


def test_an_explicit_bf16_is_refused_and_does_not_fit() -> None:
    est = _estimate("Qwen__Qwen3-32B", seq_len=32768, gpu="v100-32gb", gpus=8, weight_format="bf16")
    assert est.fit is not None and not est.fit.fits
    assert est.fit.engine_refuses is not None and "compute capability 8.0" in est.fit.engine_refuses
    assert "fits" not in report.verdict(est).replace("does not fit", "")


def test_a_model_without_fp16_falls_back_to_float32_and_gets_no_bf16_verdict() -> None:
    est = _estimate("google__gemma-3-4b-it", seq_len=8192, gpu="t4")
    assert est.fit is not None and not est.fit.fits
    assert est.fit.engine_refuses is not None and "float32" in est.fit.engine_refuses
    assert "dtype=fp32" in est.fit.engine_refuses
