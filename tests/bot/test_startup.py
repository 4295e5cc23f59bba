"""Start-up: commands that need neither the database, the Hub nor Slack do not import their libraries.

Checked in fresh processes (``python -X importtime`` lists every module a process imports), so
what another test imported cannot hide anything. Speed itself is shown by the figures in
bench/README.md, not asserted here.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot import cli
from bot.help_text import HELP
from tests.fakehub import FakeHub

ROOT = Path(__file__).parents[2]
HEAVY = {"sqlalchemy", "huggingface_hub", "slack_bolt"}


def imported(args: list[str], *, entry: str = "bot.cli", env: dict[str, str] | None = None) -> tuple[set[str], str]:
    """Top-level packages a fresh ``python -m <entry> <args>`` imports, and what it printed."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", entry, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env or dict(os.environ),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    names = {
        line.split("|")[-1].strip().split(".")[0]
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "bot" in names  # the listing is real: it names what ran
    return names, done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("args", [["--help"], ["help"], ["gpus"], ["gpus", "--json"]])
def test_help_and_gpus_import_no_database_hub_or_slack(args: list[str]) -> None:
    names, out = imported(args)
    assert not names & HEAVY, sorted(names & HEAVY)
    assert out  # it answered


@pytest.mark.parametrize("args", [["--help"], ["help"]])
def test_the_console_script_prints_the_same_help_without_the_estimator(args: list[str]) -> None:
    names, out = imported(args, entry="bot.entry")
    assert not names & (HEAVY | {"estimator", "pydantic", "rich"}), sorted(names)
    full = io.StringIO()
    assert cli.run(args, out=full) == 0
    assert out == full.getvalue() == HELP + "\n"


@pytest.mark.slow
def test_other_commands_still_go_through_the_console_script() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot.entry", "gpus", "--json"], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert any("h100" in g["aliases"] for g in json.loads(done.stdout))


@pytest.mark.slow
def test_a_warm_hub_query_imports_no_hub_client(fake_hub: FakeHub, tmp_path: Path) -> None:
    env = {**os.environ, "HF_ENDPOINT": fake_hub.url, "DATABASE_URL": f"sqlite:///{tmp_path / 'w.sqlite3'}"}
    cold, _ = imported(["Qwen/Qwen3-8B", "--json"], env=env)
    assert "huggingface_hub" in cold  # the first ask goes to the Hub (the check can fail)
    asked = len(fake_hub.requests())
    warm, out = imported(["Qwen/Qwen3-8B", "--json"], env=env)
    assert len(fake_hub.requests()) == asked  # answered from the persistent cache
    assert json.loads(out)["model"] == "Qwen/Qwen3-8B"
    assert "huggingface_hub" not in warm and "httpx2" not in warm
