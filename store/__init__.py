"""The history store: queries, the Hub cache and handled Slack events (SQLite or Postgres)."""

from store.errors import StoreError, StoreReadError, StoreWriteError
from store.hub_cache import DbHubCache
from store.records import NewQuery, QueryRecord, Scope
from store.store import Store, default_database_url, normalize_url

__all__ = [
    "DbHubCache",
    "NewQuery",
    "QueryRecord",
    "Scope",
    "Store",
    "StoreError",
    "StoreReadError",
    "StoreWriteError",
    "default_database_url",
    "normalize_url",
]
