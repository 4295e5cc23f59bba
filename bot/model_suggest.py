"""Model ids for the sizing form's live suggestions: the Hub's model search, cached briefly.

Slack waits about 3 seconds for the options of an external select, and a user types a few letters
at a time: each distinct search term goes to the Hub once per ``ttl_s`` (giving up after
``timeout_s``), and a failed search suggests only what was typed (never an error in the menu).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from typing import Protocol

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://huggingface.co"
_REPO_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


class Suggests(Protocol):
    """Model ids matching what a user typed, best first."""

    def suggest(self, typed: str, limit: int = 20) -> list[str]: ...


class HubSuggestions:
    """:class:`Suggests` through the Hub's ``/api/models?search=`` (sorted by downloads)."""

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        token: str | None = None,
        ttl_s: float = 300.0,
        timeout_s: float = 2.0,
        max_entries: int = 512,
    ) -> None:
        # Slack drops the options after 3 seconds: a slow search must give up before that.
        self._timeout_s = timeout_s
        self._endpoint = endpoint
        self._token = token
        self._ttl_s = ttl_s
        self._max = max_entries
        self._cache: OrderedDict[str, tuple[float, list[str]]] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never show the token
        return f"HubSuggestions(endpoint={self._endpoint!r})"

    def _search(self, term: str) -> list[str]:
        import httpx2  # the HTTP client huggingface_hub is built on

        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        resp = httpx2.get(
            f"{(self._endpoint or DEFAULT_ENDPOINT).rstrip('/')}/api/models",
            headers=headers,
            params={"search": term, "sort": "downloads", "limit": 50},
            timeout=self._timeout_s,
        )
        resp.raise_for_status()
        return [str(m["id"]) for m in resp.json() if isinstance(m, dict) and m.get("id")]

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
