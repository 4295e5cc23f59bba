"""Listings: privacy (who could see the answer in the chat), model and user filters, paging, newest first."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from store import Conversation, NewQuery, QueryRecord, Store

# Subprocesses, both databases or many generated examples: outside the fast subset.
pytestmark = pytest.mark.slow

MODELS = ["meta-llama/Llama-3.1-8B", "Qwen/Qwen3-8B", "microsoft/phi-4", "my_org/50%-Llama"]
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def slack(team: str | None, channel: str | None, user: str | None, *, private: bool = False) -> Conversation:
    return Conversation(platform="slack", workspace=team, channel=channel, user=user, private=private)


def cli(user: str | None) -> Conversation:
    return Conversation(platform="cli", user=user)


def _add(store: Store, n: int, conversation: Conversation, *, posted: bool = True) -> QueryRecord:
    """Query #n; ``posted``: the answer went to the conversation (else only its asker saw it)."""
    model = MODELS[n % len(MODELS)]
    rec = store.record(
        NewQuery(
            conversation=conversation,
            text=f"#{n} {model}",
            model=model,
            requested_model=model.lower(),
            status="ok",
            created_at=T0 + timedelta(minutes=n),
        )
    )
    if posted and conversation.channel is not None:
        store.set_posted(rec.id, channel=conversation.channel, ts=f"{n}.0", thread_ts=None)
        return store.get(rec.id) or rec
    return rec


def _corpus(store: Store) -> list[QueryRecord]:
    """Posted channel answers in two workspaces, the bot's DMs with three users, terminal queries, and
    answers only their asker saw: an ephemeral one in a channel, one in a DM between two people, one in
    a private channel the bot is not in."""
    recs: list[QueryRecord] = []
    n = 0
    for team, channel, user in itertools.product(["T1", "T2"], ["C1", "C2"], ["U1", "U2", "U3"]):
        recs.append(_add(store, n, slack(team, channel, user)))
        n += 1
    for team, user in itertools.product(["T1", "T2"], ["U1", "U2"]):
        recs.append(_add(store, n, slack(team, f"D{user}", user, private=True)))  # the bot's DM with them
        n += 1
    for user in ["alice", "alice", "bob"]:
        recs.append(_add(store, n, cli(user)))
        n += 1
    recs.append(_add(store, 19, slack("T1", "C1", "U2"), posted=False))  # an ephemeral answer (an error)
    recs.append(_add(store, 20, slack("T1", "C1", "U1"), posted=False))
    recs.append(_add(store, 21, slack("T1", "DPEOPLE", "U1", private=True), posted=False))  # U1 <-> U2 DM
    recs.append(_add(store, 22, slack("T1", "GPRIV", "U2"), posted=False))  # private channel, bot not in it
    return recs


def rule(rec: QueryRecord, scope: Conversation) -> bool:
    """The privacy rule, restated: someone sees an answer only where they could see it in the chat.

    Posted answers: the members of that conversation. Everything else: its asker only, from the channel
    they asked in, and (their DMs) from anywhere in the workspace. The terminal: the local user's own.
    """
    asked = rec.conversation
    if asked.platform != scope.platform:
        return False
    if scope.channel is None:
        return asked.channel is None and asked.user == scope.user and scope.user is not None
    same_place = asked.workspace == scope.workspace and asked.channel == scope.channel
    if same_place and rec.public:
        return True
    own = scope.user is not None and asked.user == scope.user and asked.workspace == scope.workspace
    return own and (same_place or asked.private)


def _texts(recs: list[QueryRecord]) -> list[str]:
    return [r.text.split()[0] for r in recs]


def test_channel_listing_by_hand(store: Store) -> None:
    recs = _corpus(store)
    by_no = {r.text.split()[0]: r for r in recs}
    # Numbering in _corpus: T1/C1/U1..U3 = #0..#2, T1/C2 = #3..#5, T2/C1 = #6..#8, T2/C2 = #9..#11,
    # bot DMs T1/U1 = #12, T1/U2 = #13, T2/U1 = #14, T2/U2 = #15, cli alice #16 #17, bob #18; seen by
    # their asker only: #19 (U2, T1/C1), #20 (U1, T1/C1), #21 (U1 in a DM with U2), #22 (U2, GPRIV).
    asked_in_c1 = slack("T1", "C1", "U1")
    assert _texts(store.history(scope=asked_in_c1)) == ["#21", "#20", "#12", "#2", "#1", "#0"]
    # U3: the channel's posted answers only; neither U1's nor U2's private ones.
    assert _texts(store.history(scope=slack("T1", "C1", "U3"))) == ["#2", "#1", "#0"]
    assert _texts(store.history(scope=slack("T1", "C1", "U2"))) == ["#19", "#13", "#2", "#1", "#0"]
    # The other person in U1's DM with U2 does not see what only U1 saw there.
    assert _texts(store.history(scope=slack("T1", "DPEOPLE", "U2", private=True))) == ["#13"]
    assert _texts(store.history(scope=slack("T1", "DPEOPLE", "U1", private=True))) == ["#21", "#12"]
    # A private channel without the bot: U2's answer there was ephemeral, so U1 there sees none of it.
    assert _texts(store.history(scope=slack("T1", "GPRIV", "U1"))) == ["#21", "#12"]
    assert _texts(store.history(scope=slack("T1", "GPRIV", "U2"))) == ["#22", "#13"]
    # In the bot's DM itself: that DM's answers (the user's own).
    assert _texts(store.history(scope=slack("T2", "DU2", "U2", private=True))) == ["#15"]
    # Another workspace with the same channel id sees nothing of T1's.
    assert _texts(store.history(scope=slack("T2", "C1", "U1"))) == ["#14", "#8", "#7", "#6"]
    # The terminal: the local user's terminal queries, none from Slack.
    assert _texts(store.history(scope=cli("alice"))) == ["#17", "#16"]
    assert _texts(store.history(scope=cli("carol"))) == []
    # show <id>: the same rule.
    assert Store.visible(by_no["#12"], asked_in_c1)
    assert Store.visible(by_no["#20"], asked_in_c1)  # their own ephemeral answer
    assert not Store.visible(by_no["#19"], asked_in_c1)  # someone else's ephemeral answer
    assert not Store.visible(by_no["#13"], asked_in_c1)  # someone else's DM
    assert not Store.visible(by_no["#6"], asked_in_c1)  # same channel id, other workspace
    assert not Store.visible(by_no["#3"], asked_in_c1)  # other channel
    assert not Store.visible(by_no["#16"], asked_in_c1)  # a terminal record
    assert not Store.visible(by_no["#21"], slack("T1", "DPEOPLE", "U2", private=True))


def test_every_scope_sees_exactly_what_the_rule_allows(store: Store) -> None:
    recs = _corpus(store)
    newest_first = sorted(recs, key=lambda r: r.id, reverse=True)
    scopes = [
        slack(t, c, u, private=c is not None and c.startswith("D"))
        for t, c, u in itertools.product(
            ["T1", "T2", "T9", None],
            ["C1", "C2", "DU1", "DU2", "DPEOPLE", "GPRIV", "C9", None],
            ["U1", "U2", "U3", None],
        )
    ] + [cli(u) for u in ["alice", "bob", "carol", None]]
    for scope in scopes:
        want = [r for r in newest_first if rule(r, scope)]
        assert store.history(scope=scope, limit=100) == want, scope
        assert [r for r in newest_first if Store.visible(r, scope)] == want, scope


def test_model_filter_is_a_case_insensitive_substring(store: Store) -> None:
    _corpus(store)
    scope = slack("T1", "C1", "U1")
    # T1/C1 holds #0 Llama-3.1-8B, #1 Qwen3-8B, #2 phi-4; U1's DM #12 is the Llama model again (12 % 4 = 0);
    # U1's own #20 (20 % 4 = 0) and #21 (21 % 4 = 1) are Llama and Qwen.
    assert _texts(store.history(scope=scope, model="LLAMA")) == ["#20", "#12", "#0"]
    assert _texts(store.history(scope=scope, model="8b")) == ["#21", "#20", "#12", "#1", "#0"]
    assert _texts(store.history(scope=scope, model="microsoft/")) == ["#2"]
    assert _texts(store.history(scope=scope, model="mistral")) == []
    wide = slack("T1", "C2", "U3")  # #3..#5: models 3, 0, 1
    assert _texts(store.history(scope=wide, model="%")) == ["#3"]  # a literal %, not a wildcard
    assert _texts(store.history(scope=wide, model="_")) == ["#3"]  # a literal _, not "any character"
    assert _texts(store.history(scope=wide, model="50%-l")) == ["#3"]


def test_user_filter(store: Store) -> None:
    _corpus(store)
    scope = slack("T1", "C1", "U1")
    assert _texts(store.history(scope=scope, user="U2")) == ["#1"]  # U2's DMs and ephemeral #19 stay private
    assert _texts(store.history(scope=scope, user="U1")) == ["#21", "#20", "#12", "#0"]
    assert _texts(store.history(scope=scope, user="U1", model="phi")) == []
    assert _texts(store.history(scope=cli("alice"), user="bob")) == []


def test_paging_newest_first(store: Store) -> None:
    # 30 channel queries and 15 DMs of the asker, interleaved in time.
    for n in range(45):
        if n % 3 == 2:
            _add(store, n, slack("T1", "DU1", "U1", private=True))
        else:
            _add(store, n, slack("T1", "C1", f"U{n % 5}"))
    scope = slack("T1", "C1", "U1")
    pages = [store.history(scope=scope, limit=20, offset=o) for o in (0, 20, 40, 60)]
    assert [len(p) for p in pages] == [20, 20, 5, 0]
    flat = [r for p in pages for r in p]
    assert _texts(flat) == [f"#{n}" for n in range(44, -1, -1)]
    assert [r.created_at for r in flat] == sorted((r.created_at for r in flat), reverse=True)
    # The default page is the 20 newest.
    assert store.history(scope=scope) == pages[0]


def test_bad_paging_arguments(store: Store) -> None:
    scope = cli("me")
    with pytest.raises(ValueError):
        store.history(scope=scope, limit=0)
    with pytest.raises(ValueError):
        store.history(scope=scope, offset=-1)
