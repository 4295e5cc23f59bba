"""GPTQ linears as vLLM's mixed-precision kernels keep them, checked by hand arithmetic.

Source (kernels/linear/mixed_precision/marlin.py, machete.py; quantization/auto_gptq.py, read in the
0.19.0, 0.27.1 and 0.30.0-0.34.0 wheels): vLLM serves GPTQ as symmetric (``zero_points=False``).
Marlin replaces the loaded qzeros, and g_idx without activation order, by empty tensors; Machete
(Hopper) keeps both. From 0.30 there is no g_idx parameter, and desc_act with groups is refused.

Qwen3-8B (hidden 4,096, MLP 12,288, 8 KV heads of 128, 36 layers) as a 4-bit GPTQ checkpoint,
groups of 128. One [in, out] matrix stores in/128 x out 4-bit zero points (in x out / 256 bytes)
and an int32 g_idx per input row (4 x in bytes).
"""

from __future__ import annotations

import json
from pathlib import Path

from estimator.config import load_model_spec
from estimator.engines.vllm import gptq_kernel_bytes
from estimator.estimate import estimate
from estimator.gpus import lookup_gpu
from estimator.query import Query

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
QWEN3_8B = json.loads((FIXTURES / "configs" / "Qwen__Qwen3-8B.json").read_text())
LAYERS = 36
# (in, out) of q, k, v, o, gate, up, down.
MATRICES = [(4096, 4096), (4096, 1024), (4096, 1024), (4096, 4096), (4096, 12288), (4096, 12288), (12288, 4096)]


def _gptq(desc_act: bool) -> dict[str, object]:
    qc = {"quant_method": "gptq", "bits": 4, "group_size": 128, "sym": True, "desc_act": desc_act}
    return {**QWEN3_8B, "quantization_config": qc}


def _bytes(desc_act: bool, gpu: str, release: str, gpus: int = 1) -> tuple[int, int]:
    spec = load_model_spec(_gptq(desc_act))
    query = Query(engine="vllm", gpu=gpu, vllm=release, gpus=gpus)
    return gptq_kernel_bytes(spec, query, lookup_gpu(gpu))


def test_marlin_drops_the_zero_points_and_g_idx_of_a_symmetric_checkpoint() -> None:
    zeros = sum(i * o // 256 for i, o in MATRICES)  # 753,664 per layer
    g_idx = sum(4 * i for i, _ in MATRICES)  # 147,456 per layer
    assert (zeros, g_idx) == (753_664, 147_456)
    for release in ("0.19", "0.29", "0.30", "0.34"):
        # The L4 (8.9) and the A100 (8.0) take Marlin for every 4-bit group-128 matrix.
        for gpu in ("l4", "a100"):
            assert _bytes(False, gpu, release) == (LAYERS * (zeros + g_idx), 0)


def test_machete_on_hopper_keeps_them_up_to_0_29_and_loads_no_g_idx_from_0_30() -> None:
    # Every shape is a multiple of 64 x 128, so Machete takes each matrix on the H100.
    assert _bytes(False, "h100", "0.29") == (0, 0)
    g_idx = sum(4 * i for i, _ in MATRICES)
    assert _bytes(False, "h100", "0.30") == (LAYERS * g_idx, 0)


def test_activation_order_on_marlin_up_to_0_29() -> None:
    # TP 2: q, gate, up split by columns, k and v by KV heads (4 of 8), o and down by rows.
    shares = [(4096, 2048), (4096, 512), (4096, 512), (2048, 4096), (4096, 6144), (4096, 6144), (6144, 4096)]
    zeros = sum(i * o // 256 for i, o in shares)  # Marlin frees each rank's zero points
    sort_indices = sum(4 * i for i, _ in shares)  # g_idx stays (sorted), its sort indices come on top
    # o and down hold the whole matrix's group scales (fp16) on every rank: 32 groups instead of 16,
    # 96 instead of 48.
    repeated_scales = (32 - 16) * 4096 * 2 + (96 - 48) * 4096 * 2
    dropped, added = _bytes(True, "l4", "0.29", gpus=2)
    assert dropped == LAYERS * zeros
    assert added == LAYERS * (sort_indices + repeated_scales)


def test_activation_order_is_refused_from_0_30() -> None:
    for release, refused in (("0.29", False), ("0.30", True), ("0.34", True)):
        est = estimate(load_model_spec(_gptq(True)), Query(engine="vllm", gpu="l4", vllm=release), model_id="m")
        assert est.engine_report is not None and est.fit is not None
        error = est.engine_report.start_error
        assert (error is not None and "desc_act=True" in error and "vllm=0.29" in error) is refused
        assert est.fit.fits is not refused
    # dtype=gptq or p=4 restates the checkpoint: still refused.
    for restated in ({"weight_format": "gptq"}, {"bits": 4}):
        q = Query(engine="vllm", gpu="l4", vllm="0.30", **restated)  # type: ignore[arg-type]
        est = estimate(load_model_spec(_gptq(True)), q, model_id="m")
        assert est.engine_report is not None and est.engine_report.start_error is not None
    # With one group per row (group_size -1) the order is no order: no refusal.
    cfg = _gptq(True)
    cfg["quantization_config"] = {**cfg["quantization_config"], "group_size": -1}  # type: ignore[dict-item]
    est = estimate(load_model_spec(cfg), Query(engine="vllm", gpu="l4", vllm="0.34"), model_id="m")
    assert est.engine_report is not None and est.engine_report.start_error is None


def test_the_weights_row_shows_what_the_kernel_drops() -> None:
    spec = load_model_spec(_gptq(False))
    marlin = estimate(spec, Query(engine="vllm", gpu="l4", vllm="0.34"), model_id="m")
    machete = estimate(spec, Query(engine="vllm", gpu="h100", vllm="0.29"), model_id="m")
    terms = {t.part: t.bytes for t in marlin.details.weight_terms}
    assert terms["gptq_dropped"] == -LAYERS * (753_664 + 147_456)
    assert "gptq_dropped" not in {t.part for t in machete.details.weight_terms}
    # The row's parts add up to the weights vLLM reports (memory.weights, per GPU).
    assert sum(terms.values()) == marlin.memory.weights


def test_exllama_keeps_the_zero_points_and_empties_g_idx() -> None:
    g_idx = LAYERS * sum(4 * i for i, _ in MATRICES)
    # The V100 (7.0) is below Marlin's 7.5: ExllamaLinearKernel (and from 0.30 no g_idx is loaded at all).
    assert _bytes(False, "v100", "0.29") == (g_idx, 0)
    assert _bytes(False, "v100", "0.34") == (g_idx, 0)
    # Up to 0.21 an asymmetric checkpoint goes to GPTQConfig (quantization/gptq.py), ExLlama's path.
    cfg = _gptq(False)
    cfg["quantization_config"] = {**cfg["quantization_config"], "sym": False}  # type: ignore[dict-item]
    spec = load_model_spec(cfg)
    query = Query(engine="vllm", gpu="l4", vllm="0.19")
    assert gptq_kernel_bytes(spec, query, lookup_gpu("l4")) == (g_idx, 0)


def test_the_kernel_is_chosen_for_the_fused_module() -> None:
    # Llama-3.2-1B at TP 8: k and v keep 64 columns a rank each, not a multiple of Machete's 128, but
    # the fused q/k/v module has 256 + 64 + 64 = 384, which is: Machete takes every module on the H100.
    cfg = json.loads((FIXTURES / "configs" / "meta-llama__Llama-3.2-1B.json").read_text())
    qc = {"quant_method": "gptq", "bits": 4, "group_size": 128, "sym": True, "desc_act": False}
    spec = load_model_spec({**cfg, "quantization_config": qc})
    query = Query(engine="vllm", gpu="h100", vllm="0.29", gpus=8)
    assert gptq_kernel_bytes(spec, query, lookup_gpu("h100")) == (0, 0)
