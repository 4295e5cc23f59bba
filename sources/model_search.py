"""Model names as people write them ("qwen3 32b", "llama 3.3 70b instruct") -> a Hub repo id.

One request to the Hub's model search (``GET {endpoint}/api/models?search=...&sort=downloads``),
through huggingface_hub's HTTP session. The rule, with no guessing beyond it: a repo matches when
every word of the name is a word of its id; a repo whose name has those words and no other
("Qwen3-32B" for "qwen3 32b") comes first, then the most downloaded; the next few matches are offered as alternatives.
Answers are cached (in-process, and in a :class:`SearchCache` when one is given) for ``ttl_s``, so
a warm lookup makes no request. The same search and caches give a form's live suggestions
(:meth:`ModelSearch.suggest`: what was typed so far -> repo ids). Self-contained: endpoint, token
and timeout are arguments; this module reads no environment.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from pydantic import ValidationError

from common.errors import HubUnavailableError, NotFoundError
from estimator.spec import Frozen

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://huggingface.co"
# Slack drops an external select's options after 3 seconds: a suggestion search gives up before that.
SUGGEST_TIMEOUT_S = 2.0
_REPO_ID = re.compile(r"^[\w.-]+/[\w.-]+$")
SEARCH_LIMIT = 50  # hits asked for per search term
MAX_OTHERS = 4  # alternatives offered besides the one used


class ModelHit(Frozen):
    id: str
    downloads: int = 0


class ModelMatch(Frozen):
    """What a name was read as: the repo used, and the other close matches."""

    phrase: str
    model_id: str
    others: tuple[str, ...] = ()
    fetched_at: float  # Unix time of the Hub's answer


class ModelSuggestions(Frozen):
    """The Hub's answer to a partly typed name: repo ids, most downloaded first."""

    term: str
    ids: tuple[str, ...]
    fetched_at: float  # Unix time of the Hub's answer


_Cached = TypeVar("_Cached", ModelMatch, ModelSuggestions)


class SearchCache(Protocol):
    """A persistent cache of search answers (JSON text under a string key)."""

    def get(self, key: str) -> str | None: ...

    def put(self, key: str, value: str) -> None: ...


class MemorySearchCache:
    """A :class:`SearchCache` in a dict (tests, and a process with no database)."""

    def __init__(self) -> None:
        self._entries: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._entries.get(key)

    def put(self, key: str, value: str) -> None:
        with self._lock:
            self._entries[key] = value


def words_of(phrase: str) -> list[str]:
    """The words of a model name, lower case ("Llama-3.3 70B" -> ["llama", "3.3", "70b"])."""
    return [w for w in re.split(r"[\s_\-/]+", phrase.lower()) if w]


def search_terms(phrase: str) -> list[str]:
    """What to ask the Hub, in order, until one answer matches: the words joined as an id
    ("qwen3-32b"), then as typed, then the longest word alone ("70B llama 3.3" -> "llama", whose most
    downloaded repos are then filtered here by every word)."""
    words = words_of(phrase)
    terms = ["-".join(words)]
    for term in (" ".join(words), max(words, key=len) if len(words) > 1 else ""):
        if term and term not in terms:
            terms.append(term)
    return terms


def rank(phrase: str, hits: list[ModelHit]) -> list[str]:
    """Repo ids whose id has every word of ``phrase``: an exact name first, then by downloads (stable)."""
    words = words_of(phrase)
    wanted = sorted(words)

    def matches(hit: ModelHit) -> bool:
        # Whole words only: "llama 3 70b" is not Llama-3.1-70B, "qwen3 8b" is not Qwen3-38B.
        tokens = set(words_of(hit.id))
        return all(w in tokens for w in words)

    seen: set[str] = set()
    unique = []
    for hit in hits:
        if hit.id.lower() not in seen and matches(hit):
            seen.add(hit.id.lower())
            unique.append(hit)
    # Named exactly so: the repo's name has the phrase's words and no other ("Qwen3-8B" for "8b qwen3").
    unique.sort(key=lambda h: (sorted(words_of(h.id.split("/")[-1])) != wanted, -h.downloads))
    return [h.id for h in unique]


def cache_key(phrase: str) -> str:
    return "search:" + " ".join(words_of(phrase))


def suggest_key(term: str) -> str:
    return "suggest:" + term.lower()


class ModelSearch:
    """Finds the Hub repo a name means; thread-safe; caches answers."""

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        token: str | None = None,
        timeout_s: float = 10.0,
        cache: SearchCache | None = None,
        ttl_s: float = 24 * 3600,
        clock: Callable[[], float] = time.time,
        memory_entries: int = 512,
    ) -> None:
        self.endpoint = (endpoint or DEFAULT_ENDPOINT).rstrip("/")
        self._token = token
        self._timeout_s = timeout_s
        self._cache = cache
        self._ttl_s = ttl_s
        self._clock = clock
        self._memory: OrderedDict[str, ModelMatch | ModelSuggestions] = OrderedDict()
        self._memory_limit = memory_entries
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never show the token
        return f"ModelSearch(endpoint={self.endpoint!r}, token={'set' if self._token else 'unset'})"

    def find(self, phrase: str) -> ModelMatch:
        """The repo ``phrase`` names; raises NotFoundError (no match) or HubUnavailableError."""
        key = cache_key(phrase)
        cached = self._cached(key, ModelMatch)
        if cached is not None:
            return cached.model_copy(update={"phrase": phrase})
        deadline = time.monotonic() + self._timeout_s
        ids: list[str] = []
        for term in search_terms(phrase):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ids = rank(phrase, self._search(term, left))
            if ids:
                break
        if not ids:
            raise NotFoundError(
                f'no Hub model matches "{phrase}": write its Hub id (org/name, for example Qwen/Qwen3-32B)'
            )
        match = ModelMatch(
            phrase=phrase, model_id=ids[0], others=tuple(ids[1 : 1 + MAX_OTHERS]), fetched_at=self._clock()
        )
        self._remember(key, match)
        return match

    def suggest(self, typed: str, *, limit: int = 20, timeout_s: float = SUGGEST_TIMEOUT_S) -> list[str]:
        """Repo ids for a partly typed name (a form's live suggestions): the text itself first when it is
        a whole repo id, then the Hub's search for it, most downloaded first. Never raises: when the
        Hub fails, only what was typed is suggested."""
        term = typed.strip().removeprefix(self.endpoint + "/").removeprefix(DEFAULT_ENDPOINT + "/").strip("/")
        if len(term) < 2:
            return []
        key = suggest_key(term)
        cached = self._cached(key, ModelSuggestions)
        ids: tuple[str, ...] = cached.ids if cached is not None else ()
        if cached is None:
            try:
                ids = self._suggestions(term, min(timeout_s, self._timeout_s))
            except Exception as err:  # a suggestion list must never fail: offer what was typed
                log.warning("Hub model search for suggestions failed: %s", err)
            else:
                self._remember(key, ModelSuggestions(term=term, ids=ids, fetched_at=self._clock()))
        out = [term] if _REPO_ID.match(term) else []
        out += [i for i in ids if i.lower() != term.lower()]
        return out[:limit]

    # -- pieces ------------------------------------------------------------------------------

    def _suggestions(self, term: str, timeout_s: float) -> tuple[str, ...]:
        """The Hub's repos for a typed term; words typed apart ("qwen3 32b") are asked as :meth:`find`
        asks them (joined as an id first), since the Hub's search matches the id's text."""
        if len(term.split()) < 2 or "/" in term:  # a partial id ("qwen3-0") is the Hub's to match
            return tuple(hit.id for hit in self._search(term, timeout_s))
        deadline = time.monotonic() + timeout_s
        for asked in search_terms(term):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if ids := rank(term, self._search(asked, left)):
                return tuple(ids)
        return ()

    def _cached(self, key: str, kind: type[_Cached]) -> _Cached | None:
        with self._lock:
            found = self._memory.get(key)
            if found is not None:
                self._memory.move_to_end(key)
        hit = found if isinstance(found, kind) else None
        if hit is None and self._cache is not None:
            try:
                text = self._cache.get(key)
                hit = kind.model_validate_json(text) if text else None
            except (ValidationError, ValueError, OSError):
                hit = None  # a cache only saves time: an unreadable entry is a miss
        if hit is None or self._clock() - hit.fetched_at > self._ttl_s:
            return None
        with self._lock:
            self._memory[key] = hit
        return hit

    def _remember(self, key: str, match: ModelMatch | ModelSuggestions) -> None:
        with self._lock:
            self._memory[key] = match
            self._memory.move_to_end(key)
            while len(self._memory) > self._memory_limit:
                self._memory.popitem(last=False)
        if self._cache is not None:
            # As in _cached: the answer stands without the cache.
            with contextlib.suppress(Exception):
                self._cache.put(key, match.model_dump_json())

    def _search(self, term: str, timeout_s: float) -> list[ModelHit]:
        import httpx2
        from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled
        from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

        try:
            response = get_session().get(
                f"{self.endpoint}/api/models",
                params={"search": term, "sort": "downloads", "limit": SEARCH_LIMIT},
                headers=build_hf_headers(token=self._token),
                timeout=timeout_s,
            )
            hf_raise_for_status(response)
            body: Any = response.json()
        except OfflineModeIsEnabled:
            raise HubUnavailableError(
                "offline mode is on and this model name was not looked up before: write its Hub id"
            ) from None
        except httpx2.TimeoutException:
            raise HubUnavailableError(
                f"the Hugging Face Hub's search did not answer within {self._timeout_s:g} s: try again, or write "
                "the model's Hub id"
            ) from None
        except (httpx2.HTTPError, HfHubHTTPError, json.JSONDecodeError) as err:
            raise HubUnavailableError(
                f"the Hugging Face Hub's search failed ({type(err).__name__}): try again, or write the model's Hub id"
            ) from None
        if not isinstance(body, list):
            raise HubUnavailableError("the Hugging Face Hub's search answered in an unknown shape: write the Hub id")
        hits = []
        for item in body:
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                downloads = item.get("downloads")
                hits.append(ModelHit(id=item["id"], downloads=downloads if isinstance(downloads, int) else 0))
        return hits


__all__ = [
    "MemorySearchCache",
    "ModelMatch",
    "ModelSearch",
    "ModelSuggestions",
    "SearchCache",
    "rank",
    "search_terms",
    "words_of",
]
