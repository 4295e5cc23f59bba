"""One entry point from what the user typed to a model the estimator can size.

``Resolver.open_model("Qwen/Qwen3-8B")`` asks the Hub (through :mod:`sources.hub`, the only module
that talks to it); ``Resolver.open_model("./my-model")`` reads a local folder, a config.json or a
GGUF file (through :mod:`sources.local`). Either way the source decides how the model is described
(its config.json, or its GGUF header when it has none) and hands back an :class:`OpenedModel`.

Hub answers are cached in-process and, when a :class:`HubCache` is given, persistently: a commit
sha never changes, so it is never re-checked; a branch or tag is re-checked after ``branch_ttl_s``
with one small request for its current sha. Concurrent asks for one model share one lookup.
"""

from __future__ import annotations

import copy
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from common.errors import GatedError, HubUnavailableError, InputError, NotFoundError
from sources import local
from sources.cache import CachedEntry, HubCache, cache_key
from sources.model import OpenedModel, ResolvedModel, hub_timeout_sentence, offline_sentence, opened

if TYPE_CHECKING:
    from sources.hub import HubClient

T = TypeVar("T")
WATCHDOG_GRACE_S = 1.0  # past the total timeout, before an answer still coming is abandoned

SHA_RE = re.compile(r"^[0-9a-f]{40}$")
# Hub repo ids: "name" (legacy) or "namespace/name"; letters, digits, "-", "_", "."; at most 96 chars.
REPO_ID_RE = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,95}/)?[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")


def is_commit_sha(revision: str | None) -> bool:
    return revision is not None and SHA_RE.match(revision) is not None


def hub_client(token: str | None, endpoint: str | None) -> HubClient:
    """A Hub client. ``huggingface_hub`` is imported here, on the first ask that needs the Hub, so
    a command that never asks it (help, gpus, a local config, a cached model) never pays for it."""
    from sources.hub import HubClient

    return HubClient(token=token, endpoint=endpoint)


class _Flight:
    """One Hub lookup in progress; every asker of the same model waits on it."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: ResolvedModel | None = None
        self.error: BaseException | None = None


class Resolver:
    """Resolves a Hub id or a local path; thread-safe; caches Hub answers."""

    def __init__(
        self,
        *,
        token: str | None = None,
        endpoint: str | None = None,
        cache: HubCache | None = None,
        branch_ttl_s: float = 600,
        total_timeout_s: float = 10,
        offline: bool = False,
        clock: Callable[[], float] = time.time,
        memory_entries: int = 256,
        client: Callable[[str | None, str | None], Any] = hub_client,
        preload_client: bool = False,
    ) -> None:
        """``preload_client``: import the Hub library now rather than on the first Hub ask. A server
        wants that: a first ask still in flight when it shuts down could no longer import it."""
        self._token = token
        self._endpoint = endpoint
        self._cache = cache
        self._branch_ttl_s = branch_ttl_s
        self._total_timeout_s = total_timeout_s
        self._offline = offline  # HF_HUB_OFFLINE, read by the caller's settings
        self._clock = clock
        self._client = client
        self._memory: OrderedDict[str, CachedEntry] = OrderedDict()  # least recently used first
        self._memory_limit = memory_entries
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight] = {}  # key -> the lookup in progress
        if preload_client:
            client(token, endpoint)

    def __repr__(self) -> str:  # never show the token
        return f"Resolver(endpoint={self._endpoint!r}, token={'set' if self._token else 'unset'})"

    def open_model(self, model: str, revision: str | None = None) -> OpenedModel:
        """Locate ``model`` and work out its spec: what the estimator needs."""
        return opened(self.resolve(model, revision))

    def resolve(self, model: str, revision: str | None = None) -> ResolvedModel:
        """Locate ``model`` (a local path, or a Hub id at ``revision``) and describe it."""
        model = model.strip()
        if revision is not None:
            revision = revision.strip() or None
        if local.is_local_reference(model):
            if revision is not None:
                raise InputError(f"{model} is a local path: drop @{revision}, revisions are for Hub models")
            return local.load_local(model)
        if not REPO_ID_RE.match(model) or ".." in model:
            if local.names_a_folder(model):
                raise InputError(f"a folder {model} is here, but it holds no config.json or GGUF file")
            if (repo := _without_trailing_slash(model)) is not None:
                # Typed as a folder, or as a Hub id: say both, as this side reads both.
                raise InputError(
                    f'"{model}" is not a Hub model id: drop the trailing "/" ({repo}); nor is it a folder here'
                )
            raise InputError(f'"{model}" is neither a Hub model id (like Qwen/Qwen3-8B) nor an existing local path')
        if revision is not None and is_commit_sha(revision.lower()):
            revision = revision.lower()  # the Hub spells commits in lower case; so do the cache keys
        try:
            return self._resolve_hub(model, revision)
        except (NotFoundError, GatedError, HubUnavailableError) as err:
            # A folder of that name that holds no model is read as a Hub id (org/name may be both):
            # say it is there, or the Hub's answer hides why the folder was not read.
            if not local.names_a_folder(model):
                raise
            hint = f"a folder {model} is here, but it holds no config.json or GGUF file"
            raise type(err)(f"{err.message} ({hint})", what=err.what, value=err.value, hint=hint) from err

    # -- Hub, through the caches -------------------------------------------------------------

    def _lookup(self, key: str, notes: list[str]) -> CachedEntry | None:
        with self._lock:
            entry = self._memory.get(key)
            if entry is not None:
                self._memory.move_to_end(key)
        if entry is None and self._cache is not None:
            try:
                entry = self._cache.get(key)
            except Exception as err:  # the cache only saves time: a broken one must not stop an answer
                notes.append(f"the model cache could not be read ({type(err).__name__}); asked the Hub")
                entry = None
            if entry is not None:
                self._remember(key, entry)
        return entry

    def _remember(self, key: str, entry: CachedEntry) -> None:
        with self._lock:
            self._memory[key] = entry
            self._memory.move_to_end(key)
            while len(self._memory) > self._memory_limit:
                self._memory.popitem(last=False)

    def _store(self, entry: CachedEntry, keys: list[str], notes: list[str]) -> None:
        for key in keys:
            self._remember(key, entry)
        if self._cache is not None:
            try:
                for key in keys:
                    self._cache.put(key, entry)
            except Exception as err:  # as in _lookup: the answer stands without the cache
                notes.append(f"the model cache could not be written ({type(err).__name__})")

    def _fresh(self, entry: CachedEntry, revision: str | None) -> bool:
        if is_commit_sha(revision):
            return True  # a commit never changes
        return self._clock() - entry.fetched_at < self._branch_ttl_s

    def _resolve_hub(self, model: str, revision: str | None) -> ResolvedModel:
        key = cache_key(model, revision)
        # Concurrent asks for one model (a burst in a Slack channel) share one lookup: the first
        # asker makes it, the others wait for its answer or its failure, all within one timeout.
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
        notes: list[str] = []
        if leader:
            try:
                flight.result = self._resolve_hub_once(model, revision, key, notes)
            except BaseException as err:
                flight.error = err
                raise
            finally:
                with self._lock:
                    del self._flights[key]  # the next ask after this one looks at the caches again
                flight.done.set()
            resolved = flight.result
        else:
            # The leader's lookup is itself bounded by the timeout and its grace; this bound only
            # guards against a leader stuck outside it (a cache read on a hung database).
            if not flight.done.wait(self._total_timeout_s + 2 * WATCHDOG_GRACE_S):
                raise HubUnavailableError(hub_timeout_sentence(self._total_timeout_s))
            if flight.error is not None:
                raise copy.copy(flight.error) from None  # a copy: each asker's traceback is its own
            assert flight.result is not None
            resolved = flight.result
        # What depends on this ask, not on the cached answer: the id typed, and whether it was renamed.
        warnings = (*rename_warnings(model, resolved.model_id), *resolved.warnings, *notes)
        return resolved.model_copy(update={"requested_id": model, "warnings": warnings})

    def _resolve_hub_once(self, model: str, revision: str | None, key: str, notes: list[str]) -> ResolvedModel:
        entry = self._lookup(key, notes)
        if entry is not None and self._fresh(entry, revision):
            return _from_cache(entry)

        if self._offline:
            if entry is not None:
                return _from_cache(entry, stale_note=self._stale_note(entry, "offline mode is on"))
            from sources.hub import hf_cache_snapshot  # only offline: huggingface_hub is imported lazily

            snapshot = hf_cache_snapshot(model, revision)
            if snapshot is not None:
                # What transformers would load offline: the Hugging Face cache's copy of the repo.
                found = local.load_local(snapshot)
                sha = os.path.basename(snapshot)
                notes.append(f"offline mode is on: read {model} @ {sha[:7]} from the Hugging Face cache")
                return found.model_copy(update={"model_id": model, "revision": sha, "source": "cache"})
            raise HubUnavailableError(offline_sentence(model))

        client = self._client(self._token, self._endpoint)
        deadline = client.deadline(self._total_timeout_s)
        cached_sha = entry.model.revision if entry is not None else None

        def ask() -> ResolvedModel | None:
            # A branch or tag past its TTL: one small request for its sha decides.
            if cached_sha is not None and client.current_sha(model, revision, deadline) == cached_sha:
                return None
            return client.fetch(model, revision, deadline)

        try:
            resolved = _within(
                ask, self._total_timeout_s + WATCHDOG_GRACE_S, hub_timeout_sentence(self._total_timeout_s)
            )
        except HubUnavailableError:
            if entry is not None:
                return _from_cache(entry, stale_note=self._stale_note(entry, "the Hub is unavailable"))
            raise
        if resolved is None:
            assert entry is not None
            renewed = CachedEntry(model=entry.model, fetched_at=self._clock())
            self._store(renewed, [key], notes)
            return _from_cache(renewed)
        fresh = CachedEntry(model=resolved, fetched_at=self._clock())
        keys = [key, cache_key(resolved.model_id, revision)]
        if resolved.revision is not None:
            keys.append(cache_key(resolved.model_id, resolved.revision))
        self._store(fresh, list(dict.fromkeys(keys)), notes)
        return resolved

    def _stale_note(self, entry: CachedEntry, why: str) -> str:
        age_min = max(0, round((self._clock() - entry.fetched_at) / 60))
        sha = (entry.model.revision or "")[:7]
        return f"{why}: using the cached copy of {entry.model.model_id} @ {sha} from {age_min} min ago"


def rename_warnings(requested: str, canonical: str) -> tuple[str, ...]:
    """A note when the Hub redirected ``requested`` to another repo (not for casing alone)."""
    if requested.lower() == canonical.lower():
        return ()  # only the casing differs: the canonical id is shown, no need to say more
    return (f"{requested} now lives at {canonical} (the Hub redirected); use the new id",)


def _within(fn: Callable[[], T], limit_s: float, sentence: str) -> T:
    """``fn()``, or HubUnavailableError after ``limit_s``.

    Every request has its own timeout, but a timeout bounds each wait for bytes, not a whole
    answer (a server dripping bytes, a stalled DNS lookup); this bounds the whole. The worker is a
    daemon thread: if it is still stuck, it is abandoned and does not hold up the process's exit.
    """
    box: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as err:  # handed to the caller's thread below
            box["error"] = err
        finally:
            done.set()

    threading.Thread(target=run, name="vram-hub", daemon=True).start()
    if not done.wait(limit_s):
        raise HubUnavailableError(sentence)
    if "error" in box:
        raise box["error"]
    return box["value"]


def _from_cache(entry: CachedEntry, stale_note: str | None = None) -> ResolvedModel:
    warnings = entry.model.warnings + ((stale_note,) if stale_note else ())
    return entry.model.model_copy(update={"source": "cache", "warnings": warnings})


class HubOnlyResolver:
    """A resolver that refuses local paths: Slack users must not make the server read its own files."""

    def __init__(self, inner: Resolver) -> None:
        self._inner = inner

    def __repr__(self) -> str:
        return f"HubOnlyResolver({self._inner!r})"

    def resolve(self, model: str, revision: str | None = None) -> ResolvedModel:
        name = model.strip()
        if name.startswith((".", "/", "~", "\\")) or name.endswith((".json", ".gguf")) or _exists(name):
            raise InputError(f'"{model}" is a local path: in Slack, give a Hub model id such as microsoft/phi-4')
        if (repo := _without_trailing_slash(name)) is not None:
            raise InputError(f'"{model}" is not a Hub model id: drop the trailing "/" ({repo})')
        return self._inner.resolve(model, revision)

    def open_model(self, model: str, revision: str | None = None) -> OpenedModel:
        return opened(self.resolve(model, revision))


def _without_trailing_slash(name: str) -> str | None:
    """The Hub id ``name`` is but for the trailing slashes a folder's completion adds, else None."""
    repo = name.rstrip("/")
    return repo if repo != name and REPO_ID_RE.match(repo) and ".." not in repo else None


def _exists(name: str) -> bool:
    try:
        return Path(name).expanduser().exists()
    except (OSError, ValueError):
        return False


class Opens(Protocol):
    """What a front end needs of a source: a model the estimator can size."""

    def open_model(self, model: str, revision: str | None = None) -> OpenedModel: ...
