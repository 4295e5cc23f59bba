"""Quantization methods vLLM refuses at start-up.

bitsandbytes: in-flight NF4 (``--quantization bitsandbytes``) and pre-quantized bitsandbytes
checkpoints up to 0.27.x; from 0.28.0 the method is gone from
model_executor/layers/quantization/__init__.py (present in the 0.27.1 wheel, absent from 0.28.0's),
so vLLM refuses both at start-up. Compute capability: each method's ``get_min_capability``."""

from __future__ import annotations

import json
from pathlib import Path

from estimator.config import load_model_spec
from estimator.engines import get_engine
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


def test_a_bitsandbytes_checkpoint_takes_no_tensor_parallelism() -> None:
    # bitsandbytes_loader.py (0.19.0 and 0.27.1 wheels): "Prequant BitsAndBytes models with tensor
    # parallelism is not supported. Please try with pipeline parallelism."
    for release in ("0.19", "0.27"):
        fits, error, _ = _answer(BNB, vllm=release, gpus=2)
        assert not fits and error is not None and "gpus=2" in error and "pp=" in error
        fits, error, _ = _answer(BNB, vllm=release, pp=2)
        assert fits and error is None
    # In-flight NF4 quantizes each GPU's own shard, so it splits.
    fits, error, _ = _answer(QWEN3_8B, vllm="0.27", weight_format="nf4", gpus=2)
    assert fits and error is None


def test_a_bitsandbytes_checkpoint_too_big_for_one_gpu_points_to_pipeline_stages() -> None:
    # Qwen3-32B in NF4 (~19.5 GiB of weights) on a 16 GB T4 with 0.27: no TP group is accepted, so the
    # solver finds none; pp=2 fits (12.3 GiB per GPU), and the verdict says to ask with pp=.
    cfg = json.loads((FIXTURES / "configs" / "Qwen__Qwen3-32B.json").read_text())
    big = {**cfg, "quantization_config": BNB["quantization_config"]}
    est = estimate(load_model_spec(big), Query(engine="vllm", gpu="t4", vllm="0.27"), model_id="m")
    assert est.fit is not None and not est.fit.fits and est.fit.min_gpus == 0
    line = get_engine("vllm").verdict(est, lambda text: text)
    assert line is not None and "ask with pp=" in line
    staged = estimate(load_model_spec(big), Query(engine="vllm", gpu="t4", vllm="0.27", pp=2), model_id="m")
    assert staged.fit is not None and staged.fit.fits


def test_restating_the_checkpoints_format_does_not_skip_its_refusals() -> None:
    # vLLM reads the quantization from the checkpoint's config: "in nf4" / "in 8-bit" on a
    # bitsandbytes checkpoint (dtype=nf4, p=4; dtype=int8 on an 8-bit one) is the same checkpoint.
    bnb8 = {**QWEN3_8B, "quantization_config": {"quant_method": "bitsandbytes", "load_in_8bit": True}}
    for cfg, restated in ((BNB, {"weight_format": "nf4"}), (BNB, {"bits": 4}), (bnb8, {"weight_format": "int8"})):
        fits, error, _ = _answer(cfg, vllm="0.28", **restated)
        assert not fits and error is not None and "bitsandbytes checkpoint" in error
        fits, error, _ = _answer(cfg, vllm="0.27", gpus=2, **restated)
        assert not fits and error is not None and "pp=" in error
    # dtype=int8 on a bf16 checkpoint sizes an INT8 checkpoint, which every release loads.
    fits, error, codes = _answer(QWEN3_8B, vllm="0.34", weight_format="int8")
    assert fits and error is None and "pre_quantized_needed" in codes


def test_dtype_nf4_is_in_flight_quantization_up_to_0_27_and_refused_after() -> None:
    fits, error, codes = _answer(QWEN3_8B, vllm="0.27", weight_format="nf4")
    assert fits and error is None and "pre_quantized_needed" not in codes
    fits, error, codes = _answer(QWEN3_8B, vllm="0.28", weight_format="nf4")
    assert not fits and error is not None and "dtype=nf4 (--quantization bitsandbytes)" in error
    # No advice to load a pre-quantized NF4 checkpoint, which 0.28 refuses as well.
    assert "pre_quantized_needed" not in codes


def test_quantized_weights_need_the_methods_minimum_compute_capability() -> None:
    # QuantizationConfig.get_min_capability (quantization/*.py, 0.27.1 and 0.34.0 wheels alike):
    # awq 75, fp8 75, mxfp4 80; the V100 is 7.0, the T4 7.5, the L4 8.9.
    awq = json.loads((FIXTURES / "configs" / "Qwen__Qwen3-8B-AWQ.json").read_text())
    gpt_oss = json.loads((FIXTURES / "configs" / "openai__gpt-oss-20b.json").read_text())
    cases = [
        (awq, {"gpu": "v100"}, "AWQ kernels need compute capability 7.5", False),
        (awq, {"gpu": "t4"}, None, True),
        (QWEN3_8B, {"gpu": "v100", "weight_format": "fp8"}, "FP8 kernels need compute capability 7.5", False),
        (QWEN3_8B, {"gpu": "t4", "weight_format": "fp8"}, None, True),
        (gpt_oss, {"gpu": "t4", "seq_len": 1024}, "MXFP4 kernels need compute capability 8.0", False),
        (gpt_oss, {"gpu": "l4"}, None, True),
        (QWEN3_8B, {"gpu": "v100", "weight_format": "gptq"}, None, True),  # gptq's minimum is 6.0
    ]
    for cfg, query, refusal, fits in cases:
        est = estimate(load_model_spec(cfg), Query(**{"engine": "vllm", "vllm": "0.33", **query}), model_id="m")
        assert est.fit is not None and est.engine_report is not None
        error = est.engine_report.start_error
        if refusal is None:
            assert error is None or "compute capability" not in error, (query, error)
        else:
            assert error is not None and refusal in error, (query, error)
            assert not est.fit.fits
        assert est.fit.fits == fits, query


def test_compressed_tensors_schemes_and_asked_mxfp4_need_their_capability() -> None:
    # compressed-tensors passes its config check (70), then each scheme's: W8A8 FP8 falls back to
    # W8A16 FP8 (75) below 8.9, WNA16 75 (compressed_tensors/schemes/*.py, 0.27.1 and 0.34.0 wheels).
    # dtype=mxfp4 of a bf16 checkpoint is online quantization (75); of gpt-oss its own MXFP4 (80).
    fp8 = json.loads((FIXTURES / "configs" / "RedHatAI__Qwen2.5-7B-Instruct-fp8-dynamic.json").read_text())
    w4a16 = json.loads((FIXTURES / "configs" / "RedHatAI__Meta-Llama-3.1-8B-Instruct-quantized.w4a16.json").read_text())
    gpt_oss = json.loads((FIXTURES / "configs" / "openai__gpt-oss-20b.json").read_text())
    cases = [
        (fp8, {"gpu": "v100"}, "compressed-tensors FP8 kernels need compute capability 7.5"),
        (fp8, {"gpu": "t4"}, None),
        (w4a16, {"gpu": "v100"}, "compressed-tensors INT4 kernels need compute capability 7.5"),
        (w4a16, {"gpu": "t4"}, None),
        (gpt_oss, {"gpu": "v100", "weight_format": "mxfp4"}, "MXFP4 kernels need compute capability 8.0"),
        (QWEN3_8B, {"gpu": "v100", "weight_format": "mxfp4"}, "online MXFP4 kernels need compute capability 7.5"),
        (QWEN3_8B, {"gpu": "t4", "weight_format": "mxfp4"}, None),
    ]
    for cfg, query, refusal in cases:
        est = estimate(load_model_spec(cfg), Query(**{"engine": "vllm", "seq_len": 1024, **query}), model_id="m")
        assert est.engine_report is not None
        error = est.engine_report.start_error
        if refusal is None:
            assert error is None or "compute capability" not in error, (query, error)
        else:
            assert error is not None and refusal in error, (query, error)


def test_gptq_checkpoints_vllm_takes_from_0_22_are_4_and_8_bit_symmetric() -> None:
    # quantization/auto_gptq.py from 0.22.0 (read in the 0.22.0, 0.27.1 and 0.34.0 wheels): TYPE_MAP
    # {(4, True), (8, True)}, anything else "Unsupported quantization config"; 0.21 still had GPTQConfig.
    def gptq(bits: int, sym: bool) -> dict[str, object]:
        return {
            **QWEN3_8B,
            "quantization_config": {"quant_method": "gptq", "bits": bits, "group_size": 128, "sym": sym},
        }

    for bits, sym, release, refused in (
        (4, True, "0.34", False),
        (8, True, "0.34", False),
        (4, False, "0.34", True),
        (3, True, "0.22", True),
        (4, False, "0.21", False),
    ):
        est = estimate(load_model_spec(gptq(bits, sym)), Query(engine="vllm", gpu="h100", vllm=release), model_id="m")
        assert est.engine_report is not None
        error = est.engine_report.start_error or ""
        assert ("will not start this GPTQ checkpoint" in error) == refused, (bits, sym, release, error)
