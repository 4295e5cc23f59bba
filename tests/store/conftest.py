"""Storage tests run on SQLite always, and on Postgres when one is reachable.

Postgres: ``TEST_DATABASE_URL`` (default: the local server CI has); each test gets its own fresh
schema (selected with ``search_path`` in the connection options), dropped afterwards. Where no
Postgres answers, the Postgres half is skipped with the reason shown; ``VRAM_REQUIRE_POSTGRES=1``
(for CI) turns that skip into a failure.
"""

from __future__ import annotations

import functools
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from store import Store

PG_DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pg_base_url() -> str:
    return os.environ.get("TEST_DATABASE_URL") or PG_DEFAULT_URL


def _admin_engine() -> Engine:
    return create_engine(
        pg_base_url(), poolclass=NullPool, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )


@functools.cache
def pg_unreachable_reason() -> str | None:
    """None when Postgres answers; else why not (asked once per test session)."""
    shown = make_url(pg_base_url()).render_as_string(hide_password=True)
    try:
        engine = _admin_engine()
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        engine.dispose()
    except (SQLAlchemyError, ImportError) as err:
        first = str(getattr(err, "orig", None) or err).strip().splitlines()
        return f"Postgres not reachable at {shown} (set TEST_DATABASE_URL): {first[0] if first else err!r}"
    return None


def require_postgres() -> None:
    reason = pg_unreachable_reason()
    if reason is None:
        return
    if os.environ.get("VRAM_REQUIRE_POSTGRES") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A Postgres URL whose connections see only a fresh schema of their own."""
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = make_url(pg_base_url()).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


# The Postgres half is slow (a schema created, migrated and dropped per test): the fast subset runs
# every storage test on SQLite, the whole suite on both.
@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL to an empty database: a SQLite file always, a fresh Postgres schema when reachable."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'vram.sqlite3'}"
    return request.getfixturevalue("pg_schema_url")


@pytest.fixture
def store(db_url: str, request: pytest.FixtureRequest) -> Iterator[Store]:
    """A migrated store on ``db_url``, closed after the test (before its schema is dropped).

    A SQLite file starts as a copy of one migrated this session (tests/conftest.py); the upgrade
    below then finds it at head. Migrating from empty is what tests/store/test_migrations.py checks.
    """
    if db_url.startswith("sqlite:///"):
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), db_url.removeprefix("sqlite:///"))
    s = Store(db_url, backoff_s=0.01)
    s.upgrade()
    try:
        yield s
    finally:
        s.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say once, at the end, why the Postgres half did not run (``-q`` hides skip reasons)."""
    if pg_unreachable_reason.cache_info().currsize and pg_unreachable_reason() is not None:
        terminalreporter.write_line(f"tests/store: Postgres half skipped: {pg_unreachable_reason()}")
