"""``vram`` with no arguments: the original calculator's questions, one at a time.

Each answer is checked as it is typed, by the same rules as ``key=value`` on the command line, and
a wrong one is asked again with the reason. Yes/no questions take Y/n, yes/no and on/off. The
answers become one line of the grammar; after the estimate the original calculator's six lines
are printed too, so people who know that tool can check one against the other.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from bot.console import plain
from bot.names import is_local
from bot.question import SUBCOMMANDS
from bot.render_text import classic_text
from common.errors import InputError
from estimator.grammar import parse_model, parse_settings
from estimator.result import Estimate

Read = Callable[[str], str]
Say = Callable[[str], None]

# A script that pipes the same wrong answer forever (``yes | vram``) gets an error, not a loop.
MAX_TRIES = 5

_YES = frozenset({"y", "yes", "on", "true", "1"})
_NO = frozenset({"n", "no", "off", "false", "0"})


def yes_no(answer: str) -> bool | None:
    """True for y/yes/on, False for n/no/off (any case), None for anything else."""
    word = answer.strip().lower()
    return True if word in _YES else False if word in _NO else None


@dataclass(frozen=True)
class Question:
    """One question: the grammar key it answers, its prompt, its default, and how to check an answer."""

    key: str
    prompt: str
    default: str  # "" : the question may be left blank (the key is then not set)
    check: Callable[[str], str]  # the answer as the grammar takes it, or InputError with the reason


def _model(answer: str) -> str:
    if not answer:
        raise InputError("give a model: a Hub id (microsoft/phi-4), a config.json, a model folder or a .gguf file")
    if len(answer.split()) > 1:
        raise InputError(f'"{answer}" has spaces: give the model alone, the other settings are asked next')
    if answer.lower() in SUBCOMMANDS:
        raise InputError(f'"{answer}" is a command, not a model: run `vram {answer.lower()}` on its own')
    model, _ = parse_model(answer)
    if is_local(model) and not Path(model).expanduser().exists():
        raise InputError(f"{model} does not exist: give a config.json, a model folder, a .gguf file or a Hub id")
    return answer


def _setting(key: str) -> Callable[[str], str]:
    """The grammar's own check of ``key=answer``; the answer is kept as typed (``16k`` stays ``16k``)."""

    def check(answer: str) -> str:
        parse_settings([f"{key}={answer}"])
        return answer

    return check


def _flag(key: str, *, also: Callable[[str], str] | None = None) -> Callable[[str], str]:
    """A yes/no answer as ``on``/``off``; ``also`` takes the other values the key allows (kv=fp8)."""

    def check(answer: str) -> str:
        value = yes_no(answer)
        if value is not None:
            return "on" if value else "off"
        if also is not None:
            try:
                return also(answer)
            except InputError:
                pass
        extra = " or a KV cache dtype (fp8, int8, bf16, fp16)" if also is not None else ""
        raise InputError(f'"{answer}" is not an answer here: type y or n{extra}')

    return check


QUESTIONS: tuple[Question, ...] = (
    Question("model", "Model (Hub id, config.json, model folder or .gguf file)", "", _model),
    Question("n", "Parameters in billions (blank: from the checkpoint)", "", _setting("n")),
    Question("p", "Bits per weight: 2 3 4 5 6 8 16 32 (blank: from the checkpoint)", "", _setting("p")),
    Question("s", "Sequence length in tokens (32k = 32,768)", "4096", _setting("s")),
    Question("b", "Batch size", "1", _setting("b")),
    # Blank: the engine's default (transformers runs eager attention where the model has no sdpa).
    Question("fa", "FlashAttention? [y/n, blank: the engine's default]", "", _flag("fa")),
    Question("kv", "KV cache? [Y/n, or fp8 / int8]", "y", _flag("kv", also=_setting("kv"))),
    Question(
        "gpu", "GPU to check the fit on (h100, a100-40gb, l4, ...; any: every card; blank: none)", "", _setting("gpu")
    ),
)


def _prompt_text(q: Question) -> str:
    # Yes/no questions show their default in the [Y/n] itself.
    if q.default and "[" not in q.prompt:
        return f"{q.prompt} [{q.default}]: "
    return f"{q.prompt}: "


def ask(q: Question, read: Read, say: Say) -> str:
    """Ask ``q`` until the answer passes its check; returns the answer as the grammar takes it."""
    for attempt in range(1, MAX_TRIES + 1):
        answer = read(_prompt_text(q)).strip() or q.default
        if not answer and q.key != "model":
            return ""
        try:
            return q.check(answer)
        except InputError as err:
            if attempt == MAX_TRIES:
                raise  # the reason, as one sentence, ends the command
            say(f"  {plain(str(err))}")  # then the same question again
    raise AssertionError("unreachable")


def ask_questions(read: Read, say: Say, questions: Sequence[Question] = QUESTIONS) -> list[str]:
    """Every question in turn; returns the grammar's words (``model key=value ...``)."""
    words = []
    for q in questions:
        answer = ask(q, read, say)
        if q.key == "model":
            words.append(answer)
        elif answer:
            words.append(f"{q.key}={answer}")
    return words


def terminal_reader(stdin: TextIO | None = None, stdout: TextIO | None = None, err: TextIO | None = None) -> Read:
    """How answers are read: ``input`` (line editing) at a terminal; from a pipe, line by line.

    Outside a terminal the questions go to stderr, so that stdout holds only the answer.
    """
    stdin, stdout, err = stdin or sys.stdin, stdout or sys.stdout, err or sys.stderr
    if stdin.isatty() and stdout.isatty():
        return input
    echo = not stdin.isatty()

    def read(prompt: str) -> str:
        err.write(prompt)
        err.flush()
        line = stdin.readline()
        if not line:
            raise EOFError
        answer = line.rstrip("\r\n")
        if echo:
            # The answer came from a pipe: show it after its question, so the transcript reads.
            err.write(answer + "\n")
        return answer

    return read


def classic_block(est: Estimate) -> list[str]:
    """The original calculator's six lines for the same answers, under a heading."""
    return ["", "The original calculator's formulas for the same answers (GB = 10^9 bytes):", *classic_text(est)]
