"""Recording queries and reading them back: every field survives, threads and chains are found."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from store import Conversation, NewQuery, QueryRecord, Store, StoreWriteError
from store.models import QueryRow

# Subprocesses, both databases or many generated examples: outside the fast subset.
pytestmark = pytest.mark.slow

SHA = "4a5f1d3" + "0" * 33

RESULT = {
    "model": "microsoft/phi-4",
    "revision": SHA,
    "params": {"total": 14659507200},
    "memory": {"weights": 29319014400, "kv_cache": 3355443200, "activations": 1, "overhead": 2, "total": 32674457603},
    "classic": {
        "model_gb": 29.4,
        "vanilla_gb": 91.27,
        "gqa_gb": 26.26,
        "flash_gb": 5.39,
        "kv_cache_gb": 1.34,
        "total_gb": 36.13,
    },
    "fit": None,
    "warnings": ["naïve — ünïcödé ✓"],
}


def slack_query(**over: object) -> NewQuery:
    fields: dict[str, object] = {
        "conversation": Conversation(platform="slack", workspace="T1", channel="C1", user="U1"),
        "text": "/vram microsoft/phi-4 s=16k",
        "params": {"seq_len": 16384, "batch": 1, "flash_attention": True},
        "requested_model": "microsoft/phi-4",
        "model": "microsoft/phi-4",
        "revision": SHA,
        "result": RESULT,
        "status": "ok",
    }
    fields.update(over)
    return NewQuery(**fields)  # type: ignore[arg-type]


def test_record_round_trip(store: Store) -> None:
    when = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
    rec = store.record(slack_query(created_at=when))
    assert rec.id >= 1
    assert rec.created_at == when
    got = store.get(rec.id)
    assert got == rec
    assert got is not None
    assert got.result == RESULT  # nested JSON, big integers, floats and non-ASCII text intact
    assert got.params == {"seq_len": 16384, "batch": 1, "flash_attention": True}
    assert got.created_at.tzinfo is not None and got.created_at.utcoffset() == timedelta(0)
    assert (got.posted_channel, got.posted_ts, got.thread_ts) == (None, None, None)
    assert got.public is False  # nobody else saw it until it is posted
    assert got.model_label == "microsoft/phi-4"


def test_a_new_front_end_needs_no_migration(store: Store) -> None:
    # Any short platform name is stored and read back (the table no longer lists the front ends).
    teams = Conversation(platform="msteams", workspace="tenant-1", channel="19:abc", user="29:xyz")
    rec = store.record(slack_query(conversation=teams))
    assert store.get(rec.id) == rec
    assert store.history(scope=teams.model_copy(update={"user": "29:other"})) == []  # not posted: private
    store.set_posted(rec.id, channel="19:abc", ts="1", thread_ts=None)
    assert [r.id for r in store.history(scope=teams.model_copy(update={"user": "29:other"}))] == [rec.id]


def test_created_at_defaults_to_now_and_is_utc(store: Store) -> None:
    before = datetime.now(UTC)
    rec = store.record(slack_query())
    after = datetime.now(UTC)
    assert before <= rec.created_at <= after
    # An offset time is stored as the same instant; a naive one is read as UTC.
    plus2 = datetime(2026, 1, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert store.get(store.record(slack_query(created_at=plus2)).id).created_at == datetime(  # type: ignore[union-attr]
        2026, 1, 1, 12, 0, tzinfo=UTC
    )
    naive = datetime(2026, 1, 1, 12, 0)
    assert store.get(store.record(slack_query(created_at=naive)).id).created_at == datetime(  # type: ignore[union-attr]
        2026, 1, 1, 12, 0, tzinfo=UTC
    )


def test_error_record(store: Store) -> None:
    sentence = "meta-llama/Llama-3.1-8B is gated: accept its licence on the Hub and set HF_TOKEN where vram runs"
    rec = store.record(
        slack_query(
            status="error",
            error=sentence,
            model=None,
            revision=None,
            result=None,
            requested_model="meta-llama/Llama-3.1-8B",
        )
    )
    got = store.get(rec.id)
    assert got is not None and got.status == "error" and got.error == sentence
    assert got.model is None and got.model_label == "meta-llama/Llama-3.1-8B"
    # The search column holds the lowered label (SQLite's LIKE would hide a missing lower(); Postgres not).
    with store.engine.connect() as conn:
        lowered = conn.execute(select(QueryRow.model_lc).where(QueryRow.id == rec.id)).scalar_one()
    assert lowered == "meta-llama/llama-3.1-8b"


def test_ids_increase(store: Store) -> None:
    ids = [store.record(slack_query()).id for _ in range(5)]
    assert ids == sorted(ids) and len(set(ids)) == 5


def test_get_missing_is_none(store: Store) -> None:
    assert store.get(123456) is None
    # Ids no table holds: past a 64-bit integer (SQLite's driver overflowed, Postgres refused), 0, negative.
    for query_id in (99999999999999999999, 2**63, 0, -1):
        assert store.get(query_id) is None


def test_new_query_validation() -> None:
    with pytest.raises(ValidationError):
        slack_query(status="error")  # an error needs its sentence
    with pytest.raises(ValidationError):
        slack_query(status="ok", error="boom")
    with pytest.raises(ValidationError):
        slack_query(status="maybe")
    with pytest.raises(ValidationError):
        Conversation(platform="Slack Workspace", user="U1")  # a platform is a short lowercase name
    with pytest.raises(ValidationError):
        Conversation(platform="cli", user="me", private=True)  # a DM has a channel
    with pytest.raises(ValidationError):
        slack_query(surprise=1)  # extra fields are refused
    with pytest.raises(ValidationError):
        slack_query(result={"when": datetime(2026, 1, 1)})  # JSON values only, caught before the database
    rec = slack_query()
    with pytest.raises(ValidationError):
        rec.text = "changed"  # type: ignore[misc]  # frozen


def test_set_posted_and_thread_follow_ups(store: Store) -> None:
    root = store.record(slack_query())
    store.set_posted(root.id, channel="C1", ts="1700000000.000100", thread_ts=None)
    got = store.get(root.id)
    assert got is not None and (got.posted_channel, got.posted_ts, got.thread_ts) == ("C1", "1700000000.000100", None)
    assert got.public  # posted: the channel saw it
    # The thread is found from its root message alone.
    found = store.latest_in_thread(team="T1", channel="C1", thread_ts="1700000000.000100")
    assert found is not None and found.id == root.id

    # A reply in the thread changes s: stored with its parent, posted into the thread.
    reply = store.record(slack_query(text="s=32k", parent_id=root.id))
    store.set_posted(reply.id, channel="C1", ts="1700000000.000200", thread_ts="1700000000.000100")
    found = store.latest_in_thread(team="T1", channel="C1", thread_ts="1700000000.000100")
    assert found is not None and found.id == reply.id and found.parent_id == root.id

    # A reply that failed does not become the base of the next what-if.
    bad = store.record(slack_query(text="s=huge", parent_id=reply.id, status="error", error="bad s", result=None))
    store.set_posted(bad.id, channel="C1", ts="1700000000.000300", thread_ts="1700000000.000100")
    found = store.latest_in_thread(team="T1", channel="C1", thread_ts="1700000000.000100")
    assert found is not None and found.id == reply.id

    # Other channels, other teams and other threads see nothing of it.
    assert store.latest_in_thread(team="T1", channel="C2", thread_ts="1700000000.000100") is None
    assert store.latest_in_thread(team="T2", channel="C1", thread_ts="1700000000.000100") is None
    assert store.latest_in_thread(team="T1", channel="C1", thread_ts="1700000000.999999") is None
    # team=None: the channel id alone decides.
    found = store.latest_in_thread(team=None, channel="C1", thread_ts="1700000000.000100")
    assert found is not None and found.id == reply.id


def test_posted_together_finds_both_sides_of_one_message(store: Store) -> None:
    # A comparison: two queries answered with one message; a failed query posted there is not one of them.
    a, b = store.record(slack_query()), store.record(slack_query())
    bad = store.record(slack_query(status="error", error="bad", result=None))
    alone = store.record(slack_query())
    for rec in (a, b, bad):
        store.set_posted(rec.id, channel="C1", ts="1700000000.000500", thread_ts=None)
    store.set_posted(alone.id, channel="C1", ts="1700000000.000600", thread_ts=None)
    both = store.posted_together(team="T1", channel="C1", ts="1700000000.000500")
    assert [r.id for r in both] == [a.id, b.id]
    assert [r.id for r in store.posted_together(team="T1", channel="C1", ts="1700000000.000600")] == [alone.id]
    assert store.posted_together(team="T2", channel="C1", ts="1700000000.000500") == []
    assert store.posted_together(team="T1", channel="C2", ts="1700000000.000500") == []


def test_set_posted_unknown_id(store: Store) -> None:
    with pytest.raises(StoreWriteError, match="not in the history"):
        store.set_posted(999, channel="C1", ts="1.2", thread_ts=None)


def test_parent_must_exist(store: Store) -> None:
    # A constraint violation is not transient: one sentence at once, not retried into a success.
    with pytest.raises(StoreWriteError, match="Could not save the query"):
        store.record(slack_query(parent_id=424242))
    assert store.count() == 0


def test_record_returns_what_get_reads(store: Store) -> None:
    rec = store.record(
        NewQuery(conversation=Conversation(platform="cli", user="alice"), text="vram ./cfg.json", status="ok")
    )
    assert isinstance(rec, QueryRecord)
    assert store.get(rec.id) == rec


def test_a_withdrawn_answer_is_no_conversations_latest(store: Store) -> None:
    # The bot's DM: two answers posted there, the second deleted by its asker: the latest is the first,
    # and neither the deleted one nor a thread under it continues.
    first, second = store.record(slack_query()), store.record(slack_query())
    store.set_posted(first.id, channel="D1", ts="1700000000.000700", thread_ts=None)
    store.set_posted(second.id, channel="D1", ts="1700000000.000800", thread_ts=None)
    assert (found := store.latest_posted(team="T1", channel="D1")) is not None and found.id == second.id
    store.withdraw((second.id,))
    assert (found := store.latest_posted(team="T1", channel="D1")) is not None and found.id == first.id
    assert store.latest_in_thread(team="T1", channel="D1", thread_ts="1700000000.000800") is None
