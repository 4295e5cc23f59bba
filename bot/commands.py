"""The commands of ``/vram`` and ``vram``: one line of text in, a typed :data:`Command` out.

    <model>[@<revision>] [key=value ...]
    help | gpus | history [model] [mine] | show <id> | compare <model> <model> [key=value ...]

The ``key=value`` settings are the estimator's grammar (``estimator.grammar``); this module adds
the commands around them, the clean-up of pasted chat text, and thread replies (mentions dropped).
Every problem is an :class:`~common.errors.InputError` carrying one sentence that names the word.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from common.errors import InputError
from estimator.grammar import normalize_word, parse_model, parse_query, parse_settings, query_with
from estimator.query import Query
from estimator.spec import Frozen

# Text between a pair of * or _ (Slack's bold and italic), each pair at word edges.
_EMPHASIS = re.compile(r"(?<!\S)([*_])(?=\S)(.+?)(?<=\S)\1(?!\S)")
# A stored query's number: at most 19 digits (a 63-bit integer; the store refuses larger ones).
_RECORD_ID = re.compile(r"#?0*([1-9][0-9]{0,18})")


class EstimateCmd(Frozen):
    kind: Literal["estimate"] = "estimate"
    query: Query
    changed: tuple[str, ...] = ()  # canonical keys the text set


class HelpCmd(Frozen):
    kind: Literal["help"] = "help"


class GpusCmd(Frozen):
    kind: Literal["gpus"] = "gpus"


class HistoryCmd(Frozen):
    kind: Literal["history"] = "history"
    model: str | None = None
    mine: bool = False
    limit: int = 20  # rows listed ("--limit N", as the terminal takes it)


class ShowCmd(Frozen):
    kind: Literal["show"] = "show"
    record_id: int
    # ``show 42 s=64k``: key=value changes, a what-if of the stored query (as a reply in its thread),
    # after a Hub id where it asks another model (``show 42 Qwen/Qwen3-32B s=64k``).
    changes: tuple[str, ...] = ()


class CompareCmd(Frozen):
    kind: Literal["compare"] = "compare"
    a: Query
    b: Query


Command = EstimateCmd | HelpCmd | GpusCmd | HistoryCmd | ShowCmd | CompareCmd


def split_words(text: str) -> list[str]:
    """The words of a command as chat clients send it."""
    # Slack may wrap pasted text in backticks or send non-breaking spaces.
    cleaned = text.replace("\u00a0", " ").replace("`", " ").strip()
    # Chat's bold and italic around settings ("*s=16k*", "_b=2 kv=fp8_"): the settings, as typed inside.
    for _ in range(3):  # nested pairs: "*_s=16k_*", markdown's "**s=16k**"
        cleaned = _EMPHASIS.sub(lambda m: m.group(2) if "=" in m.group(2) else m.group(0), cleaned)
    words = cleaned.split()
    # Settings typed with an East Asian input method arrive full width (ｓ＝１６ｋ): read them as ASCII
    # (NFKC). Only words that then hold "=": a model path keeps its own spelling.
    words = [n if "=" in (n := normalize_word(w)) else w for w in words]
    # A model id quoted as typed or as Slack's smart quotes turn it ("Qwen/Qwen3-8B", “Qwen/Qwen3-8B”).
    words = [w[1:-1] if len(w) > 2 and (w[0], w[-1]) in _QUOTE_PAIRS else w for w in words]
    # Slack and shells put spaces around "=" sometimes ("s = 32k"): glue them back, onto a word that
    # can be a key (not onto the model before a stray "=5").
    glued: list[str] = []
    for word in words:
        keyish = bool(glued) and re.fullmatch(r"-{0,2}[A-Za-z_][A-Za-z_-]*=?", glued[-1]) is not None
        if keyish and (word.startswith("=") or glued[-1].endswith("=")) and "=" not in glued[-1][:-1]:
            glued[-1] += word
        else:
            glued.append(word)
    return glued


_COMPARE_JOINERS = frozenset({"with", "to", "against", "and", "it", "this", "that"})
_QUOTE_PAIRS = frozenset({('"', '"'), ("'", "'"), ("\u201c", "\u201d"), ("\u2018", "\u2019"), ("\u201d", "\u201d")})


def _is_mention(word: str) -> bool:
    return word.startswith("<@") and word.endswith(">")


def limit_value(value: str) -> int:
    """The N of ``--limit N``: the rows a listing shows, 1 to 1000."""
    if not value.isdigit() or not 1 <= int(value) <= 1000:
        raise InputError(f'--limit needs a number from 1 to 1000 (got "{value}")')
    return int(value)


def _history_limit(words: list[str]) -> tuple[list[str], int]:
    """``--limit N`` (or ``--limit=N``) among history's words, as the terminal reads it; ``--json`` is
    the terminal's output switch, which a chat answer has no use for."""
    rest: list[str] = []
    limit = 20
    it = iter(words)
    for word in it:
        low = word.lower()
        if low == "--limit" or low.startswith("--limit="):
            limit = limit_value(word.partition("=")[2] if "=" in word else next(it, ""))
        elif low == "--json":
            raise InputError(
                "--json is the terminal's output switch (vram history --json); here the list is the answer"
            )
        else:
            rest.append(word)
    return rest, limit


def parse(text: str) -> Command:
    """Parse one line of ``/vram`` or ``vram`` input into a command."""
    words = split_words(text)
    if not words:
        return HelpCmd()
    head = words[0].lower()
    if head in ("help", "-h", "--help", "?"):
        return HelpCmd()
    if head == "gpus":
        if len(words) > 1:
            raise InputError(f'"gpus" takes no arguments (got "{words[1]}")')
        return GpusCmd()
    if head == "history":
        rest, limit = _history_limit(words[1:])
        mine = any(w.lower() == "mine" for w in rest)
        others = [w for w in rest if w.lower() != "mine"]
        if len(others) > 1:
            raise InputError(f'history takes one model filter at most (got "{others[1]}")')
        if others and "=" in others[0]:
            raise InputError(f'history takes a model name to filter by, not "{others[0]}"')
        return HistoryCmd(model=others[0] if others else None, mine=mine, limit=limit)
    if head == "show":
        # ASCII digits only (str.isdigit accepts "²"), and no more than a stored id can have.
        match = _RECORD_ID.fullmatch(words[1]) if len(words) >= 2 else None
        if match is None:
            raise InputError(
                "show needs the number of a stored query, for example: show 42 (or show 42 s=64k to change a setting)"
            )
        record_id = int(match.group(1))
        changes = words[2:]
        # A Hub id first changes the model, as in a thread reply (parse_changes).
        settings = changes[1:] if changes and _is_model_word(changes[0]) else changes
        if other := next((w for w in settings if "=" not in w), None):
            raise InputError(
                f"show {record_id} takes key=value changes after the number, a what-if of that query, "
                f"and may start with another model, a Hub id or in the terminal a local path (show {record_id} "
                f's=64k, show {record_id} Qwen/Qwen3-32B s=64k): "{other}" is not one'
            )
        if settings is not changes:
            parse_model(changes[0])  # a bad id or revision is said now, before the store is read
        parse_settings(settings)  # a bad key or value is said now, before the store is read
        return ShowCmd(record_id=record_id, changes=tuple(changes))
    if head == "compare":
        models = [w for w in words[1:] if "=" not in w]
        if models and models[0].lower() in _COMPARE_JOINERS:
            # "compare with X" compares X with an answer: there is none where this was typed.
            raise InputError(
                f'"compare {models[0]} ..." compares with an answer: reply so under one (in its thread), or '
                "name both models: compare Qwen/Qwen3-8B meta-llama/Llama-3.1-8B s=32k"
            )
        if len(models) != 2:
            got = f"{len(models)} given" if models else "none given"
            raise InputError(
                f"compare takes exactly two models ({got}), for example: compare Qwen/Qwen3-8B "
                "meta-llama/Llama-3.1-8B s=32k"
            )
        shared = query_with(Query(), parse_settings(w for w in words[1:] if "=" in w))
        queries = []
        for word in models:
            model, revision = parse_model(word)
            queries.append(shared.model_copy(update={"model": model, "revision": revision}))
        return CompareCmd(a=queries[0], b=queries[1])
    if len(words) <= 2 and (typo := _mistyped_command(head)) is not None:
        # "histroy", "hlep": a command mistyped, not a one-part Hub id to ask the Hub about.
        raise InputError(f'unknown command "{words[0]}": did you mean {typo}? (`help` lists them)')
    query, changed = parse_query(words)
    return EstimateCmd(query=query, changed=changed)


# The commands a first word may be mistyped for (serve and db are the terminal's own).
_COMMANDS = ("help", "gpus", "history", "show", "compare")


def _mistyped_command(word: str) -> str | None:
    """The command a lower-case word is one slip of the keyboard from: two neighbouring letters swapped
    ("hlep", "histroy"), one left out ("gpu", "histry") or one doubled or added ("helpp"). A letter
    swapped for another ("snow", "helm") is a word of its own, and a one-part Hub id has digits,
    dashes or capitals more often than not."""
    if not re.fullmatch(r"[a-z]{3,9}", word) or word in _COMMANDS:
        return None
    for command in _COMMANDS:
        swapped = any(
            word == command[:i] + command[i + 1] + command[i] + command[i + 2 :] for i in range(len(command) - 1)
        )
        dropped = any(word == command[:i] + command[i + 1 :] for i in range(len(command)))
        added = any(command == word[:i] + word[i + 1 :] for i in range(len(word)))
        # A first letter left out makes another word ("how" is not "show").
        if swapped or (dropped and word[0] == command[0]) or added:
            return command
    return None


def _is_model_word(word: str) -> bool:
    """A word shaped like a Hub id (``org/name[@rev]``) or a local path (``/models/x``, ``./x``,
    ``~/x``, a config or GGUF file), not a setting: what changes the model in a what-if. A server's
    resolver refuses the paths (it reads no files of its own)."""
    return "=" not in word and ("/" in word or word.lower().endswith((".json", ".gguf")))


def parse_changes(text: str, base: Query) -> tuple[Query, dict[str, Any]] | None:
    """A thread reply's what-if: ``key=value`` words, optionally after a new model id (``org/name``).

    Returns None when the text is conversation rather than a change: no ``key=value`` word at all,
    or other words around the settings ("I think b=2 is too small", "@bob try s=32k"). Mentions are
    dropped first. A ``key=value`` change with a bad key or value still raises ``InputError``.
    """
    words = [w for w in split_words(text) if not _is_mention(w)]
    if not any("=" in w for w in words):
        return None
    if words and "=" in words[-1] and words[-1][-1] in "?!" and len(words[-1]) > 1:
        words[-1] = words[-1][:-1]  # chat's "b=16?": the question mark ends the reply, not the value
    update: dict[str, Any] = {}
    # Only a word shaped like a Hub id (org/name) changes the model; any other bare word is chat.
    if _is_model_word(words[0]):
        model, revision = parse_model(words[0])
        update = {"model": model, "revision": revision}
        words = words[1:]
    if any("=" not in w for w in words):
        return None
    settings = parse_settings(words)
    query = query_with(base, settings).model_copy(update=update)
    changes = dict(settings)
    if update:
        changes["model"] = update["model"]
    return query, changes
