"""The history store: queries, the Hub cache and handled Slack events (SQLite or Postgres).

Usage from an entrypoint (the only place that reads settings)::

    url = settings.database_url or default_database_url()
    store = Store(url)
    store.ensure_schema()          # or store.upgrade() for `vram db upgrade` / `vram serve`
    rec = store.record(NewQuery(source="cli", user=getpass.getuser(), text=..., status="ok", ...))
    store.history(scope=Scope(source="cli", user=getpass.getuser()), model="llama")

Writes that still fail after the retries raise ``StoreWriteError`` (show the answer anyway, "not
saved"); reads that fail raise ``StoreReadError``; both are ``StoreError`` with one sentence.
"""

from common.errors import StoreError, StoreReadError, StoreWriteError
from store.hub_cache import DbHubCache
from store.records import NewQuery, QueryRecord, Scope
from store.store import MAX_LIMIT, Store, default_database_url, normalize_url

__all__ = [
    "MAX_LIMIT",
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
