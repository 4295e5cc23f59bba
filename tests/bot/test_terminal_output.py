"""What the terminal prints, read as a user or a script reads it: lines, names, numbers, history."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.console import TrimmedLines, make_console
from bot.names import model_name, shorten_paths
from bot.report import tokens
from bot.settings import Settings
from tests.bot.test_cli import CONFIGS, PHI4, QWEN3_8B, vram

# Subprocesses, both databases or many generated examples: outside the fast subset.
pytestmark = pytest.mark.slow

QWEN3_06B = str(CONFIGS / "Qwen__Qwen3-0.6B.json")
# The classic-formula warning for phi-4 at s=16k is longer than any terminal: a wrapped one shows.
PHI4_WARNING = (
    # 36.05 GB (10^9 B) is 33.6 GiB; this estimate's 36,925,804,134 B is 34.4 GiB.
    "! The classic formula says 33.6 GiB here (this estimate: 34.4 GiB, close only because its "
    "errors cancel): its KV cache term is 2.5x too small; its activation term is 1.8x too large."
)


# -- piped output is not hard-wrapped ----------------------------------------------------------
@pytest.mark.parametrize("columns", ["40", "200"])
def test_piped_output_is_one_line_per_row_whatever_columns_says(tmp_path: Path, columns: str) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'v.sqlite3'}", "PATH": "/usr/bin:/bin", "COLUMNS": columns}
    proc = subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", PHI4, "s=16k", "gpu=h100"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert PHI4_WARNING in lines
    assert "KV cache      3.12   3,355,443,200  200 KiB per token x 16,384 tokens x 1 sequence, bf16" in lines
    assert [x for x in lines if x != x.rstrip()] == []  # no trailing spaces
    assert len(lines) == 12  # header, verdict, bar, 6 table rows, max, warning, kept-as


def test_in_process_output_is_unwrapped_and_trimmed(settings: Settings) -> None:
    code, out, _ = vram([PHI4, "s=16k", "gpu=h100"], settings)
    assert code == 0
    assert PHI4_WARNING in out.splitlines()
    assert all(line == line.rstrip() for line in out.splitlines())


def test_trimmed_lines_pass_whole_lines_without_trailing_spaces() -> None:
    sink = io.StringIO()
    stream = TrimmedLines(sink)
    stream.write("a  \nb")
    assert sink.getvalue() == "a\n"  # "b" waits for its end of line
    stream.write("  \n  c \n")
    assert sink.getvalue() == "a\nb\n  c\n"
    stream.write("tail  ")
    stream.flush()
    assert sink.getvalue() == "a\nb\n  c\ntail"


def test_a_terminal_still_gets_its_width() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert make_console(Tty()).file.isatty()
    assert not make_console(io.StringIO()).file.isatty()


# -- no Markdown in terminal text --------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        [PHI4],  # "add gpu=h100 to check the fit", "kept as #1: vram show 1"
        [str(CONFIGS / "deepseek-ai__DeepSeek-V3.json"), "gpu=h100"],  # "it fits on N of them (gpus=N)"
        [PHI4, "gpu=zzzz"],  # "unknown GPU ...; run vram gpus for the list"
        ["db", "downgrade"],  # "the db command is vram db upgrade"
        ["show", "7"],  # "history lists the ones you can see"
        ["help"],
        ["compare", QWEN3_8B, PHI4, "s=32k", "engine=vllm"],
    ],
)
def test_no_backticks_in_terminal_text(settings: Settings, args: list[str]) -> None:
    _, out, err = vram(args, settings)
    assert out + err
    assert "`" not in out and "`" not in err, out + err


def test_the_words_stay_when_the_backticks_go(settings: Settings) -> None:
    _, out, _ = vram([PHI4], settings)
    assert "(add gpu=h100 to check the fit, gpu=any for every card)" in out and "kept as #1: vram show 1" in out
    _, out, _ = vram([str(CONFIGS / "deepseek-ai__DeepSeek-V3.json"), "gpu=h100"], settings)
    assert re.search(r"it fits on (\d+) of them \(gpus=\1\)", out), out
    _, _, err = vram(["db", "downgrade"], settings)
    assert err == "vram: the db command is vram db upgrade\n"


# -- thousands separators in token counts ------------------------------------------------------
@pytest.mark.parametrize(
    ("n", "shown"),
    [
        (1_023 * 1024, "1,023k"),
        # From one M (1024 x 1024) up, M with two decimals, rounded down: 3,859k = 3,951,616 tokens
        # = 3.7686 M; 2,323k = 2.2686 M; 1,048,577 = 1.000001 M.
        (3_859 * 1024, "3.76M"),
        (2_323 * 1024 + 1023, "2.26M"),
        (1_048_577, "1M"),
        (int(1.5 * 1024 * 1024), "1.5M"),
        (227 * 1024 + 5, "227k"),
        (9_999, "9,999"),
        (16 * 1024 * 1024, "16M"),
        (1_024 * 1024 * 1024, "1,024M"),
    ],
)
def test_token_counts_have_thousands_separators(n: int, shown: str) -> None:
    assert tokens(n) == shown


def test_max_tokens_over_a_million_are_in_m(settings: Settings) -> None:
    # Qwen3-0.6B with kv=fp8: 28 layers x 8 KV heads x 128 dims x (K+V) x 1 byte = 57,344 bytes per
    # token; an H200's ~140 GiB less ~1.5 GiB of weights would hold ~2,600k tokens of KV alone, and
    # activations that grow with s take part of that: between one and three M.
    code, out, _ = vram([QWEN3_06B, "kv=fp8", "gpu=h200"], settings)
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("Max on this GPU"))
    assert re.match(r"Max on this GPU: [12](\.\d\d?)?M tokens at b=1", line), line


# -- local models by name ----------------------------------------------------------------------
def test_model_names_for_local_paths(tmp_path: Path) -> None:
    assert model_name("microsoft/phi-4") == "microsoft/phi-4"  # a Hub id as is
    assert model_name(PHI4) == "microsoft/phi-4"  # its _name_or_path
    assert model_name(QWEN3_8B) == "Qwen__Qwen3-8B"  # no _name_or_path: the file stem
    folder = tmp_path / "my-finetune"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "llama"}))
    assert model_name(str(folder)) == "my-finetune"
    assert model_name(str(folder / "config.json")) == "my-finetune"
    # A name saved as a local path is no name: the folder is.
    (folder / "config.json").write_text(json.dumps({"_name_or_path": "/scratch/run-7/checkpoint-500"}))
    assert model_name(str(folder)) == "my-finetune"
    (folder / "config.json").write_text(json.dumps({"_name_or_path": "acme/llama-ft"}))
    assert model_name(str(folder)) == "acme/llama-ft"
    assert model_name(str(tmp_path / "Llama-3.2-1B-Instruct-Q4_K_M.gguf")) == "Llama-3.2-1B-Instruct-Q4_K_M"
    assert model_name(str(tmp_path / "gone" / "config.json")) == "gone"  # deleted since: still a name
    assert shorten_paths(f"{PHI4} s=16k gpu=h100") == "microsoft__phi-4.json s=16k gpu=h100"
    # A drafter given by path keeps its key: the line is still a command.
    assert (
        shorten_paths(f"{PHI4} engine=vllm draft=/models/d/qwen3_6_27b_dflash.json spec=8")
        == "microsoft__phi-4.json engine=vllm draft=qwen3_6_27b_dflash.json spec=8"
    )


def test_headers_history_and_compare_name_local_models(settings: Settings) -> None:
    code, out, _ = vram([PHI4, "s=8k"], settings)
    assert code == 0 and out.splitlines()[0].startswith("microsoft/phi-4 (local) · bf16 · s=8,192")
    assert vram([QWEN3_8B], settings)[0] == 0
    code, out, _ = vram(["history"], settings)
    assert code == 0 and str(CONFIGS) not in out
    rows = out.splitlines()[1:]
    assert re.match(r"\s*2  \d{4}-\d\d-\d\d \d\d:\d\d  Qwen__Qwen3-8B\s+\d+\.\d  Qwen__Qwen3-8B.json$", rows[0])
    assert re.match(r"\s*1  \d{4}-\d\d-\d\d \d\d:\d\d  microsoft/phi-4\s+\d+\.\d  microsoft__phi-4.json s=8k$", rows[1])
    # --json keeps the path: scripts may need to find the file again.
    code, out, _ = vram(["history", "--json"], settings)
    assert json.loads(out)[0]["model"] == QWEN3_8B
    code, out, _ = vram(["compare", QWEN3_8B, PHI4], settings)
    assert code == 0 and str(CONFIGS) not in out
    # The settings both sides share come first, then the two columns.
    assert out.splitlines()[0] == "s=4,096 · b=1 · transformers"
    assert out.splitlines()[1].split() == ["Qwen__Qwen3-8B", "microsoft/phi-4"]


# -- history -----------------------------------------------------------------------------------
def test_history_keeps_input_mistakes_out_of_the_list(settings: Settings) -> None:
    assert vram([QWEN3_8B, "s=4k"], settings)[0] == 0  # 1
    assert vram([QWEN3_8B, "s=abc"], settings)[0] == 2  # 2: an input mistake
    assert vram([PHI4, "b=zero"], settings)[0] == 2  # 3: another
    assert vram(["./no/such/config.json"], settings)[0] == 1  # 4: a failure to size, listed
    code, out, _ = vram(["history"], settings)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["id", "when", "(UTC)", "model"]  # times are labelled
    ids = [int(x.split()[0]) for x in lines[1:-1]]
    assert ids == [4, 1]
    assert lines[-1] == (
        "2 input mistakes not listed (#3, #2): vram show <id> shows one, vram history --json lists them all"
    )
    assert "s=abc" not in out and "b=zero" not in out
    # A failure to size stays listed: "failed", and its sentence after what was typed.
    assert re.search(r"failed  config.json: ./no/such/config.json does not exist", lines[1]), lines[1]
    # At a narrow terminal the short columns keep their place; only the text wraps.
    from rich.console import Console

    from bot.render_text import history_table

    narrow = io.StringIO()
    Console(file=narrow, width=70).print(history_table(_records(settings)))
    rows = narrow.getvalue().splitlines()
    assert rows[0].split()[:6] == ["id", "when", "(UTC)", "model", "total", "GiB"]
    assert rows[1].split()[0] == "4" and "failed" in rows[1]
    assert any(r.split()[:1] == ["1"] and "Qwen__Qwen3-8B" in r for r in rows)
    assert all(len(r.rstrip()) <= 70 for r in rows)
    code, out, _ = vram(["history", "--json"], settings)
    assert [item["id"] for item in json.loads(out)] == [4, 3, 2, 1]


def _records(settings: Settings) -> list:
    """The records `vram history` lists, from the store the commands wrote."""
    from bot.cli import _local_user, build_service
    from bot.service import HistoryReply
    from store.records import Conversation

    reply = build_service(settings).history(Conversation(platform="cli", user=_local_user(settings)))
    assert isinstance(reply, HistoryReply)
    return list(reply.records)


def test_history_of_only_mistakes_says_so(settings: Settings) -> None:
    assert vram([QWEN3_8B, "s=abc"], settings)[0] == 2
    code, out, _ = vram(["history"], settings)
    assert code == 0
    assert out == (
        "No estimates kept yet; 1 input mistake not listed (#1): vram show <id> shows one, "
        "vram history --json lists them all\n"
    )


def test_history_of_a_model_none_match_says_so(settings: Settings) -> None:
    # "No estimates kept yet." while estimates of other models were kept, and listed by plain history.
    assert vram([PHI4], settings)[0] == 0
    assert vram(["history", "nonexistent/model"], settings) == (
        0,
        'No kept estimates match "nonexistent/model".\n',
        "",
    )
    code, out, _ = vram(["history"], settings)
    assert code == 0 and "microsoft__phi-4" in out


def test_show_labels_its_time(settings: Settings) -> None:
    assert vram([PHI4], settings)[0] == 0
    code, out, _ = vram(["show", "1"], settings)
    assert code == 0 and re.match(r"#1 · \d{4}-\d\d-\d\d \d\d:\d\d UTC · microsoft__phi-4.json\n", out), out


# -- show <failed id> --json -------------------------------------------------------------------
def test_show_of_a_failed_query_indents_its_json_like_every_command(settings: Settings) -> None:
    assert vram([QWEN3_8B, "s=0"], settings)[0] == 2  # kept as failed query #1
    code, out, _ = vram(["show", "1", "--json"], settings)
    assert code == 0
    data = json.loads(out)
    assert data["status"] == "error" and data["id"] == 1
    assert out == json.dumps(data, indent=2) + "\n"
    assert out.startswith('{\n  "schema_version": 5,\n')


def test_help_says_gguf_files_work(settings: Settings) -> None:
    code, out, _ = vram(["help"], settings)
    assert code == 0
    assert "a GGUF file" in out and ".gguf" in out


def test_a_gguf_file_or_folder_is_sized_as_the_readme_says(settings: Settings, tmp_path: Path) -> None:
    # What README and help promise: a .gguf file or a folder of them; the weights are the file's bytes;
    # from a folder the Q4_K_M file is read and named. The files are sparse: header, then zeros.
    from tests.fakehub import llama_3_2_1b_gguf

    def write(path: Path, size: int, file_type: int) -> None:
        content = llama_3_2_1b_gguf(file_type, size)
        with path.open("wb") as f:
            f.write(content.prefix)
            f.truncate(content.size)

    q4 = tmp_path / "Llama-3.2-1B-Instruct-Q4_K_M.gguf"
    write(q4, 807_694_464, 15)
    write(tmp_path / "Llama-3.2-1B-Instruct-Q8_0.gguf", 1_321_083_008, 7)
    code, out, err = vram([str(q4), "s=8k"], settings)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("Llama-3.2-1B-Instruct-Q4_K_M (local) · GGUF Q4_K_M · s=8,192")
    assert "807,694,464" in next(x for x in lines if x.startswith("Weights"))
    # KV: 16 layers x (K+V) x 8 KV heads x 64 dims x 2 bytes = 32,768 bytes per token, x 8,192 tokens.
    assert "268,435,456" in next(x for x in lines if x.startswith("KV cache"))
    code, out, err = vram([str(tmp_path), "s=8k"], settings)
    assert code == 0, err
    assert "807,694,464" in out and "sized from Llama-3.2-1B-Instruct-Q4_K_M.gguf" in out
