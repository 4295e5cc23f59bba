"""The persistent Hub cache: ``estimator.resolve.HubCache`` backed by the ``hub_cache`` table.

A cache must never fail an estimate: a read that fails (database down, an entry an older or newer
release wrote in another shape) is a miss, and a write that fails is skipped; both are logged.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import ValidationError
from sqlalchemy import Connection, select

from common.errors import StoreError
from store.models import HubCacheRow

if TYPE_CHECKING:
    from estimator.resolve import CachedEntry
    from store.store import Store

log = logging.getLogger(__name__)

MAX_KEY_LEN = 512  # the column width


class DbHubCache:
    """A :class:`estimator.resolve.HubCache` in the store's database (shared by every replica)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, key: str) -> CachedEntry | None:
        from estimator.resolve import CachedEntry

        if len(key) > MAX_KEY_LEN:
            return None

        def run(conn: Connection) -> object:
            return conn.execute(select(HubCacheRow.entry).where(HubCacheRow.key == key)).scalar()

        try:
            data = self._store._read(run)
        except StoreError as err:
            log.warning("Hub cache read skipped: %s", err)
            return None
        if data is None:
            return None
        try:
            return CachedEntry.from_json(json.dumps(data))
        except ValidationError:
            log.warning("Hub cache entry %r no longer matches the entry model; treated as a miss", key)
            return None

    def put(self, key: str, entry: CachedEntry) -> None:
        if len(key) > MAX_KEY_LEN:
            log.warning("Hub cache key longer than %d characters; not cached", MAX_KEY_LEN)
            return
        data = json.loads(entry.to_json())
        fetched_at = datetime.fromtimestamp(entry.fetched_at, tz=UTC)

        def run(conn: Connection) -> None:
            values = {"key": key, "entry": data, "fetched_at": fetched_at}
            if conn.dialect.name == "postgresql":
                from sqlalchemy.dialects.postgresql import insert as dialect_insert
            else:
                from sqlalchemy.dialects.sqlite import insert as dialect_insert
            stmt = dialect_insert(HubCacheRow).values(values)
            newer = {"entry": stmt.excluded.entry, "fetched_at": stmt.excluded.fetched_at}
            stmt = stmt.on_conflict_do_update(index_elements=["key"], set_=newer)
            conn.execute(stmt)

        try:
            self._store._write("save the Hub cache entry", run)
        except StoreError as err:
            log.warning("Hub cache write skipped: %s", err)
