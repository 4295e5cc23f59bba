"""One rule for exit statuses (docs/interface.md): 0 for an answer with numbers, "vLLM will not start"
verdicts included; 2 for what the user typed that must change before anything can be sized; 1 for
what vram cannot answer. With --json an error is also an object on stdout; every error line on
stderr starts "vram: "."""

from __future__ import annotations

import json
from pathlib import Path

from bot.settings import Settings
from tests.bot.test_cli import QWEN3_8B, vram

CALIBRATION = Path(__file__).resolve().parents[1] / "fixtures" / "calibration2" / "configs"
QWEN27 = str(CALIBRATION / "qwen3_5_27b.json")
DSV4 = str(CALIBRATION / "deepseek_v4_flash.json")
NVFP4_MOE = str(CALIBRATION / "qwen3_6_35b_a3b_nvfp4.json")
DFLASH27 = CALIBRATION / "qwen3_6_27b_dflash.json"


def test_a_tp_size_vllm_refuses_is_a_verdict_with_its_warning_code(settings: Settings) -> None:
    # Qwen3.5-27B has 4 KV heads: 3 GPUs and 4 heads do not divide one another.
    args = [QWEN27, "engine=vllm", "gpu=h100", "tp=3"]
    code, out, err = vram([*args, "--json"], settings)
    assert (code, err) == (0, "")
    data = json.loads(out)
    refusal = data["fit"]["engine_refuses"]
    assert data["fit"]["fits"] is False and refusal.startswith("vLLM will not start with gpus=3")
    assert [w["message"] for w in data["warnings"] if w["code"] == "engine_refuses"] == [refusal + "."]
    # A server that does not start holds nothing: no capacity, no util to suggest; the pool stays.
    v = data["vllm"]
    assert (v["starts"], v["max_concurrency"], v["kv_cache_tokens"], v["util_to_fit"]) == (False, 0.0, 0, None)
    assert v["kv_cache_memory"] > 0
    assert (data["fit"]["max_seq_len"], data["fit"]["max_batch"]) == (None, None)
    # The text says it once, in the verdict line.
    code, out, _ = vram(args, settings)
    assert code == 0 and out.count("will not start with gpus=3") == 1


def test_deepseek_v4_without_an_fp8_kv_cache_before_0_30_is_a_verdict(settings: Settings) -> None:
    # 0.20-0.29 assert an fp8 KV cache; the user typed no kv=, so nothing typed is invalid.
    code, out, err = vram([DSV4, "engine=vllm", "gpu=h200", "tp=8", "vllm=0.25", "--json"], settings)
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["fit"]["fits"] is False and data["vllm"]["starts"] is False
    assert data["fit"]["engine_refuses"] == (
        "vLLM 0.25 will not start DeepSeek-V4 with the model's bf16 KV cache (kv= unsaid): it serves it with an "
        "fp8 KV cache only; add kv=fp8"
    )
    assert "engine_refuses" in [w["code"] for w in data["warnings"]]
    code, out, _ = vram([DSV4, "engine=vllm", "gpu=h200", "tp=8", "vllm=0.25", "kv=fp8", "--json"], settings)
    assert code == 0 and json.loads(out)["fit"]["engine_refuses"] is None
    # kv=bf16 asked on 0.34: sized in the fp8 pages vLLM keeps, refused, and the answer says what was asked
    # beside what was sized (the header, and --json's inputs.kv beside inputs.kv_dtype).
    code, out, _ = vram([DSV4, "engine=vllm", "gpu=h200", "tp=8", "kv=bf16"], settings)
    assert code == 0 and " · KV fp8 (kv=bf16 asked) · " in out.splitlines()[0]
    code, out, _ = vram([DSV4, "engine=vllm", "gpu=h200", "tp=8", "kv=bf16", "--json"], settings)
    inputs = json.loads(out)["inputs"]
    assert (inputs["kv"], inputs["kv_dtype"]) == ("bf16", "fp8")


def test_a_kv_dtype_the_gpu_does_not_run_is_a_verdict_one_the_release_lacks_is_input(settings: Settings) -> None:
    code, out, _ = vram([NVFP4_MOE, "engine=vllm", "gpu=h100", "kv=nvfp4", "vllm=0.31", "--json"], settings)
    assert code == 0
    refusal = json.loads(out)["fit"]["engine_refuses"]
    assert refusal.startswith("vLLM will not start with kv=nvfp4: vLLM 0.31's nvfp4 KV cache runs on sm100-family")
    # No release-0.19 layout to size, and no vLLM has an int8 KV cache: what was typed must change.
    for words in (["kv=nvfp4", "vllm=0.19"], ["kv=int8"]):
        code, out, err = vram([NVFP4_MOE, "engine=vllm", "gpu=h100", *words], settings)
        assert (code, out) == (2, "") and err.startswith("vram: ") and err.count("\n") == 1


def test_json_errors_are_an_object_on_stdout_with_the_same_status(settings: Settings) -> None:
    code, out, err = vram([QWEN3_8B, "s=abc", "--json"], settings)
    assert code == 2 and err.startswith("vram: s=abc is not a whole number")
    assert json.loads(out) == {"error": {"code": "invalid_input", "message": err[len("vram: ") : -1], "exit_code": 2}}
    code, out, err = vram(["show", "999", "--json"], settings)
    assert code == 1 and json.loads(out)["error"] == {
        "code": "not_found",
        "message": "no query #999 here: history lists the ones you can see",  # the terminal drops markup
        "exit_code": 1,
    }
    code, out, _ = vram(["acme/absent", "--json"], Settings(database_url=settings.database_url, hf_hub_offline="1"))
    assert code == 1 and json.loads(out)["error"]["code"] == "hub_unavailable"
    # Without --json stdout stays empty.
    code, out, _ = vram([QWEN3_8B, "s=abc"], settings)
    assert (code, out) == (2, "")


def test_a_drafter_before_its_release_says_the_release_not_the_files(settings: Settings, tmp_path: Path) -> None:
    # A drafter folder with config.json alone: its tensors are unread, but vLLM 0.19 has no DFlash at all.
    drafter = tmp_path / "dflash"
    drafter.mkdir()
    (drafter / "config.json").write_text(DFLASH27.read_text())
    args = [QWEN27, "engine=vllm", "gpu=h100", f"draft={drafter}", "spec=8"]
    code, out, err = vram([*args, "vllm=0.19"], settings)
    assert (code, out) == (2, "")
    assert err == (
        f"vram: vLLM cannot be sized with draft={drafter}: vLLM 0.19 has no DFlash drafter "
        "(model_executor/models/qwen3_dflash.py arrives in 0.20): use vllm=0.20 or later\n"
    )
    # From 0.20 the unread tensors are vram's limit (exit 1), and the line starts "vram: " as every error does.
    code, out, err = vram([*args, "vllm=0.20"], settings)
    assert (code, out) == (1, "")
    assert err.startswith(f"vram: could not read which tensors the drafter {drafter} ships")


def test_more_pipeline_stages_than_layers_is_invalid_input(settings: Settings) -> None:
    # Qwen3-8B's 36 decoder layers cannot fill 37 stages: what was typed must change (exit 2).
    code, out, err = vram([QWEN3_8B, "engine=vllm", "gpu=h100", "pp=37", "--json"], settings)
    assert code == 2 and json.loads(out)["error"]["code"] == "invalid_input"
    assert err.startswith("vram: pp=37 is too many stages") and "pp=36 or fewer" in err


def test_a_layer_kind_vram_does_not_model_has_one_code() -> None:
    # A config's layer kind vram does not model is the same case as an unmodelled layout or release:
    # `unmodelled` in --json and exit 1, wherever it is raised (it was `config` from the layer reader).
    from common.errors import UnmodelledError
    from estimator.layerkinds import Unmodelled

    err = Unmodelled("m has layers of type 'alien', which vram does not model.")
    assert isinstance(err, UnmodelledError) and err.code == "unmodelled" and err.exit_code == 1
