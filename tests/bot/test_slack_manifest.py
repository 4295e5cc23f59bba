"""manifest.yml asks for exactly the scopes and events the app uses, at the paths it serves."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.serve import EVENTS_PATH
from bot.slack_app import COMMAND

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"

# Each event the bot subscribes to, and the bot scope Slack requires for it.
EVENT_SCOPE = {
    "app_mention": "app_mentions:read",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "message.im": "im:history",
    "app_home_opened": None,  # needs no scope
}


def load() -> dict:
    return yaml.safe_load(MANIFEST.read_text())


def test_scopes_are_exactly_what_the_features_need() -> None:
    m = load()
    scopes = set(m["oauth_config"]["scopes"]["bot"])
    events = set(m["settings"]["event_subscriptions"]["bot_events"])
    assert events == set(EVENT_SCOPE)
    needed = {s for s in EVENT_SCOPE.values() if s} | {"commands", "chat:write"}
    assert scopes == needed
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
    assert m["settings"]["interactivity"]["is_enabled"] is False  # no buttons: nothing to receive
