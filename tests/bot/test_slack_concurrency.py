"""Slack's 3-second rule: 20 concurrent commands are all acknowledged in time while the Hub hangs."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from sources import Resolver
from tests.bot.test_slack_app import Bot, start_bot
from tests.store.conftest import db_url, pg_schema_url  # noqa: F401  (fixtures: SQLite and Postgres)

# Real servers and peers on 127.0.0.1 (seconds per test): outside the fast subset.
pytestmark = pytest.mark.slow


# -- 20 concurrent commands while the Hub hangs ------------------------------------------------------------
@pytest.fixture
def hanging_hub() -> Iterator[str]:
    """A Hub endpoint that accepts connections and never answers (a stuck upstream)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()
        for conn in held:
            conn.close()


@pytest.fixture
def slow_hub_bot(db_url: str, hanging_hub: str) -> Iterator[Bot]:  # noqa: F811
    yield from start_bot(db_url, Resolver(endpoint=hanging_hub, total_timeout_s=2), workers=10)


def test_twenty_concurrent_commands_are_all_acked_in_time(slow_hub_bot: Bot) -> None:
    bot = slow_hub_bot
    with ThreadPoolExecutor(max_workers=20) as senders:
        sent = list(senders.map(lambda i: bot.send.command(f"Qwen/Qwen3-{i}B s=16k", user=f"U{i:04d}"), range(20)))
    # Slack's protocol: every command is acknowledged inside 3 seconds, although each estimate
    # waits 2 s for the Hub and only 10 run at once (20 need 2 rounds, over 4 s).
    assert [s.status for s in sent] == [200] * 20
    assert max(s.seconds for s in sent) < 3.0
    # ... and every one of them still gets its answer: the Hub's timeout, as one sentence.
    answers = bot.slack.wait_for("response_url", 20, timeout=60)
    assert all("did not answer within 2 s" in a.args["text"] for a in answers)
    assert len({a.path for a in answers}) == 20


def test_four_askers_of_one_model_on_a_hung_hub_are_answered_within_one_timeout(slow_hub_bot: Bot) -> None:
    # One lookup is shared by everyone waiting on the model: each asker hears back when it times
    # out (2 s), not after 2, 4, 6 and 8 s as when each waiter ran its own timeout in turn.
    bot = slow_hub_bot
    with ThreadPoolExecutor(max_workers=4) as senders:
        sent = list(senders.map(lambda i: bot.send.command("Qwen/Qwen3-8B s=4k", user=f"U{i:04d}"), range(4)))
    began = time.monotonic()
    assert [s.status for s in sent] == [200] * 4
    answers = bot.slack.wait_for("response_url", 4, timeout=30)
    answered_s = time.monotonic() - began
    assert all("did not answer within 2 s" in a.args["text"] for a in answers)
    assert answered_s < 2 * 2 + 1.5  # one timeout plus a margin; queued lookups took 8 s
    assert len({a.path for a in answers}) == 4
