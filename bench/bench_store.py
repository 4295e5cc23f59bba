"""History store queries at a million rows, on SQLite and Postgres (pytest-benchmark; not a test).

    .venv/bin/python -m pytest bench/bench_store.py --benchmark-enable -s   # BENCH_ROWS=1000000 by default
    BENCH_ROWS=100000 .venv/bin/python -m pytest bench/bench_store.py --benchmark-enable -k sqlite

The rows are generated in SQL (a recursive CTE on SQLite, generate_series on Postgres), then
ANALYZEd. One third of them sit in one hot channel (T0/C0), the worst case for a channel listing;
"unicorn" is a model 1 row in 100,000 carries, the worst case for the model filter (every entry of
the hot channel's index is read to find a handful). Postgres: TEST_DATABASE_URL or the local server,
in a schema of its own, dropped afterwards; skipped when unreachable.

Measured 2026-11-26 on the 2-core dev machine (SQLite 3.40, PostgreSQL 15), 1,000,000 rows, median:
every listing (hot or quiet channel, page 51, model=llama, user filter, DM, terminal) 1.3-4.5 ms on
SQLite and 2.2-3.9 ms on Postgres; get by id 0.3 / 1.0 ms; latest in thread 0.8 / 2.0 ms; record
0.7 / 1.4 ms; claim_event 0.2 / 1.1 ms. The worst case, a model substring that 4 rows of the 333,000
in the hot channel match, reads that channel's whole index: 45 ms on Postgres, 70-90 ms on SQLite.
Run with -s to print each query plan (all index-only scans in id order, no sort).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from store import Conversation, NewQuery, Store

ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
PG_URL = os.environ.get("TEST_DATABASE_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/test"

HOT = Conversation(platform="slack", workspace="T0", channel="C0", user="U1")
QUIET = Conversation(platform="slack", workspace="T7", channel="C17", user="U1")
IN_DM = Conversation(platform="slack", workspace="T0", channel="DU40", user="U40", private=True)
CLI = Conversation(platform="cli", user="local2")

# Column expressions over the row number i, shared by both dialects ("||" and CASE are standard).
_CHANNEL_NO = "(CASE WHEN i % 3 = 0 THEN 0 ELSE i % 500 END)"
_USER = "('U' || (i % 3000))"
_IS_CLI = "(i % 50 = 7)"
_IS_DM = f"(i % 20 = 0 AND NOT {_IS_CLI})"
_MODEL = (
    "(CASE WHEN i % 100000 = 3 THEN 'rare-org/Unicorn-1B'"
    " WHEN i % 4 = 0 THEN 'meta-llama/Llama-3.1-' || (8 * (1 + i % 5)) || 'B'"
    " WHEN i % 4 = 1 THEN 'Qwen/Qwen3-' || (1 + i % 30) || 'B'"
    " WHEN i % 4 = 2 THEN 'microsoft/phi-' || (1 + i % 4)"
    " ELSE 'mistralai/Mixtral-8x' || (1 + i % 22) || 'B-v0.1' END)"
)
_COLUMNS = (
    "created_at, source, team_id, channel_id, user_id, is_dm, text, params, requested_model, model,"
    " model_lc, revision, result, status, error, parent_id, posted_channel, posted_ts, thread_ts, public"
)


def _select_list(created_at: str, true: str, false: str, json_cast: str) -> str:
    channel = f"(CASE WHEN {_IS_DM} THEN 'D' || {_USER} ELSE 'C' || {_CHANNEL_NO} END)"
    return f"""
        {created_at},
        CASE WHEN {_IS_CLI} THEN 'cli' ELSE 'slack' END,
        CASE WHEN {_IS_CLI} THEN NULL ELSE 'T' || ({_CHANNEL_NO} % 10) END,
        CASE WHEN {_IS_CLI} THEN NULL ELSE {channel} END,
        CASE WHEN {_IS_CLI} THEN 'local' || (1 + i % 4) ELSE {_USER} END,
        CASE WHEN {_IS_DM} THEN {true} ELSE {false} END,
        'vram ' || {_MODEL} || ' s=32k',
        '{{"seq_len": 32768, "batch": 1}}'{json_cast},
        lower({_MODEL}), {_MODEL}, lower({_MODEL}),
        '0123456789abcdef0123456789abcdef01234567',
        '{{"memory": {{"weights": 16060522496, "kv_cache": 4294967296, "total": 21474836480}}}}'{json_cast},
        'ok', NULL, NULL,
        CASE WHEN {_IS_CLI} THEN NULL ELSE {channel} END,
        CASE WHEN {_IS_CLI} THEN NULL ELSE i || '.000100' END,
        CASE WHEN {_IS_CLI} OR i % 2 = 1 THEN NULL ELSE (i - 1) || '.000100' END,
        CASE WHEN {_IS_CLI} THEN {false} ELSE {true} END
    """


def _fill(store: Store, rows: int) -> None:
    with store.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.execute(
                text(
                    f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) "
                    f"INSERT INTO queries ({_COLUMNS}) SELECT "
                    + _select_list("datetime('2026-01-01', '+' || i || ' seconds')", "1", "0", "")
                    + " FROM n"
                )
            )
        else:
            conn.execute(
                text(
                    f"INSERT INTO queries ({_COLUMNS}) SELECT "
                    + _select_list(
                        "timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second'", "true", "false", "::jsonb"
                    )
                    + f" FROM generate_series(1, {rows}) AS g(i)"
                )
            )
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE" if conn.dialect.name == "postgresql" else "ANALYZE")


def _pg_schema_url() -> Iterator[str]:
    admin = create_engine(PG_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except SQLAlchemyError as err:
        pytest.skip(f"Postgres not reachable at {make_url(PG_URL).render_as_string()}: {err.orig or err}")
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield (
            make_url(PG_URL)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def big(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("bench") / "big.sqlite3"
        urls: Iterator[str] = iter([f"sqlite:///{path}"])
    else:
        urls = _pg_schema_url()
    url = next(urls)
    store = Store(url)
    store.upgrade()
    _fill(store, ROWS)
    assert store.count() == ROWS
    try:
        yield store
    finally:
        store.close()
        for _ in urls:  # runs the Postgres generator's clean-up
            pass


def _explain(store: Store, scope: Conversation, **kw: Any) -> str:
    """The plan of each id query, for the benchmark's log (run with -s to see it)."""
    out = []
    with store.engine.connect() as conn:
        for stmt in Store.history_selects(scope=scope, **kw):
            compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
            prefix = "EXPLAIN QUERY PLAN " if conn.dialect.name == "sqlite" else "EXPLAIN "
            rows = conn.execute(text(prefix + str(compiled))).all()
            out.append(" | ".join(str(r[-1]) for r in rows))
    return "\n".join(out)


@pytest.mark.parametrize(
    ("name", "scope", "kw"),
    [
        ("hot channel, newest 20", HOT, {}),
        ("hot channel, page 51", HOT, {"offset": 1000}),
        ("hot channel, model=llama", HOT, {"model": "llama"}),
        ("hot channel, model=unicorn (rare)", HOT, {"model": "unicorn"}),
        ("hot channel, user=U42", HOT, {"user": "U42"}),
        ("quiet channel, newest 20", QUIET, {}),
        ("in a DM", IN_DM, {}),
        ("terminal, model=qwen", CLI, {"model": "qwen"}),
    ],
)
def test_history(benchmark: Any, big: Store, name: str, scope: Conversation, kw: dict[str, Any]) -> None:
    print(f"\n[{big.engine.dialect.name}] {name}\n{_explain(big, scope, **kw)}")
    found = benchmark(big.history, scope=scope, **kw)
    assert found or kw.get("model") == "unicorn"


def test_get_by_id(benchmark: Any, big: Store) -> None:
    assert benchmark(big.get, ROWS // 2) is not None


def test_latest_in_thread(benchmark: Any, big: Store) -> None:
    # Row i = 3 * 10001 is in T0/C0 (i % 3 == 0), posted as "<i>.000100": a thread root.
    i = 30003
    rec = benchmark(big.latest_in_thread, team="T0", channel="C0", thread_ts=f"{i}.000100")
    assert rec is not None


def test_record(benchmark: Any, big: Store) -> None:
    q = NewQuery(conversation=HOT, text="vram x", status="ok", model="x/y")
    assert benchmark(big.record, q).id > ROWS


def test_claim_event(benchmark: Any, big: Store) -> None:
    ids = (f"Ev{uuid.uuid4().hex}" for _ in range(10**9))
    assert benchmark(lambda: big.claim_event(next(ids)))
