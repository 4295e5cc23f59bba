"""The `vram` command end to end on local configs: the table, --json, classic lines, exit codes, prompts."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import run
from bot.settings import Settings

CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
PHI4 = str(CONFIGS / "microsoft__phi-4.json")
QWEN3_8B = str(CONFIGS / "Qwen__Qwen3-8B.json")


def vram(args: list[str], settings: Settings, read=input) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(args, out=out, err=err, settings=settings, read=read)
    return code, out.getvalue(), err.getvalue()


def test_classic_prints_the_six_lines_of_the_spec_exactly(settings: Settings) -> None:
    code, out, err = vram([PHI4, "n=14.7", "s=16384", "b=1", "fa=on", "kv=on", "method=classic"], settings)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "Memory consumption of the model: 29.4 GB",
        "Memory consumption of vanilla inference: 91.27 GB",
        "Memory consumption of inference with GQA: 26.26 GB",
        "Memory consumption of inference with FlashAttention: 5.39 GB",
        "Memory consumption of the KV cache (with GQA): 1.34 GB",
        "Total Memory consumption (given the selected configuration): 36.13 GB",
    ]


def test_version_is_the_answers_vram_version(settings: Settings) -> None:
    # `vram --version` was "unknown option": it prints what --json answers carry as vram_version.
    from bot.report import vram_version

    version = vram_version()
    assert version  # installed (pip install -e), so the check below compares something
    assert vram(["--version"], settings) == (0, f"vram {version}\n", "")
    code, out, err = vram(["--version", "--json"], settings)
    assert (code, json.loads(out), err) == (0, {"vram_version": version}, "")


def test_json_contract_for_phi4(settings: Settings) -> None:
    code, out, _ = vram([PHI4, "s=16384", "b=1", "fa=on", "gpu=h100", "--json"], settings)
    assert code == 0
    data = json.loads(out)
    assert set(data) >= {"model", "revision", "params", "inputs", "memory", "classic", "fit", "vllm", "warnings"}
    # phi-4 by hand: embeddings 100352*5120 = 513,802,240, untied lm_head the same; per layer
    # qkv 5120*(5120+2*10*128) + o 5120*5120 + gate_up 5120*2*17920 + down 17920*5120 + 2 norms*5120
    # = 340,797,440; x40 = 13,631,897,600; + 2*513,802,240 + final norm 5120 = 14,659,507,200.
    assert data["params"]["total"] == 14_659_507_200
    assert data["inputs"] == data["inputs"] | {
        "seq_len": 16384,
        "batch": 1,
        "weight_dtype": "bf16",
        "kv_dtype": "bf16",
        "flash_attention": True,
        "kv_cache": True,
        "gpus": 1,
        "engine": "transformers",
        "gpu": "h100-80gb",
        "method": "calibrated",
    }
    memory = data["memory"]
    assert memory["total"] == memory["weights"] + memory["kv_cache"] + memory["activations"] + memory["overhead"]
    # Weights: 14,659,507,200 parameters x 2 bytes (bf16).
    assert memory["weights"] == 2 * 14_659_507_200
    # KV: phi-4 caches 10 KV heads x 128 dims x (K+V) x 2 bytes x 40 layers = 204,800 bytes per token,
    # x 16,384 tokens (this config revision has sliding_window null: every layer keeps every token).
    assert memory["kv_cache"] == 204_800 * 16_384
    assert data["classic"] == {
        "model_gb": 29.32,
        "vanilla_gb": 91.27,
        "gqa_gb": 26.26,
        "flash_gb": 5.39,
        "kv_cache_gb": 1.34,
        "total_gb": 36.05,
    }
    fit = data["fit"]
    assert fit["gpu_memory"] == 85_030_617_088
    assert fit["headroom"] == 85_030_617_088 - memory["total"]
    assert fit["fits"] is True and fit["min_gpus"] == 1 and fit["max_batch"] >= 1
    assert any(
        w["code"] == "classic_formula" and "KV cache term is 2.5x too small" in w["message"] for w in data["warnings"]
    )


def test_table_output_names_every_part(settings: Settings) -> None:
    code, out, _ = vram([QWEN3_8B, "s=32k", "b=4", "gpu=h100"], settings)
    assert code == 0
    for word in ("Weights", "KV cache", "Activations", "Overhead", "Total", "fits one NVIDIA H100", "Max on this GPU"):
        assert word in out
    assert "kept as #1" in out


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        ([QWEN3_8B, "sq=3"], 2, 'unknown key "sq"; did you mean "s"?'),
        ([QWEN3_8B, "s=0"], 2, "out of range"),
        ([QWEN3_8B, "--bogus"], 2, 'unknown option "--bogus": the options are --json, --limit N, --help and --version'),
        (["./no/such/config.json"], 1, "no/such/config.json"),
        (["show", "999"], 1, "no query #999"),
        (["db", "downgrade"], 2, "vram db upgrade"),
    ],
)
def test_errors_are_one_sentence_with_exit_status(
    settings: Settings, args: list[str], code: int, fragment: str
) -> None:
    got, out, err = vram(args, settings)
    assert got == code
    assert out == ""
    assert fragment in err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.slow  # reads through transformers' config classes (its import: ~1.5 s of CPU)
def test_missing_config_fields_is_exit_1(settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "config.json"
    # A type transformers does not define: no config class fills the missing fields.
    bad.write_text(json.dumps({"model_type": "brand_new_lm", "hidden_size": 4096}))
    code, _, err = vram([str(bad)], settings)
    assert code == 1
    assert "Traceback" not in err and err.startswith("vram: ")


def test_history_and_show_round_trip(settings: Settings) -> None:
    assert vram([QWEN3_8B, "s=8k"], settings)[0] == 0
    assert vram([PHI4, "s=4k"], settings)[0] == 0
    code, out, _ = vram(["history", "--json"], settings)
    assert code == 0
    items = json.loads(out)
    assert [i["id"] for i in items] == [2, 1]  # newest first
    assert {"id", "created_at", "model", "text", "status"} <= set(items[0])
    code, out, _ = vram(["history", "qwen3", "--json"], settings)
    assert [i["id"] for i in json.loads(out)] == [1]
    code, out, _ = vram(["show", "1", "--json"], settings)
    shown = json.loads(out)
    assert shown["inputs"]["seq_len"] == 8192 and shown["params"]["total"] == 8_190_735_360


def test_gpus_and_help(settings: Settings) -> None:
    code, out, _ = vram(["gpus"], settings)
    assert code == 0 and "h100-80gb" in out and "85,030,617,088" in out
    code, out, _ = vram(["help"], settings)
    assert code == 0 and "vram <model>" in out


@pytest.mark.slow
def test_console_script_runs_as_installed(tmp_path: Path) -> None:
    # The real entry point in a subprocess: exit status and stderr as a shell sees them.
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'v.sqlite3'}", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", QWEN3_8B, "b=zero"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("vram: b=zero is not a whole number")


def test_header_is_one_line_however_long_the_path(settings: Settings, tmp_path: Path) -> None:
    # A long local path must not wrap the header: it is the line people paste into a ticket.
    deep = tmp_path / ("d" * 120) / "config.json"
    deep.parent.mkdir()
    deep.write_text(Path(QWEN3_8B).read_text())
    code, out, _ = vram([str(deep), "fa=off"], settings)
    assert code == 0
    first = out.splitlines()[0]
    # This config has no _name_or_path: it is named by its folder (config.json says nothing).
    assert first.startswith("d" * 120 + " (local) · ") and first.endswith("eager attention · transformers")


def test_show_of_a_failed_query_prints_its_sentence(settings: Settings) -> None:
    assert vram([QWEN3_8B, "s=0"], settings)[0] == 2  # kept as a failed query, #1
    code, out, _ = vram(["show", "1"], settings)
    assert code == 0 and "failed: s=0 is out of range" in out
    code, out, _ = vram(["show", "1", "--json"], settings)
    assert code == 0 and json.loads(out)["status"] == "error"


@pytest.mark.parametrize(
    ("args", "first"),
    [
        # A valid question about something vram does not model exits 1 (docs/interface.md: 2 is for
        # invalid input); every error line starts "vram: ", and a sentence naming vram keeps one "vram".
        (["deepseek-ai__DeepSeek-V2-Lite-Chat.json", "engine=vllm", "kv=nvfp4"], "vram: does not model vLLM's nvfp4"),
        (["Qwen__Qwen3-8B.json", "engine=vllm", "vllm=0.35"], "vram: vllm=0.35 is past the newest release"),
    ],
)
def test_what_vram_does_not_model_exits_1(args: list[str], first: str, sqlite_url: str) -> None:
    settings = Settings(database_url=sqlite_url, hf_hub_offline="1")
    code, out, err = vram([str(CONFIGS / args[0]), *args[1:]], settings)
    assert (code, out) == (1, "")
    assert err.startswith(first) and err.count("\n") == 1
    assert "vram: vram" not in err


def test_the_interface_doc_gives_the_exit_status_of_a_release_past_the_newest() -> None:
    # The vllm row said "refused (exit 2)" while the CLI exits 1 (the test above).
    doc = (Path(__file__).resolve().parents[2] / "docs" / "interface.md").read_text()
    row = next(line for line in doc.splitlines() if line.startswith("| `vllm` (`vllm_version`)"))
    assert "0.35 and later are refused (exit 1" in row and "exit 2" not in row


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["mtp=2"], "! mtp is a vLLM setting: it changes nothing with engine=transformers (add engine=vllm)."),
        (["engine=vllm", "mm=2"], "! mm=2 changes nothing: llama has no vision tower (it reads text only)."),
        (
            ["engine=vllm", "dtype=nvfp4"],
            "! dtype=nvfp4 sizes an NVFP4 checkpoint of this model: vLLM 0.34 does not convert a bf16 checkpoint "
            "to NVFP4 on load, so load a pre-quantized one.",
        ),
        (
            ["engine=vllm", "p=3"],
            "! p=3 sizes 3-bit weights of this model: vLLM 0.34 does not convert a bf16 checkpoint to 3 bits on "
            "load, so load a pre-quantized one.",
        ),
    ],
)
def test_ignored_settings_and_formats_no_engine_makes_are_said(args: list[str], line: str, settings: Settings) -> None:
    code, out, err = vram([str(CONFIGS / "meta-llama__Llama-3.1-8B.json"), *args], settings)
    assert (code, err) == (0, "")
    assert line in out.splitlines()


def test_show_with_settings_is_a_what_if_of_the_stored_query(settings: Settings) -> None:
    assert vram([QWEN3_8B, "s=4k", "gpu=h100"], settings)[0] == 0  # #1
    code, out, err = vram(["show", "1", "s=8k", "kv=fp8", "--json"], settings)
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert (data["inputs"]["seq_len"], data["inputs"]["kv_dtype"], data["inputs"]["gpu"]) == (8192, "fp8", "h100-80gb")
    assert data["id"] == 2
    # A comparison: the change applies to both sides.
    assert vram(["compare", QWEN3_8B, PHI4, "gpu=h100"], settings)[0] == 0  # #3 and #4
    code, out, _ = vram(["show", "4", "b=2", "--json"], settings)
    assert code == 0 and [side["inputs"]["batch"] for side in json.loads(out)] == [2, 2]
    # What is wrong is said: a word that is no change, a bad setting, no number at all.
    code, _, err = vram(["show", "1", "bigger"], settings)
    assert code == 2 and "show 1 takes key=value changes after the number" in err and '"bigger"' in err
    code, _, err = vram(["show", "1", "s=abc"], settings)
    assert code == 2 and "s=abc is not a whole number" in err
    code, _, err = vram(["show", "s=64k"], settings)
    assert code == 2 and err.startswith("vram: show needs the number of a stored query")


def test_show_with_settings_of_a_query_that_failed_says_there_is_nothing_to_change(settings: Settings) -> None:
    # A line that never parsed is kept without settings: show #1 may change none of them.
    assert vram(["Qwen/Qwen3-8B", "s=abc"], settings)[0] == 2  # #1, kept as an error
    code, out, err = vram(["show", "1", "s=8k", "--json"], settings)
    assert code == 2 and "#1 failed before it was sized" in err
    assert json.loads(out)["error"]["code"] == "invalid_input"


def test_a_what_if_with_the_same_total_and_another_fit_says_as_before(settings: Settings) -> None:
    # Qwen3-8B in bf16 holds 8.19e9 x 2 B = 15.3 GiB of weights: an H100 holds it, a T4 (14.7 GiB) not.
    assert vram([QWEN3_8B, "gpu=h100"], settings)[0] == 0  # #1
    _, out, _ = vram(["show", "1", "gpu=t4"], settings)
    first = out.splitlines()[0]
    assert "total" in first and "as before, but it no longer fits" in first and "unchanged" not in first


def test_a_what_if_names_the_query_it_changed_and_the_old_values(settings: Settings) -> None:
    assert vram([QWEN3_8B, "s=4k", "gpu=h100"], settings)[0] == 0  # #1
    code, out, err = vram(["show", "1", "s=8k", "b=2"], settings)  # #2
    assert (code, err) == (0, "")
    first = out.splitlines()[0]
    # The totals as the two stored answers give them, one decimal of a GiB (2^30 B).
    before = json.loads(vram(["show", "1", "--json"], settings)[1])["memory"]["total"]
    after = json.loads(vram(["show", "2", "--json"], settings)[1])["memory"]["total"]
    assert after > before  # twice the tokens, twice the sequences
    # The change is the one the two shown totals make, so the line adds up.
    shown_before, shown_after = f"{before / 2**30:.1f}", f"{after / 2**30:.1f}"
    assert first == (
        f"what-if of #1: s=8k (was 4k), b=2 (was 1): total {shown_before} GiB → {shown_after} GiB "
        f"(+{float(shown_after) - float(shown_before):.1f} GiB)"
    )
    # --json links it to #1, as the answer and when shown again; the plain answer #1 has no link.
    code, out, _ = vram(["show", "1", "s=16k", "--json"], settings)  # #3
    assert code == 0 and (json.loads(out)["id"], json.loads(out)["what_if_of"]) == (3, 1)
    assert json.loads(vram(["show", "2", "--json"], settings)[1])["what_if_of"] == 1
    assert "what_if_of" not in json.loads(vram(["show", "1", "--json"], settings)[1])
    # Shown again, and in the history, it says whose what-if it is.
    assert vram(["show", "2"], settings)[1].splitlines()[0].endswith(" UTC · what-if of #1: s=8k b=2")
    assert "what-if of #1: s=16k" in vram(["history"], settings)[1]


def test_show_of_a_question_in_plain_words_gives_its_answer_line_again(settings: Settings) -> None:
    question = f"how many H100s for {QWEN3_8B} at 32k for 64 users with vllm"
    code, out, err = vram([question], settings)  # #1
    assert (code, err) == (0, "")
    (answer,) = [line for line in out.splitlines() if line.startswith("fewest NVIDIA H100 80GB HBM3")]
    code, shown, _ = vram(["show", "1"], settings)
    assert code == 0 and shown.splitlines()[1] == answer
    # A what-if of it answers the question anew, after the line that says what changed.
    code, again, _ = vram(["show", "1", "b=128"], settings)
    lines = again.splitlines()
    assert code == 0 and lines[0].startswith("what-if of #1: b=128 (was 64)")
    assert lines[1].startswith("fewest NVIDIA H100 80GB HBM3") and lines[1] != answer


def test_a_quoted_question_takes_key_value_settings_after_it(settings: Settings) -> None:
    code, out, err = vram([f"will {QWEN3_8B} fit on an H100 with vllm at 32k", "seqs=8"], settings)
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == f"read as: {QWEN3_8B} s=32k gpu=h100-80gb engine=vllm seqs=8"


def test_a_local_model_named_relatively_is_kept_so_show_and_history_work_anywhere(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "models" / "qwen3"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(Path(QWEN3_8B).read_text())
    monkeypatch.chdir(tmp_path / "models")
    assert vram(["./qwen3", "gpu=h100"], settings)[0] == 0  # #1
    monkeypatch.chdir(tmp_path)  # elsewhere: ./qwen3 is not here
    code, out, err = vram(["show", "1", "s=8k"], settings)
    assert (code, err) == (0, "") and out.startswith("what-if of #1: s=8k (was 4k)")
    monkeypatch.chdir(tmp_path / "models")
    listed = vram(["history", "./qwen3"], settings)[1]
    assert "what-if of #1: s=8k" in listed and "No estimates kept yet" not in listed


def test_a_vllm_what_if_adds_up_and_says_what_the_pool_holds(settings: Settings) -> None:
    # The what-if's change is the difference of the two totals as shown, and with engine=vllm the line
    # gives what vLLM's pool holds before and after, the figure each answer's verdict gives.
    assert vram([QWEN3_8B, "engine=vllm", "s=32k", "b=8", "gpu=a100"], settings)[0] == 0  # #1
    code, out, _ = vram(["show", "1", "gpu=h100"], settings)  # #2
    assert code == 0
    first = out.splitlines()[0]
    base = json.loads(vram(["show", "1", "--json"], settings)[1])
    new = json.loads(vram(["show", "2", "--json"], settings)[1])
    shown = [f"{x['memory']['total'] / 2**30:.1f}" for x in (base, new)]
    change = float(shown[1]) - float(shown[0])
    held = [f"{x['vllm']['max_resident']:,.2f}" for x in (base, new)]
    assert first.endswith(
        f"total {shown[0]} GiB → {shown[1]} GiB ({'+' if change >= 0 else '-'}{abs(change):.1f} GiB); "
        f"vLLM's pool holds {held[0]} → {held[1]} requests"
    )


def test_history_marks_a_total_that_is_a_guess(settings: Settings, tmp_path: Path) -> None:
    # A config without num_hidden_layers / hidden_size is sized with transformers' defaults and said
    # to be a guess; the history's total says so too, beside a plain total.
    config = json.loads(Path(QWEN3_8B).read_text())
    del config["num_hidden_layers"], config["hidden_size"]
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    code, out, _ = vram([str(folder)], settings)  # #1
    assert code == 0 and "is a guess, not a verdict" in out
    assert vram([QWEN3_8B], settings)[0] == 0  # #2
    rows = {line.split()[0]: line for line in vram(["history"], settings)[1].splitlines()[1:] if line.strip()}
    assert "(a guess)" in rows["1"] and "(a guess)" not in rows["2"]
    listed = {item["id"]: item["guess"] for item in json.loads(vram(["history", "--json"], settings)[1])}
    assert listed == {1: True, 2: False}


def test_a_what_if_of_a_failed_query_says_what_it_changed(settings: Settings) -> None:
    # #1 is refused (dp= is vLLM's); `show 1 engine=vllm` answers, led by what it changed of #1, which
    # had no answer to compare against; --json names #1 as what it is a what-if of.
    assert vram([QWEN3_8B, "dp=2"], settings)[0] == 2
    code, out, _ = vram(["show", "1", "engine=vllm"], settings)
    assert code == 0 and out.splitlines()[0] == "what-if of #1: engine=vllm (#1 had no answer)"
    code, out, _ = vram(["show", "1", "engine=vllm", "--json"], settings)
    assert code == 0 and json.loads(out)["what_if_of"] == 1
