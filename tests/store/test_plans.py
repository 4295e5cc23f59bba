"""The listings are index range scans in id order: no table scan, no sort (SQLite's own planner says).

Speed at a million rows is shown by bench/bench_store.py; this checks the shape that makes it fast,
on any size.
"""

from __future__ import annotations

import pytest

from store import Conversation, Store

IN_CHANNEL = Conversation(platform="slack", workspace="T1", channel="C1", user="U1")
CASES = [
    (IN_CHANNEL, None, None, ["ix_queries_channel", "ix_queries_channel_user", "ix_queries_dm"]),
    (IN_CHANNEL, "llama", None, ["ix_queries_channel", "ix_queries_channel_user", "ix_queries_dm"]),
    (IN_CHANNEL, None, "U2", ["ix_queries_channel_user"]),
    (IN_CHANNEL, "llama", "U1", ["ix_queries_channel_user", "ix_queries_dm"]),
    (
        Conversation(platform="slack", workspace="T1", channel="D1", user="U1", private=True),
        None,
        None,
        ["ix_queries_channel", "ix_queries_channel_user", "ix_queries_dm"],
    ),
    (Conversation(platform="cli", user="me"), "qwen", None, ["ix_queries_user"]),
]


@pytest.mark.parametrize(("scope", "model", "user", "indexes"), CASES)
def test_history_uses_covering_index_scans(
    sqlite_url: str, scope: Conversation, model: str | None, user: str | None, indexes: list[str]
) -> None:
    store = Store(sqlite_url)  # a copy of a migrated database (tests/conftest.py)
    try:
        store.upgrade()
        plans = []
        with store.engine.connect() as conn:
            for stmt in Store.history_selects(scope=scope, model=model, user=user, limit=20, offset=40):
                compiled = stmt.compile(dialect=conn.dialect)
                params = tuple(compiled.params[name] for name in compiled.positiontup or ())
                rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", params).all()
                plans.append(" / ".join(row[3] for row in rows))
        assert len(plans) == len(indexes)
        for plan, index in zip(plans, indexes, strict=True):
            assert plan.startswith(f"SEARCH queries USING COVERING INDEX {index} ("), plan
            assert "TEMP B-TREE" not in plan, plan  # rows come out in id order: nothing to sort
    finally:
        store.close()
