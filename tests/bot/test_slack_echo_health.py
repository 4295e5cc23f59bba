"""What users are shown of their own text and of the infrastructure; what /healthz says when writes fail."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_bolt import App

from bot.echo import neutral
from bot.http import HttpServer, SlackGate
from bot.serve import database_ok
from store import Store
from tests.bot.test_slack_app import Bot, hub_resolver, start_bot
from tests.bot.test_slack_serve import get, serving, settings_for
from tests.fakehub import FakeHub
from tests.mockslack import MockSlack, MockSocketMode
from tests.store.conftest import db_url, pg_schema_url  # noqa: F401  (fixtures: SQLite and Postgres)

# Real servers and peers on 127.0.0.1 (seconds per test): outside the fast subset.
pytestmark = pytest.mark.slow

RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE


@pytest.fixture
def bot(db_url: str, fake_hub: FakeHub) -> Iterator[Bot]:  # noqa: F811
    yield from start_bot(db_url, hub_resolver(fake_hub.url))


def test_neutral_by_hand() -> None:
    assert neutral(f"exe.{RLO}txt") == "exe.\ufffdtxt"
    assert neutral("a\u2066b\u2069c\u200fd") == "a\ufffdb\ufffdc\ufffdd"
    long = "org/" + "m" * 3996
    assert neutral(long) == long[:119] + "…"  # 120 characters in all
    assert neutral("Qwen/Qwen3-8B s=4k") == "Qwen/Qwen3-8B s=4k"  # ordinary text untouched


def test_a_4000_character_model_id_is_not_echoed_in_full(bot: Bot) -> None:
    model = "acme/" + "x" * 3995
    bot.send.command(f"{model} s=4k")
    [answer] = bot.slack.wait_for("response_url")
    shown = answer.args["text"] + json.dumps(answer.args.get("blocks", []))
    assert "x" * 200 not in shown
    assert len(shown) < 2000  # the 7 KB message is gone: one sentence with the id cut


LONG = "1." + "0" * 3000


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (f"Qwen/Qwen3-0.6B s={LONG}", "out of range"),
        (f"Qwen/Qwen3-0.6B kv={LONG}", "is not valid"),
        (f"Qwen/Qwen3-0.6B s=4k s={LONG}", "s=4k"),
        (f"can Qwen/Qwen3-0.6B run {LONG}k on an h100?", "out of range"),  # float() gave inf: a crash
        (f"can Qwen/Qwen3-0.6B run 4k on {'9' * 3000} h100s?", "not used"),
    ],
)
def test_a_number_thousands_of_digits_long_is_not_echoed_in_full(bot: Bot, text: str, says: str) -> None:
    bot.send.command(text)
    bot.pool.drain()
    shown = "".join(
        c.args.get("text", "") + json.dumps(c.args.get("blocks", []))
        for c in bot.slack.calls
        if c.method in ("response_url", "chat.postMessage")
    )
    assert says in shown
    assert "0" * 200 not in shown and "9" * 200 not in shown
    assert len(shown) < 6000


def test_bidi_controls_are_neutralised_in_answers_and_history(bot: Bot) -> None:
    bot.send.command(f"acme/{RLO}lmm-evil s=4k")
    bot.slack.wait_for("response_url")
    bot.pool.drain()
    bot.send.command("history mine")
    history = bot.slack.wait_for("response_url", 2)[1]
    # An input mistake is summed up in the listing, not listed; `show` brings it back, neutralised.
    assert "1 input mistake not listed (#1)" in history.args["text"]
    bot.send.command("show 1")
    shown_one = bot.slack.wait_for("response_url", 3)[2]
    for call in bot.slack.of("response_url"):
        shown = call.args["text"] + json.dumps(call.args.get("blocks", []), ensure_ascii=False)
        assert RLO not in shown
    assert "acme/\ufffdlmm-evil" in shown_one.args["text"] + json.dumps(shown_one.args["blocks"], ensure_ascii=False)


def test_a_dead_database_is_one_sentence_without_host_port_or_name(tmp_path: Path, fake_hub: FakeHub) -> None:
    # A Postgres that does not answer: users read that the history is not answering; where it is stays in
    # the log (port 1 on loopback refuses at once).
    dead = "postgresql+psycopg://vram@127.0.0.1:1/vram_history?connect_timeout=1"
    store = Store(dead, retries=1)
    try:
        from bot.service import Service
        from store import Conversation

        service = Service(store=store, resolver=hub_resolver(fake_hub.url))
        reply = service.history(Conversation(platform="slack", workspace="T1", channel="C1", user="U1"))
        message = getattr(reply, "message", "")
        assert message == "The history database is not answering: try again in a minute."
        assert "127.0.0.1" not in message and "vram_history" not in message
    finally:
        store.close()


def test_healthz_is_503_while_writes_fail(tmp_path: Path) -> None:
    path = tmp_path / "v.sqlite3"
    store = Store(f"sqlite:///{path}")
    store.upgrade()
    app = App(token="xoxb-x", signing_secret="s", token_verification_enabled=False)
    server = HttpServer(SlackGate(app, signing_secret="s", health=database_ok(store)), host="127.0.0.1", port=0).start()
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        url = f"http://127.0.0.1:{server.port}/healthz"
        assert get(url) == (200, {"ok": True})
        blocker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        assert get(url) == (503, {"ok": False})
        blocker.execute("ROLLBACK")
        assert get(url) == (200, {"ok": True})
    finally:
        blocker.close()
        server.close()
        store.close()
    read_only = Store(f"sqlite:///file:{path}?mode=ro&uri=true")
    server = HttpServer(SlackGate(None, health=database_ok(read_only)), host="127.0.0.1", port=0).start()
    try:
        assert get(f"http://127.0.0.1:{server.port}/healthz") == (503, {"ok": False})
    finally:
        server.close()
        read_only.close()


@pytest.mark.slow
def test_socket_mode_healthz_is_503_while_the_socket_is_down(tmp_path: Path) -> None:
    slack = MockSlack().start()
    ws = MockSocketMode().start()
    slack.socket_url = ws.url
    settings = settings_for(
        f"sqlite:///{tmp_path / 'v.sqlite3'}", slack, slack_signing_secret=None, slack_app_token="xapp-1-test"
    )
    try:
        with serving(settings, what="connect"):
            ws.wait_connected()
            url = f"http://127.0.0.1:{settings.port}/healthz"
            assert get(url) == (200, {"ok": True})
            slack.socket_url = None  # Slack hands out no new socket: reconnecting fails
            ws.stop()
            deadline = time.monotonic() + 30
            while get(url)[0] != 503:
                assert time.monotonic() < deadline, "healthz stayed 200 with the socket down"
                time.sleep(0.1)
    finally:
        ws.stop()
        slack.stop()
