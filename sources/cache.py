"""Caches of Hub answers: the typed protocol the resolver uses, one in memory, one over plain data.

The store keeps plain JSON data keyed by strings and knows nothing of these types;
:class:`StoredHubCache` is the typed view over it. A cache only saves time: an entry an older or
newer release wrote in another shape is a miss, never an error.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol, runtime_checkable

from pydantic import ValidationError

from sources.model import CachedEntry

log = logging.getLogger(__name__)


def cache_key(model_id: str, revision: str | None) -> str:
    """The cache key of a Hub model at a revision (ids are case-insensitive on the Hub)."""
    return f"hub:{model_id.lower()}@{revision or 'main'}"


@runtime_checkable
class HubCache(Protocol):
    """A persistent cache of Hub answers, keyed by :func:`cache_key` strings."""

    def get(self, key: str) -> CachedEntry | None: ...

    def put(self, key: str, entry: CachedEntry) -> None: ...


@runtime_checkable
class PlainCache(Protocol):
    """Plain JSON data keyed by strings, with the time it was fetched (the store's ``hub_cache``)."""

    def get(self, key: str) -> Any | None: ...

    def put(self, key: str, data: dict[str, Any], fetched_at: float) -> None: ...


class StoredHubCache:
    """A :class:`HubCache` over a :class:`PlainCache` (the database table, shared by every replica)."""

    def __init__(self, plain: PlainCache) -> None:
        self._plain = plain

    def __repr__(self) -> str:
        return f"StoredHubCache({self._plain!r})"

    def get(self, key: str) -> CachedEntry | None:
        data = self._plain.get(key)
        if data is None:
            return None
        try:
            return CachedEntry.from_data(data)
        except ValidationError:
            log.warning("Hub cache entry %r no longer matches the entry model; treated as a miss", key)
            return None

    def put(self, key: str, entry: CachedEntry) -> None:
        self._plain.put(key, entry.to_data(), entry.fetched_at)


class StoredSearchCache:
    """Model-search answers (JSON text) in the same plain cache, under their own key prefix."""

    PREFIX = "search:"

    def __init__(self, plain: PlainCache) -> None:
        self._plain = plain

    def get(self, key: str) -> str | None:
        data = self._plain.get(self.PREFIX + key)
        text = data.get("text") if isinstance(data, dict) else None
        return text if isinstance(text, str) else None

    def put(self, key: str, value: str) -> None:
        self._plain.put(self.PREFIX + key, {"text": value}, time.time())


class MemoryHubCache:
    """A :class:`HubCache` in a dict (tests, and a process that wants no database)."""

    def __init__(self) -> None:
        self._entries: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> CachedEntry | None:
        with self._lock:
            text = self._entries.get(key)
        # Stored as JSON, as a database would: a hit proves the entry survives the round trip.
        return None if text is None else CachedEntry.from_json(text)

    def put(self, key: str, entry: CachedEntry) -> None:
        with self._lock:
            self._entries[key] = entry.to_json()

    def stored_keys(self) -> list[str]:
        with self._lock:
            return sorted(self._entries)
