"""transformers loads a pre-quantized FP8 or MXFP4 checkpoint dequantized to bf16 on an NVIDIA GPU older
than its kernels (transformers 5.25, quantizers/quantizer_finegrained_fp8.py and quantizer_mxfp4.py
``validate_environment``): FP8 below compute capability 8.9, MXFP4 below 7.5. Numbers by hand from the
configs: bf16 is 2 bytes per parameter."""

from __future__ import annotations

import json
from pathlib import Path

from estimator.config import load_model_spec
from estimator.estimate import estimate
from estimator.query import Query
from estimator.spec import ModelSpec

CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "configs"

# Qwen/Qwen3-32B-FP8's quantization_config (its config.json on the Hub), on Qwen3-32B's own config.
FP8_BLOCK = {"quant_method": "fp8", "weight_block_size": [128, 128], "activation_scheme": "dynamic", "fmt": "e4m3"}


def qwen3_32b_fp8() -> ModelSpec:
    raw = json.loads((CONFIGS / "Qwen__Qwen3-32B.json").read_text())
    return load_model_spec({**raw, "quantization_config": FP8_BLOCK})


def gpt_oss_20b() -> ModelSpec:
    return load_model_spec(json.loads((CONFIGS / "openai__gpt-oss-20b.json").read_text()))


def test_fp8_on_an_a100_is_sized_in_bf16() -> None:
    spec = qwen3_32b_fp8()
    est = estimate(spec, Query(model="q", seq_len=8192, gpu="a100-40gb"), model_id="q")
    # 32,762,123,264 parameters x 2 B: the dequantized weights, which a 40 GB A100 cannot hold.
    assert est.params_total == 32_762_123_264
    assert est.memory.weights == 32_762_123_264 * 2
    assert est.fit is not None and not est.fit.fits and est.fit.min_gpus == 2
    [said] = [w.message for w in est.warnings if w.code == "dequantized"]
    assert "dequantized to bf16" in said and "compute capability 8.0" in said and "need 8.9" in said
    # The same as asking for it; naming the checkpoint's own format changes nothing.
    asked = estimate(spec, Query(model="q", seq_len=8192, gpu="a100-40gb", weight_format="bf16"), model_id="q")
    assert asked.memory == est.memory
    for named in ({"weight_format": "fp8"}, {"bits": 8}):
        again = estimate(spec, Query(model="q", seq_len=8192, gpu="a100-40gb", **named), model_id="q")
        assert again.memory.weights == 32_762_123_264 * 2, named


def test_fp8_kept_where_its_kernels_run() -> None:
    spec = qwen3_32b_fp8()
    for gpu in ("h100", "l40s", "rtx4090", "mi300x"):  # 9.0, 8.9, 8.9, and ROCm (9.4 to torch)
        est = estimate(spec, Query(model="q", seq_len=8192, gpu=gpu), model_id="q")
        assert est.memory.weights < 32_762_123_264 * 1.1, gpu  # about a byte each, with block scales
        assert not [w for w in est.warnings if w.code == "dequantized"], gpu
    # No GPU named: the checkpoint as stored; vLLM keeps FP8 (Marlin W8A16) on an A100.
    assert estimate(spec, Query(model="q"), model_id="q").memory.weights < 32_762_123_264 * 1.1
    vllm = estimate(spec, Query(model="q", engine="vllm", gpu="a100-40gb"), model_id="q")
    assert not [w for w in vllm.warnings if w.code == "dequantized"]


def test_mxfp4_on_a_v100_is_sized_in_bf16_and_kept_on_a_t4() -> None:
    spec = gpt_oss_20b()
    v100 = estimate(spec, Query(model="g", gpu="v100-32gb", flash_attention=True), model_id="g")
    assert v100.memory.weights == v100.params_total * 2  # 20.91B x 2 B: past a 32 GB V100
    assert v100.fit is not None and not v100.fit.fits
    named = estimate(spec, Query(model="g", gpu="v100-32gb", flash_attention=True, weight_format="mxfp4"), model_id="g")
    assert named.memory.weights == v100.memory.weights
    t4 = estimate(spec, Query(model="g", gpu="t4", flash_attention=True), model_id="g")  # 7.5: MXFP4 runs
    assert t4.memory.weights < t4.params_total
    assert not [w for w in t4.warnings if w.code == "dequantized"]


def test_gpu_any_sizes_each_card_as_it_loads() -> None:
    est = estimate(qwen3_32b_fp8(), Query(model="q", seq_len=8192, gpu_any=True), model_id="q")
    cards = {c.gpu: c for c in est.cards}
    # 61 GiB of bf16 weights take two 40 GB A100s; an H100 holds the 32 GiB of FP8 alone, and an
    # 80 GB A100 the bf16 ones alone.
    assert cards["a100-40gb"].min_gpus == 2 and cards["h100-80gb"].min_gpus == 1
    assert cards["a100-80gb"].min_gpus == 1 and cards["a100-80gb"].headroom is not None
    assert cards["a100-80gb"].headroom < cards["h100-80gb"].headroom


def test_gpu_any_says_which_cards_load_it_dequantized() -> None:
    from bot import report

    est = estimate(qwen3_32b_fp8(), Query(model="q", seq_len=8192, gpu_any=True), model_id="q")
    cards = {c.gpu: c for c in est.cards}
    assert cards["a100-80gb"].loaded_as == "bf16" and cards["h100-80gb"].loaded_as is None
    [line] = [line for line in report.cards_lines(est) if line.startswith("loaded as ")]
    assert line.startswith("loaded as bf16 on a100-40gb, ") and "h100" not in line, line
