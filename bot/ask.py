"""Answer a question in plain words: read it, look up the model name, estimate, and say how it was read.

Front-end neutral (the terminal and Slack render :class:`QuestionAnswer`): the first line of every
answer is how vram read the question in the grammar, so one word can be corrected.
"""

from __future__ import annotations

import re
from typing import Any

from bot import report
from bot.echo import neutral
from bot.question import Question, read_question
from bot.service import Outcome, Service
from common.errors import VramError
from estimator.engines import get_engine
from estimator.gpus import lookup_gpu
from estimator.layout import layout_words
from estimator.result import Estimate
from estimator.spec import Frozen
from estimator.units import requests_text, tokens_text
from sources.model_search import ModelMatch, ModelSearch
from store.records import Conversation

GIB = 1024**3


class QuestionAnswer(Frozen):
    question: Question
    read_as: str  # the grammar command the question was read as
    match: ModelMatch | None = None  # how a model name was looked up, when it was not a Hub id
    outcome: Outcome


def answer(text: str, *, service: Service, who: Conversation, search: ModelSearch) -> QuestionAnswer:
    """Read ``text``, resolve a model name through ``search``, and estimate; raises VramError when it cannot
    read the question or find the model (the sentence says which part)."""
    question = read_question(text)
    match = None
    model = question.model
    if model is None:
        assert question.model_phrase is not None
        match = search.find(question.model_phrase)
        model = match.model_id
    cmd = question.command(model if match else None)
    read_as = question.grammar_text(model if match else None)
    outcome = service.estimate_query(cmd.query, who, text=text)
    return QuestionAnswer(question=question, read_as=read_as, match=match, outcome=outcome)


def question_answer(text: str | None, est: Estimate) -> str | None:
    """The answer line of ``text`` for ``est`` where ``text`` is a question in plain words (a what-if
    of a question answers it anew: "how many users" after s=64k), else None. The question is read
    again, the model not looked up: the estimate names it."""
    from bot.question import is_question

    if not text or not is_question(text):
        return None
    try:
        question = read_question(text)
    except VramError:
        return None  # read otherwise when it was asked: the estimate alone
    return headline(est, question)


def asks_a_limit(text: str | None) -> bool:
    """Whether ``text`` is a question for the longest context or the largest batch, whose asked s (or b)
    stands in for the answer: whether that one fits is not what was asked."""
    from bot.question import is_question

    if not text or not is_question(text):
        return False
    try:
        return read_question(text).kind in ("max_context", "max_batch")
    except VramError:
        return False


def _of_size(est: Estimate, size_gb: int) -> str:
    """ "Will it fit in 24GB?": each catalog card of that memory (as its maker sells it) alone."""
    sized = [c for c in est.cards if card_gb(c.gpu) == size_gb]
    need = f"it needs {_gib(est.memory.total)}"
    if not sized:
        return f"no {size_gb} GB card in the catalog ({need}); {report.cards_answer(est)}"
    held = ", ".join(c.gpu for c in sized if c.fits)
    short = [c for c in sized if not c.fits]
    window, s = est.details.context_window, est.query.seq_len
    if held and window and s > window:
        # Past the model's window the cards hold the memory only, as the fit answer says it.
        past = f"no: {s:,} tokens is past the model's {window:,}-token context window; for the memory alone, "
        which = "every" if not short else "some"
        return past + f"{which} {size_gb} GB card{'s' if short else ''} hold{'' if short else 's'} it ({held}); {need}"
    if not short:
        return f"yes: every {size_gb} GB card in the catalog holds it alone ({held}); {need}"
    if held:
        return f"on some {size_gb} GB cards: {held} hold it alone, {', '.join(c.gpu for c in short)} do not; {need}"
    fewest = min((c for c in short if c.min_gpus), key=lambda c: c.min_gpus * c.min_gpus_dp, default=None)
    more = f"; the fewest: {fewest.min_gpus * fewest.min_gpus_dp} × {fewest.gpu}" if fewest is not None else ""
    return f"no: no {size_gb} GB card holds it alone ({need}){more}"


def card_gb(key: str) -> int | None:
    """A catalog card's memory as sold (the GB in its name or an alias: ``l4`` 24, ``gb10`` 128)."""
    gpu = lookup_gpu(key)
    for said in (gpu.name, *gpu.aliases):
        if m := re.search(r"(\d+)\s*gb\b", said, re.IGNORECASE):
            return int(m.group(1))
    return None


def _ways_out(est: Estimate) -> str:
    """``; use seqs=32, or gpus=2``: the verdict's ways to fit that keep the question's s and b (the
    answer is about them), or nothing."""
    fixes = get_engine(est.query.engine).fit_fixes(est) or ()
    ways = [f.settings for f in fixes if not f.settings.startswith(("s=", "b="))]
    if ways:
        return f"; use {', or '.join(ways[:3])}"
    fit, q = est.fit, est.query
    if fit is not None and fit.min_gpus and (fewest := report.offered_layout(est)) is not None:
        return f"; {fewest[0]:,} of them would ({fewest[1]})" if fewest[0] > report.world(q) else ""
    return ""


def _gib(n_bytes: int) -> str:
    return report.gib(n_bytes)


def headline(est: Estimate, question: Question) -> str:
    """The answer to the question asked, in one sentence."""
    q, fit = est.query, est.fit
    if est.refused:
        # A guessed total is no answer to "will it fit": say why, never a need that reads as a verdict.
        return f"no verdict: the total ({_gib(est.memory.total)}) is a guess: {' '.join(est.refused)}"
    if question.kind == "kv_cache":
        # The KV row as the table gives it: bytes and the arithmetic behind them.
        _, kv_bytes, how = report.breakdown(est)[1]
        each = " per GPU" if report.world(q) > 1 else ""
        return f"the KV cache takes {_gib(kv_bytes)}{each}: {how}"
    if fit is None and q.gpu_any and question.card_gb is not None:
        return _of_size(est, question.card_gb)
    if fit is None and q.gpu_any:
        return report.cards_answer(est)
    if fit is None:
        each = " per GPU" if report.world(q) > 1 else ""
        return f"it needs {_gib(est.memory.total)}{each}; name a GPU for a verdict (for example: ... on an H100)"
    world = report.world(q)
    where = f"{world} × {fit.gpu_name}" if world > 1 else f"one {fit.gpu_name}"
    window = est.details.context_window
    if fit.engine_refuses or fit.max_seq_len is None or fit.max_batch is None:
        if question.kind == "min_gpus":
            # A count was asked: no count of these cards answers it, and the engine's sentence says why.
            return f"no number of {fit.gpu_name} serves it: {fit.engine_refuses}"
        return f"no: {fit.engine_refuses}"
    if question.kind == "max_context":
        if fit.max_seq_len == 0:
            return f"not even one token of context fits at batch {q.batch} on {where}" + _ways_out(est)
        more = " or more (vram's limit)" if fit.max_seq_len_at_limit else ""
        line = f"longest context at batch {q.batch} on {where}: {fit.max_seq_len:,} tokens{more}"
        if window and fit.max_seq_len > window:
            # The first line is all Slack shows: memory is not the limit past the window.
            line += f" of memory; the model's context window is {window:,}"
        return line
    # Past the model's window the counts below are memory's alone: each says so (Slack shows one line).
    memory_only = report.memory_only(est)
    if question.kind == "max_batch":
        if fit.max_batch == 0:
            return f"not even one sequence of {q.seq_len:,} tokens fits on {where}" + _ways_out(est)
        line = f"most sequences at once at {q.seq_len:,} tokens on {where}: {fit.max_batch:,}"
        return line + _batch_bound(est) + memory_only
    if question.kind == "min_gpus":
        if fit.min_gpus == 0 and fit.finest_split is not None:
            # Whole layers per GPU: what stops the finest split is the answer (weights, or activations).
            return f"no number of {fit.gpu_name} holds it: {report.finest_split_words(fit.finest_split, est)}"
        if fit.min_gpus == 0:
            return f"no group of {fit.gpu_name} that vram tries holds it (at {q.seq_len:,} tokens, batch {q.batch})"
        fewest = fit.min_gpus * q.pp * fit.min_gpus_dp
        layout = ""
        if fit.min_gpus_dp > 1 or q.pp > 1 or q.dp > 1:
            # Stages or replicas asked or found: say the layout (tp=8 alone where dp= was asked).
            layout = f", {layout_words(fit.min_gpus, q.pp, fit.min_gpus_dp)}"
        if fit.min_gpus_util is not None:  # the util asked does not start that layout
            layout += f", at util={fit.min_gpus_util:g}"
        at = f"(at {q.seq_len:,} tokens, batch {q.batch})"
        return f"fewest {fit.gpu_name} that hold it: {fewest}{layout} {at}{memory_only}"
    own = report.verdict(est)
    if get_engine(q.engine).verdict(est, report.same) is not None:
        # The engine's own rule decided (vLLM: its KV pool): its sentence, without the total before it.
        # The engine's verdict says "once its compile cache is warm" where a first start misses.
        return ("yes: " if fit.fits else "no: ") + own.partition(": ")[2]
    each = " per GPU" if world > 1 else ""
    if fit.fits:
        room = f"on {where}, with {report.margin(fit.headroom)} free{each}"
        if window and q.seq_len > window:
            # The model cannot take that context, whatever the memory holds: no "yes" (Slack shows this line alone).
            return (
                f"no: {q.seq_len:,} tokens is past the model's {window:,}-token context window; "
                f"the memory alone would fit {room}"
            )
        return f"yes: it fits {room}"
    fewer = report.fewest_layout(est)
    more = f"; {fewer[0]} of them would" if fewer is not None and fewer[0] > world else ""
    if memory_only:
        return (
            f"no: {q.seq_len:,} tokens is past the model's {window:,}-token context window, and on {where} "
            f"the memory needs {report.margin(-fit.headroom)} more{each}{more}"
        )
    return f"no: on {where} it needs {report.margin(-fit.headroom)} more{each}{more}"


def _batch_bound(est: Estimate) -> str:
    """Which limit the largest batch meets, where the engine has one besides memory (vLLM's
    max_num_seqs): empty otherwise."""
    q, fit, v = est.query, est.fit, est.engine_report
    seqs, held = getattr(v, "max_num_seqs", None), getattr(v, "max_resident", None)
    if fit is None or not isinstance(seqs, int) or not isinstance(held, float):
        return ""
    each = " a replica" if q.dp > 1 else ""
    if q.max_num_seqs == seqs:
        limit = f"seqs={seqs:,}{each}"
    elif q.max_num_seqs is None and q.max_num_batched_tokens == seqs:
        limit = f"max_num_seqs {seqs:,}{each} (no more than mnbt={seqs:,})"
    else:
        limit = f"vLLM's default max_num_seqs of {seqs:,}{each}"
    pool = f"{requests_text(held * q.dp)} of {tokens_text(q.seq_len)}"
    if fit.max_batch_bound == "max_num_seqs":
        return f" ({limit} binds: the KV pool has room for {pool})"
    return f" (the KV pool is the limit, below {limit})"


# Words that name a vLLM build without its version.
_NIGHTLY_WORDS = ("nightly", "nightlies")


def _nightly_line(word: str, est: Estimate | None) -> str:
    """ "vllm nightly": which release the answer sized, and how to name the build itself."""
    release = get_engine(est.query.engine).release_sized(est) if est is not None else None
    sized = f"sized as vLLM {release}; " if release else ""
    example = f" (for example vllm={release}.1rc1.dev50)" if release else ""
    return (
        f'"{word}" names no release: {sized}a nightly may already carry the next release\'s accounting: give its '
        f"version as vllm --version prints it{example} for an answer that says which rules size it"
    )


def intro_lines(ans: QuestionAnswer) -> list[str]:
    """The lines before the estimate: how it was read, the lookup, and the words not used."""
    lines = [f"read as: {ans.read_as}"]
    if ans.match is not None:
        line = f'"{ans.match.phrase}" read as {ans.match.model_id} (most downloaded match on the Hub)'
        if ans.match.others:
            line += "; also: " + ", ".join(ans.match.others)
        lines.append(line)
    if ans.question.unused:
        lines.append("not used: " + " ".join(ans.question.unused))
    if nightly := next((w for w in ans.question.unused if w.lower() in _NIGHTLY_WORDS), None):
        lines.append(_nightly_line(nightly, ans.outcome.estimate))
    # Each line echoes what was typed: long runs (a 3,000-digit number) cut, bidi controls shown as U+FFFD.
    return [neutral(line) for line in lines]


def slack_lead(ans: QuestionAnswer) -> str:
    """The intro lines and the answer as Slack mrkdwn (user words escaped), to go above the estimate."""
    from bot.blocks import escape

    lines = [f"Read as `{escape(ans.read_as)}`"]
    lines += [escape(line) for line in intro_lines(ans)[1:]]
    if ans.outcome.estimate is not None:
        lines.append(f"*{escape(headline(ans.outcome.estimate, ans.question))}*")
    return "\n".join(lines)


def to_json(ans: QuestionAnswer) -> dict[str, Any]:
    """``--json``: the estimate's object plus how the question was read."""
    assert ans.outcome.estimate is not None
    data = report.estimate_json(ans.outcome.estimate, record_id=ans.outcome.record_id)
    data["read_as"] = ans.read_as
    data["question"] = {
        "kind": ans.question.kind,
        "card_gb": ans.question.card_gb,
        "unused": list(ans.question.unused),
        "model_phrase": ans.match.phrase if ans.match else None,
        "other_matches": list(ans.match.others) if ans.match else [],
        "answer": headline(ans.outcome.estimate, ans.question),
    }
    return data


def stored_question_json(text: str | None, est: Estimate) -> dict[str, Any] | None:
    """``show --json`` of a question in plain words: how it was read and its answer, as ``--json`` gave
    them when asked (the question read again; a model name is the estimate's model, not looked up);
    None where ``text`` is no question."""
    from bot.question import is_question

    if not text or not is_question(text):
        return None
    try:
        question = read_question(text)
        read_as = question.grammar_text(None if question.model else est.model)
    except VramError:
        return None
    return {
        "read_as": read_as,
        "question": {
            "kind": question.kind,
            "card_gb": question.card_gb,
            "unused": list(question.unused),
            "model_phrase": question.model_phrase,
            "other_matches": [],
            "answer": headline(est, question),
        },
    }


__all__ = ["QuestionAnswer", "answer", "headline", "intro_lines", "slack_lead", "stored_question_json", "to_json"]
