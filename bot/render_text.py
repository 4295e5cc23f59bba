"""Terminal rendering (rich) of replies: the estimate table, GPUs, history, compare, help."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from bot import report
from bot.console import plain
from bot.echo import neutral
from bot.helptext import terminal_help
from bot.names import model_name, shorten_paths
from estimator.classic import classic_lines
from estimator.gpus import GPU
from estimator.result import Estimate
from store.records import QueryRecord


def help_text() -> str:
    return plain(terminal_help())


def _shown(est: Estimate) -> Estimate:
    """``est`` with a local model named as people know it (the header would show the absolute path)."""
    name = model_name(est.model)
    if name == est.model:
        return est
    return est.model_copy(update={"model": f"{name} (local)"})


def _gib2(n_bytes: int) -> str:
    return f"{n_bytes / report.GIB:,.2f}"


def print_estimate(est: Estimate, console: Console, *, answered: bool = False) -> None:
    """The breakdown table, verdict, bar, capacity and warnings (``answered``: a question's answer
    line is printed above it)."""
    # One line each, never wrapped: the header is what people paste into a ticket.
    console.print(Text(report.header(_shown(est)), style="bold"), soft_wrap=True)
    console.print(Text(plain(report.verdict(est, answered=answered))), soft_wrap=True)
    console.print(Text(f"{report.bar(est)} {report.bar_legend(est)}"), soft_wrap=True)
    per_gpu = " per GPU" if report.world(est.query) > 1 else ""
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("")
    table.add_column(f"GiB{per_gpu}", justify="right")
    table.add_column("bytes", justify="right")
    table.add_column("how")
    for label, n_bytes, why in report.breakdown(est):
        style = "bold" if label == "Total" else ""
        table.add_row(
            Text(label, style=style), Text(_gib2(n_bytes), style=style), f"{n_bytes:,}", "" if label == "Total" else why
        )
    console.print(table)
    for line in (*report.cards_lines(est), report.max_line(est), report.engine_line(est)):
        if line:
            console.print(Text(plain(line)), soft_wrap=True)
    for warning in report.listed_warnings(est):
        console.print(Text(plain(f"! {warning.message}"), style="yellow"))


def classic_text(est: Estimate) -> list[str]:
    """``method=classic``: the six lines of the original calculator."""
    gqa = est.classic.gqa_gb is not None
    return classic_lines(est.classic, gqa=gqa)


def gpus_table(gpus: Sequence[GPU]) -> Table:
    table = Table(show_header=True, header_style="bold", box=None)
    for column in ("gpu=", "name", "GiB (as CUDA/ROCm report)", "bytes", "also"):
        table.add_column(column, justify="right" if column.startswith(("GiB", "bytes")) else "left")
    for gpu in gpus:
        table.add_row(gpu.key, gpu.name, _gib2(gpu.memory_bytes), f"{gpu.memory_bytes:,}", ", ".join(gpu.aliases[:4]))
    return table


def _int(value: object) -> int:
    """A stored byte count (absent counts as 0)."""
    return int(value) if isinstance(value, (int, float, str)) else 0


def history_json(
    records: Sequence[QueryRecord], compares: Sequence[tuple[QueryRecord, QueryRecord]] = ()
) -> list[dict[str, Any]]:
    """``history --json``: newest first, the fields interface.md promises and a few more."""
    partners = report.compare_partners(compares)
    items = []
    for rec in records:
        total = None
        if rec.result and rec.status == "ok":
            memory = rec.result.get("memory")
            parts = memory if isinstance(memory, dict) else {}
            total = sum(_int(parts.get(k)) for k in ("weights", "kv_cache", "activations", "overhead"))
        items.append(
            {
                "id": rec.id,
                "created_at": rec.created_at.isoformat(),
                "model": rec.model_label,
                "revision": rec.revision,
                "text": rec.text,
                "status": rec.status,
                "error": rec.error,
                "total": total,
                # The total is a guess where the model's structure could not be read (no verdict).
                "guess": isinstance(rec.result, dict) and bool(rec.result.get("refused")),
                "parent_id": rec.parent_id,
                "source": rec.conversation.platform,
                # The other side's id when this record is one side of a comparison.
                "compared_with": next((r.id for r in partners.get(rec.id, ()) if r.id != rec.id), None),
            }
        )
    return items


def _total_cell(rec: QueryRecord) -> str | None:
    (item,) = history_json([rec])
    if item["total"] is None:
        return None
    # A total whose structure could not be read is no verdict: the history says so, as the answer did.
    return f"{item['total'] / report.GIB:,.1f}" + (" (a guess)" if item["guess"] else "")


def history_table(
    records: Sequence[QueryRecord],
    compares: Sequence[tuple[QueryRecord, QueryRecord]] = (),
    *,
    model: str | None = None,
) -> Table | Text | Group:
    """Newest first, one row each (a comparison's two sides share one); input mistakes are summed up in
    one line under the table. ``model``: the filter the records matched, which an empty listing names."""
    mistakes = [rec for rec in records if report.is_input_mistake(rec)]
    shown = [rec for rec in records if not report.is_input_mistake(rec)]
    note = None
    if mistakes:
        ids = ", ".join(f"#{rec.id}" for rec in mistakes)
        note = Text(
            f"{report.plural(len(mistakes), 'input mistake')} not listed ({ids}): "
            "vram show <id> shows one, vram history --json lists them all"
        )
    if not shown:
        # With a model filter, estimates of other models may well be kept: say that none match.
        empty = (
            "No estimates kept yet" if model is None else f'No kept estimates match "{neutral(shorten_paths(model))}"'
        )
        return Text(f"{empty}." if note is None else f"{empty}; {note.plain}")
    table = Table(show_header=True, header_style="bold", box=None)
    # Short columns stay on one line; at a narrow terminal only the last one (what was typed) wraps.
    for column in ("id", "when (UTC)", "model", "total GiB", "text"):
        table.add_column(column, justify="right" if column in ("id", "total GiB") else "left", no_wrap=column != "text")
    for rec, sides in report.history_rows(shown, compares):
        text = shorten_paths(rec.text)
        parents = [side.parent_id for side in sides if side.parent_id is not None]
        if parents:
            # A what-if of a comparison changed both sides: both bases, as the id column pairs them.
            text = f"what-if of {' | '.join(f'#{p}' for p in parents)}: {text}"
        totals = [_total_cell(side) for side in sides]
        failed = [side for side, total in zip(sides, totals, strict=True) if total is None]
        total = " | ".join(t or "failed" for t in totals)
        if failed:
            text += ": " + " ".join(plain(side.error or "no estimate") for side in failed)
        table.add_row(
            " | ".join(str(side.id) for side in sides),
            rec.created_at.isoformat()[:16].replace("T", " "),
            neutral(" | ".join(model_name(side.model_label or "") for side in sides)),
            total,
            neutral(text),
        )
    return table if note is None else Group(table, note)


def compare_title(a: Estimate) -> Text:
    """The settings both sides share, one line printed without wrapping (see :func:`compare_table`)."""
    return Text(report.compare_title(a))


def compare_table(a: Estimate, b: Estimate) -> Table:
    """Both sides term by term (the settings they share are :func:`compare_title`, printed above it); a
    side whose total is a guess gets no fit (the notes under the table say why)."""
    table = Table(show_header=True, header_style="bold", box=None)
    table.add_column("")
    table.add_column(model_name(a.model), justify="right")
    table.add_column(model_name(b.model), justify="right")
    for (label, x, _), (_, y, _) in zip(report.breakdown(a), report.breakdown(b), strict=True):
        table.add_row(f"{label} GiB", _gib2(x), _gib2(y))
    table.add_row("Parameters", report.params(a.params_total), report.params(b.params_total))
    table.add_row("KV per token", report.kv_per_token_text(a), report.kv_per_token_text(b))
    pools = report.pool_cells(a), report.pool_cells(b)
    if pools[0] is not None or pools[1] is not None:
        none = ("", "")
        pa, pb = (p or none for p in pools)
        pool_label, requests_label = report.pool_labels(a.query)
        table.add_row(pool_label, pa[0], pb[0])
        table.add_row(requests_label, pa[1], pb[1])
        if a.query.dp > 1:
            table.add_row(
                f"Requests in all ({a.query.dp} replicas)", report.requests_all_cell(a), report.requests_all_cell(b)
            )
    if a.query.gpu_any:
        table.add_row(report.smallest_cards_label(a.query), report.smallest_cards(a), report.smallest_cards(b))
    fit = a if a.fit is not None else b
    if fit.fit is not None:
        table.add_row(report.fit_label(fit), report.fit_word(a), report.fit_word(b))
        fixes = report.fit_fixes(a), report.fit_fixes(b)
        if any(fixes):
            table.add_row("To fit, use", *(f or "" for f in fixes))
    return table


def compare_warnings(a: Estimate, b: Estimate) -> list[str]:
    """Why a side has no verdict, then each side's warnings, named (the classic-formula note left out:
    the table is the comparison)."""
    lines = []
    for est in (a, b):
        why = report.no_verdict(est)
        if why:
            lines.append(plain(f"! {model_name(est.model)}: {why}"))
    for side, warning in report.side_warnings(a, b, lambda w: w.code != "classic_formula"):
        whose = model_name(side.model) if side is not None else "both"
        lines.append(plain(f"! {whose}: {warning.message}"))
    return lines
