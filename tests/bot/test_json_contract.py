"""`--json` for scripts: a schema version, the tool's version, the stored record's id, warnings with
codes from a closed set, and a flag for a context window exceeded."""

from __future__ import annotations

import io
import json
import tomllib
from pathlib import Path
from typing import Any, get_args

from bot import blocks, report
from bot.cli import run
from bot.settings import Settings
from estimator.notes import WarningCode
from estimator.result import SCHEMA_VERSION, Estimate

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "tests" / "fixtures" / "configs"
PHI4 = str(CONFIGS / "microsoft__phi-4.json")
CODES = set(get_args(WarningCode))


def vram_json(settings: Settings, *args: str) -> Any:
    out, err = io.StringIO(), io.StringIO()
    code = run([*args, "--json"], out=out, err=err, settings=settings)
    assert code == 0, err.getvalue()
    return json.loads(out.getvalue())


def test_versions_and_the_stored_id(settings: Settings) -> None:
    data = vram_json(settings, PHI4, "s=8k")
    assert data["schema_version"] == SCHEMA_VERSION == 5
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert data["vram_version"] == version
    # The id is the record `vram show` finds, and show --json gives the same object back.
    assert isinstance(data["id"], int)
    again = vram_json(settings, "show", str(data["id"]))
    assert again["id"] == data["id"] and again["memory"] == data["memory"]
    second = vram_json(settings, PHI4, "s=16k")
    assert second["id"] == data["id"] + 1  # `show` stores nothing; each estimate is a record


def test_warnings_are_objects_with_closed_codes(settings: Settings) -> None:
    # phi-4 at s=32k with vLLM, fa=off, no GPU, and util with transformers: several warnings at once.
    data = vram_json(settings, PHI4, "s=32k", "engine=vllm", "fa=off")
    codes = [w["code"] for w in data["warnings"]]
    assert all(set(w) == {"code", "message"} for w in data["warnings"])
    assert set(codes) <= CODES and "unclassified" not in codes
    assert {"context_window_exceeded", "fused_attention_always", "no_gpu_given", "classic_formula"} <= set(codes)
    other = vram_json(settings, PHI4, "util=0.8")
    assert [w["code"] for w in other["warnings"] if "vLLM setting" in w["message"]] == ["setting_ignored"]


def test_context_window_exceeded_is_a_flag(settings: Settings) -> None:
    # phi-4's config: max_position_embeddings 16,384.
    long = vram_json(settings, PHI4, "s=16385")
    exact = vram_json(settings, PHI4, "s=16384")
    assert long["details"]["context_window"] == 16_384
    assert long["details"]["context_window_exceeded"] is True
    assert exact["details"]["context_window_exceeded"] is False


def test_answers_stored_before_codes_still_show() -> None:
    # A record written before warnings had codes holds plain sentences: they read back unclassified.
    old = {
        "model": "m",
        "revision": None,
        "params_total": 1,
        "params_active": None,
        "query": {"model": "m"},
        "memory": {"weights": 1, "kv_cache": 0, "activations": 0, "overhead": 0},
        "classic": {
            "model_gb": None,
            "vanilla_gb": None,
            "gqa_gb": None,
            "flash_gb": None,
            "kv_cache_gb": None,
            "total_gb": None,
        },
        "details": {
            "kv_bytes_per_token": 0,
            "weight_format": "bf16",
            "kv_dtype": "bf16",
            "activation_peak_where": "x",
            "params_source": "config",
            "classic_kv_ratio": None,
        },
        "warnings": ["an old sentence"],
    }
    est = Estimate.model_validate(old)
    assert [(w.code, w.message) for w in est.warnings] == [("unclassified", "an old sentence")]


def test_a_max_seq_len_past_the_context_window_says_it_is_memory_only(settings: Settings) -> None:
    # Qwen3-0.6B: 40,960 positions. With kv=fp8 (28 layers x 8 KV heads x 256 x 1 B = 57,344 B per
    # token) an H200 holds millions of tokens: memory alone, not the model's positions.
    data = vram_json(settings, str(CONFIGS / "Qwen__Qwen3-0.6B.json"), "kv=fp8", "gpu=h200")
    window = data["details"]["context_window"]
    assert window == 40_960
    assert data["fit"]["max_seq_len"] > window and data["fit"]["max_seq_len_memory_only"] is True
    # Within the window there is no qualifier.
    data = vram_json(settings, str(CONFIGS / "Qwen__Qwen3-0.6B.json"), "gpu=t4", "b=64")
    assert data["fit"]["max_seq_len"] < window and data["fit"]["max_seq_len_memory_only"] is False


def test_answers_stored_before_pipeline_and_replicas_still_replay() -> None:
    # Estimates as the history kept them before pp=, dp=, the start check and the new KV-term
    # fields (transformers and vLLM answers, one and two GPUs): every model forbids unknown fields,
    # so a field renamed or made required breaks `show` of every older record.
    stored = json.loads((ROOT / "tests" / "fixtures" / "stored" / "estimates_2026-12-06.json").read_text())
    for record in stored["estimates"]:
        est = Estimate.model_validate(record)
        assert (est.query.pp, est.query.dp) == (1, 1)
        assert est.fit is not None and est.fit.min_gpus_dp == 1 and est.fit.max_seq_len_memory_only is False
        assert report.verdict(est).startswith("Total ")
        report.breakdown(est)
        blocks.estimate_message(est)
        assert est.to_json()["inputs"]["dp"] == 1


def test_method_classic_carries_no_engine_accounting(settings: Settings) -> None:
    # The six classic terms decide memory and the fit; vLLM's pool beside them would be a second,
    # different capacity in one object.
    data = vram_json(settings, PHI4, "s=16k", "method=classic", "engine=vllm", "gpu=h100")
    assert data["vllm"] is None
    # The fit follows the classic total (36.05 GB, the six lines) on the H100's 85,030,617,088 bytes.
    assert round(data["memory"]["total"] / 1e9, 2) == 36.05
    assert data["fit"]["headroom"] == 85_030_617_088 - data["memory"]["total"]
