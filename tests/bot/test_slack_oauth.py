"""Installing vram in any workspace: Slack's OAuth v2 through Bolt, end to end against the mock Slack.

The app runs behind what `vram serve` runs (waitress, the gate, Bolt's WSGI adapter) on 127.0.0.1
(the install page and the redirect are GET requests), with its installation and state stores in the
test's database (SQLite and Postgres).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, select

from bot.http import HttpServer, SlackGate
from bot.service import Service
from bot.settings import Settings
from bot.slack_app import create_app
from bot.slack_install import slack_bots, slack_installations
from store import Store
from store.store import normalize_url
from tests.bot.test_slack_app import SECRET, TrackedPool, hub_resolver
from tests.fakehub import FakeHub
from tests.mockslack import MockSlack, SlackSender
from tests.store.conftest import db_url, pg_schema_url  # noqa: F401  (fixtures: SQLite and Postgres)

# Real servers and peers on 127.0.0.1 (seconds per test): outside the fast subset.
pytestmark = pytest.mark.slow

NEW_TEAM = "T0002"
NEW_TOKEN = "xoxb-2-installed-through-oauth"


@dataclass
class Installed:
    slack: MockSlack
    store: Store
    pool: TrackedPool
    base: str
    key: str
    db: str

    def get(self, path: str, cookie: str | None = None) -> tuple[int, Any, str]:
        req = urllib.request.Request(self.base + path, headers={"Cookie": cookie} if cookie else {})
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(req, timeout=30) as resp:
                return resp.status, resp.headers, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.headers, err.read().decode()

    def sender(self, team: str) -> SlackSender:
        return SlackSender(f"{self.base}/slack/events", SECRET, self.slack, team=team)

    def rows(self, table: Any) -> list[Any]:
        engine = create_engine(normalize_url(self.db))
        try:
            with engine.connect() as conn:
                return list(conn.execute(select(table)).mappings())
        finally:
            engine.dispose()


def eventually(check: Any, timeout: float = 10.0) -> None:
    """Wait until ``check()`` is true: the work after an ack is submitted after the HTTP answer."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the work after the ack did not happen")
        time.sleep(0.02)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@pytest.fixture
def installed(db_url: str, fake_hub: FakeHub) -> Iterator[Installed]:  # noqa: F811
    slack = MockSlack().start()
    store = Store(db_url, backoff_s=0.01)
    store.upgrade()
    key = Fernet.generate_key().decode()
    settings = Settings(
        slack_client_id=slack.client_id,
        slack_client_secret=slack.client_secret,
        slack_token_key=key,
        slack_signing_secret=SECRET,
        slack_api_url=slack.api_url,
        slack_install_url=f"{slack.base}/oauth/v2/authorize",
        database_url=db_url,
        workers=4,
    )
    pool = TrackedPool(4)
    app = create_app(settings, Service(store=store, resolver=hub_resolver(fake_hub.url)), events=store, work=pool)
    # What `vram serve` runs: waitress, the gate, Bolt's install page and redirect behind it.
    server = HttpServer(SlackGate(app, signing_secret=SECRET), host="127.0.0.1", port=0).start()
    try:
        yield Installed(slack, store, pool, f"http://127.0.0.1:{server.port}", key, db_url)
    finally:
        server.close()
        pool.wait_idle(30)
        store.close()
        slack.stop()


def _grant(team: str, token: str, **extra: Any) -> dict[str, Any]:
    """What oauth.v2.access answers for a bot install (Slack's documented shape)."""
    return {
        "access_token": token,
        "token_type": "bot",
        "app_id": "A0001",
        "bot_user_id": "UVRAMBOT2",
        "scope": "commands,chat:write",
        "team": {"id": team, "name": "Other team"},
        "enterprise": None,
        "authed_user": {"id": "U0009"},
        "is_enterprise_install": False,
        **extra,
    }


def _install(inst: Installed, code: str) -> tuple[int, str]:
    status, headers, page = inst.get("/slack/install")
    assert status == 200
    # The page links to Slack's authorize URL with our client id, scopes and a one-time state.
    link = page[page.index(inst.slack.base + "/oauth/v2/authorize") :].split('"')[0].replace("&amp;", "&")
    query = parse_qs(urlparse(link).query)
    assert query["client_id"] == [inst.slack.client_id]
    assert "commands" in query["scope"][0].split(",") and "links:write" in query["scope"][0].split(",")
    [state] = query["state"]
    cookie = headers.get("Set-Cookie", "").split(";")[0]
    status, _headers, page = inst.get(f"/slack/oauth_redirect?code={code}&state={state}", cookie=cookie)
    return status, page


def test_install_then_use_then_uninstall(installed: Installed) -> None:
    inst = installed
    inst.slack.oauth_codes["code-1"] = _grant(NEW_TEAM, NEW_TOKEN)
    status, _page = _install(inst, "code-1")
    assert status == 200
    [exchange] = inst.slack.of("oauth.v2.access")
    assert exchange.args["code"] == "code-1"
    # Stored, with the token encrypted at rest (and decrypting with the key from the settings).
    [bot_row] = inst.rows(slack_bots)
    assert bot_row["team_id"] == NEW_TEAM and bot_row["bot_token"] != NEW_TOKEN
    assert NEW_TOKEN not in str(inst.rows(slack_installations))
    assert Fernet(inst.key.encode()).decrypt(bot_row["bot_token"].encode()).decode() == NEW_TOKEN
    # A workspace that never installed the app gets nothing (Bolt finds no installation for it); the new
    # workspace's command is answered with that workspace's token.
    assert inst.sender("T0404").command("Qwen/Qwen3-0.6B").status == 200
    send = inst.sender(NEW_TEAM)
    assert send.command("Qwen/Qwen3-0.6B s=4k").status == 200
    [post] = inst.slack.wait_for("chat.postMessage")
    assert post.token == NEW_TOKEN
    inst.pool.drain()
    assert len(inst.slack.of("chat.postMessage")) == 1
    theirs = inst.store.own_queries(platform="slack", workspace=NEW_TEAM, user="U0001")
    assert [r.conversation.workspace for r in theirs] == [NEW_TEAM]
    assert inst.store.own_queries(platform="slack", workspace="T0404", user="U0001") == []
    # Uninstalled: the installation and the workspace's history are deleted.
    send.event({"type": "app_uninstalled"})
    eventually(lambda: inst.rows(slack_bots) == [])
    inst.pool.drain()
    assert inst.rows(slack_installations) == []
    assert inst.store.own_queries(platform="slack", workspace=NEW_TEAM, user="U0001") == []
    assert send.command("Qwen/Qwen3-0.6B").status == 200  # Bolt finds no installation: no listener runs
    inst.pool.drain()
    assert len(inst.slack.of("chat.postMessage")) == 1


def test_a_click_a_form_and_a_hub_link_in_an_installed_workspace(installed: Installed) -> None:
    """The interactive features answer in the workspace that installed the app, with its own token."""
    inst = installed
    inst.slack.oauth_codes["code-1"] = _grant(NEW_TEAM, NEW_TOKEN)
    assert _install(inst, "code-1")[0] == 200
    send = inst.sender(NEW_TEAM)
    # A click on a what-if button: answered in the answer's thread.
    send.command("Qwen/Qwen3-0.6B s=4k")
    [post] = inst.slack.wait_for("chat.postMessage")
    [actions] = [b for b in post.args["blocks"] if b["type"] == "actions"]
    [button] = [el for el in actions["elements"] if el["type"] == "button" and '"b=2"' in el["value"]]
    ts = "1700000000.000001"  # the mock's first ts
    click = {"type": "button", "action_id": button["action_id"], "block_id": "b", "value": button["value"]}
    assert send.click({"ts": ts, "blocks": post.args["blocks"]}, click).status == 200
    [_, reply] = inst.slack.wait_for("chat.postMessage", 2)
    assert reply.token == NEW_TOKEN and reply.args["thread_ts"] == ts
    # Qwen3-0.6B: 2 x 28 layers x 8 KV heads x 128 x 2 bytes = 114,688 B = 112 KiB per token, now for 2
    assert "112 KiB per token x 4,096 tokens x 2 sequences" in json.dumps(reply.args["blocks"])
    # The form: opened with the workspace's token, its answer posted in the channel it was opened from.
    send.command("")
    [opened] = inst.slack.wait_for("views.open")
    assert opened.token == NEW_TOKEN
    view = opened.args["view"]
    values = {
        "model": {
            "model": {"selected_option": {"text": {"type": "plain_text", "text": "m"}, "value": "Qwen/Qwen3-0.6B"}}
        },
        "s": {"s": {"type": "plain_text_input", "value": "8k"}},
    }
    submitted = send.interactive(
        {
            "type": "view_submission",
            "user": {"id": "U0001", "team_id": NEW_TEAM},
            "view": {**view, "id": "V0002", "state": {"values": values}},
        }
    )
    assert submitted.status == 200 and submitted.body == ""
    [*_, answer] = inst.slack.wait_for("chat.postMessage", 3)
    assert answer.token == NEW_TOKEN and answer.args["channel"] == "C0001" and "thread_ts" not in answer.args
    assert "112 KiB per token x 8,192 tokens x 1 sequence" in json.dumps(answer.args["blocks"])
    # A pasted Hub link: unfurled with the workspace's token.
    url = "https://huggingface.co/Qwen/Qwen3-0.6B"
    event = {
        "type": "link_shared",
        "channel": "C0001",
        "user": "U0001",
        "message_ts": "1800000000.000300",
        "links": [{"domain": "huggingface.co", "url": url}],
    }
    assert send.event(event).status == 200
    [unfurl] = inst.slack.wait_for("chat.unfurl")
    assert unfurl.token == NEW_TOKEN and list(unfurl.args["unfurls"]) == [url]
    # 114,688 B per token x 1,024 tokens = 117,440,512 B = 112 MiB
    assert "KV cache 112 MiB per 1k tokens" in json.dumps(unfurl.args["unfurls"][url]["blocks"])
    inst.pool.drain()
    mine = inst.store.own_queries(platform="slack", workspace=NEW_TEAM, user="U0001")
    assert len(mine) == 3 and {r.conversation.workspace for r in mine} == {NEW_TEAM}  # answer, click, form


def test_a_rate_limited_answer_is_retried_with_the_workspace_token(installed: Installed) -> None:
    """The retry runs later on a timer, outside the job that knew the workspace: it still posts with that
    workspace's token (and the mock's 429 is honoured once)."""
    inst = installed
    inst.slack.oauth_codes["code-5"] = _grant(NEW_TEAM, NEW_TOKEN)
    assert _install(inst, "code-5")[0] == 200
    inst.slack.rate_limit["chat.postMessage"] = 1
    assert inst.sender(NEW_TEAM).command("Qwen/Qwen3-0.6B s=4k").status == 200
    [posted] = inst.slack.wait_for("chat.postMessage")
    [refused] = inst.slack.of("chat.postMessage", failed=True)
    assert refused.status == 429
    assert refused.token == posted.token == NEW_TOKEN


def test_a_forged_state_installs_nothing(installed: Installed) -> None:
    inst = installed
    inst.slack.oauth_codes["code-2"] = _grant(NEW_TEAM, NEW_TOKEN)
    _status, headers, _page = inst.get("/slack/install")
    cookie = headers.get("Set-Cookie", "").split(";")[0]
    status, _h, _p = inst.get("/slack/oauth_redirect?code=code-2&state=not-the-state", cookie=cookie)
    assert status >= 400
    assert inst.slack.of("oauth.v2.access") == []  # the code was never exchanged
    assert inst.rows(slack_bots) == []


def test_rotating_tokens_are_refreshed_before_use(installed: Installed) -> None:
    inst = installed
    # Token rotation on: the install hands out a token that expires in a minute, and a refresh token.
    inst.slack.oauth_codes["code-3"] = _grant(
        NEW_TEAM, "xoxe.xoxb-first", refresh_token="xoxe-1-refresh", expires_in=60
    )
    inst.slack.refresh_grants["xoxe-1-refresh"] = {
        "access_token": "xoxe.xoxb-rotated",
        "refresh_token": "xoxe-1-refresh-2",
        "token_type": "bot",
        "expires_in": 43200,
        "team": {"id": NEW_TEAM},
        "enterprise": None,
        "is_enterprise_install": False,
    }
    assert _install(inst, "code-3")[0] == 200
    [bot_row] = inst.rows(slack_bots)
    assert "xoxe-1-refresh" not in str(bot_row)  # the refresh token is encrypted too
    inst.sender(NEW_TEAM).command("Qwen/Qwen3-0.6B s=4k")
    [post] = inst.slack.wait_for("chat.postMessage")
    assert post.token == "xoxe.xoxb-rotated"
    refreshed = [c for c in inst.slack.of("oauth.v2.access") if c.args.get("grant_type") == "refresh_token"]
    assert len(refreshed) == 1  # once: the new token is stored and used from then on


def test_revoked_bot_token_is_forgotten(installed: Installed) -> None:
    inst = installed
    inst.slack.oauth_codes["code-4"] = _grant(NEW_TEAM, NEW_TOKEN)
    assert _install(inst, "code-4")[0] == 200
    inst.sender(NEW_TEAM).event({"type": "tokens_revoked", "tokens": {"bot": ["UVRAMBOT2"]}})
    eventually(lambda: inst.rows(slack_bots) == [])


def test_serve_settings_for_installs_in_any_workspace() -> None:
    from bot.serve import check_settings
    from common.errors import VramError

    key = Fernet.generate_key().decode()
    check_settings(
        Settings(slack_client_id="1.2", slack_client_secret="s", slack_token_key=key, slack_signing_secret=SECRET)
    )
    with pytest.raises(VramError, match="SLACK_TOKEN_KEY not set"):
        check_settings(Settings(slack_client_id="1.2", slack_client_secret="s", slack_signing_secret=SECRET))
    with pytest.raises(VramError, match="needs HTTP mode"):
        check_settings(
            Settings(slack_client_id="1.2", slack_client_secret="s", slack_token_key=key, slack_app_token="xapp-1")
        )
    with pytest.raises(VramError, match="SLACK_BOT_TOKEN is not set"):
        check_settings(Settings(slack_signing_secret=SECRET))
