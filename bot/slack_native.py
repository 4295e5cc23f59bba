"""Slack's interactive features in one call: what-if buttons and menu, the sizing form, Hub unfurls."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bot import slack_actions, slack_form, slack_unfurl
from bot.model_suggest import HubSuggestions, Suggests
from bot.settings import Settings

if TYPE_CHECKING:
    from slack_bolt import App

    from bot.slack_app import _Bot


def register(
    app: App, bot: _Bot, submit: Callable[..., None], settings: Settings, suggestions: Suggests | None = None
) -> None:
    """Add the listeners; call before the command's and the catch-all event listeners (first match wins)."""
    if suggestions is None:
        token = settings.hf_token.get_secret_value() if settings.hf_token else None
        suggestions = HubSuggestions(endpoint=settings.hf_endpoint, token=token)
    slack_form.register(app, bot, submit, suggestions)
    slack_actions.register(app, bot, submit)
    slack_unfurl.register(app, bot, submit)
