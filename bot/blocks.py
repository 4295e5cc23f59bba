"""Slack rendering: Block Kit plus a plain-text fallback, pure functions of the results.

Every function returns a :class:`Message` (``blocks`` and ``text``). Anything that came from a
user or from the Hub (model ids, typed text, error sentences, warnings) goes through
:func:`escape`, so nobody can make the bot write ``<!channel>`` or a fake link.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from bot import report
from bot.echo import neutral
from bot.helptext import slack_help
from bot.report import BAR_FREE as BAR_FREE  # re-exported: the bar's free-space glyph
from bot.report import GIB, bar, gib, listed_warnings, params
from estimator.classic import classic_lines as _classic_lines
from estimator.engines import engine_names, get_engine
from estimator.notes import Note
from estimator.query import MAX_BATCH, MAX_SEQ_LEN
from estimator.result import Estimate
from estimator.spec import Frozen
from estimator.units import request_noun, tokens_text

SECTION_LIMIT = 3000  # Slack's limit on a section's text
HISTORY_TEXT_LIMIT = 300  # a stored query's text in a history line, in characters
MAX_BLOCKS = 50  # Slack's limit on blocks per message
# The widest code-block line that a phone shows without wrapping (about 45 monospace characters).
PHONE_WIDTH = 45
CLASSIC_WARNING = "The classic formula says"  # the estimator's warning comparing with the classic formulas


def _is_classic(warning: Note) -> bool:
    """The classic comparison: by its code, or by its sentence in answers stored before codes."""
    return warning.code == "classic_formula" or warning.message.startswith(CLASSIC_WARNING)


# gpu=any: the most cards a line of the list names in Slack (those with the least memory); the
# terminal and --json give them all.
CARDS_PER_LINE = 12


def reply_hint(est: Estimate) -> str:
    """The thread hint, with examples that each change something in this answer (not the settings it
    already has)."""
    q = est.query
    limit = _context_limit(est)
    # Past the model's longest context the example is that context (s=max), not half of a refused one.
    past = limit is not None and q.seq_len > limit
    context = "max" if past else _count(_doubled_context(est) or max(q.seq_len // 2, 1))
    gpu = "a100-40gb" if q.gpu in ("h100", "h100-80gb") else "h100"
    batch = q.batch * 2 if q.batch * 2 <= MAX_BATCH else max(q.batch // 2, 1)
    if q.gpu_any and not report.card_groups(est):
        # No card holds it: the examples make it smaller, not larger.
        batch = max(q.batch // 2, 1)
        context = "max" if past else _count(max(q.seq_len // 2, 1))
    examples = [f"s={context}", f"b={batch}", f"gpu={gpu}"]
    if q.kv != "off" and est.details.kv_dtype not in (None, "fp8"):
        examples.append("kv=fp8")
    examples += [f"engine={other}" for other in engine_names() if other != q.engine][:1]
    return "Reply in this thread to change one thing: " + " · ".join(f"`{e}`" for e in examples)


INVITE_HINT = (
    "I can't post in this conversation, so only you see this. "
    "To share answers here and ask follow-ups in a thread, invite me with `/invite @vram`."
)
# The workspace or channel does not let the bot post (announcement-only, archived): inviting won't help.
RESTRICTED_HINT = (
    "I'm not allowed to post in this channel, so only you see this. To share answers and ask follow-ups "
    "in a thread, ask me in a channel where I can post."
)
# Apps cannot be added to a DM or group DM between people: say where to ask instead.
DM_HINT = (
    "I can't post in a conversation between people, so only you see this. To share answers and ask "
    "follow-ups in a thread, ask me in a channel I'm in, or in my own DM (Apps → vram)."
)

Block = dict[str, Any]
_SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,20}")


class Message(Frozen):
    """One Slack message: Block Kit blocks and the plain-text fallback (notifications, old clients)."""

    blocks: tuple[Block, ...]
    text: str

    def kwargs(self) -> dict[str, Any]:
        """Arguments for ``chat.postMessage`` / ``respond``."""
        return {"blocks": [dict(b) for b in self.blocks], "text": self.text}


# -- text helpers -----------------------------------------------------------------------------
def escape(text: str) -> str:
    """Escape Slack mrkdwn control characters (``&``, ``<``, ``>``) in untrusted text (and neutralise
    bidi controls and overlong runs: :func:`bot.echo.neutral`)."""
    return neutral(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _truncate(text: str, limit: int = SECTION_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


_FENCED = re.compile(r"```\n(.*?)\n```", re.DOTALL)


def _narrow_block(match: re.Match[str]) -> str:
    """A code block too wide for a phone, as short lines: the first column in code, the rest as text."""
    lines = match.group(1).split("\n")
    if all(len(line) <= PHONE_WIDTH for line in lines):
        return match.group(0)
    out = []
    for line in lines:
        cols = [c for c in re.split(r"\s{2,}", line.strip()) if c]
        if cols:
            out.append(f"`{cols[0]}` " + " · ".join(cols[1:]) if len(cols) > 1 else f"`{cols[0]}`")
    return "\n".join(out)


def narrow(text: str) -> str:
    """Keep every code-block line within :data:`PHONE_WIDTH` (wider tables become short lines)."""
    return _FENCED.sub(_narrow_block, text)


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _truncate(narrow(text))}}


def _sections(lines: Sequence[str]) -> list[Block]:
    """Lines as several sections, so a long listing stays under Slack's per-section limit."""
    out: list[Block] = []
    chunk: list[str] = []
    for line in lines:
        line = _truncate(line, SECTION_LIMIT - 10)
        if chunk and sum(len(x) + 1 for x in chunk) + len(line) > SECTION_LIMIT - 10:
            out.append(_section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    if chunk:
        out.append(_section("\n".join(chunk)))
    return out


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _truncate(text)}]}


def _header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": _truncate(text, 150), "emoji": True}}


def _code(lines: Iterable[str]) -> str:
    return "```\n" + "\n".join(lines) + "\n```"


def _plain(mrkdwn: str) -> str:
    # The fallback text is still mrkdwn for Slack; only drop the code fences that clutter notifications.
    return mrkdwn.replace("```\n", "").replace("\n```", "")


def _message(blocks: Sequence[Block], text_parts: Iterable[str]) -> Message:
    text = "\n".join(p for p in text_parts if p)
    return Message(blocks=tuple(blocks[:MAX_BLOCKS]), text=_truncate(text, 3900))


# -- one estimate (content from bot.report, escaped for mrkdwn) ---------------------------------
def header_line(est: Estimate) -> str:
    return report.header(est, esc=escape)


def verdict_line(est: Estimate, *, answered: bool = False) -> str:
    return report.verdict(est, esc=escape, answered=answered)


def bar_line(est: Estimate) -> str:
    return f"`{bar(est)}` {report.bar_legend(est)}"


def breakdown_lines(est: Estimate) -> list[str]:
    """The table: each term and its size, narrow enough for a phone (for a code block)."""
    return [f"{label:<12}{gib(n_bytes):>12}" for label, n_bytes, _why in report.breakdown(est, esc=escape)]


def breakdown_why(est: Estimate) -> list[str]:
    """The arithmetic behind each term, one short mrkdwn line each (escaped)."""
    return [f"*{label}*: {why}" for label, _n, why in report.breakdown(est, esc=escape) if why]


def classic_lines(est: Estimate) -> list[str]:
    """The original calculator's six lines (``method=classic``)."""
    return _classic_lines(est.classic, gqa=est.classic.gqa_gb is not None)


def max_line(est: Estimate) -> str | None:
    return report.max_line(est)


def engine_line(est: Estimate) -> str | None:
    return report.engine_line(est, esc=escape)


def estimate_message(
    est: Estimate,
    *,
    record_id: int | None = None,
    note: str | None = None,
    lead: str | None = None,
    hint: bool = True,
    classic: bool = False,
    asked: tuple[str, str] | None = None,
    private: bool = False,
    buttons: bool = True,
    others: tuple[str, ...] = (),
    answered: bool = False,
) -> Message:
    """One estimate as Slack shows it: header, verdict, bar, breakdown, limits, warnings, hint, buttons.

    ``lead`` (already mrkdwn) goes first, e.g. what a what-if changed; ``note`` is the store's
    "not saved" note; ``hint`` adds how to ask the next question in the thread; ``classic`` adds the
    classic formulas' six lines (always there with ``method=classic``); ``asked`` is (user id, text
    typed) for a public answer; ``private`` marks the asker-only copy (its menu offers to share it);
    ``buttons`` adds the next what-ifs under a stored answer; ``others`` (Hub ids) adds one button
    each to ask the same about another close match of a model name; ``answered``: ``lead`` holds a
    question's answer line, which the verdict then does not repeat.
    """
    blocks: list[Block] = []
    text: list[str] = []
    if lead:
        blocks.append(_section(lead))
        text.append(lead)
    head = f"*{header_line(est)}*"
    verdict = f"*{verdict_line(est, answered=answered)}*\n{bar_line(est)}"
    blocks += [_section(head), _section(verdict)]
    text += [head, verdict]
    table = breakdown_lines(est)
    why = "\n".join(breakdown_why(est))
    blocks += [_section(_code(table)), _context(why)]
    text += [_plain(_code(table)), why]
    show_classic = classic or est.query.method == "classic"
    if show_classic:
        six = "*Classic formulas*\n" + "\n".join(f"• {escape(line)}" for line in classic_lines(est))
        blocks.append(_section(six))
        text.append(six)
    if cards := report.cards_lines(est, esc=escape, limit=CARDS_PER_LINE):
        listing = "\n".join(f"*{line}*" if line.endswith(":") else f"• {line}" for line in cards)
        blocks += _sections(listing.split("\n"))
        text.append(listing)
    extra = [x for x in (max_line(est), engine_line(est)) if x]
    if extra:
        blocks.append(_section("\n".join(extra)))
        text += extra
    warnings = [w for w in listed_warnings(est) if show_classic or not _is_classic(w)]
    if warnings:
        warn = "\n".join(f":warning: {escape(w.message)}" for w in warnings)
        blocks.append(_section(warn))
        text.append(warn)
    context: list[str] = []
    if asked is not None:
        context.append(asked_line(*asked))
    if record_id is not None:
        context.append(f"#{record_id} (`/vram show {record_id}`)")
    if hint:
        context.append(reply_hint(est))
    if note:
        context.append(f":floppy_disk: {escape(note)}")
    if context:
        ctx = " · ".join(context)
        blocks.append(_context(ctx))
        text.append(ctx)
    if buttons and record_id is not None:
        blocks.append(what_if_actions(est, record_id, private=private, others=others))
    return _message(blocks, text)


def asked_line(user: str, typed: str) -> str:
    """``asked by @user: `/vram ...` `` (only a real Slack user id becomes a mention)."""
    who = f"<@{user}>" if _SLACK_USER.fullmatch(user) else escape(user)
    typed = " ".join(typed.replace("`", " ").split())
    return f"asked by {who}: `/vram {escape(typed)}`"


# -- the buttons under an answer -----------------------------------------------------------
WHAT_IF_ACTION = "vram_whatif"  # action ids start with this; the value says which record and what change
MENU_ACTION = "vram_menu"


def _button(label: str, action_id: str, value: str) -> Block:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": label[:75], "emoji": True},
        "action_id": action_id,
        "value": value,
    }


def _option(label: str, value: str) -> Block:
    return {"text": {"type": "plain_text", "text": label[:75], "emoji": True}, "value": value}


def _count(n: int) -> str:
    """A count as the grammar reads it back exactly: ``64k`` where it is whole k (1024), else digits."""
    return f"{n // 1024}k" if n % 1024 == 0 else str(n)


def _context_limit(est: Estimate) -> int | None:
    """The longest context the engine takes for the model (what s=max asks), else the config's window."""
    return est.details.longest_context or est.details.context_window


def _doubled_context(est: Estimate) -> int | None:
    """Twice the answer's context where the grammar and the model take it, else None."""
    longer, limit = est.query.seq_len * 2, _context_limit(est)
    return longer if longer <= MAX_SEQ_LEN and (limit is None or longer <= limit) else None


def what_ifs(est: Estimate) -> list[tuple[str, str]]:
    """(button label, change as typed) for the what-ifs people try next: the label shows the value the
    click sets; a context past the model's window (which vLLM refuses) is not offered, the window
    itself is where it lies between."""
    q = est.query
    out: list[tuple[str, str]] = []
    window = _context_limit(est)
    # With gpu=any and no card that holds it, more context or batch holds it on none either.
    grows = not (q.gpu_any and not report.card_groups(est))
    if grows and (doubled := _doubled_context(est)) is not None:
        out.append((f"Context x2 (s={_count(doubled)})", f"s={_count(doubled)}"))
    elif window is not None and q.seq_len != window and window <= MAX_SEQ_LEN and not q.seq_len_from_model:
        # Below the longest context, the way up to it; past it (which vLLM refuses), the way back.
        out.append(("Longest context (s=max)", "s=max"))
    if grows and q.batch * 2 <= MAX_BATCH:
        out.append((f"Batch x2 (b={q.batch * 2})", f"b={q.batch * 2}"))
    if q.kv != "off" and est.details.kv_dtype not in (None, "fp8"):
        out.append(("KV in fp8", "kv=fp8"))
    fit = est.fit
    fewest = report.fewest_layout(est)
    if (card := report.card_change(est)) is not None:
        out.append((f"{card[0]} (fewest GPUs)", card[1]))
    if fit is not None and fewest is not None:
        n, change = fewest
        out.append(
            (
                f"{n} GPU{'s' if n > 1 else ''} (smallest that fits)"
                if not fit.fits
                else f"{n} GPU{'s' if n > 1 else ''} (fewest that fit)",
                change,
            )
        )
    # Every other registered engine is one click away: with one copy of the model where replicas or
    # stages are another engine's (transformers spreads layers over gpus= itself), and not offered
    # where that engine refuses the settings even so.
    for other in engine_names():
        if other == q.engine:
            continue
        switch = {"engine": other}
        engine = get_engine(other)
        if q.dp > 1 and not engine.data_parallel:
            switch["dp"] = "1"
        if q.pp > 1 and engine.split == "layers":
            switch.update(gpus=str(q.gpus * q.pp), pp="1")
        moved = q.model_copy(
            update={"engine": other, "dp": int(switch.get("dp", q.dp)), "pp": int(switch.get("pp", q.pp))}
        )
        if engine.setting_refusal(moved.model_copy(update={"gpus": int(switch.get("gpus", q.gpus))})) is None:
            out.append((f"On {other}", " ".join(f"{k}={v}" for k, v in switch.items())))
    return out


def what_if_actions(est: Estimate, record_id: int, *, private: bool = False, others: tuple[str, ...] = ()) -> Block:
    """The what-if buttons and the overflow menu (share, classic lines, delete) for one stored answer.

    ``others``: other Hub ids a model name matched; a click asks the same with that model (a model id
    typed in the thread changes the model the same way).
    """
    choices = what_ifs(est) + [(f"Use {model}", model) for model in others]
    elements: list[Block] = [
        _button(label, f"{WHAT_IF_ACTION}_{i}", json.dumps({"r": record_id, "c": change}))
        for i, (label, change) in enumerate(choices)
    ]
    options = [
        _option("Show the classic formulas", f"classic:{record_id}"),
        _option("Delete my answer", f"delete:{record_id}"),
    ]
    if private:
        options.insert(0, _option("Share to the channel", f"share:{record_id}"))
    elements.append({"type": "overflow", "action_id": MENU_ACTION, "options": options})
    return {"type": "actions", "block_id": f"vram_next_{record_id}", "elements": elements}


def fit_phrase(est: Estimate) -> str | None:
    """``fits one NVIDIA L4 (3.2 GiB spare)`` or ``does not fit 2 x NVIDIA L4 (5.0 GiB short)``; where
    the engine will not start the layout (its refusal, vLLM's start check), that instead of a
    shortfall memory does not have."""
    fit = est.fit
    if fit is None:
        return None
    world = report.world(est.query)
    where = f"one {escape(fit.gpu_name)}" if world == 1 else f"{world} x {escape(fit.gpu_name)}"
    if fit.fits:
        return f"fits {where} ({report.margin(fit.headroom)} spare)"
    pool = get_engine(est.query.engine).pool(est)
    if fit.engine_refuses is not None or (pool is not None and not pool.starts):
        return f"does not fit {where} ({get_engine(est.query.engine).label} will not start it)"
    if fit.headroom >= 0:
        return f"does not fit {where}"  # what the engine adds on top of its share: the verdict says
    return f"does not fit {where} ({report.margin(-fit.headroom)} short)"


def fit_or_cards_phrase(est: Estimate) -> str | None:
    """:func:`fit_phrase`, or with ``gpu=any`` (no one fit) the fewest of the card that stands for it:
    ``on every card, the fewest: 1 × a10g``."""
    if est.fit is None and est.query.gpu_any and not est.refused:
        return f"on every card, the fewest: {escape(report.smallest_cards(est))}"
    return fit_phrase(est)


def what_if_lead(changes: Mapping[str, str], base: Estimate, new: Estimate, *, fit_change: bool = True) -> str:
    """What a what-if changed: the total (or that it did not move), and the fit before and after (not
    with ``fit_change`` False: a question for the longest context or largest batch answers instead)."""
    what = report.changed_settings(changes, base, new, escape)
    before, after = base.memory.total, new.memory.total
    was, now = (fit_or_cards_phrase(base), fit_or_cards_phrase(new)) if fit_change else (None, None)
    if before == after:
        line = f"Changed {what}: total {gib(after)}, " + ("as before" if was != now else "unchanged")
    else:
        line = f"Changed {what}: total {report.totals_change(base, new)}"
    line += report.held_change(base, new)
    if was != now and now is not None:
        line += f"\nFit: {was} → {now}" if was is not None else f"\nFit: {now}"
    return line


def not_used_line(words: Sequence[str]) -> str:
    """ "not used: prod": a reply's words beside its settings that changed nothing ("" for none)."""
    return escape("not used: " + " ".join(words)) if words else ""


def what_if_message(
    new: Estimate,
    base: Estimate,
    changes: Mapping[str, str],
    *,
    record_id: int | None = None,
    note: str | None = None,
    private: bool = False,
    answer: str | None = None,
    unused: Sequence[str] = (),
    fit_change: bool = True,
) -> Message:
    """A thread reply: what changed (totals and the fit), the reply's words read as nothing
    (``unused``), the answer to the question the base asked where it was one (``answer``), then the
    new estimate."""
    # A question about the thread's answer that changes nothing ("how many users can it serve?") is
    # answered alone.
    head = what_if_lead(changes, base, new, fit_change=fit_change) if changes or not answer else ""
    parts = (head, not_used_line(unused), f"*{escape(answer)}*" if answer else "")
    lead = "\n".join(part for part in parts if part)
    return estimate_message(
        new, record_id=record_id, note=note, lead=lead, hint=False, private=private, answered=bool(answer)
    )


# -- the other replies ------------------------------------------------------------------------
def error_message(message: str, *, hint: str | None = None) -> Message:
    """One friendly sentence (escaped), optionally with what to do next."""
    body = f":x: {escape(message)}"
    if hint:
        body += f"\n{hint}"
    return _message([_section(body)], [body])


def notice_message(message: str) -> Message:
    """A short line the bot says (already mrkdwn, trusted)."""
    return _message([_section(message)], [message])


def _compare_field(e: Estimate, name: str) -> Block:
    m = e.memory
    lines = [
        f"*{name}*",
        f"Weights {gib(m.weights)}",
        f"KV cache {gib(m.kv_cache)}",
        f"Activations {gib(m.activations)}",
        f"Overhead {gib(m.overhead)}",
        f"*Total {gib(m.total)}*",
        f"{params(e.params_total)} parameters",
        f"KV {report.kv_per_token_text(e)} per token",
    ]
    pool = report.pool_cells(e)
    if pool is not None and pool[0] != pool[1]:
        q = e.query
        whose = " (busiest stage)" if q.pp > 1 else ""
        held = f"{pool[1]} {request_noun(pool[1])} of {tokens_text(q.seq_len)}"
        if q.dp > 1:
            held += f" a replica, {report.requests_all_cell(e)} in all ({q.dp} replicas)"
        lines.append(f"vLLM KV pool{whose} {pool[0]} GiB, {held}")
    if e.query.gpu_any:
        lines.append(f"{report.smallest_cards_label(e.query)} {escape(report.smallest_cards(e))}")
    phrase = fit_phrase(e)
    why = report.no_verdict(e)
    if why:
        lines.append(escape(why[0].upper() + why[1:]))
    elif phrase:
        lines.append(phrase[0].upper() + phrase[1:])
        if fixes := report.fit_fixes(e):
            lines.append(f"To fit, use {escape(fixes)}")
    return {"type": "mrkdwn", "text": _truncate("\n".join(lines), 2000)}


def compare_message(
    a: Estimate,
    b: Estimate,
    *,
    record_ids: tuple[int | None, int | None] = (None, None),
    lead: str | None = None,
    asked: tuple[str, str] | None = None,
    deletable: bool = True,
) -> Message:
    """Two models side by side, same inputs: one column each (they stack on a phone), and the difference.
    ``deletable``: its asker may delete it (the answer as posted; not a copy ``show`` gives)."""
    q = a.query
    title = f"*Compare* · {escape(report.compare_title(a))}"

    def name(e: Estimate) -> str:
        return escape(e.model + (f"@{e.revision[:7]}" if e.revision else ""))

    fields = [_compare_field(a, name(a)), _compare_field(b, name(b))]
    diff = b.memory.total - a.memory.total
    if diff == 0:
        summary = f"{name(b)} needs the same memory as {name(a)}"
    else:
        summary = f"{name(b)} needs {gib(abs(diff))} {'more' if diff > 0 else 'less'} than {name(a)}"
    blocks: list[Block] = [_section(lead)] if lead else []
    blocks += [_section(title), {"type": "section", "fields": fields}, _section(summary)]
    text = [lead or "", title, *(f["text"] for f in fields), summary]
    ids = [f"#{i}" for i in record_ids if i is not None]
    warnings = [
        f":warning: {escape(e.model) if e is not None else 'both'}: {escape(w.message)}"
        for e, w in report.side_warnings(a, b, lambda w: not _is_classic(w) or q.method == "classic")
    ]
    if warnings:
        blocks.append(_section("\n".join(warnings)))
        text += warnings
    context = [asked_line(*asked)] if asked else []
    if ids and deletable:
        context.append("Stored as " + " and ".join(ids) + " · reply in this thread to change both sides")
    elif ids:
        # A copy (show): no thread of its own to reply in.
        first = next(i for i in record_ids if i is not None)
        context.append("Stored as " + " and ".join(ids) + f" · `/vram show {first} key=value` changes both sides")
    if context:
        ctx = " · ".join(context)
        blocks.append(_context(ctx))
        text.append(ctx)
    if deletable and record_ids[0] is not None:
        # Its asker may take the comparison back, both sides at once, as a single answer's menu does.
        first = record_ids[0]
        # One choice: a button (an overflow menu takes two or more), asked again before it deletes.
        delete = {
            "type": "button",
            "action_id": MENU_ACTION,
            "text": {"type": "plain_text", "text": "Delete my answer", "emoji": True},
            "value": f"delete:{first}",
            "confirm": {
                "title": {"type": "plain_text", "text": "Delete this comparison?"},
                "text": {"type": "mrkdwn", "text": "Both sides leave the channel's history."},
                "confirm": {"type": "plain_text", "text": "Delete"},
                "deny": {"type": "plain_text", "text": "Keep it"},
            },
        }
        blocks.append({"type": "actions", "block_id": f"vram_next_{first}", "elements": [delete]})
    return _message(blocks, text)


def _when(value: datetime) -> str:
    """A stored time as Slack shows it in each reader's own timezone (its date token), with the UTC
    time as the fallback a client without it shows."""
    when = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return f"<!date^{int(when.timestamp())}^{{date_num}} {{time}}|{when:%Y-%m-%d %H:%M} UTC>"


def history_lines(records: Sequence[Any], compares: Sequence[tuple[Any, Any]] = ()) -> list[str]:
    """One line per stored query: id, when, who, the text as typed (escaped), status; a comparison's two
    sides share one line (both ids)."""
    lines = []
    for r, sides in report.history_rows(records, compares):
        who = getattr(r, "user", None)
        # Only a real Slack user id becomes a mention; anything else is shown as text.
        who_part = f" · <@{who}>" if who and _SLACK_USER.fullmatch(who) else (f" · {escape(who)}" if who else "")
        # The store keeps status "error" and the sentence apart: show the sentence (shortened).
        failed = [side for side in sides if getattr(side, "status", "ok") != "ok"]
        mark = "".join(
            f" · :x: {escape(_truncate(getattr(side, 'error', None) or str(side.status), 160))}" for side in failed
        )
        # Backticks (text pasted as code) would close the line's code span early; the grammar ignores them.
        # A question with a pasted paragraph is shortened: the listing is for finding it (show <id>).
        text = _truncate(" ".join(r.text.replace("`", " ").split()), HISTORY_TEXT_LIMIT)
        model = getattr(r, "model", None)
        models = [m for side in sides if (m := getattr(side, "model", None))]
        if (
            getattr(r, "parent_id", None) is not None
            and len(models) == 2
            and model
            and model.lower() not in text.lower()
        ):
            # A reply in a comparison's thread changed both sides: name both, in the order compared.
            first, second = (escape(m) for m in models)
            text_part = f"`{escape(text)}` on `{first}` and `{second}`"
        elif getattr(r, "parent_id", None) is not None and model and model.lower() not in text.lower():
            text_part = f"`{escape(text)}` on `{escape(model)}`"  # a thread reply that typed only the change
        else:
            text_part = f"`{escape(text)}`"
        ids = " ".join(f"`#{side.id}`" for side in sides)
        lines.append(f"{ids} {_when(r.created_at)}{who_part} · {text_part}{mark}")
    return lines


def listing_lines(records: Sequence[Any], compares: Sequence[tuple[Any, Any]] = ()) -> list[str]:
    """A listing's lines (history, the Home tab): a comparison's sides as one row, and input mistakes
    (`s=abc`) kept but summed up in one line rather than listed."""
    mistakes = [r for r in records if report.is_input_mistake(r)]
    lines = history_lines([r for r in records if not report.is_input_mistake(r)], compares)
    if mistakes:
        ids = ", ".join(f"#{r.id}" for r in mistakes)
        lines.append(f"_{report.plural(len(mistakes), 'input mistake')} not listed ({ids})_")
    return lines


def history_message(
    records: Sequence[Any],
    *,
    model: str | None = None,
    mine: bool = False,
    compares: Sequence[tuple[Any, Any]] = (),
    direct: bool = False,
) -> Message:
    """The ephemeral history listing (newest first, as the store returns it)."""
    matching = f" matching “{escape(model)}”" if model else ""
    if not records:
        if mine:
            none = f"None of your queries{matching}" if model else "You have no queries"
        else:
            none = f"No queries in {'this conversation' if direct else 'this channel'}{matching}"
        body = f"{none} yet. Try `/vram microsoft/phi-4 s=16k`."
        return _message([_section(body)], [body])
    # A channel's listing also holds the asker's private queries (their DMs, answers only they saw).
    private = any(
        getattr(getattr(r, "conversation", None), "private", False) or getattr(r, "public", True) is False
        for r in records
    )
    where = "this conversation" if direct else "this channel"  # a DM is no channel
    here = f"*Recent queries in {where}" + (" and your private ones*" if private else "*")
    title = ("*Your recent queries*" if mine else here) + (f" matching “{escape(model)}”" if model else "")
    title += " (`/vram show &lt;id&gt;` for one)"
    lines = listing_lines(records, compares)
    blocks = [_section(title), *_sections(lines)]
    return _message(blocks, [title, *lines])


def gpus_message(gpus: Sequence[Any]) -> Message:
    """The GPU catalog: the key to type and the memory CUDA reports (short lines for a phone)."""
    rows = [f"`{escape(g.key)}` {g.memory_bytes / GIB:,.1f} GiB · {escape(g.name)}" for g in gpus]
    title = "*GPUs I know* (memory as CUDA reports the device total); use them as `gpu=&lt;key&gt;`"
    blocks = [_section(title), *_sections(rows)]
    return _message(blocks, [title, *rows])


def help_message() -> Message:
    # The grammar's <placeholders> are literal text, not Slack links.
    text = escape(slack_help())
    return _message([_section(text)], [_plain(text)])


# -- App Home ---------------------------------------------------------------------------------
def home_view(
    records: Sequence[Any], *, error: str | None = None, compares: Sequence[tuple[Any, Any]] = ()
) -> dict[str, Any]:
    """The App Home tab: how to ask, and the user's recent queries (or why they cannot be shown)."""
    blocks: list[Block] = [
        _header("vram: GPU memory for LLM inference"),
        _section(
            "Ask in any channel I'm in: `/vram microsoft/phi-4 s=16k gpu=h100`, then reply in the "
            "answer's thread to change one thing. `/vram help` lists every key."
        ),
        {"type": "divider"},
    ]
    if error:
        blocks.append(_section(f":x: {escape(error)}"))
    elif records:
        blocks.append(_section("*Your recent queries*"))
        blocks += _sections(listing_lines(records, compares))
    else:
        blocks.append(_section("You have no queries yet."))
    return {"type": "home", "blocks": blocks[:100]}
