"""The key table is the one source: the parser, both help texts and the README agree with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import blocks
from bot.commands import EstimateCmd, parse
from bot.console import plain
from bot.helptext import COMMANDS, _name, readme_table, slack_help, terminal_help
from bot.render_text import help_text
from common.errors import InputError
from estimator.engines import engine_names
from estimator.grammar import KEYS

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_grammar_table_is_the_generated_one() -> None:
    assert readme_table() in README.read_text()


@pytest.mark.parametrize("text", [terminal_help(), slack_help()], ids=["terminal", "slack"])
def test_both_help_texts_list_every_key_with_the_values_the_parser_takes(text: str) -> None:
    for key in KEYS:
        line = next(
            (row for row in text.splitlines() if row.strip().startswith(key.name + " ") or row.strip() == key.name),
            None,
        )
        assert line is not None, key.name
        for alias in key.aliases:
            assert alias in line
        # A key with a closed set shows exactly that set, in the parser's order.
        if key.choices:
            assert " ".join(key.values()) in line, (key.name, line)


@pytest.mark.parametrize("text", [terminal_help(), slack_help()], ids=["terminal", "slack"])
def test_help_columns_line_up(text: str) -> None:
    # Each key's values (or meaning) and its default start at the same column on every row.
    lines = text.splitlines()
    rows = {key: next(row for row in lines if row.strip().startswith(_name(key))) for key in KEYS}
    values = {row.index("  " + key.short(), len(_name(key))) + 2 for key, row in rows.items()}
    defaults = {row.rindex("  " + key.default) + 2 for key, row in rows.items()}
    assert len(values) == 1 and len(defaults) == 1, (values, defaults)
    assert all(row.endswith(key.default) for key, row in rows.items())


def test_terminal_commands_line_up() -> None:
    lines = terminal_help().splitlines()
    starts = {
        next(row for row in lines if row.startswith("  " + command + " ")).index(what) for command, what in COMMANDS
    }
    assert len(starts) == 1, starts


def test_p_takes_the_same_bits_everywhere() -> None:
    # Before the table the Slack help said 4 8 16 32 and the terminal 2 3 4 5 6 8 16 32.
    bits = "2 3 4 5 6 8 16 32"
    assert bits in terminal_help() and bits in slack_help() and f"`{bits}`" in readme_table()
    for value in bits.split():
        cmd = parse(f"org/model p={value}")
        assert isinstance(cmd, EstimateCmd) and cmd.query.bits == int(value)
    with pytest.raises(InputError, match="use one of 2, 3, 4, 5, 6, 8, 16, 32"):
        parse("org/model p=7")


def test_the_front_ends_print_the_generated_help() -> None:
    assert help_text() == plain(terminal_help())
    # Slack shows it as every section: code-block tables too wide for a phone become short lines.
    assert blocks.help_message().blocks[0]["text"]["text"] == blocks.narrow(blocks.escape(slack_help()))


def test_engine_values_are_the_registry() -> None:
    engine_key = next(key for key in KEYS if key.name == "engine")
    assert engine_key.values() == engine_names() == ("transformers", "vllm")
