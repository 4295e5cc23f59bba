"""Handled Slack events (de-duplication), the Hub cache table, and their retention."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from estimator.spec import SafetensorsInfo
from sources import CachedEntry, HubCache, ResolvedModel, StoredHubCache, cache_key
from store import DbHubCache, Store
from store.models import HandledEventRow, HubCacheRow, SeenRequestRow

# Subprocesses, both databases or many generated examples: outside the fast subset.
pytestmark = pytest.mark.slow

SHA = "0123456789abcdef0123456789abcdef01234567"


def _entry(fetched_at: float, layers: int = 40) -> CachedEntry:
    model = ResolvedModel(
        model_id="microsoft/phi-4",
        requested_id="Microsoft/Phi-4",
        revision=SHA,
        config={
            "model_type": "phi3",
            "num_hidden_layers": layers,
            "rope_scaling": None,
            "torch_dtype": "bfloat16",
            "nested": {"a": [1, 2.5, "x"]},
        },
        safetensors=SafetensorsInfo(parameters={"BF16": 14659507200}),
        source="hub",
        warnings=("a warning",),
    )
    return CachedEntry(model=model, fetched_at=fetched_at)


def test_claim_event_once(store: Store) -> None:
    assert store.claim_event("Ev01") is True
    assert store.claim_event("Ev01") is False
    assert store.claim_event("Ev02") is True
    assert store.claim_event("ev01") is True  # ids are compared exactly


def test_claim_event_racing_threads(store: Store) -> None:
    """Eight handlers get the same retried event at once: exactly one wins."""
    results: list[bool] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def claim() -> None:
        barrier.wait()
        won = store.claim_event("Ev-race")
        with lock:
            results.append(won)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == [False] * 7 + [True]


def test_hub_cache_round_trip(store: Store) -> None:
    plain = store.hub_cache()
    assert isinstance(plain, DbHubCache)
    cache = StoredHubCache(plain)
    assert isinstance(cache, HubCache)  # the resolver's protocol
    key = cache_key("microsoft/phi-4", SHA)
    assert cache.get(key) is None
    entry = _entry(1_760_000_000.5)
    cache.put(key, entry)
    assert cache.get(key) == entry
    # The store itself keeps plain JSON data.
    data = plain.get(key)
    assert isinstance(data, dict) and data["model"]["model_id"] == "microsoft/phi-4"
    assert data["fetched_at"] == 1_760_000_000.5
    # Another Store on the same database (another replica) sees it.
    other = Store(store.url.render_as_string(hide_password=False))
    try:
        assert StoredHubCache(other.hub_cache()).get(key) == entry
    finally:
        other.close()
    # put replaces: a moving branch re-checked later.
    newer = _entry(1_760_000_900.0, layers=41)
    cache.put(key, newer)
    assert cache.get(key) == newer
    with store.engine.connect() as conn:
        fetched = conn.execute(select(HubCacheRow.fetched_at).where(HubCacheRow.key == key)).scalar_one()
    assert fetched == datetime.fromtimestamp(1_760_000_900.0, tz=UTC)


def test_hub_cache_bad_entry_is_a_miss(store: Store) -> None:
    cache = StoredHubCache(store.hub_cache())
    cache.put("hub:x@main", _entry(1.0))
    with store.engine.begin() as conn:  # as an older release might have left it
        conn.execute(update(HubCacheRow).values(entry={"model": {"unexpected": True}, "fetched_at": 1.0}))
    assert cache.get("hub:x@main") is None


def test_hub_cache_key_too_long(store: Store) -> None:
    cache = StoredHubCache(store.hub_cache())
    key = "hub:" + "a" * 600
    cache.put(key, _entry(1.0))  # skipped, not raised
    assert cache.get(key) is None


def test_hub_cache_never_raises_when_the_database_is_gone(tmp_path) -> None:
    s = Store(f"sqlite:///{tmp_path / 'no-tables.sqlite3'}", retries=1)  # never migrated
    try:
        cache = StoredHubCache(s.hub_cache())
        cache.put("hub:x@main", _entry(1.0))
        assert cache.get("hub:x@main") is None
    finally:
        s.close()


def test_prune_retention(store: Store) -> None:
    store.prune_interval_s = None  # only the explicit prune below, at its own "now"
    now = datetime(2026, 6, 1, tzinfo=UTC)
    cache = StoredHubCache(store.hub_cache())
    # Hub cache keeps 30 days from fetched_at: 31 days old goes, 29 days old stays.
    cache.put("hub:old@main", _entry((now - timedelta(days=31)).timestamp()))
    cache.put("hub:new@main", _entry((now - timedelta(days=29)).timestamp()))
    # Event ids keep 1 day from receipt: 25 hours old goes, 23 hours old stays.
    assert store.claim_event("old") and store.claim_event("new")
    with store.engine.begin() as conn:
        conn.execute(
            update(HandledEventRow)
            .where(HandledEventRow.event_id == "old")
            .values(received_at=now - timedelta(hours=25))
        )
        conn.execute(
            update(HandledEventRow)
            .where(HandledEventRow.event_id == "new")
            .values(received_at=now - timedelta(hours=23))
        )
    store.prune(now=now)
    with store.engine.connect() as conn:
        assert conn.execute(select(HubCacheRow.key)).scalars().all() == ["hub:new@main"]
        assert conn.execute(select(HandledEventRow.event_id)).scalars().all() == ["new"]
    # A pruned event id can be claimed again (Slack stopped retrying it long ago).
    assert store.claim_event("old") is True
    assert json.loads(cache.get("hub:new@main").to_json())["model"]["model_id"] == "microsoft/phi-4"  # type: ignore[union-attr]


def test_claiming_events_applies_retention(db_url: str) -> None:
    """No scheduler needed: with interval 0 every claim prunes; by default once an hour per process."""
    store = Store(db_url, prune_interval_s=0)
    store.upgrade()
    try:
        assert store.claim_event("stale")
        with store.engine.begin() as conn:
            conn.execute(update(HandledEventRow).values(received_at=datetime(2020, 1, 1, tzinfo=UTC)))
        assert store.claim_event("fresh")  # this claim prunes "stale"
        with store.engine.connect() as conn:
            assert conn.execute(select(HandledEventRow.event_id)).scalars().all() == ["fresh"]
    finally:
        store.close()

    hourly = Store(db_url)  # the default interval: the first claim prunes, the next ones do not
    try:
        assert hourly.claim_event("a")
        with hourly.engine.begin() as conn:
            conn.execute(update(HandledEventRow).values(received_at=datetime(2020, 1, 1, tzinfo=UTC)))
        assert hourly.claim_event("b")
        with hourly.engine.connect() as conn:
            assert sorted(conn.execute(select(HandledEventRow.event_id)).scalars()) == ["a", "b", "fresh"]
    finally:
        hourly.close()


def test_first_sighting_of_a_request_signature(store: Store) -> None:
    assert store.first_sighting("v0=abc") is True
    assert store.first_sighting("v0=abc") is False  # a replay
    assert store.first_sighting("v0=def") is True


def test_an_expired_signature_is_new_again_and_pruned(store: Store) -> None:
    assert store.first_sighting("v0=old", keep=timedelta(seconds=-1)) is True  # already expired
    assert store.first_sighting("v0=old") is True
    assert store.first_sighting("v0=gone", keep=timedelta(seconds=-1)) is True
    store.prune()
    with store.engine.connect() as conn:
        left = set(conn.execute(select(SeenRequestRow.signature)).scalars())
    assert left == {"v0=old"}
