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

from estimator.result import Estimate
from estimator.spec import Frozen

GIB = 1024**3
BAR_WIDTH = 30
SECTION_LIMIT = 3000  # Slack's limit on a section's text
MAX_BLOCKS = 50  # Slack's limit on blocks per message
# The bar: one fill character per component, then the free part of the GPU.
BAR_FILL = {"weights": "█", "kv": "▓", "activations": "▒", "overhead": "░"}
BAR_FREE = "·"
REPLY_HINT = (
    "Reply in this thread to change one thing: `s=32k` · `b=8` · `gpu=a100-40gb` · `kv=fp8` · `engine=vllm`"
)
INVITE_HINT = (
    "I can't post in this conversation, so only you see this. "
    "To share answers here and ask follow-ups in a thread, invite me with `/invite @vram`."
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


def gib(n_bytes: int) -> str:
    """Bytes as GiB with one decimal (``34.1 GiB``)."""
    return f"{n_bytes / GIB:.1f} GiB"


def signed_gib(n_bytes: int) -> str:
    sign = "+" if n_bytes >= 0 else "-"
    return f"{sign}{abs(n_bytes) / GIB:.1f} GiB"


def per_token(n_bytes: int) -> str:
    """A per-token size in the unit that reads best (``200 KiB``, ``1.5 MiB``)."""
    if n_bytes >= 1024**2:
        return f"{n_bytes / 1024**2:.1f} MiB"
    if n_bytes >= 1024:
        value = n_bytes / 1024
        return f"{value:.0f} KiB" if value >= 100 else f"{value:.1f} KiB"
    return f"{n_bytes} B"


def tokens(n: int) -> str:
    """A token count in a compact form (``233k``, ``1.2M``, ``512``)."""
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f}M"
    if n >= 10_000:
        return f"{n // 1000}k"
    return f"{n:,}"


def params(n: int) -> str:
    """A parameter count in billions (``14.66B``) or millions below one billion."""
    if n >= 1_000_000_000:
        return f"{n / 1e9:.2f}B"
    return f"{n / 1e6:.0f}M"


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def _truncate(text: str, limit: int = SECTION_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _truncate(text)}}


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


# -- one estimate -----------------------------------------------------------------------------
def header_line(est: Estimate) -> str:
    """``model @ sha · bf16 · s=16,384 · b=1 · fused attention · transformers`` (escaped)."""
    q = est.query
    model = escape(est.model)
    if est.revision:
        model += f" @ {escape(est.revision[:7])}"
    parts = [model, escape(est.details.weight_format), f"s={q.seq_len:,}", f"b={q.batch:,}"]
    parts.append("fused attention" if q.flash_attention else "eager attention")
    if q.kv == "off":
        parts.append("no KV cache")
    elif est.details.kv_dtype and est.details.kv_dtype != est.details.weight_format:
        parts.append(f"KV {escape(est.details.kv_dtype)}")
    if q.gpus > 1:
        parts.append(f"{q.gpus} GPUs (TP)")
    parts.append(q.engine)
    if q.method == "classic":
        parts.append("classic formulas")
    return " · ".join(parts)


def verdict_line(est: Estimate) -> str:
    """``Total 34.1 GiB: fits one H100 80GB with 45.1 GiB to spare`` (or why it does not)."""
    q = est.query
    total = f"Total {gib(est.memory.total)}" + (" per GPU" if q.gpus > 1 else "")
    fit = est.fit
    if fit is None:
        return f"{total} (add `gpu=h100` to check the fit)"
    name = escape(fit.gpu_name)
    where = f"one {name}" if q.gpus == 1 else f"each of {q.gpus} {name}"
    if fit.fits:
        return f"{total}: fits {where} with {gib(fit.headroom)} to spare"
    line = f"{total}: does not fit {where} ({gib(-fit.headroom)} short)"
    if fit.min_gpus > q.gpus:
        line += f"; it fits on {fit.min_gpus} of them (`gpus={fit.min_gpus}`)"
    elif fit.min_gpus == 0:
        line += "; no tensor-parallel group of these fits it"
    return line


def bar(est: Estimate, width: int = BAR_WIDTH) -> str:
    """The split as a bar, scaled to the GPU when ``gpu=`` is given (free space shown as dots)."""
    m = est.memory
    parts = {"weights": m.weights, "kv": m.kv_cache, "activations": m.activations, "overhead": m.overhead}
    scale = m.total
    if est.fit is not None:
        scale = max(scale, est.fit.gpu_memory)
    if scale <= 0:
        return "[" + BAR_FREE * width + "]"
    # Largest remainder, so the cells add up to exactly the share of the scale that is used.
    used_cells = round(width * m.total / scale)
    exact = {k: width * v / scale for k, v in parts.items()}
    cells = {k: int(x) for k, x in exact.items()}
    order = sorted(parts, key=lambda k: exact[k] - cells[k], reverse=True)
    for k in order[: max(0, used_cells - sum(cells.values()))]:
        cells[k] += 1
    filled = "".join(BAR_FILL[k] * cells[k] for k in parts)
    return "[" + filled + BAR_FREE * (width - len(filled)) + "]"


def bar_line(est: Estimate) -> str:
    m = est.memory
    legend = (
        f"weights {m.weights / GIB:.1f} | KV {m.kv_cache / GIB:.1f} | "
        f"activations {m.activations / GIB:.1f} | overhead {m.overhead / GIB:.1f} GiB"
    )
    return f"`{bar(est)}` {legend}"


def breakdown_lines(est: Estimate) -> list[str]:
    """The table: each term with the arithmetic behind it (escaped, for a code block)."""
    q, m, d = est.query, est.memory, est.details
    weights_why = f"{params(est.params_total)} parameters in {escape(d.weight_format)}"
    if est.params_active is not None and est.params_active != est.params_total:
        weights_why += f" ({params(est.params_active)} active per token)"
    if q.gpus > 1:
        weights_why += f", split over {q.gpus} GPUs"
    if q.kv == "off" or d.kv_dtype is None:
        kv_why = "off (kv=off): every step recomputes attention"
    else:
        kv_why = (
            f"{per_token(d.kv_bytes_per_token)} per token x {plural(q.seq_len, 'token')}"
            f" x {plural(q.batch, 'sequence')}"
        )
        if m.kv_cache < d.kv_bytes_per_token * q.seq_len * q.batch:
            kv_why += " (windowed layers keep less)"
        kv_why += f", {escape(d.kv_dtype)}"
    attention = "fused attention" if q.flash_attention else "eager attention"
    act_why = f"peak: {escape(d.activation_peak_where)}, {attention}"
    over_why = "CUDA context and allocator" if q.engine == "transformers" else (
        "CUDA context, non-torch memory, CUDA graphs"
    )
    rows = [
        ("Weights", m.weights, weights_why),
        ("KV cache", m.kv_cache, kv_why),
        ("Activations", m.activations, act_why),
        ("Overhead", m.overhead, over_why),
        ("Total", m.total, "per GPU" if q.gpus > 1 else ""),
    ]
    return [f"{label:<12}{m_bytes / GIB:>7.1f} GiB   {why}".rstrip() for label, m_bytes, why in rows]


def classic_lines(est: Estimate) -> list[str]:
    """The original calculator's six lines (``method=classic``)."""
    c = est.classic

    def gb(x: float | None) -> str:
        return "n/a" if x is None else f"{x} GB"

    return [
        f"Memory consumption of the model: {gb(c.model_gb)}",
        f"Memory consumption of vanilla inference: {gb(c.vanilla_gb)}",
        f"Memory consumption of inference with GQA: {gb(c.gqa_gb)}",
        f"Memory consumption of inference with FlashAttention: {gb(c.flash_gb)}",
        f"Memory consumption of the KV cache (with GQA): {gb(c.kv_cache_gb)}",
        f"Total Memory consumption (given the selected configuration): {gb(c.total_gb)}",
    ]


def max_line(est: Estimate) -> str | None:
    fit = est.fit
    if fit is None:
        return None
    q = est.query
    if fit.max_seq_len <= 0 and fit.max_batch <= 0:
        return f"Max on this GPU: not one token at b={q.batch:,} (the weights alone do not fit)"
    seq = f"{tokens(fit.max_seq_len)} tokens at b={q.batch:,}" if fit.max_seq_len > 0 else (
        f"no sequence at b={q.batch:,}"
    )
    batch = f"b={fit.max_batch:,} at s={q.seq_len:,}" if fit.max_batch > 0 else f"no batch at s={q.seq_len:,}"
    return f"Max on this GPU: {seq}, or {batch}"


def vllm_line(est: Estimate) -> str | None:
    v = est.vllm
    if v is None:
        return None
    return (
        f"vLLM {escape(v.version)} at util={est.query.util:g}: KV cache pool {gib(v.kv_cache_memory)}"
        f" = {v.kv_cache_tokens:,} tokens,"
        f" max concurrency {v.max_concurrency:.2f}x at s={est.query.seq_len:,}"
    )


def classic_note(est: Estimate) -> str | None:
    """Say so when the classic formula is more than 10% off ours, in total or in its KV term."""
    c = est.classic
    if est.query.method == "classic" or c.total_gb is None or est.memory.total <= 0:
        return None
    if any("classic formula" in w for w in est.warnings):  # the estimator already said it
        return None
    ours = est.memory.total
    theirs = c.total_gb * 1e9
    ratio = est.details.classic_kv_ratio  # ours / classic KV
    line = f"The classic formula says {c.total_gb} GB here"
    if ratio is not None and ratio > 1.1:
        return line + f": its KV cache term is {ratio:.1f}x too small."
    if ratio is not None and 0 < ratio < 1 / 1.1:
        return line + f": its KV cache term is {1 / ratio:.1f}x too large."
    if abs(theirs - ours) > 0.1 * ours:
        return line + f" ({'under' if theirs < ours else 'over'} ours by {abs(theirs - ours) / GIB:.1f} GiB)."
    return None


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
    extra = [x for x in (max_line(est), vllm_line(est), classic_note(est)) if x]
    if extra:
        blocks.append(_section("\n".join(extra)))
        text += extra
    if est.warnings:
        warn = "\n".join(f":warning: {escape(w)}" for w in est.warnings)
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
    """``Changed `s=32k`, `b=8`: total 34.1 GiB → 40.2 GiB (+6.1 GiB)``, plus a fit change."""
    what = ", ".join(f"`{escape(k)}={escape(str(v))}`" for k, v in changes.items()) or "nothing"
    before, after = base.memory.total, new.memory.total
    line = f"Changed {what}: total {gib(before)} → {gib(after)} ({signed_gib(after - before)})"
    if base.fit is not None and new.fit is not None and base.fit.fits != new.fit.fits:
        line += "; it now fits" if new.fit.fits else "; it no longer fits"
    return line


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
    warnings = [f":warning: {escape(e.model)}: {escape(w)}" for e in (a, b) for w in e.warnings]
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
        mark = "" if status == "ok" else f" · :x: {escape(str(status))}"
        lines.append(f"`#{r.id}` {_when(r.created_at)}{who_part} · `{escape(r.text)}`{mark}")
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
    blocks = [_section(title)]
    # Several sections, so long listings stay under Slack's per-section limit.
    chunk: list[str] = []
    for line in lines:
        if sum(len(x) + 1 for x in chunk) + len(line) > SECTION_LIMIT - 10:
            blocks.append(_section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append(_section("\n".join(chunk)))
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


HELP_TEXT = """*`/vram <model>[@revision] [key=value ...]`*: how much GPU memory a Hub model needs to serve.
```
s (seq, ctx)   tokens per sequence: 4096, 32k, 1m        default 4096
b (batch)      concurrent sequences                      default 1
p (bits)       bits per weight: 4 8 16 32                from the checkpoint
dtype (q)      bf16 fp16 fp32 fp8 int8 int4 nf4 mxfp4 awq gptq
kv             on off auto bf16 fp16 fp8 int8            default on
fa (flash)     fused attention on/off                    default on
n (params)     parameter count override, billions
gpu            h100, a100-40gb, l4, rtx4090, ...         see /vram gpus
gpus (tp)      tensor-parallel GPUs                      default 1
engine         transformers vllm                         default transformers
util           vLLM gpu_memory_utilization               default 0.9
mnbt, seqs     vLLM max_num_batched_tokens, max_num_seqs
method         calibrated classic                        default calibrated
```
*Examples*
• `/vram microsoft/phi-4 s=16k gpu=h100`
• `/vram Qwen/Qwen3-30B-A3B s=32k b=8 kv=fp8 engine=vllm gpu=h100`
• `/vram meta-llama/Llama-3.1-8B@main dtype=int4 gpu=l4`
• `/vram microsoft/phi-4 n=14.7 s=16384 method=classic`
*Also*: `/vram history [model] [mine]` · `/vram show <id>` · `/vram gpus`
· `/vram compare <a> <b> [key=value ...]`
*Follow-ups*: reply in an answer's thread with a change (`s=32k`, `b=8 kv=fp8`, `@vram gpus=2`)."""


def help_message() -> Message:
    # The grammar's <placeholders> are literal text, not Slack links.
    text = escape(HELP_TEXT)
    return _message([_section(text)], [_plain(text)])


# -- App Home ---------------------------------------------------------------------------------
def home_view(records: Sequence[Any]) -> dict[str, Any]:
    """The App Home tab: how to ask, and the user's recent queries."""
    blocks: list[Block] = [
        _header("vram: GPU memory for LLM inference"),
        _section(
            "Ask in any channel I'm in: `/vram microsoft/phi-4 s=16k gpu=h100`, then reply in the "
            "answer's thread to change one thing. `/vram help` lists every key."
        ),
        {"type": "divider"},
    ]
    if records:
        blocks.append(_section("*Your recent queries*"))
        lines = history_lines(records)
        chunk: list[str] = []
        for line in lines:
            if sum(len(x) + 1 for x in chunk) + len(line) > SECTION_LIMIT - 10:
                blocks.append(_section("\n".join(chunk)))
                chunk = []
            chunk.append(line)
        if chunk:
            blocks.append(_section("\n".join(chunk)))
    else:
        blocks.append(_section("You have no queries yet."))
    return {"type": "home", "blocks": blocks[:100]}
