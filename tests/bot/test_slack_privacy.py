"""Who sees an answer in history/show: only those who could see it in Slack (DM, private channel,
channel, workspace), end to end through signed slash commands."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bot.test_slack_app import QWEN3_8B, Bot, hub_resolver, start_bot
from tests.fakehub import FakeHub
from tests.store.conftest import db_url, pg_schema_url  # noqa: F401  (fixtures: SQLite and Postgres)

# Real servers and peers on 127.0.0.1 (seconds per test): outside the fast subset.
pytestmark = pytest.mark.slow


@pytest.fixture
def bot(db_url: str, fake_hub: FakeHub) -> Iterator[Bot]:  # noqa: F811
    yield from start_bot(db_url, hub_resolver(fake_hub.url))


def _ask(bot: Bot, text: str, channel: str, user: str = "U0001", channel_name: str = "general") -> str:
    before = len(bot.slack.of("response_url"))
    bot.send.command(text, channel=channel, user=user, channel_name=channel_name)
    bot.pool.drain()
    answers = bot.slack.of("response_url")
    assert len(answers) == before + 1, answers
    return str(answers[before].args["text"])


def _sees(bot: Bot, record_id: int, channel: str, user: str, channel_name: str = "general") -> bool:
    text = _ask(bot, f"show {record_id}", channel, user, channel_name)
    return f"no query #{record_id} here" not in text


def test_who_sees_what_across_dm_private_channel_channel_and_workspace(bot: Bot) -> None:
    # U1 asks four times: an answer posted in #C0001; a mistake there (answered to U1 only); in a private
    # channel the bot is not in (CPRIVATE: answered to U1 only); in a DM with someone (DOTHERS: Slack
    # lets no bot in, answered to U1 only).
    bot.send.command(f"{QWEN3_8B} s=4k", channel="C0001")
    bot.send.command("secret-internal/model-x s=4k", channel="C0001")
    bot.send.command(f"{QWEN3_8B} s=2k", channel="CPRIVATE", channel_name="privategroup")
    bot.send.command(f"{QWEN3_8B} s=1k", channel="DOTHERS", channel_name="directmessage")
    bot.pool.drain()
    mine = {
        r.conversation.channel + ("/error" if r.status == "error" else ""): r.id
        for r in bot.store.own_queries(platform="slack", workspace="T0001", user="U0001")
    }
    assert set(mine) == {"C0001", "C0001/error", "CPRIVATE", "DOTHERS"}
    posted = mine["C0001"]

    # Someone else in the channel: the posted answer only, not U1's mistake (which names a private repo).
    assert _sees(bot, posted, "C0001", "U0002")
    assert not _sees(bot, mine["C0001/error"], "C0001", "U0002")
    history = _ask(bot, "history", "C0001", "U0002")
    assert f"#{posted}" in history and "secret-internal" not in history
    # The other person in U1's DM, and a member of the private channel: nothing of what only U1 saw.
    assert not _sees(bot, mine["DOTHERS"], "DOTHERS", "U0002", "directmessage")
    assert not _sees(bot, mine["CPRIVATE"], "CPRIVATE", "U0002", "privategroup")
    assert "No queries" in _ask(bot, "history", "CPRIVATE", "U0002", "privategroup")
    # U1 sees their own: in the channel both, their DM from anywhere in the workspace.
    assert _sees(bot, mine["C0001/error"], "C0001", "U0001")
    assert _sees(bot, mine["DOTHERS"], "C0001", "U0001")
    assert _sees(bot, mine["CPRIVATE"], "CPRIVATE", "U0001", "privategroup")
    assert "secret-internal" in _ask(bot, "history", "C0001", "U0001")
    # Another workspace, same channel and user ids: nothing.
    bot.send.team = "T0002"
    assert not any(_sees(bot, rid, "C0001", "U0001") for rid in mine.values())


def test_the_store_names_no_chat_platform() -> None:
    # The store's Conversation record is the seam: a second chat front end is a package of its own, with
    # no store change (tests/store/test_records.py stores a new platform without a migration).
    import store

    folder = Path(store.__file__).parent
    naming = [p.name for p in sorted(folder.glob("*.py")) if "slack" in p.read_text().lower()]
    assert naming == []


def test_a_posted_comparison_is_listed_to_the_channel(bot: Bot) -> None:
    bot.send.command(f"compare {QWEN3_8B} Qwen/Qwen3-0.6B s=4k", channel="C0001")
    [post] = bot.slack.wait_for("chat.postMessage")
    assert post.args["channel"] == "C0001"
    bot.pool.drain()
    both = bot.store.own_queries(platform="slack", workspace="T0001", user="U0001")
    assert len(both) == 2 and all(r.public for r in both)
    history = _ask(bot, "history", "C0001", "U0002")
    assert all(f"#{r.id}" in history for r in both)
