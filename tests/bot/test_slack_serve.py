"""``vram serve`` in HTTP mode: settings checked, migrations applied on start, health, Hub ids only."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from slack_bolt import App

from bot.http import HttpServer, SlackGate
from bot.serve import build, database_ok, serve
from bot.settings import Settings
from common.errors import HubUnavailableError, InputError, VramError
from sources import HubOnlyResolver, Resolver
from store import Store
from store.migrate import script_head
from tests.fakehub import FakeHub
from tests.mockslack import MockSlack, MockSocketMode, SlackSender, slash_command_envelope
from tests.store.conftest import db_url, pg_schema_url  # noqa: F401  (fixtures: SQLite and Postgres)

# Real servers and peers on 127.0.0.1 (seconds per test): outside the fast subset.
pytestmark = pytest.mark.slow

SECRET = "serve-test-signing-secret"


@pytest.fixture
def slack() -> Iterator[MockSlack]:
    mock = MockSlack().start()
    yield mock
    mock.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings_for(db: str, slack: MockSlack, **kw: object) -> Settings:
    values: dict[str, object] = {
        "slack_bot_token": "xoxb-serve",
        "slack_signing_secret": SECRET,
        "slack_app_token": None,
        "slack_api_url": slack.api_url,
        "database_url": db,
        "port": free_port(),
        "hf_endpoint": "http://127.0.0.1:9",
        "hub_timeout_s": 2,
    }
    values.update(kw)
    return Settings(**values)  # type: ignore[arg-type]


def get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@contextlib.contextmanager
def serving(settings: Settings, *, what: str = "start") -> Iterator[None]:
    """``vram serve`` in a thread: ready on entry, stopped (and joined) on exit."""
    ready = threading.Event()
    stops: list[Callable[[], None]] = []

    def on_ready(stop: Callable[[], None]) -> None:
        stops.append(stop)
        ready.set()

    thread = threading.Thread(target=serve, args=(settings,), kwargs={"on_ready": on_ready}, daemon=True)
    thread.start()
    try:
        assert ready.wait(30), f"vram serve did not {what}"
        yield
    finally:
        if stops:
            stops[0]()
        thread.join(10)
    assert not thread.is_alive()


def test_serve_migrates_then_answers_over_http(db_url: str, slack: MockSlack) -> None:  # noqa: F811
    from estimator.archconfig import _transformers

    settings = settings_for(db_url, slack)
    _transformers.cache_clear()  # as in a fresh process: nothing has read a config yet
    with serving(settings):
        base = f"http://127.0.0.1:{settings.port}"
        assert get(f"{base}/healthz") == (200, {"ok": True})
        assert get(f"{base}/nope")[0] == 404
        # transformers was imported before the workers took requests (its quiet import swaps stderr).
        assert _transformers.cache_info().currsize == 1
        # Migrated on start: the schema is at the newest migration.
        with Store(db_url) as store:
            assert store.schema_revision() == script_head()
        # A Slack user cannot make the server read its own files.
        send = SlackSender(f"{base}/slack/events", SECRET, slack)
        assert send.command("/etc/passwd").status == 200
        assert send.command("tests/fixtures").status == 200  # a folder here, also an org/name
        answers = slack.wait_for("response_url", 2)
        for answer in answers:
            assert "is a local path: in Slack, give a Hub model id" in answer.args["text"]
        assert slack.of("chat.postMessage") == []


def test_missing_credentials_are_one_sentence(tmp_path: Path, slack: MockSlack) -> None:
    db = f"sqlite:///{tmp_path / 'v.sqlite3'}"
    with pytest.raises(VramError, match=r"^SLACK_BOT_TOKEN is not set"):
        build(settings_for(db, slack, slack_bot_token=None))
    with pytest.raises(VramError, match=r"^SLACK_SIGNING_SECRET is not set"):
        build(settings_for(db, slack, slack_signing_secret=None))
    assert not (tmp_path / "v.sqlite3").exists()  # nothing touched before the settings are right


def test_refused_token_is_one_sentence(tmp_path: Path, slack: MockSlack) -> None:
    slack.fail["auth.test"] = "invalid_auth"
    with pytest.raises(VramError, match=r"^The Slack app could not start"):
        build(settings_for(f"sqlite:///{tmp_path / 'v.sqlite3'}", slack))


def test_unreachable_slack_is_one_sentence(tmp_path: Path, slack: MockSlack) -> None:
    settings = settings_for(f"sqlite:///{tmp_path / 'v.sqlite3'}", slack, slack_api_url="http://127.0.0.1:9/api/")
    with pytest.raises(VramError, match=r"^Slack did not answer at http://127\.0\.0\.1:9/api/: check the network"):
        build(settings)


def test_socket_mode_needs_no_signing_secret(tmp_path: Path, slack: MockSlack) -> None:
    app, store = build(
        settings_for(
            f"sqlite:///{tmp_path / 'v.sqlite3'}", slack, slack_signing_secret=None, slack_app_token="xapp-1-test"
        )
    )
    try:
        assert isinstance(app, App)
        assert app.client.base_url == slack.api_url  # SLACK_API_URL honoured
    finally:
        store.close()


@pytest.mark.parametrize(
    "text",
    ["/etc/passwd", "./config.json", "~/models/x", "../x", "model.gguf", "tests/fixtures/configs", "x/config.json"],
)
def test_hub_only_resolver_refuses_local_paths(text: str) -> None:
    resolver = HubOnlyResolver(Resolver(endpoint="http://127.0.0.1:9", total_timeout_s=1))
    with pytest.raises(InputError, match="is a local path"):
        resolver.resolve(text)


def test_hub_only_resolver_passes_hub_ids_on() -> None:
    resolver = HubOnlyResolver(Resolver(endpoint="http://127.0.0.1:9", total_timeout_s=1))
    with pytest.raises(HubUnavailableError):  # it reached the (dead) Hub: the id was let through
        resolver.resolve("Qwen/Qwen3-8B")


def test_healthz_reports_a_dead_database() -> None:
    app = App(token="xoxb-x", signing_secret="s", token_verification_enabled=False)
    dead = Store("postgresql+psycopg://postgres@127.0.0.1:9/none?connect_timeout=1", retries=1)
    server = HttpServer(SlackGate(app, signing_secret="s", health=database_ok(dead)), host="127.0.0.1", port=0).start()
    try:
        assert get(f"http://127.0.0.1:{server.port}/healthz") == (503, {"ok": False})
    finally:
        server.close()
        dead.close()


def test_health_only_server_for_socket_mode() -> None:
    # Socket Mode: PORT serves the health check, and nothing else (no unsigned way in).
    server = HttpServer(SlackGate(None), host="127.0.0.1", port=0).start()
    try:
        host, port = "127.0.0.1", server.port
        assert get(f"http://{host}:{port}/healthz") == (200, {"ok": True})
        req = urllib.request.Request(f"http://{host}:{port}/slack/events", data=b"{}", method="POST")
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=5)
        assert err.value.code == 404
    finally:
        server.close()


def test_serve_in_socket_mode_end_to_end(tmp_path: Path, slack: MockSlack, fake_hub: FakeHub) -> None:
    ws = MockSocketMode().start()
    slack.socket_url = ws.url
    settings = settings_for(
        f"sqlite:///{tmp_path / 'v.sqlite3'}",
        slack,
        slack_signing_secret=None,
        slack_app_token="xapp-1-test",
        hf_endpoint=fake_hub.url,
    )
    try:
        with serving(settings, what="connect"):
            ws.wait_connected()
            [opened] = slack.of("apps.connections.open")
            assert opened.token == "xapp-1-test"  # the app-level token opens the socket
            # The health check listens on PORT; Slack's events do not come that way.
            assert get(f"http://127.0.0.1:{settings.port}/healthz") == (200, {"ok": True})
            ws.send(slash_command_envelope(slack, "Qwen/Qwen3-0.6B s=4k"))
            ws.wait_ack("env-1")
            [post] = slack.wait_for("chat.postMessage")
            # Qwen3-0.6B: 2 x 28 layers x 8 KV heads x 128 x 2 bytes = 114,688 B = 112 KiB per token
            assert post.args["channel"] == "C0001"
            assert "112 KiB per token x 4,096 tokens" in json.dumps(post.args["blocks"], ensure_ascii=False)
    finally:
        ws.stop()


def test_slack_api_url_without_the_trailing_slash(tmp_path: Path, slack: MockSlack) -> None:
    # "http://host/api" joined with "auth.test" would be "http://host/auth.test": the slash is added.
    settings = settings_for(f"sqlite:///{tmp_path / 'v.sqlite3'}", slack, slack_api_url=slack.api_url.rstrip("/"))
    app, store = build(settings)
    try:
        assert app.client.base_url == slack.api_url
        assert [c.path for c in slack.of("auth.test")] == ["/api/auth.test"]
    finally:
        store.close()


@pytest.mark.parametrize("socket_mode", [False, True])
def test_sigterm_stops_vram_serve_cleanly(tmp_path: Path, slack: MockSlack, socket_mode: bool) -> None:
    # `docker stop` and orchestrators send SIGTERM (to PID 1 in a container, where an unhandled SIGTERM
    # is ignored): `vram serve` must stop on it, cleanly, in both modes.
    import os
    import signal
    import subprocess
    import sys
    import time

    ws = MockSocketMode().start() if socket_mode else None
    if ws is not None:
        slack.socket_url = ws.url
    port = free_port()
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": "xoxb-serve",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.api_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'v.sqlite3'}",
        "PORT": str(port),
        "HF_ENDPOINT": "http://127.0.0.1:9",
    }
    env.pop("SLACK_APP_TOKEN", None)
    if socket_mode:
        env["SLACK_APP_TOKEN"] = "xapp-1-test"
    proc = subprocess.Popen(
        [sys.executable, "-c", "from bot.cli import main; main()", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    assert proc.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or ()), daemon=True)
    reader.start()
    # The operator sees how it runs: wait for that line (it comes once Slack can reach the bot).
    ready = "Socket Mode" if socket_mode else f"HTTP on port {port}"
    try:
        deadline = time.monotonic() + 30
        while not any(ready in line for line in lines):
            assert proc.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, f"vram serve did not start: {lines}"
            time.sleep(0.05)
        assert get(f"http://127.0.0.1:{port}/healthz")[0] == 200  # in both modes
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
        reader.join(5)
        out = "".join(lines)
        assert proc.returncode == 0, out
        assert "Traceback" not in out
        # No alarming noise either ("`token` will be unused": Bolt read SLACK_BOT_TOKEN itself although
        # the app hands it a client made with that very token).
        assert "WARNING" not in out, out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if ws is not None:
            ws.stop()


@pytest.mark.parametrize("code", ["invalid_auth", "not_allowed_token_type"])
def test_refused_app_token_is_one_sentence(tmp_path: Path, slack: MockSlack, code: str) -> None:
    # Socket Mode with a wrong SLACK_APP_TOKEN (revoked, or the bot token pasted by mistake): Slack refuses
    # apps.connections.open. The operator gets one sentence, not a traceback, and PORT is let go.
    slack.fail["apps.connections.open"] = code
    settings = settings_for(
        f"sqlite:///{tmp_path / 'v.sqlite3'}",
        slack,
        slack_signing_secret=None,
        slack_app_token="xoxb-pasted-by-mistake",
    )
    with pytest.raises(VramError, match=rf"^SLACK_APP_TOKEN was refused by Slack \({code}\): .*xapp-"):
        serve(settings)
    with socket.socket() as s:
        s.bind(("0.0.0.0", settings.port))  # the health check's port is free again


@pytest.mark.parametrize("socket_mode", [False, True])
def test_port_in_use_is_one_sentence(tmp_path: Path, slack: MockSlack, socket_mode: bool) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        mode = {"slack_signing_secret": None, "slack_app_token": "xapp-1-test"} if socket_mode else {}
        settings = settings_for(f"sqlite:///{tmp_path / 'v.sqlite3'}", slack, port=port, **mode)
        with pytest.raises(VramError, match=rf"^PORT {port} is not free: .*set PORT to a free port"):
            serve(settings)


@pytest.mark.parametrize(
    ("url", "sentence"),
    [
        ("not-a-url", r"^DATABASE_URL is not a database URL"),
        ("sqlite:////proc/no-such-dir/v.sqlite3", r"^Cannot create the folder for the history database"),
    ],
)
def test_bad_database_url_is_one_sentence(slack: MockSlack, url: str, sentence: str) -> None:
    with pytest.raises(VramError, match=sentence):
        build(settings_for(url, slack))
