"""The embedded default database: a SQLite file in the user's data dir, created on first use."""

from __future__ import annotations

from pathlib import Path

import pytest

from store import Conversation, NewQuery, Store, StoreError, default_database_url, normalize_url

ME = Conversation(platform="cli", user="me")


def test_default_is_a_sqlite_file_in_the_user_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # platformdirs follows XDG_DATA_HOME on Linux: $XDG_DATA_HOME/vram/vram.sqlite3.
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    url = default_database_url()
    assert url == f"sqlite:///{tmp_path}/data/vram/vram.sqlite3"
    assert not (tmp_path / "data").exists()  # nothing is made until the store is used

    store = Store(url)
    try:
        store.ensure_schema()  # first use: directory, file and tables appear
        assert (tmp_path / "data" / "vram" / "vram.sqlite3").is_file()
        rec = store.record(NewQuery(conversation=ME, text="vram microsoft/phi-4", status="ok", model="microsoft/phi-4"))
        assert store.history(scope=ME, model="PHI") == [rec]
    finally:
        store.close()


def test_the_default_does_not_read_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    # Settings are the entrypoint's business: the store's helper only knows the embedded default.
    monkeypatch.setenv("DATABASE_URL", "postgresql://elsewhere/db")
    assert default_database_url().startswith("sqlite:///")


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("sqlite:///x.db", "sqlite"),
    ],
)
def test_normalize_url(given: str, driver: str) -> None:
    assert normalize_url(given).drivername == driver


def test_in_memory_sqlite_works_across_threads() -> None:
    import threading

    store = Store("sqlite://")
    try:
        store.upgrade()
        t = threading.Thread(target=store.record, args=(NewQuery(conversation=ME, text="vram a", status="ok"),))
        t.start()
        t.join(10)
        assert store.count() == 1
    finally:
        store.close()


def test_folder_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="Cannot create the folder for the history database"):
        Store(f"sqlite:///{blocker}/sub/vram.sqlite3")
