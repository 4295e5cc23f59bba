"""The history store: queries, the Hub cache and handled chat events (SQLite or Postgres).

Usage from an entrypoint (the only place that reads settings)::

    url = settings.database_url or default_database_url()
    store = Store(url)
    store.ensure_schema()          # or store.upgrade() for `vram db upgrade` / `vram serve`
    me = Conversation(platform="cli", user=getpass.getuser())   # a chat: workspace, channel, DM or not
    rec = store.record(NewQuery(conversation=me, text=..., status="ok", ...))
    store.history(scope=me, model="llama")

Writes that still fail after the retries raise ``StoreWriteError`` (show the answer anyway, "not
saved"); reads that fail raise ``StoreReadError``; both are ``StoreError`` with one sentence.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from common.errors import StoreError, StoreReadError, StoreWriteError
from store.records import Conversation, NewQuery, QueryRecord

if TYPE_CHECKING:
    from store.hub_cache import DbHubCache
    from store.store import MAX_LIMIT, Store, default_database_url, normalize_url

# SQLAlchemy is loaded on first use of these names, not when the records are imported: a command
# that never touches the database (`vram --help`, `vram gpus`) never pays for it.
_LAZY = {
    "DbHubCache": "store.hub_cache",
    "MAX_LIMIT": "store.store",
    "Store": "store.store",
    "default_database_url": "store.store",
    "normalize_url": "store.store",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'store' has no attribute {name!r}")


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
