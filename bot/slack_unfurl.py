"""Hub links in a channel with the bot: a compact preview (``chat.unfurl``).

Parameters and weights, KV cache per 1k tokens, and which catalog GPUs hold the model at an 8k
context (one sequence, transformers), with a button that opens the sizing form for it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot import blocks, report
from bot.report import gib, params, per_token
from bot.slack_form import OPEN_ACTION
from common.errors import VramError
from estimator.engines import get_engine
from estimator.gpus import catalog
from estimator.query import Query
from estimator.result import Estimate

if TYPE_CHECKING:
    from slack_bolt import App
    from slack_sdk.web import WebClient

    from bot.slack_app import _Bot

log = logging.getLogger(__name__)

UNFURL_DOMAIN = "huggingface.co"
PREVIEW_SEQ_LEN = 8 * 1024
MAX_LINKS = 5  # Slack sends at most a few links per message; more is not worth the Hub's time
# huggingface.co/<org>/<name>[/tree/<rev>][/...]: not the site's own pages (docs, spaces, datasets...)
_MODEL_LINK = re.compile(r"^https?://(?:www\.)?huggingface\.co/([\w.-]+)/([\w.-]+)(?:/tree/([\w.-]+))?(?:[/?#].*)?$")
_NOT_ORGS = frozenset(
    {
        "datasets",
        "spaces",
        "docs",
        "blog",
        "papers",
        "collections",
        "organizations",
        "models",
        "settings",
        "join",
        "login",
        "pricing",
        "learn",
        "tasks",
        "api",
        "posts",
        "chat",
    }
)

Submit = Callable[..., None]


# How many of the GPUs that hold it a preview names (the smallest first).
_LISTED = 6


def model_of(url: str) -> tuple[str, str | None] | None:
    """The model id (and branch or commit) a Hub link points at; None for other pages."""
    m = _MODEL_LINK.match(url)
    if m is None or m.group(1).lower() in _NOT_ORGS:
        return None
    return f"{m.group(1)}/{m.group(2)}", m.group(3)


def unfurl_blocks(est: Estimate) -> list[dict[str, Any]]:
    """The preview: what the model is, its KV per 1k tokens, the GPUs that hold it at 8k, a button."""
    d = est.details
    name = blocks.escape(est.model + (f"@{est.revision[:7]}" if est.revision else ""))
    first = (
        f"*{name}*\n{params(est.params_total)} parameters · weights {gib(est.memory.weights)} "
        f"({blocks.escape(d.weight_format)})"
    )
    if d.kv_dtype is None:
        kv = "No KV cache"
    else:
        kv = f"KV cache {per_token(d.kv_bytes_per_token * 1024)} per 1k tokens ({blocks.escape(d.kv_dtype)})"
    total = est.memory.total
    # Which sizing this is: the engine and the attention it runs (eager attention's scores can be
    # most of a total, and another engine's figure differs).
    sized = f"{get_engine(est.query.engine).label}, {report.attention(est)}"
    holding = sorted((g for g in catalog() if g.memory_bytes >= total), key=lambda g: g.memory_bytes)
    if holding:
        gpus = ", ".join(f"`{blocks.escape(g.key)}`" for g in holding[:_LISTED])
        more = f" and {len(holding) - _LISTED} more" if len(holding) > _LISTED else ""
        fit = f"At 8k context, b=1 ({sized}): {gib(total)}; the smallest GPUs that hold it: {gpus}{more}"
    else:
        fit = f"At 8k context, b=1 ({sized}): {gib(total)}; no single GPU I know holds it"
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": blocks._truncate(f"{first}\n{kv}\n{fit}")}},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": OPEN_ACTION,
                    "value": est.model[:2000],
                    "text": {"type": "plain_text", "text": "Size it in full", "emoji": True},
                }
            ],
        },
    ]


class Unfurls:
    def __init__(self, bot: _Bot) -> None:
        self.bot = bot

    def unfurl(self, team: str | None, event: dict[str, Any], client: WebClient) -> None:
        channel, ts = event.get("channel"), event.get("message_ts")
        key = f"unfurl:{team}:{channel or event.get('unfurl_id')}:{ts}"
        if not self.bot._claim(key):
            return
        unfurls: dict[str, Any] = {}
        for link in (event.get("links") or [])[:MAX_LINKS]:
            url = str(link.get("url") or "")
            target = model_of(url)
            if target is None:
                continue
            model, revision = target
            query = Query(model=model, revision=revision, seq_len=PREVIEW_SEQ_LEN)
            try:
                est = self.bot.service.preview(query)
            except VramError as err:  # a private, gated or missing repo: no preview, not an error message
                log.info("no preview for %s: %s", url, err)
                continue
            unfurls[url] = {"blocks": unfurl_blocks(est)}
        if not unfurls:
            return
        if channel and ts:
            client.chat_unfurl(channel=channel, ts=ts, unfurls=unfurls)
        else:  # a link typed in the composer: Slack names it by unfurl id
            client.chat_unfurl(unfurl_id=event.get("unfurl_id"), source=event.get("source"), unfurls=unfurls)


def register(app: App, bot: _Bot, submit: Submit) -> None:
    unfurls = Unfurls(bot)

    @app.event("link_shared")
    def on_link(ack: Callable[..., None], event: dict[str, Any], body: dict[str, Any], client: WebClient) -> None:
        ack()
        if any(model_of(str(link.get("url") or "")) for link in event.get("links") or []):
            submit(unfurls.unfurl, body.get("team_id"), event, client)
