"""Slack's interactive features in one call: what-if buttons and menu, the sizing form, Hub unfurls."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bot import slack_actions, slack_form, slack_unfurl

if TYPE_CHECKING:
    from slack_bolt import App

    from bot.slack_app import _Bot


def register(app: App, bot: _Bot, submit: Callable[..., None]) -> None:
    """Add the listeners; call before the command's and the catch-all event listeners (first match wins).

    The form's model suggestions go through ``bot.search``, the Hub search (and its store-backed cache)
    that reads model names in plain words."""
    slack_form.register(app, bot, submit)
    slack_actions.register(app, bot, submit)
    slack_unfurl.register(app, bot, submit)
