"""Clicks under an answer: the what-if buttons and the overflow menu (share, classic lines, delete).

A what-if click is answered exactly like the same change typed in the answer's thread: the same
stored parent, the same history record, and the same privacy (a private answer's what-if stays
private). The listeners only acknowledge and enqueue; the work runs in the app's pool.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot import ask, blocks
from bot.service import ShowReply, stored_estimate
from store.records import Conversation

if TYPE_CHECKING:
    from slack_bolt import App

    from bot.slack_app import _Bot

log = logging.getLogger(__name__)

Submit = Callable[..., None]


def _who(body: dict[str, Any]) -> Conversation:
    """Who clicked, and where (the conversation the answer is in)."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    team = (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id")
    name = str((body.get("channel") or {}).get("name") or "")
    # A DM or a group DM ("directmessage", "mpdm-..."), as for the slash command.
    private = bool(channel) and (name == "directmessage" or name.startswith("mpdm-") or str(channel).startswith("D"))
    return Conversation(
        platform="slack", workspace=team, channel=channel, user=(body.get("user") or {}).get("id"), private=private
    )


def _is_private(body: dict[str, Any]) -> bool:
    return bool((body.get("container") or {}).get("is_ephemeral"))


def _thread_of(body: dict[str, Any]) -> str | None:
    """The thread an answer belongs to: its own thread, or the one it starts."""
    message = body.get("message") or {}
    return message.get("thread_ts") or message.get("ts") or (body.get("container") or {}).get("message_ts")


class Clicks:
    """What a click does, after the ack."""

    def __init__(self, bot: _Bot) -> None:
        self.bot = bot

    def _private(self, respond: Any, msg: blocks.Message) -> None:
        respond(response_type="ephemeral", replace_original=False, **msg.kwargs())

    def _record(self, record_id: int, who: Conversation, respond: Any) -> Any:
        """The stored answer behind a click, if the clicker may see it (else they are told why not)."""
        reply = self.bot.service.show(record_id, who)
        if not isinstance(reply, ShowReply):
            self._private(respond, blocks.error_message(reply.message))
            return None
        return reply.record

    def what_if(self, body: dict[str, Any], respond: Any) -> None:
        action = body["actions"][0]
        value = json.loads(action["value"])
        who = _who(body)
        record = self._record(int(value["r"]), who, respond)
        if record is None:
            return
        outcome = self.bot.service.what_if(base=record, text=str(value["c"]), who=who)
        if outcome is None:
            return
        thread_ts = _thread_of(body)
        if not _is_private(body) and who.channel and thread_ts:
            self.bot._answer_in_thread(outcome, channel=who.channel, thread_ts=thread_ts, user=who.user)
            return
        # A private answer (the bot cannot post there): its what-if is private too.
        if outcome.estimate is None and outcome.error is None and outcome.note:
            self._private(respond, blocks.notice_message(outcome.note))
            return
        if outcome.estimate is None:
            self._private(respond, blocks.error_message(outcome.error or "the what-if failed"))
            return
        base = outcome.base or stored_estimate(record)
        assert base is not None
        self._private(
            respond,
            blocks.what_if_message(
                outcome.estimate,
                base,
                outcome.changes,
                record_id=outcome.record_id,
                note=outcome.note,
                private=True,
                answer=ask.question_answer(outcome.question_text, outcome.estimate),
                fit_change=not ask.asks_a_limit(outcome.question_text),
            ),
        )

    def menu(self, body: dict[str, Any], respond: Any) -> None:
        action = body["actions"][0]
        # The overflow menu's choice, or the one button a comparison has (the same values).
        choice = str((action.get("selected_option") or {}).get("value") or action.get("value", ""))
        what, _, ident = choice.partition(":")
        if not ident.isdigit():
            return
        who = _who(body)
        record = self._record(int(ident), who, respond)
        if record is None:
            return
        est = stored_estimate(record)
        if what == "classic" and est is not None:
            self._private(
                respond, blocks.estimate_message(est, record_id=record.id, hint=False, classic=True, buttons=False)
            )
        elif what == "share" and est is not None:
            self._share(body, respond, record, est, who)
        elif what == "delete":
            self._delete(body, respond, record, who)

    def _share(self, body: dict[str, Any], respond: Any, record: Any, est: Any, who: Conversation) -> None:
        """A private answer, shown to the channel by the one who asked (through the response URL: the
        bot could not post there itself, which is why the answer was private)."""
        if record.conversation.user != who.user:
            self._private(respond, blocks.error_message("only the person who asked can share this answer"))
            return
        assert who.user is not None
        msg = blocks.estimate_message(
            est, record_id=record.id, hint=False, asked=(who.user, record.text), buttons=False
        )
        respond(response_type="in_channel", replace_original=False, **msg.kwargs())
        self.bot.service.mark_public((record.id,))  # the channel saw it now: its listings show it
        if _is_private(body):
            respond(delete_original=True)

    def _delete(self, body: dict[str, Any], respond: Any, record: Any, who: Conversation) -> None:
        if record.conversation.user != who.user:
            self._private(respond, blocks.error_message("only the person who asked can delete this answer"))
            return
        if _is_private(body):
            respond(delete_original=True)
            return
        channel = who.channel
        ts = (body.get("message") or {}).get("ts") or (body.get("container") or {}).get("message_ts")
        if channel and ts:
            self.bot.client.chat_delete(channel=channel, ts=ts)
            self.bot.service.withdraw(record)


def register(app: App, bot: _Bot, submit: Submit) -> None:
    """Listen for the buttons and the menu under answers (they only acknowledge and enqueue)."""
    clicks = Clicks(bot)

    def tell(respond: Any) -> Callable[[str], None]:
        return lambda sentence: clicks._private(respond, blocks.error_message(sentence))

    @app.action(re.compile(rf"^{blocks.WHAT_IF_ACTION}_\d+$"))
    def on_what_if(ack: Callable[..., None], body: dict[str, Any], respond: Any) -> None:
        ack()
        submit(clicks.what_if, body, respond, on_error=tell(respond))

    @app.action(blocks.MENU_ACTION)
    def on_menu(ack: Callable[..., None], body: dict[str, Any], respond: Any) -> None:
        ack()
        submit(clicks.menu, body, respond, on_error=tell(respond))
