"""App Home: one user's own Slack queries across the channels of their team, nobody else's."""

from __future__ import annotations

from store import Conversation, Store
from tests.store.test_history import _corpus


def test_own_queries_cover_every_channel_of_the_team_only(store: Store) -> None:
    recs = _corpus(store)
    got = store.own_queries(platform="slack", workspace="T1", user="U1", limit=50)
    # By hand from the corpus: U1 in T1 asked in C1 and C2, once in their DM with the bot, and twice
    # privately (#20 in C1, #21 in a DM with U2); the T2 twins, other users and terminal records are not
    # theirs in T1.
    expected = [
        r.id
        for r in recs
        if r.conversation
        == Conversation(
            platform="slack", workspace="T1", channel=r.conversation.channel, user="U1", private=r.conversation.private
        )
    ]
    assert len(expected) == 5
    assert [r.id for r in got] == sorted(expected, reverse=True)
    assert [r.id for r in store.own_queries(platform="slack", workspace="T1", user="U1", limit=1)] == [max(expected)]
    assert store.own_queries(platform="slack", workspace="T1", user="alice") == []
