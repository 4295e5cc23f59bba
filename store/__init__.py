"""The history store: queries, the Hub cache and handled chat events (SQLite or Postgres).

Usage from an entrypoint (the only place that reads settings)::

    url = os.environ.get("DATABASE_URL") or default_database_url()
    store = Store(url)
    store.ensure_schema()          # or store.upgrade() for `vram db upgrade` / `vram serve`
    me = Conversation(platform="cli", user=getpass.getuser())   # a chat: workspace, channel, DM or not
    rec = store.record(NewQuery(conversation=me, text=..., status="ok", ...))
    store.history(scope=me, model="llama")

Writes that still fail after the retries raise ``StoreWriteError`` (show the answer anyway, "not
saved"); reads that fail raise ``StoreReadError``; both are ``StoreError`` with one sentence.
"""

from store.errors import StoreError, StoreReadError, StoreWriteError
from store.hub_cache import DbHubCache
from store.records import Conversation, NewQuery, QueryRecord
from store.store import MAX_LIMIT, Store, default_database_url, normalize_url

__all__ = [
    "MAX_LIMIT",
    "Conversation",
    "DbHubCache",
    "NewQuery",
    "QueryRecord",
    "Store",
    "StoreError",
    "StoreReadError",
    "StoreWriteError",
    "default_database_url",
    "normalize_url",
]
