"""The README's `$ vram` examples are what the commands print now (tools/readme_examples.py)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "readme_examples.py"


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("readme_examples", TOOL)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_has_examples_to_check(tool: ModuleType, readme: str) -> None:
    found = tool.examples(readme)
    assert len(found) >= 2
    assert found[0].command.startswith("vram tests/fixtures/configs/microsoft__phi-4.json")
    assert all(ex.shown.strip() for ex in found)  # each shows some output


def test_every_readme_example_prints_what_the_readme_shows(
    tool: ModuleType, readme: str, tmp_path: Path, migrated_sqlite: Path
) -> None:
    for number, ex in enumerate(tool.examples(readme)):
        database = tmp_path / f"{number}.sqlite3"
        shutil.copyfile(migrated_sqlite, database)  # a fresh history, as the tool's own, at the schema
        printed = tool.run_example(ex.command, database)
        assert printed == ex.shown, (
            f"README example `{ex.command}` is stale; run python tools/readme_examples.py\n"
            + tool.diff(ex.shown, printed)
        )


def test_a_stale_example_is_caught_and_rewritten(tool: ModuleType, readme: str) -> None:
    # The README once showed "133k tokens" where the tool printed 130k: that must not pass again.
    first = tool.examples(readme)[0]
    line = next(x for x in first.shown.splitlines() if x.startswith("Max on this GPU"))
    stale = readme.replace(line, line.replace("Max on this GPU: ", "Max on this GPU: 1"), 1)
    assert stale != readme
    assert tool.regenerate(stale) == readme
    assert tool.diff(stale, readme)


def test_examples_must_run_offline(tool: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="names the Hub model microsoft/phi-4"):
        tool.run_example("vram microsoft/phi-4 s=16k", tmp_path / "x.sqlite3")
    with pytest.raises(SystemExit, match="names the Hub model Qwen/Qwen3-8B"):
        tool.run_example(
            "vram compare tests/fixtures/configs/microsoft__phi-4.json Qwen/Qwen3-8B", tmp_path / "y.sqlite3"
        )


@pytest.mark.slow  # a fresh interpreter that runs every example again
def test_the_check_mode_runs_as_a_script() -> None:
    proc = subprocess.run([sys.executable, str(TOOL), "--check"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == ""
