"""engine=transformers and state-space layers: Mamba-1 mixers sized as transformers' PyTorch scan
runs them; other state layers, whose prefill transients are not modelled, get no verdict."""

from __future__ import annotations

import json
from pathlib import Path

from estimator.config import load_model_spec
from estimator.engines.transformers import WORKSPACE_BYTES, prefill_candidates
from estimator.estimate import estimate
from estimator.query import Query

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
JAMBA = FIXTURES / "configs" / "ai21labs__AI21-Jamba-1.5-Mini.json"


def _spec(path: Path):
    return load_model_spec(json.loads(path.read_text()))


def test_jamba_mamba_scan_at_32k_b4() -> None:
    # Jamba-1.5-Mini: hidden 4096, mamba_expand 2 -> d_inner 8192, d_state 16, head_dim 4096/32 = 128,
    # bf16. b=4 x s=32,768 = 131,072 tokens.
    spec = _spec(JAMBA)
    query = Query(engine="transformers", seq_len=32768, batch=4, flash_attention=True)
    tokens = 131_072
    # Kept through the forward: inputs_embeds 131,072 x 4096 x 2 = 1,073,741,824, rotary 2 x 131,072
    # x 128 x 2 = 67,108,864; the layer input and its norm 2 x 131,072 x 4096 x 2 = 2,147,483,648.
    # In the mixer (modeling_jamba.py, mamba_selective_scan; its locals live until it returns), once
    # the loop is done, in bf16: in_proj (x and gate, 2 x 8192), the conv output, dt_proj's output,
    # softplus(dt + bias), the per-step outputs and their stack: 7 x 8192 x 2 B = 114,688 B per token;
    # in fp32 (D.float()): x * D and the sum with it, 2 x 8192 x 4 B = 65,536 B per token;
    # exp(A dt), dt B and dt B x: 3 x 8192 x 16 x 4 B = 1,572,864 B per token.
    scan = tokens * (114_688 + 65_536 + 1_572_864)
    assert scan == 229_780_750_336
    expected = 1_073_741_824 + 67_108_864 + 2_147_483_648 + scan
    candidates = prefill_candidates(spec, query)
    assert candidates["prefill Mamba scan"] == expected
    est = estimate(spec, query.model_copy(update={"gpu": "h200"}), model_id="jamba")
    assert est.details.activation_peak_where == "prefill Mamba scan"
    assert est.memory.activations == expected + WORKSPACE_BYTES
    # The in_proj output alone (131,072 x 16,384 x 2 B = 4 GiB) was more than the margin once
    # claimed; with the scan modelled the answer is a verdict, and it does not fit.
    assert not est.refused and est.fit is not None and not est.fit.fits
    scan_note = next(w.message for w in est.warnings if w.code == "state_scan_torch_path")
    # 3 x 131,072 x 8192 x 16 x 4 B = 206,158,430,208 B = 192.0 GiB
    assert "192.0 GiB" in scan_note and "mamba-ssm" in scan_note
    assert "state_layers_not_modelled" not in {w.code for w in est.warnings}


def test_jamba_short_prompt_still_fits() -> None:
    # s=4096, b=1: 4096 x 1,753,088 = 7,180,648,448 B of mixer transients: fits one H200 beside 96 GiB.
    est = estimate(_spec(JAMBA), Query(engine="transformers", gpu="h200", seq_len=4096), model_id="jamba")
    assert not est.refused and est.fit is not None and est.fit.fits
    assert est.memory.activations >= 4096 * 1_753_088


def test_unmodelled_state_layers_withhold_the_verdict() -> None:
    for path, kind in [
        (FIXTURES / "calibration2" / "configs" / "qwen3_5_27b.json", "gated DeltaNet"),
        (FIXTURES / "oracle" / "configs" / "mamba2.json", "Mamba-2"),
        # Falcon-H1: a Mamba-2 mixer beside attention in every layer.
        (FIXTURES / "oracle" / "configs" / "falcon_h1.json", "Mamba-2"),
        # Zamba's Mamba-1 mixer is not the scan read for jamba / mamba / falcon_mamba.
        (FIXTURES / "oracle" / "configs" / "zamba.json", "Mamba"),
    ]:
        spec = _spec(path)
        est = estimate(spec, Query(engine="transformers", gpu="h200", seq_len=8192), model_id=path.name)
        assert est.fit is None and len(est.refused) == 1, path.name
        assert f"of the {kind} layers are not modelled" in est.refused[0], est.refused
        assert est.to_json()["refusal"]["code"] == "activations_unmodelled"
        # vLLM sizes these layers: a verdict there.
        vllm = estimate(spec, Query(engine="vllm", gpu="h200", seq_len=8192), model_id=path.name)
        assert not vllm.refused and vllm.fit is not None, path.name


def test_lfm2_short_convolution() -> None:
    # LFM2 with conv layers (the oracle config lists attention only): Lfm2ShortConv holds its in_proj
    # output (B, C, x: 3 x hidden) beside the conv output, C x conv and its contiguous copy (or
    # out_proj's output): 6 x hidden per token, next to the layer input and its norm.
    cfg = json.loads((FIXTURES / "oracle" / "configs" / "lfm2.json").read_text())
    cfg["layer_types"] = ["conv", "full_attention"] * (cfg["num_hidden_layers"] // 2)
    spec = load_model_spec(cfg)
    assert {layer.mixer for layer in spec.layers} == {"short_conv", ""}
    assert spec.torch_dtype == "bf16" and cfg["hidden_size"] == 2560 and spec.head_dim == 80
    query = Query(seq_len=8192, flash_attention=True)
    candidates = prefill_candidates(spec, query)
    # kept: inputs_embeds 8192 x 2560 x 2 = 41,943,040 + rotary 2 x 8192 x 80 x 2 = 2,621,440;
    # stream 2 x 8192 x 2560 x 2 = 83,886,080; mixer 6 x 8192 x 2560 x 2 = 251,658,240
    assert candidates["prefill short convolution"] == 41_943_040 + 2_621_440 + 83_886_080 + 251_658_240
    est = estimate(spec, query.model_copy(update={"gpu": "h200"}), model_id="lfm2")
    assert not est.refused and est.fit is not None


def test_attention_only_model_is_not_withheld() -> None:
    est = estimate(_spec(FIXTURES / "configs" / "meta-llama__Llama-3.1-8B.json"), Query(gpu="h100"), model_id="llama")
    assert not est.refused and est.fit is not None


def test_pure_mamba_gets_a_verdict_and_no_attention_choice() -> None:
    # MambaForCausalLM declares no sdpa, but it has no attention: nothing is sized as eager, no note.
    spec = _spec(FIXTURES / "oracle" / "configs" / "mamba.json")
    est = estimate(spec, Query(engine="transformers", gpu="h100", seq_len=8192), model_id="mamba")
    assert not est.refused and est.fit is not None and est.details.fused_attention
    assert "prefill Mamba scan" in prefill_candidates(spec, Query(seq_len=8192))
    assert "eager_by_default" not in {w.code for w in est.warnings}
