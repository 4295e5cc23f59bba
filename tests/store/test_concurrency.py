"""Nothing lost: concurrent writers (processes and threads), and writes that fail for real."""

from __future__ import annotations

import logging
import multiprocessing
import sqlite3
import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from store import Conversation, NewQuery, Store, StoreReadError, StoreWriteError
from store.models import QueryRow
from tests.store.conftest import require_postgres

# Real servers and peers on 127.0.0.1 (seconds per test): outside the fast subset.
pytestmark = pytest.mark.slow

ME = Conversation(platform="cli", user="me")
LOAD = Conversation(platform="cli", user="load")

PROCESSES = 4
THREADS = 4
WRITES = 25


def _write_many(url: str, who: str, start: threading.Event | None, go: object = None) -> None:
    """WRITES records from one writer; ``go`` is a multiprocessing.Event in child processes."""
    s = Store(url, backoff_s=0.02)
    try:
        if go is not None:
            go.wait(30)  # type: ignore[attr-defined]
        if start is not None:
            start.wait(30)
        for i in range(WRITES):
            s.record(NewQuery(conversation=LOAD, text=f"{who} {i}", status="ok", model=f"m/{who}"))
    finally:
        s.close()


def test_processes_and_threads_lose_no_record(db_url: str) -> None:
    setup = Store(db_url)
    setup.upgrade()
    setup.close()  # nothing pooled in the parent when it forks

    ctx = multiprocessing.get_context("fork")
    go = ctx.Event()
    procs = [ctx.Process(target=_write_many, args=(db_url, f"p{n}", None, go)) for n in range(PROCESSES)]
    for p in procs:
        p.start()
    start = threading.Event()
    errors: list[BaseException] = []

    def thread_writer(n: int) -> None:
        try:
            _write_many(db_url, f"t{n}", start)
        except BaseException as err:  # reported below, with the assertion
            errors.append(err)

    threads = [threading.Thread(target=thread_writer, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    go.set()
    start.set()
    for t in threads:
        t.join(120)
    for p in procs:
        p.join(120)
    assert errors == []
    assert [p.exitcode for p in procs] == [0] * PROCESSES

    check = Store(db_url)
    try:
        with check.engine.connect() as conn:
            rows = conn.execute(select(QueryRow.id, QueryRow.text)).all()
        want = {f"{w}{n} {i}" for w in "pt" for n in range(4) for i in range(WRITES)}
        assert len(rows) == (PROCESSES + THREADS) * WRITES == 200
        assert {text for _, text in rows} == want
        assert len({id_ for id_, _ in rows}) == 200
        # And the listing sees all of them, newest first, page by page.
        listed = []
        for offset in range(0, 200, 50):
            listed += check.history(scope=LOAD, limit=50, offset=offset)
        assert len(listed) == 200 and [r.id for r in listed] == sorted((id_ for id_, _ in rows), reverse=True)
    finally:
        check.close()


def _locked_sqlite(tmp_path: Path, **store_args: object) -> tuple[Store, sqlite3.Connection]:
    path = tmp_path / "locked.sqlite3"
    store = Store(f"sqlite:///{path}", **store_args)  # type: ignore[arg-type]
    store.upgrade()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another process's writer, holding the lock
    return store, other


class _ReleaseOnRetry(logging.Handler):
    """Commits the blocking transaction when the store logs its first retry: the first try has then
    failed for real, and the next one can succeed."""

    def __init__(self, blocker: sqlite3.Connection) -> None:
        super().__init__(logging.WARNING)
        self.blocker = blocker
        self.released = False

    def emit(self, record: logging.LogRecord) -> None:
        if "retrying" in record.getMessage() and not self.released:
            self.blocker.execute("COMMIT")
            self.released = True


def test_locked_write_is_retried_and_saved(tmp_path: Path) -> None:
    store, blocker = _locked_sqlite(tmp_path, busy_timeout_ms=20, retries=3, backoff_s=0.01)
    handler = _ReleaseOnRetry(blocker)
    logger = logging.getLogger("store.store")
    level = logger.level
    logger.setLevel(logging.WARNING)  # whatever the process's logging set-up, the warning is emitted
    logger.addHandler(handler)
    try:
        rec = store.record(NewQuery(conversation=ME, text="vram phi-4", status="ok"))
        assert handler.released  # the first try did fail
        assert store.get(rec.id) == rec
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        blocker.close()
        store.close()


def test_write_that_keeps_failing_raises_store_error_and_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store, blocker = _locked_sqlite(tmp_path, busy_timeout_ms=10, retries=3, backoff_s=0.01)
    try:
        with caplog.at_level(logging.WARNING, logger="store"), pytest.raises(StoreWriteError) as info:
            store.record(NewQuery(conversation=ME, text="vram phi-4", status="ok"))
        # The sentence names no file, host or port (those are logged for the operator).
        assert str(info.value) == "Could not save the query to history: the history database is not answering."
        assert [r.levelname for r in caplog.records] == ["WARNING", "WARNING", "ERROR"]
        # claim_event and set_posted fail the same way.
        with pytest.raises(StoreWriteError):
            store.claim_event("Ev1")
        blocker.execute("ROLLBACK")
        assert store.count() == 0
        assert store.claim_event("Ev1") is True  # the failed claim left nothing behind
    finally:
        blocker.close()
        store.close()


def test_unreachable_postgres_fails_in_one_sentence_without_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Port 1 on loopback: refused at once, no server needed.
    store = Store("postgresql://vram:s3cret-pw@127.0.0.1:1/vram", retries=2, backoff_s=0.01)
    try:
        with caplog.at_level(logging.WARNING, logger="store"), pytest.raises(StoreWriteError) as info:
            store.record(NewQuery(conversation=ME, text="vram x", status="ok"))
        with pytest.raises(StoreReadError) as read:
            store.history(scope=ME)
        # The user is told the database is not answering; where it is (host, port, database) and why
        # go to the log for the operator, with the password masked.
        for sentence in (str(info.value), str(read.value)):
            assert "the history database is not answering" in sentence.lower()
            assert "127.0.0.1" not in sentence and ":1" not in sentence and "vram" not in sentence
        assert "after 2 tries" in caplog.text and "127.0.0.1:1/vram" in caplog.text
        assert "s3cret-pw" not in caplog.text
        assert "***" in caplog.text  # the URL is logged with its password masked
    finally:
        store.close()


def test_postgres_connections_killed_between_writes(pg_schema_url: str) -> None:
    """The server drops every connection (restart, failover): the next write still lands."""
    require_postgres()
    app = f"vram-test-{uuid.uuid4().hex[:8]}"
    url = make_url(pg_schema_url).update_query_dict({"application_name": app})
    store = Store(url.render_as_string(hide_password=False), backoff_s=0.01)
    store.upgrade()
    try:
        first = store.record(NewQuery(conversation=ME, text="one", status="ok"))
        killer = Store(pg_schema_url)
        with killer.engine.connect() as conn:
            killed = conn.exec_driver_sql(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s",
                (app,),
            ).scalar()
        killer.close()
        assert killed >= 1  # the pooled connection really was cut
        second = store.record(NewQuery(conversation=ME, text="two", status="ok"))
        assert [r.id for r in store.history(scope=ME)] == [second.id, first.id]
    finally:
        store.close()


def test_check_writable_fails_on_a_locked_or_read_only_sqlite(tmp_path: Path) -> None:
    store, blocker = _locked_sqlite(tmp_path, busy_timeout_ms=10, retries=1, backoff_s=0.01)
    try:
        with pytest.raises(StoreWriteError, match="not answering"):
            store.check_writable()  # another connection holds the write lock
        blocker.execute("ROLLBACK")
        store.check_writable()  # and once it lets go, writes go through again
        assert store.count() == 0  # the probe keeps nothing
    finally:
        blocker.close()
        store.close()
    path = next(tmp_path.glob("*.sqlite3"))
    read_only = Store(f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        with pytest.raises(StoreWriteError, match="not answering"):
            read_only.check_writable()
    finally:
        read_only.close()


def test_a_locked_sqlite_write_gives_up_within_its_budget(tmp_path: Path) -> None:
    # The defaults: a lock waits 1 s per try and the write stops retrying at 2 s, so the caller answers
    # with "not saved" instead of waiting out three 5-second timeouts. Counted in tries, not timed.
    store, blocker = _locked_sqlite(tmp_path, busy_timeout_ms=1000, retries=3, backoff_s=0.1)
    store.write_budget_s = 1.5
    tries: list[int] = []
    original = store.engine.begin

    def counting_begin() -> object:
        tries.append(1)
        return original()

    store.engine.begin = counting_begin  # type: ignore[method-assign]
    try:
        with pytest.raises(StoreWriteError):
            store.record(NewQuery(conversation=ME, text="vram x", status="ok"))
        # Without the budget all 3 tries would run; a third would start after 1 + 0.1 + 1 + 0.2 s > 1.5 s.
        assert 1 <= len(tries) <= 2
    finally:
        blocker.close()
        store.close()
