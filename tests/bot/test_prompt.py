"""`vram` with no arguments: the original calculator's questions, checked one at a time.

Answers come through the read function, through a pipe (a subprocess, as a shell runs it) and
through a pseudo-terminal.
"""

from __future__ import annotations

import fcntl
import io
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterable
from pathlib import Path

import pytest

from bot import prompt
from bot.prompt import QUESTIONS, ask, ask_questions
from bot.settings import Settings
from common.errors import InputError
from tests.bot.test_cli import PHI4, vram

# Subprocesses, both databases or many generated examples: outside the fast subset.
pytestmark = pytest.mark.slow

# The original calculator's worked example, as its user typed it: phi-4, n=14.7, p=16, s=16384, b=1,
# FlashAttention Y, KV cache Y (and no GPU: that question is new and may be left blank).
SEED_ANSWERS = [PHI4, "14.7", "16", "16384", "1", "Y", "Y", ""]

# What it printed, worked out by hand from phi-4's config (L=40, h=5120, a=40, g=10), GB = 10^9 bytes:
#   model        14.7 x 16 / 8                                                   = 29.4
#   vanilla      (32*16384*5120 + 4*40*16384^2) * 2 / 1e9 = 45,634,027,520 * 2   = 91.268 -> 91.27
#   GQA          (28*16384*5120 + (2*10/40)*16384*5120 + 4*10*16384^2) * 2 / 1e9
#                = (2,348,810,240 + 41,943,040 + 10,737,418,240) * 2 / 1e9       = 26.256 -> 26.26
#   Flash        (32*16384*5120 + 4*128*16384) * 2 / 1e9 = 2,692,743,168 * 2     = 5.385  -> 5.39
#   KV (GQA)     2*40*16384*(5120/10) * 2 / 1e9 = 1,342,177,280 bytes            = 1.342  -> 1.34
#   total        29.4 + 1.34 + 5.39 (fa on)                                      = 36.13
SEED_LINES = [
    "Memory consumption of the model: 29.4 GB",
    "Memory consumption of vanilla inference: 91.27 GB",
    "Memory consumption of inference with GQA: 26.26 GB",
    "Memory consumption of inference with FlashAttention: 5.39 GB",
    "Memory consumption of the KV cache (with GQA): 1.34 GB",
    "Total Memory consumption (given the selected configuration): 36.13 GB",
]
# The calibrated estimate for the same answers: n=14.7 billion bf16 parameters are 29,400,000,000 bytes.
SEED_WEIGHTS = "29,400,000,000"


def reader(answers: Iterable[str], asked: list[str] | None = None):
    it = iter(answers)

    def read(question: str) -> str:
        if asked is not None:
            asked.append(question)
        return next(it)

    return read


def question(key: str) -> prompt.Question:
    return next(q for q in QUESTIONS if q.key == key)


def test_the_seed_example_prints_its_six_lines_beside_the_estimate(settings: Settings) -> None:
    asked: list[str] = []
    code, out, err = vram([], settings, read=reader(SEED_ANSWERS, asked))
    assert code == 0, err
    starts = [
        "Model (",
        "Parameters in billions",
        "Bits per weight",
        "Sequence length in tokens (32k",
        "Batch size",
        "FlashAttention? [y/n",
        "KV cache? [Y/n",
        "GPU to check the fit on",
    ]
    assert len(asked) == len(starts)
    assert all(q.startswith(start) for q, start in zip(asked, starts, strict=True)), asked
    lines = out.splitlines()
    assert lines[0].startswith("microsoft/phi-4 (local) · bf16 · s=16,384 · b=1 · fused attention")
    weights = next(x for x in lines if x.startswith("Weights"))
    assert SEED_WEIGHTS in weights
    # The six lines, exactly and in order, after the calibrated table.
    start = lines.index(SEED_LINES[0])
    assert lines[start : start + 6] == SEED_LINES
    assert lines.index(weights) < start


def test_answers_become_the_grammar_line() -> None:
    said: list[str] = []
    words = ask_questions(reader(SEED_ANSWERS), said.append)
    assert words == [PHI4, "n=14.7", "p=16", "s=16384", "b=1", "fa=on", "kv=on"]
    assert said == []
    # Blank answers take the defaults: no n, p, fa (the engine's) or gpu; s=4096, b=1, kv on.
    words = ask_questions(reader([PHI4, "", "", "", "", "", "", ""]), said.append)
    assert words == [PHI4, "s=4096", "b=1", "kv=on"]


@pytest.mark.parametrize(
    ("typed", "flag"),
    [
        ("Y", "on"),
        ("y", "on"),
        ("yes", "on"),
        ("YES", "on"),
        ("on", "on"),
        ("On", "on"),
        ("N", "off"),
        ("n", "off"),
        ("no", "off"),
        ("No", "off"),
        ("off", "off"),
        ("OFF", "off"),
    ],
)
def test_yes_no_questions_take_y_n_yes_no_on_off(typed: str, flag: str) -> None:
    said: list[str] = []
    assert ask(question("fa"), reader([typed]), said.append) == flag
    assert ask(question("kv"), reader([typed]), said.append) == flag
    assert said == []


@pytest.mark.parametrize(
    ("key", "wrong", "right", "taken", "reason"),
    [
        ("model", "", PHI4, PHI4, "give a model"),
        ("model", "phi 4", PHI4, PHI4, "has spaces"),
        ("model", "./no/such/config.json", PHI4, PHI4, "does not exist"),
        ("model", "not a/model id", PHI4, PHI4, "has spaces"),
        ("model", "-phi", PHI4, PHI4, "is not a Hub model id"),
        ("model", "gpus", PHI4, PHI4, '"gpus" is a command, not a model: run vram gpus on its own'),
        ("n", "abc", "14.7", "14.7", "n=abc is not a number"),
        ("n", "-3", "14.7", "14.7", "out of range"),
        ("p", "15", "16", "16", "use one of 2, 3, 4, 5, 6, 8, 16, 32"),
        ("s", "16q", "16k", "16k", "not a whole number"),
        ("s", "0", "32768", "32768", "out of range"),
        ("b", "zero", "2", "2", "not a whole number"),
        ("fa", "maybe", "n", "off", "type y or n"),
        ("kv", "fp9", "fp8", "fp8", "type y or n or a KV cache dtype"),
        ("gpu", "h1000", "h100", "h100", 'unknown GPU "h1000"'),
    ],
)
def test_a_wrong_answer_is_asked_again_with_the_reason(
    key: str, wrong: str, right: str, taken: str, reason: str
) -> None:
    asked: list[str] = []
    said: list[str] = []
    assert ask(question(key), reader([wrong, right], asked), said.append) == taken
    assert len(asked) == 2 and asked[0] == asked[1]  # the same question, again
    assert len(said) == 1 and reason in said[0], said
    assert "`" not in said[0]


def test_the_gpu_is_optional_and_checks_the_fit(settings: Settings) -> None:
    answers = [PHI4, "", "", "16k", "", "y", "y", "h100"]
    code, out, err = vram([], settings, read=reader(answers))
    assert code == 0, err
    assert "fits one NVIDIA H100" in out and "Max on this GPU" in out
    code, out, _ = vram([], settings, read=reader([PHI4, "", "", "", "", "", "", ""]))
    assert code == 0 and "add gpu=h100 to check the fit" in out


def test_sequence_length_takes_k(settings: Settings) -> None:
    code, out, _ = vram([], settings, read=reader([PHI4, "", "", "2k", "3", "n", "fp8", ""]))
    assert code == 0
    assert out.splitlines()[0].startswith("microsoft/phi-4 (local) · bf16 · s=2,048 · b=3 · eager attention")
    assert "KV fp8" in out.splitlines()[0]


def test_the_same_wrong_answer_forever_ends_with_its_reason(settings: Settings) -> None:
    # `yes | vram`: the model "y" is taken, "y" is no parameter count, and it must not loop forever.
    with pytest.raises(InputError, match="n=y is not a number"):
        ask(question("n"), reader(["y"] * prompt.MAX_TRIES), lambda _: None)
    code, out, err = vram([], settings, read=reader([PHI4] + ["abc"] * prompt.MAX_TRIES))
    assert code == 2 and out == ""
    assert err.splitlines()[-1] == "vram: n=abc is not a number"
    assert err.count("n=abc is not a number") == prompt.MAX_TRIES


def run_piped(stdin: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'v.sqlite3'}", "PATH": "/usr/bin:/bin", "COLUMNS": "60"}
    return subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()"],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_through_a_pipe(tmp_path: Path) -> None:
    proc = run_piped("\n".join(SEED_ANSWERS) + "\n", tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    # stdout holds the answer only; the questions and the echoed answers went to stderr.
    assert lines[0].startswith("microsoft/phi-4 (local) · bf16 · s=16,384 · b=1")
    assert "Model (" not in proc.stdout and "FlashAttention? [y/n, blank: the engine's default]: Y" in proc.stderr
    start = lines.index(SEED_LINES[0])
    assert lines[start : start + 6] == SEED_LINES
    assert any(SEED_WEIGHTS in x for x in lines[:start])


def test_through_a_pipe_wrong_answers_are_asked_again(tmp_path: Path) -> None:
    answers = ["", PHI4, "abc", "14.7", "16", "16384", "1", "maybe", "Y", "Y", "h1000", "h100"]
    proc = run_piped("\n".join(answers) + "\n", tmp_path)
    assert proc.returncode == 0, proc.stderr
    for reason in ("give a model", "n=abc is not a number", "type y or n", 'unknown GPU "h1000"'):
        assert reason in proc.stderr
    assert "fits one NVIDIA H100" in proc.stdout
    assert SEED_LINES[-1] in proc.stdout.splitlines()


def test_a_pipe_that_ends_early_cancels(tmp_path: Path) -> None:
    proc = run_piped(PHI4 + "\n14.7\n", tmp_path)
    assert proc.returncode == 1
    assert proc.stdout == "" and proc.stderr.splitlines()[-1].endswith("vram: cancelled")


def test_at_a_terminal(tmp_path: Path) -> None:
    # A pseudo-terminal on stdin, stdout and stderr: input() reads the answers typed ahead.
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'v.sqlite3'}", "PATH": "/usr/bin:/bin", "TERM": "dumb"}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from bot.cli import main; main()"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        close_fds=True,
    )
    os.close(slave)
    os.write(master, ("\n".join([SEED_ANSWERS[0], "abc", *SEED_ANSWERS[1:]]) + "\n").encode())
    chunks: list[bytes] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert proc.wait(timeout=30) == 0
    text = b"".join(chunks).decode().replace("\r\n", "\n")
    assert "Parameters in billions (blank: from the checkpoint): " in text
    assert "n=abc is not a number" in text  # asked again at the terminal too
    # Typed ahead, the answers were echoed before the questions: the header follows the last one.
    assert "blank: none): microsoft/phi-4 (local) · bf16 · s=16,384 · b=1" in text
    lines = text.splitlines()
    start = lines.index(SEED_LINES[0])
    assert lines[start : start + 6] == SEED_LINES


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_questions_go_to_stderr_whenever_stdout_is_not_the_terminal() -> None:
    # `vram | tee answer.txt` at a terminal: the questions must not land in the file.
    err, out = io.StringIO(), io.StringIO()
    read = prompt.terminal_reader(stdin=_Tty("16k\n"), stdout=out, err=err)
    assert read("Sequence length: ") == "16k"
    assert out.getvalue() == "" and err.getvalue() == "Sequence length: "  # the terminal echoed the answer
    # From a pipe, the answer is echoed after its question so the transcript reads.
    err = io.StringIO()
    read = prompt.terminal_reader(stdin=io.StringIO("16k\n"), stdout=out, err=err)
    assert read("Sequence length: ") == "16k"
    assert err.getvalue() == "Sequence length: 16k\n"
    with pytest.raises(EOFError):
        read("Batch size: ")
    # Both ends at a terminal: input(), with line editing.
    assert prompt.terminal_reader(stdin=_Tty(), stdout=_Tty(), err=err) is input
