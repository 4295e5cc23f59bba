"""Slack rendering: Block Kit plus a plain-text fallback, pure functions of the results.

Every function returns a :class:`Message` (``blocks`` and ``text``). Anything that came from a
user or from the Hub (model ids, typed text, error sentences, warnings) goes through
:func:`escape`, so nobody can make the bot write ``<!channel>`` or a fake link.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from bot import report
from bot.helptext import slack_help
from bot.report import BAR_FREE as BAR_FREE  # re-exported: the bar's free-space glyph
from bot.report import GIB, bar, gib, params, per_token
from estimator.classic import classic_lines as _classic_lines
from estimator.result import Estimate
from estimator.spec import Frozen

SECTION_LIMIT = 3000  # Slack's limit on a section's text
MAX_BLOCKS = 50  # Slack's limit on blocks per message
REPLY_HINT = (
    "Reply in this thread to change one thing: `s=32k` · `b=8` · `gpu=a100-40gb` · `kv=fp8` · `engine=vllm`"
)
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


class RecordLike(Protocol):
    """What the history listing needs from a stored query (the store's ``QueryRecord``)."""

    id: int
    created_at: datetime
    text: str
    status: str


class GpuLike(Protocol):
    key: str
    name: str
    memory_bytes: int


# -- text helpers -----------------------------------------------------------------------------
def escape(text: str) -> str:
    """Escape Slack mrkdwn control characters (``&``, ``<``, ``>``) in untrusted text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _truncate(text: str, limit: int = SECTION_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _truncate(text)}}


def _sections(lines: Sequence[str]) -> list[Block]:
    """Lines as several sections, so a long listing stays under Slack's per-section limit."""
    out: list[Block] = []
    chunk: list[str] = []
    for line in lines:
        if sum(len(x) + 1 for x in chunk) + len(line) > SECTION_LIMIT - 10:
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


def verdict_line(est: Estimate) -> str:
    return report.verdict(est, esc=escape)


def bar_line(est: Estimate) -> str:
    return f"`{bar(est)}` {report.bar_legend(est)}"


def breakdown_lines(est: Estimate) -> list[str]:
    """The table: each term with the arithmetic behind it (escaped, for a code block)."""
    return [f"{label:<12}{n_bytes / GIB:>7.1f} GiB   {why}".rstrip()
            for label, n_bytes, why in report.breakdown(est, esc=escape)]


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
) -> Message:
    """One estimate as Slack shows it: header, verdict, bar, breakdown, limits, warnings, hint.

    ``lead`` (already mrkdwn) goes first, e.g. what a what-if changed; ``note`` is the store's
    "not saved" note; ``hint`` adds how to ask the next question in the thread.
    """
    blocks: list[Block] = []
    text: list[str] = []
    if lead:
        blocks.append(_section(lead))
        text.append(lead)
    head = f"*{header_line(est)}*"
    verdict = f"*{verdict_line(est)}*\n{bar_line(est)}"
    blocks += [_section(head), _section(verdict)]
    text += [head, verdict]
    table = classic_lines(est) if est.query.method == "classic" else breakdown_lines(est)
    blocks.append(_section(_code(table)))
    text.append(_plain(_code(table)))
    extra = [x for x in (max_line(est), engine_line(est)) if x]
    if extra:
        blocks.append(_section("\n".join(extra)))
        text += extra
    if est.warnings:
        warn = "\n".join(f":warning: {escape(w.message)}" for w in est.warnings)
        blocks.append(_section(warn))
        text.append(warn)
    context: list[str] = []
    if record_id is not None:
        context.append(f"#{record_id} (`/vram show {record_id}`)")
    if hint:
        context.append(REPLY_HINT)
    if note:
        context.append(f":floppy_disk: {escape(note)}")
    if context:
        ctx = " · ".join(context)
        blocks.append(_context(ctx))
        text.append(ctx)
    return _message(blocks, text)


def change_line(changes: Mapping[str, str], base: Estimate, new: Estimate) -> str:
    return report.change_line(changes, base, new, esc=escape)


def what_if_message(
    new: Estimate,
    base: Estimate,
    changes: Mapping[str, str],
    *,
    record_id: int | None = None,
    note: str | None = None,
) -> Message:
    """A thread reply: what changed and the difference in total, then the new estimate."""
    return estimate_message(
        new, record_id=record_id, note=note, lead=change_line(changes, base, new), hint=False
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


def compare_message(
    a: Estimate, b: Estimate, *, record_ids: tuple[int | None, int | None] = (None, None)
) -> Message:
    """Two models side by side, same inputs: the breakdown in columns and the difference."""
    q = a.query
    title = f"*Compare* · s={q.seq_len:,} · b={q.batch:,} · {q.engine}"
    if q.gpu:
        title += f" · {escape(q.gpu)}"

    def name(e: Estimate) -> str:
        return escape(e.model + (f"@{e.revision[:7]}" if e.revision else ""))

    width = max(14, len(name(a)), len(name(b))) + 2
    rows = [f"{'':<12}{name(a):>{width}}{name(b):>{width}}"]
    for label, x, y in (
        ("Weights", a.memory.weights, b.memory.weights),
        ("KV cache", a.memory.kv_cache, b.memory.kv_cache),
        ("Activations", a.memory.activations, b.memory.activations),
        ("Overhead", a.memory.overhead, b.memory.overhead),
        ("Total", a.memory.total, b.memory.total),
    ):
        rows.append(f"{label:<12}{gib(x):>{width}}{gib(y):>{width}}")
    rows.append(f"{'Parameters':<12}{params(a.params_total):>{width}}{params(b.params_total):>{width}}")
    rows.append(
        f"{'KV/token':<12}{per_token(a.details.kv_bytes_per_token):>{width}}"
        f"{per_token(b.details.kv_bytes_per_token):>{width}}"
    )
    if a.fit is not None and b.fit is not None:
        rows.append(
            f"{'Fits':<12}{'yes' if a.fit.fits else 'no':>{width}}{'yes' if b.fit.fits else 'no':>{width}}"
        )
    diff = b.memory.total - a.memory.total
    if diff == 0:
        summary = f"{name(b)} needs the same memory as {name(a)}"
    else:
        summary = f"{name(b)} needs {gib(abs(diff))} {'more' if diff > 0 else 'less'} than {name(a)}"
    blocks = [_section(title), _section(_code(rows)), _section(summary)]
    text = [title, _plain(_code(rows)), summary]
    ids = [f"#{i}" for i in record_ids if i is not None]
    warnings = [f":warning: {escape(e.model)}: {escape(w.message)}" for e in (a, b) for w in e.warnings]
    if warnings:
        blocks.append(_section("\n".join(warnings)))
        text += warnings
    if ids:
        ctx = "Stored as " + " and ".join(ids)
        blocks.append(_context(ctx))
        text.append(ctx)
    return _message(blocks, text)


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


def history_lines(records: Sequence[Any]) -> list[str]:
    """One line per stored query: id, when, who, the text as typed (escaped), status."""
    lines = []
    for r in records:
        who = getattr(r, "user", None)
        # Only a real Slack user id becomes a mention; anything else is shown as text.
        who_part = f" · <@{who}>" if who and _SLACK_USER.fullmatch(who) else (f" · {escape(who)}" if who else "")
        status = getattr(r, "status", "ok")
        # The store keeps status "error" and the sentence apart: show the sentence (shortened).
        reason = getattr(r, "error", None) or str(status)
        mark = "" if status == "ok" else f" · :x: {escape(_truncate(reason, 160))}"
        # Backticks (text pasted as code) would close the line's code span early; the grammar ignores them.
        text = " ".join(r.text.replace("`", " ").split())
        model = getattr(r, "model", None)
        if getattr(r, "parent_id", None) is not None and model and model.lower() not in text.lower():
            text_part = f"`{escape(text)}` on `{escape(model)}`"  # a thread reply that typed only the change
        else:
            text_part = f"`{escape(text)}`"
        lines.append(f"`#{r.id}` {_when(r.created_at)}{who_part} · {text_part}{mark}")
    return lines


def history_message(records: Sequence[Any], *, model: str | None = None, mine: bool = False) -> Message:
    """The ephemeral history listing (newest first, as the store returns it)."""
    scope = "your queries" if mine else "queries in this channel"
    if model:
        scope += f" matching “{escape(model)}”"
    if not records:
        body = f"No {scope} yet. Try `/vram microsoft/phi-4 s=16k`."
        if mine:
            body = body.replace("No your queries", "None of your queries", 1) if model else (
                "You have no queries yet. Try `/vram microsoft/phi-4 s=16k`."
            )
        return _message([_section(body)], [body])
    title = f"*Recent {scope}* (`/vram show &lt;id&gt;` for one)"
    lines = history_lines(records)
    blocks = [_section(title), *_sections(lines)]
    return _message(blocks, [title, *lines])


def gpus_message(gpus: Sequence[Any]) -> Message:
    """The GPU catalog: the key to type and the memory CUDA reports."""
    rows = [f"{'gpu=':<16}{'memory':>10}   name"]
    rows += [f"{escape(g.key):<16}{g.memory_bytes / GIB:>6.1f} GiB   {escape(g.name)}" for g in gpus]
    title = "*GPUs I know* (memory as CUDA reports the device total); use them as `gpu=&lt;key&gt;`"
    blocks = [_section(title)]
    # Code blocks split across sections when the catalog is long.
    chunk: list[str] = []
    for row in rows:
        if sum(len(x) + 1 for x in chunk) + len(row) > SECTION_LIMIT - 20:
            blocks.append(_section(_code(chunk)))
            chunk = []
        chunk.append(row)
    if chunk:
        blocks.append(_section(_code(chunk)))
    return _message(blocks, [title, *rows])


def help_message() -> Message:
    # The grammar's <placeholders> are literal text, not Slack links.
    text = escape(slack_help())
    return _message([_section(text)], [_plain(text)])


# -- App Home ---------------------------------------------------------------------------------
def home_view(records: Sequence[Any], *, error: str | None = None) -> dict[str, Any]:
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
        blocks += _sections(history_lines(records))
    else:
        blocks.append(_section("You have no queries yet."))
    return {"type": "home", "blocks": blocks[:100]}
