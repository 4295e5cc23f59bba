"""Model ids for the sizing form's live suggestions: the Hub's model search, cached briefly.

Slack waits about 3 seconds for the options of an external select, and a user types a few letters
at a time: each distinct search term goes to the Hub once per ``ttl_s``, and a failed search
suggests only what was typed (never an error in the menu).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from typing import Protocol

log = logging.getLogger(__name__)

_REPO_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


class Suggests(Protocol):
    """Model ids matching what a user typed, best first."""

    def suggest(self, typed: str, limit: int = 20) -> list[str]: ...


class HubSuggestions:
    """:class:`Suggests` through the Hub's ``/api/models?search=`` (sorted by downloads)."""

    def __init__(self, *, endpoint: str | None = None, token: str | None = None, ttl_s: float = 300.0,
                 max_entries: int = 512) -> None:
        self._endpoint = endpoint
        self._token = token
        self._ttl_s = ttl_s
        self._max = max_entries
        self._cache: OrderedDict[str, tuple[float, list[str]]] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never show the token
        return f"HubSuggestions(endpoint={self._endpoint!r})"

    def _search(self, term: str) -> list[str]:
        from estimator import hub as _hub  # noqa: F401  (sets the library's settings before its import)
        from huggingface_hub import HfApi

        api = HfApi(endpoint=self._endpoint, token=self._token)
        return [m.id for m in api.list_models(search=term, sort="downloads", limit=50)]

    def _cached(self, term: str) -> list[str] | None:
        with self._lock:
            hit = self._cache.get(term)
            if hit is None or time.monotonic() - hit[0] > self._ttl_s:
                return None
            self._cache.move_to_end(term)
            return hit[1]

    def suggest(self, typed: str, limit: int = 20) -> list[str]:
        term = typed.strip().removeprefix("https://huggingface.co/")
        if len(term) < 2:
            return []
        ids = self._cached(term.lower())
        if ids is None:
            try:
                ids = self._search(term)
            except Exception as err:  # a suggestion list must never fail: offer what was typed
                log.warning("Hub model search for %r failed: %s", term, err)
                ids = []
            else:
                with self._lock:
                    self._cache[term.lower()] = (time.monotonic(), ids)
                    while len(self._cache) > self._max:
                        self._cache.popitem(last=False)
        out = [term] if _REPO_ID.match(term) else []
        out += [i for i in ids if i != term]
        return out[:limit]
