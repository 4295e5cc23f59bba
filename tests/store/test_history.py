"""Listings: privacy by scope, model substring filter, user filter, paging, newest first."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from store import NewQuery, QueryRecord, Scope, Store

MODELS = ["meta-llama/Llama-3.1-8B", "Qwen/Qwen3-8B", "microsoft/phi-4", "my_org/50%-Llama"]
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _add(store: Store, n: int, **fields: object) -> QueryRecord:
    model = MODELS[n % len(MODELS)]
    return store.record(NewQuery(
        text=f"#{n} {model}", model=model, requested_model=model.lower(), status="ok",
        created_at=T0 + timedelta(minutes=n), **fields,  # type: ignore[arg-type]
    ))


def _corpus(store: Store) -> list[QueryRecord]:
    """Channel queries in two teams, DMs of three users, and terminal queries of two local users."""
    recs: list[QueryRecord] = []
    n = 0
    for team, channel, user in itertools.product(["T1", "T2"], ["C1", "C2"], ["U1", "U2", "U3"]):
        recs.append(_add(store, n, source="slack", team=team, channel=channel, user=user))
        n += 1
    for team, user in itertools.product(["T1", "T2"], ["U1", "U2"]):
        recs.append(_add(store, n, source="slack", team=team, channel=f"D{user}", user=user, is_dm=True))
        n += 1
    for user in ["alice", "alice", "bob"]:
        recs.append(_add(store, n, source="cli", user=user))
        n += 1
    return recs


def rule(rec: QueryRecord, scope: Scope) -> bool:
    """The privacy rule of issue 4, restated: that channel's queries in that team, plus the asker's
    own direct messages in that team; the terminal sees the local user's terminal queries."""
    if scope.source == "cli":
        return rec.source == "cli" and rec.user == scope.user
    same_team = rec.source == "slack" and rec.team == scope.team
    return same_team and (rec.channel == scope.channel or (rec.is_dm and rec.user == scope.user))


def _texts(recs: list[QueryRecord]) -> list[str]:
    return [r.text.split()[0] for r in recs]


def test_channel_listing_by_hand(store: Store) -> None:
    recs = _corpus(store)
    by_no = {r.text.split()[0]: r for r in recs}
    # Numbering in _corpus: T1/C1/U1..U3 = #0..#2, T1/C2 = #3..#5, T2/C1 = #6..#8, T2/C2 = #9..#11,
    # DMs T1/U1 = #12, T1/U2 = #13, T2/U1 = #14, T2/U2 = #15, cli alice #16 #17, bob #18.
    asked_in_c1 = Scope(source="slack", team="T1", channel="C1", user="U1")
    assert _texts(store.history(scope=asked_in_c1)) == ["#12", "#2", "#1", "#0"]
    # U3 has no DMs: the channel only. Nothing from T2's C1, nothing from C2.
    assert _texts(store.history(scope=asked_in_c1.model_copy(update={"user": "U3"}))) == ["#2", "#1", "#0"]
    # In the DM itself: that DM's queries (the user's own).
    in_dm = Scope(source="slack", team="T2", channel="DU2", user="U2", is_dm=True)
    assert _texts(store.history(scope=in_dm)) == ["#15"]
    # The terminal: the local user's terminal queries, none from Slack.
    assert _texts(store.history(scope=Scope(source="cli", user="alice"))) == ["#17", "#16"]
    assert _texts(store.history(scope=Scope(source="cli", user="carol"))) == []
    # show <id>: the same rule.
    assert Store.visible(by_no["#12"], asked_in_c1)
    assert not Store.visible(by_no["#13"], asked_in_c1)  # someone else's DM
    assert not Store.visible(by_no["#6"], asked_in_c1)  # same channel id, other workspace
    assert not Store.visible(by_no["#3"], asked_in_c1)  # other channel
    assert not Store.visible(by_no["#16"], asked_in_c1)  # a terminal record


def test_every_scope_sees_exactly_what_the_rule_allows(store: Store) -> None:
    recs = _corpus(store)
    newest_first = sorted(recs, key=lambda r: r.id, reverse=True)
    scopes = [
        Scope(source="slack", team=t, channel=c, user=u, is_dm=c is not None and c.startswith("D"))
        for t, c, u in itertools.product(
            ["T1", "T2", "T9", None], ["C1", "C2", "DU1", "DU2", "C9", None], ["U1", "U2", "U3", None]
        )
    ] + [Scope(source="cli", user=u) for u in ["alice", "bob", "carol", None]]
    for scope in scopes:
        want = [r for r in newest_first if rule(r, scope)]
        assert store.history(scope=scope, limit=100) == want, scope
        assert [r for r in newest_first if Store.visible(r, scope)] == want, scope


def test_model_filter_is_a_case_insensitive_substring(store: Store) -> None:
    _corpus(store)
    scope = Scope(source="slack", team="T1", channel="C1", user="U1")
    # T1/C1 holds #0 Llama-3.1-8B, #1 Qwen3-8B, #2 phi-4; U1's DM #12 is the Llama model again (12 % 4 = 0).
    assert _texts(store.history(scope=scope, model="LLAMA")) == ["#12", "#0"]
    assert _texts(store.history(scope=scope, model="8b")) == ["#12", "#1", "#0"]
    assert _texts(store.history(scope=scope, model="microsoft/")) == ["#2"]
    assert _texts(store.history(scope=scope, model="mistral")) == []
    wide = Scope(source="slack", team="T1", channel="C2", user="U1")  # #3..#5: models 3, 0, 1
    assert _texts(store.history(scope=wide, model="%")) == ["#3"]  # a literal %, not a wildcard
    assert _texts(store.history(scope=wide, model="_")) == ["#3"]  # a literal _, not "any character"
    assert _texts(store.history(scope=wide, model="50%-l")) == ["#3"]


def test_user_filter(store: Store) -> None:
    _corpus(store)
    scope = Scope(source="slack", team="T1", channel="C1", user="U1")
    assert _texts(store.history(scope=scope, user="U2")) == ["#1"]  # U2's DMs stay private
    assert _texts(store.history(scope=scope, user="U1")) == ["#12", "#0"]
    assert _texts(store.history(scope=scope, user="U1", model="qwen")) == []
    assert _texts(store.history(scope=Scope(source="cli", user="alice"), user="bob")) == []


def test_paging_newest_first(store: Store) -> None:
    # 30 channel queries and 15 DMs of the asker, interleaved in time.
    for n in range(45):
        if n % 3 == 2:
            _add(store, n, source="slack", team="T1", channel="DU1", user="U1", is_dm=True)
        else:
            _add(store, n, source="slack", team="T1", channel="C1", user=f"U{n % 5}")
    scope = Scope(source="slack", team="T1", channel="C1", user="U1")
    pages = [store.history(scope=scope, limit=20, offset=o) for o in (0, 20, 40, 60)]
    assert [len(p) for p in pages] == [20, 20, 5, 0]
    flat = [r for p in pages for r in p]
    assert _texts(flat) == [f"#{n}" for n in range(44, -1, -1)]
    assert [r.created_at for r in flat] == sorted((r.created_at for r in flat), reverse=True)
    # The default page is the 20 newest.
    assert store.history(scope=scope) == pages[0]


def test_bad_paging_arguments(store: Store) -> None:
    scope = Scope(source="cli", user="me")
    with pytest.raises(ValueError):
        store.history(scope=scope, limit=0)
    with pytest.raises(ValueError):
        store.history(scope=scope, offset=-1)
