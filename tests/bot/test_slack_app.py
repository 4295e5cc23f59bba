"""The Slack app against Slack's real protocol: signed HTTP requests in, Web API calls out to a mock.

The app runs in HTTP mode on 127.0.0.1 (``bot.http``: waitress and Bolt's WSGI adapter), the real Bolt app with the
real service, store (SQLite and Postgres) and resolver; models come from the fake Hub
(``tests/fakehub.py``), and the app's Web API calls go to ``MockSlack``.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.http import HttpServer, SlackGate
from bot.service import Service
from bot.settings import Settings
from bot.slack_app import create_app, is_small_talk
from bot.work import Work
from sources import HubOnlyResolver, Resolver
from store import Conversation, Store
from tests.blockkit import block_errors
from tests.fakehub import FakeHub
from tests.mockslack import BOT_ID, BOT_USER_ID, MockSlack, SlackSender
from tests.store.conftest import db_url, pg_schema_url  # noqa: F401  (fixtures: SQLite and Postgres)

# Real servers and peers on 127.0.0.1 (seconds per test): outside the fast subset.
pytestmark = pytest.mark.slow

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-test-token"
# Qwen3-8B: 36 layers, 8 KV heads, head_dim 128, bf16 -> KV per token 2 x 36 x 8 x 128 x 2 = 147,456 B = 144 KiB
QWEN3_8B = "Qwen/Qwen3-8B"
QWEN3_KV_PER_TOKEN = 2 * 36 * 8 * 128 * 2
GIB = 1024**3


class TrackedPool(Work):
    """The app's work pool, with a way for tests to wait until every submitted job has finished."""

    def drain(self, timeout: float = 30) -> int:  # type: ignore[override]
        assert self.wait_idle(timeout), "answers still in flight"
        return 0


@dataclass
class Bot:
    slack: MockSlack
    send: SlackSender
    store: Store
    pool: TrackedPool
    base_url: str

    def root_post(self, channel: str = "C0001") -> dict[str, Any]:
        """The first top-level chat.postMessage in ``channel``."""
        for call in self.slack.of("chat.postMessage"):
            if call.args.get("channel") == channel and not call.args.get("thread_ts"):
                return call.args
        raise AssertionError(f"no top-level post in {channel}: {self.slack.calls}")


def start_bot(
    db: str, resolver: Resolver | HubOnlyResolver, workers: int = 16, backoff_s: float = 0.05
) -> Iterator[Bot]:
    slack = MockSlack(private={"CPRIVATE"}, missing={"DOTHERS"}).start()
    store = Store(db, backoff_s=0.01)
    store.upgrade()
    settings = Settings(
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SECRET,
        slack_api_url=slack.api_url,
        database_url=db,
        workers=workers,
    )
    pool = TrackedPool(workers)
    app = create_app(
        settings, Service(store=store, resolver=resolver), events=store, work=pool, retry_backoff_s=backoff_s
    )
    # Wired as `vram serve` wires it: answers give way to a burst of requests.
    gate = SlackGate(app, signing_secret=SECRET, on_request=pool.lull.request)
    server = HttpServer(gate, host="127.0.0.1", port=0).start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        yield Bot(slack, SlackSender(f"{base}/slack/events", SECRET, slack), store, pool, base)
    finally:
        server.close()
        pool.wait_idle(30)
        store.close()
        slack.stop()


def hub_resolver(endpoint: str, timeout_s: float = 10) -> HubOnlyResolver:
    """The resolver ``vram serve`` builds: the Hub (here a fake or a dead one), never local paths."""
    return HubOnlyResolver(Resolver(endpoint=endpoint, total_timeout_s=timeout_s))


@pytest.fixture
def bot(db_url: str, fake_hub: FakeHub) -> Iterator[Bot]:  # noqa: F811
    yield from start_bot(db_url, hub_resolver(fake_hub.url))


def blocks_text(args: dict[str, Any]) -> str:
    return json.dumps(args.get("blocks", []), ensure_ascii=False)


# -- a command end to end ---------------------------------------------------------------------------
def test_command_end_to_end(bot: Bot) -> None:
    sent = bot.send.command(f"{QWEN3_8B} s=16k gpu=h100")
    assert sent.status == 200
    assert sent.body == ""  # a bare ack: the answer is posted in the channel
    post = bot.slack.wait_for("chat.postMessage")[0]
    assert post.token == BOT_TOKEN
    args = post.args
    assert args["channel"] == "C0001"
    assert "thread_ts" not in args
    body = blocks_text(args)
    # KV line: 147,456 B = 144 KiB per token x 16,384 tokens x 1 sequence
    assert "144 KiB per token x 16,384 tokens x 1 sequence" in body
    assert "s=16,384" in body and "fits one NVIDIA H100 80GB" in body
    assert "Reply in this thread" in body
    assert args["text"]  # the plain-text fallback
    assert args["unfurl_links"] is False
    # The record knows where it was posted (Slack's ts for the message), so a thread can follow it.
    bot.pool.drain()
    [record] = bot.store.history(scope=_scope("C0001", "U0001"))
    assert record.posted_channel == "C0001" and record.posted_ts is not None and record.thread_ts is None
    assert f"#{record.id}" in body
    again = bot.store.latest_in_thread(team="T0001", channel="C0001", thread_ts=record.posted_ts)
    assert again is not None and again.id == record.id


def _scope(channel: str, user: str) -> Conversation:
    return Conversation(platform="slack", workspace="T0001", channel=channel, user=user)


def _posted(bot: Bot) -> str:
    """The ts of the bot's top-level answer (from the store, as Slack returned it)."""
    bot.pool.drain()
    [record] = [r for r in bot.store.history(scope=_scope("C0001", "U0001")) if r.thread_ts is None]
    assert record.posted_ts is not None
    return record.posted_ts


# -- threads ----------------------------------------------------------------------------------------
def test_thread_what_if_chain(bot: Bot) -> None:
    bot.send.command(f"{QWEN3_8B} s=16k gpu=h100")
    bot.slack.wait_for("chat.postMessage")
    root_ts = _posted(bot)
    first = bot.store.latest_in_thread(team="T0001", channel="C0001", thread_ts=root_ts)
    assert first is not None

    assert bot.send.event(bot.send.message("s=32k", thread_ts=root_ts)).status == 200
    reply = bot.slack.wait_for("chat.postMessage", 2)[1].args
    assert reply["thread_ts"] == root_ts and reply["channel"] == "C0001"
    lead = reply["blocks"][0]["text"]["text"]
    bot.pool.drain()
    second = bot.store.latest_in_thread(team="T0001", channel="C0001", thread_ts=root_ts)
    assert second is not None and second.parent_id == first.id and second.thread_ts == root_ts
    # The difference in total, from the two stored results: only s changed (16,384 -> 32,768), so the
    # KV cache grows by 147,456 B x 16,384 = 2,415,919,104 B (2.25 GiB) and activations may grow too.
    old, new = first.result["memory"], second.result["memory"]
    assert new["kv_cache"] - old["kv_cache"] == QWEN3_KV_PER_TOKEN * 16384 == 2_415_919_104
    diff = sum(new.values()) - sum(old.values())
    assert diff >= 2_415_919_104
    assert lead.startswith("Changed `s=32768`") or lead.startswith("Changed `s=32k`")
    assert f"(+{diff / GIB:.1f} GiB)" in lead
    assert "144 KiB per token x 32,768 tokens" in blocks_text(reply)

    # A second change follows the latest estimate in the thread (s stays 32k), and @vram works too.
    # (sent as "also send to channel": a thread_broadcast is still a reply in the thread)
    bot.send.event(bot.send.message(f"<@{BOT_USER_ID}> b=2", thread_ts=root_ts, subtype="thread_broadcast"))
    third_post = bot.slack.wait_for("chat.postMessage", 3)[2].args
    bot.pool.drain()
    third = bot.store.latest_in_thread(team="T0001", channel="C0001", thread_ts=root_ts)
    assert third is not None and third.parent_id == second.id
    assert "144 KiB per token x 32,768 tokens x 2 sequences" in blocks_text(third_post)


def test_thread_reply_errors_go_only_to_the_author(bot: Bot) -> None:
    bot.send.command(f"{QWEN3_8B} s=16k")
    bot.slack.wait_for("chat.postMessage")
    root_ts = _posted(bot)
    bot.send.event(bot.send.message("sq=32k", thread_ts=root_ts, user="U0002"))
    [eph] = bot.slack.wait_for("chat.postEphemeral")
    assert eph.args["user"] == "U0002" and eph.args["thread_ts"] == root_ts
    assert 'unknown key "sq"' in eph.args["text"]
    assert len(bot.slack.of("chat.postMessage")) == 1


def test_vs_the_threads_own_model_and_a_question_in_a_comparisons_thread(bot: Bot) -> None:
    # "vs" the thread's own model compares nothing: said privately, and the thread stays single.
    bot.send.command(f"{QWEN3_8B} s=16k gpu=h100")
    bot.slack.wait_for("chat.postMessage")
    root_ts = _posted(bot)
    bot.send.event(bot.send.message(f"vs {QWEN3_8B}", thread_ts=root_ts, user="U0002"))
    [eph] = bot.slack.wait_for("chat.postEphemeral")
    assert eph.args["text"].startswith(f":x: {QWEN3_8B} is this thread's model already")
    # A comparison in the thread, then a whole question of its own there: answered as asked.
    bot.send.event(bot.send.message("vs Qwen/Qwen3-0.6B", thread_ts=root_ts))
    bot.slack.wait_for("chat.postMessage", 2)
    bot.pool.drain()
    bot.send.event(bot.send.message("can Qwen/Qwen3-0.6B run 8k on an L4?", thread_ts=root_ts))
    answer = bot.slack.wait_for("chat.postMessage", 3)[2].args
    assert answer["thread_ts"] == root_ts and "8,192 tokens" in blocks_text(answer), blocks_text(answer)


def test_a_reply_that_changes_nothing_gets_a_note_not_an_answer(bot: Bot) -> None:
    # "s=16k" and "at 16k" under an answer at 16k: the same query, so nothing is re-estimated, posted
    # or kept; the author is told privately what the answer already has.
    bot.send.command(f"{QWEN3_8B} s=16k")
    bot.slack.wait_for("chat.postMessage")
    root_ts = _posted(bot)
    bot.pool.drain()
    kept = len(bot.store.history(scope=Conversation(platform="slack", workspace="T0001", channel="C0001")))
    for text in ("s=16k", "what about 16k?"):
        bot.send.event(bot.send.message(text, thread_ts=root_ts, user="U0002"))
    notes = bot.slack.wait_for("chat.postEphemeral", 2)
    for eph in notes:
        assert eph.args["user"] == "U0002" and eph.args["thread_ts"] == root_ts
        assert eph.args["text"].startswith("Nothing to change: this answer already has `s=16k`."), eph.args["text"]
        assert ":x:" not in eph.args["text"]
    bot.pool.drain()
    assert len(bot.slack.of("chat.postMessage")) == 1
    assert len(bot.store.history(scope=Conversation(platform="slack", workspace="T0001", channel="C0001"))) == kept
    # A change beside the repeated value is answered as before.
    bot.send.event(bot.send.message("s=16k b=2", thread_ts=root_ts))
    reply = bot.slack.wait_for("chat.postMessage", 2)[1].args
    assert reply["blocks"][0]["text"]["text"].startswith("Changed `b=2` (was 1)")


def test_compare_with_another_model_in_a_thread_compares_at_the_threads_settings(bot: Bot) -> None:
    # "compare with Qwen/Qwen3-0.6B" under an answer of Qwen3-8B at 16k on an H100: both models at 16k
    # on an H100, posted in the thread and kept as a comparison (history lists it once, both ids).
    bot.send.command(f"{QWEN3_8B} s=16k gpu=h100")
    bot.slack.wait_for("chat.postMessage")
    root_ts = _posted(bot)
    bot.send.event(bot.send.message("compare with Qwen/Qwen3-0.6B", thread_ts=root_ts))
    post = bot.slack.wait_for("chat.postMessage", 2)[1].args
    assert post["thread_ts"] == root_ts
    text = blocks_text(post)
    assert "Qwen/Qwen3-8B" in text and "Qwen/Qwen3-0.6B" in text and "s=16,384" in text, text
    bot.pool.drain()
    kept = bot.store.history(scope=_scope("C0001", "U0001"))
    assert kept[0].text == "compare Qwen/Qwen3-8B Qwen/Qwen3-0.6B s=16k gpu=h100-80gb", kept[0].text
    # The thread is the comparison's now: another model is asked for with a command of its own.
    bot.send.event(bot.send.message("compare with Qwen/Qwen3-8B-AWQ", thread_ts=root_ts, user="U0002"))
    [eph] = bot.slack.wait_for("chat.postEphemeral")
    assert eph.args["text"].startswith(":x: this thread compares two models already")
    # "it" / "they" here are the two models: the question is answered for both (it went unanswered).
    bot.send.event(bot.send.message("how many users can they serve?", thread_ts=root_ts, user="U0002"))
    both = bot.slack.wait_for("chat.postMessage", 3)[2].args
    lead = both["blocks"][0]["text"]["text"].splitlines()
    assert both["thread_ts"] == root_ts
    assert [line.split(":")[0] for line in lead if line.startswith("*Qwen/")] == ["*Qwen/Qwen3-8B", "*Qwen/Qwen3-0.6B"]
    assert all("most sequences at once at 16,384 tokens on one NVIDIA H100" in line for line in lead[-2:]), lead
    bot.pool.drain()
    # One it cannot answer for both (no settings to change, nothing vram sizes) is told how, privately.
    bot.send.event(bot.send.message("can they run?", thread_ts=root_ts, user="U0002"))
    asked = bot.slack.wait_for("chat.postEphemeral", 2)[1]
    assert asked.args["text"].startswith(":x: this thread compares two models: ask what to know of both")
    # Under a single answer, a reply that names no model to compare with is told how, privately.
    bot.send.command(f"{QWEN3_8B} s=8k")
    other_ts = bot.slack.wait_for("chat.postMessage", 4)[3].args
    bot.pool.drain()
    other_root = bot.store.history(scope=_scope("C0001", "U0001"))[0].posted_ts
    bot.send.event(bot.send.message("compare with the big one", thread_ts=other_root, user="U0002"))
    eph = bot.slack.wait_for("chat.postEphemeral", 3)[2]
    assert eph.args["text"].startswith(":x: name the model to compare with as a Hub id"), other_ts


def test_retried_event_and_mention_duplicate_get_one_reply(bot: Bot) -> None:
    bot.send.command(f"{QWEN3_8B} s=16k")
    bot.slack.wait_for("chat.postMessage")
    root_ts = _posted(bot)
    event = bot.send.message(f"<@{BOT_USER_ID}> s=8k", thread_ts=root_ts)
    assert bot.send.event(event, event_id="Ev111").status == 200
    # Slack retries the same event id, and also sends app_mention for the same message (another id).
    assert bot.send.event(event, event_id="Ev111", retry=1).status == 200
    assert bot.send.event(event, event_id="Ev111", retry=2).status == 200
    assert bot.send.event({**event, "type": "app_mention"}, event_id="Ev112").status == 200
    bot.pool.drain()
    thread_posts = [c for c in bot.slack.of("chat.postMessage") if c.args.get("thread_ts") == root_ts]
    assert len(thread_posts) == 1


def test_bot_messages_and_plain_chat_are_ignored(bot: Bot) -> None:
    bot.send.command(f"{QWEN3_8B} s=16k")
    bot.slack.wait_for("chat.postMessage")
    root_ts = _posted(bot)
    ignored = [
        bot.send.message("s=32k", thread_ts=root_ts, bot_id="B0THER"),  # another bot
        bot.send.message("s=32k", thread_ts=root_ts, subtype="bot_message", bot_id=BOT_ID),  # ourselves
        bot.send.message("s=32k", thread_ts=root_ts, user=BOT_USER_ID, bot_id=BOT_ID),
        bot.send.message("thanks, that helps", thread_ts=root_ts),  # no change
        bot.send.message("s=32k"),  # not in a thread
        bot.send.message("s=32k", thread_ts="1700000999.000001"),  # a thread we did not answer
        bot.send.message("s=32k", thread_ts=root_ts, subtype="message_changed"),
    ]
    for event in ignored:
        assert bot.send.event(event).status == 200
    bot.pool.drain()
    assert len(bot.slack.of("chat.postMessage")) == 1
    assert bot.slack.of("chat.postEphemeral") == []


def test_unhandled_events_are_acknowledged(bot: Bot) -> None:
    sent = bot.send.event(
        {
            "type": "reaction_added",
            "user": "U0001",
            "reaction": "+1",
            "item": {"type": "message", "channel": "C0001", "ts": "1.2"},
            "event_ts": "1.3",
        }
    )
    assert sent.status == 200


# -- history and privacy ----------------------------------------------------------------------------
def test_history_is_ephemeral_and_channel_scoped(bot: Bot) -> None:
    bot.send.command(f"{QWEN3_8B} s=1k", channel="C0001", user="U0001")
    bot.send.command(f"{QWEN3_8B} s=2k", channel="C0002", user="U0002")
    bot.send.command(f"{QWEN3_8B} s=3k", channel="C0002", user="U0001")
    bot.slack.wait_for("chat.postMessage", 3)
    bot.pool.drain()
    bot.slack.clear()

    bot.send.command("history", channel="C0001", user="U0002")
    [resp] = bot.slack.wait_for("response_url")
    assert resp.args["response_type"] == "ephemeral"
    listing = blocks_text(resp.args)
    assert "s=1k" in listing and "s=2k" not in listing and "s=3k" not in listing

    bot.send.command("history mine", channel="C0002", user="U0001")
    resp = bot.slack.wait_for("response_url", 2)[1]
    listing = blocks_text(resp.args)
    assert "s=3k" in listing and "s=2k" not in listing and "s=1k" not in listing
    assert bot.slack.of("chat.postMessage") == []  # nothing went to the channel


def test_show_respects_privacy(bot: Bot) -> None:
    bot.send.command(f"{QWEN3_8B} s=1k", channel="C0001")
    bot.slack.wait_for("chat.postMessage")
    bot.pool.drain()
    [record] = bot.store.history(scope=_scope("C0001", "U0001"))
    bot.send.command(f"show {record.id}", channel="C0001", user="U0009")
    [ok] = bot.slack.wait_for("response_url")
    assert "144 KiB per token x 1,024 tokens" in blocks_text(ok.args)
    bot.send.command(f"show {record.id}", channel="C0002", user="U0009")
    denied = bot.slack.wait_for("response_url", 2)[1]
    assert f"no query #{record.id} here" in denied.args["text"]
    # Another workspace with a channel of the same id, even the same user id: not theirs either.
    bot.send.team = "T0002"
    bot.send.command(f"show {record.id}", channel="C0001", user="U0001")
    bot.send.command("history", channel="C0001", user="U0001")
    texts = sorted(c.args["text"] for c in bot.slack.wait_for("response_url", 4)[2:])
    assert f":x: no query #{record.id} here" in texts[0]
    assert texts[1].startswith("No queries in this channel yet")


def test_show_with_a_change_says_what_was_typed_and_what_it_changed(bot: Bot) -> None:
    bot.send.command(f"{QWEN3_8B} s=16k gpu=h100")
    bot.slack.wait_for("chat.postMessage")
    bot.pool.drain()
    [record] = bot.store.history(scope=_scope("C0001", "U0001"))
    bot.send.command(f"show {record.id} s=32k")
    post = bot.slack.wait_for("chat.postMessage", 2)[1]
    body = blocks_text(post.args)
    # Echoed as typed (not "/vram s=32k", which alone is no command), led by the what-if of that record.
    assert f"`/vram show {record.id} s=32k`" in body, body
    assert f"What-if of #{record.id}. Changed `s=32k` (was 16k): total " in body, body


# -- where the bot cannot post ------------------------------------------------------------------------
def test_private_channel_answers_privately_with_the_invite_hint(bot: Bot) -> None:
    bot.send.command(f"{QWEN3_8B} s=4k", channel="CPRIVATE", channel_name="privategroup")
    [resp] = bot.slack.wait_for("response_url")
    [failed] = bot.slack.of("chat.postMessage")  # it tried, Slack said not_in_channel
    assert failed.args["channel"] == "CPRIVATE"
    assert resp.args["response_type"] == "ephemeral"
    assert "/invite @vram" in resp.args["text"]
    assert "144 KiB per token x 4,096 tokens" in blocks_text(resp.args)
    # Only the asker sees it, and an ephemeral message has no thread: no "reply in this thread" hint.
    assert "Reply in this thread" not in resp.args["text"] + blocks_text(resp.args)


def test_dm_with_someone_else_answers_privately(bot: Bot) -> None:
    # Apps cannot be invited into a conversation between people: the hint says where to ask instead.
    bot.send.command(f"{QWEN3_8B}", channel="DOTHERS", channel_name="directmessage")
    bot.send.command(f"{QWEN3_8B}", channel="DOTHERS", channel_name="mpdm-ann--bob--eve-1")
    for resp in bot.slack.wait_for("response_url", 2):
        assert resp.args["response_type"] == "ephemeral"
        assert "144 KiB per token x 4,096 tokens" in blocks_text(resp.args)
        assert "/invite" not in resp.args["text"] and "Reply in this thread" not in resp.args["text"]
        assert "in a channel I'm in, or in my own DM" in resp.args["text"]


def test_compare_where_the_bot_cannot_post_answers_privately(bot: Bot) -> None:
    bot.send.command(f"compare {QWEN3_8B} Qwen/Qwen3-0.6B", channel="CPRIVATE", channel_name="privategroup")
    [resp] = bot.slack.wait_for("response_url")
    assert resp.args["response_type"] == "ephemeral"
    assert "Compare" in resp.args["text"] and "/invite @vram" in resp.args["text"]


# -- failures and escaping ------------------------------------------------------------------------------
def test_bad_input_is_one_friendly_escaped_sentence(bot: Bot) -> None:
    bot.send.command(f"{QWEN3_8B} <!channel>=1")
    [resp] = bot.slack.wait_for("response_url")
    assert resp.args["response_type"] == "ephemeral"
    rendered = resp.args["text"] + blocks_text(resp.args)
    assert "<!channel>" not in rendered and "&lt;!channel&gt;" in rendered
    assert "Traceback" not in rendered
    # Typed literally, Slack sends it encoded: decoded to what was typed, then escaped once on the way out.
    bot.send.command(f"{QWEN3_8B} &lt;!here&gt;=1")
    resp = bot.slack.wait_for("response_url", 2)[1]
    rendered = resp.args["text"] + blocks_text(resp.args)
    assert "<!here>" not in rendered and '"&lt;!here&gt;' in rendered and "&amp;lt;" not in rendered
    assert bot.slack.of("chat.postMessage") == []


def test_slash_command_subcommands(bot: Bot) -> None:
    for i, text in enumerate(["help", "gpus"], start=1):
        bot.send.command(text)
        resp = bot.slack.wait_for("response_url", i)[i - 1]
        assert resp.args["response_type"] == "ephemeral"
    help_text, gpus_text = (c.args["text"] for c in bot.slack.of("response_url"))
    assert "/vram history" in help_text and "h100-80gb" in gpus_text
    bot.send.command("")  # nothing typed: the sizing form opens (tests/bot/test_slack_native.py)
    [opened] = bot.slack.wait_for("views.open")
    assert opened.args["view"]["callback_id"] == "vram_size_form"


def test_compare_posts_side_by_side(bot: Bot) -> None:
    bot.send.command(f"compare {QWEN3_8B} Qwen/Qwen3-0.6B s=8k")
    [post] = bot.slack.wait_for("chat.postMessage")
    text = post.args["text"]
    assert "Compare" in text and "Qwen/Qwen3-8B@" in text and "Qwen/Qwen3-0.6B@" in text
    # Qwen3-0.6B: 28 layers, 8 KV heads, head_dim 128 -> 2 x 28 x 8 x 128 x 2 = 114,688 B = 112 KiB/token
    assert "112 KiB" in text and "144 KiB" in text


def test_show_of_either_side_replays_the_comparison_and_history_lists_it_once(bot: Bot) -> None:
    bot.send.command(f"compare {QWEN3_8B} Qwen/Qwen3-0.6B s=8k")
    bot.slack.wait_for("chat.postMessage")
    bot.pool.drain()
    sides = sorted(r.id for r in bot.store.history(scope=_scope("C0001", "U0001")))
    assert len(sides) == 2
    bot.slack.clear()
    bot.send.command(f"show {sides[1]}")
    [resp] = bot.slack.wait_for("response_url")
    text = resp.args["text"]
    # Both sides, as the comparison answered: 144 KiB (Qwen3-8B) and 112 KiB (Qwen3-0.6B) per token.
    assert "Compare" in text and "Qwen/Qwen3-8B@" in text and "Qwen/Qwen3-0.6B@" in text
    assert "144 KiB" in text and "112 KiB" in text
    bot.send.command("history")
    listing = blocks_text(bot.slack.wait_for("response_url", 2)[1].args)
    assert listing.count(f"`#{sides[0]}` `#{sides[1]}`") == 1 and listing.count("compare ") == 1


def test_app_home_lists_the_users_queries(bot: Bot) -> None:
    bot.send.command(f"{QWEN3_8B} s=1k", channel="DHOME", channel_name="directmessage", user="U0005")
    bot.send.command(f"{QWEN3_8B} s=2k", channel="C0001", user="U0005")  # their own, in a channel
    bot.send.command(f"{QWEN3_8B} s=3k", channel="C0001", user="U0009")  # someone else's
    bot.slack.wait_for("chat.postMessage", 3)
    bot.pool.drain()
    bot.send.event({"type": "app_home_opened", "user": "U0005", "channel": "DHOME", "tab": "home", "event_ts": "1.1"})
    [pub] = bot.slack.wait_for("views.publish")
    assert pub.args["user_id"] == "U0005"
    view = json.dumps(pub.args["view"])
    assert pub.args["view"]["type"] == "home"
    assert "s=1k" in view and "s=2k" in view and "s=3k" not in view
    # As `history` lists them: a comparison's two sides are one row, and a mistake is summed up.
    bot.send.command(f"compare {QWEN3_8B} Qwen/Qwen3-0.6B s=4k", channel="C0001", user="U0005")
    bot.send.command(f"{QWEN3_8B} s=abc", channel="C0001", user="U0005")
    bot.slack.wait_for("chat.postMessage", 4)
    bot.slack.wait_for("response_url")
    bot.pool.drain()
    bot.send.event({"type": "app_home_opened", "user": "U0005", "channel": "DHOME", "tab": "home", "event_ts": "1.2"})
    home = json.dumps(bot.slack.wait_for("views.publish", 2)[1].args["view"], ensure_ascii=False)
    assert home.count("compare Qwen/Qwen3-8B Qwen/Qwen3-0.6B s=4k") == 1, home
    assert "1 input mistake not listed" in home and "s=abc" not in home


# -- protocol: signatures, health -------------------------------------------------------------------------
def test_bad_signature_and_stale_timestamp_are_refused(bot: Bot) -> None:
    import time

    bad = bot.send.command(f"{QWEN3_8B}", secret="not-the-secret")
    stale = bot.send.command(f"{QWEN3_8B}", timestamp=int(time.time()) - 10 * 60)
    event = bot.send.event(bot.send.message("s=32k", thread_ts="1.1"), secret="wrong")
    assert (bad.status, stale.status, event.status) == (401, 401, 401)
    bot.pool.drain()
    # Only the start-up token check (auth.test) reached Slack: nothing was processed.
    assert [c.method for c in bot.slack.calls] == ["auth.test"]
    assert bot.store.count() == 0


def test_url_verification_and_healthz(bot: Bot) -> None:
    sent = bot.send.post(
        json.dumps({"type": "url_verification", "challenge": "abc123", "token": "t"}), "application/json"
    )
    assert sent.status == 200 and json.loads(sent.body)["challenge"] == "abc123"
    with urllib.request.urlopen(f"{bot.base_url}/healthz", timeout=5) as resp:
        assert resp.status == 200 and json.loads(resp.read())["ok"] is True


# -- the Hub fails ------------------------------------------------------------------------------------------
@pytest.fixture
def dead_hub_bot(tmp_path: Path) -> Iterator[Bot]:
    # Nothing listens on port 9 of 127.0.0.1 (discard): every Hub request is refused at once.
    yield from start_bot(f"sqlite:///{tmp_path / 'vram.sqlite3'}", hub_resolver("http://127.0.0.1:9", 3))


def test_hub_failure_is_a_friendly_sentence(dead_hub_bot: Bot) -> None:
    bot = dead_hub_bot
    assert bot.send.command("Qwen/Qwen3-8B s=16k").status == 200
    [resp] = bot.slack.wait_for("response_url", timeout=20)
    text = resp.args["text"]
    assert text.startswith(":x: ") and "\n" not in text and "Traceback" not in text
    assert "Hub" in text or "hub" in text
    assert bot.slack.of("chat.postMessage") == []


def test_gated_model_and_hub_errors_are_friendly(bot: Bot, fake_hub: FakeHub) -> None:
    bot.send.command("meta-llama/Llama-3.1-8B s=8k")
    [gated] = bot.slack.wait_for("response_url")
    assert gated.args["text"].startswith(":x: meta-llama/Llama-3.1-8B is gated")
    assert "HF_TOKEN" in gated.args["text"]
    bot.send.command("acme/does-not-exist")
    missing = bot.slack.wait_for("response_url", 2)[1]
    assert missing.args["text"].startswith(":x: ") and "acme/does-not-exist" in missing.args["text"]
    fake_hub.fail_status = 503
    bot.send.command("Qwen/Qwen3-0.6B")
    down = bot.slack.wait_for("response_url", 3)[2]
    assert down.args["text"].startswith(":x: ") and "\n" not in down.args["text"]
    assert bot.slack.of("chat.postMessage") == []


def test_mention_outside_a_thread_answers_in_a_thread_that_takes_changes(bot: Bot) -> None:
    mention = bot.send.message(f"<@{BOT_USER_ID}> {QWEN3_8B} s=8k", type="app_mention")
    assert bot.send.event(mention).status == 200
    [answer] = bot.slack.wait_for("chat.postMessage")
    assert answer.args["thread_ts"] == mention["ts"]  # under the mention, not a new top-level post
    assert "144 KiB per token x 8,192 tokens" in blocks_text(answer.args)
    bot.pool.drain()
    bot.send.event(bot.send.message("b=2", thread_ts=mention["ts"]))
    follow = bot.slack.wait_for("chat.postMessage", 2)[1].args
    assert follow["thread_ts"] == mention["ts"]
    assert follow["blocks"][0]["text"]["text"].startswith("Changed `b=2`")
    assert "x 2 sequences" in blocks_text(follow)


def test_slack_errors_become_one_sentence_for_the_user(bot: Bot) -> None:
    bot.send.command(f"{QWEN3_8B} s=16k")
    bot.slack.wait_for("chat.postMessage")
    root_ts = _posted(bot)
    bot.slack.fail["chat.postMessage"] = "msg_too_long"
    # A slash command: the failure comes back through response_url.
    bot.send.command(f"{QWEN3_8B} s=8k")
    [resp] = bot.slack.wait_for("response_url")
    assert resp.args["text"] == ":x: The answer was too long for one Slack message."
    # A thread reply: privately, to its author, in the thread.
    bot.send.event(bot.send.message("s=32k", thread_ts=root_ts, user="U0007"))
    [eph] = bot.slack.wait_for("chat.postEphemeral")
    assert eph.args["user"] == "U0007" and eph.args["thread_ts"] == root_ts
    assert eph.args["text"] == ":x: The answer was too long for one Slack message."


def test_mention_in_someone_elses_thread_answers_there(bot: Bot) -> None:
    # A thread the bot never answered in: @vram with a model starts an answer in that thread.
    root = "1799999999.000100"
    mention = bot.send.message(f"<@{BOT_USER_ID}> {QWEN3_8B} s=2k", thread_ts=root, type="app_mention")
    bot.send.event(mention)
    bot.send.event({**mention, "type": "message"})  # Slack's message event for the same reply
    [answer] = bot.slack.wait_for("chat.postMessage")
    assert answer.args["thread_ts"] == root
    assert "144 KiB per token x 2,048 tokens" in blocks_text(answer.args)
    # From now on the thread is ours: a change re-estimates.
    bot.pool.drain()
    bot.send.event(bot.send.message("b=3", thread_ts=root))
    follow = bot.slack.wait_for("chat.postMessage", 2)[1].args
    assert follow["thread_ts"] == root and "x 3 sequences" in blocks_text(follow)
    bot.pool.drain()
    assert len(bot.slack.of("chat.postMessage")) == 2


def test_a_database_failure_still_answers_with_a_note(bot: Bot) -> None:
    # The history table goes away under the running bot (a broken database, for real).
    with bot.store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE queries")
    bot.send.command(f"{QWEN3_8B} s=4k")
    [post] = bot.slack.wait_for("chat.postMessage")
    assert "144 KiB per token x 4,096 tokens" in blocks_text(post.args)
    assert "not saved to history" in post.args["text"]
    assert "/vram show" not in post.args["text"]  # no id to show


def test_text_slack_escaped_is_read_as_typed(bot: Bot) -> None:
    # Slack sends &, < and > as &amp;, &lt;, &gt; in command and message text: the bot reads what the
    # user typed, and escapes it once when it shows it back ("&amp;" renders as "&", not "&amp;").
    bot.send.command(f"{QWEN3_8B} s=4k &amp;")
    [resp] = bot.slack.wait_for("response_url")
    assert 'unexpected word "&amp;"' in resp.args["text"]
    assert "&amp;amp;" not in resp.args["text"] + blocks_text(resp.args)
    # Stored as typed, so history shows it as typed too.
    bot.pool.drain()
    [record] = bot.store.history(scope=_scope("C0001", "U0001"))
    assert record.text == f"{QWEN3_8B} s=4k &"
    # A pasted Hub link arrives wrapped (<url> or <url|label>): the bot reads the model id in it.
    bot.send.event(bot.send.message(f"<@{BOT_USER_ID}> <https://huggingface.co/{QWEN3_8B}> s=2k", type="app_mention"))
    [answer] = bot.slack.wait_for("chat.postMessage")
    assert "144 KiB per token x 2,048 tokens" in blocks_text(answer.args)
    # Any other link is read as the text the user saw (here: not a model id, said once-escaped).
    bot.send.event(
        bot.send.message(
            f"<@{BOT_USER_ID}> <http://example.com/a/b?c=1&amp;d=2|example.com/a/b> s=2k", type="app_mention"
        )
    )
    [eph] = bot.slack.wait_for("chat.postEphemeral")
    assert eph.args["text"].startswith(':x: "example.com/a/b" is not a Hub model id')


@pytest.mark.parametrize(
    ("sent", "typed"),
    [
        ("Qwen/Qwen3-8B s=4k", "Qwen/Qwen3-8B s=4k"),
        ("<@UVRAMBOT> b=2", "b=2"),
        ("<@UVRAMBOT|vram> s = 32k", "s = 32k"),
        ("x &amp;lt; &lt;b&gt;", "x &lt; <b>"),  # "&lt;" typed literally arrives as "&amp;lt;"
        ("<https://huggingface.co/Qwen/Qwen3-8B>", "Qwen/Qwen3-8B"),
        ("<https://huggingface.co/Qwen/Qwen3-8B/tree/v1.0|the model>", "Qwen/Qwen3-8B@v1.0"),
        ("<https://example.com/a|example.com/a>", "example.com/a"),
        ("<!channel> s=1k", "<!channel> s=1k"),  # not a link: left to be escaped when shown back
    ],
)
def test_from_slack_reads_what_the_user_typed(sent: str, typed: str) -> None:
    from bot.slack_app import from_slack

    assert from_slack(sent) == typed


# -- the bot's own DM (the app's Messages tab) ----------------------------------------------------------
def test_dm_with_the_bot_answers_messages_and_their_threads(bot: Bot) -> None:
    question = bot.send.message(f"{QWEN3_8B} s=4k", channel="DBOT1", channel_type="im")
    assert bot.send.event(question, event_id="EvDM1").status == 200
    assert bot.send.event(question, event_id="EvDM1", retry=1).status == 200  # Slack's retry: one answer
    [answer] = bot.slack.wait_for("chat.postMessage")
    assert answer.args["channel"] == "DBOT1" and "thread_ts" not in answer.args  # a DM is a conversation
    assert "144 KiB per token x 4,096 tokens x 1 sequence" in blocks_text(answer.args)
    # The question stands just above its answer, typed without /vram: no "asked by" echo of it.
    assert "asked by" not in blocks_text(answer.args)
    bot.pool.drain()
    [record] = bot.store.history(scope=_scope("DBOT1", "U0001"))
    assert record.conversation.private and record.public and record.posted_channel == "DBOT1"
    # A change in the answer's thread re-estimates, as in a channel.
    bot.send.event(bot.send.message("b=2", channel="DBOT1", channel_type="im", thread_ts=record.posted_ts))
    follow = bot.slack.wait_for("chat.postMessage", 2)[1].args
    assert follow["thread_ts"] == record.posted_ts
    assert "x 2 sequences" in blocks_text(follow)
    # Sub-commands work in the DM too, and a mistake is one sentence there.
    bot.send.event(bot.send.message("help", channel="DBOT1", channel_type="im"))
    bot.send.event(bot.send.message("sq=4k", channel="DBOT1", channel_type="im"))
    texts = [c.args["text"] for c in bot.slack.wait_for("chat.postMessage", 4)[2:]]
    assert all(c.args["channel"] == "DBOT1" for c in bot.slack.of("chat.postMessage"))
    assert any("/vram history" in t for t in texts)
    # A top-level change after an answer is a what-if of the latest one there ("sq" is no key).
    assert any(t.startswith(':x: unknown key "sq"') for t in texts), texts
    # Its own posts in the DM (and edits) are not questions.
    bot.send.event(bot.send.message(f"{QWEN3_8B}", channel="DBOT1", channel_type="im", user=BOT_USER_ID, bot_id=BOT_ID))
    bot.send.event(bot.send.message(f"{QWEN3_8B}", channel="DBOT1", channel_type="im", subtype="message_changed"))
    bot.send.event(bot.send.message("gpus", channel="DBOT1", channel_type="im"))  # answered: a marker
    bot.slack.wait_for("chat.postMessage", 5)
    bot.pool.drain()
    assert len(bot.slack.of("chat.postMessage")) == 5 and bot.slack.of("chat.postEphemeral") == []


def test_a_top_level_change_in_the_dm_changes_the_latest_answer_there(bot: Bot) -> None:
    # The DM has no threads to reply in unless the user opens one: "what about 8k?" under the answer
    # is a what-if of it (16k -> 8k: 144 KiB x 8,192 tokens), answered at top level, kept as its child.
    assert bot.send.event(bot.send.message("what about 8k?", channel="DBOT1", channel_type="im")).status == 200
    [first] = bot.slack.wait_for("chat.postMessage")
    assert first.args["text"].startswith(":x: which model?")  # no answer yet to change
    bot.send.event(bot.send.message(f"{QWEN3_8B} s=16k", channel="DBOT1", channel_type="im"))
    bot.slack.wait_for("chat.postMessage", 2)
    bot.pool.drain()
    bot.send.event(bot.send.message("what about 8k?", channel="DBOT1", channel_type="im"))
    change = bot.slack.wait_for("chat.postMessage", 3)[2].args
    assert "thread_ts" not in change and change["channel"] == "DBOT1"
    assert change["blocks"][0]["text"]["text"].startswith("Changed `s=8k` (was 16k)")
    assert "144 KiB per token x 8,192 tokens" in blocks_text(change)
    bot.pool.drain()
    latest, answered = bot.store.history(scope=_scope("DBOT1", "U0001"))[:2]
    assert latest.parent_id == answered.id and "s=16k" in answered.text
    # A whole query of its own is a new answer, not a change.
    bot.send.event(bot.send.message(f"{QWEN3_8B} b=2", channel="DBOT1", channel_type="im"))
    fresh = bot.slack.wait_for("chat.postMessage", 4)[3].args
    assert not fresh["blocks"][0]["text"]["text"].startswith("Changed")
    bot.pool.drain()
    # A bare token count changes the latest answer (it was taken for a model id "32768").
    bot.send.event(bot.send.message("32768", channel="DBOT1", channel_type="im"))
    count = bot.slack.wait_for("chat.postMessage", 5)[4].args
    assert count["blocks"][0]["text"]["text"].startswith("Changed `s=32k`"), count["text"]
    bot.pool.drain()
    # "compare with X" compares the latest answer with X at its settings, as under it in a thread.
    bot.send.event(bot.send.message("compare with Qwen/Qwen3-0.6B", channel="DBOT1", channel_type="im"))
    compared = bot.slack.wait_for("chat.postMessage", 6)[5].args
    text = blocks_text(compared)
    assert "Qwen/Qwen3-0.6B" in text and "s=32,768 · b=2" in text, text
    bot.pool.drain()
    # After a comparison, a top-level change applies to both sides, as in the comparison's thread.
    bot.send.event(bot.send.message("b=4", channel="DBOT1", channel_type="im"))
    both = bot.slack.wait_for("chat.postMessage", 7)[6].args
    assert " on both sides" in both["blocks"][0]["text"]["text"], both["text"]


def test_small_talk_in_the_dm_gets_a_pointer_and_is_not_kept(bot: Bot) -> None:
    bot.send.event(bot.send.message("thanks!", channel="DBOT1", channel_type="im"))
    [reply] = bot.slack.wait_for("chat.postMessage")
    assert reply.args["text"].startswith("Ask me about a model") and ":x:" not in reply.args["text"]
    bot.pool.drain()
    assert bot.store.history(scope=_scope("DBOT1", "U0001")) == []
    # "help" alone is the help, not small talk.
    bot.send.event(bot.send.message("help", channel="DBOT1", channel_type="im"))
    assert "/vram history" in bot.slack.wait_for("chat.postMessage", 2)[1].args["text"]


def test_mention_without_a_model_gets_the_real_answer_privately(bot: Bot) -> None:
    for i, text in enumerate(["help", "", "gpus"], start=1):
        bot.send.event(bot.send.message(f"<@{BOT_USER_ID}> {text}".strip(), type="app_mention", user="U0003"))
        bot.slack.wait_for("chat.postEphemeral", i)
    help_a, help_b, gpus = (c.args for c in bot.slack.of("chat.postEphemeral"))
    assert all(a["user"] == "U0003" for a in (help_a, help_b, gpus))
    assert "/vram history" in help_a["text"] and help_b["text"] == help_a["text"]
    assert "h100-80gb" in gpus["text"]
    assert bot.slack.of("chat.postMessage") == []


def test_mention_without_a_change_in_our_thread_says_how(bot: Bot) -> None:
    # Plain chat in the thread is ignored, but "@vram ..." is addressed to the bot: silence would look broken.
    bot.send.command(f"{QWEN3_8B} s=16k")
    bot.slack.wait_for("chat.postMessage")
    root_ts = _posted(bot)
    # (A reply naming a setting in plain words, "what about an A100?", is a change: see test_question_slack.)
    mention = bot.send.message(f"<@{BOT_USER_ID}> what do you think?", thread_ts=root_ts, user="U0004")
    bot.send.event({**mention, "type": "app_mention"}, event_id="EvM1")
    bot.send.event(mention, event_id="EvM2")  # the message event for the same reply: ignored (no "=")
    bot.send.event({**mention, "type": "app_mention"}, event_id="EvM1", retry=1)
    [eph] = bot.slack.wait_for("chat.postEphemeral")
    assert eph.args["user"] == "U0004" and eph.args["thread_ts"] == root_ts
    assert "`gpu=a100-40gb`" in eph.args["text"]
    bot.pool.drain()
    assert len(bot.slack.of("chat.postEphemeral")) == 1 and len(bot.slack.of("chat.postMessage")) == 1


def assert_slack_accepts(args: dict[str, Any], *, max_blocks: int = 50) -> None:
    """Slack's Block Kit limits on one message (or Home view): what chat.postMessage would refuse."""
    assert "text" not in args or args["text"].strip(), "a plain-text fallback"
    assert 0 < len(args["blocks"]) <= max_blocks
    assert block_errors(args["blocks"], max_blocks=max_blocks) == []


def test_every_message_the_app_sends_is_valid_block_kit(bot: Bot) -> None:
    bot.send.command(f"{QWEN3_8B} s=16k gpu=h100 engine=vllm")
    bot.slack.wait_for("chat.postMessage")
    root_ts = _posted(bot)
    bot.send.event(bot.send.message("s=32k gpu=l4", thread_ts=root_ts))  # a what-if
    bot.send.event(bot.send.message("s=0", thread_ts=root_ts))  # a what-if error
    for text in (
        "help",
        "gpus",
        "history",
        "history mine",
        "show 1",
        "show 99",
        "nope",
        f"compare {QWEN3_8B} Qwen/Qwen3-0.6B gpu=a100-40gb",
    ):
        bot.send.command(text)
    bot.send.command(f"{QWEN3_8B}", channel="CPRIVATE", channel_name="privategroup")  # the private fallback
    bot.send.event({"type": "app_home_opened", "user": "U0001", "channel": "DHOME", "tab": "home", "event_ts": "1.1"})
    bot.slack.wait_for("chat.postMessage", 4)  # answer, what-if, compare, the refused private post
    bot.slack.wait_for("response_url", 8)
    bot.slack.wait_for("chat.postEphemeral")
    [home] = bot.slack.wait_for("views.publish")
    sent = [c for c in bot.slack.calls if c.method in ("chat.postMessage", "chat.postEphemeral", "response_url")]
    assert len(sent) >= 13
    for call in sent:
        assert_slack_accepts(call.args)
    assert_slack_accepts(home.args["view"], max_blocks=100)
    # ... and every Web API method it called is covered by the manifest's scopes (and needs no other).
    import yaml

    from tests.bot.test_slack_manifest import MANIFEST

    needs = {
        "auth.test": None,
        "chat.postMessage": "chat:write",
        "chat.postEphemeral": "chat:write",
        "views.publish": None,
        "response_url": None,
    }
    methods = {c.method for c in bot.slack.calls}
    assert methods <= set(needs), methods - set(needs)
    scopes = set(yaml.safe_load(MANIFEST.read_text())["oauth_config"]["scopes"]["bot"])
    assert {needs[m] for m in methods if needs[m]} <= scopes


def test_a_database_failure_still_answers_mentions_and_dms(bot: Bot) -> None:
    bot.send.command(f"{QWEN3_8B} s=16k")
    bot.slack.wait_for("chat.postMessage")
    root_ts = _posted(bot)
    # The database goes away under the running bot: a question is still answered (a retry might then
    # be answered twice, which beats never answering), as the slash command already is.
    with bot.store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE handled_events")
        conn.exec_driver_sql("DROP TABLE queries")
    bot.send.event(bot.send.message(f"<@{BOT_USER_ID}> {QWEN3_8B} s=2k", type="app_mention"))
    bot.send.event(bot.send.message(f"{QWEN3_8B} s=2k", channel="DBOT1", channel_type="im"))
    answers = bot.slack.wait_for("chat.postMessage", 3)[1:]
    for answer in answers:
        assert "144 KiB per token x 2,048 tokens" in blocks_text(answer.args)
        assert "not saved to history" in answer.args["text"]
    # A thread cannot be followed without its history: the author is told the store's sentence.
    bot.send.event(bot.send.message("s=32k", thread_ts=root_ts, user="U0006"))
    [eph] = bot.slack.wait_for("chat.postEphemeral")
    assert eph.args["user"] == "U0006" and eph.args["text"].startswith(":x: ")
    assert "Something went wrong" not in eph.args["text"]


def test_app_home_says_when_the_history_cannot_be_read(bot: Bot) -> None:
    with bot.store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE queries")
    bot.send.event({"type": "app_home_opened", "user": "U0005", "channel": "DHOME", "tab": "home", "event_ts": "1.1"})
    [pub] = bot.slack.wait_for("views.publish")
    view = json.dumps(pub.args["view"])
    assert "You have no queries yet" not in view  # that would be untrue
    assert "The history database is not answering" in view
    assert_slack_accepts(pub.args["view"], max_blocks=100)


def test_a_channel_where_posting_is_restricted_gets_no_invite_hint(bot: Bot) -> None:
    # An announcement-only channel (Slack: restricted_action): inviting the bot would not help.
    bot.slack.fail["chat.postMessage"] = "restricted_action"
    bot.send.command(f"{QWEN3_8B} s=4k", channel="CANNOUNCE")
    [resp] = bot.slack.wait_for("response_url")
    assert resp.args["response_type"] == "ephemeral"
    assert "144 KiB per token x 4,096 tokens" in blocks_text(resp.args)
    assert "/invite" not in resp.args["text"] and "Reply in this thread" not in resp.args["text"]
    assert "not allowed to post in this channel, so only you see this" in resp.args["text"]


@pytest.mark.parametrize(
    ("text", "small"),
    [
        ("thanks!", True),
        ("thanks :pray:", True),
        ("thank you so much!", True),
        (f"<@{BOT_USER_ID}> thanks for the help", True),
        ("ok cool", True),
        ("thanks, that helps a lot", True),
        ("that makes sense, thanks!", True),
        ("help", False),
        ("is it 32k?", False),
        ("ok help", False),
        ("ok history", False),
        ("ok Qwen/Qwen3-8B", False),
        ("no fp8", False),
        ("yes with vllm", False),
    ],
)
def test_small_talk_is_social_words_alone(text: str, small: bool) -> None:
    assert is_small_talk(text) is small


@pytest.mark.parametrize(
    ("text", "about_the_bot"),
    [
        ("hi there, what can you do?", True),
        ("how does this work?", True),
        ("how do I use this?", True),
        ("what can qwen3 8b do on an h100", False),
        ("can Qwen/Qwen3-8B run 32k?", False),
        ("what is the vram of qwen3 8b at 32k", False),
    ],
)
def test_a_question_about_the_bot_gets_the_help(text: str, about_the_bot: bool) -> None:
    from bot.slack_app import asks_what_it_does

    assert asks_what_it_does(text) is about_the_bot
