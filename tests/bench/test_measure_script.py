"""CPU-side checks of bench/measure_transformers.py: planning, config loading, JSON writing.

The GPU part (building models, generate) runs only on a machine with torch and CUDA; these tests
make sure the script imports without torch and that what it plans and writes is right.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "bench" / "measure_transformers.py"


@pytest.fixture(scope="module")
def mt():
    had_torch = "torch" in sys.modules
    spec = importlib.util.spec_from_file_location("measure_transformers", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["measure_transformers"] = module  # dataclasses resolve annotations through it
    spec.loader.exec_module(module)
    # Importing the script must not import torch (it runs here without it).
    assert had_torch or "torch" not in sys.modules
    return module


def test_plan_covers_the_size_ladder(mt) -> None:
    models = [p.model for p in mt.DEFAULT_PLAN]
    # 0.5B to 14B dense, both sliding-window families, a MoE.
    for wanted in (
        "Qwen/Qwen3-0.6B",
        "meta-llama/Llama-3.2-1B",
        "meta-llama/Llama-3.2-3B",
        "Qwen/Qwen3-4B",
        "Qwen/Qwen3-8B",
        "google/gemma-2-9b-it",
        "google/gemma-3-1b-it",
        "microsoft/phi-4",
        "Qwen/Qwen3-30B-A3B",
    ):
        assert wanted in models
    cases = mt.plan_cases(mt.DEFAULT_PLAN)
    assert {c.attn for c in cases} == {"sdpa", "eager"}
    # Per model: every sdpa case before any eager case (sdpa is the default path, measured first).
    for model in models:
        attns = [c.attn for c in cases if c.model == model]
        assert attns == sorted(attns, key=lambda a: a != "sdpa")
        assert "sdpa" in attns and "eager" in attns


def test_plan_arithmetic(mt) -> None:
    plan = (mt.ModelPlan("a/b", "x.json", ((1024, 1), (4096, 8)), ((512, 1),)),)
    cases = mt.plan_cases(plan, new_tokens=8)
    assert [(c.attn, c.seq_len, c.batch) for c in cases] == [("sdpa", 1024, 1), ("sdpa", 4096, 8), ("eager", 512, 1)]
    # s counts prompt + generated tokens, as the estimator's s= does.
    assert cases[0].prompt_len == 1016
    assert cases[1].case_id == "tf-a__b-sdpa-s4096-b8"
    assert [c.seq_len for c in mt.plan_cases(plan, max_seq_len=1024)] == [1024, 512]
    assert mt.plan_cases(plan, models=["other/model"]) == []
    assert [c.attn for c in mt.plan_cases(plan, attn_impls=["eager"])] == ["eager"]
    with pytest.raises(ValueError, match="no prompt"):
        mt.plan_cases(plan, new_tokens=512)
    with pytest.raises(ValueError, match="unknown attention"):
        mt.plan_cases(plan, attn_impls=["flash"])


def test_every_planned_config_loads(mt) -> None:
    for p in mt.DEFAULT_PLAN:
        cfg = mt.load_config_dict(p.config_file)
        text = mt.text_config_dict(cfg)
        assert int(text["num_attention_heads"]) > 0, p.model
        assert int(text["vocab_size"]) > 0, p.model


def test_load_config_rejects_non_configs(mt, tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"hello": 1}')
    with pytest.raises(ValueError, match="model_type"):
        mt.load_config_dict("bad.json", tmp_path)
    with pytest.raises(FileNotFoundError):
        mt.load_config_dict("absent.json", tmp_path)
    nested = {"model_type": "gemma3", "text_config": {"num_attention_heads": 8}}
    assert mt.text_config_dict(nested) == {"num_attention_heads": 8}


def test_eager_score_bytes(mt) -> None:
    # Qwen3-8B: 32 heads; s=4096, b=2: 2 x 32 x 4096^2 x 10 B
    cfg = mt.load_config_dict("Qwen__Qwen3-8B.json")
    assert mt.eager_score_bytes(cfg, 4096, 2) == 2 * 32 * 4096 * 4096 * 10


def test_oom_dominance(mt) -> None:
    c = mt.Case("m", "f", "eager", 4096, 4, 8)
    assert mt.dominated_by_oom(mt.Case("m", "f", "eager", 8192, 4, 8), [c])
    assert mt.dominated_by_oom(mt.Case("m", "f", "eager", 4096, 8, 8), [c])
    assert not mt.dominated_by_oom(mt.Case("m", "f", "eager", 2048, 8, 8), [c])
    assert not mt.dominated_by_oom(mt.Case("m", "f", "sdpa", 8192, 4, 8), [c])
    assert not mt.dominated_by_oom(mt.Case("n", "f", "eager", 8192, 4, 8), [c])


def test_records_follow_the_calibration_format(mt, tmp_path: Path) -> None:
    calib = json.loads((REPO / "tests" / "fixtures" / "calibration" / "measurements.json").read_text())
    tf_keys = {k for c in calib if "transformers" in c["engine"].lower() for k in c}
    case = mt.Case("Qwen/Qwen3-8B", "Qwen__Qwen3-8B.json", "sdpa", 8192, 2, 8)
    measured = {"weights_bytes": 16_381_470_720, "max_allocated_bytes": 20_000_000_000, "oom": False}
    rec = mt.case_record(
        case,
        gpu_name="NVIDIA H200",
        gpu_total_bytes=150_121_545_728,
        engine_version="transformers 5.17.0, torch 2.11.0",
        measured=measured,
    )
    assert tf_keys <= set(rec), tf_keys - set(rec)
    assert rec["engine"] == "transformers"
    assert rec["source"] == "bench/measure_transformers.py on NVIDIA H200"
    assert (rec["s"], rec["b"], rec["attn"], rec["prompt_tokens"], rec["new_tokens"]) == (8192, 2, "sdpa", 8184, 8)
    assert rec["gpu_total_gib"] == round(150_121_545_728 / 2**30, 2)
    assert rec["measured"] == measured

    out = tmp_path / "sub" / "r.json"
    mt.write_results([rec], out)
    assert json.loads(out.read_text()) == [rec]
    mt.write_results([rec, rec], out)  # rewritten whole each time
    assert len(json.loads(out.read_text())) == 2
    assert not out.with_suffix(".json.tmp").exists()


def test_output_path(mt, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert mt.gpu_slug("NVIDIA H200") == "h200"
    assert mt.gpu_slug("NVIDIA H100 80GB HBM3") == "h100-80gb-hbm3"
    monkeypatch.setenv("OUT", str(tmp_path))
    assert mt.output_path(None, "h200") == tmp_path / "transformers-h200.json"
    assert mt.output_path("x/y.json", "h200") == Path("x/y.json")
    monkeypatch.delenv("OUT")
    assert mt.output_path(None, "h200") == REPO / "bench" / "results" / "transformers-h200.json"


def test_dry_run_needs_no_torch(mt, capsys: pytest.CaptureFixture[str]) -> None:
    assert mt.main(["--dry-run", "--models", "Qwen/Qwen3-0.6B", "--attn", "sdpa"]) == 0
    out = capsys.readouterr().out
    n = len(mt.plan_cases(mt.DEFAULT_PLAN, models=["Qwen/Qwen3-0.6B"], attn_impls=["sdpa"]))
    assert f"{n} cases" in out
    assert "tf-Qwen__Qwen3-0.6B-sdpa-s1024-b1" in out


def test_compare_one_case(mt) -> None:
    from bench.compare_transformers import compare_case, summarize

    case = mt.Case("Qwen/Qwen3-0.6B", "Qwen__Qwen3-0.6B.json", "sdpa", 1024, 1, 8)
    measured = {
        "weights_bytes": 1_192_099_840,
        "cuda_context_bytes": 520 * 2**20,
        "max_allocated_bytes": 1_400_000_000,
        "max_reserved_bytes": 1_500_000_000,
        "reserved_bytes_after": 1_500_000_000,
        "cuda_used_bytes": 2_100_000_000,
        "kv_cache_bytes": 117_325_824,
        "params": 596_049_920,
        "oom": False,
    }
    rec = mt.case_record(
        case, gpu_name="NVIDIA H200", gpu_total_bytes=150_000_000_000, engine_version="x", measured=measured
    )
    row = compare_case(rec)
    assert row is not None
    # Qwen3-0.6B: 596,049,920 parameters (tied) x 2 B
    assert row["weights"] == (1_192_099_840, 1_192_099_840)
    # cache at the end: 1023 tokens (the last one is never fed) x 28 layers x 8 KV heads x (128 + 128) x 2 B
    assert row["kv_end"] == (1023 * 28 * 8 * 256 * 2, 117_325_824)
    assert row["activations"][1] == 1_400_000_000 - 1_192_099_840 - 117_325_824
    assert row["allocated"][1] == 1_400_000_000
    assert row["reserve"] == 100_000_000
    # context: device used - torch reserved after generate = 2,100,000,000 - 1,500,000,000
    assert row["context"] == 600_000_000
    s = summarize([row])
    assert s["cases"] == 1 and s["median_cuda_context_bytes"] == 600_000_000

    # The H200 run built it untied: 596,049,920 + 151,936 x 1,024 = 751,632,384 parameters; the
    # comparison then predicts the model as built: + 155,582,464 x 2 B = 311,164,928.
    untied = mt.case_record(
        case,
        gpu_name="NVIDIA H200",
        gpu_total_bytes=150_000_000_000,
        engine_version="x",
        measured={**measured, "params": 751_632_384, "weights_bytes": 1_503_280_640},
    )
    row = compare_case(untied)
    assert row is not None and row["lm_head_extra"] == 311_164_928
    assert row["weights"] == (1_192_099_840 + 311_164_928, 1_503_280_640)
    # Recorded as tied (the script since the fix) or any other count: no silent adjustment.
    tied = mt.case_record(
        case,
        gpu_name="g",
        gpu_total_bytes=1,
        engine_version="x",
        measured={**measured, "params": 751_632_384, "tied_embeddings": True},
    )
    with pytest.raises(ValueError, match="751,632,384 parameters"):
        compare_case(tied)

    failed = mt.case_record(
        case, gpu_name="g", gpu_total_bytes=1, engine_version="x", measured={"oom": True, "error": "CUDA out of memory"}
    )
    assert compare_case(failed) is None


def test_trace_prediction_for_a_shrunken_model() -> None:
    from bench.measure_transformers import load_config_dict
    from bench.trace_prefill_cpu import predicted_over_weights, shrink

    cfg = shrink(load_config_dict("Qwen__Qwen3-0.6B.json"), 2)
    assert cfg["num_hidden_layers"] == 2 and cfg["hidden_size"] == 1024
    predicted, where = predicted_over_weights(cfg, 2048, 1, "sdpa")
    # KV: 2 layers x 2048 tokens x 8 KV heads x (128 + 128) x 2 B = 16,777,216
    # MLP: embeddings 2048 x 1024 x 2 + rotary 2 x 2048 x 128 x 2 + layer input, residual, normed
    #      3 x 2048 x 1024 x 2 + act(gate), up, product 3 x 2048 x 3072 x 2
    # (the CPU trace with transformers 5.17 / torch 2.11 measured 72,384,512: -0.05%)
    assert where == "prefill MLP"
    assert predicted == 16_777_216 + 4_194_304 + 1_048_576 + 12_582_912 + 37_748_736
    nested = shrink(
        {"model_type": "gemma3", "text_config": {"num_hidden_layers": 34, "layer_types": ["sliding"] * 34}}, 6
    )
    assert nested["text_config"]["num_hidden_layers"] == 6 and len(nested["text_config"]["layer_types"]) == 6


def test_build_ties_embeddings_like_a_checkpoint_load(mt) -> None:
    """transformers 5.x ties lm_head in ``init_weights``, which ``no_init_weights`` skips: the
    script must tie again (runs where torch and transformers are installed; skipped here)."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    cfg = mt.load_config_dict("Qwen__Qwen3-0.6B.json")  # tie_word_embeddings: true
    cfg.update(
        num_hidden_layers=1,
        hidden_size=64,
        intermediate_size=128,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        vocab_size=1000,
        bos_token_id=1,
        eos_token_id=2,
    )
    model = mt.build_model(cfg, device="cpu")
    assert mt.embeddings_tied(model)
    # One layer of hidden 64: embedding 1000 x 64 = 64,000 counted once; untied it would be 128,000.
    # Layer: q 64x64 + k 64x32 + v 64x32 + o 64x64 = 12,288; q/k norms 2 x 32; MLP 3 x 64 x 128 =
    # 24,576; two layer norms 2 x 64; final norm 64: 64,000 + 12,288 + 64 + 24,576 + 128 + 64.
    assert sum(p.numel() for p in model.parameters()) == 64_000 + 12_288 + 64 + 24_576 + 128 + 64


@pytest.mark.slow  # a brute-force grid search, run four times
def test_reserve_fit_recovers_known_constants() -> None:
    from bench.compare_transformers import fit_reserve, leave_one_model_out, total_errors

    MiB = 2**20
    context = 700 * MiB

    def row(model: str, allocated: int, activations: int, score_bytes: int, elements: int) -> dict:
        # measured total made with floor 64 MiB, 0.12 of the non-score transient, 4 B per score
        used = allocated + context + 64 * MiB + int(0.12 * (activations - score_bytes)) + 4 * elements
        return {
            "model": model,
            "allocated": (allocated, 0),
            "activations": (activations, 0),
            "score_bytes": score_bytes,
            "score_elements": elements,
            "total": (0, used),
        }

    rows = [
        row("a", 10 * 2**30, 2**30, 0, 0),
        row("b", 3 * 2**30, 2 * 2**30, 0, 0),
        row("c", 4 * 2**30, 3 * 2**30, 2_684_354_560, 268_435_456),
        row("a", 12 * 2**30, 5 * 2**30, 0, 0),
        row("b", 8 * 2**30, 6 * 2**30, 5 * 2**30, 2**29),
    ]
    fit = fit_reserve(rows, context)
    assert (fit["floor_bytes"], fit["fraction"], fit["bytes_per_score"]) == (64 * MiB, 0.12, 4.0)
    assert fit["max_abs_err"] < 1e-9
    assert max(abs(e) for e in total_errors(rows, context, 0, 0.0, 0.0)) > 0.05
    held = leave_one_model_out(rows, context)
    assert [h["held_out"] for h in held] == ["a", "b", "c"]
