"""bitsandbytes under vLLM: in-flight NF4 (``--quantization bitsandbytes``) and pre-quantized
bitsandbytes checkpoints up to 0.27.x; from 0.28.0 the method is gone from
model_executor/layers/quantization/__init__.py (present in the 0.27.1 wheel, absent from 0.28.0's),
so vLLM refuses both at start-up."""

from __future__ import annotations

import json
from pathlib import Path

from estimator.config import load_model_spec
from estimator.estimate import estimate
from estimator.query import Query

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
QWEN3_8B = json.loads((FIXTURES / "configs" / "Qwen__Qwen3-8B.json").read_text())
BNB = {
    **QWEN3_8B,
    "quantization_config": {
        "quant_method": "bitsandbytes",
        "load_in_4bit": True,
        "bnb_4bit_quant_type": "nf4",
        "bnb_4bit_compute_dtype": "bfloat16",
    },
}


def _answer(cfg: dict[str, object], **query: object) -> tuple[bool, str | None, list[str]]:
    est = estimate(load_model_spec(cfg), Query(**{"engine": "vllm", "gpu": "h100", **query}), model_id="m")
    assert est.fit is not None and est.engine_report is not None
    return est.fit.fits, est.engine_report.start_error, [w.code for w in est.warnings]


def test_a_bitsandbytes_checkpoint_starts_up_to_0_27_only() -> None:
    fits, error, _ = _answer(BNB, vllm="0.27")
    assert fits and error is None
    for release in ("0.28", "0.33", "0.34"):
        fits, error, _ = _answer(BNB, vllm=release)
        assert not fits
        assert error is not None and "bitsandbytes checkpoint" in error and "vllm=0.27" in error


def test_dtype_nf4_is_in_flight_quantization_up_to_0_27_and_refused_after() -> None:
    fits, error, codes = _answer(QWEN3_8B, vllm="0.27", weight_format="nf4")
    assert fits and error is None and "pre_quantized_needed" not in codes
    fits, error, codes = _answer(QWEN3_8B, vllm="0.28", weight_format="nf4")
    assert not fits and error is not None and "dtype=nf4 (--quantization bitsandbytes)" in error
    # No advice to load a pre-quantized NF4 checkpoint, which 0.28 refuses as well.
    assert "pre_quantized_needed" not in codes
