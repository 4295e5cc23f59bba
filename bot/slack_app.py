"""The Slack app: thin Bolt glue between Slack's protocol and :class:`bot.service.Service`.

Every listener acknowledges first and hands the work to a bounded pool, so Slack gets its
answer well inside 3 seconds however slow the Hub is. Retried and duplicated events are
claimed in the database before anything is posted, so no message is answered twice.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any, NamedTuple, Protocol

from slack_bolt import App, BoltResponse
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.web import WebClient

from bot import blocks, slack_native
from bot.blocks import Message
from bot.service import (
    CompareReply,
    ErrorReply,
    EstimateReply,
    GpusReply,
    HelpReply,
    HistoryReply,
    Outcome,
    Reply,
    Service,
    ShowReply,
    Who,
)
from bot.settings import Settings
from estimator.errors import VramError
from store.errors import StoreError

log = logging.getLogger(__name__)

COMMAND = "/vram"
# Slack's error codes for "this bot cannot post there": answer privately instead, with the invite hint.
CANNOT_POST = frozenset({"not_in_channel", "channel_not_found", "is_archived", "restricted_action",
                         "cannot_dm_bot", "messages_tab_disabled"})
# Slack Web API error code -> the one sentence a user sees.
SLACK_ERRORS = {
    "not_in_channel": "I'm not in this channel: invite me with `/invite @vram` and ask again.",
    "channel_not_found": "I can't see this conversation: invite me with `/invite @vram` and ask again.",
    "is_archived": "This channel is archived, so I can't post in it.",
    "msg_too_long": "The answer was too long for one Slack message.",
    "ratelimited": "Slack is rate-limiting me right now: try again in a minute.",
    "invalid_auth": "My Slack token is not valid: an admin needs to reinstall the app.",
    "not_authed": "My Slack token is missing: an admin needs to set SLACK_BOT_TOKEN.",
    "account_inactive": "My Slack token was revoked: an admin needs to reinstall the app.",
    "token_revoked": "My Slack token was revoked: an admin needs to reinstall the app.",
    "missing_scope": "The Slack app lacks a permission it needs: reinstall it from manifest.yml.",
    "restricted_action": "This workspace does not let me post here.",
    "expired_url": "This command's reply link expired: run it again.",
}
THREAD_HOWTO = ("Reply here with what to change, e.g. `s=32k`, `b=8 kv=fp8` or `gpu=a100-40gb` "
                "(`/vram help` lists every key).")
INTERNAL_ERROR = "Something went wrong on my side while answering; it is logged, please try again."
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
_LINK = re.compile(r"<((?:https?://|mailto:)[^<>|]+)(?:\|([^<>]*))?>")  # <!channel> & co. are left as typed
_HUB_LINK = re.compile(r"https?://(?:www\.)?huggingface\.co/([\w.-]+/[\w.-]+)(?:/tree/([\w.-]+))?/?(?:[?#].*)?$")


class _NoUnusedTokenNotice(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN itself and warns that it goes unused next to our client, which was made
    with that very token (and with SLACK_API_URL and retries): a warning with nothing to act on."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


logging.getLogger("slack_bolt.App").addFilter(_NoUnusedTokenNotice())


class EventClaims(Protocol):
    """De-duplication of Slack deliveries (the history store's ``claim_event``)."""

    def claim_event(self, event_id: str) -> bool: ...


def slack_error_sentence(err: Exception) -> str:
    """One friendly sentence for a failed Slack call."""
    if isinstance(err, SlackApiError):
        code = str(err.response.get("error", "")) if err.response is not None else ""
        return SLACK_ERRORS.get(code, f"Slack refused the answer ({code or 'unknown error'}).")
    return "I could not reach Slack to post the answer: try again in a minute."


def _slack_code(err: SlackApiError) -> str:
    return str(err.response.get("error", "")) if err.response is not None else ""


def strip_mentions(text: str) -> str:
    """Drop ``<@U123>`` mentions (``@vram s=32k`` -> ``s=32k``)."""
    return _MENTION.sub(" ", text).strip()


def _link_text(match: re.Match[str]) -> str:
    target, label = match.group(1), match.group(2)
    hub = _HUB_LINK.match(target)
    if hub:  # a pasted Hub page: the model id (and the branch or commit of a /tree/ link)
        return hub.group(1) + (f"@{hub.group(2)}" if hub.group(2) else "")
    return label or target


def from_slack(text: str) -> str:
    """What the user typed, from Slack's encoding of it.

    Slack sends ``&``, ``<`` and ``>`` as ``&amp;``, ``&lt;``, ``&gt;`` and wraps links, channels and
    mentions in ``<...>``: mentions go, a link becomes the text the user saw (a Hub page its model id),
    and the entities are decoded, so the text is stored, parsed and shown back (escaped once) as typed.
    """
    text = _LINK.sub(_link_text, strip_mentions(text))
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()


class Answer(NamedTuple):
    """How to show one reply: the message, and whether the conversation sees it or only the asker."""

    message: Message
    public: bool = False  # estimates and comparisons are posted; everything else is private
    record_id: int | None = None  # the stored query an estimate came from (threads follow it)
    private: Message | None = None  # the same answer for the asker alone (no "reply in this thread")


def render(reply: Reply, asker: str | None = None) -> Answer:
    """The Slack message for any reply of the service (the slash command, ``@vram`` and DMs share it).

    ``asker`` (a Slack user id) is named on public answers with what they typed."""
    if isinstance(reply, EstimateReply):
        out = reply.outcome
        if out.estimate is None:
            return Answer(blocks.error_message(out.error or INTERNAL_ERROR))
        asked = (asker, out.text) if asker else None
        return Answer(
            blocks.estimate_message(out.estimate, record_id=out.record_id, note=out.note, asked=asked),
            public=True, record_id=out.record_id,
            private=blocks.estimate_message(out.estimate, record_id=out.record_id, note=out.note, hint=False,
                                            private=True),
        )
    if isinstance(reply, CompareReply):
        failed = [o for o in (reply.a, reply.b) if o.estimate is None]
        if failed:
            return Answer(blocks.error_message("; ".join(o.error or INTERNAL_ERROR for o in failed)))
        assert reply.a.estimate is not None and reply.b.estimate is not None
        return Answer(blocks.compare_message(reply.a.estimate, reply.b.estimate,
                                             record_ids=(reply.a.record_id, reply.b.record_id),
                                             asked=(asker, reply.a.text) if asker else None), public=True)
    if isinstance(reply, HistoryReply):
        return Answer(blocks.history_message(reply.records, model=reply.model, mine=reply.mine))
    if isinstance(reply, ShowReply):
        if reply.estimate is not None:
            return Answer(blocks.estimate_message(reply.estimate, record_id=reply.record.id, hint=False))
        return Answer(blocks.error_message(
            f"#{reply.record.id} `{reply.record.text}` failed: {reply.record.error or 'no result'}"
        ))
    if isinstance(reply, GpusReply):
        return Answer(blocks.gpus_message(reply.gpus))
    if isinstance(reply, HelpReply):
        return Answer(blocks.help_message())
    if isinstance(reply, ErrorReply):
        return Answer(blocks.error_message(reply.message))
    raise AssertionError(f"unhandled reply {reply!r}")  # pragma: no cover - the Reply union is closed


def create_app(
    settings: Settings,
    service: Service,
    *,
    events: EventClaims,
    work_pool: Executor | None = None,
    token_verification: bool = True,
) -> App:
    """The Bolt app with every listener of the ``/vram`` bot.

    ``events`` claims message ids (the store); ``work_pool`` runs estimates after the ack
    (default: ``settings.workers`` threads); ``token_verification`` calls ``auth.test`` once now.
    """
    oauth = None
    if settings.slack_bot_token is None and settings.slack_client_id:  # installs in any workspace (OAuth)
        from bot.slack_oauth import OAuth

        oauth = OAuth(settings)
    if settings.slack_bot_token is None and oauth is None:
        raise VramError("SLACK_BOT_TOKEN is not set: copy the Bot User OAuth Token from the Slack app settings")
    if settings.slack_signing_secret is None and settings.slack_app_token is None:
        raise VramError("SLACK_SIGNING_SECRET is not set: copy it from the Slack app's Basic Information page")
    client: Any = oauth.teams.client if oauth else WebClient(
        token=settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None,
        base_url=settings.slack_api_url, timeout=15,
    )
    # A burst of answers can meet Slack's rate limit: wait as told (Retry-After) and try again.
    if oauth is None:
        client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=2))
    pool = work_pool or ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="vram-work")
    app = App(
        name="vram",
        client=WebClient(base_url=settings.slack_api_url, timeout=15) if oauth else client,
        oauth_settings=oauth.settings if oauth else None,
        signing_secret=(
            settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
        ),
        token_verification_enabled=token_verification and oauth is None,
        # Listener functions only ack and enqueue: a few threads keep up with any burst.
        listener_executor=ThreadPoolExecutor(max_workers=8, thread_name_prefix="vram-ack"),
    )
    bot = _Bot(service=service, client=client, events=events)

    def submit(fn: Callable[..., None], *args: Any, on_error: Callable[[str], None] | None = None) -> None:
        pool.submit(bot.guard, fn, *args, on_error=on_error)

    slack_native.register(app, bot, submit, settings)  # buttons, the form, unfurls (before the catch-alls)
    if oauth is not None:  # every workspace's own token; uninstalls and revoked tokens
        oauth.register(app, bot, submit)

    @app.command(COMMAND)
    def on_command(ack: Callable[..., None], body: dict[str, Any], respond: Any) -> None:
        ack()
        submit(bot.command, body, respond, on_error=lambda msg: bot.respond_error(respond, msg))

    @app.event("message")
    def on_message(ack: Callable[..., None], event: dict[str, Any], body: dict[str, Any]) -> None:
        ack()
        if bot.is_direct_question(event):
            submit(bot.ask, body.get("team_id"), event, on_error=bot.tell_in_thread(event))
        elif bot.is_thread_change(event):
            submit(bot.thread_reply, body.get("team_id"), event, on_error=bot.tell_in_thread(event))

    @app.event("app_mention")
    def on_mention(ack: Callable[..., None], event: dict[str, Any], body: dict[str, Any]) -> None:
        ack()
        if not bot.from_a_bot(event):
            submit(bot.mention, body.get("team_id"), event, on_error=bot.tell_in_thread(event))

    @app.event("app_home_opened")
    def on_home(ack: Callable[..., None], event: dict[str, Any], body: dict[str, Any]) -> None:
        ack()
        if event.get("tab", "home") == "home" and event.get("user"):
            submit(bot.home, body.get("team_id"), event["user"])

    # Every other event is acknowledged (Slack would retry and finally disable a 404ing app).
    @app.event(re.compile(".*"))
    def on_other(ack: Callable[..., None]) -> None:
        ack()

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
        # Listener failures before the ack: log with the traceback, answer 200 so Slack does not retry.
        log.exception("Slack listener failed on %s", body.get("type") or body.get("command"), exc_info=error)
        return BoltResponse(status=200, body="")

    return app


class _Bot:
    """What the listeners do after the ack (runs in the work pool)."""

    def __init__(self, *, service: Service, client: WebClient, events: EventClaims) -> None:
        self.service = service
        self.client = client
        self.events = events

    # -- the one error handler for work after the ack --------------------------------------------
    def guard(self, fn: Callable[..., None], *args: Any, on_error: Callable[[str], None] | None) -> None:
        try:
            fn(*args)
        except SlackClientError as err:
            log.warning("Slack call failed in %s: %s", fn.__name__, err)
            self._tell(on_error, slack_error_sentence(err))
        except (VramError, StoreError) as err:  # both carry the one sentence for the user
            self._tell(on_error, str(err))
        except Exception:
            log.exception("unexpected failure in %s", fn.__name__)
            self._tell(on_error, INTERNAL_ERROR)

    def _claim(self, key: str) -> bool:
        """True the first time a message is seen. With the database down, answer anyway: a retry might
        then be answered twice, which beats never answering (the slash command answers too)."""
        try:
            return self.events.claim_event(key)
        except StoreError as err:
            log.warning("could not record %s as handled (%s): answering anyway", key, err)
            return True

    @staticmethod
    def _tell(on_error: Callable[[str], None] | None, sentence: str) -> None:
        if on_error is None:
            return
        try:
            on_error(sentence)
        except Exception:  # the user cannot be told either: the log is all we have
            log.exception("could not report an error to the user")

    # -- filters (cheap: they run before the ack returns) -------------------------------------------
    @staticmethod
    def from_a_bot(event: dict[str, Any]) -> bool:
        return bool(event.get("bot_id")) or event.get("subtype") == "bot_message" or bool(
            event.get("bot_profile")
        )

    def is_direct_question(self, event: dict[str, Any]) -> bool:
        """A human's top-level message in the bot's own DM (the app's Messages tab)."""
        if event.get("channel_type") != "im" or self.from_a_bot(event) or event.get("subtype") is not None:
            return False
        thread_ts = event.get("thread_ts")
        return (not thread_ts or thread_ts == event.get("ts")) and bool((event.get("text") or "").strip())

    def is_thread_change(self, event: dict[str, Any]) -> bool:
        """A human's reply in a thread that might change something (has ``key=value``)."""
        # Edits, joins, deletions... are not questions; a reply also sent to the channel is.
        if self.from_a_bot(event) or event.get("subtype") not in (None, "thread_broadcast"):
            return False
        thread_ts = event.get("thread_ts")
        if not thread_ts or thread_ts == event.get("ts"):
            return False
        return "=" in (event.get("text") or "")

    # -- slash command ------------------------------------------------------------------------------
    def command(self, body: dict[str, Any], respond: Any) -> None:
        who = Who(
            source="slack", team=body.get("team_id"), channel=body.get("channel_id"), user=body.get("user_id"),
            is_dm=body.get("channel_name") == "directmessage",
        )
        reply = self.service.run(from_slack(body.get("text") or ""), who)
        # A DM or group DM between people (never one with the bot: it can post there).
        between_people = who.is_dm or str(body.get("channel_name") or "").startswith("mpdm-")
        answer = render(reply, asker=who.user)
        if answer.public:
            self._post_or_respond(who, answer, respond, hint=blocks.DM_HINT if between_people else blocks.INVITE_HINT)
        else:
            self._respond(respond, answer.message)

    def _post_or_respond(self, who: Who, answer: Answer, respond: Any, *, hint: str) -> None:
        """Post in the channel; where the bot cannot, answer privately and say how to invite it."""
        assert who.channel is not None
        try:
            resp = self.client.chat_postMessage(
                channel=who.channel, unfurl_links=False, unfurl_media=False, **answer.message.kwargs()
            )
        except SlackApiError as err:
            if _slack_code(err) not in CANNOT_POST:
                raise
            log.info("cannot post in %s (%s): answering privately", who.channel, _slack_code(err))
            # The private copy has no thread to reply in: no "reply in this thread" hint, the invite instead
            # (or, where inviting would not help, why only the asker sees it).
            if _slack_code(err) in ("restricted_action", "is_archived"):
                hint = blocks.RESTRICTED_HINT
            msg = answer.private or answer.message
            private = Message(blocks=(*msg.blocks, blocks._context(hint)), text=msg.text + "\n" + hint)
            self._respond(respond, private)
            return
        if answer.record_id is not None:
            self.service.set_posted(answer.record_id, channel=resp["channel"], ts=resp["ts"], thread_ts=None)

    @staticmethod
    def _respond(respond: Any, msg: Message) -> None:
        respond(response_type="ephemeral", replace_original=False, **msg.kwargs())

    def respond_error(self, respond: Any, sentence: str) -> None:
        self._respond(respond, blocks.error_message(sentence))

    # -- threads ------------------------------------------------------------------------------------
    def thread_reply(self, team: str | None, event: dict[str, Any]) -> None:
        """A reply in a vram thread: re-estimate the thread's latest estimate with the changes."""
        channel, thread_ts, ts = event.get("channel"), event.get("thread_ts"), event.get("ts")
        if not channel or not thread_ts or not ts:
            return
        base = self.service.latest_in_thread(team=team, channel=channel, thread_ts=thread_ts)
        if base is None:  # not a thread we answered in
            return
        # One claim per message: Slack's retries repeat the event id, and a reply that mentions the
        # bot arrives twice (message + app_mention, two event ids) - the message is the same.
        if not self._claim(f"msg:{team}:{channel}:{ts}"):
            return
        who = Who(source="slack", team=team, channel=channel, user=event.get("user"),
                  is_dm=event.get("channel_type") == "im")
        outcome = self.service.what_if(base=base, text=from_slack(event.get("text") or ""), who=who)
        if outcome is None:
            return
        self._answer_in_thread(outcome, channel=channel, thread_ts=thread_ts, user=event.get("user"))

    def _answer_in_thread(self, out: Outcome, *, channel: str, thread_ts: str, user: str | None) -> None:
        if out.estimate is None:
            self._thread_error(out.error or INTERNAL_ERROR, channel=channel, thread_ts=thread_ts, user=user)
            return
        if out.base is not None:
            msg = blocks.what_if_message(out.estimate, out.base, out.changes, record_id=out.record_id,
                                         note=out.note)
        else:
            msg = blocks.estimate_message(out.estimate, record_id=out.record_id, note=out.note, hint=False)
        resp = self.client.chat_postMessage(
            channel=channel, thread_ts=thread_ts, unfurl_links=False, unfurl_media=False, **msg.kwargs()
        )
        if out.record_id is not None:
            self.service.set_posted(out.record_id, channel=resp["channel"], ts=resp["ts"], thread_ts=thread_ts)

    def tell_in_thread(self, event: dict[str, Any]) -> Callable[[str], None]:
        """How to tell the author of ``event`` that answering it failed (privately, in its thread)."""

        def tell(sentence: str) -> None:
            channel = event.get("channel")
            thread_ts = event.get("thread_ts") or event.get("ts")
            if channel and thread_ts:
                self._thread_error(sentence, channel=channel, thread_ts=thread_ts, user=event.get("user"))

        return tell

    def _thread_error(self, sentence: str, *, channel: str, thread_ts: str, user: str | None) -> None:
        msg = blocks.error_message(sentence)
        if user:  # only the one who typed it needs to see the mistake
            self.client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread_ts, **msg.kwargs())
        else:
            self.client.chat_postMessage(channel=channel, thread_ts=thread_ts, **msg.kwargs())

    # -- @vram and the bot's DM -------------------------------------------------------------------
    def mention(self, team: str | None, event: dict[str, Any]) -> None:
        """``@vram ...``: a change in one of our threads, else a question answered in a thread."""
        channel, ts = event.get("channel"), event.get("ts")
        if not channel or not ts:
            return
        thread_ts = event.get("thread_ts")
        if thread_ts and thread_ts != ts and self.service.latest_in_thread(
            team=team, channel=channel, thread_ts=thread_ts
        ) is not None:
            # Our thread: the message event for the same reply may be handled already (claimed).
            if self.is_thread_change(event):
                self.thread_reply(team, event)
            elif event.get("user") and self._claim(f"msg:{team}:{channel}:{ts}"):
                # Addressed to the bot but nothing to change: say how, to the asker only.
                self.client.chat_postEphemeral(channel=channel, user=event["user"], thread_ts=thread_ts,
                                               **blocks.notice_message(THREAD_HOWTO).kwargs())
            return
        self.ask(team, event)

    def ask(self, team: str | None, event: dict[str, Any]) -> None:
        """A question put to the bot: ``@vram <text>`` in a channel, or any message in its own DM."""
        channel, ts, user = event.get("channel"), event.get("ts"), event.get("user")
        if not channel or not ts:
            return
        # Slack's retries repeat the event; a mention also arrives as a message: one answer per message.
        if not self._claim(f"msg:{team}:{channel}:{ts}"):
            return
        dm = event.get("channel_type") == "im"
        # In a channel the answer goes in the thread it was asked in, or starts one under the question;
        # a DM is already a conversation with the bot, so the answer follows the question there.
        reply_ts = event.get("thread_ts") or (None if dm else ts)
        who = Who(source="slack", team=team, channel=channel, user=user, is_dm=dm)
        answer = render(self.service.run(from_slack(event.get("text") or ""), who), asker=user)
        if answer.public or dm:  # in the DM only the asker and the bot are there: no need to whisper
            resp = self.client.chat_postMessage(
                channel=channel, thread_ts=reply_ts, unfurl_links=False, unfurl_media=False,
                **answer.message.kwargs(),
            )
            if answer.record_id is not None:
                self.service.set_posted(answer.record_id, channel=resp["channel"], ts=resp["ts"], thread_ts=reply_ts)
        elif user:  # help, history, mistakes: only the asker needs to see them
            self.client.chat_postEphemeral(channel=channel, user=user, thread_ts=reply_ts, **answer.message.kwargs())

    # -- App Home -----------------------------------------------------------------------------------
    def home(self, team: str | None, user: str) -> None:
        """Publish the Home tab with the user's recent queries."""
        reply = self.service.own_history(Who(source="slack", team=team, channel=None, user=user))
        if isinstance(reply, HistoryReply):
            view = blocks.home_view(reply.records)
        else:  # the history could not be read: say so, rather than "no queries yet"
            view = blocks.home_view((), error=reply.message)
        self.client.views_publish(user_id=user, view=view)
