"""The content of an answer, front-end neutral: the terminal table and Slack's blocks both render this.

Pure functions of an :class:`~estimator.result.Estimate`. Bytes become GiB here and only here.
Every part that came from a user or the Hub (model id, formats, GPU names, warnings) goes through
``esc``: the identity for the terminal, mrkdwn escaping for Slack (``bot.blocks.escape``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cache
from importlib import metadata
from typing import Any

from estimator.engines import KvTerm, PoolSummary, get_engine
from estimator.engines.vllm import kvmem_setting, kvmem_text
from estimator.grammar import ANY_GPU, KEY_BY_NAME, KEYS, is_default
from estimator.layout import fewest_settings, layout_settings
from estimator.notes import Note
from estimator.query import MAX_GPUS, Query
from estimator.result import CardFit, Estimate, FinestSplit
from estimator.units import gib_text, gib_unit

GIB = 1024**3
BAR_WIDTH = 30
# The bar: one fill character per component, then the free part of the GPU.
BAR_FILL = {"weights": "█", "kv": "▓", "activations": "▒", "overhead": "░"}
BAR_FREE = "·"

Escape = Callable[[str], str]


def same(text: str) -> str:
    """The identity escape (the terminal's)."""
    return text


_same = same


# -- --json -------------------------------------------------------------------------------------
@cache
def vram_version() -> str | None:
    """The installed package's version (None when running from a tree that was never installed)."""
    try:
        return metadata.version("vram")
    except metadata.PackageNotFoundError:
        return None


def estimate_json(est: Estimate, *, record_id: int | None = None, what_if_of: int | None = None) -> dict[str, Any]:
    """The ``--json`` object of one answer: the estimate, the tool's version, the stored record's id,
    and for a what-if (``show 42 s=64k``, a thread reply) the id of the query it changed."""
    data = est.to_json(record_id=record_id, vram_version=vram_version())
    if what_if_of is not None:
        data["what_if_of"] = what_if_of
    return data


# -- numbers ------------------------------------------------------------------------------------
def gib(n_bytes: int) -> str:
    """Bytes as GiB with one decimal (``34.1 GiB``, ``2,509.3 GiB``); from 10,000 GiB in TiB, PiB
    or EiB (``4.0 EiB``)."""
    return gib_text(n_bytes)


def margin(n_bytes: int) -> str:
    """A fit's margin (spare or short) as :func:`gib` shows it, but in MiB where that reads 0.0 GiB: a
    margin of a few MiB is not none."""
    shown = gib(n_bytes)
    if n_bytes == 0 or shown.lstrip("-") != "0.0 GiB":
        return shown
    mib = abs(n_bytes) / 2**20
    return ("-" if n_bytes < 0 else "") + (f"{mib:.1f} MiB" if mib >= 0.05 else "under 0.1 MiB")


def signed_gib(n_bytes: int) -> str:
    sign = "+" if n_bytes >= 0 else "-"
    return sign + gib(abs(n_bytes))


def shown_change(before: int, after: int) -> str:
    """``+6.1 GiB``: the change between two totals as :func:`gib` shows them, so that the line adds
    up (34.1 -> 40.2 is +6.1, though the bytes differ by 6.06 GiB); the bytes' change where either is
    shown in a larger unit, and "under 0.1 GiB" where the shown totals are the same."""
    if gib_unit(before)[0] != "GiB" or gib_unit(after)[0] != "GiB":
        return signed_gib(after - before)
    delta = float(f"{after / GIB:.1f}") - float(f"{before / GIB:.1f}")
    if f"{abs(delta):.1f}" == "0.0":
        return "under 0.1 GiB " + ("more" if after >= before else "less")
    return ("+" if delta >= 0 else "-") + f"{abs(delta):,.1f} GiB"


def held_change(base: Estimate, new: Estimate) -> str:
    """``; vLLM's pool holds 31.67 -> 38.52 requests``: where both answers have an engine's pool that
    starts, the change in what it holds, the engine's own figure of a change (in all, with replicas)."""
    a, b = _pool(base), _pool(new)
    if a is None or b is None or not (a.starts and b.starts) or base.query.engine != new.query.engine:
        return ""
    label = get_engine(new.query.engine).label
    if a.replicas == b.replicas == 1:
        was, now, whose, tail = a.requests, b.requests, f"{label}'s pool holds", ""
    else:
        was, now = a.requests * a.replicas, b.requests * b.replicas
        whose, tail = f"{label}'s replicas hold", " in all"
    if f"{was:.2f}" == f"{now:.2f}":
        return ""
    return f"; {whose} {was:,.2f} → {now:,.2f} requests{tail}"


def per_token(n_bytes: int) -> str:
    """A per-token size (``200 KiB``, ``64 KiB``, ``1.5 MiB``): the one rule of :func:`size`."""
    return size(n_bytes)


def size(n_bytes: int) -> str:
    """A size in the unit that reads best, to three significant digits so that it multiplies back
    (``1.26 GiB``, ``75.5 MiB``, ``7.86 KiB``, ``144 KiB``)."""
    large, large_scale = gib_unit(n_bytes)
    units = ((large, large_scale),) if large != "GiB" else (("GiB", GIB), ("MiB", 1024**2), ("KiB", 1024))
    for unit, scale in units:
        if abs(n_bytes) >= scale or unit == large != "GiB":
            value = n_bytes / scale
            # Whole units with grouped thousands from 999.5 (what three digits round to 1000): never
            # an exponent ("1.67e+03", "1e+03").
            return f"{value:,.0f} {unit}" if abs(value) >= 999.5 else f"{value:.3g} {unit}"
    return f"{n_bytes} B"


def tokens(n: int) -> str:
    """A token count in a compact form (``227k``, ``3.76M``, ``16M``, ``512``), in the grammar's units.

    k is 1024 and M is 1024 x 1024 as in ``s=32k``, and the count is rounded down (to two decimals of
    an M), so what is shown can be typed back (``s=227k``, ``s=3.76m``: the grammar rounds a decimal
    count down to whole tokens) and still fits.
    """
    mega = 1024 * 1024
    if n >= mega:
        hundredths = n * 100 // mega
        whole, part = divmod(hundredths, 100)
        return f"{whole:,}M" if part == 0 else f"{whole:,}.{part:02d}".rstrip("0") + "M"
    if n >= 10_000:
        return f"{n // 1024:,}k"
    return f"{n:,}"


def params(n: int) -> str:
    """A parameter count in billions (``14.66B``) or millions below one billion."""
    if round(n / 1e6) >= 1000:  # 999.9M reads 1.00B, not 1000M
        return f"{n / 1e9:,.2f}B"
    return f"{n / 1e6:.0f}M"


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


# -- one estimate -------------------------------------------------------------------------------
def attention(est: Estimate) -> str:
    """``fused attention`` or ``eager attention``: some engines (vLLM) run fused kernels whatever fa= says;
    ``no attention`` for attention-free stacks (Mamba, RWKV)."""
    if not est.details.attends:
        return "no attention"
    fused = est.details.fused_attention or get_engine(est.query.engine).always_fused_attention
    return "fused attention" if fused else "eager attention"


def header(est: Estimate, esc: Escape = _same) -> str:
    """``model @ sha · bf16 · s=16,384 · b=1 · fused attention · transformers``."""
    q = est.query
    model = esc(est.model)
    if est.revision:
        model += f" @ {esc(est.revision[:7])}"
    context = f"s={q.seq_len:,}" + (" (the model's longest)" if q.seq_len_from_model else "")
    parts = [model, esc(est.details.weight_format), context, f"b={q.batch:,}"]
    parts.append(attention(est))
    if q.kv == "off":
        parts.append("no KV cache")
    elif est.details.kv_dtype and q.kv not in ("on", "auto") and q.kv != est.details.kv_dtype:
        # A dtype asked that the engine does not keep (DeepSeek-V4's fp8-only cache): say both.
        parts.append(f"KV {esc(est.details.kv_dtype)} (kv={q.kv} asked)")
    elif est.details.kv_dtype and est.details.kv_dtype != est.details.weight_format:
        parts.append(f"KV {esc(est.details.kv_dtype)}")
    if q.dp > 1:
        stages = f" x PP {q.pp}, the busiest stage shown" if q.pp > 1 else ""
        parts.append(f"{q.gpus * q.pp * q.dp} GPUs (DP {q.dp} x TP {q.gpus}{stages}; one replica's GPU shown)")
    elif q.pp > 1:
        parts.append(f"{q.gpus * q.pp} GPUs (TP {q.gpus} x PP {q.pp}, the busiest stage shown)")
    elif q.gpus > 1:
        split = get_engine(q.engine).split
        parts.append(f"{q.gpus} GPUs (TP)" if split == "tensor" else f"layers split across {q.gpus} GPUs")
    if speculative := _speculative_words(est, esc):
        parts.append(speculative)
    if q.yarn is not None:
        parts.append(f"YaRN x{q.yarn.factor:g}" + (f" over {q.yarn.original:,}" if q.yarn.original else ""))
    if q.kv_cache_memory is not None and q.engine == "vllm":
        parts.append(f"KV pool kvmem={kvmem_text(q.kv_cache_memory)}")
    # A setting a warning says changes nothing here is not one the header names.
    ignored = {w.message.partition("=")[0] for w in est.warnings if w.code == "setting_ignored"}
    if q.eplb is not None and q.engine == "vllm" and "eplb" not in ignored:
        parts.append(f"EPLB ({q.eplb} redundant expert{'' if q.eplb == 1 else 's'})")
    if q.block_size is not None and q.engine == "vllm":
        parts.append(f"{q.block_size}-token blocks")
    if q.engine == "vllm":
        # The serve flags given that change the numbers, as the line a ticket quotes should show.
        if q.enforce_eager:
            parts.append("eager (no CUDA graphs)")
        if q.prefix_caching is not None and "prefix" not in ignored:
            parts.append(f"prefix caching {'on' if q.prefix_caching else 'off'}")
        if q.mm_limit is not None and "mm" not in ignored:
            items = f"{q.mm_limit} item{'' if q.mm_limit == 1 else 's'} per prompt (mm={q.mm_limit})"
            parts.append("text only (mm=0)" if q.mm_limit == 0 else items)
    engine = get_engine(q.engine)
    name = engine.display_name(q)
    if (note := engine.release_note(q)) is not None:
        name += f" ({note})"
    parts.append(name)
    if q.method == "classic":
        parts.append("classic formulas")
    return " · ".join(parts)


def _speculative_words(est: Estimate, esc: Escape) -> str | None:
    """The speculative decoding sized, as the engine words it (an engine that reads no mtp= or draft=
    has none: a warning says so)."""
    return get_engine(est.query.engine).speculative_words(est, esc)


def _pool(est: Estimate) -> PoolSummary | None:
    """The engine's KV pool as sized, where it has one."""
    return get_engine(est.query.engine).pool(est)


def listed_warnings(est: Estimate) -> list[Note]:
    """The warnings an answer lists under its table: the engine's refusal is left out where the
    verdict line says it already (``--json`` keeps every warning)."""
    refusal = est.fit.engine_refuses if not est.refused and est.fit is not None else None
    if refusal is None:
        # No verdict line: the engine's refusal is a warning (gpu=any's line says it where it holds
        # every card back), and vLLM's warning in the same words goes.
        said = est.query.gpu_any and not est.refused and not card_groups(est)
        return [w for w in compare_warnings(est) if not (said and w.code == "engine_refuses")]
    # vLLM's warning about s past the positions words the same refusal the verdict gives (when that
    # refusal is the one the verdict chose: a TP refusal leaves it to say its own).
    return [
        w
        for w in est.warnings
        if w.code != "engine_refuses"
        and not (w.code == "context_window_exceeded" and w.message.removeprefix(_REFUSES) in refusal)
    ]


_REFUSES = "vLLM refuses it: "  # how vLLM's context_window_exceeded warning opens


def compare_warnings(est: Estimate) -> list[Note]:
    """One side's warnings in a comparison (no verdict line there): vLLM's warning about s past the
    positions is left out where the engine's refusal words the same reason."""
    refusals = [w.message for w in est.warnings if w.code == "engine_refuses"]
    return [
        w
        for w in est.warnings
        if not (w.code == "context_window_exceeded" and any(w.message.removeprefix(_REFUSES) in r for r in refusals))
    ]


def side_warnings(a: Estimate, b: Estimate, keep: Callable[[Note], bool]) -> list[tuple[Estimate | None, Note]]:
    """A comparison's warnings (those ``keep`` takes): one that both sides give is said once (None for
    the side: both), then each side's own, in order."""
    wa = [w for w in compare_warnings(a) if keep(w)]
    wb = [w for w in compare_warnings(b) if keep(w)]
    both = [w for w in wa if w in wb]
    return [
        *((None, w) for w in both),
        *((a, w) for w in wa if w not in both),
        *((b, w) for w in wb if w not in both),
    ]


def world(q: Query) -> int:
    """The GPUs a query's layout takes in all: every pipeline stage's and data-parallel replica's."""
    return q.gpus * q.pp * q.dp


def fewest_layout(est: Estimate) -> tuple[int, str] | None:
    """The fewest-GPUs layout other than the query's: its GPUs in all (every pipeline stage and
    replica counted) and the settings that ask for it as a what-if of the query; None when there is
    none up to the limit or it is the query's own."""
    fit, q = est.fit, est.query
    if fit is None or fit.min_gpus == 0 or (fit.min_gpus, fit.min_gpus_dp) == (q.gpus, q.dp):
        return None
    return fit.min_gpus * q.pp * fit.min_gpus_dp, fewest_settings(fit, q)


# -- gpu=any: the fewest of every card --------------------------------------------------------------
def _card_gpus(card: CardFit, q: Query) -> int:
    """The GPUs in all of a card's fewest layout (every pipeline stage and replica counted)."""
    return card.min_gpus * q.pp * card.min_gpus_dp


def card_groups(est: Estimate) -> list[tuple[int, list[CardFit]]]:
    """``gpu=any``: the cards that hold the query, grouped by the fewest GPUs of each in all (fewest
    first); in a group the card with the least memory first (the catalog's order among equals)."""
    groups: dict[int, list[CardFit]] = {}
    for card in est.cards:
        if card.min_gpus:
            groups.setdefault(_card_gpus(card, est.query), []).append(card)
    return [(n, sorted(cards, key=lambda c: c.gpu_memory)) for n, cards in sorted(groups.items())]


def _card_layout(card: CardFit, q: Query) -> str:
    """A card's fewest layout where it is more than a tensor-parallel group of the query's util:
    ``gpus=2 dp=16``, ``util=0.87``; else empty."""
    parts = []
    if card.min_gpus_dp > 1 or q.pp > 1 or card.min_gpus_dp != q.dp:
        # As typed back beside gpu=<card>: dp=1 said where the query has replicas.
        parts.append(layout_settings(card.min_gpus, card.min_gpus_dp, asked_dp=q.dp))
        if q.pp > 1:
            parts.append(f"pp={q.pp}")
    if card.min_gpus_util is not None:
        parts.append(f"util={card.min_gpus_util:g}")
    return " ".join(parts)


def _counted(n: int, card: CardFit, q: Query, esc: Escape) -> str:
    layout = _card_layout(card, q)
    return f"{n:,} × {esc(card.gpu_name)}" + (f" ({layout})" if layout else "")


def cards_answer(est: Estimate, esc: Escape = _same) -> str:
    """``gpu=any`` in one clause: the card with the least memory that holds the query alone (or the
    fewest of one that do), then the smaller cards that hold it in greater numbers."""
    q = est.query
    groups = card_groups(est)
    if not groups:
        if (general := _general_refusal(est)) is not None:
            return f"no card holds it as asked: {esc(general)}"
        return f"no card in the catalog holds it on up to {MAX_GPUS:,} GPUs (each card's reason below)"
    if world(q) > 1:
        # A layout asked: which cards hold it so, the one with the least memory first.
        held = held_as_asked(est)
        layout = layout_words_of(q)
        if not held:
            return f"no card holds it on {layout} (the fewest of each card below)"
        more = f", as do {len(held) - 1} other cards (below)" if len(held) > 1 else ""
        return f"{world(q):,} × {esc(held[0].gpu_name)} hold it on {layout}{more}{memory_only(est)}"
    # The smallest card at each count, where it has less memory than the smallest at fewer GPUs.
    steps: list[tuple[int, CardFit]] = []
    for n, cards in groups:
        if not steps or cards[0].gpu_memory < steps[-1][1].gpu_memory:
            steps.append((n, cards[0]))
    (n, first), rest = steps[0], steps[1:3]
    if n == 1:
        others = len(groups[0][1]) - 1
        line = f"one {esc(first.gpu_name)} holds it, the card with the least memory that does"
        if others:
            line += f" ({others} more below)"
    else:
        line = f"no one card holds it; the fewest: {_counted(n, first, q, esc)}"
    if rest:
        line += "; on smaller cards, " + " or ".join(_counted(k, card, q, esc) for k, card in rest)
    return line + memory_only(est)


def held_as_asked(est: Estimate) -> list[CardFit]:
    """``gpu=any``: the cards that hold the query on its own layout, the one with the least memory first."""
    return sorted((c for c in est.cards if c.fits), key=lambda c: c.gpu_memory)


def memory_only(est: Estimate) -> str:
    """What memory holds past the model's context window is memory's answer only: said beside each count
    (Slack shows one line); empty within the window."""
    window, q = est.details.context_window, est.query
    if window and q.seq_len > window:
        return f" (memory only: {q.seq_len:,} tokens is past the model's {window:,}-token context window)"
    return ""


def _finest_where(split: FinestSplit) -> str:
    """``at one layer per GPU (61 GPUs)``: the finest split of the layers the engine makes."""
    if split.layers_per_gpu == 1:
        return f"at one layer per GPU ({split.gpus:,} GPUs)"
    return f"on {split.gpus:,} GPUs (vram's limit; up to {split.layers_per_gpu} layers each)"


def finest_split_words(split: FinestSplit, est: Estimate) -> str:
    """Why no split of the layers holds it, at the finest split: one layer's weights (no s helps), or the
    activations each GPU runs whatever the count (a shorter s, a smaller b, fused attention help)."""
    q, m = est.query, split.memory
    if split.at_any_context:
        # Weights past what the card gives (with the context and reserve) at s=1 and b=1: nothing the
        # query shortens helps, so no way out is offered.
        beside = "" if m.weights > split.usable else " beside the CUDA context and allocator reserve"
        return (
            f"{_finest_where(split)} the busiest holds {gib(m.weights)} of weights{beside}, more than the "
            f"{gib(split.usable)} one card gives, at any s"
        )
    return (
        f"{_finest_where(split)} the busiest still needs {gib(m.total)} of {gib(split.usable)}, "
        f"{gib(m.activations)} of it activations at s={q.seq_len:,}, which more GPUs do not divide; "
        f"try {', or '.join(_lower_activations(est))}"
    )


def _lower_activations(est: Estimate) -> list[str]:
    """What lowers the activations each GPU of a layer split runs: only what can still go lower (b=1 is
    the least), and fused attention where eager scores are what is asked."""
    d = est.details
    lower = ["fa=on"] if not d.fused_attention and d.fused_attention_runs else []
    return lower + ["a shorter s"] + (["a smaller b"] if est.query.batch > 1 else [])


def _none_holds(est: Estimate, split: FinestSplit | None = None) -> str:
    """Why no layout of a card holds the query, where the engine refuses none of them (``split``: the
    card's finest split of the layers, where its engine places whole layers)."""
    q, engine = est.query, get_engine(est.query.engine)
    if q.method == "classic":
        return "method=classic sizes the whole model on one GPU"  # the original calculator's terms
    if engine.split == "layers" and split is not None and split.at_any_context:
        weights = gib(split.memory.weights)
        return f"{_finest_where(split)}, the busiest GPU's {weights} of weights are more than the card holds at any s"
    if engine.split == "layers":
        # Whole layers per GPU: each GPU runs the full-width activations, whatever the count (the least
        # of them at the finest split, where its layers' own differ); eager scores are what fa=on lowers.
        activations = split.memory.activations if split is not None else est.memory.activations
        line = (
            f"each GPU still runs {gib(activations)} of activations at s={q.seq_len:,}, which more GPUs do not divide"
        )
        return line + (f"; try {', or '.join(_lower_activations(est))}")
    unsearched = [
        what
        for what, searched in (
            ("expert parallelism (ep=on)", q.expert_parallel or not est.params_active),
            ("pp=", q.pp > 1),
        )
        if not searched
    ]
    line = f"no tensor-parallel group {engine.label} accepts, nor replicas of one, holds it on up to {MAX_GPUS:,} GPUs"
    return line + (f"; not searched: {' and '.join(unsearched)}" if unsearched else "")


def _general_refusal(est: Estimate) -> str | None:
    """The engine's refusal of the query whatever the card (``s=`` past the model's positions), as
    the estimate without a GPU warns it; None where there is none."""
    return next((w.message.rstrip(".") for w in est.warnings if w.code == "engine_refuses"), None)


def layout_words_of(q: Query) -> str:
    """``4 GPUs``, ``8 GPUs (gpus=2 pp=2 dp=2)``: a query's layout in words."""
    settings = [f"gpus={q.gpus}"] + [f"{k}={v}" for k, v in (("pp", q.pp), ("dp", q.dp)) if v > 1]
    count = f"{world(q):,} GPU{'s' if world(q) > 1 else ''}"
    return count + (f" ({' '.join(settings)})" if q.pp > 1 or q.dp > 1 else "")


def cards_lines(est: Estimate, esc: Escape = _same, *, limit: int | None = None) -> list[str]:
    """``gpu=any``'s list: each count of GPUs and the cards that take that many (as ``gpu=`` keys, so
    one can be typed back), then the cards that hold it in no layout, with why; ``limit``: the most
    keys a line names (the cards with the least memory), the rest counted."""
    q = est.query
    if not q.gpu_any or est.refused:
        return []

    def word(card: CardFit, layouts: bool) -> str:
        notes = [layout] if layouts and (layout := _card_layout(card, q)) else []
        if layouts and card.ways and not card.fits:
            # Fewer of it hold it with another engine setting (vLLM's seqs= on a large card).
            notes.append(f"{layout_words_of(q)} with {' or '.join(card.ways)}")
        if layouts and card.fewer is not None:
            # Fewer of it than its fewest layout, with the engine's setting there (vLLM's mnbt=).
            fw = card.fewer
            n = fw.gpus * fw.dp * q.pp
            at = layout_settings(fw.gpus, fw.dp, asked_dp=q.dp)
            notes.append(f"{n:,} GPU{'s' if n > 1 else ''} with {at} {fw.settings}".replace("  ", " "))
        return card.gpu + (f" ({'; '.join(notes)})" if notes else "")

    def keys(cards: list[CardFit], *, layouts: bool = True) -> str:
        words = [word(c, layouts) for c in cards]
        if limit is not None and len(words) > limit:
            words = [*words[:limit], f"and {len(words) - limit} more"]
        return ", ".join(words)

    groups = card_groups(est)
    lines = [esc("The fewest of each card that hold it (gpu=any; gpu=<card> answers for one):")]
    if world(q) > 1:
        # A layout asked: the cards that hold it so first, then the fewest of each of the others.
        held = held_as_asked(est)
        lines = [esc(f"On {layout_words_of(q)} as asked: ") + (keys(held, layouts=False) if held else "no card")]
        groups = [(n, rest) for n, cards in groups if (rest := [c for c in cards if not c.fits])]
        if groups:
            lines.append(esc("The fewest of each other card that hold it (gpu=<card> answers for one):"))
    many = [(n, card) for n, cards in groups if n > MANY_GPUS for card in cards]
    for n, cards in groups:
        if n <= MANY_GPUS:
            lines.append(f"{n:,} GPU{'s' if n > 1 else ''}: {keys(cards)}")
    if many:
        # Past a few nodes the layouts are no plan for most (64 consumer cards over PCIe): one line.
        lines.append(f"more than {MANY_GPUS} GPUs: " + ", ".join(f"{c.gpu} ({n:,})" for n, c in many))
    # Cards refused for one reason share a line: the reason said once, each card's name left out of it.
    unheld: dict[str, list[CardFit]] = {}
    general = _general_refusal(est)
    for card in est.cards:
        if not card.min_gpus:
            why = card.refusal or _none_holds(est, card.finest_split)
            if general is not None and why.startswith(general.split("; ")[0]):
                # The refusal said above, whatever the card: only the ways out differ (their layouts).
                ways = re.search(r"; (?:or )?(use .*)", why)
                why = f"as asked; {ways[1]}" if ways else "as asked"
            named = why.rstrip(".").replace(card.gpu_name, _CARD)
            # The card's own figure ("and the NVIDIA Tesla T4 16GB is 7.5") goes where cards share the rule.
            shared = re.sub(rf",? (?:not )?(?:on|for) (?:the )?{_CARD_RE}$", "", named)
            shared = re.sub(
                rf",? and the {_CARD_RE} is (?:(?:compute capability )?\d+(?:\.\d+)?|not an NVIDIA GPU)", "", shared
            )
            unheld.setdefault(shared, []).append(card)
    for why, cards in unheld.items():
        if _CARD not in why:
            lines.append(f"none: {keys(cards, layouts=False)} ({esc(why)})")
            continue
        # The card is named inside the reason: one line each.
        lines += [f"none: {c.gpu} ({esc(why.replace(_CARD, c.gpu_name))})" for c in cards]
    loaded = [c for c in est.cards if c.loaded_as]
    if loaded:
        # Their counts are for other bytes than the rows above: say which, and why.
        names = keys(loaded, layouts=False)
        why = "the engine's kernels for the checkpoint's format need a newer GPU"
        lines.append(f"loaded as {esc(loaded[0].loaded_as or '')} on {names} ({esc(why)})")
    return lines


# gpu=any: the cards that take more GPUs than this share one line of the list.
MANY_GPUS = 64
_CARD = "\x00card\x00"  # a card's name in a reason shared by several cards
_CARD_RE = re.escape(_CARD)


def card_change(est: Estimate) -> tuple[str, str] | None:
    """``gpu=any``'s next step: (what it is, the settings that ask it) for the card with the least
    memory at the fewest GPUs (``1 × h100-pcie``, ``gpu=h100-pcie``); None where no card holds it."""
    groups, q = card_groups(est), est.query
    if not groups or est.refused:
        return None
    n, cards = groups[0]
    card = cards[0]
    change = f"gpu={card.gpu}"
    if (card.min_gpus, card.min_gpus_dp) != (q.gpus, q.dp):
        change += " " + layout_settings(card.min_gpus, card.min_gpus_dp, asked_dp=q.dp)
    if card.min_gpus_util is not None:
        change += f" util={card.min_gpus_util:g}"
    return f"{n:,} × {card.gpu}", change


def smallest_cards_label(q: Query) -> str:
    """The comparison row :func:`smallest_cards` fills."""
    return "Fewest GPUs" if world(q) == 1 else f"Smallest card on {world(q):,} GPUs"


def smallest_cards(est: Estimate) -> str:
    """A comparison's cell for ``gpu=any``: the fewest of the smallest card that holds it alone, or of
    the card that takes the fewest (``1 × h100-pcie``, ``2 × a100-40gb``)."""
    groups = card_groups(est)
    if est.refused:
        return "no verdict"
    if world(est.query) > 1:
        # A layout asked: the card with the least memory that holds it so.
        held = held_as_asked(est)
        return f"{world(est.query):,} × {held[0].gpu}" if held else "none"
    if not groups:
        return "none"
    n, cards = groups[0]
    layout = _card_layout(cards[0], est.query)
    return f"{n:,} × {cards[0].gpu}" + (f" ({layout})" if layout else "")


def offered_layout(est: Estimate) -> tuple[int, str] | None:
    """The fewest layout the memory verdict offers (its GPUs in all and its settings): more GPUs than
    asked, or fewer replicas of a larger group on as many, or replicas where one group is too small."""
    fewest, fit, q = fewest_layout(est), est.fit, est.query
    if fewest is None or fit is None:
        return None
    if fit.min_gpus_dp == 1 and not (fewest[0] > world(q) or q.dp > 1):
        return None
    return fewest


def verdict(est: Estimate, esc: Escape = _same, *, answered: bool = False) -> str:
    """``Total 34.1 GiB: fits one H100 80GB with 45.1 GiB to spare`` (or why it does not). ``answered``:
    a question's answer line stands above it, which for ``gpu=any`` already names the cards."""
    q = est.query
    total_gpus = world(q)
    total = f"Total {gib(est.memory.total)}" + (" per GPU" if total_gpus > 1 else "")
    fit = est.fit
    if est.refused:
        return f"{total} is a guess, not a verdict: {esc(' '.join(est.refused))}"
    if fit is None and q.gpu_any and answered:
        return f"{total} (no card in particular: each card's count below)"
    if fit is None and q.gpu_any:
        # The rows are sized for no card (each card is sized as gpu=<card> would be, a little apart).
        return f"{total} (no card in particular): {cards_answer(est, esc)}"
    if fit is None:
        return f"{total} (add `gpu=h100` to check the fit, `gpu=any` for every card)"
    if fit.engine_refuses:
        line = f"{total}: {esc(fit.engine_refuses)}"
        # The refusal names the accepted sizes next to the one asked; say so where fewer GPUs than
        # asked hold it (gpus=3 refused, one GPU enough).
        enough = fit.min_gpus * fit.min_gpus_dp
        layout = layout_settings(fit.min_gpus, fit.min_gpus_dp, asked_dp=q.dp)
        if 0 < enough < q.gpus * q.dp and f"{layout} " not in f"{fit.engine_refuses} ":
            line += f"; {fewest_settings(fit, q)} is enough"
        return line
    engine = get_engine(q.engine)
    own = engine.verdict(est, esc)
    if own is not None:
        return own
    name = esc(fit.gpu_name)
    where = f"one {name}" if total_gpus == 1 else f"each of {total_gpus} {name}"
    split = "tensor-parallel group" if engine.split == "tensor" else "split of its layers"
    if fit.fits:
        return f"{total}: fits {where} with {margin(fit.headroom)} to spare"
    line = f"{total}: does not fit {where} ({margin(-fit.headroom)} short)"
    fewest = offered_layout(est)
    if fewest is not None and fit.min_gpus_dp == 1:
        line += f"; it fits on {fewest[0]} of them (`{fewest[1]}`)"
    elif fewest is not None:
        line += f"; it fits on {fewest[0]}, {fit.min_gpus_dp} replicas of {fit.min_gpus} (`{fewest[1]}`)"
    elif fit.min_gpus == 0 and fit.min_gpus_refusal:
        # Memory is not what stops more GPUs: the engine starts none of them.
        line += f"; more GPUs do not start it: {esc(fit.min_gpus_refusal)}"
    elif fit.min_gpus == 0:
        if engine.split == "layers" and fit.finest_split is not None:
            line += f"; no split of its layers over more GPUs fits it: {finest_split_words(fit.finest_split, est)}"
        else:
            line += f"; no {split} of these fits it"
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


def bar_legend(est: Estimate) -> str:
    """``weights 15.3 | KV 0.3 | activations 0.4 | overhead 1.5 GiB``; past 10,000 GiB each part in its own
    unit, so that 12.8 GiB of weights beside TiB of activations does not read 0.0."""
    m = est.memory
    unit, scale = gib_unit(m.total)
    parts = (("weights", m.weights), ("KV", m.kv_cache), ("activations", m.activations), ("overhead", m.overhead))
    if unit != "GiB":
        return " | ".join(f"{name} {gib(n)}" for name, n in parts)
    return " | ".join(f"{name} {n / scale:,.1f}" for name, n in parts) + f" {unit}"


def breakdown(est: Estimate, esc: Escape = _same) -> list[tuple[str, int, str]]:
    """(label, bytes, the arithmetic behind it) for weights, KV cache, activations, overhead, total."""
    q, m, d = est.query, est.memory, est.details
    weights_why = f"{params(est.params_total)} parameters in {esc(d.weight_format)}"
    if q.params_billions is not None:
        # n= scales the weights: say so, or the line contradicts its own number.
        weights_why = (
            f"{params(round(q.params_billions * 1e9))} parameters (n={q.params_billions:g}, "
            f"the checkpoint has {params(est.params_total)}) in {esc(d.weight_format)}"
        )
    elif est.params_active is not None and est.params_active != est.params_total:
        # Beside the count, not after the format: a format may end in its own parentheses.
        weights_why = (
            f"{params(est.params_total)} parameters ({params(est.params_active)} active per token) "
            f"in {esc(d.weight_format)}"
        )
    ranks = getattr(est.engine_report, "pipeline", ())
    if q.pp > 1 and ranks:
        # The busiest stage's layers: the one whose totals the answer shows.
        busiest = ranks[getattr(est.engine_report, "pipeline_shown", None) or 0]
        layers = f"layers {busiest.first_layer}-{busiest.first_layer + busiest.layers - 1}"
        # The stage's own count beside the whole model's, or the whole count reads as the stage's.
        whole = f"{params(est.params_total)} parameters"
        weights_why = weights_why.replace(whole, f"{params(busiest.params)} of {whole}", 1)
        weights_why += f", pipeline stage {busiest.rank + 1} of {q.pp} ({layers})"
        if est.params_active is not None and (q.dp > 1 or (q.expert_parallel and q.gpus > 1)):
            weights_why += _moe_split_words(q)
        elif q.gpus > 1:
            weights_why += f" split over {q.gpus} GPUs"
    elif q.gpus > 1 and get_engine(q.engine).split == "layers":
        weights_why += f", the busiest GPU's layers of {q.gpus}"
    elif est.params_active is not None and (q.dp > 1 or (q.expert_parallel and q.gpus > 1)):
        weights_why += _moe_split_words(q)
    elif q.gpus > 1:
        weights_why += f", split over {q.gpus} GPUs"
    # A speculative-decoding drafter (vLLM draft=): its weights and KV layers are inside both lines.
    drafter = getattr(est.engine_report, "drafter", None)
    if len(d.weight_terms) > 1:
        weights_why = _weight_sum(est, weights_why, esc)
    elif drafter is not None:
        weights_why += f", with the {esc(drafter.method)} drafter's {drafter.weights / GIB:,.2f} GiB"
    if q.kv == "off" and any(w.code == "kv_off_allocates" for w in est.warnings):
        kv_why = "left out (kv=off); the engine allocates its KV cache all the same"
    elif q.kv == "off" or d.kv_dtype is None:
        kv_why = "off (kv=off): every step recomputes attention"
    elif d.kv_terms:
        kv_why = _kv_sum(est, esc(d.kv_dtype))
    else:
        token_bytes = d.kv_bytes_per_token + (drafter.kv_bytes_per_token if drafter is not None else 0)
        kv_why = (
            f"{per_token(d.kv_bytes_per_token)} per token"
            + (f" + the drafter's {per_token(drafter.kv_bytes_per_token)}" if drafter is not None else "")
            + f" x {plural(q.seq_len, 'token')}"
        )
        state = d.kv_fixed_bytes_per_sequence
        if state and not token_bytes:  # attention-free: only the states
            kv_why = f"{size(state)} of recurrent state"
        elif state:
            # Mamba, linear-attention and conv states: per sequence, whatever its length.
            kv_why = f"({kv_why} + {size(state)} of recurrent state)"
        kv_why += f" x {_sequences(est)}"
        if m.kv_cache < (token_bytes * q.seq_len + state) * (d.running_batch or q.batch):
            kv_why += " (windowed layers keep less)"
        kv_why += f", {esc(d.kv_dtype)}"
    act_why = f"peak: {esc(d.activation_peak_where)}, {attention(est)}"
    over_why = get_engine(q.engine).overhead_label
    engine_report = est.engine_report
    non_torch, graphs = getattr(engine_report, "non_torch", None), getattr(engine_report, "cuda_graphs", None)
    if isinstance(non_torch, int) and isinstance(graphs, int) and q.method == "calibrated":
        # vLLM's terms: the CUDA context is the rest of the row.
        context = m.overhead - non_torch - graphs
        over_why = (
            f"CUDA context {context / GIB:.2f} + non-torch memory {non_torch / GIB:.2f} + "
            f"CUDA graphs {graphs / GIB:,.2f} GiB"
        )
    elif d.overhead_terms and q.method == "calibrated":
        over_why = _overhead_sum(est)
    return [
        ("Weights", m.weights, weights_why),
        ("KV cache", m.kv_cache, kv_why),
        ("Activations", m.activations, act_why),
        ("Overhead", m.overhead, over_why),
        ("Total", m.total, "per GPU" if world(q) > 1 else ""),
    ]


def _overhead_sum(est: Estimate) -> str:
    """The overhead row as its parts (transformers: the CUDA context and the allocator's reserve)."""
    names = {"context": "CUDA context", "reserve": "allocator reserve", "eager_scores": "eager score blocks"}
    terms = est.details.overhead_terms
    line = " + ".join(f"{names[t.part]} {t.bytes / GIB:,.2f}" for t in terms) + " GiB"
    why = []
    for t in terms:
        if t.part == "reserve" and t.basis:
            share = (t.bytes - t.floor) / t.basis
            beside = " beside the score tensors" if t.basis != est.memory.activations else ""
            why.append(f"reserve: {size(t.floor)} + {share:.0%} of the {size(t.basis)} of activations{beside}")
        elif t.part == "eager_scores":
            why.append(
                f"score blocks: {t.bytes // t.basis} B x {t.basis:,} eager score elements, about one fp32 score "
                "tensor left stranded as the score blocks are reused"
            )
    return line + (f" ({'; '.join(why)})" if why else "")


def _moe_split_words(q: Query) -> str:
    """How a vLLM MoE layout spreads the weights: the routed experts over the tp x dp GPUs (split by
    width, or placed whole with expert parallelism), the rest over each replica's tp group."""
    world = q.gpus * q.dp
    over = f"gpus x dp = {world} GPUs" if q.dp > 1 else f"{world} GPUs"
    experts = f"routed experts placed whole over {over}" if q.expert_parallel else f"routed experts split over {over}"
    rest = f"the rest over {q.gpus}" if q.gpus > 1 else "the rest whole on each"
    return f", {experts}, {rest}"


def _weight_sum(est: Estimate, checkpoint_why: str, esc: Escape) -> str:
    """The weights row as the checkpoint's bytes and what the engine adds or leaves out."""
    drafter = getattr(est.engine_report, "drafter", None)
    method = f"{esc(drafter.method)} " if drafter is not None else ""
    labels = {
        "vision_dropped": "for the vision tower's {params} parameters, not loaded (mm=0 starts text only)",
        "vision_split": "for the vision tower's share the other "
        + ("GPU holds" if est.query.gpus == 2 else f"{est.query.gpus - 1} GPUs hold"),
        "mtp": "of the MTP layers",
        "drafter": f"of the {method}drafter",
        "value_slots": "of value slots loaded with a copy of the keys",
        "eplb_state": "of EPLB maps, load window and rearrangement buffer",
        "zero_points": "of AWQ zero points unpacked for the Machete kernel",
        "gptq_dropped": "of GPTQ zero points and g_idx the kernel does not keep",
        "gptq_act_order": "of activation-order indices and scales the kernel adds",
        "mxfp4_repack": "of MXFP4 expert padding for the MoE kernel",
        "rotary_cache": "of rotary cache",
        "mla_workspaces": "of MLA backend workspaces",
        "load_segments": "of allocator segments rounded up at load (20 MiB split limit)",
    }
    # Parts under 0.005 GiB are nothing the row's two decimals show.
    shown = [t for t in est.details.weight_terms if t.part == "checkpoint" or round(abs(t.bytes) / GIB, 2)]
    if len(shown) < 2:
        return checkpoint_why
    line = checkpoint_why
    for term in shown:
        if term.part == "checkpoint":
            line += f": {term.bytes / GIB:,.2f} GiB"
            continue
        label = labels[term.part].format(params=params(term.params or 0))
        line += f" {'-' if term.bytes < 0 else '+'} {abs(term.bytes) / GIB:,.2f} GiB {label}"
    return line


def kv_per_token(est: Estimate) -> int:
    """Bytes each token of context costs per GPU: the engine's parts over all s tokens where it tells
    them (vLLM: the indexer, MTP and drafter layers too), else the per-token rule."""
    parts = [t for t in est.details.kv_terms if t.part in _KV_SAME_TOKENS and t.tokens == est.query.seq_len]
    return sum(t.bytes_per_token for t in parts) if parts else est.details.kv_bytes_per_token


def kv_per_token_text(est: Estimate) -> str:
    """The per-token figure a comparison shows: the layers that keep all s tokens, plus the sliding-window
    layers' own per-token cost (they keep only a window of tokens), named so the two are not mistaken."""
    q = est.query
    at_s = [t for t in est.details.kv_terms if t.part in _KV_SAME_TOKENS and t.tokens == q.seq_len]
    sliding = sum(t.bytes_per_token for t in est.details.kv_terms if t not in at_s and t.part in _SLIDING)
    text = per_token(kv_per_token(est))
    return f"{text} + {per_token(sliding)} sliding" if at_s and sliding else text


_SLIDING = ("sliding", "drafter_sliding")

_KV_SAME_TOKENS = {"attention": "", "indexer": "the indexer's ", "mtp": "the MTP layers' ", "drafter": "the drafter's "}


def _kv_sum(est: Estimate, dtype: str) -> str:
    """The KV-cache row as what one sequence holds, part by part, times the sequences."""
    q = est.query
    at_s = [t for t in est.details.kv_terms if t.part in _KV_SAME_TOKENS and t.tokens == q.seq_len]
    pieces = []
    if at_s:
        pieces.append(
            " + ".join(f"{_KV_SAME_TOKENS[t.part]}{size(t.bytes_per_token)}" for t in at_s)
            + f" per token x {plural(q.seq_len, 'token')}"
        )
    for t in est.details.kv_terms:
        if t in at_s:
            continue
        if t.part in ("sliding", "drafter_sliding") and not t.bytes_per_token:
            # Cache pages told as a whole (DeepSeek-V4's sliding-window caches): the tokens they cover.
            # With MTP the proposer's layer keeps a sliding cache too (its pages can fill a group's
            # padding, so the bytes need not move).
            mtp = ", the MTP layer's among them" if q.mtp and t.part == "sliding" else ""
            pieces.append(
                f"{size(t.bytes_per_sequence)} of sliding-window caches in {plural(t.layers, 'layer')}{mtp} "
                f"({plural(t.tokens, 'token')}{_kept(t, q.seq_len)})"
            )
        elif t.part in ("sliding", "drafter_sliding") or t.bytes_per_token:
            whose = "the drafter's " if t.part.startswith("drafter") else ""
            pieces.append(
                f"{size(t.bytes_per_token)} per token x {plural(t.tokens, 'token')} in {whose}"
                f"{plural(t.layers, 'sliding-window layer')}{_kept(t, q.seq_len, ' (', ')')}"
                if t.part in ("sliding", "drafter_sliding")
                else f"{whose}{size(t.bytes_per_token)} per token x {plural(t.tokens, 'token')}"
            )
        elif t.part == "compressed":
            rate = f"one entry per {t.compress_rate:,} tokens" if t.compress_rate else "latent and indexer keys"
            pieces.append(
                f"{size(t.bytes_per_sequence)} of compressed cache for {plural(t.tokens, 'token')} in "
                f"{plural(t.layers, 'layer')} ({rate})"
            )
        elif t.part == "compressor":
            pieces.append(
                f"{size(t.bytes_per_sequence)} of compressor states in {plural(t.layers, 'layer')} "
                f"({plural(t.tokens, 'token')}{_kept(t, q.seq_len)})"
            )
        elif t.part == "state":
            pieces.append(
                f"{size(t.bytes_per_sequence)} of recurrent state in {plural(t.layers, 'layer')}{_state_pages(t)}"
            )
        elif t.part == "blocks":
            sign = "- " if t.bytes_per_sequence < 0 else ""
            pieces.append(f"{sign}{size(abs(t.bytes_per_sequence))} for whole blocks and pages padded to one size")
        elif t.part == "granules":
            # DeepSeek-V4's block-outermost cache (compressor states only there) is one segment.
            one = any(x.part == "compressor" for x in est.details.kv_terms)
            whose = "the one block segment" if one else "each layer's blocks"
            pieces.append(f"{size(t.bytes_per_sequence)} for whole granules of {whose}")
        else:
            pieces.append(
                f"{size(t.bytes_per_sequence)} of caches per request (sliding window, compressed latent, "
                "indexer, compressor states)"
            )
    joined = " + ".join(pieces).replace("+ - ", "- ")
    if len(pieces) > 1:
        joined = f"({joined})"
    line = f"{joined} x {_sequences(est)}, {dtype}"
    batched = next((t.batch_tokens for t in est.details.kv_terms if t.in_flight_batches and t.tokens < q.seq_len), 0)
    if batched:
        # The batches a windowed cache keeps beyond its window can be most of a request: name the lever.
        line += f"; a batch is max_num_batched_tokens, {batched:,} here (mnbt= sets it)"
    return line


def _sequences(est: Estimate) -> str:
    """The sequences the KV row counts: b, one replica's share of it, or those the engine runs at
    once (vLLM's max_num_seqs; the rest wait, holding no KV cache)."""
    q, running = est.query, est.details.running_batch
    share = -(-q.batch // q.dp)
    if running is not None:
        whose = f"of the {share:,} each replica gets of b={q.batch:,}" if q.dp > 1 else f"of b={q.batch:,}"
        return f"{plural(running, 'sequence')} (the {running:,} {whose} run at once; the rest wait)"
    if q.dp > 1:
        # One replica's GPU: its share of the batch, as its pool holds it.
        return f"{plural(share, 'sequence')} (b={q.batch:,} over {q.dp} replicas)"
    return plural(q.batch, "sequence")


def _kept(t: KvTerm, seq_len: int, before: str = ": ", after: str = "") -> str:
    """What a windowed part's tokens are: its window and the in-flight batches vLLM keeps beyond it,
    or transformers' window less the token being written; empty when it keeps all s tokens."""
    if t.tokens >= seq_len:
        return ""
    window = f"{t.window:,}-token window" if t.window else "window"
    if not t.in_flight_batches:
        return f"{before}the {window} less one{after}"
    batches = "one batch" if t.in_flight_batches == 1 else f"{t.in_flight_batches} batches"
    return f"{before}{window} + {batches}{after}"


def _state_pages(t: KvTerm) -> str:
    """What a paged engine's state pages per layer are for, and what prefix=off leaves (one page each
    and the speculative tokens'), so that the state's figure can be checked and changed."""
    if not t.pages:
        return ""
    base = t.pages - t.checkpoint_pages - t.speculative_pages
    parts = ["2 for prefix caching's align mode" if base == 2 else "1 for the state"]
    if t.checkpoint_pages:
        parts.append(f"{t.checkpoint_pages} prefill checkpoint")
    if t.speculative_pages:
        parts.append(f"{t.speculative_pages} for speculative tokens")
    pages = plural(t.pages, "page")
    if len(parts) == 1:
        parts = [] if base == 1 else ["prefix caching's align mode"]
    if not parts:
        return f" ({pages} each)"
    line = f" ({pages} each: {' + '.join(parts)}"
    if base == 2:
        one = t.bytes_per_sequence // t.pages * (1 + t.speculative_pages)
        line += f"; prefix=off keeps {plural(1 + t.speculative_pages, 'page')}, {size(one)}"
    return line + ")"


def max_line(est: Estimate) -> str | None:
    """What the GPU (or the group, or the replicas) holds at most: s at this b, and b at this s."""
    fit = est.fit
    if fit is None or fit.max_seq_len is None or fit.max_batch is None:
        return None  # no GPU, or the engine will not start it: nothing it would hold
    q = est.query
    engine = get_engine(q.engine)
    if q.dp > 1:
        where = f"these {q.dp} replicas"
    elif q.gpus * q.pp > 1:
        # A tensor- or pipeline-parallel group holds these together, not each of its GPUs.
        where = f"these {q.gpus * q.pp} GPUs"
    else:
        where = "this GPU"
    if fit.max_seq_len <= 0 and fit.max_batch <= 0:
        if engine.util_refused(est):
            return f"Max on {where}: none at util={q.util:g}, which {engine.label} will not start with"
        fraction = engine.usable_fraction(q)
        if est.memory.weights >= fit.gpu_memory * fraction:
            # util's share of the device, where the engine takes one, is what the weights pass.
            share = "" if fraction >= 1 else f" in util={fraction:g} of the GPU"
            return f"Max on {where}: not one token at b={q.batch:,} (the weights alone do not fit{share})"
        # The weights fit: it is b sequences (or s tokens each) that do not.
        line = f"Max on {where}: not one token at b={q.batch:,}, and not one sequence of {q.seq_len:,} tokens"
        pool = _pool(est)
        state = sum(t.bytes_per_sequence for t in est.details.kv_terms if t.part == "state")
        if pool is not None and state and 0 < pool.memory_bytes < state:
            # A hybrid request holds its recurrent-state pages whatever its length: not one fits.
            line += f" (one request's recurrent state alone, {size(state)}, is more than the pool)"
        return line
    # At the s= range's top the search stops: memory may hold more, so that is no memory limit.
    more = " or more (vram's limit)" if fit.max_seq_len_at_limit else ""
    seq = (
        f"{tokens(fit.max_seq_len)} tokens{more} at b={q.batch:,}"
        if fit.max_seq_len > 0
        else f"no sequence at b={q.batch:,}"
    )
    window = est.details.context_window
    if window and fit.max_seq_len > window:
        # Memory is not the limit there: say so, or people plan for a context the model cannot use.
        # Near the window in whole tokens, or "129k" (132,096) reads as less than 131,072.
        if fit.max_seq_len < 2 * window:
            seq = f"{fit.max_seq_len:,} tokens{more} at b={q.batch:,}"
        seq += f" (memory only: the model's context window is {window:,}"
        longest = est.details.longest_context
        if engine.refuses_past_longest and longest and fit.max_seq_len > longest:
            # vLLM will not start past its longest max_model_len as configured (a RoPE stretch, yarn=
            # where the config takes one, grows the rotary table this figure leaves out): no s= to type back.
            seq += (
                f", which {engine.label} will not start past as configured"
                if longest == window
                else f"; {engine.label} will not start past {longest:,} as configured"
            )
        seq += ")"
    batch = f"b={fit.max_batch:,} at s={q.seq_len:,}" if fit.max_batch > 0 else f"not even b=1 at s={q.seq_len:,}"
    if fit.max_batch_bound == "max_num_seqs":
        # The engine runs no more at once: memory is not what stops b there.
        each = " a replica" if q.dp > 1 else ""
        batch += f" (max_num_seqs {fit.max_batch // q.dp:,}{each} binds; memory would hold more)"
    return f"Max on {where}: {seq}, or {batch}"


def compare_title(est: Estimate) -> str:
    """The settings both sides of a comparison share: ``s=16,384 · b=2 · vllm 0.33 · gpu=h100``."""
    q = est.query
    context = "s=max (each model's longest)" if q.seq_len_from_model else f"s={q.seq_len:,}"
    parts = [context, f"b={q.batch:,}", get_engine(q.engine).display_name(q)]
    if q.gpu or q.gpu_any:
        parts.append(f"gpu={setting_value('gpu', q)}")
    if q.gpus > 1:
        parts.append(f"gpus={q.gpus}")
    # Both sides share the layout too: each side's totals are one stage's or replica's GPU.
    if q.pp > 1:
        parts.append(f"pp={q.pp}")
    if q.dp > 1:
        parts.append(f"dp={q.dp}")
    # Every other setting asked (kv=fp8, dtype=, util=, seqs=, ...): the numbers below follow them.
    shown = {"s", "b", "engine", "vllm", "gpu", "gpus", "pp", "dp"}
    for key in KEYS:
        if key.name in shown or is_default(q, key.name):
            continue
        parts.append(f"{key.name}={setting_value(key.name, q)}")
    return " · ".join(parts)


def no_verdict(est: Estimate) -> str | None:
    """Why a total is a guess and gets no verdict (the estimate's refusal sentence), or None."""
    return f"no verdict, the total is a guess: {' '.join(est.refused)}" if est.refused else None


def fit_fixes(est: Estimate) -> str | None:
    """The ways to fit the verdict offers ("s=25,536, or gpus=2"), for a side of a comparison that
    does not fit; None where it fits or offers none."""
    fit, q = est.fit, est.query
    if fit is None or fit.fits:
        return None
    if fit.engine_refuses and 0 < fit.min_gpus * fit.min_gpus_dp < world(q):
        return fewest_settings(fit, q)  # fewer GPUs than asked start it ("gpus=1 is enough")
    if not fit.engine_refuses:
        ways = get_engine(q.engine).fit_fixes(est)
        if ways is not None:  # the engine's verdict decides: its ways, as data
            return ", or ".join(way.settings for way in ways) or None
        fewest = offered_layout(est)  # the memory verdict's one way: the fewest layout
        return fewest[1] if fewest is not None else None
    # A refusal's own ways are part of its sentence (the engines word refusals, not yet as data).
    line = verdict(est)
    _, sep, fixes = max(line.rpartition("; use "), line.rpartition("; or use "), key=lambda p: len(p[0]))
    if not sep:
        return None
    # The settings alone, typed back as they are; the words on why, and what follows, stay in the answer.
    fixes = re.sub(r" \([^()]*\)", "", fixes).split("; ")[0]
    return re.sub(r" (?:or less|at most)\b", "", fixes)


def fit_word(est: Estimate) -> str:
    """One side's fit in a comparison: yes, no, or why there is no verdict."""
    if est.fit is None:
        return "no verdict (a guess)" if est.refused else "no GPU named"
    return "yes" if est.fit.fits else "no"


def pool_cells(est: Estimate) -> tuple[str, str] | None:
    """The engine's KV pool (GiB) and the requests of s tokens its scheduler holds at once (the null
    block left out), or None for an engine without one."""
    pool = get_engine(est.query.engine).pool(est)
    if pool is None:
        return None  # no pool sized: no GPU named, or an engine without one
    if est.refused or est.fit is None:
        return ("no verdict" if est.refused else "no GPU named",) * 2
    if pool.memory_bytes <= 0 or not pool.starts:
        return ("will not start",) * 2
    return f"{pool.memory_bytes / GIB:,.2f}", f"{pool.requests:,.2f}"


def pool_labels(q: Query) -> tuple[str, str]:
    """The comparison's rows for vLLM's pool and the requests it holds, saying whose they are: with
    pp= the busiest stage's pool (the engine's block count is shared), with dp= one replica's."""
    pool = f"{get_engine(q.engine).label} KV pool GiB" + (" (busiest stage)" if q.pp > 1 else "")
    length = "its longest context" if q.seq_len_from_model else f"{q.seq_len:,} tokens"
    requests = f"Requests of {length}" + (f" (each of {q.dp} replicas)" if q.dp > 1 else "")
    return pool, requests


def requests_all_cell(est: Estimate) -> str:
    """With dp=, the requests every replica's pool holds together (blank where the pool has no figure)."""
    pool, cells = _pool(est), pool_cells(est)
    if pool is None or cells is None or cells[1] != f"{pool.requests:,.2f}":
        return cells[1] if cells is not None else ""
    return f"{pool.requests * est.query.dp:,.2f}"


def fit_label(est: Estimate) -> str:
    """``Fits NVIDIA H100``, or with several GPUs ``Fits each of 4 NVIDIA H100, 2 replicas of tp=1 x pp=2``."""
    fit, q = est.fit, est.query
    assert fit is not None
    if world(q) == 1:
        return f"Fits {fit.gpu_name}"
    group = f"tp={q.gpus}" + (f" x pp={q.pp}" if q.pp > 1 else "")
    layout = f"{q.dp} replicas of {group}" if q.dp > 1 else group
    return f"Fits each of {world(q)} {fit.gpu_name}, {layout}"


def engine_line(est: Estimate, esc: Escape = _same) -> str | None:
    """The engine's own line, when it has one (vLLM: the KV pool, its tokens, the concurrency at s)."""
    return get_engine(est.query.engine).summary_line(est, esc)


def changed_settings(changes: Mapping[str, str], base: Estimate, new: Estimate, esc: Escape = _same) -> str:
    """``` `s=64k` (was 32k), `b=8` (was 1) ```: each setting as ``key=`` takes it back, with the value
    (or the default) it replaced; a model as its id, which a reply takes as typed. Settings that keep
    their value are left out where others move; "nothing" where none is left."""
    parts: list[tuple[str, bool]] = []
    for key, value in changes.items():
        if key == "model":
            moved = new.model != base.model
            parts.append((f"`{esc(new.model)}` (was `{esc(base.model)}`)", moved))
            continue
        if key not in KEY_BY_NAME:
            parts.append((f"`{esc(key)}={esc(str(value))}`", True))
            continue
        now, was = setting_value(key, new.query), _was(key, base)
        parts.append((f"`{esc(key)}={esc(now)}` (was {esc(was)})", now != setting_value(key, base.query)))
    shown = [text for text, moved in parts if moved] or [text for text, _ in parts]
    return ", ".join(shown) or "nothing"


_TOKEN_KEYS = frozenset({"s", "mnbt"})  # the keys that count tokens


def setting_value(key: str, query: Query) -> str:
    """One setting of ``query`` as ``key=`` takes it back: counts compact (``64k``) where exact, switches
    on/off, an unset setting "unset"."""
    field = KEY_BY_NAME[key].query_field if key in KEY_BY_NAME else key
    if key == "s" and query.seq_len_from_model:
        return "max"
    if key == "gpu" and query.gpu_any:
        return ANY_GPU
    value = getattr(query, field, None)
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int) and key in KEY_BY_NAME and KEY_BY_NAME[key].kind == "bytes":
        # A size as written back: 20.00GiB, 512MiB, or the bytes where neither reads back exactly.
        return kvmem_setting(value)  # reads back as asked
    if isinstance(value, int) and key in _TOKEN_KEYS:
        # Token counts read in the grammar's units (64k); requests and GPUs as numbers (b=2048, not b=2k).
        for unit, size in (("m", 1024 * 1024), ("k", 1024)):
            if value >= size and value % size == 0:
                return f"{value // size}{unit}"
    return str(value)


def totals_change(base: Estimate, new: Estimate) -> str:
    """``62.7 GiB → 75.6 GiB (+12.9 GiB)``, each total per GPU where it is one GPU's of several (a change
    of gpus= compares one GPU's share with the whole model on one)."""
    before, after = base.memory.total, new.memory.total

    def each(est: Estimate) -> str:
        return " per GPU" if world(est.query) > 1 else ""

    if each(base) == each(new):
        return f"{gib(before)} → {gib(after)}{each(new)} ({shown_change(before, after)})"
    # One GPU's share against the whole model on one: no difference to take between them.
    return f"{gib(before)}{each(base)} → {gib(after)}{each(new)}"


def _was(key: str, base: Estimate) -> str:
    """A setting's value before a what-if: as set, or the default in effect where the engine's section
    gives it (vLLM's ``8k, the default``), else "unset"."""
    value = setting_value(key, base.query)
    if key == "kv" and value == "on" and base.details.kv_dtype:
        return f"on, {base.details.kv_dtype}"  # kv=on is the model's dtype: say which
    default = get_engine(base.query.engine).setting_default(key, base) if value == "unset" else None
    if default is None:
        return value
    if isinstance(default, int) and not isinstance(default, bool):
        shown = next(
            (f"{default // n}{u}" for u, n in (("m", 1 << 20), ("k", 1 << 10)) if default >= n and default % n == 0),
            str(default),
        )
    elif isinstance(default, float):
        shown = f"{default:g}"
    else:
        shown = str(default)
    return f"{shown}, the default"


def what_if_line(
    base_id: int | None,
    keys: Sequence[str],
    base: Estimate,
    new: Estimate,
    esc: Escape = _same,
    *,
    fit_change: bool = True,
) -> str:
    """``what-if of #167: s=64k (was 32k): total 62.7 GiB → 75.6 GiB (+12.9 GiB)``, and a change of
    verdict: the terminal's line above a what-if's answer (``fit_change`` False: not the verdict, for a
    question whose answer is the longest context or the largest batch)."""
    what = ", ".join(f"{esc(k)}={esc(setting_value(k, new.query))} (was {esc(_was(k, base))})" for k in keys)
    of = f"what-if of #{base_id}" if base_id is not None else "what-if"
    before, after = base.memory.total, new.memory.total
    moved = fit_change and base.fit is not None and new.fit is not None and base.fit.fits != new.fit.fits
    if before == after:
        # The same total beside another verdict: the GPU or its share changed, not the model's needs.
        line = f"{of}: {what or 'nothing changed'}: total {gib(after)}, " + ("as before" if moved else "unchanged")
    else:
        line = f"{of}: {what or 'nothing changed'}: total {totals_change(base, new)}"
    if moved and new.fit is not None:
        joint = ", but" if before == after else ";"
        line += f"{joint} it now fits" if new.fit.fits else f"{joint} it no longer fits"
    elif new.query.gpu_any != base.query.gpu_any and not new.refused:
        # To or from every card: what stands for the fit on each side.
        if new.query.gpu_any:
            line += f"; on every card, the fewest: {smallest_cards(new)}"
        elif new.fit is not None:
            line += "; it fits" if new.fit.fits else "; it does not fit"
    return line + held_change(base, new)


def is_input_mistake(rec: Any) -> bool:
    """A query the grammar refused (``s=abc``): kept so people can see what they typed, nothing to size."""
    return getattr(rec, "status", "ok") == "error" and getattr(rec, "params", {}) is None


def compare_partners(compares: Sequence[tuple[Any, Any]]) -> dict[int, tuple[Any, Any]]:
    """Each stored side of a comparison, by id, to the pair it belongs to."""
    return {side.id: pair for pair in compares for side in pair}


def history_rows(
    records: Sequence[Any], compares: Sequence[tuple[Any, Any]] = ()
) -> Iterator[tuple[Any, tuple[Any, ...]]]:
    """The history's rows in the records' order: each record with its comparison's sides (or itself
    alone), a comparison's second side not listed again."""
    partners = compare_partners(compares)
    listed: set[int] = set()
    for rec in records:
        if rec.id in listed:
            continue
        sides = partners.get(rec.id, (rec,))
        listed.update(side.id for side in sides)
        yield rec, sides
