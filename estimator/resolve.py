"""One entry point from what the user typed to a :class:`ResolvedModel`.

``Resolver.resolve("Qwen/Qwen3-8B")`` asks the Hub (through :mod:`estimator.hub`, the only module
that does network I/O); ``Resolver.resolve("./my-model")`` reads a local folder or config.json
(through :mod:`estimator.local`). Hub answers are cached in-process and, when a :class:`HubCache`
is given, persistently: a commit sha never changes, so it is never re-checked; a branch or tag is
re-checked after ``branch_ttl_s`` with one small request for its current sha.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

from pydantic import Field

from estimator.errors import HubUnavailableError, InputError
from estimator.spec import Frozen, SafetensorsInfo

GgufScalar = str | int | float | bool
T = TypeVar("T")
WATCHDOG_GRACE_S = 1.0  # past the total timeout, before an answer still coming is abandoned

SHA_RE = re.compile(r"^[0-9a-f]{40}$")
# Hub repo ids: "name" (legacy) or "namespace/name"; letters, digits, "-", "_", "."; at most 96 chars.
REPO_ID_RE = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,95}/)?[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")


class GgufInfo(Frozen):
    """What a GGUF file's header says (read with range requests, or from a local file)."""

    filename: str  # the file whose header was read
    file_bytes: int  # bytes of this variant (all parts of a split GGUF): weights plus header
    files: dict[str, int]  # every .gguf file of the repo (quantisation variants), name -> bytes
    version: int
    tensor_count: int
    architecture: str
    file_type: int | None = None  # general.file_type (llama.cpp's LLAMA_FTYPE: 15 = Q4_K_M)
    block_count: int | None = None
    embedding_length: int | None = None
    feed_forward_length: int | None = None
    head_count: int | None = None
    head_count_kv: int | None = None
    key_length: int | None = None
    value_length: int | None = None
    context_length: int | None = None
    vocab_size: int | None = None  # {arch}.vocab_size, else the length of tokenizer.ggml.tokens
    expert_count: int | None = None
    expert_used_count: int | None = None
    sliding_window: int | None = None
    parameters: int | None = None  # the Hub's count (model_info gguf.total), when known
    # From the tensor infos, when the whole header was read (local files):
    tensor_parameters: int | None = None  # elements of every tensor
    tied_embeddings: bool | None = None  # no output.weight beside token_embd.weight
    metadata: dict[str, GgufScalar] = Field(default_factory=dict)  # scalar key-values (arrays left out)


class ResolvedModel(Frozen):
    """A model located and described: its config and what its checkpoint holds."""

    model_id: str  # canonical id as the Hub spells it (after redirects), or the local path
    requested_id: str  # what the user typed
    revision: str | None  # 40-hex commit sha (None for local paths)
    config: dict[str, Any]  # config.json as is (nested text_config etc. untouched); {} for GGUF-only
    safetensors: SafetensorsInfo | None
    gguf: GgufInfo | None = None  # GGUF-only repos (no config.json)
    source: Literal["hub", "local", "cache"]
    warnings: tuple[str, ...] = ()


class CachedEntry(Frozen):
    """One cached Hub answer. Store it with :meth:`to_json`, load it with :meth:`from_json`."""

    model: ResolvedModel
    fetched_at: float  # Unix time when the Hub last confirmed this revision's sha

    def to_json(self) -> str:
        # Computed fields (SafetensorsInfo.total_bytes) are derived: leaving them out keeps the
        # round trip valid under extra="forbid".
        return self.model_dump_json(exclude_computed_fields=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> CachedEntry:
        return cls.model_validate_json(text)


@runtime_checkable
class HubCache(Protocol):
    """A persistent cache of Hub answers, keyed by :func:`cache_key` strings."""

    def get(self, key: str) -> CachedEntry | None: ...

    def put(self, key: str, entry: CachedEntry) -> None: ...


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


def cache_key(model_id: str, revision: str | None) -> str:
    """The cache key of a Hub model at a revision (ids are case-insensitive on the Hub)."""
    return f"hub:{model_id.lower()}@{revision or 'main'}"


def is_commit_sha(revision: str | None) -> bool:
    return revision is not None and SHA_RE.match(revision) is not None


def offline_mode() -> bool:
    """HF_HUB_OFFLINE as set now (the library reads it once at import; a CLI may set it later)."""
    from estimator.hub import library_offline_mode

    value = os.environ.get("HF_HUB_OFFLINE", "")
    return value.strip().upper() in {"1", "ON", "YES", "TRUE"} or library_offline_mode()


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
        clock: Callable[[], float] = time.time,
        memory_entries: int = 256,
    ) -> None:
        self._token = token
        self._endpoint = endpoint
        self._cache = cache
        self._branch_ttl_s = branch_ttl_s
        self._total_timeout_s = total_timeout_s
        self._clock = clock
        self._memory: OrderedDict[str, CachedEntry] = OrderedDict()  # least recently used first
        self._memory_limit = memory_entries
        self._lock = threading.Lock()
        self._key_locks: dict[str, list[Any]] = {}  # key -> [lock, threads using it]

    def __repr__(self) -> str:  # never show the token
        return f"Resolver(endpoint={self._endpoint!r}, token={'set' if self._token else 'unset'})"

    def resolve(self, model: str, revision: str | None = None) -> ResolvedModel:
        """Locate ``model`` (a local path, or a Hub id at ``revision``) and describe it."""
        from estimator import local

        model = model.strip()
        if revision is not None:
            revision = revision.strip() or None
        if local.is_local_reference(model):
            if revision is not None:
                raise InputError(f"{model} is a local path: drop @{revision}, revisions are for Hub models")
            return local.load_local(model)
        if not REPO_ID_RE.match(model) or ".." in model:
            raise InputError(
                f'"{model}" is neither a Hub model id (like Qwen/Qwen3-8B) nor an existing local path'
            )
        if revision is not None and is_commit_sha(revision.lower()):
            revision = revision.lower()  # the Hub spells commits in lower case; so do the cache keys
        return self._resolve_hub(model, revision)

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
        # Concurrent asks for one model (a burst in a Slack channel) make one round of Hub requests.
        with self._lock:
            slot = self._key_locks.setdefault(key, [threading.Lock(), 0])
            slot[1] += 1
        try:
            with slot[0]:
                notes: list[str] = []
                resolved = self._resolve_hub_locked(model, revision, key, notes)
        finally:
            with self._lock:
                slot[1] -= 1
                if slot[1] == 0:
                    del self._key_locks[key]  # no lock kept per model ever asked for
        # What depends on this ask, not on the cached answer: the id typed, and whether it was renamed.
        warnings = (*rename_warnings(model, resolved.model_id), *resolved.warnings, *notes)
        return resolved.model_copy(update={"requested_id": model, "warnings": warnings})

    def _resolve_hub_locked(self, model: str, revision: str | None, key: str, notes: list[str]) -> ResolvedModel:
        from estimator import hub

        entry = self._lookup(key, notes)
        if entry is not None and self._fresh(entry, revision):
            return _from_cache(entry)

        if offline_mode():
            if entry is not None:
                return _from_cache(entry, stale_note=self._stale_note(entry, "offline mode is on"))
            snapshot = hub.hf_cache_snapshot(model, revision)
            if snapshot is not None:
                # What transformers would load offline: the Hugging Face cache's copy of the repo.
                from estimator import local

                found = local.load_local(snapshot)
                sha = os.path.basename(snapshot)
                notes.append(f"offline mode is on: read {model} @ {sha[:7]} from the Hugging Face cache")
                return found.model_copy(update={"model_id": model, "revision": sha, "source": "cache"})
            raise HubUnavailableError(
                f"offline mode is on (HF_HUB_OFFLINE) and {model} has not been looked up before nor is it in "
                "the Hugging Face cache: unset HF_HUB_OFFLINE to ask the Hub"
            )

        client = hub.HubClient(token=self._token, endpoint=self._endpoint)
        deadline = hub.Deadline(self._total_timeout_s, clock=time.monotonic)
        cached_sha = entry.model.revision if entry is not None else None

        def ask() -> ResolvedModel | None:
            # A branch or tag past its TTL: one small request for its sha decides.
            if cached_sha is not None and client.current_sha(model, revision, deadline) == cached_sha:
                return None
            return client.fetch(model, revision, deadline)

        try:
            resolved = _within(ask, self._total_timeout_s + WATCHDOG_GRACE_S, deadline.expired_sentence())
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
