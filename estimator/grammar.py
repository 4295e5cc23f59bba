"""The one grammar of ``/vram`` and ``vram``: text in, a typed :data:`Command` out.

    <model>[@<revision>] [key=value ...]
    help | gpus | history [model] [mine] | show <id> | compare <model> <model> [key=value ...]

Keys are case-insensitive, order does not matter and the last repeat of a key wins. Every
problem is an :class:`~common.errors.InputError` carrying one sentence that names the word.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from typing import Any, Literal

from common.errors import InputError
from estimator.gpus import lookup_gpu
from estimator.query import MAX_BATCH, MAX_GPUS, MAX_SEQ_LEN, Query
from estimator.spec import Frozen

SUBCOMMANDS = ("help", "gpus", "history", "show", "compare")

# Canonical key -> aliases (all lowercase). The canonical key is what users see in messages.
KEY_ALIASES: dict[str, tuple[str, ...]] = {
    "s": ("seq", "ctx", "context"),
    "b": ("batch",),
    "p": ("bits",),
    "dtype": ("q", "quant"),
    "kv": (),
    "fa": ("flash",),
    "n": ("params",),
    "gpu": (),
    "gpus": ("tp",),
    "engine": (),
    "util": (),
    "mnbt": ("max_num_batched_tokens",),
    "seqs": ("max_num_seqs",),
    "method": (),
}
_ALIAS_TO_KEY = {alias: key for key, aliases in KEY_ALIASES.items() for alias in (key, *aliases)}
VALID_KEYS = tuple(KEY_ALIASES)

# Canonical key -> Query field.
KEY_FIELD: dict[str, str] = {
    "s": "seq_len",
    "b": "batch",
    "p": "bits",
    "dtype": "weight_format",
    "kv": "kv",
    "fa": "flash_attention",
    "n": "params_billions",
    "gpu": "gpu",
    "gpus": "gpus",
    "engine": "engine",
    "util": "util",
    "mnbt": "max_num_batched_tokens",
    "seqs": "max_num_seqs",
    "method": "method",
}

_WEIGHT_FORMATS = ("bf16", "fp16", "fp32", "fp8", "int8", "int4", "nf4", "mxfp4", "awq", "gptq")
# Spellings people paste from torch / HF configs.
_WEIGHT_FORMAT_ALIASES = {"bfloat16": "bf16", "float16": "fp16", "half": "fp16", "float32": "fp32",
                          "float": "fp32", "float8": "fp8", "e4m3": "fp8", "w8a8": "int8", "w4a16": "int4",
                          "bnb4": "nf4", "4bit": "nf4"}
_KV_VALUES = ("on", "off", "auto", "bf16", "fp16", "fp8", "int8")
_KV_ALIASES = {"true": "on", "yes": "on", "false": "off", "no": "off", "none": "off",
               "bfloat16": "bf16", "float16": "fp16", "fp8_e4m3": "fp8", "fp8_e5m2": "fp8"}
_BOOL_VALUES = {"on": True, "true": True, "yes": True, "1": True, "off": False, "false": False, "no": False,
                "0": False}
_BITS = (2, 3, 4, 5, 6, 8, 16, 32)
_ENGINES = ("transformers", "vllm")
_ENGINE_ALIASES = {"hf": "transformers", "huggingface": "transformers"}
_METHODS = ("calibrated", "classic")

_MODEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*(/[A-Za-z0-9][A-Za-z0-9._\-]*)?$")
_REVISION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/]{0,127}$")
_SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?)([km]?)$")


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


class ShowCmd(Frozen):
    kind: Literal["show"] = "show"
    record_id: int


class CompareCmd(Frozen):
    kind: Literal["compare"] = "compare"
    a: Query
    b: Query


Command = EstimateCmd | HelpCmd | GpusCmd | HistoryCmd | ShowCmd | CompareCmd


def _fmt_choices(values: Iterable[object]) -> str:
    return ", ".join(str(v) for v in values)


def _parse_count(key: str, raw: str, *, low: int, high: int) -> int:
    """An integer with an optional k (x1024) or m (x1048576) suffix, range-checked."""
    text = raw.lower().replace("_", "").replace(",", "")
    match = _SIZE_RE.match(text)
    if not match:
        raise InputError(f'{key}={raw} is not a whole number (examples: {key}=4096, {key}=32k)')
    number, suffix = match.groups()
    scale = {"": 1, "k": 1024, "m": 1024 * 1024}[suffix]
    value = float(number) * scale
    if value != int(value):
        raise InputError(f"{key}={raw} is not a whole number (examples: {key}=4096, {key}=32k)")
    count = int(value)
    if not low <= count <= high:
        raise InputError(f"{key}={raw} is out of range: it must be between {low:,} and {high:,}")
    return count


def _parse_float(key: str, raw: str, *, low: float, high: float, low_open: bool = True) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"{key}={raw} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise InputError(f"{key}={raw} is not a number")
    too_low = value <= low if low_open else value < low
    if too_low or value > high:
        bound = f"greater than {low:g}" if low_open else f"at least {low:g}"
        raise InputError(f"{key}={raw} is out of range: it must be {bound} and at most {high:g}")
    return value


def _parse_choice(key: str, raw: str, choices: tuple[str, ...], aliases: dict[str, str] | None = None) -> str:
    value = raw.lower()
    value = (aliases or {}).get(value, value)
    if value not in choices:
        raise InputError(f"{key}={raw} is not valid: use one of {_fmt_choices(choices)}")
    return value


def _parse_bits(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise InputError(f"p={raw} is not valid: use one of {_fmt_choices(_BITS)}") from None
    if value not in _BITS:
        raise InputError(f"p={raw} is not valid: use one of {_fmt_choices(_BITS)}")
    return value


def _parse_bool(key: str, raw: str) -> bool:
    value = _BOOL_VALUES.get(raw.lower())
    if value is None:
        raise InputError(f"{key}={raw} is not valid: use on or off")
    return value


_PARSERS: dict[str, Callable[[str], Any]] = {
    "s": lambda raw: _parse_count("s", raw, low=1, high=MAX_SEQ_LEN),
    "b": lambda raw: _parse_count("b", raw, low=1, high=MAX_BATCH),
    "p": _parse_bits,
    "dtype": lambda raw: _parse_choice("dtype", raw, _WEIGHT_FORMATS, _WEIGHT_FORMAT_ALIASES),
    "kv": lambda raw: _parse_choice("kv", raw, _KV_VALUES, _KV_ALIASES),
    "fa": lambda raw: _parse_bool("fa", raw),
    "n": lambda raw: _parse_float("n", raw, low=0, high=100_000),
    "gpu": lambda raw: lookup_gpu(raw).key,
    "gpus": lambda raw: _parse_count("gpus", raw, low=1, high=MAX_GPUS),
    "engine": lambda raw: _parse_choice("engine", raw, _ENGINES, _ENGINE_ALIASES),
    "util": lambda raw: _parse_float("util", raw, low=0, high=1),
    "mnbt": lambda raw: _parse_count("mnbt", raw, low=1, high=MAX_SEQ_LEN),
    "seqs": lambda raw: _parse_count("seqs", raw, low=1, high=MAX_BATCH),
    "method": lambda raw: _parse_choice("method", raw, _METHODS),
}


def _unknown_key(word: str) -> InputError:
    close = difflib.get_close_matches(word.lower(), list(_ALIAS_TO_KEY), n=1, cutoff=0.5)
    hint = f'; did you mean "{_ALIAS_TO_KEY[close[0]]}"?' if close else ";"
    return InputError(f'unknown key "{word}"{hint} valid keys: {_fmt_choices(VALID_KEYS)}')


def parse_settings(words: Iterable[str]) -> dict[str, Any]:
    """Parse ``key=value`` words into {canonical key: value}; the last repeat wins."""
    settings: dict[str, Any] = {}
    for word in words:
        if "=" not in word:
            raise InputError(
                f'unexpected word "{word}": after the model, write settings as key=value '
                f"(valid keys: {_fmt_choices(VALID_KEYS)})"
            )
        raw_key, _, raw_value = word.partition("=")
        key = _ALIAS_TO_KEY.get(raw_key.strip().lower())
        if key is None:
            raise _unknown_key(raw_key)
        raw_value = raw_value.strip()
        if not raw_value:
            raise InputError(f"{key}= has no value")
        settings[key] = _PARSERS[key](raw_value)
    return settings


def query_with(base: Query, settings: dict[str, Any]) -> Query:
    """A new query: ``base`` with the parsed settings applied (re-validated as a whole)."""
    fields = {KEY_FIELD[key]: value for key, value in settings.items()}
    return Query.model_validate({**base.model_dump(), **fields})


def parse_model(word: str) -> tuple[str, str | None]:
    """Split ``org/name@revision``; a path (has a path separator or starts with . ~) passes as is."""
    if word.startswith((".", "/", "~")) or word.endswith(".json"):
        return word, None
    model, _, revision = word.partition("@")
    if not _MODEL_RE.match(model):
        raise InputError(
            f'"{word}" is not a Hub model id: write it as org/name, for example microsoft/phi-4'
        )
    if "@" in word and not _REVISION_RE.match(revision):
        raise InputError(f'"{revision}" is not a valid revision: use a branch, tag or commit sha')
    return model, (revision or None)


def _split(text: str) -> list[str]:
    # Slack may wrap pasted text in backticks or send non-breaking spaces.
    cleaned = text.replace("\u00a0", " ").replace("`", " ").strip()
    words = cleaned.split()
    # Slack and shells put spaces around "=" sometimes ("s = 32k"): glue them back.
    glued: list[str] = []
    for word in words:
        if glued and (word.startswith("=") or glued[-1].endswith("=")) and "=" not in glued[-1][:-1]:
            glued[-1] += word
        else:
            glued.append(word)
    return glued


def _estimate_query(words: list[str], *, base: Query | None = None) -> tuple[Query, tuple[str, ...]]:
    if not words:
        raise InputError("give a model id first, for example: microsoft/phi-4 s=16k b=1")
    first = words[0]
    if "=" in first:
        raise InputError(f'"{first}" comes before the model: start with a model id, for example microsoft/phi-4')
    model, revision = parse_model(first)
    settings = parse_settings(words[1:])
    query = query_with(base or Query(), settings)
    return query.model_copy(update={"model": model, "revision": revision}), tuple(settings)


def parse(text: str) -> Command:
    """Parse one line of ``/vram`` or ``vram`` input into a command."""
    words = _split(text)
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
        rest = words[1:]
        mine = any(w.lower() == "mine" for w in rest)
        others = [w for w in rest if w.lower() != "mine"]
        if len(others) > 1:
            raise InputError(f'history takes one model filter at most (got "{others[1]}")')
        if others and "=" in others[0]:
            raise InputError(f'history takes a model name to filter by, not "{others[0]}"')
        return HistoryCmd(model=others[0] if others else None, mine=mine)
    if head == "show":
        if len(words) != 2 or not words[1].lstrip("#").isdigit():
            raise InputError("show needs the number of a stored query, for example: show 42")
        return ShowCmd(record_id=int(words[1].lstrip("#")))
    if head == "compare":
        models = [w for w in words[1:] if "=" not in w]
        if len(models) != 2:
            raise InputError(
                "compare needs two models, for example: compare Qwen/Qwen3-8B meta-llama/Llama-3.1-8B s=32k"
            )
        settings = parse_settings(w for w in words[1:] if "=" in w)
        shared = query_with(Query(), settings)
        queries = []
        for word in models:
            model, revision = parse_model(word)
            queries.append(shared.model_copy(update={"model": model, "revision": revision}))
        return CompareCmd(a=queries[0], b=queries[1])
    query, changed = _estimate_query(words)
    return EstimateCmd(query=query, changed=changed)


def parse_changes(text: str, base: Query) -> tuple[Query, dict[str, Any]] | None:
    """A thread reply's what-if: ``key=value`` words, optionally after a new model id (``org/name``).

    Returns None when the text is conversation rather than a change: no ``key=value`` word at all,
    or other words around the settings ("I think b=2 is too small", "@bob try s=32k"). Mentions are
    dropped first. A ``key=value`` change with a bad key or value still raises ``InputError``.
    """
    words = [w for w in _split(text) if not (w.startswith("<@") and w.endswith(">"))]
    if not any("=" in w for w in words):
        return None
    update: dict[str, Any] = {}
    # Only a word shaped like a Hub id (org/name) changes the model; any other bare word is chat.
    if "=" not in words[0] and "/" in words[0] and not words[0].startswith((".", "/", "~")):
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
