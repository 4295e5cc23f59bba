"""The persistent Hub cache: plain JSON data keyed by strings, in the ``hub_cache`` table.

The store keeps the data as it gets it and knows nothing of what it means (the typed view is
``sources.cache.StoredHubCache``). A cache must never fail an estimate: a read that fails
(database down) is a miss, and a write that fails is skipped; both are logged.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Insert, select

from common.errors import StoreError
from store.models import HubCacheRow

if TYPE_CHECKING:
    from store.store import Store

log = logging.getLogger(__name__)

MAX_KEY_LEN = 512  # the column width


class DbHubCache:
    """Cached Hub answers in the store's database (shared by every replica)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, key: str) -> Any | None:
        """The JSON data stored under ``key``; None when absent or unreadable."""
        if len(key) > MAX_KEY_LEN:
            return None

        def run(conn: Connection) -> object:
            return conn.execute(select(HubCacheRow.entry).where(HubCacheRow.key == key)).scalar()

        try:
            return self._store._read(run)
        except StoreError as err:
            log.warning("Hub cache read skipped: %s", err)
            return None

    def put(self, key: str, data: dict[str, Any], fetched_at: float) -> None:
        """Store ``data`` under ``key`` (replacing what was there); ``fetched_at`` is Unix time."""
        if len(key) > MAX_KEY_LEN:
            log.warning("Hub cache key longer than %d characters; not cached", MAX_KEY_LEN)
            return
        when = datetime.fromtimestamp(fetched_at, tz=UTC)

        def run(conn: Connection) -> None:
            values = {"key": key, "entry": data, "fetched_at": when}
            # Each dialect's insert is its own class (with its own ``excluded``): one branch each.
            stmt: Insert
            if conn.dialect.name == "postgresql":
                from sqlalchemy.dialects.postgresql import insert as pg_insert

                pg = pg_insert(HubCacheRow).values(values)
                newer = {"entry": pg.excluded.entry, "fetched_at": pg.excluded.fetched_at}
                stmt = pg.on_conflict_do_update(index_elements=["key"], set_=newer)
            else:
                from sqlalchemy.dialects.sqlite import insert as sqlite_insert

                lite = sqlite_insert(HubCacheRow).values(values)
                newer = {"entry": lite.excluded.entry, "fetched_at": lite.excluded.fetched_at}
                stmt = lite.on_conflict_do_update(index_elements=["key"], set_=newer)
            conn.execute(stmt)

        try:
            self._store._write("save the Hub cache entry", run)
        except StoreError as err:
            log.warning("Hub cache write skipped: %s", err)
