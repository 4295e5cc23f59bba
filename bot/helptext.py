"""The help texts of both front ends and the README's grammar table, made from the key table.

``estimator.grammar.KEYS`` says what each key is; ``estimator.engines`` lists the engines. Nothing
here is typed by hand twice: a new key or engine shows up in ``vram help``, ``/vram help`` and
(through ``tests/bot/test_helptext.py``) the README.
"""

from __future__ import annotations

from collections.abc import Sequence

from estimator.engines import engines
from estimator.grammar import KEYS, Key


def _name(key: Key) -> str:
    return f"{key.name} ({', '.join(key.aliases)})" if key.aliases else key.name


def key_rows() -> list[tuple[str, str, str]]:
    """(key and aliases, its values or meaning, default) for every key, in table order."""
    return [(_name(key), key.short(), key.default) for key in KEYS]


def _table(rows: Sequence[tuple[str, ...]], indent: str) -> list[str]:
    """Rows as columns two spaces apart, each as wide as its widest cell (the last one unpadded)."""
    widths = [max(len(row[i]) for row in rows) + 2 for i in range(len(rows[0]) - 1)]
    return [
        (indent + "".join(f"{cell:<{w}}" for cell, w in zip(row, widths, strict=False)) + row[-1]).rstrip()
        for row in rows
    ]


# The sub-commands and what each does, for the terminal help.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("vram gpus [--json]", "the GPU catalog"),
    ("vram history [model] [mine] [--limit N] [--json]", "your earlier estimates, newest first"),
    ("vram show <id> [<model>] [key=value ...] [--json]", "one stored estimate again, or a what-if of it"),
    ("vram compare <model> <model> [key=value ...]", "two models side by side"),
    ("vram serve", "run the Slack app"),
    ("vram db upgrade", "apply database migrations"),
    ("vram --version", "the installed version"),
)


def engine_lines(indent: str) -> list[str]:
    """One line per registered engine: its engine= value and what it sizes."""
    return _table([(e.name, e.help) for e in engines()], indent)


def terminal_help() -> str:
    """``vram help`` / ``vram --help``."""
    lines = [
        "vram: GPU memory for LLM inference (weights, KV cache, activations, overhead) and whether it fits.",
        "",
        "  vram <model>[@revision] [key=value ...] [--json]",
        "      <model> is a Hub repo id (microsoft/phi-4), a config.json, a model folder or a GGUF file",
        "      (a .gguf file, a folder of them or a Hub repo of them: weights are the file's bytes).",
        "",
        *_table([("keys (aliases)", "values", "default"), *key_rows()], "  "),
        "",
        "  engines (engine=):",
        *engine_lines("    "),
        "",
        *_table(list(COMMANDS), "  "),
        "",
        "Examples:",
        "  vram microsoft/phi-4 s=16k gpu=h100",
        "  vram Qwen/Qwen3-30B-A3B s=32k b=8 engine=vllm gpu=h100 gpus=2",
        "  vram meta-llama/Llama-3.1-8B dtype=nf4 kv=fp8 gpu=rtx4090",
        "  vram Qwen/Qwen3-32B s=32k engine=vllm gpu=any      (the fewest of every card that hold it)",
    ]
    return "\n".join(lines) + "\n"


def slack_help() -> str:
    """``/vram help`` (mrkdwn; the front end escapes it)."""
    lines = [
        "*`/vram <model>[@revision] [key=value ...]`*: how much GPU memory a Hub model needs to serve.",
        "```",
        *_table(key_rows(), ""),
        "",
        "engines (engine=):",
        *engine_lines("  "),
        "```",
        "*Examples*",
        "• `/vram microsoft/phi-4 s=16k gpu=h100`",
        "• `/vram Qwen/Qwen3-30B-A3B s=32k b=8 kv=fp8 engine=vllm gpu=h100`",
        "• `/vram meta-llama/Llama-3.1-8B@main dtype=int4 gpu=l4`",
        "• `/vram Qwen/Qwen3-32B s=32k engine=vllm gpu=any` (the fewest of every card that hold it)",
        "• `/vram microsoft/phi-4 n=14.7 s=16384 method=classic`",
        "*Also*: `/vram history [model] [mine] [--limit N]` · `/vram show <id>` · `/vram gpus`",
        "· `/vram compare <a> <b> [key=value ...]`",
        "*Follow-ups*: reply in an answer's thread with a change (`s=32k`, `b=8 kv=fp8`, `@vram gpus=2`) "
        "or a question about it (how many users can it serve?).",
    ]
    return "\n".join(lines)


def readme_table() -> str:
    """The README's grammar table (Markdown), checked against README.md by a test."""

    def code(text: str) -> str:
        return f"`{text}`" if text else ""

    lines = ["| key (aliases) | meaning | values | default |", "|---|---|---|---|"]
    for key in KEYS:
        name = code(key.name) + (f" ({', '.join(code(a) for a in key.aliases)})" if key.aliases else "")
        values = code(key.values_text()) if key.choices else key.values_text()
        lines.append(f"| {name} | {key.help} | {values} | {key.default} |")
    return "\n".join(lines) + "\n"
