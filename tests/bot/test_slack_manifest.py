"""manifest.yml asks for exactly the scopes and events the app uses, at the paths it serves."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.serve import EVENTS_PATH
from bot.slack_app import COMMAND
from bot.slack_form import SHORTCUT_ID
from bot.slack_oauth import BOT_SCOPES, REDIRECT_PATH
from bot.slack_unfurl import UNFURL_DOMAIN

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"

# Each event the bot subscribes to, and the bot scope Slack requires for it.
EVENT_SCOPE = {
    "app_mention": "app_mentions:read",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "message.im": "im:history",
    "app_home_opened": None,  # needs no scope
    "link_shared": "links:read",
    "app_uninstalled": None,
    "tokens_revoked": None,
}


def load() -> dict:
    return yaml.safe_load(MANIFEST.read_text())


def test_scopes_are_exactly_what_the_features_need() -> None:
    m = load()
    scopes = set(m["oauth_config"]["scopes"]["bot"])
    events = set(m["settings"]["event_subscriptions"]["bot_events"])
    assert events == set(EVENT_SCOPE)
    # chat.unfurl needs links:write; the shortcut needs commands
    needed = {s for s in EVENT_SCOPE.values() if s} | {"commands", "chat:write", "links:write"}
    assert scopes == needed
    assert scopes == set(BOT_SCOPES)  # what the OAuth install asks for
    assert "user" not in m["oauth_config"]["scopes"]  # no user token


def test_command_and_urls_match_the_app() -> None:
    m = load()
    [cmd] = m["features"]["slash_commands"]
    assert cmd["command"] == COMMAND
    assert cmd["url"].endswith(EVENTS_PATH)
    assert m["settings"]["event_subscriptions"]["request_url"].endswith(EVENTS_PATH)
    assert m["features"]["app_home"]["home_tab_enabled"] is True
    # The bot answers what users type in its own DM: the Messages tab must be there and writable.
    assert m["features"]["app_home"]["messages_tab_enabled"] is True
    assert m["features"]["app_home"]["messages_tab_read_only_enabled"] is False
    # Buttons, menus, the form and its suggestions come to the same path as events (Bolt routes them).
    interactivity = m["settings"]["interactivity"]
    assert interactivity["is_enabled"] is True
    assert interactivity["request_url"].endswith(EVENTS_PATH)
    assert interactivity["message_menu_options_url"].endswith(EVENTS_PATH)
    [shortcut] = m["features"]["shortcuts"]
    assert shortcut["callback_id"] == SHORTCUT_ID and shortcut["type"] == "global"
    assert m["features"]["unfurl_domains"] == [UNFURL_DOMAIN]
    [redirect] = m["oauth_config"]["redirect_urls"]
    assert redirect.endswith(REDIRECT_PATH)
