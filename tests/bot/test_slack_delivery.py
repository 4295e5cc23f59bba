"""Slack's Web API misbehaving: 429 per channel, 5xx, response_url failures, and the last resort."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator

import pytest

from store import Conversation
from tests.bot.test_slack_app import QWEN3_8B, Bot, hub_resolver, start_bot
from tests.fakehub import FakeHub
from tests.store.conftest import db_url, pg_schema_url  # noqa: F401  (fixtures: SQLite and Postgres)

# Real servers and peers on 127.0.0.1 (seconds per test): outside the fast subset.
pytestmark = pytest.mark.slow


@pytest.fixture
def bot(db_url: str, fake_hub: FakeHub) -> Iterator[Bot]:  # noqa: F811
    yield from start_bot(db_url, hub_resolver(fake_hub.url), workers=1)


def test_5xx_from_chat_post_message_is_retried(bot: Bot) -> None:
    bot.slack.server_errors["chat.postMessage"] = 2
    assert bot.send.command(f"{QWEN3_8B} s=4k").status == 200
    [post] = bot.slack.wait_for("chat.postMessage")
    bot.pool.drain()
    assert len(bot.slack.of("chat.postMessage", failed=True)) == 2
    assert len(bot.slack.of("chat.postMessage")) == 1  # posted once, on the third try
    assert post.args["channel"] == "C0001"
    # ... and the record knows where (set after the successful post).
    [rec] = bot.store.history(scope=_scope("C0001"), limit=5)
    assert rec.posted_ts is not None


def test_a_rate_limited_channel_does_not_delay_another(bot: Bot) -> None:
    # One worker only. Channel C0001 is rate-limited (429, Retry-After 2 s, twice): its answer waits on a
    # timer, not in the worker, so /vram help in C0002 is answered while C0001's answer still waits.
    bot.slack.retry_after_s = 2
    bot.slack.rate_limit["chat.postMessage C0001"] = 2
    assert bot.send.command(f"{QWEN3_8B} s=4k", channel="C0001").status == 200
    deadline = time.monotonic() + 30
    while not bot.slack.of("chat.postMessage", failed=True):  # until the first 429 went back
        assert time.monotonic() < deadline, "the answer was never posted"
        time.sleep(0.01)
    assert bot.send.command("help", channel="C0002").status == 200
    bot.slack.wait_for("response_url")
    assert bot.slack.of("chat.postMessage") == []  # C0001 still waiting out its Retry-After
    [post] = bot.slack.wait_for("chat.postMessage", timeout=30)
    assert post.args["channel"] == "C0001"
    bot.pool.drain()
    assert len(bot.slack.of("chat.postMessage")) == 1


def test_response_url_failures_are_retried_and_logged(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    bot.slack.server_errors["response_url"] = 2
    with caplog.at_level(logging.INFO, logger="bot.slack_app"):
        assert bot.send.command("help").status == 200
        bot.slack.wait_for("response_url")
        bot.pool.drain()
    assert len(bot.slack.of("response_url")) == 1
    assert len(bot.slack.of("response_url", failed=True)) == 2
    assert sum("response_url" in r.getMessage() and "trying again" in r.getMessage() for r in caplog.records) == 2


def test_a_post_that_keeps_failing_is_offered_privately(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    bot.slack.server_errors["chat.postMessage"] = 99
    with caplog.at_level(logging.WARNING, logger="bot.slack_app"):
        assert bot.send.command(f"{QWEN3_8B} s=4k").status == 200
        [told] = bot.slack.wait_for("response_url", timeout=30)
        bot.pool.drain()
    assert len(bot.slack.of("chat.postMessage", failed=True)) == 4  # the tries, then another way
    # The answer itself, privately (144 KiB per token: see test_slack_app's Qwen3-8B arithmetic).
    assert "144 KiB per token x 4,096 tokens" in json.dumps(told.args["blocks"], ensure_ascii=False)
    assert told.args["response_type"] == "ephemeral"
    assert any("failed 4 times" in r.getMessage() for r in caplog.records)


def test_a_dead_response_url_ends_in_a_dm(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    bot.slack.server_errors["response_url"] = 99
    with caplog.at_level(logging.WARNING, logger="bot.slack_app"):
        assert bot.send.command("help", user="U0042").status == 200
        [dm] = bot.slack.wait_for("chat.postMessage", timeout=30)
        bot.pool.drain()
    assert dm.args["channel"] == "U0042"  # a DM from the bot, with the answer (the help)
    assert "/vram" in dm.args["text"]
    assert any("failed 4 times" in r.getMessage() and "another way" in r.getMessage() for r in caplog.records)


def _scope(channel: str) -> Conversation:
    return Conversation(platform="slack", workspace="T0001", channel=channel, user="U0001")


def test_a_lost_connection_to_slack_is_retried(bot: Bot) -> None:
    bot.slack.drop["chat.postMessage"] = 1
    assert bot.send.command(f"{QWEN3_8B} s=4k").status == 200
    [post] = bot.slack.wait_for("chat.postMessage", timeout=30)
    bot.pool.drain()
    assert post.args["channel"] == "C0001"
    assert len(bot.slack.of("chat.postMessage", failed=True)) == 1  # the dropped try


def test_a_message_slack_turns_down_is_not_called_unreachable() -> None:
    # response_url answers 400 with the error code as its body: Slack was reached and refused the
    # blocks, which trying again would not change; a 5xx or no answer is "could not reach".
    from bot.slack_app import ResponseUrlError, retry_delay, slack_error_sentence

    refused = ResponseUrlError(400, None, "invalid_blocks")
    assert slack_error_sentence(refused) == "Slack refused the answer (invalid_blocks)."
    assert retry_delay(refused, 1, 1.0) is None
    assert slack_error_sentence(ResponseUrlError(404)) == "Slack refused the answer (HTTP 404)."
    assert slack_error_sentence(ResponseUrlError(404, None, "expired_url")).startswith(
        "This command's reply link expired"
    )
    assert slack_error_sentence(ResponseUrlError(503)).startswith("I could not reach Slack")
    assert slack_error_sentence(ResponseUrlError(429)).startswith("Slack is rate-limiting me")
