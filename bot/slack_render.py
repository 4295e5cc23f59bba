"""Slack messages for the service's replies, and the names the Slack modules share (the slash command,
the platform name the history store keeps, the error codes that mean the bot cannot post)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from bot import blocks, report
from bot.blocks import Message
from bot.service import (
    CompareReply,
    ErrorReply,
    EstimateReply,
    GpusReply,
    HelpReply,
    HistoryReply,
    Reply,
    ShowReply,
    stored_estimate,
)
from estimator.result import Estimate

COMMAND = "/vram"
PLATFORM = "slack"  # how the history store names this front end
# Slack's error codes for "this bot cannot post there": answer privately instead, with the invite hint.
CANNOT_POST = frozenset(
    {
        "not_in_channel",
        "channel_not_found",
        "is_archived",
        "restricted_action",
        "cannot_dm_bot",
        "messages_tab_disabled",
    }
)
INTERNAL_ERROR = "Something went wrong on my side while answering; it is logged, please try again."


class Answer(NamedTuple):
    """How to show one reply: the message, and whether the conversation sees it or only the asker."""

    message: Message
    public: bool = False  # estimates and comparisons are posted; everything else is private
    record_id: int | None = None  # the stored query an estimate came from (threads follow it)
    private: Message | None = None  # the same answer for the asker alone (no "reply in this thread")
    shown: tuple[int, ...] = ()  # stored queries the conversation sees once posted (a comparison's two)


def compare_errors(reply: CompareReply) -> str:
    """Why a comparison failed: each side's sentence, once (a bad change fails both sides alike)."""
    return "; ".join(dict.fromkeys(o.error or INTERNAL_ERROR for o in (reply.a, reply.b) if o.estimate is None))


def compare_change_lead(changes: Mapping[str, str], sides: list[tuple[Estimate, Estimate]]) -> str:
    """What a reply in a comparison's thread changed: each side's total, and its fit where it moved."""
    # Both sides share the settings: the first side's says what each became and what it was.
    what = report.changed_settings(changes, *sides[0], blocks.escape) if sides else "nothing"
    lines = [f"Changed {what} on both sides:"]
    for base, new in sides:
        before, after = base.memory.total, new.memory.total
        name = blocks.escape(new.model)
        was, now = blocks.fit_or_cards_phrase(base), blocks.fit_or_cards_phrase(new)
        if before == after:
            lines.append(f"{name}: total {report.gib(after)}, " + ("as before" if was != now else "unchanged"))
        else:
            lines.append(f"{name}: total {report.totals_change(base, new)}{report.held_change(base, new)}")
        if was != now and now is not None:
            lines.append(f"{name}: {was} → {now}" if was is not None else f"{name}: {now}")
    return "\n".join(lines)


def compare_what_if(reply: CompareReply) -> Message:
    """The answer to a reply in a comparison's thread: what changed, then both sides again."""
    a, b = reply.a, reply.b
    assert a.estimate is not None and b.estimate is not None and a.base is not None and b.base is not None
    lead = compare_change_lead(a.changes, [(a.base, a.estimate), (b.base, b.estimate)])
    if a.unused:
        lead += "\n" + blocks.not_used_line(a.unused)
    if a.question_text:
        # A question about both models ("how many users can they serve?"): each side's answer.
        from bot import ask

        for side in (a.estimate, b.estimate):
            if (line := ask.question_answer(a.question_text, side)) is not None:
                lead += f"\n*{blocks.escape(side.model)}: {blocks.escape(line)}*"
    return blocks.compare_message(a.estimate, b.estimate, record_ids=(a.record_id, b.record_id), lead=lead)


def render(reply: Reply, asker: str | None = None) -> Answer:
    """The Slack message for any reply of the service (the slash command, ``@vram`` and DMs share it).

    ``asker`` (a Slack user id) is named on public answers with what they typed."""
    if isinstance(reply, EstimateReply):
        out = reply.outcome
        if out.estimate is None:
            return Answer(blocks.error_message(out.error or INTERNAL_ERROR))
        typed, lead = out.text, None
        if out.base is not None and out.base_id is not None:
            # show <id> key=value: what was typed, and what it changed of which answer.
            typed = f"show {out.base_id} {out.text}"
            lead = f"What-if of #{out.base_id}. " + blocks.what_if_lead(out.changes, out.base, out.estimate)
        asked = (asker, typed) if asker else None
        return Answer(
            blocks.estimate_message(out.estimate, record_id=out.record_id, note=out.note, asked=asked, lead=lead),
            public=True,
            record_id=out.record_id,
            private=blocks.estimate_message(
                out.estimate, record_id=out.record_id, note=out.note, hint=False, private=True, lead=lead
            ),
        )
    if isinstance(reply, CompareReply):
        failed = [o for o in (reply.a, reply.b) if o.estimate is None]
        if failed:
            return Answer(blocks.error_message(compare_errors(reply)))
        assert reply.a.estimate is not None and reply.b.estimate is not None
        ids = (reply.a.record_id, reply.b.record_id)
        return Answer(
            blocks.compare_message(
                reply.a.estimate, reply.b.estimate, record_ids=ids, asked=(asker, reply.a.text) if asker else None
            ),
            public=True,
            shown=tuple(i for i in ids if i is not None),
        )
    if isinstance(reply, HistoryReply):
        return Answer(
            blocks.history_message(
                reply.records, model=reply.model, mine=reply.mine, compares=reply.compares, direct=reply.direct
            )
        )
    if isinstance(reply, ShowReply):
        pair = [stored_estimate(side) for side in reply.sides] if reply.sides else []
        if reply.sides and pair[0] is not None and pair[1] is not None:
            # One side of a comparison: the comparison, as it was answered.
            ids = (reply.sides[0].id, reply.sides[1].id)
            return Answer(blocks.compare_message(pair[0], pair[1], record_ids=ids, deletable=False))
        if reply.estimate is not None:
            # A copy of a stored answer: no buttons or menu (Delete would take the answer itself back);
            # `show <id> key=value` asks a what-if of it.
            return Answer(blocks.estimate_message(reply.estimate, record_id=reply.record.id, hint=False, buttons=False))
        return Answer(
            blocks.error_message(
                f"#{reply.record.id} `{reply.record.text}` failed: {reply.record.error or 'no result'}"
            )
        )
    if isinstance(reply, GpusReply):
        return Answer(blocks.gpus_message(reply.gpus))
    if isinstance(reply, HelpReply):
        return Answer(blocks.help_message())
    if isinstance(reply, ErrorReply):
        return Answer(blocks.error_message(reply.message))
    raise AssertionError(f"unhandled reply {reply!r}")  # pragma: no cover - the Reply union is closed
