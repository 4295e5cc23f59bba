"""Shared test setup. Each section is self-contained; add yours below, don't change others'."""

# --- Hub isolation (task B) -------------------------------------------------------------------
# huggingface_hub reads its settings once, at import: these must be set before anything imports
# it. No test may reach the real Hub (HF_ENDPOINT points at a closed port until a fake Hub gives
# its own address), find a real login (HF_HOME is a temporary folder), or phone home.
import os
import tempfile

os.environ["HF_ENDPOINT"] = "http://127.0.0.1:9"
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="vram-test-hf-home-")
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
os.environ.pop("HF_TOKEN", None)
os.environ.pop("HF_HUB_OFFLINE", None)

import gc
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakehub import FakeHub, standard_hub


@pytest.fixture
def fake_hub() -> Iterator[FakeHub]:
    """A started fake Hub with the standard repos (see tests/fakehub.py); its own state per test."""
    hub = standard_hub().start()
    try:
        yield hub
    finally:
        hub.stop()
    assert hub.violations == []


@pytest.fixture
def fake_hub_empty() -> Iterator[FakeHub]:
    """A started fake Hub with no repos: add your own with ``add_repo``."""
    hub = FakeHub().start()
    try:
        yield hub
    finally:
        hub.stop()
    assert hub.violations == []


# --- A migrated SQLite history per test, copied -------------------------------------------------
# Running the Alembic migrations costs about 80 ms of CPU; dozens of terminal tests each want a
# database of their own at the current schema. They get a copy of one migrated in this session, so
# the CLI's ensure_schema() finds it at head. Migrating an empty database is itself tested in
# tests/store (and by the CLI tests that build their own URL).


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite history database migrated once this session: copy it, never open it."""
    from store import Store

    path = tmp_path_factory.mktemp("migrated") / "template.sqlite3"
    store = Store(f"sqlite:///{path}")
    try:
        store.upgrade()
    finally:
        store.close()  # the last connection closing checkpoints the WAL into the file
    return path


@pytest.fixture
def sqlite_url(migrated_sqlite: Path, tmp_path: Path) -> str:
    """A URL to this test's own SQLite history database, already at the current schema."""
    path = tmp_path / "vram.sqlite3"
    shutil.copyfile(migrated_sqlite, path)
    return f"sqlite:///{path}"


# --- Keeping the fast subset fast -----------------------------------------------------------------
# A test whose body spends more than about a second of CPU belongs under @pytest.mark.slow (or
# should be made cheaper): each such test not so marked is named at the end of the run. CPU time
# (its subprocesses' included), not wall time, so a busy machine raises no false alarm. A test that
# is first to import a library (transformers alone costs ~2 s) pays for everyone: the note says so.
SLOW_CPU_S = 1.0
_unmarked_slow: list[tuple[str, float, int]] = []


def _cpu_s() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    modules, start = len(sys.modules), _cpu_s()
    try:
        return (yield)
    finally:
        spent = _cpu_s() - start
        if spent > SLOW_CPU_S and item.get_closest_marker("slow") is None:
            _unmarked_slow.append((item.nodeid, spent, len(sys.modules) - modules))


_WHOLE_MODULE_SLOW = re.compile(r"^pytestmark = pytest\.mark\.slow$", re.MULTILINE)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    # Under -m "not slow" exactly, a module marked slow as a whole would be imported only for all
    # its tests to be deselected: its imports (Slack, Alembic, the Hub client...) cost ~0.5 s.
    if config.option.markexpr != "not slow" or collection_path.suffix != ".py":
        return None
    if not collection_path.name.startswith("test_"):
        return None
    return True if _WHOLE_MODULE_SLOW.search(collection_path.read_text(encoding="utf-8")) else None


def pytest_collection_finish(session: pytest.Session) -> None:
    # What is imported and built by now (the libraries, the test modules, their tables) lives to
    # the end of the run: out of the garbage collector's sight, its full collections scan only what
    # the tests create (about half a second less CPU over the fast subset).
    gc.freeze()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for nodeid, spent, imported in _unmarked_slow:
        note = f" (it was first to import {imported} modules)" if imported > 50 else ""
        terminalreporter.write_line(f"not marked slow, took {spent:.1f} s of CPU{note}: {nodeid}", yellow=True)
    if sys.dont_write_bytecode:
        terminalreporter.write_line(
            "PYTHONDONTWRITEBYTECODE is set: modules without a cached .pyc are compiled anew on every "
            "run (about 5 s more CPU on a fresh checkout); unset it for the timings in CONTRIBUTING.md."
        )


# --- The temporary HF_HOME goes with the run ----------------------------------------------------
def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the HF_HOME folder made above: one a run, none left behind."""
    shutil.rmtree(os.environ["HF_HOME"], ignore_errors=True)
