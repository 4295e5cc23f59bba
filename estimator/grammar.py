"""The settings grammar: ``<model>[@<revision>] key=value ...`` words in, a typed :class:`Query` out.

:data:`KEYS` is the one table of command keys (name, aliases, the query field it sets, its
values, range, default and help line). The parser below, both front ends' help texts and the
README's table are made from it; the allowed values come from the same ``Literal`` types the
query uses, and the engine names from the engine registry. Commands around the settings (help,
gpus, history, show, compare) are the front ends' business (``bot.commands``).

Keys are case-insensitive and order does not matter; a key given twice is an error. Settings are
read after Unicode NFKC normalisation, so the full-width forms an East Asian input method types
(``s=１６k``, ``ｂ＝２``) mean their ASCII forms; other scripts' digits (``s=٣k``) are refused. Every
problem is an :class:`~common.errors.InputError` carrying one sentence that names the word.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal, get_args

from common.errors import InputError
from estimator.engines import engine_aliases, engine_names
from estimator.engines.vllm import DEFAULT_VERSION as DEFAULT_VLLM_VERSION
from estimator.engines.vllm import followed_versions
from estimator.engines.vllm_profiles import release_of, version_text
from estimator.gpus import lookup_gpu
from estimator.query import (
    MAX_BATCH,
    MAX_BLOCK_SIZE,
    MAX_DRAFT_CHARS,
    MAX_GPUS,
    MAX_KV_CACHE_MEMORY,
    MAX_MTP_TOKENS,
    MAX_REDUNDANT_EXPERTS,
    MAX_SEQ_LEN,
    MAX_SPEC_TOKENS,
    MAX_YARN_FACTOR,
    MIN_PARAMS_BILLIONS,
    Bits,
    KVSetting,
    Method,
    Query,
    Yarn,
)
from estimator.spec import WeightFormat

_SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?)([km]?)$", re.ASCII)
_MODEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*(/[A-Za-z0-9][A-Za-z0-9._\-]*)?$")
_REVISION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-/]{0,127}$")

_BOOL_VALUES = {"on": True, "true": True, "yes": True, "1": True, "off": False, "false": False, "no": False, "0": False}


def _fmt_choices(values: Iterable[object]) -> str:
    return ", ".join(str(v) for v in values)


_MAX_COUNT_CHARS = 40


def _cut(raw: str) -> str:
    """A value as a sentence shows it: long ones cut."""
    return raw if len(raw) <= 24 else f"{raw[:12]}...{raw[-6:]} ({len(raw):,} characters)"


def _not_whole(key: str, raw: str, low: int, high: int, example: str = "") -> InputError:
    """Say what the key accepts: "1e9" and "-5" are numbers, just not ones a count key reads."""
    example = f"{key}=4096, {key}=32k" if key == "s" else f"{key}={example or max(low, 1)}"
    # k and m read on token and sequence counts; a count of GPUs or experts is not written so.
    scale = ", k meaning x1024 and m x1048576" if high >= 1024 and key not in ("gpus", "pp", "dp", "eplb") else ""
    longest = ", or max for the model's longest context" if key == "s" else ""
    return InputError(
        f"{key}={_cut(raw)} is not a whole number: {key} takes one from {low:,} to {high:,} in digits{scale}"
        f"{longest} ({example}{', s=max' if longest else ''})"
    )


def _parse_count(key: str, raw: str, *, low: int, high: int, example: str = "") -> int:
    """An integer with an optional k (x1024) or m (x1048576) suffix, range-checked; ``example`` is the
    value a refusal shows."""
    text = raw.lower().replace("_", "").replace(",", "")
    match = _SIZE_RE.match(text)
    if not match:
        if text.startswith("-") and _SIZE_RE.match(text[1:]):  # a number, just below the range
            raise InputError(f"{key}={_cut(raw)} is out of range: it must be between {low:,} and {high:,}")
        raise _not_whole(key, raw, low, high, example)
    number, suffix = match.groups()
    if len(number) > _MAX_COUNT_CHARS:  # far past any range; never converted (int() refuses 4,300 digits)
        raise InputError(f"{key}={_cut(raw)} is out of range: it must be between {low:,} and {high:,}")
    scale = {"": 1, "k": 1024, "m": 1024 * 1024}[suffix]
    value = Fraction(number) * scale  # exact: a float overflows to inf past 309 digits
    if value.denominator != 1 and not suffix:
        raise _not_whole(key, raw, low, high, example)
    # With k or m a decimal is rounded down to whole tokens, so that a compact figure the answers
    # print (``3.76M``, rounded down) can be typed back (``s=3.76m``) and still fits.
    count = int(value)
    if not low <= count <= high:
        raise InputError(f"{key}={raw} is out of range: it must be between {low:,} and {high:,}")
    return count


# Units as vLLM's human-readable integers read them (utils/argparse_utils.py human_readable_int:
# k, m, g, t decimal; K, M, G, T binary), and the spelled-out GB / GiB forms.
_BYTE_UNITS = {
    "": 1,
    "k": 10**3,
    "m": 10**6,
    "g": 10**9,
    "t": 10**12,
    "K": 1 << 10,
    "M": 1 << 20,
    "G": 1 << 30,
    "T": 1 << 40,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 1 << 10,
    "mib": 1 << 20,
    "gib": 1 << 30,
    "tib": 1 << 40,
}
_BYTES_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([A-Za-z]*)")


def _parse_bytes(key: str, raw: str, *, high: int) -> int:
    """A byte count: ``20GiB``, ``20G`` (binary, as vLLM reads it), ``20g`` or ``20GB`` (decimal), or
    plain bytes; at least one MiB (a smaller pool holds no block of any model) and at most ``high``."""
    match = _BYTES_RE.fullmatch(raw.replace("_", "").replace(",", "").strip()) if raw.isascii() else None
    unit = match.group(2) if match else ""
    scale = _BYTE_UNITS.get(unit, _BYTE_UNITS.get(unit.lower())) if len(unit) > 1 else _BYTE_UNITS.get(unit)
    if match is None or scale is None:
        raise InputError(f"{key}={raw} is not a size: write bytes, or 20GiB, 20G (GiB) or 20GB (10^9 bytes)")
    value = int(float(match.group(1)) * scale)
    if value < 1 << 20 and not unit:
        # "kvmem=20" meant GiB: a bare number is bytes, as vLLM reads it.
        number = match.group(1)
        fix = (
            f"for {number} GiB write {key}={number}GiB, or {key}={number}g for {number} x 10^9 bytes"
            if (1 << 20) <= float(number) * (1 << 30) <= high
            else f"write a unit, e.g. {key}=20GiB"
        )
        raise InputError(f"{key}={raw} is under the least of 1 MiB, as a bare number is bytes: {fix}")
    if value < 1 << 20 or value > high:
        raise InputError(f"{key}={raw} is out of range: it must be between 1 MiB and {high >> 30:,} GiB")
    return value


def _parse_yarn(key: str, raw: str, *, high: float) -> Yarn:
    """``4`` (a factor over the config's positions) or ``4:32768`` (over that many original positions)."""
    factor, colon, original = raw.partition(":")
    try:
        value = _parse_float(key, factor, low=1, high=high)
    except InputError as err:
        # Name the whole value typed (yarn=4x:40960), not its factor alone.
        raise InputError(str(err).replace(f"{key}={_cut(factor)} ", f"{key}={_cut(raw)} ", 1)) from None
    if not colon:
        return Yarn(factor=value)
    try:
        positions = _parse_count(key, original, low=1, high=MAX_SEQ_LEN, example="4:32768")
    except InputError as err:
        # Name the whole value typed (yarn=4:40960x), not its part after the colon.
        raise InputError(str(err).replace(f"{key}={_cut(original)} ", f"{key}={_cut(raw)} ", 1)) from None
    return Yarn(factor=value, original=positions)


def _share_hint(key: str, raw: str) -> str:
    """What a share key (util) takes, with an example: the fraction a percentage (``90%``, or a bare
    ``90`` from 10 to 100) means, else 0.9."""
    percent = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(%?)", raw, re.ASCII)
    number = float(percent.group(1)) if percent else 0
    example = f"{number / 100:g}" if percent and 0 < number <= 100 and (percent.group(2) or number >= 10) else "0.9"
    return f"{key} takes a fraction of the GPU's memory, e.g. {key}={example}"


def _parse_float(key: str, raw: str, *, low: float, high: float, share: bool = False) -> float:
    """A number in (low, high]; ``share``: a fraction of the GPU, which a refusal says (see :func:`_share_hint`)."""
    hint = f": {_share_hint(key, raw)}" if share else ""
    if share and re.fullmatch(r"\d+(?:\.\d+)?\s*%", raw, re.ASCII):
        raise InputError(f"{key}={raw} is a percentage{hint}")
    if not raw.isascii():  # float() reads any script's digits; the grammar reads ASCII (after NFKC)
        raise InputError(f"{key}={raw} is not a number{hint}")
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"{key}={raw} is not a number{hint}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise InputError(f"{key}={raw} is not a number{hint}")
    if value <= low or value > high:
        within = f"it must be greater than {low:g} and at most {high:g}"
        raise InputError(f"{key}={raw} is out of range: {within}" + (f" ({_share_hint(key, raw)})" if share else ""))
    return value


def _parse_choice(key: str, raw: str, choices: tuple[str, ...], aliases: dict[str, str]) -> str:
    value = raw.lower()
    value = aliases.get(value, value)
    if value not in choices:
        raise InputError(f"{key}={raw} is not valid: use one of {_fmt_choices(choices)}")
    return value


def _parse_int_choice(key: str, raw: str, choices: tuple[str, ...]) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise InputError(f"{key}={raw} is not valid: use one of {_fmt_choices(choices)}") from None
    if str(value) not in choices:
        raise InputError(f"{key}={raw} is not valid: use one of {_fmt_choices(choices)}")
    return value


def _parse_bool(key: str, raw: str) -> bool:
    value = _BOOL_VALUES.get(raw.lower())
    if value is None:
        raise InputError(f"{key}={raw} is not valid: use on or off")
    return value


def _parse_version(key: str, raw: str) -> str:
    """A release as major.minor, with its patch when there is one: "0.33", "v0.33.0" give "0.33",
    "v0.29.1" gives "0.29.1"; a build keeps its whole PEP 440 form ("0.29.1rc1.dev339+g..."). All are
    sized by their minor's profile; the header says so."""
    try:
        release_of(raw)
        return version_text(raw)
    except InputError as err:
        followed = sorted(followed_versions(), key=release_of)
        raise InputError(
            f"{key}={_cut(raw)} is not a vLLM release: write a release from {followed[0]} to {followed[-1]}, "
            f"e.g. {key}={followed[-1]}"
        ) from err


KeyKind = Literal["count", "float", "choice", "bits", "bool", "gpu", "version", "model", "bytes", "yarn"]


@dataclass(frozen=True)
class Key:
    """One ``key=value`` setting of the grammar."""

    name: str  # canonical, what messages and help show
    aliases: tuple[str, ...]
    query_field: str  # the Query field it sets
    kind: KeyKind  # how its value is read
    help: str  # what it means, one line
    default: str  # the default, as help shows it
    low: float = 0
    high: float = 0
    choices: Callable[[], tuple[str, ...]] | None = None  # allowed values (choice and bits keys)
    value_aliases: Callable[[], dict[str, str]] = field(default=dict)
    values_hint: str = ""  # how help shows the values when they are not a list of choices
    example: str = ""  # a typical value, which a refusal of a count shows (b=8, mnbt=8192)
    fraction: bool = False  # a float key that takes a share of the GPU's memory (util=0.9)

    def values(self) -> tuple[str, ...]:
        """The allowed values of a choice key (empty for the others)."""
        return self.choices() if self.choices else ()

    def short(self) -> str:
        """One column for the help texts: the values of a key with a few, else what it means."""
        return " ".join(self.values()) if self.choices else self.help

    def values_text(self) -> str:
        """The values as help shows them: the choices, or a hint for counts and numbers."""
        return " ".join(self.values()) or self.values_hint

    def parse(self, raw: str) -> Any:
        """The typed value of ``raw``, or an InputError naming ``key=raw``."""
        if self.name == "s" and raw.strip().lower() == MODEL_MAX:
            return MODEL_MAX  # the model's longest context (query_with sets seq_len_from_model)
        if self.kind == "count":
            return _parse_count(self.name, raw, low=int(self.low), high=int(self.high), example=self.example)
        if self.kind == "float":
            return _parse_float(self.name, raw, low=self.low, high=self.high, share=self.fraction)
        if self.kind == "bytes":
            return _parse_bytes(self.name, raw, high=int(self.high))
        if self.kind == "yarn":
            return _parse_yarn(self.name, raw, high=self.high)
        if self.kind == "bits":
            return _parse_int_choice(self.name, raw, self.values())
        if self.kind == "bool":
            return _parse_bool(self.name, raw)
        if self.kind == "gpu":
            if raw.strip().lower() == ANY_GPU:
                return ANY_GPU  # every card in the catalog (query_with sets gpu_any)
            return lookup_gpu(raw).key
        if self.kind == "version":
            return _parse_version(self.name, raw)
        if self.kind == "model":
            if len(raw) > MAX_DRAFT_CHARS:
                raise InputError(f"{self.name}={_cut(raw)} is too long for a model id or path")
            model, revision = parse_model(raw)  # checked like the model word; the source opens it
            return f"{model}@{revision}" if revision else model
        return _parse_choice(self.name, raw, self.values(), self.value_aliases())


def _literal(kind: Any) -> Callable[[], tuple[str, ...]]:
    values = tuple(str(v) for v in get_args(kind))
    return lambda: values


# Spellings people paste from torch / HF configs.
_WEIGHT_FORMAT_ALIASES = {
    "bfloat16": "bf16",
    "float16": "fp16",
    "half": "fp16",
    "float32": "fp32",
    "float": "fp32",
    "float8": "fp8",
    "e4m3": "fp8",
    "w8a8": "int8",
    "w4a16": "int4",
    "bnb4": "nf4",
    "4bit": "nf4",
    "modelopt_fp4": "nvfp4",
}
_KV_ALIASES = {
    "true": "on",
    "yes": "on",
    "false": "off",
    "no": "off",
    "none": "off",
    "bfloat16": "bf16",
    "float16": "fp16",
    "fp8_e4m3": "fp8",
    "fp8_e5m2": "fp8",
}

FOLLOWED_VLLM_VERSIONS = followed_versions()
# s=max: the model's longest context, as the engine derives its default.
MODEL_MAX = "max"
ANY_GPU = "any"  # gpu=any: the fewest of every catalog card that hold the model

KEYS: tuple[Key, ...] = (
    Key(
        "s",
        ("seq", "ctx", "context"),
        "seq_len",
        "count",
        "tokens per sequence; 32k = 32768; max: the model's",
        "4096",
        low=1,
        high=MAX_SEQ_LEN,
        values_hint="integer, 32k = 32768, 1m = 1048576, max (the model's longest)",
    ),
    Key(
        "b",
        ("batch", "bs", "batch_size", "users"),
        "batch",
        "count",
        "concurrent sequences",
        "1",
        low=1,
        high=MAX_BATCH,
        values_hint="integer >= 1",
        example="8",
    ),
    Key("p", ("bits",), "bits", "bits", "bits per weight", "from the checkpoint", choices=_literal(Bits)),
    Key(
        "dtype",
        ("q", "quant"),
        "weight_format",
        "choice",
        "weight format",
        "from the checkpoint",
        choices=_literal(WeightFormat),
        value_aliases=lambda: _WEIGHT_FORMAT_ALIASES,
    ),
    Key(
        "kv",
        (),
        "kv",
        "choice",
        "KV cache on/off or its dtype",
        "on (the model's dtype)",
        choices=_literal(KVSetting),
        value_aliases=lambda: _KV_ALIASES,
    ),
    Key(
        "fa",
        ("flash",),
        "flash_attention",
        "bool",
        "fused attention",
        "the engine's",
        choices=lambda: ("on", "off"),
    ),
    Key(
        "n",
        ("params",),
        "params_billions",
        "float",
        "parameter count override, billions",
        "from the checkpoint",
        low=MIN_PARAMS_BILLIONS,
        high=100_000,
        values_hint="number",
    ),
    Key(
        "gpu",
        (),
        "gpu",
        "gpu",
        "GPU model: h100, a100-40gb, l4, ... (see gpus), or any",
        "none",
        values_hint="a catalog key or alias, or any",
    ),
    Key(
        "gpus",
        ("tp",),
        "gpus",
        "count",
        "GPUs (vLLM: tensor parallel; transformers: layers)",
        "1",
        low=1,
        high=MAX_GPUS,
        values_hint=f"1..{MAX_GPUS}",
        example="2",
    ),
    Key(
        "pp",
        ("pipeline",),
        "pp",
        "count",
        "vLLM pipeline stages of gpus= GPUs each (gpus x pp)",
        "1",
        low=1,
        high=MAX_GPUS,
        values_hint=f"1..{MAX_GPUS}",
        example="2",
    ),
    Key(
        "dp",
        ("replicas",),
        "dp",
        "count",
        "vLLM data-parallel replicas of gpus x pp GPUs each",
        "1",
        low=1,
        high=MAX_GPUS,
        values_hint=f"1..{MAX_GPUS}",
        example="2",
    ),
    Key(
        "ep",
        ("expert_parallel",),
        "expert_parallel",
        "bool",
        "vLLM expert parallelism: whole experts over gpus x dp",
        "off",
        choices=lambda: ("on", "off"),
    ),
    Key(
        "eplb",
        ("num_redundant_experts",),
        "eplb",
        "count",
        "vLLM EPLB redundant experts (--enable-eplb, ep=on)",
        "off",
        low=0,
        high=MAX_REDUNDANT_EXPERTS,
        values_hint="0..1023",
        example="32",
    ),
    Key(
        "engine",
        (),
        "engine",
        "choice",
        "serving engine profile",
        "transformers",
        choices=engine_names,
        value_aliases=engine_aliases,
    ),
    Key(
        "util",
        (),
        "util",
        "float",
        "vLLM gpu_memory_utilization",
        "1.0 (earlier 0.9/0.92)",
        low=0,
        high=1,
        values_hint="0 < x <= 1",
        fraction=True,
    ),
    Key(
        "mnbt",
        ("max_num_batched_tokens",),
        "max_num_batched_tokens",
        "count",
        "vLLM max_num_batched_tokens",
        "vLLM's default",
        low=1,
        high=MAX_SEQ_LEN,
        values_hint="integer",
        example="8192",
    ),
    Key(
        "seqs",
        ("max_num_seqs",),
        "max_num_seqs",
        "count",
        "vLLM max_num_seqs",
        "vLLM's default",
        low=1,
        high=MAX_BATCH,
        values_hint="integer",
        example="256",
    ),
    Key(
        "vllm",
        ("vllm_version",),
        "vllm",
        "version",
        "vLLM release",
        f"{DEFAULT_VLLM_VERSION} (the newest followed)",
        values_hint=f"{FOLLOWED_VLLM_VERSIONS[0]} ... {FOLLOWED_VLLM_VERSIONS[-1]}",
    ),
    Key(
        "prefix",
        ("prefix_caching", "apc"),
        "prefix_caching",
        "bool",
        "vLLM prefix caching",
        "the release's",
        choices=lambda: ("on", "off"),
    ),
    Key(
        "eager",
        ("enforce_eager",),
        "enforce_eager",
        "bool",
        "vLLM --enforce-eager: no CUDA graphs, no torch.compile",
        "off",
        choices=lambda: ("on", "off"),
    ),
    Key(
        "async",
        ("async_scheduling",),
        "async_scheduling",
        "bool",
        "vLLM async scheduling (on: two batches in flight from 0.26)",
        "the release's",
        choices=lambda: ("on", "off"),
    ),
    Key(
        "mm",
        ("limit_mm_per_prompt", "images"),
        "mm_limit",
        "count",
        "vLLM items per prompt (0: text only, no vision tower)",
        "vLLM's (999 per modality)",
        low=0,
        high=MAX_BATCH,
        values_hint="integer, 0 = text only",
        example="4",
    ),
    Key(
        "mtp",
        ("num_speculative_tokens",),
        "mtp",
        "count",
        "vLLM MTP speculative tokens (0: off)",
        "off",
        low=0,
        high=MAX_MTP_TOKENS,
        values_hint=f"0..{MAX_MTP_TOKENS}",
        example="2",
    ),
    Key(
        "draft",
        ("draft_model",),
        "draft",
        "model",
        "vLLM draft model (DFlash, EAGLE, small LM), with spec=",
        "none",
        values_hint="Hub id or local path",
    ),
    Key(
        "spec",
        ("spec_tokens",),
        "spec",
        "count",
        "the draft model's speculative tokens",
        "none",
        low=1,
        high=MAX_SPEC_TOKENS,
        values_hint=f"1..{MAX_SPEC_TOKENS}",
        example="3",
    ),
    Key(
        "yarn",
        ("rope_yarn",),
        "yarn",
        "yarn",
        "RoPE YaRN factor[:original positions]",
        "none",
        low=1,
        high=MAX_YARN_FACTOR,
        values_hint="4 or 4:32768",
    ),
    Key(
        "kvmem",
        ("kv_cache_memory_bytes",),
        "kv_cache_memory",
        "bytes",
        "vLLM KV pool per GPU (--kv-cache-memory-bytes)",
        "from util",
        low=0,
        high=MAX_KV_CACHE_MEMORY,
        values_hint="20GiB, 20G, 20GB",
    ),
    Key(
        "block",
        ("block_size",),
        "block_size",
        "bits",  # an integer from a closed set, read as p= is
        "vLLM KV-cache block size in tokens (--block-size)",
        "the release's",
        choices=lambda: tuple(str(16 << i) for i in range(5) if 16 << i <= MAX_BLOCK_SIZE),
    ),
    Key(
        "method",
        (),
        "method",
        "choice",
        "sizing method; classic: the original calculator's six lines",
        "calibrated",
        choices=_literal(Method),
    ),
)

KEY_BY_NAME: dict[str, Key] = {key.name: key for key in KEYS}
ALIAS_TO_KEY = {alias: key.name for key in KEYS for alias in (key.name, *key.aliases)}
VALID_KEYS = tuple(KEY_BY_NAME)


def is_default(query: Query, name: str) -> bool:
    """True when the query leaves key ``name`` at its default."""
    if (name == "s" and query.seq_len_from_model) or (name == "gpu" and query.gpu_any):
        return False
    field_name = KEY_BY_NAME[name].query_field
    return bool(getattr(query, field_name) == Query.model_fields[field_name].default)


def _unknown_key(word: str) -> InputError:
    close = difflib.get_close_matches(word.lower(), list(ALIAS_TO_KEY), n=1, cutoff=0.5)
    hint = f'; did you mean "{ALIAS_TO_KEY[close[0]]}"?' if close else ";"
    return InputError(f'unknown key "{word}"{hint} valid keys: {_fmt_choices(VALID_KEYS)}')


def normalize_word(word: str) -> str:
    """A settings word as the grammar reads it: NFKC, so full-width ``ｓ＝１６ｋ`` is ``s=16k``."""
    return unicodedata.normalize("NFKC", word)


def parse_settings(words: Iterable[str]) -> dict[str, Any]:
    """Parse ``key=value`` words into {canonical key: value}; a key given twice is an error."""
    settings: dict[str, Any] = {}
    given: dict[str, str] = {}
    for word in map(normalize_word, words):
        if "=" not in word:
            raise InputError(
                f'unexpected word "{word}": after the model, write settings as key=value '
                f"(valid keys: {_fmt_choices(VALID_KEYS)})"
            )
        raw_key, _, raw_value = word.partition("=")
        if not raw_key.strip():
            example = f"s{word}" if raw_value.strip() else "s=32k"
            raise InputError(f'"{word}" has no key before "=": write key=value, for example {example}')
        key = ALIAS_TO_KEY.get(raw_key.strip().lower())
        if key is None:
            raise _unknown_key(raw_key)
        if key in given:
            same = "" if given[key].partition("=")[0].lower() == raw_key.strip().lower() else f" ({key})"
            raise InputError(f'"{given[key]}" and "{word}" set the same key{same}: give it once')
        given[key] = word
        raw_value = raw_value.strip()
        if not raw_value:
            raise InputError(f"{key}= has no value")
        settings[key] = KEY_BY_NAME[key].parse(raw_value)
    return settings


def query_with(base: Query, settings: dict[str, Any]) -> Query:
    """A new query: ``base`` with the parsed settings applied (re-validated as a whole). A vLLM
    release (vllm=) names the engine too, unless the same words name another engine."""
    fields = {KEY_BY_NAME[key].query_field: value for key, value in settings.items()}
    if "s" in settings:
        # s=max asks for the model's longest context; a length given replaces it.
        from_model = settings["s"] == MODEL_MAX
        fields["seq_len_from_model"] = from_model
        if from_model:
            del fields["seq_len"]
    if "gpu" in settings:
        # gpu=any names no one GPU; a GPU named replaces any, as any replaces a GPU.
        fields["gpu_any"] = settings["gpu"] == ANY_GPU
        if fields["gpu_any"]:
            fields["gpu"] = None
    if "vllm" in settings and "engine" not in settings:
        fields[KEY_BY_NAME["engine"].query_field] = "vllm"
    # p= and dtype= both say how the weights are stored: one given replaces the other's earlier value
    # ("4-bit", then "in fp8" in a thread), where the two given together are checked against each other.
    for given, other in (("p", "dtype"), ("dtype", "p")):
        if given in settings and other not in settings:
            fields[KEY_BY_NAME[other].query_field] = None
    return Query.model_validate({**base.model_dump(), **fields})


# A model page's address on the Hub, as a browser or chat gives it: the id, and a branch or commit.
HUB_URL_RE = re.compile(
    r"^<?(?:https?://)?(?:www\.)?(?:huggingface\.co|hf\.co)/(?:models/)?([^/\s|>?#]+/[^/\s|>?#]+)"
    r"(?:/(?:tree|blob|resolve)/([^/\s|>?#]+))?[^\s]*$",
    re.IGNORECASE,
)


def parse_model(word: str) -> tuple[str, str | None]:
    """Split ``org/name@revision``; a Hub address gives its id (and the branch or commit it names); a
    path (starts with . / ~, ends with .json or .gguf, ends with / as a shell completes a folder, or
    has more than one slash) passes as is: the source says whether it holds a model."""
    if url := HUB_URL_RE.match(word):
        word = url.group(1) + (f"@{url.group(2)}" if url.group(2) and url.group(2) != "main" else "")
    elif word.startswith((".", "/", "~")) or word.endswith((".json", "/", ".gguf")):
        return word, None
    elif word.count("/") >= 2 and "@" not in word and "." not in word.split("/")[0]:
        # models/qwen/config.md, tests/fixtures/configs: a Hub id has one slash; a relative path
        # passes on, and the source says what it finds there (example.com/a/b is an address, no path).
        return word, None
    model, _, revision = word.partition("@")
    if not _MODEL_RE.match(model):
        raise InputError(f'"{word}" is not a Hub model id: write it as org/name, for example microsoft/phi-4')
    if "@" in word and not _REVISION_RE.match(revision):
        raise InputError(f'"{revision}" is not a valid revision: use a branch, tag or commit sha')
    return model, (revision or None)


def parse_query(words: list[str], *, base: Query | None = None) -> tuple[Query, tuple[str, ...]]:
    """``<model>[@rev] key=value ...`` as words: the query, and the canonical keys the words set."""
    if not words:
        raise InputError("give a model id first, for example: microsoft/phi-4 s=16k b=1")
    first = words[0]
    if "=" in first:
        raise InputError(f'"{first}" comes before the model: start with a model id, for example microsoft/phi-4')
    model, revision = parse_model(first)
    settings = parse_settings(words[1:])
    query = query_with(base or Query(), settings)
    return query.model_copy(update={"model": model, "revision": revision}), tuple(settings)
