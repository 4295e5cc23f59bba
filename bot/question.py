"""Questions in plain words, read into the ``key=value`` grammar: deterministic, no language model.

    "can Qwen3-32B run 64k context for 8 users on two L40S?"
    -> kind "fit", model phrase "Qwen3-32B", settings ``s=64k b=8 gpu=l40s gpus=2``

The reader only recognises fixed forms (listed below with the rules); every word is either read
(a setting, the question kind, the model, or a filler word of the question language) or reported
in :attr:`Question.unused`. What it cannot read without guessing (no model, two GPUs, an unknown
GPU, an engine vram does not model) raises :class:`~common.errors.InputError` with one sentence
and an example. The settings it reads are validated by the grammar's own parser, so a question and
the ``key=value`` command it shows give the same :class:`~estimator.grammar.EstimateCmd`.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

from bot.commands import EstimateCmd, parse
from common.errors import InputError
from estimator.dtypes import FORMAT_BITS
from estimator.engines import DEFAULT_ENGINE, setting_owner
from estimator.engines.vllm_profiles import NEWEST, profile_for
from estimator.gpus import GPU, lookup_gpu
from estimator.grammar import (
    ALIAS_TO_KEY,
    ANY_GPU,
    HUB_URL_RE,
    KEY_BY_NAME,
    MODEL_MAX,
    VALID_KEYS,
    parse_settings,
    query_with,
)
from estimator.query import Query
from estimator.spec import Frozen
from sources.resolve import REPO_ID_RE

_KV_VALUES = KEY_BY_NAME["kv"].values()
_KV_ALIASES = KEY_BY_NAME["kv"].value_aliases()
_WEIGHT_FORMATS = KEY_BY_NAME["dtype"].values()
_WEIGHT_FORMAT_ALIASES = KEY_BY_NAME["dtype"].value_aliases()

QuestionKind = Literal["fit", "max_context", "max_batch", "min_gpus", "which_gpu", "kv_cache"]

EXAMPLE = "can Qwen/Qwen3-32B run 64k context for 8 users on two L40S?"
SUBCOMMANDS = ("help", "gpus", "history", "show", "compare", "serve", "db")

# Counts written as words ("two L40S", "a single user").
NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "single": 1,
    "two": 2,
    "dual": 2,
    "three": 3,
    "four": 4,
    "quad": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twelve": 12,
    "sixteen": 16,
    "twenty": 20,
    "thirty-two": 32,
    "sixty-four": 64,
    "hundred": 100,
}
# The words of the question language itself: read, and used for nothing else.
_FILLER_WORDS = """
a an the it its it's this that these those i i'm we we're you me my our us they them he she
can could will would does do did is are was were be been being am have has had should shall might may
on in with using use used via under over across into onto at for of to from by and or but if so as than
then also just please pls plz thanks thank thx hey hi hello vram fit fits fitting fitted run runs running
serve serving served load loading host hosting deploy deploying deployed inference infer work works
enough possible need needed needs require required requires requirement take takes how many much max
maximum min minimum what what's whats which about try trying gpu gpus card cards memory vram model
models get handle support give set same there any way ok okay whether know tell wonder wondering
much long big large largest longest biggest most fewest least number context tokens token batch size
users requests sequences concurrent concurrency at once parallel up able want wanna going go
gonna here now instead again still right yes sure let's lets question checkpoint weights weight
max-model-len max_model_len --max-model-len hold manage length supports supported quick
make back switch change bump
smallest cheapest best kind type sort hardware
"""
FILLER = frozenset(_FILLER_WORDS.split())
_MODELISH = re.compile(r"[a-z].*\d|\d.*[a-z]", re.IGNORECASE)
_SIZE_ONLY = re.compile(r"^\d+(?:\.\d+)?[bm]$", re.IGNORECASE)
# How a count of cards split by pp= and dp= names its parts.
_SPLIT_WORDS = {"pp": "pipeline stages", "dp": "data-parallel replicas"}
_GGUF_QUANT = re.compile(r"^(?:i?q\d(?:_[a-z0-9]+)*|gguf)$", re.IGNORECASE)
# GPU-shaped words (a brand, or a catalog-like name) that the catalog may not know.
_GPU_BRANDS = {"rtx", "gtx", "geforce", "nvidia", "amd", "radeon", "tesla", "quadro", "instinct", "tpu", "arc", "apple"}
# Words that make a catalog name another card ("A6000 Ada", "4090 laptop", "3090 Ti").
_GPU_VARIANT_WORDS = {"ada", "blackwell", "hopper", "ampere", "laptop", "mobile", "ti", "super", "max-q", "xt", "xtx"}
_UNSUPPORTED_ENGINES = {
    "sglang": "SGLang",
    "ollama": "Ollama",
    "llama.cpp": "llama.cpp",
    "llamacpp": "llama.cpp",
    "llama-cpp": "llama.cpp",
    "tgi": "TGI",
    "text-generation-inference": "TGI",
    "tensorrt-llm": "TensorRT-LLM",
    "trt-llm": "TensorRT-LLM",
    "tensorrt": "TensorRT-LLM",
    "trtllm": "TensorRT-LLM",
    "exllama": "ExLlama",
    "exllamav2": "ExLlama",
    "exllamav3": "ExLlama",
    "lmdeploy": "LMDeploy",
    "mlx": "MLX",
    "lmstudio": "LM Studio",
    "koboldcpp": "KoboldCpp",
    "deepspeed": "DeepSpeed",
    "vllm-ascend": "vLLM Ascend",
}
_EDGE_PUNCT = "\"'()[]{}“”‘’"
# Slack's emphasis, *bold* and _italic_, over one word or several ("_2 users_"): the marks go, paired
# as Slack pairs them (a mark opening a word, the same closing a word); a lone "_" is part of a name.
_EMPHASIS = re.compile(r"(?<!\S)([*_])(?=\S)(.+?)(?<=\S)\1(?!\S)")
_TRAIL_PUNCT = "?!.,;:…"
_EMOJI_CODE = re.compile(r"(?::[\w+'-]+:)+")  # ":rocket:", ":+1::skin-tone-2:"

# -- numbers ------------------------------------------------------------------------------------

_NUM = r"\d[\d,_]*(?:\.\d+)?[km]?"
_NUMW = r"(?:\d[\d,_]*(?:\.\d+)?[km]?|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True)) + ")"


_MAX_COUNT_CHARS = 40

# Numbers in words, for spoken_numbers: units and teens, tens, and the scales that multiply them.
_UNIT_WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS_WORDS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SPOKEN_VALUE = {w: n for n, w in enumerate(_UNIT_WORDS)} | {w: 20 + 10 * n for n, w in enumerate(_TENS_WORDS)}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_WORD_OR_DIGITS = re.compile(r"[A-Za-z]+|\d+(?:\.\d+)?")


def _spoken_value(words: list[str]) -> Fraction | None:
    """The value of number words in order ("one hundred twenty eight thousand", "128 thousand", "a
    hundred", "two hundred and fifty"), or None where they are no one number ("one twenty")."""
    total, current, last = Fraction(0), Fraction(0), ""
    for n, word in enumerate(words):
        if word == "and":
            if last != "hundred" or n == len(words) - 1:
                return None
            continue
        if word[0].isdigit() or word in ("a", "an"):
            if n or len(word) > _MAX_COUNT_CHARS:
                return None  # a count only leads ("128 thousand", "a hundred"); far past any range stays
            current, last = (Fraction(word) if word[0].isdigit() else Fraction(1)), "lead"
        elif word in _SPOKEN_VALUE:
            value = _SPOKEN_VALUE[word]
            # After a tens word only a unit; after a unit or teen nothing but a scale.
            if last in ("unit", "lead") or (last == "tens" and not 0 < value < 10):
                return None
            current += value
            last = "tens" if value >= 20 else "unit"
        elif word == "hundred":
            if last not in ("unit", "lead", ""):
                return None
            current, last = (current or Fraction(1)) * 100, "hundred"
        elif word in _SCALES:
            if last in ("", "scale"):
                return None  # "a million million": no one number
            total, current, last = total + (current or Fraction(1)) * _SCALES[word], Fraction(0), "scale"
        else:
            return None
    return total + current if last not in ("", "lead") or len(words) == 1 else None


def spoken_numbers(text: str, said: dict[str, str] | None = None) -> str:
    """Numbers said in words or with a scale word, as digits: "two hundred" -> 200, "two hundred and fifty"
    -> 250, "one hundred twenty-eight thousand" -> 128000, "128 thousand" -> 128000, "1 million" ->
    1000000, "forty eight" -> 48, "a couple of" -> 2, and "32 k" -> 32k (the grammar's k). A lone count
    word ("two", "a") stays as it is: the rules read it; words that make no one number stay too. ``said``
    collects each number written to the words it was said as ("2" -> "a couple of"), for what is not used."""
    said = {} if said is None else said

    def couple(m: re.Match[str]) -> str:
        said["2"] = m.group(0)
        return "2"

    def undotted(m: re.Match[str]) -> str:
        said[_undotted(m)] = m.group(0)
        return _undotted(m)

    text = re.sub(
        r"(?<![\w-])an? (?:couple|pair) of(?![\w-])(?= (?:" + _COUNTED + r")(?!\S))", couple, text, flags=re.IGNORECASE
    )
    # "32.000 tokens": a thousands separator, as some write it, not 32 tokens.
    text = re.sub(r"(?<![\d.,])(\d{1,3})((?:\.\d{3})+)(?= ?(?:tokens?|context|ctx)\b)", undotted, text, flags=re.I)
    text = _prompt_and_output(text)
    out, pos = [], 0
    words = list(_WORD_OR_DIGITS.finditer(text))
    i = 0
    while i < len(words):
        # The longest run of number words joined by single spaces or hyphens, from here.
        j = i
        while (
            j < len(words)
            and j - i < 12
            and (words[j].group().lower() in _NUMBER_RUN_WORDS or (j == i and words[j].group()[0].isdigit()))
            and not (j == i and words[j].group().lower() == "and")
            and (j == i or text[words[j - 1].end() : words[j].start()] in (" ", "-"))
            and not (j > i and words[j].group()[0].isdigit())
        ):
            j += 1
        run = [w.group().lower() for w in words[i:j]]
        start, end = (words[i].start(), words[j - 1].end()) if j > i else (0, 0)
        # Edges: no number glued to letters or dots ("gpt-oss-120b", "3.1", "h100").
        glued = j > i and (
            (start and (text[start - 1].isalnum() or text[start - 1] in ".-"))
            or (end < len(text) and (text[end].isalnum() or text[end] == "."))
        )
        k_after = (
            j > i and text[end : end + 2].lower() == " k" and (end + 2 == len(text) or not text[end + 2].isalnum())
        )
        value = _spoken_value(run) if j > i and not glued else None
        # "a million tokens", not "thanks a million": led by an article, the count needs its noun.
        if value is not None and run[0] in ("a", "an") and not re.match(_COUNTED_AFTER, text[end:]):
            value = None
        if value is not None and start >= 5 and text[start - 5 : start].lower() == "half ":
            value = None  # "half a million": not a whole count of the words read
        single = len(run) == 1 and (run[0] in NUMBER_WORDS or run[0][0].isdigit() or run[0] in ("a", "an", "and"))
        if value is not None and value.denominator == 1 and (not single or k_after) and run[-1] != "and":
            out.append(text[pos:start])
            if k_after:
                written = f"{run[0] if run[0][0].isdigit() else int(value)}k"
                said[written] = text[start : end + 2]
                pos = end + 2
            else:
                written = str(int(value))
                said[written] = text[start:end]
                pos = end
            out.append(written)
            i = j
            continue
        i += 1  # a run that makes no number may hold one further on ("and one thousand")
    out.append(text[pos:])
    return "".join(out)


def _undotted(m: re.Match[str]) -> str:
    return m.group(1) + m.group(2).replace(".", "")


_LENGTH = r"(?<![\w.,])\d[\d,_]*+(?:\.\d+)?[km]?"
# "16k in / 1k out": bare "in" and "out" only with lengths in thousands ("32 in 4 out of 8" is no length).
_LENGTH_K = r"(?<![\w.,])\d[\d_]*+(?:\.\d+)?[km]"
_INPUT_WORDS = r"(?:prompt|input|isl)(?: length)?"
_OUTPUT_WORDS = (
    r"(?:generation|generated|output|completion|response|decode|osl|max[_ -]new[_ -]tokens|max[_ -]tokens|new tokens)"
    r"(?: length)?"
)
_JOIN = r"\s*(?:,|\+|plus|and|with|then|/)?\s*(?:an?\s+|up to\s+|about\s+)?"
_SAID = r"\s*(?:of|=|:|is)?\s*"
_PROMPT_AND_OUTPUT = [
    # "30k prompt + 2k generation", "32k input and 4k output", "16k context, 1k output"
    re.compile(
        rf"(?P<a>{_LENGTH})\s*(?:tokens?\s+)?(?:of\s+)?{_INPUT_WORDS}(?:\s+tokens?)?{_JOIN}"
        rf"(?P<b>{_LENGTH})\s*(?:tokens?\s+)?(?:of\s+)?{_OUTPUT_WORDS}(?:\s+tokens?)?",
        re.IGNORECASE,
    ),
    # "input 30k, output 2k", "prompt 8k and max_tokens 1k"
    re.compile(
        rf"{_INPUT_WORDS}{_SAID}(?P<a>{_LENGTH})(?:\s+tokens?)?{_JOIN}{_OUTPUT_WORDS}{_SAID}(?P<b>{_LENGTH})(?:\s+tokens?)?",
        re.IGNORECASE,
    ),
    # "2k output, 30k input"
    re.compile(
        rf"(?P<b>{_LENGTH})\s*(?:tokens?\s+)?(?:of\s+)?{_OUTPUT_WORDS}(?:\s+tokens?)?{_JOIN}"
        rf"(?P<a>{_LENGTH})\s*(?:tokens?\s+)?(?:of\s+)?{_INPUT_WORDS}(?:\s+tokens?)?",
        re.IGNORECASE,
    ),
    # "16k in / 1k out"
    re.compile(rf"(?P<a>{_LENGTH_K})\s+in\s*/?\s*(?P<b>{_LENGTH_K})\s+out\b", re.IGNORECASE),
]


# "32k context and 4k output": the context (max_model_len) already holds the output.
_CONTEXT_AND_OUTPUT = re.compile(
    rf"(?P<a>{_LENGTH})\s*(?:tokens?\s+)?(?:of\s+)?(?:context|ctx)(?: (?:length|window))?{_JOIN}"
    rf"(?P<b>{_LENGTH})\s*(?:tokens?\s+)?(?:of\s+)?{_OUTPUT_WORDS}(?:\s+tokens?)?",
    re.IGNORECASE,
)


def _prompt_and_output(text: str) -> str:
    """A prompt and an output length said together, as the one length s is (their sum): "30k prompt + 2k
    generation" -> "32k tokens". Lengths that are no whole count stay as said (the rules word them)."""

    def summed(m: re.Match[str]) -> str:
        a, b = _count_value(m.group("a")), _count_value(m.group("b"))
        if a is None or b is None:
            return m.group(0)
        return f"{count_text(a + b)} tokens"

    for pattern in _PROMPT_AND_OUTPUT:
        text = pattern.sub(summed, text)
    return _CONTEXT_AND_OUTPUT.sub(lambda m: f"{m.group('a')} context", text)


# What a count said in words counts, where an article leads it ("a thousand users", "a couple of H100s").
_COUNTED = (
    r"tokens?|users?|requests?|reqs?|sequences?|seqs|sessions?|prompts?|queries|conversations?|chats?|clients?|"
    r"customers?|people|agents?|gpus?|cards?|devices?|context|ctx|\S*\d\S*"
)

_COUNTED_AFTER = re.compile(r" (?:" + _COUNTED + r")(?!\S)", re.IGNORECASE)

_NUMBER_RUN_WORDS = frozenset({*_SPOKEN_VALUE, *_SCALES, "hundred", "and", "a", "an"})


def _count_value(raw: str) -> int | None:
    """``32k`` -> 32768, ``32,768`` -> 32768, ``two`` -> 2; None when not a whole count."""
    text = raw.lower().replace(",", "").replace("_", "")
    if text in NUMBER_WORDS:
        return NUMBER_WORDS[text]
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([km]?)", text)
    if not match or len(match.group(1)) > _MAX_COUNT_CHARS:
        return None  # far past any range: the grammar words the sentence (a float would be inf here)
    value = Fraction(match.group(1)) * {"": 1, "k": 1024, "m": 1024 * 1024}[match.group(2)]
    return int(value) if value.denominator == 1 else None


def count_text(value: int) -> str:
    """A count as the grammar reads it, compact: 65536 -> ``64k``, 1048576 -> ``1m``, 100 -> ``100``."""
    if value >= 1024 * 1024 and value % (1024 * 1024) == 0:
        return f"{value // (1024 * 1024)}m"
    if value >= 1024 and value % 1024 == 0:
        return f"{value // 1024}k"
    return str(value)


def _same_units(key: str, value: str) -> str:
    """A count setting's value as whole tokens grouped (``125k`` -> ``128,000``), others as they are."""
    if KEY_BY_NAME.get(key) is None or KEY_BY_NAME[key].kind != "count":
        return value
    try:
        return f"{KEY_BY_NAME[key].parse(value):,}"
    except InputError:
        return value


def _count_setting(key: str, raw: str) -> str:
    value = _count_value(raw)
    if value is None:
        # The grammar's parser words the error (the same sentence as for key=value).
        return raw.replace(",", "")
    return count_text(value)


# -- vLLM's serve flags -------------------------------------------------------------------------
#
# A pasted ``vllm serve`` command line is read flag by flag before the sentence rules run, so a
# flag's value is never taken for a model or another setting. Flags that set a grammar key are read
# as that key; flags that change no GPU memory are listed as not used (by name only: a value such as
# --api-key's must not be echoed); any other flag is refused in one sentence, as the grammar refuses
# an unknown key, because a flag vram cannot size may change the memory the answer gives.

# vLLM's flags that set a grammar key (engine/arg_utils.py@v0.33.0), with their short forms.
_FLAG_KEYS = {
    "--max-model-len": "s",
    "--tensor-parallel-size": "gpus",
    "-tp": "gpus",
    "--pipeline-parallel-size": "pp",
    "-pp": "pp",
    "--data-parallel-size": "dp",
    "-dp": "dp",
    "--gpu-memory-utilization": "util",
    # CacheConfig.kv_cache_memory_bytes: the KV pool per GPU (engine/arg_utils.py@v0.34.0, a
    # human-readable integer: 20G is GiB, 20g 10^9 bytes, as the grammar's kvmem= reads it).
    "--kv-cache-memory-bytes": "kvmem",
    "--max-num-batched-tokens": "mnbt",
    "--max-num-seqs": "seqs",
    # CacheConfig.block_size: tokens per KV-cache block.
    "--block-size": "block",
    "--kv-cache-dtype": "kv",
    "--quantization": "dtype",
    "-q": "dtype",
    "--limit-mm-per-prompt": "mm",
    "--speculative-config": "spec",
    "-sc": "spec",
}
# Flags without a value that set a grammar key.
_FLAG_SWITCHES = {
    "--enable-prefix-caching": ("prefix", "on"),
    "--no-enable-prefix-caching": ("prefix", "off"),
    # MultiModalConfig.get_limit_per_prompt is 0 for every modality (config/multimodal.py@v0.33.0).
    "--language-model-only": ("mm", "0"),
    # ParallelConfig.enable_expert_parallel (engine/arg_utils.py@v0.33.0, short form -ep).
    "--enable-expert-parallel": ("ep", "on"),
    "--no-enable-expert-parallel": ("ep", "off"),
    "-ep": ("ep", "on"),
    # ModelConfig.enforce_eager: no CUDA graphs, no torch.compile (config/vllm.py@v0.33.0).
    "--enforce-eager": ("eager", "on"),
    # SchedulerConfig.async_scheduling (config/scheduler.py@v0.33.0; None: the release decides).
    "--async-scheduling": ("async", "on"),
    "--no-async-scheduling": ("async", "off"),
}
# Flags that change no GPU memory vram sizes (the server, the tokenizer's and the parsers' settings),
# True where the flag takes a value. --dtype is here: vram sizes weights in the checkpoint's format
# (dtype= overrides it), and --dtype with a quantized checkpoint does not make its weights bf16.
_FLAG_PASSED_OVER = {
    "--model": False,  # its value is the model, read as any model word
    "--host": True,
    "--port": True,
    "--uds": True,
    "--served-model-name": True,
    "--api-key": True,
    "--trust-remote-code": False,
    "--no-trust-remote-code": False,
    "--tool-call-parser": True,
    "--tool-parser-plugin": True,
    "--enable-auto-tool-choice": False,
    "--reasoning-parser": True,
    "--chat-template": True,
    "--chat-template-content-format": True,
    "--response-role": True,
    "--tokenizer": True,
    "--tokenizer-mode": True,
    "--generation-config": True,
    "--download-dir": True,
    "--load-format": True,  # how the files are read, not what is resident
    # Chunked prefill is always on in vLLM's V1 engine; --no-enable-chunked-prefill is not read.
    "--enable-chunked-prefill": False,
    "--swap-space": True,  # CPU memory for swapped-out blocks (before V1), none of the GPU's
    "--seed": True,
    "--dtype": True,
    "--distributed-executor-backend": True,
    "--uvicorn-log-level": True,
    "--disable-uvicorn-access-log": False,
    "--disable-log-requests": False,
    "--enable-log-requests": False,
    "--disable-log-stats": False,
    "--max-log-len": True,
    "--allowed-origins": True,
    "--ssl-keyfile": True,
    "--ssl-certfile": True,
    "--root-path": True,
    "--disable-fastapi-docs": False,
    "--enable-prompt-tokens-details": False,
    "--enable-force-include-usage": False,
    "--enable-request-id-headers": False,
    "--enable-server-load-tracking": False,
    "--hf-token": True,
    # Where expert parallelism puts the experts, not how many each GPU holds (determine_expert_map,
    # layers/fused_moe/expert_map_manager.py@v0.33.0): linear and round_robin give the same counts.
    "--expert-placement-strategy": True,
}
# Flags vram knows change memory in a way it does not size, with why (one clause each).
# vram's own options in a terminal (not vLLM flags): said as such where a chat message carries one.
_TERMINAL_OPTIONS = frozenset({"--json", "--limit", "--version", "--help"})
_FLAG_NOT_SIZED = {
    "--cpu-offload-gb": "it sizes the weights all on the GPU",
}
_VLLM_KV_SPELLINGS = {"fp8_ds_mla": "fp8"}  # vLLM's own name of DeepSeek's fp8 layout: kv=fp8 picks it
# --quantization's methods that name a grammar weight format (a checkpoint's own method is read from
# its config.json without the flag).
_VLLM_QUANTIZATION = {
    "fp8": "fp8",
    "awq": "awq",
    "awq_marlin": "awq",
    "gptq": "gptq",
    "gptq_marlin": "gptq",
    "bitsandbytes": "nf4",
    "modelopt_fp4": "nvfp4",
    "mxfp4": "mxfp4",
}
_SPEC_DRAFTERS = ("eagle", "eagle3", "dflash", "draft_model")
_FLAG_RE = re.compile(r"(?<!\S)(--[A-Za-z][\w.-]*|-(?:tp|pp|dp|q|sc|dcp|pcp|ep|cc|ac|dc|O)(?![\w-])|-O\S+)(=)?")
# EPLB (config/parallel.py@v0.33.0 EPLBConfig, engine/arg_utils.py@v0.27.1 and @v0.33.0: --enable-eplb
# and --eplb-config only): read together, as eplb=.
_EPLB_FLAGS = ("--enable-eplb", "--no-enable-eplb", "--eplb-config")
_READ_FLAGS_TEXT = " ".join([f for f in [*_FLAG_KEYS, *_FLAG_SWITCHES, *_EPLB_FLAGS] if f.startswith("--")])
_SEPARATOR = "\x00"  # where a flag was: no rule reads across it
# Quotes as chat clients retype them, back to ASCII.
_CURLY_QUOTES: dict[str, str | int | None] = {"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'"}
_FLAG_EXAMPLE = "vllm serve Qwen/Qwen3-32B --max-model-len 32768 --tensor-parallel-size 2 --kv-cache-dtype fp8 on h100"


@dataclass
class _FlagsRead:
    settings: list[tuple[str, str, str]] = field(default_factory=list)  # (key, value, the words read)
    passed_over: list[str] = field(default_factory=list)  # flag names, listed as not used
    revision: str | None = None  # --revision: the Hub revision of the model
    # Why vLLM 0.30+ reads a pasted YaRN override otherwise than 0.29-, which yarn= sizes.
    yarn_from_030: str | None = None
    eplb_on: bool = False  # --enable-eplb
    eplb_redundant: int | None = None  # num_redundant_experts, from --eplb-config or --num-redundant-experts
    eplb_words: list[str] = field(default_factory=list)


def _vllm_int(raw: str) -> str:
    """An integer as vLLM's human_readable_int reads it (utils/argparse_utils.py@v0.33.0): ``k`` and
    ``m`` are decimal (1k = 1,000), ``K`` and ``M`` binary (1K = 1,024); in the grammar's form."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmMgGtT]?)", raw.replace("_", ""))
    if not match or len(match.group(1)) > _MAX_COUNT_CHARS:
        return raw  # the grammar's parser words the error (far past any range, or no number)
    mult = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    value = Fraction(match.group(1)) * mult[match.group(2)]
    return count_text(int(value)) if value.denominator == 1 else raw


def _json_end(text: str, start: int, flag: str) -> int:
    """The end of the JSON object or list that opens at ``text[start]`` (strings may hold brackets)."""
    depth, in_string, escaped = 0, False, False
    for i in range(start, len(text)):
        char = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
    raise InputError(
        f"the JSON after {flag} does not close: quote it whole, for example: "
        f'{flag} \'{{"method": "mtp", "num_speculative_tokens": 2}}\''
    )


def _flag_value(text: str, pos: int, flag: str) -> tuple[str, int]:
    """The value that starts at ``pos`` (after spaces): one word, or a quoted JSON object."""
    while pos < len(text) and text[pos].isspace():
        pos += 1
    quote = text[pos] if pos < len(text) and text[pos] in "'\"" else ""
    start = pos + len(quote)
    if start < len(text) and text[start] in "{[":
        end = _json_end(text, start, flag)
        after = end + (1 if quote and end < len(text) and text[end] == quote else 0)
        return text[start:end], after
    end = pos
    while end < len(text) and not text[end].isspace():
        end += 1
    word = text[pos:end].strip(_EDGE_PUNCT).rstrip(_TRAIL_PUNCT).strip(_EDGE_PUNCT)
    if not word or _FLAG_RE.fullmatch(word):
        raise InputError(f"{flag} needs a value, for example: {_FLAG_EXAMPLE}")
    return word, end


def _vllm_bytes(flag: str, raw: str) -> str:
    """A byte count as vLLM's human_readable_int takes it (utils/argparse_utils.py@v0.34.0: k m g t
    decimal, K M G T binary and whole only); what vLLM refuses is refused with its reason."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmMgGtT]?)", raw)
    if match is None:
        raise InputError(
            f"vLLM does not read {flag} {raw}: it takes bytes, or a number with k, m, g (10^3, 10^6, 10^9) "
            "or K, M, G (2^10, 2^20, 2^30), for example: --kv-cache-memory-bytes 20G"
        )
    number, suffix = match.groups()
    if "." in number and suffix.isupper():
        raise InputError(
            f"vLLM refuses {flag} {raw}: decimals are not allowed with binary suffixes like {suffix}; "
            f"did you mean {number}{suffix.lower()}?"
        )
    return raw


def _json_object(flag: str, payload: str, example: str) -> dict[str, Any]:
    """A pasted flag's JSON object, or the sentence saying it takes one, with ``example``."""
    try:
        config = json.loads(payload)
    except ValueError:
        raise InputError(f"{flag} takes a JSON object, for example: {example}") from None
    if not isinstance(config, dict):
        raise InputError(f"{flag} takes a JSON object, for example: {example}")
    return config


def _rope_override(flag: str, raw: str) -> tuple[str, str | None]:
    """--hf-overrides as yarn=: a YaRN rope_scaling's factor, over its
    original_max_position_embeddings where given (yarn=F:P), and why vLLM 0.30+ would read it
    otherwise (None when every release reads it alike). From 0.30 vLLM takes
    max_position_embeddings as given for YaRN, up to 0.29 original x factor (config/model.py
    _get_and_verify_max_len), so an override without the two agreeing is read only for a release
    up to 0.29 named beside it; any other field is refused, as vram cannot tell what it does to memory."""
    example = (
        f'{flag} \'{{"rope_scaling": {{"rope_type": "yarn", "factor": 4, "original_max_position_embeddings": 32768}}, '
        '"max_position_embeddings": 131072}\''
    )
    config = _json_object(flag, raw, example)
    scaling = config.get("rope_scaling", config.get("rope_parameters"))
    others = set(config) - {"rope_scaling", "rope_parameters", "max_position_embeddings"}
    kind = scaling.get("rope_type", scaling.get("type")) if isinstance(scaling, dict) else None
    factor = scaling.get("factor") if isinstance(scaling, dict) else None
    if others or kind != "yarn" or not isinstance(factor, int | float):
        what = ", ".join(sorted(others)) if others else f"a {kind or 'missing'} rope_scaling"
        raise InputError(
            f"vram reads {flag} for a YaRN rope_scaling with its factor (yarn=), not {what}, for example: {example}"
        )
    original = scaling.get("original_max_position_embeddings") if isinstance(scaling, dict) else None
    if original is not None and (not isinstance(original, int) or original < 1):
        raise InputError(f"{flag}: original_max_position_embeddings must be a positive integer, for example: {example}")
    positions = config.get("max_position_embeddings")
    value = f"{factor:g}" + (f":{original}" if original is not None else "")
    if positions is None:
        # From 0.30 vLLM takes max_position_embeddings as given for YaRN: without it the context
        # stays the config's. Up to 0.29 it is original x factor, what yarn=F:P sizes.
        why = (
            f"{flag} with a YaRN rope_scaling and no max_position_embeddings leaves vLLM 0.30 and later at the "
            "config's positions: add max_position_embeddings (original x factor) to it, name vllm 0.29 or "
            "earlier, or ask with yarn= alone, which sizes both"
        )
        if original is None:
            raise InputError(why)
        return value, why
    if original is None or positions != int(original * factor):
        said = f"{original:,} x {factor:g} = {int(original * factor):,}" if original else "no original given"
        why = (
            f"{flag}: max_position_embeddings {positions} is not original_max_position_embeddings x factor ({said}): "
            "vLLM 0.30 and later take the first, 0.29 and earlier the second; give both so they agree, "
            f"or name the release, for example: {example}"
        )
        if original is None:
            raise InputError(why)
        return value, why
    return value, None


_EPLB_EXAMPLE = (
    "vllm serve deepseek-ai/DeepSeek-V3 -tp 8 --enable-expert-parallel --enable-eplb "
    "--eplb-config '{\"num_redundant_experts\": 32}' on h200"
)
# EPLBConfig fields that change no GPU memory vram sizes (the load window's size does: refused).
_EPLB_FIELDS_PASSED = {"step_interval", "log_balancedness", "log_balancedness_interval", "use_async", "policy"}


def _eplb_config(found: _FlagsRead, flag: str, payload: str) -> None:
    """An EPLB config (JSON, or one field of it) into ``found``: its num_redundant_experts; a field
    that changes memory vram does not size (window_size, the communicator) is refused."""
    config = _json_object(flag, payload, _EPLB_EXAMPLE)
    for name, value in config.items():
        if name == "num_redundant_experts":
            text = str(value).strip()
            if isinstance(value, bool) or not text.isdigit():
                raise InputError(f"{flag}: num_redundant_experts takes a whole number, for example: {_EPLB_EXAMPLE}")
            found.eplb_redundant = int(text)
        elif name not in _EPLB_FIELDS_PASSED:
            raise InputError(
                f"vram does not read {name} in {flag} (it cannot tell what it does to memory): ask without it, "
                f"for example: {_EPLB_EXAMPLE}"
            )


def _speculative(flag: str, raw: str) -> list[tuple[str, str]]:
    """--speculative-config's JSON as the grammar's keys (config/speculative.py@v0.33.0): an MTP method
    ("mtp", or a model's own "..._mtp") is mtp=; a drafter (method eagle, eagle3, dflash or draft_model,
    or a model with no method, which vLLM detects from the model) is draft= and spec=."""
    example = f'{flag} \'{{"method": "mtp", "num_speculative_tokens": 2}}\''
    config = _json_object(flag, raw, example)
    method, model, tokens = config.get("method"), config.get("model"), config.get("num_speculative_tokens")
    count = None if tokens is None else str(tokens)
    if isinstance(method, str) and (method == "mtp" or method.endswith("_mtp")):
        if count is None:
            raise InputError(f"{flag} with method {method}: give num_speculative_tokens, for example: {example}")
        return [("mtp", count)]
    if method in (None, *_SPEC_DRAFTERS) and isinstance(model, str):
        if count is None:
            raise InputError(
                f'{flag} with model "{model}": give num_speculative_tokens, for example: '
                f'{flag} \'{{"model": "{model}", "num_speculative_tokens": 4}}\''
            )
        return [("draft", model), ("spec", count)]
    what = f'method "{method}"' if method is not None else "no model"
    raise InputError(
        f"vram sizes speculative decoding with MTP layers (method mtp) or a draft model (method "
        f"{', '.join(_SPEC_DRAFTERS)} with a model), not {what}, for example: {example}"
    )


def _mm_limit(flag: str, raw: str) -> str:
    """--limit-mm-per-prompt's counts per modality (JSON, or the older image=2,video=1) as mm=: one
    count for every modality it names, as mm= is one count."""
    counts: list[Any] = []
    if raw.startswith("{"):
        config = _json_object(flag, raw, f"{flag} '{{\"image\": 0}}'")
        counts = [v.get("count") if isinstance(v, dict) else v for v in config.values()]
    else:
        counts = [part.partition("=")[2] for part in raw.split(",")]
    values = {str(c) for c in counts}
    if len(values) != 1:
        raise InputError(
            f"vram reads one count for every modality (mm=), and {flag} {raw} gives {len(values) or 'no'} "
            f'different ones: ask with one, for example: {flag} \'{{"image": 0, "video": 0}}\''
        )
    named = set(config) if raw.startswith("{") else {part.partition("=")[0].strip() for part in raw.split(",")}
    if values == {"0"} and not {"image", "video"} <= named:
        # mm=0 drops the vision tower, which vLLM does only when every modality the model takes is 0
        # (interfaces.py _mark_tower_model); one left at its default (999) keeps it: zero images
        # alone is text only on Gemma-3, not on Qwen2.5-VL, which takes video too.
        left = "video" if "image" in named else "images"
        raise InputError(
            f"{flag} {raw} leaves {left} at vLLM's default, which keeps the vision tower of a model that takes "
            f'them: for text only write --language-model-only, or {flag} \'{{"image": 0, "video": 0}}\''
        )
    return values.pop()


def _read_flags(text: str) -> tuple[str, _FlagsRead]:
    """The vLLM flags in ``text`` read, and the text without them (each flag becomes a separator)."""
    found = _FlagsRead()
    pieces: list[str] = []
    # vLLM's dotted form of a JSON flag, one field a flag ("--speculative-config.method mtp").
    dotted: dict[str, tuple[dict[str, Any], list[str]]] = {}
    pos = 0
    while (match := _FLAG_RE.search(text, pos)) is not None:
        pieces.append(text[pos : match.start()])
        typed = match.group(1).rstrip(_TRAIL_PUNCT)
        head, dot, field_name = typed.partition(".")
        flag = head.lower().replace("_", "-") if typed.startswith("--") else head
        glued = match.group(2) is not None
        end = match.end()
        if dot and field_name and _FLAG_KEYS.get(flag) in ("spec", "mm"):
            raw, end = _flag_value(text, end, typed)
            fields, words = dotted.setdefault(_FLAG_KEYS[flag], ({}, []))
            try:
                fields[field_name] = json.loads(raw)
            except ValueError:
                fields[field_name] = raw  # a string, as vLLM reads one
            words.append(f"{typed} {raw}")
        elif dot and flag == "--eplb-config":
            raw, end = _flag_value(text, end, typed)
            _eplb_config(found, typed, json.dumps({field_name: raw}))
            found.eplb_words.append(f"{typed} {raw}")
        elif dot:
            raise InputError(
                f'vram does not read the vLLM flag "{typed}" (it cannot tell what the flag does to memory): ask '
                f"without it; the flags it reads are {_READ_FLAGS_TEXT}"
            )
        elif flag in _FLAG_SWITCHES or (flag in _FLAG_PASSED_OVER and not _FLAG_PASSED_OVER[flag]):
            if glued:
                raise InputError(f"{flag} takes no value: write it alone, for example: {_FLAG_EXAMPLE}")
            if flag in _FLAG_SWITCHES:
                key, value = _FLAG_SWITCHES[flag]
                found.settings.append((key, value, typed))
            elif flag != "--model":
                found.passed_over.append(flag)
        elif flag in ("--enable-eplb", "--no-enable-eplb"):
            if glued:
                raise InputError(f"{flag} takes no value: write it alone, for example: {_EPLB_EXAMPLE}")
            found.eplb_on = flag == "--enable-eplb"
            found.eplb_words.append(typed)
        elif flag == "--num-redundant-experts":
            # Gone from vLLM's arguments (not in engine/arg_utils.py@v0.27.1 or @v0.33.0): it refuses it.
            raise InputError(
                f"vLLM 0.27 and later have no {flag}: write --eplb-config '{{\"num_redundant_experts\": N}}', "
                f"for example: {_EPLB_EXAMPLE}"
            )
        elif flag == "--eplb-config":
            raw, end = _flag_value(text, end, flag)
            _eplb_config(found, flag, raw)
            found.eplb_words.append(f"{typed} {raw}")
        elif flag == "--hf-overrides":
            raw, end = _flag_value(text, end, flag)
            value, found.yarn_from_030 = _rope_override(flag, raw)
            found.settings.append(("yarn", value, f"{typed} {raw}"))
        elif flag == "--revision":
            # ModelConfig.revision: the Hub revision read, as model@revision says it.
            found.revision, end = _flag_value(text, end, flag)
        elif flag in _FLAG_PASSED_OVER:
            _, end = _flag_value(text, end, flag)
            found.passed_over.append(flag)
        elif flag in _FLAG_KEYS:
            if flag == "--max-model-len" and not glued and not re.match(r"\s*['\"]?[\d-]|\s*['\"]?auto\b", text[end:]):
                # "what --max-model-len can I set": the question's kind, not a setting.
                pieces.append(text[match.start() : end])
                pos = end
                continue
            raw, end = _flag_value(text, end, flag)
            said = f"{typed} {raw}"
            key = _FLAG_KEYS[flag]
            if key == "spec":
                found.settings += [(k, v, said) for k, v in _speculative(flag, raw)]
            elif key == "s" and raw.lower() in ("auto", "-1"):
                raise InputError(
                    f"{flag} {raw} asks vLLM for the longest context that fits; ask vram the same, for example: "
                    "how much context can Qwen/Qwen3-8B take on an L4 with vllm?"
                )
            elif key in ("s", "mnbt"):
                found.settings.append((key, _vllm_int(raw), said))
            elif key == "kv":
                value = _VLLM_KV_SPELLINGS.get(raw.lower(), raw.lower())
                found.settings.append((key, _KV_ALIASES.get(value, value), said))
            elif key == "dtype":
                if raw.lower() not in _VLLM_QUANTIZATION:
                    raise InputError(
                        f"vram does not read {flag} {raw}: it reads {', '.join(_VLLM_QUANTIZATION)} (a checkpoint's "
                        f"own quantization is read from its config without the flag), for example: {_FLAG_EXAMPLE}"
                    )
                found.settings.append((key, _VLLM_QUANTIZATION[raw.lower()], said))
            elif key == "mm":
                found.settings.append((key, _mm_limit(flag, raw), said))
            elif key == "kvmem":
                found.settings.append((key, _vllm_bytes(flag, raw), said))
            else:
                found.settings.append((key, raw, said))
        elif flag in _TERMINAL_OPTIONS:
            # vram's own terminal options, asked where there is no terminal (Slack).
            raise InputError(
                f"{flag} is an option of the terminal's vram command: in chat, ask without it "
                "(`vram <model> ... --json` in a terminal prints the JSON answer)"
            )
        else:
            why = _FLAG_NOT_SIZED.get(flag, "it cannot tell what the flag does to memory")
            raise InputError(
                f'vram does not read the vLLM flag "{typed}" ({why}): ask without it; the flags it reads are '
                f"{_READ_FLAGS_TEXT}"
            )
        pieces.append(f" {_SEPARATOR} ")
        pos = end
    pieces.append(text[pos:])
    if found.eplb_redundant and not found.eplb_on:
        # ParallelConfig.__post_init__: redundant experts (not 0) without EPLB is a start-up error.
        raise InputError(
            f"vLLM refuses num_redundant_experts {found.eplb_redundant} without --enable-eplb: add it, for example: "
            f"{_EPLB_EXAMPLE}"
        )
    if found.eplb_on:
        found.settings.append(("eplb", str(found.eplb_redundant or 0), " ".join(found.eplb_words)))
    for key, (fields, words) in dotted.items():
        name = "--speculative-config" if key == "spec" else "--limit-mm-per-prompt"
        if key == "spec":
            found.settings += [(k, v, " ".join(words)) for k, v in _speculative(name, json.dumps(fields))]
        else:
            found.settings.append(("mm", _mm_limit(name, json.dumps(fields)), " ".join(words)))
    return "".join(pieces), found


# -- tokens -------------------------------------------------------------------------------------


@dataclass
class _Token:
    raw: str  # as typed, edge punctuation removed
    norm: str  # lower case
    used: bool = False
    keys: tuple[str, ...] = ()  # the settings the rule that read this word set


# (max_num_seqs= and max_num_batched_tokens= are grammar keys, and stay so.)
_VLLM_FLAG_EQ = re.compile(
    r"(?<!\S)(-{0,2}(?:max[-_]model[-_]len|tensor[-_]parallel[-_]size|"
    r"gpu[-_]memory[-_]utili[sz]ation)|--max-num-seqs|--max-num-batched-tokens)=",
    re.IGNORECASE,
)


def _tokens(text: str) -> list[_Token]:
    text = text.replace("\u00a0", " ").replace("`", " ").replace("×", " x ")
    text = _EMPHASIS.sub(r"\2", text)
    # vLLM's flags pasted as --flag=value are not grammar keys: read them as the sentence forms.
    text = _VLLM_FLAG_EQ.sub(r"\1 ", text)
    # "H100 * 8": a count, as "H100 x 8" (a lone "*" is punctuation, which no word keeps).
    text = re.sub(r"(?<=\w) \* (?=\d)", " x ", text)
    # "~32k" is about 32k, "32k+" at least 32k; "2 H100's" is "2 H100s".
    text = re.sub(r"(?<!\S)~(?=\d)", "~ ", text)
    text = re.sub(r"(?<=\d)([km]?)\+(?=\s|$|[?,.!])", r"\1", text, flags=re.IGNORECASE)
    text = re.sub(r"(?<=\d)'s(?![\w'])", "s", text)
    # "16k context,10 users": a comma not inside a number (32,768) ends a word as a spaced one does.
    text = re.sub(r"(?<=[^\d\s]),(?=\S)|(?<=\d),(?=[^\d\s])", ", ", text)
    words = text.split()
    # "s = 32k" (spaces around "="): glue back, as the grammar does.
    glued: list[str] = []
    for word in words:
        if glued and (word.startswith("=") or glued[-1].endswith("=")) and "=" not in glued[-1][:-1]:
            glued[-1] += word
        else:
            glued.append(word)
    out = []
    for word in glued:
        if word.startswith("<@") or word.startswith("<!") or _EMOJI_CODE.fullmatch(word):
            continue  # a Slack mention, or an emoji as Slack sends it (":rocket:"), as a Unicode emoji is no word
        if word == _SEPARATOR:
            out.append(_Token(raw=word, norm=word, used=True))
            continue
        raw = word.strip(_EDGE_PUNCT).rstrip(_TRAIL_PUNCT).strip(_EDGE_PUNCT)
        if re.search(r"\w", raw):  # punctuation alone ("--", "&") is no word
            out.append(_Token(raw=raw, norm=raw.lower()))
        if re.search(r"[,;]\W*$", word) and out and not out[-1].used:
            # "16k context, 10 users": a comma ends a phrase; no rule reads across it.
            out.append(_Token(raw=_SEPARATOR, norm=_SEPARATOR, used=True))
    return out


# -- what was read ------------------------------------------------------------------------------


class Question(Frozen):
    """A sentence as read: the settings in grammar form, the kind, the model, and what was left."""

    text: str
    kind: QuestionKind
    model: str | None = None  # an exact Hub id, path or URL's id; None when a name must be looked up
    revision: str | None = None
    model_phrase: str | None = None  # the name to look up on the Hub ("qwen3 32b")
    settings: dict[str, str]  # canonical key -> value as the grammar reads it, in key-table order
    unused: tuple[str, ...] = ()  # words read as nothing (listed to the user, never dropped)
    # "will it fit in 24GB?", "is 80GB enough?": a card's memory said instead of a card (every card of
    # that size answers it, gpu=any); None otherwise.
    card_gb: int | None = None

    def settings_text(self) -> str:
        return " ".join(f"{key}={value}" for key, value in self.settings.items())

    def grammar_text(self, model: str | None = None) -> str:
        """The ``key=value`` command this question reads as; ``model`` replaces a looked-up name."""
        name = model or self.model
        if name is None:
            raise InputError(f'"{self.model_phrase}" must be looked up on the Hub first')
        head = f"{name}@{self.revision}" if self.revision and not model else name
        return " ".join(part for part in (head, self.settings_text()) if part)

    def command(self, model: str | None = None) -> EstimateCmd:
        """The grammar's command for this question (parsed, so validated, by the grammar itself)."""
        cmd = parse(self.grammar_text(model))
        assert isinstance(cmd, EstimateCmd)
        return cmd


@dataclass
class _Reader:
    tokens: list[_Token]
    read: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (value, the words read)
    explicit: dict[str, str] = field(default_factory=dict)  # key=value words (each key once)
    corrected: set[str] = field(default_factory=set)  # keys of key=value words after "but", "instead", ...
    kinds: set[str] = field(default_factory=set)
    gpu_count_stated: bool = False  # a count word or number, not an article
    tp_stated: bool = False  # gpus= read from a tensor-parallel size, not from a count of cards
    tp_named: bool = False  # "with tensor parallel" said without a size
    negated_cards: list[str] = field(default_factory=list)  # "not an A100": cards said not to be used
    spoken: dict[str, str] = field(default_factory=dict)  # a number written -> the words it was said as
    # Settings said negated ("without fp8 kv cache", "prefix caching turned off", "not vllm"): the words,
    # and what they would have set ({key: (value, words)}); resolved once every rule has run.
    # A contrast ("fp8 kv cache instead of bf16", "in transformers (not vllm)") follows another setting.
    negated: list[tuple[str, dict[str, tuple[str, str]], bool]] = field(default_factory=list)
    passed_over: list[str] = field(default_factory=list)  # vLLM flags that change no memory
    gpu_article: bool = False
    # Cards counted beside a tensor-parallel size ("-tp 2 -pp 2 on 4 H100"): (count, the words read),
    # all the layout's GPUs, checked against gpus x pp x dp once every setting is read.
    cards_beside_tp: tuple[int, str] | None = None
    model: str | None = None
    revision: str | None = None
    yarn_from_030: str | None = None  # a pasted YaRN override only releases up to 0.29 read as yarn= sizes

    def set(self, key: str, value: str, words: str) -> None:
        """A setting read from the sentence; two different values for one key cannot be chosen between."""
        old = self.read.get(key)
        if old is not None and old[0] != value:
            # Each value in one unit: a flag's 128k is 128,000 tokens (vLLM's k), the grammar's 125k.
            was, now = (_same_units(key, v) for v in (old[0], value))
            raise InputError(
                f'"{old[1]}" and "{words}" both set {key} ({key}={was}, {key}={now}): ask about one at a '
                f"time, for example: {EXAMPLE}"
            )
        self.read[key] = (value, words)

    def name_gpu(self, gpu: GPU, words: str) -> None:
        """The GPU the sentence names (as ``words``); a second, other GPU cannot be chosen between."""
        previous = self.read.get("gpu")
        if previous is not None and previous[0] != gpu.key:
            raise InputError(
                f'two GPUs named ("{previous[1]}" and "{words}"): ask about one at a time, for example: {EXAMPLE}'
            )
        self.read["gpu"] = (gpu.key, words)

    def set_model(self, model: str, revision: str | None, words: str) -> None:
        if self.model is not None and self.model.lower() != model.lower():
            raise _two_models(self.model, words)
        self.model, self.revision = model, revision

    def free(self) -> Iterator[tuple[int, _Token]]:
        return ((i, t) for i, t in enumerate(self.tokens) if not t.used)

    def run_rule(self, pattern: re.Pattern[str], handle: Callable[[re.Match[str]], None]) -> None:
        """Apply ``pattern`` to the free words (whole words only); each match is read once."""
        while True:
            hit = self._find(pattern)
            if hit is None:
                return
            match, indexes = hit
            if self._negated(match, indexes, handle):
                continue
            before = dict(self.read)
            handle(match)
            keys = tuple(k for k, v in self.read.items() if before.get(k) != v)
            for i in indexes:
                self.tokens[i].used = True
                self.tokens[i].keys = keys

    def _negated(self, match: re.Match[str], indexes: list[int], handle: Callable[[re.Match[str]], None]) -> bool:
        """Where a negation stands beside the words a rule matched ("without fp8 kv cache", "not in fp8",
        "instead of bf16", "prefix caching turned off"): record what they would have set, set nothing, and
        mark the words read (True); else False. A count, a length or a card followed by "off" ("a 4090
        off the shelf", "32k context off the bat") is no negation."""
        toks = self.tokens
        first, last = min(indexes), max(indexes)
        # "whether or not at 32k" negates nothing after it.
        begins = _negation_before(toks, first, _NEGATION_SKIP, or_not_negates=False)
        words: list[int] = list(range(begins, first)) if begins is not None else []
        # "no fp8 or int8", "neither fp8 nor int4": the second of a negated pair is negated too.
        pair_of = first >= 2 and toks[first - 1].norm in ("or", "nor") and not toks[first - 1].used
        if not words and pair_of and toks[first - 2].used and "negated" in toks[first - 2].keys:
            words = [first - 1]
        after = False
        if not words:
            k = last + 1
            if k < len(toks) and not toks[k].used and toks[k].norm in _SWITCH_WORDS:
                k += 1
            following = toks[k + 1].norm if k + 1 < len(toks) else ""
            if (
                k < len(toks)
                and not toks[k].used
                and toks[k].norm in _NEGATED_AFTER
                and following not in ("the", "of", "a", "an")
            ):
                words, after = list(range(last + 1, k + 1)), True
            elif (
                k < len(toks) and toks[k].norm in ("not", "isn't", "aren't") and following in ("enabled", "on", "used")
            ):
                words, after = list(range(last + 1, k + 2)), True  # "prefix caching not enabled"
        # Right after another setting's words, or "instead of" / "rather than": a contrast with that one.
        contrast = (
            bool(words)
            and not after
            and (
                (words[0] > 0 and toks[words[0] - 1].used and bool(toks[words[0] - 1].keys))
                or toks[words[0]].norm in ("instead", "rather", "other")
            )
        )
        if not words:
            return False
        # What the words would set, on a scratch copy of the reader's state (the rule's own checks run).
        saved = {name: copy.copy(value) for name, value in vars(self).items() if name != "tokens"}
        self.read = {}
        try:
            handle(match)
            would = dict(self.read)
        except InputError:
            would = {}
        vars(self).update(saved)
        if after and would and set(would) <= {"s", "b", "gpu", "gpus", "pp", "dp"}:
            return False  # "off" after a count, a length or a card negates nothing of it
        span = sorted({*indexes, *words})
        self.negated.append((" ".join(toks[i].raw for i in span if toks[i].raw != _SEPARATOR), would, contrast))
        for i in span:
            toks[i].used = True
            toks[i].keys = ("negated",)
        return True

    def _find(self, pattern: re.Pattern[str]) -> tuple[re.Match[str], list[int]] | None:
        # Runs of consecutive free tokens, joined by spaces; a match must start and end on word edges.
        runs: list[list[int]] = []
        for i, token in enumerate(self.tokens):
            if token.used:
                continue
            if runs and runs[-1][-1] == i - 1:
                runs[-1].append(i)
            else:
                runs.append([i])
        for run in runs:
            text = " ".join(self.tokens[i].norm for i in run)
            starts, pos = [], 0
            for i in run:
                starts.append(pos)
                pos += len(self.tokens[i].norm) + 1
            for match in pattern.finditer(text):
                if match.start() == match.end():
                    continue
                covered = [
                    i
                    for i, s in zip(run, starts, strict=True)
                    if s < match.end() and s + len(self.tokens[i].norm) > match.start()
                ]
                return match, covered
        return None


def _names_a_model(text: str) -> bool:
    """A second model's name has a slash, a word with three letters and a digit ("qwen3-32b"), or a word of
    letters beside a size ("llama 3.1 8b"); "~32k", "mac m2" or "8-16 users" is not one. Word by word,
    so a long word costs its length once."""
    words = text.lower().split()
    if "/" in text:
        return True
    lettered = [bool(re.search(r"[a-z]{3}", w)) for w in words]
    if any(has and re.search(r"\d", w) for has, w in zip(lettered, words, strict=True)):
        return True
    return any(lettered) and any(re.fullmatch(r"\d+(?:\.\d+)?b", w) for w in words)


def _two_models(first: str, second: str) -> InputError:
    return InputError(
        f'two models named ("{first}" and "{second}"): ask about one, or compare them with '
        f"`compare {first} <other model> s=32k`"
    )


# What follows a utilisation word when the value comes after it ("util 0.99", "util=0.9", "util: 90%").
# A utilisation as people write one: a share (0.9, .95, 1, 1.0), a percentage, or a bare 10-100 (90);
# never a count such as "8 users" or "2 gpus" that follows the word.
_UTIL_NUMBER = r"(?:0?\.\d+|1(?:\.0+)?|\d+(?:\.\d+)?%|[1-9]\d(?:\.\d+)?|100)(?![\w.%])"
_UTIL_VALUE = r"(?: of| =| :| at|:|=)? " + _UTIL_NUMBER


def _w(pattern: str) -> re.Pattern[str]:
    """A rule's pattern, anchored on word edges."""
    return re.compile(r"(?<!\S)(?:" + pattern + r")(?!\S)")


# KV formats: the grammar's values and aliases, and spoken forms of fp8 and fp16.
_KV_SPOKEN = {"float8": "fp8", "e4m3": "fp8", "e5m2": "fp8", "half": "fp16"}
_FMT_KV = "|".join(
    sorted(
        {*_KV_VALUES, *_KV_ALIASES, *_KV_SPOKEN} - {"on", "off", "true", "false", "yes", "no", "none"},
        key=len,
        reverse=True,
    )
)
_KV = r"kv(?:[ -]?cache)?|kv-cache|kvcache|k/v(?: cache)?|kv_cache(?:_dtype)?|kv[-_]cache[-_]dtype"
_FA = r"flash[ -]?att(?:ention|n)(?:[ -]?[23])?|flashattention(?:[ -]?[23])?|fa[23]?"
_CTX_WORD = (
    r"context(?:[ -](?:length|window|size|len))?|ctx(?:[ -]len)?|seq(?:uence)?[ -]?len(?:gth)?|"
    r"sequence|(?:prompt|input)[ -]length|window"
)
_CTX_FLAG = r"--max-model-len|max[-_ ]model[-_ ]len|max[-_ ]seq[-_ ]len|seq_len|max_seq_length"
_BATCH_NOUN = (
    r"users?|requests?|reqs?|sequences?|seqs|sessions?|streams?|clients?|prompts?|conversations?|chats?|"
    r"people|queries|calls|agents?|customers?"
)
# The batch nouns that also name a length: "8k requests" are requests of 8k tokens each.
_LENGTHY_NOUN = r"(?:requests?|reqs?|sequences?|sessions?|prompts?)(?! (?:per|a|an|each|every)\b)"
_GPU_NOUN = r"gpus?|cards?|devices?|graphics cards?|accelerators?"

_KIND_RULES: list[tuple[QuestionKind, re.Pattern[str]]] = [
    (
        # "how big is the KV cache", "KV cache per token", "how much memory does the kv cache take".
        "kv_cache",
        re.compile(
            r"\bhow (?:big|large|much)(?: memory| vram| space)?(?: is| does| will| would)?(?: the| its| my)? "
            r"(?:" + _KV + r")\b"
            r"|\b(?:" + _KV + r") (?:size|footprint|per token|usage)\b"
            r"|\bsize of (?:the |its )?(?:" + _KV + r")\b"
        ),
    ),
    (
        "max_context",
        re.compile(
            r"\bhow (?:much|long|big|large)(?: of)?(?: an?)? (?:context|ctx|sequence|seq|prompt|input|window)"
            r"|\bhow (?:long|big|large) can (?:the |my |a )?(?:context|ctx|sequence|prompt|input)"
            r"|\b(?:max(?:imum)?|longest|largest|biggest) (?:context|ctx|seq(?:uence)?|model len|"
            r"prompt|input)(?:[ -](?:length|len|window|size))?\b(?! (?:of |= ?|: ?|is |at )?\d)"
            r"|\bhow many tokens\b(?! (?:of |= ?|: ?)?\d)"
            r"|(?<!\S)(?:--)?max[-_ ]model[-_ ]len(?!\S)(?! ?[=:]? ?\d)"
        ),
    ),
    (
        "max_batch",
        re.compile(
            r"\bhow many (?:\d+(?:\.\d+)?[km] (?:tokens? )?)?(?:concurrent |parallel |simultaneous |active )?(?:"
            + _BATCH_NOUN
            + r")\b"
            r"|\b(?:max(?:imum)?|largest|biggest|most) (?:batch|concurrency|concurrent|parallel|number of users|"
            r"users|requests|sequences)\b(?:[ -]size)?(?! (?:size )?(?:of |= ?|: ?|is )?\d)"
            r"|\bhow (?:big|large) (?:a |of a )?batch|\bhow much concurrency"
        ),
    ),
    (
        "min_gpus",
        re.compile(
            r"\bhow many (?:\S+ ){0,2}?(?:" + _GPU_NOUN + r"|nodes?)\b"
            r"|\b(?:min(?:imum)?|fewest|least)(?: number of)? (?:" + _GPU_NOUN + r")\b(?! (?:memory|vram|ram)\b)"
            r"|\bhow many (?:do|would|will|should|shall) (?:i|we|you) need\b"
        ),
    ),
    (
        # "what GPU do I need", "which cards can run it", "the smallest GPU for": every card (gpu=any).
        # "what GPU memory does it need" asks for the total.
        "which_gpu",
        re.compile(
            r"\b(?:what|which|what's|whats)(?: kind of| type of| sort of| size of)? (?:" + _GPU_NOUN + r"|hardware)"
            r"\b(?! (?:memory|vram|ram|map|mapping)\b)"
            r"|\b(?:smallest|cheapest|best|right|minimum) (?:"
            + _GPU_NOUN
            + r"|hardware)\b(?! (?:memory|vram|ram|map)\b)"
            r"|\bwhat (?:do|would|will|should|shall) (?:i|we) need\b"
        ),
    ),
]


def _min_gpus_by_name(tokens: list[_Token]) -> bool:
    """ "how many H100s", "minimum number of L40S": a GPU's name where the rule says "GPUs"."""
    words = [t.norm for t in tokens]
    for i in range(len(words)):
        before = " ".join(words[max(0, i - 3) : i])
        if not re.search(r"(?:how many|number of|minimum|min|fewest)$", before):
            continue
        for k in (2, 1):
            if i + k <= len(words) and _gpu_of(words[i : i + k]) is not None:
                return True
    return False


def _gpu_of(words: list[str]) -> GPU | None:
    """The catalog GPU these words name together ("rtx 4090", "a100 40gb", "h100s"), if any."""
    joined = "".join(words)
    if not joined or (not re.search(r"\d", joined) and joined not in ("g5", "dgxspark", "dgx-spark", "gracehopper")):
        # Every catalog name but the DGX Spark's and Grace Hopper's has a digit; this keeps "a", "on",
        # "spark" alone and such away from the lookup.
        return None
    for candidate in (joined, joined[:-1] if joined.endswith("s") else None):
        if not candidate:
            continue
        try:
            return lookup_gpu(candidate)
        except InputError:
            continue
    return None


def _looks_like_gpu(word: str) -> bool:
    if word in _GPU_BRANDS or re.fullmatch(r"\d{3,4}s?|m[1-9]", word):  # "m3": Apple's chips
        return True
    if re.fullmatch(r"\d+(?:b|k|m|gb|g|tb|bit|bits)", word):
        return False  # a size, not a name
    return bool(re.fullmatch(r"[a-z]{1,3}\d{2,4}[a-z]{0,3}s?|\d{3,4}[a-z]{1,4}s?", word))


# -- the rules ----------------------------------------------------------------------------------


def _read_ids(reader: _Reader) -> None:
    """URLs, exact Hub ids, local paths and ``key=value`` words (whole tokens)."""
    words: dict[str, str] = {}  # key -> the key=value word that set it
    previous = ""
    for token in reader.tokens:
        raw, before, previous = token.raw, previous, token.raw.strip(",;:").lower()
        url = HUB_URL_RE.match(raw)
        if url:
            reader.set_model(url.group(1), url.group(2), raw)
            token.used = True
            continue
        if "=" in raw and not raw.startswith("="):
            key_raw, _, value = raw.partition("=")
            if re.fullmatch(r"-{0,2}[A-Za-z_][A-Za-z_-]*", key_raw):
                # The grammar's own parser: an unknown key or a bad value is its sentence.
                parse_settings([raw])
                key = ALIAS_TO_KEY[key_raw.strip().lower()]
                if key in words:
                    parse_settings([words[key], raw])  # a key given twice: the grammar's sentence
                words[key] = raw
                reader.explicit[key] = value.strip()
                if before in _CORRECTIONS:
                    reader.corrected.add(key)  # "at 32k but s=16k": the sentence corrects itself
                token.used = True
                continue
        # A local model: relative, home or absolute paths ("vllm serve /models/X"), a config file, or
        # a folder as a shell completes it ("models/Qwen3-8B/", "Qwen3-8B/"; not chat's "w/").
        if (
            raw.startswith(("./", "~/", "../"))
            or re.match(r"/[\w.~-]", raw)
            or raw.endswith(".json")
            or re.fullmatch(r"[\w.~-]+(?:/[\w.~-]+)+/+|[\w.~-]{3,}/+", raw)
        ):
            reader.set_model(raw, None, raw)
            token.used = True
            continue
        model, _, revision = raw.partition("@")
        # Chat's "w/" ("with": "w/ 8 users", "w/fp8") is no Hub id: a filler word, or the word after it.
        if re.match(r"w/", model, re.IGNORECASE):
            if raw.lower() in ("w/o", "w/out"):
                token.raw, token.norm = "without", "without"  # chat's "without"
            elif len(raw) == 2:
                token.used = True
            else:
                token.raw, token.norm = raw[2:], raw[2:].lower()
            continue
        if "/" in model and REPO_ID_RE.match(model) and re.match(r"[A-Za-z]", model) and not model.endswith("/"):
            reader.set_model(model, revision or None, raw)
            token.used = True


def _apply_revision(reader: _Reader, revision: str) -> None:
    """``--revision``: the Hub model's revision, as ``model@revision``; a local model has none."""
    if reader.model is None:
        raise InputError(
            f"--revision {revision} needs the model's Hub id, for example: vllm serve Qwen/Qwen3-8B --revision main"
        )
    if "/" not in reader.model or reader.model.startswith(("./", "~/", "../", "/")) or reader.model.endswith(".json"):
        reader.passed_over.append("--revision")  # a local model: vLLM reads the files as they are
        return
    if reader.revision is not None and reader.revision != revision:
        raise InputError(f'"{reader.model}@{reader.revision}" and "--revision {revision}" name two revisions')
    reader.revision = revision


def _read_settings(reader: _Reader) -> None:
    """Engines, formats, context, batch, utilisation and vLLM flags, in this order."""

    def engine(name: str) -> Callable[[re.Match[str]], None]:
        return lambda m: reader.set("engine", name, m.group(0))

    def refuse_engine(m: re.Match[str]) -> None:
        name = _UNSUPPORTED_ENGINES[m.group(1)]
        raise InputError(
            f'vram models transformers and vLLM, not {name} ("{m.group(0)}"): ask with vllm instead, '
            f"for example: can Qwen/Qwen3-8B run 32k with vllm on an L4?"
        )

    unsupported = "|".join(re.escape(k) for k in sorted(_UNSUPPORTED_ENGINES, key=len, reverse=True))
    reader.run_rule(_w(r"(?:with |on |in |using |via |under |through )?(" + unsupported + ")"), refuse_engine)

    def vllm(m: re.Match[str]) -> None:
        reader.set("engine", "vllm", m.group(0))
        if m.group("ver"):
            # The release as the grammar keeps it (its parser words a string that is no version).
            reader.set("vllm", str(KEY_BY_NAME["vllm"].parse(m.group("ver"))), m.group(0))

    # "vllm 0.31", "vLLM v0.31.1", "vllm version 0.31", "vllm==0.31" (made "vllm 0.31" above); a number
    # before a utilisation word is the utilisation ("vllm 0.9 gpu memory utilization"), unless a number
    # follows that word ("vllm 0.33 util 0.99": the release, then the utilisation).
    reader.run_rule(
        _w(
            r"(?:with |on |in |using |via |under |through |for )?v-?llm(?: engine)?"
            r"(?: (?:version |release |ver )?(?P<ver>v?\d+\.\d+[\w.+!-]*)"
            r"(?! (?:gpu |memory )*util\w*+(?!" + _UTIL_VALUE + r")))?"
        ),
        vllm,
    )
    reader.run_rule(
        _w(
            r"(?:with |on |in |using |via |under |through |for )?(?:hf |huggingface |hugging face )?"
            r"transformers(?: engine| library)?"
        ),
        engine("transformers"),
    )

    units = {"gib": "GiB", "gb": "GB", "g": "g", "mib": "MiB", "mb": "MB", "tib": "TiB", "tb": "TB"}

    def kv_pool(m: re.Match[str]) -> None:
        size, unit = (m.group("n"), m.group("u")) if m.group("n") else (m.group("n2"), m.group("u2"))
        reader.set("kvmem", f"{size}{units[unit]}", m.group(0))

    # "with 20 GB of KV cache memory", "a 20GiB kv cache", "kv cache of 20 GiB": the pool as given
    # (vLLM's --kv-cache-memory-bytes), not a setting to leave unread.
    size = r"(?P<n>\d+(?:\.\d+)?) ?(?P<u>gib|gb|g|mib|mb|tib|tb)"
    reader.run_rule(
        _w(
            r"(?:with |and |using |a |an )?" + size + r"(?: of)? kv[- ]?cache(?: memory| pool| budget)?"
            r"|(?:with |and |using |a |an )?kv[- ]?cache(?: memory| pool| budget)?(?: of| =|=| :|:)? "
            + size.replace("?P<n>", "?P<n2>").replace("?P<u>", "?P<u2>")
        ),
        kv_pool,
    )

    def yarn(m: re.Match[str]) -> None:
        reader.set("yarn", m.group("f") or m.group("f2"), m.group(0))

    # "with yarn 4", "yarn x4", "YaRN factor of 4", "4x yarn": RoPE YaRN scaling by that factor.
    reader.run_rule(
        _w(
            r"(?:with |using |and |plus )?(?:rope )?yarn(?: rope)?(?: scaling)?(?: factor)?(?: of| =|=| :|:)? "
            r"x?(?P<f>\d+(?:\.\d+)?)x?|(?:with |using |and |plus )?(?P<f2>\d+(?:\.\d+)?)x (?:rope )?yarn"
            r"(?: rope)?(?: scaling)?"
        ),
        yarn,
    )

    def yarn_alone(m: re.Match[str]) -> None:
        raise InputError(
            f'"{m.group(0)}" needs its factor: with yarn 4, or yarn=4 (yarn=4:32768 over 32,768 positions)'
        )

    reader.run_rule(_w(r"(?:with |using |and |plus )?(?:rope )?yarn(?: rope)?(?: scaling)?"), yarn_alone)

    def eplb(m: re.Match[str]) -> None:
        if not m.group("n") and "eplb" in reader.read:
            return  # "with eplb and 32 redundant experts": the count was read
        reader.set("eplb", m.group("n") or "0", m.group(0))
        if "ep" not in reader.read:
            # EPLB brings expert parallelism, which vLLM requires for it (a pasted command must say
            # --enable-expert-parallel itself).
            reader.set("ep", "on", m.group(0))

    # "with eplb and 32 redundant experts", "32 redundant experts": EPLB's redundant copies.
    reader.run_rule(
        _w(
            r"(?:with |using |and |plus )?(?:eplb (?:with |and )?)?(?P<n>\d+) redundant experts?"
            r"(?: (?:with|for|of) eplb)?"
        ),
        eplb,
    )
    # "with eplb" alone: EPLB without redundant experts (eplb=0), unless a count was read.
    reader.run_rule(_w(r"(?:with |using |and |plus )?(?P<n>)(?:eplb|expert load balanc(?:ing|er))"), eplb)

    def mtp(m: re.Match[str]) -> None:
        reader.set("mtp", m.group("n") or m.group("n2"), m.group(0))

    # "mtp 3", "MTP of 2", "2 mtp tokens": vLLM's MTP speculative decoding with that many tokens
    # (num_speculative_tokens), before the context rules can take "3 tokens" for a length.
    reader.run_rule(
        _w(
            r"(?:with |and |using |plus )?(?:mtp|multi[- ]token prediction)(?: of| =| :|:|=)? (?P<n>\d+)"
            r"(?: (?:speculative |draft )?tokens?)?"
            r"|(?:with |and |using |plus )?(?P<n2>\d+) (?:mtp|multi[- ]token prediction) (?:speculative )?tokens?"
        ),
        mtp,
    )

    # "text only", "as a language model only": vLLM's --language-model-only, mm=0 (every modality's
    # limit 0: no vision tower is loaded or profiled).
    reader.run_rule(
        _w(r"(?:in |as |for )?(?:text[- ]only|(?:an? )?language[- ]model[- ]only)(?: mode| use)?"),
        lambda m: reader.set("mm", "0", m.group(0)),
    )

    def kv(m: re.Match[str]) -> None:
        fmt = (m.group("fmt") or m.group("fmt2") or "").replace("-", "")
        fmt = _KV_ALIASES.get(fmt, _KV_SPOKEN.get(fmt, fmt))
        state = m.group("state") or m.group("state2")
        value = fmt or {
            "off": "off",
            "disabled": "off",
            "no": "off",
            "without": "off",
            "w/o": "off",
            "on": "on",
            "enabled": "on",
            "with": "on",
        }.get(state or "", "on")
        reader.set("kv", value, m.group(0))

    reader.run_rule(
        _w(
            r"(?:(?P<state>no|without|w/o) (?:the )?(?:" + _KV + r"))"
            # "without kv cache quantization" / "offload": the cache stays, only that goes.
            r"(?!(?: cache)? (?:quantization|quantisation|quant|offload|offloading|compression|reuse|sharing))"
            r"|(?:(?:" + _KV + r") (?P<state2>off|disabled|on|enabled))"
            r"|(?:(?:in |with |using )?(?P<fmt>" + _FMT_KV + r"|int\d+|fp\d+) (?:" + _KV + r"))"
            r"|(?:(?:" + _KV + r")(?: (?:quantized|quantised|compressed|stored|cast|kept))?"
            r" (?:in |at |as |of |to |dtype |type |= ?|: ?)?(?P<fmt2>" + _FMT_KV + r"|int\d+|fp\d+))"
        ),
        kv,
    )

    def fa(m: re.Match[str]) -> None:
        off = bool(m.group("off") or m.group("off2") or m.group("off3") or m.group("off4"))
        reader.set("fa", "off" if off else "on", m.group(0))

    reader.run_rule(
        _w(
            r"(?:(?P<off>no|without|w/o|disable|disabled) (?:" + _FA + r"))"
            r"|(?:(?:" + _FA + r") (?:(?P<off2>off|disabled|false|no)|on|enabled|true|yes))"
            r"|(?:with (?:" + _FA + r")(?! (?:off|disabled|false|no)\b))"
            # transformers' own names: attn_implementation "eager" is unfused, "sdpa" fused.
            r"|(?:(?:with |using |in )?(?P<off3>eager|naive|vanilla|math)[ -]att(?:ention|n)(?: implementation)?)"
            r"|(?:(?:with |using )?attn[_ ]implementation(?: =|=| :|:)? ?(?:(?P<off4>eager)|sdpa|flash_attention_[23]))"
            r"|(?:(?:with |using )?sdpa(?: att(?:ention|n))?)"
        ),
        fa,
    )

    def eager(m: re.Match[str]) -> None:
        reader.set("eager", "off" if m.group("graphs_on") or m.group("eager_off") else "on", m.group(0))

    # "without CUDA graphs", "turn off cuda graphs", "eager mode": vLLM's --enforce-eager.
    _graphs = r"cuda[ -]?graphs?"
    reader.run_rule(
        _w(
            r"(?:(?:turn(?:ing)? off|no|without|disable|disabled|skip) " + _graphs + r")"
            r"|(?:" + _graphs + r" (?:off|disabled))"
            # "eager off", "enforce-eager on": the switch itself.
            r"|(?:(?:eager(?: mode)?|enforce[ -]eager) (?:(?P<eager_off>off|disabled|false)|on|enabled|true))"
            r"|(?:(?:in )?eager mode|enforce[ -]eager)"
            r"|(?P<graphs_on>(?:with " + _graphs + r"(?! (?:off|disabled)\b))|(?:" + _graphs + r" on))"
        ),
        eager,
    )

    # "with async scheduling", "async scheduling off": vLLM's --async-scheduling.
    reader.run_rule(
        _w(r"(?:with |using )?async(?:hronous)?[ -]scheduling(?: (?P<aoff>off|disabled|false)| on| enabled| true)?"),
        lambda m: reader.set("async", "off" if m.group("aoff") else "on", m.group(0)),
    )

    def prefix(m: re.Match[str]) -> None:
        off = bool(m.group("off") or m.group("off2") or m.group("off3"))
        reader.set("prefix", "off" if off else "on", m.group(0))

    # "prefix caching off", "without prefix caching", "with APC": vLLM's --enable-prefix-caching.
    _prefix = r"(?:automatic )?prefix[ -]?caching|apc"
    reader.run_rule(
        _w(
            r"(?:(?P<off>no|without|w/o|disable|disabled|(?:turn|switch)(?:ing)? off) (?:the )?(?:" + _prefix + r"))"
            r"|(?:(?:" + _prefix + r") (?:(?P<off2>off|disabled|false|no)|on|enabled|true|yes))"
            r"|(?:(?:" + _prefix + r") (?:is |are )?(?P<off3>not|isn't) (?:enabled|on|used))"
            r"|(?:(?:with|enable|(?:turn|switch)(?:ing)? on) (?:the )?(?:"
            + _prefix
            + r")(?! (?:off|disabled|false|no)\b))"
        ),
        prefix,
    )

    def bnb(m: re.Match[str]) -> None:
        reader.set("dtype", "nf4", m.group(0))

    # "bitsandbytes 8-bit", "8-bit bnb", "LLM.int8": bitsandbytes' int8 (dtype=int8), not 4-bit NF4.
    reader.run_rule(
        _w(
            r"(?:in |with |using )?(?:(?:bnb|bitsandbytes)[ -]?(?:8[ -]?bits?|int8)|8[ -]?bits? (?:bnb|bitsandbytes)"
            r"|llm\.int8)"
        ),
        lambda m: reader.set("dtype", "int8", m.group(0)),
    )
    reader.run_rule(_w(r"(?:in |with |using )?(?:(?:bnb|bitsandbytes)[ -]?(?:4[ -]?bits?|nf4)?|nf4|qlora)"), bnb)

    def bits(m: re.Match[str]) -> None:
        reader.set("p", m.group("n"), m.group(0))

    reader.run_rule(
        _w(
            r"(?:in |at |with |using )?(?P<n>\d+)[ -]?bits?(?: quant(?:ization|ized)?| precision"
            r"| weights)?"
        ),
        bits,
    )

    # The grammar's weight formats and its aliases, less those a sentence makes ambiguous ("4bit" reads
    # as p=4 above, "float" and "half" alone are ordinary words); "half/full precision" spelt out.
    formats = {name: name for name in _WEIGHT_FORMATS}
    formats |= {alias: name for alias, name in _WEIGHT_FORMAT_ALIASES.items() if alias not in ("4bit", "float", "half")}
    formats |= {"half precision": "fp16", "half-precision": "fp16", "full precision": "fp32", "full-precision": "fp32"}

    def weight_format(m: re.Match[str]) -> None:
        reader.set("dtype", formats[m.group("fmt")], m.group(0))

    alts = "|".join(sorted(formats, key=len, reverse=True))
    reader.run_rule(
        _w(
            r"(?:in |at |with |using )?(?P<fmt>" + alts + r")(?:[ -](?:precision|weights|quant(?:ized|"
            r"ization)?|quantised|format))?"
        ),
        weight_format,
    )

    def util(m: re.Match[str]) -> None:
        raw = m.group("u") or m.group("u2") or m.group("u3")
        value = float(raw.rstrip("%")) / (100 if raw.endswith("%") or float(raw.rstrip("%")) > 1 else 1)
        reader.set("util", f"{value:g}", m.group(0))

    util_word = r"(?:--)?gpu[-_ ]memory[-_ ]utili[sz]ation|util(?:i[sz]ation)?|memory util(?:i[sz]ation)?"
    reader.run_rule(
        _w(
            # A number before the word, unless one follows it ("0.33 util 0.99": the second is it).
            r"(?:at |with )?(?P<u>\d+(?:\.\d+)?%|0\.\d+)(?: gpu)?(?: memory)? (?>" + util_word + r")"
            r"(?!" + _UTIL_VALUE + r")"
            r"|(?:at |with )?(?:" + util_word + r")(?: of| =| :| at|:|=)? (?P<u2>" + _UTIL_NUMBER + r")"
            # "90% gpu memory", "90% of the gpu memory": a share of the GPU's memory is the utilisation.
            r"|(?:at |with |using |use )?(?P<u3>\d+(?:\.\d+)?%) (?:of )?(?:the )?"
            r"(?:gpu'?s? |vram |gpu vram )(?:memory)?"
        ),
        util,
    )

    def mnbt(m: re.Match[str]) -> None:
        reader.set("mnbt", _count_setting("mnbt", m.group("n")), m.group(0))

    reader.run_rule(_w(r"(?:--)?max[-_ ]num[-_ ]batched[-_ ]tokens(?: of| =|=| :)? (?P<n>" + _NUM + r")"), mnbt)

    def seqs(m: re.Match[str]) -> None:
        reader.set("seqs", _count_setting("seqs", m.group("n")), m.group(0))

    # vLLM's --max-num-seqs caps the sequences it schedules: the grammar's seqs=, not the batch.
    reader.run_rule(_w(r"(?:--)?max[-_ ]num[-_ ]seqs(?: of| =|=| :)? (?P<n>" + _NUM + r")"), seqs)
    # "max 64 seqs", "max seqs 64", "at most 64 sequences at once": the scheduler's cap, not a batch asked.
    reader.run_rule(
        _w(
            r"(?:a |with )?(?:max(?:imum)?|at most)(?: of)? (?P<n>" + _NUM + r") (?:seqs|sequences)"
            r"(?: at once| at a time| in flight)?|(?:with )?max(?:imum)?[-_ ]seqs(?: of| =|=| :)? (?P<n2>" + _NUM + r")"
        ),
        lambda m: reader.set("seqs", _count_setting("seqs", m.group("n") or m.group("n2")), m.group(0)),
    )

    def tp(m: re.Match[str]) -> None:
        reader.set("gpus", _count_setting("gpus", m.group("n") or m.group("n2")), m.group(0))
        reader.gpu_count_stated = True
        reader.tp_stated = True

    reader.run_rule(
        _w(
            r"(?:--tensor-parallel-size|--tp|-tp|tp|tensor[ -]parallel(?:ism)?(?:[ -]size)?(?: of)?)"
            r"(?: |=)?(?P<n>\d+)|tp(?P<n2>\d+)"
        ),
        tp,
    )

    def tp_said(m: re.Match[str]) -> None:
        reader.tp_named = True  # tensor parallelism is vLLM's (transformers splits whole layers)

    # "on 2 A100s with tensor parallel": the count of cards is the group's size.
    reader.run_rule(_w(r"(?:with |using |in |via )?(?:tensor[ -]parallel(?:ism)?|tp)"), tp_said)

    def pp(m: re.Match[str]) -> None:
        reader.set("pp", _count_setting("pp", m.group("n") or m.group("n2")), m.group(0))

    reader.run_rule(
        _w(
            r"(?:--pipeline-parallel-size|--pp|-pp|pp|pipeline[ -]parallel(?:ism)?(?:[ -]size)?(?: of)?)"
            r"(?: |=)?(?P<n>\d+)|pp(?P<n2>\d+)"
        ),
        pp,
    )

    def dp(m: re.Match[str]) -> None:
        reader.set("dp", _count_setting("dp", m.group("n") or m.group("n2") or m.group("n3")), m.group(0))

    reader.run_rule(
        _w(
            r"(?:--data-parallel-size|--dp|-dp|dp|data[ -]parallel(?:ism)?(?:[ -]size)?(?: of)?)"
            r"(?: |=)?(?P<n>\d+)|dp(?P<n2>\d+)|(?P<n3>\d+) (?:replicas|data[ -]parallel replicas)"
        ),
        dp,
    )

    # "with expert parallelism", "with EP": vLLM's --enable-expert-parallel.
    reader.run_rule(
        _w(r"(?:with |using |and )?(?:expert[ -]parallel(?:ism)?|EP|ep)(?: on| enabled)?"),
        lambda m: reader.set("ep", "on", m.group(0)),
    )

    def seq(m: re.Match[str]) -> None:
        reader.set("s", _count_setting("s", m.group("n")), m.group(0))

    def lengthy(m: re.Match[str]) -> None:
        reader.set("s", _count_setting("s", m.group("n")), m.group(0))
        if m.group("b"):
            reader.set("b", _count_setting("b", m.group("b")), m.group(0))

    # "1k requests per second", "50 qps": a rate, which vram does not size (listed as not used, and no
    # rule below takes its number for a length or a batch).
    reader.run_rule(
        _w(
            r"(?P<n>" + _NUMW + r") (?:requests?|reqs?|queries|calls|tokens?|users?)"
            r" (?:per |an? |/ ?)(?:second|sec|s|minute|min|hour|day)|(?P<n2>" + _NUM + r") ?(?:rps|qps|tps|req/s)"
        ),
        lambda m: reader.passed_over.append(m.group(0)),
    )
    # "a 30k prompt", "8,000 token input": one prompt's length is s (where "8 prompts" counts them).
    reader.run_rule(
        _w(
            r"(?:an? |with |at |for |of )?(?:(?P<n>\d[\d,_]*(?:\.\d+)?[km])(?:[ -]tokens?)?|(?P<n2>"
            + _NUM
            + r")[ -]tokens?)"
            r"(?: of)?[ -](?:prompt|input)(?: tokens?)?"
        ),
        lambda m: reader.set("s", _count_setting("s", m.group("n") or m.group("n2")), m.group(0)),
    )
    # "8k requests", "16 concurrent 8k sessions": requests of that many tokens (a count of thousands of
    # requests at once is no batch anyone sizes), and the count before them the batch.
    reader.run_rule(
        _w(
            r"(?:(?:for |with |serving |of )?(?P<b>" + _NUMW + r")(?: concurrent| parallel| simultaneous| active)? )?"
            r"(?P<n>\d+(?:\.\d+)?[km])(?:[ -]tokens?)?[ -](?:token[ -])?(?:" + _LENGTHY_NOUN + r")"
        ),
        lengthy,
    )

    reader.run_rule(
        _w(
            r"(?:an? |with |at |for |of |using |max |maximum )?(?:"
            + _CTX_WORD
            + "|"
            + _CTX_FLAG
            + r")(?: of| =| :| is| at| to|:|=)? (?:about |around |~)?(?P<n>"
            + _NUM
            # "32k context 8 users": a number that counts users or GPUs is not the context's.
            + r")(?! (?:concurrent |parallel |simultaneous |active )?(?:"
            + _BATCH_NOUN
            + "|"
            + _GPU_NOUN
            + r")(?!\S))(?: tokens?)?"
        ),
        seq,
    )
    reader.run_rule(
        _w(
            r"(?:an? |with |at |for |of |using )?(?P<n>" + _NUM + r")(?:[ -]tokens?)?[ -](?:of )?(?:" + _CTX_WORD + r")"
        ),
        seq,
    )
    reader.run_rule(_w(r"(?:an? |with |at |for |of )?(?P<n>" + _NUM + r")[ -]?tokens?(?: long| of input)?"), seq)

    def batch(m: re.Match[str]) -> None:
        reader.set("b", _count_setting("b", m.group("n")), m.group(0))

    reader.run_rule(
        _w(
            r"(?:for |with |to |serving |serve |of |at )?(?:up to |about |around |~)?(?P<n>"
            + _NUMW
            + r")(?: concurrent| parallel| simultaneous| active| new| more| different)? (?:"
            + _BATCH_NOUN
            + r")"
            r"(?: at once| at a time| in parallel| concurrently| simultaneously| at the same time)?"
            r"(?! per (?:second|sec|s|minute|min|hour|day)\b| an? (?:second|minute|hour|day|month)\b)"
        ),
        batch,
    )
    reader.run_rule(
        _w(
            r"(?:an? |with |at |for |of )?(?:batch(?:[ -]?size)?|bs|bsz|concurrency)(?: of| =| :| is| to|:|=)? "
            r"(?P<n>" + _NUMW + r")"
        ),
        batch,
    )

    def numbered_cards(m: re.Match[str]) -> None:
        # "2 4090 GPUs", "a 3090 card", "4090 GPUs": a card named by its number, before the noun that
        # would otherwise make the number a count. A number the catalog lacks is a count unless a
        # count stands before it.
        brand = (m.group("brand") or "").split()
        name = " ".join([*brand, m.group("g")])
        gpu = _gpu_of([*brand, m.group("g")]) or _gpu_of([m.group("g")])
        if gpu is None and m.group("n") is None and not brand:
            cards(m, name)
            return
        if gpu is None:
            raise InputError(f'unknown GPU "{name}": run `vram gpus` for the list, for example: {EXAMPLE}')
        reader.name_gpu(gpu, name)
        count = m.group("n")
        if count in ("a", "an", "one"):
            reader.read.setdefault("gpus", ("1", count))
        elif count is not None:
            cards(m, count)

    def cards(m: re.Match[str], number: str | None = None) -> None:
        # "on 8 GPUs" counts cards, as "on 8 H100s" does: all the layout's GPUs, split over pipeline
        # stages and replicas when they are said; beside a tensor-parallel size they must equal it.
        count = _count_setting("gpus", number or m.group("n"))
        if reader.tp_stated and "gpus" in reader.read:
            reader.cards_beside_tp = (int(count), m.group(0))
            return
        reader.set("gpus", count, m.group(0))
        reader.gpu_count_stated = True

    reader.run_rule(
        _w(
            r"(?:on |with |across |using |over |to )?(?:(?P<n>an?|" + _NUMW + r")(?: x| \*)? )?"
            r"(?P<brand>(?:nvidia |geforce )*(?:rtx|gtx) )?(?P<g>\d{3,4}s?) (?:" + _GPU_NOUN + r")"
        ),
        numbered_cards,
    )
    reader.run_rule(
        _w(r"(?:on |with |across |using |over |to )?(?P<n>" + _NUMW + r")(?: x| \*)? (?:" + _GPU_NOUN + r")"),
        cards,
    )


def _read_gpus(reader: _Reader) -> None:
    """Catalog GPUs by name or alias, with a count before them ("two L40S", "4xA100 40GB", "80GB A100")."""
    toks = reader.tokens
    i = 0
    while i < len(toks):
        if toks[i].used:
            i += 1
            continue
        # "4xA100": a count glued to the name.
        glued = re.fullmatch(r"(\d+)\s*[x*](\S+)", toks[i].norm)
        # "A10*4", "h100x8", "A100-80GB:8" (SkyPilot's form): the count after the name.
        after = re.fullmatch(r"(\S+?)[x*:](\d+)", toks[i].norm)
        found: tuple[GPU, int, int | None] | None = None  # gpu, words used, count
        if after and _gpu_of([after.group(1)]) is not None and not (glued and _gpu_of([glued.group(2)])):
            gpu = _gpu_of([after.group(1)])
            assert gpu is not None
            found = (gpu, 1, int(after.group(2)))
        if found is None and glued and _gpu_of([glued.group(2)]) is not None:
            end = i + 1
            gpu = _gpu_of([glued.group(2)])
            # "4xA100 40GB": the memory word right after.
            if end < len(toks) and not toks[end].used and _gpu_of([glued.group(2), toks[end].norm]):
                gpu = _gpu_of([glued.group(2), toks[end].norm])
                end += 1
            assert gpu is not None
            found = (gpu, end - i, int(glued.group(1)))
        elif (
            found is None
            and toks[i].norm in ("laptop", "mobile", "notebook")
            and i + 1 < len(toks)
            and not toks[i + 1].used
            and (laptop := _gpu_of([toks[i + 1].norm, "laptop"])) is not None
        ):
            found = (laptop, 2, None)  # "laptop 4070": the laptop card
        elif found is None:
            for k in (4, 3, 2, 1):
                window = toks[i : i + k]
                if len(window) < k or any(t.used for t in window):
                    continue
                gpu = _gpu_of([t.norm for t in window])
                if gpu is not None:
                    found = (gpu, k, None)
                    break
        if found is None:
            i += 1
            continue
        gpu, width, count = found
        start, end = i, i + width
        # "T4 x 4", "H100 * 8": the count after the name, spaced.
        if (
            count is None
            and end + 1 < len(toks)
            and not toks[end].used
            and toks[end].norm in ("x", "*")
            and not toks[end + 1].used
            and re.fullmatch(r"\d+", toks[end + 1].norm)
        ):
            count, end = int(toks[end + 1].norm), end + 2
        words = [t.raw for t in toks[start:end]]
        if end < len(toks) and not toks[end].used and toks[end].norm in _GPU_VARIANT_WORDS:
            name = " ".join([*words, toks[end].raw])
            raise InputError(f'unknown GPU "{name}": run `vram gpus` for the list, for example: {EXAMPLE}')
        # "laptop 4090": a form factor before the name is its variant, or a card the catalog lacks.
        if start > 0 and not toks[start - 1].used and toks[start - 1].norm in ("laptop", "mobile", "notebook"):
            variant = _gpu_of([t.norm for t in toks[start:end]] + ["laptop"])
            if variant is None:
                name = " ".join([toks[start - 1].raw, *words])
                raise InputError(f'unknown GPU "{name}": run `vram gpus` for the list, for example: {EXAMPLE}')
            gpu, start = variant, start - 1
        # "80GB A100": a memory word before the name picks the variant.
        if start > 0 and not toks[start - 1].used and re.fullmatch(r"\d+\s*gb?", toks[start - 1].norm):
            mem = toks[start - 1].norm
            variant = _gpu_of([t.norm for t in toks[start:end]] + [mem])
            if variant is None and re.sub(r"\D", "", mem) + "GB" not in gpu.name.replace(" ", ""):
                raise InputError(
                    f"no {mem.upper()} {' '.join(words)} in the GPU catalog: run `vram gpus` for the "
                    f"list, for example: {EXAMPLE}"
                )
            gpu = variant or gpu
            start -= 1
        article = False
        # A count before: "two L40S", "8 x H200", "2x H100", "a 4090".
        j = start - 1
        if j >= 0 and not toks[j].used and toks[j].norm in ("x", "*") and count is None:
            j -= 1
        if count is None and j >= 1 and toks[j].norm == "of" and toks[j - 1].norm == "pair":
            count, start = 2, j - 1  # "a pair of H100s"
        elif count is None and j >= 0 and not toks[j].used:
            word = toks[j].norm.rstrip("x*")
            value = _count_value(word)
            if value is not None and re.fullmatch(r"\d+|[a-z-]+", word):
                count = value
                article = word in ("a", "an")
                start = j
        if (negated := _negation_before(toks, start, _CARD_NEGATION_SKIP, or_not_negates=True)) is not None:
            # "on an H100, not an A100": the card said not to be used is no card to size on; a card named
            # beside it is the one, else the question is refused once every card is read.
            phrase = " ".join(t.raw for t in toks[negated:end])
            reader.passed_over.append(phrase)
            reader.negated_cards.append(phrase)
            for t in toks[negated:end]:
                t.used = True
            i = end
            continue
        if article:
            reader.gpu_article = True
        reader.name_gpu(gpu, " ".join(words))
        if count is not None and not reader.gpu_article and reader.tp_stated and "gpus" in reader.read:
            reader.cards_beside_tp = (count, " ".join(t.raw for t in toks[start:end]))
        elif count is not None and not reader.gpu_article:
            reader.set("gpus", str(count), " ".join(t.raw for t in toks[start:end]))
            reader.gpu_count_stated = True
        elif count is not None:
            reader.read.setdefault("gpus", ("1", "a"))
        for t in toks[start:end]:
            t.used = True
            t.keys = ("gpu",)
        i = end


def _negation_before(toks: list[_Token], first: int, skip: frozenset[str], *, or_not_negates: bool) -> int | None:
    """Where a negation before ``toks[first]`` starts: "instead of" or "rather than" right before it, or a
    negation word with at most a few ``skip`` words between ("without the", "not on an"); None where
    there is none. ``or_not_negates`` False: "... or not" negates nothing after it."""
    j = first - 1
    while j >= 0 and not toks[j].used and first - j <= 4:
        if j and not toks[j - 1].used and (toks[j - 1].norm, toks[j].norm) in _NEGATION_PAIRS:
            return j - 1
        if toks[j].norm in _NEGATIONS and (or_not_negates or not (j and toks[j - 1].norm in ("or", "whether"))):
            return j
        if toks[j].norm not in skip:
            return None
        j -= 1
    return None


# The words between a negation and the card it negates ("not on an A100").
_CARD_NEGATION_SKIP = frozenset({"a", "an", "the", "any", "on", "of"})


def _read_kind(tokens: list[_Token]) -> QuestionKind:
    text = " ".join(t.norm for t in tokens)
    kinds: list[QuestionKind] = [kind for kind, rule in _KIND_RULES if rule.search(text)]
    if _min_gpus_by_name(tokens) and "min_gpus" not in kinds:
        kinds.append("min_gpus")
    if "min_gpus" in kinds and "max_batch" in kinds and re.search(r"\bhow many (?:" + _GPU_NOUN + r")\b", text) is None:
        kinds.remove("min_gpus")  # "how many users ... on 2 GPUs"
    if len(kinds) > 1:
        if set(kinds) == {"min_gpus", "which_gpu"}:
            return "min_gpus"  # "what is the minimum number of GPUs": one question
        names = {
            "kv_cache": "the KV cache's size",
            "max_context": "the longest context",
            "max_batch": "the largest batch",
            "min_gpus": "the fewest GPUs",
            "which_gpu": "which GPU",
        }
        raise InputError(
            f"that asks for {' and '.join(names[k] for k in kinds)}: ask one at a time, for example: "
            "how much context can Qwen/Qwen3-8B take on an L4?"
        )
    return kinds[0] if kinds else "fit"


def _finish_words(reader: _Reader) -> tuple[str | None, tuple[str, ...]]:
    """The model phrase (first run of free words with a model-shaped word) and the unused words."""
    runs: list[list[_Token]] = []
    last = -2
    for i, token in reader.free():
        if token.norm in FILLER or token.norm in NUMBER_WORDS:
            token.used = True
            continue
        if runs and last == i - 1:
            runs[-1].append(token)
        else:
            runs.append([token])
        last = i
    phrase: str | None = None
    unused: list[str] = []
    for run in runs:
        words = [t for t in run if not _GGUF_QUANT.match(t.norm)]
        unused += [t.raw for t in run if _GGUF_QUANT.match(t.norm)]
        if not words:
            continue
        modelish = (
            any(_MODELISH.search(t.norm) or ("-" in t.norm and len(t.norm) > 3) for t in words)
            # "mistral small 3.1": a name first, its version in a word of its own.
            or (bool(re.match(r"[a-z]", words[0].norm)) and any(re.search(r"\d", t.norm) for t in words))
        )
        # A brand before a GPU-shaped word; "nvidia nemotron nano 9b" is a model of the brand's.
        gpuish = [
            t
            for n, t in enumerate(words[:-1])
            if t.norm in _GPU_BRANDS and _looks_like_gpu(words[n + 1].norm) and words[n + 1].norm not in _GPU_BRANDS
        ]
        if modelish and gpuish:
            # "on an rtx 3080": brand first, then a number the catalog does not know.
            name = " ".join(t.raw for t in words[words.index(gpuish[0]) :])
            raise InputError(f'unknown GPU "{name}": run `vram gpus` for the list, for example: {EXAMPLE}')
        if not modelish:
            unused += [t.raw for t in words]
            continue
        # "24GB", "24GB each": sizes (of the cards, as said), never a model's name.
        sizes = [t for t in words if re.fullmatch(r"[\d,._]+(?:gb?|tb|%)?", t.norm)]
        if sizes and all(t in sizes or t.norm in ("each", "apiece") for t in words):
            unused += [t.raw for t in words]
            continue
        text = " ".join(t.raw for t in words)
        if reader.model is not None and not _names_a_model(text) and not re.search(r"\d", text):
            # The model is given exactly: "on-prem", "real-time", "fine-tuned" are no second model, just
            # words no rule reads (listed as not used).
            unused += [t.raw for t in words]
            continue
        if reader.model is not None and not _names_a_model(text):
            # Words with a number beside an exact model ("~32k", "mac m2", "8-16 users") are no second
            # model, but a number no rule reads, which would change the answer.
            raise InputError(
                f'"{text}": not a model, GPU or setting vram reads (the model is {reader.model}): write it as '
                f"key=value (s=32k, b=8, gpu=l4, gpus=4), or ask as in: {EXAMPLE}"
            )
        if reader.model is not None or phrase is not None:
            raise _two_models(reader.model or phrase or "", text)
        phrase = text
    return phrase, tuple(unused)


def _check_unknown_gpu(reader: _Reader) -> None:
    """ "on a 3080", "on two A6000 Ada": a GPU-shaped word after "on" that the catalog does not know."""
    toks = reader.tokens
    for i, token in enumerate(toks):
        if token.used or token.norm not in ("on", "with", "using", "across"):
            continue
        j = i + 1
        # A count before the name ("on two", "on 2", "on 2x") counts the cards, as before a known GPU.
        while j < len(toks) and not toks[j].used:
            word = toks[j].norm
            counted = re.fullmatch(r"\d+x?", word) and j + 1 < len(toks) and not toks[j + 1].used
            if not (word in NUMBER_WORDS or word in ("my", "our", "x") or counted):
                break
            j += 1
        if j < len(toks) and not toks[j].used and _looks_like_gpu(toks[j].norm):
            name = " ".join(t.raw for t in toks[j : j + 2] if not t.used and t.norm not in FILLER)
            raise InputError(f'unknown GPU "{name}": run `vram gpus` for the list, for example: {EXAMPLE}')


def _check_branded_gpu(reader: _Reader) -> None:
    """ "2 RTX 3080", "rtx 3080 gpus": a GPU brand before a GPU-shaped word that the catalog does not
    know together, wherever it stands; read before the counts, so that its number is never a count."""
    toks = reader.tokens
    for i, token in enumerate(toks[:-1]):
        after = toks[i + 1]
        if token.used or after.used or token.norm not in _GPU_BRANDS or not _looks_like_gpu(after.norm):
            continue
        # "RTX 6000 Ada", "nvidia rtx 4090": a catalog name in the words from the brand on.
        words = [t.norm for t in toks[i : i + 4]]
        if all(_gpu_of(words[a:b]) is None for a in (0, 1) for b in range(a + 1, len(words) + 1)):
            # The whole name as typed: "nvidia geforce rtx 3080 ti", not its first two words.
            end = i + 1
            while (
                end < len(toks)
                and end < i + 5
                and not toks[end].used
                and (_looks_like_gpu(toks[end].norm) or toks[end].norm in _GPU_VARIANT_WORDS)
            ):
                end += 1
            name = " ".join(t.raw for t in toks[i:end])
            raise InputError(f'unknown GPU "{name}": run `vram gpus` for the list, for example: {EXAMPLE}')


def _read(text: str) -> tuple[_Reader, QuestionKind]:
    # Dashes and quotes as chat clients retype them ("—kv-cache-dtype", “json”).
    text = text.replace("\u00a0", " ").replace("`", " ")  # Slack's code spans around a pasted command
    text = re.sub(r"(?<!\S)[\u2013\u2014](?=[A-Za-z])", "--", text)
    text = text.translate(str.maketrans(_CURLY_QUOTES))
    text = re.sub(r"(?<!\S)(v-?llm) ?== ?", r"\1 ", text, flags=re.IGNORECASE)  # pip's "vllm==0.31"
    # A release glued on with a dash or an at sign, as in an image tag or a wheel name: "vllm-0.31".
    text = re.sub(r"(?<!\S)(v-?llm)[-@](?=v?\d+\.\d)", r"\1 ", text, flags=re.IGNORECASE)
    text, flags = _read_flags(text)
    said: dict[str, str] = {}
    tokens = _tokens(spoken_numbers(text, said))
    # "vram ..." or "@vram ..." typed into a sentence.
    while tokens and tokens[0].norm.lstrip("@/") == "vram":
        tokens = tokens[1:]
    reader = _Reader(tokens=tokens, passed_over=flags.passed_over, yarn_from_030=flags.yarn_from_030)
    # Numbers written from words the question said otherwise: listed as said where no rule reads them.
    reader.spoken = {w: as_said for w, as_said in said.items() if not re.search(rf"(?<!\S){re.escape(w)}(?!\S)", text)}
    for key, value, words in flags.settings:
        reader.set(key, value, words)
        if key == "gpus":
            reader.gpu_count_stated = reader.tp_stated = True
    _read_ids(reader)
    if flags.revision is not None:
        _apply_revision(reader, flags.revision)
    _check_branded_gpu(reader)
    kind = _read_kind(reader.tokens)
    _read_settings(reader)
    _read_gpus(reader)

    def bare_k(m: re.Match[str]) -> None:
        reader.set("s", _count_setting("s", m.group("n")), m.group(0))

    # "run 32k for 4 users": a count in thousands with no noun is a context length.
    reader.run_rule(_w(r"(?:at |with |for |of )?(?P<n>\d+(?:\.\d+)?k)"), bare_k)
    # "at 1m": millions only after a preposition, as "1m" may end a model's name (Qwen2.5-7B-Instruct-1M).
    reader.run_rule(_w(r"(?:at |with |for |of )(?P<n>\d+(?:\.\d+)?m)"), bare_k)
    _check_unknown_gpu(reader)
    _resolve_negations(reader)
    if reader.negated_cards and "gpu" not in reader.read:
        raise InputError(
            f'"{reader.negated_cards[0]}": vram sizes the card you name; name the one you mean, or ask which GPU '
            "holds it (what GPU do I need for Qwen/Qwen3-32B?)"
        )
    _check_nodes(reader)
    if "s" not in reader.read and kind != "max_context" and _SERVE_COMMAND.search(text):
        # A pasted `vllm serve` without --max-model-len starts at the model's longest context, which
        # is what its start-up check and concurrency line are for.
        reader.set("s", MODEL_MAX, "vllm serve without --max-model-len")
    return reader, kind


_SERVE_COMMAND = re.compile(r"(?<![\w/-])v-?llm serve\b", re.IGNORECASE)

# Words that negate the setting after them ("without fp8 kv cache", "not in fp8", "don't use fp8"), or
# before them ("fp8 kv cache off", "prefix caching turned off"), where no rule reads the negation with it
# ("without kv cache" is kv=off, "prefix caching off" prefix=off).
_NEGATIONS = frozenset(
    {"without", "no", "not", "w/o", "never", "excluding", "except", "minus", "don't", "dont", "skip", "avoid", "nor"}
    | {"neither"}
)
_NEGATION_PAIRS = frozenset({("instead", "of"), ("rather", "than"), ("other", "than")})
_NEGATED_AFTER = frozenset({"off", "disabled", "deactivated"})
_SWITCH_WORDS = frozenset({"turned", "switched", "set", "is", "are", "kept"})
_NEGATION_SKIP = frozenset(
    {"the", "a", "an", "any", "my", "our", "use", "using", "to", "want", "need", "quantize", "for", "of"}
)
# Switches whose negation is their "off": "prefix caching turned off" is prefix=off.
_SWITCHES = frozenset({"prefix", "fa", "eager", "ep", "async"})


def _resolve_negations(reader: _Reader) -> None:
    """Each setting said negated: nothing where the sentence sets it otherwise ("in fp8 instead of bf16",
    "in transformers, not vllm": the words are listed as not used); a switch's "off" ("prefix caching
    turned off", "without eager mode", "EP off"); else one sentence, since vram reads a setting as what to
    use and sizing the words would answer the opposite of the question."""
    for phrase, would, contrast in reader.negated:
        said = {*reader.read, *reader.explicit}
        if contrast or not would or all(key in said for key in would) or set(would) <= {"gpu", "gpus"}:
            # "without a GPU": no card is one less thing to size, which the answer says without a verdict.
            reader.passed_over.append(phrase)
            continue
        for key, (value, _) in would.items():
            if key in said:
                continue
            if key in _SWITCHES and value == "on":
                reader.set(key, "off", phrase)
            elif key == "eager" and value == "off":
                reader.set(key, "on", phrase)  # "cuda graphs turned off": enforce-eager
            else:
                default = KEY_BY_NAME[key].default if key in KEY_BY_NAME else "the default"
                raise InputError(
                    f'"{phrase}": vram reads a setting as what to use, so this would size {key}={value}; leave '
                    f"it out for the default ({key}: {default}), or name the one you mean"
                )


_NODE_WORDS = frozenset({"node", "nodes", "dgx", "hgx"})
_NODE_OF = frozenset({"of", "with", "x", "each"})  # "2 nodes of 8 H100": the count is one node's


def _check_nodes(reader: _Reader) -> None:
    """ "2 nodes of 8 H100", "an H100 node", "a DGX H100": how many GPUs a node holds is not said, and an
    answer for the cards counted alone would be for fewer GPUs than meant."""
    toks = reader.tokens
    for i, token in enumerate(toks):
        if token.used or token.norm not in _NODE_WORDS:
            continue
        count = _count_value(toks[i - 1].norm) if i and not toks[i - 1].used else None
        # "2 nodes of 8 H100", "two 8xH100 nodes", "2 DGX boxes": several nodes of a count per node.
        # "16 H100s across 2 nodes", "16 H100s (2 nodes)": the GPUs in all, over the nodes.
        spread = i >= 2 and (toks[i - 2].norm in ("across", "over", "between", "in") or "gpu" in toks[i - 2].keys)
        of_each = bool(count and count > 1 and i + 1 < len(toks) and toks[i + 1].norm in _NODE_OF)
        j = i - 1
        while j >= 0 and "gpu" in toks[j].keys:
            j -= 1
        counted_card = j < i - 1 and j >= 0 and not toks[j].used and (_count_value(toks[j].norm) or 0) > 1
        several = of_each or counted_card or bool(count and count > 1 and not (spread and reader.gpu_count_stated))
        # The node beside the card it holds: "an H100 node", "a DGX H100", "a node of H100s".
        near = [i - 1, i + 1] + ([i + 2] if i + 2 < len(toks) and toks[i + 1].norm == "of" else [])
        beside = any("gpu" in toks[k].keys for k in near if 0 <= k < len(toks))
        if not several and (reader.gpu_count_stated or not beside):
            # "a node with 4 L40S", "16 H100s across 2 nodes": the GPUs are counted; "my node with an
            # L4", "our node app": no node's count of GPUs is what the card stands for.
            if reader.gpu_count_stated:
                token.used = True
                if count is not None:
                    toks[i - 1].used = True  # "across 2 nodes": the nodes' count, read with them
            continue
        start = j if counted_card else (i - 1 if count is not None else i)
        phrase = " ".join(t.raw for t in toks[start : i + 1])
        raise InputError(
            f'"{phrase}": vram counts GPUs, not nodes: say how many, for example "on 16 H100s" (with vLLM, two '
            "nodes of 8 as gpus=8 pp=2: each node a tensor-parallel group, two pipeline stages)"
        )


def _ordered(settings: dict[str, str]) -> dict[str, str]:
    return {key: settings[key] for key in VALID_KEYS if key in settings}


# "on any GPU", "on a single card", "on one GPU": no card named, so every card.
_ANY_CARD = re.compile(
    r"\b(?:any(?: single| one| consumer| datacenter| data center)?|a single|one single|a|one)\s+(?:"
    + _GPU_NOUN
    + r")\b(?! (?:memory|vram|ram)\b)",
    re.I,
)
# "without a GPU", "instead of a GPU": no card wanted, so not every card either.
_NO_CARD = re.compile(r"\b(?:without|instead of|no|not on|not|w/o)\s*$", re.I)
# Training is another question: its memory (gradients, optimizer states) and its GPU hours are not sized.
_TRAINING = re.compile(
    # "fine-tuned" describes a model to serve; "fine-tune", "fine-tuning" ask for training.
    r"(?<![\w/.-])(?:fine-?tun(?:e|es|ing)|fine tun(?:e|es|ing)|finetun(?:e|es|ing))(?![\w/.-])"
    r"|(?<![\w/.-])(?:pre-?train(?:ing)?|train(?:ing)?)\s+(?:it|this|that|them|the model|a model|[\w.-]+/[\w.-]+)\b"
    r"|\b(?:for|to|of)\s+(?:pre-?train(?:ing)?|train(?:ing)?)\s*[?.!]*$"
    r"|\bgpu[- ]hours?\b",
    re.IGNORECASE,
)


_KV_QUESTION_WORDS = frozenset(
    {"kv", "cache", "kv-cache", "kvcache", "kv_cache", "k/v", "size", "footprint", "usage", "per"}
)

# "what quantization do I need", "which precision should I use": a format to be picked, not one named.
_PICK_FORMAT = re.compile(
    r"\b(?:what|which)(?: kind of| type of| sort of| level of)? (?:quantization|quantisation|quant|precision|"
    r"dtype|data type|weight format|bit ?width|bits)\b(?= (?:do|should|would|will|can|must|is|to)\b)",
    re.IGNORECASE,
)


def _training_word(said: str) -> str:
    """The word of a training question that says it ("fine-tune", "train", "GPU hours")."""
    word = re.search(r"fine[- ]?tun\w*|finetun\w*|pre-?train\w*|train\w*|gpu[- ]hours?", said, re.IGNORECASE)
    return word[0] if word else said


def read_question(text: str) -> Question:
    """Read one sentence; raises InputError (one sentence and an example) where it cannot."""
    if not text.strip():
        raise InputError(f"ask about a model, for example: {EXAMPLE}")
    if (training := _TRAINING.search(text)) is not None:
        word = _training_word(training[0])
        raise InputError(
            f'vram sizes serving a model (inference), not "{word}": training\'s gradients, optimizer '
            f"states and GPU hours are not sized; ask about serving it, for example: {EXAMPLE}"
        )
    if (picked := _PICK_FORMAT.search(text)) is not None:
        raise InputError(
            f'"{picked[0]}": vram does not pick a weight format, it sizes the one you name: ask with one, for '
            'example "will Qwen/Qwen3-32B fit on an L4 in 4 bit?", and again with another (in fp8, in int8)'
        )
    reader, kind = _read(text)
    if kind == "kv_cache":
        # The words that asked it are the question's own, as "how many users" are.
        for token in reader.tokens:
            if not token.used and token.norm in _KV_QUESTION_WORDS:
                token.used = True
    phrase, unused = _finish_words(reader)
    if reader.model is None and phrase is None:
        raise InputError(
            f"which model? Name it (a Hub id like Qwen/Qwen3-32B, or a name like qwen3 32b), for example: {EXAMPLE}"
        )
    if phrase is not None and all(_SIZE_ONLY.match(w) for w in phrase.split()):
        raise InputError(
            f'which {phrase} model? Name it (for example "llama 3.3 70b" or '
            f"meta-llama/Llama-3.3-70B-Instruct), for example: {EXAMPLE}"
        )
    settings = {key: value for key, (value, _) in reader.read.items()}
    if "gpus" in settings and reader.gpu_count_stated and "gpus" not in reader.explicit:
        # "on 8 H100s with dp=4": the cards counted are all the replicas' and stages' together, as
        # "with data parallel 4" says it (dp= typed is the same split, not 4 more sets of 8).
        settings.update({k: v for k, v in reader.explicit.items() if k in ("pp", "dp") and k not in settings})
    _split_cards(reader, settings)
    if settings.get("gpus") == "1" and not reader.gpu_count_stated:
        del settings["gpus"]  # "on an H100": one GPU, the default, so the command stays short
    _check_explicit(reader, settings)
    settings.update(reader.explicit)
    _imply_vllm(settings, tensor_parallel=reader.tp_stated or reader.tp_named, typed=set(reader.explicit))
    card_gb = None
    if kind == "fit" and "gpu" not in settings and "gpus" not in settings:
        unused, card_gb = _card_memory(unused)
        if card_gb is not None:
            settings["gpu"] = ANY_GPU  # every card of that size is looked at
    if (
        kind == "fit"
        and "gpu" not in settings
        and (card := _ANY_CARD.search(text)) is not None
        and not _NO_CARD.search(text[: card.start()])
    ):
        # "will it fit on any GPU?", "can X run on a single GPU?": which cards hold it.
        kind = "which_gpu"
    if kind in ("min_gpus", "which_gpu") and "gpu" not in settings:
        # No card named: the fewest of every card in the catalog answers it.
        settings["gpu"] = ANY_GPU
    elif kind == "which_gpu":
        kind = "fit"  # "which GPU, an H100?": a card named is the fit on it
    if kind not in ("fit", "kv_cache") and "gpu" not in settings:
        what = {"max_context": "how much context", "max_batch": "how many users"}[kind]
        example = {
            "max_context": "how much context can Qwen/Qwen3-8B take on an L4?",
            "max_batch": "how many users can Qwen/Qwen3-8B serve at 32k on an L40S?",
        }[kind]
        raise InputError(f"{what} on which GPU? Name one, for example: {example}")
    settings = _ordered(settings)
    # The grammar's parser validates every value, with its own sentences.
    parse_settings(f"{key}={value}" for key, value in settings.items())
    _check_yarn_override(reader, settings.get("vllm"))
    return Question(
        text=text,
        kind=kind,
        model=reader.model,
        revision=reader.revision,
        model_phrase=phrase if reader.model is None else None,
        settings=settings,
        unused=tuple(reader.spoken.get(word, word) for word in (*unused, *reader.passed_over)),
        card_gb=card_gb,
    )


def _card_memory(unused: tuple[str, ...]) -> tuple[tuple[str, ...], int | None]:
    """A card's memory among the unread words ("24GB", "24 GB"): the words without it, and its GB."""
    words = list(unused)
    for n, word in enumerate(words):
        one = re.fullmatch(r"(\d{1,3})\s*gb", word, re.IGNORECASE)
        two = re.fullmatch(r"\d{1,3}", word) and n + 1 < len(words) and words[n + 1].lower() == "gb"
        if one or two:
            size = int(one.group(1) if one else word)
            return tuple(words[:n] + words[n + (1 if one else 2) :]), size
    return unused, None


def _imply_vllm(settings: dict[str, str], *, tensor_parallel: bool = False, typed: set[str] | None = None) -> None:
    """Tensor parallelism, pipeline stages, replicas, expert parallelism and every other setting only
    vLLM reads (util, kvmem, mtp, text only, eager, ...) are vLLM's: a question that names one and no
    engine ("on 8 H100s with data parallel 4", "with 20GB of kv cache memory") asks about vLLM, rather
    than about transformers with the setting ignored. An engine named (or a release, which names vLLM)
    stays as said, so transformers with dp= is still refused. A setting typed as key=value (``typed``)
    reads as the grammar reads it, which keeps the default engine."""
    if "engine" in settings or "vllm" in settings:
        return
    # The grammar's own reading of each value ("dp=01", "ep=yes"); a bad one is its sentence, as later.
    parsed = parse_settings(f"{key}={settings[key]}" for key in ("pp", "dp", "ep", "eplb") if key in settings)
    layout = parsed.get("pp", 1) > 1 or parsed.get("dp", 1) > 1 or parsed.get("ep") or "eplb" in parsed
    if layout or tensor_parallel:
        settings["engine"] = "vllm"
        return
    # pp=1, dp=1 and ep=off ask for nothing of vLLM's.
    said = [key for key in settings if key not in ("pp", "dp", "ep") and key not in (typed or set())]
    owners = {owner.name for key in said if (owner := setting_owner(key))}
    if len(owners) == 1 and (name := owners.pop()) != DEFAULT_ENGINE:
        settings["engine"] = name


def _check_yarn_override(reader: _Reader, release: str | None) -> None:
    """A pasted YaRN override that releases up to 0.29 read as yarn= sizes it, but later ones
    otherwise, is taken only with such a release (``release``: the one asked; None: the newest)."""
    if reader.yarn_from_030 is not None and profile_for(release or NEWEST)[0].yarn_positions_as_given:
        raise InputError(reader.yarn_from_030)


def _split_cards(reader: _Reader, settings: dict[str, str]) -> None:
    """Cards counted with pipeline stages or replicas ("on eight H200 with pipeline parallel 2 and
    data parallel 2") are all the stages' and replicas' GPUs together: gpus= becomes each stage's
    tensor-parallel group. A count given as the TP size (``-tp 2``) is the group already."""
    split = [(key, int(settings[key])) for key in ("pp", "dp") if key in settings]
    if reader.cards_beside_tp is not None:
        cards, words = reader.cards_beside_tp
        layout = int(settings["gpus"])
        for _, n in split:
            layout *= n
        if cards != layout and not split:
            reader.set("gpus", str(cards), words)  # two group sizes: said as any two values of one key
        if cards != layout:
            sizes = " x ".join(f"{key}={n}" for key, n in (("gpus", int(settings["gpus"])), *split))
            # The way out: the cards this layout takes, or the replicas (else stages) that fill the cards.
            key, n = next(((k, n) for k, n in split if k == "dp"), split[0]) if split else ("", 0)
            others = layout // n if n else layout
            fill = f", or about {key}={cards // others} on {cards}" if n and cards % others == 0 else ""
            raise InputError(
                f'"{reader.read["gpus"][1]}" and "{words}" disagree: {sizes} is {layout} GPUs, not {cards}: '
                f"ask about {layout} GPUs{fill}"
            )
        return
    if split and "gpus" in settings and reader.gpu_count_stated and not reader.tp_stated:
        cards = int(settings["gpus"])
        ways = 1
        for _, n in split:
            ways *= n
        if cards % ways:
            into = " x ".join(f"{n} {_SPLIT_WORDS[key]}" for key, n in split)
            raise InputError(
                f'"{reader.read["gpus"][1]}" do not split into {into}: give a multiple of {ways}, '
                f"for example: {EXAMPLE}"
            )
        settings["gpus"] = str(cards // ways)


def _reply_cards(reader: _Reader, settings: dict[str, str], base: Query) -> bool:
    """A thread reply that counts cards ("try 8 GPUs", "on 16 H100s"): all the GPUs of the new layout,
    over the pipeline stages and replicas the reply says, else the base query's. Where the base has
    replicas and the reply says none, the replica stays as it was (its tensor-parallel group, or the
    one the reply says, times its stages) and the count gives the replicas; a count that is no
    multiple of one replica drops them (dp=1). Both gpus= and dp= are then among the changes, so the
    answer says what the count became. False when the reply counts no cards."""
    if reader.cards_beside_tp is not None:
        cards, words = reader.cards_beside_tp
    elif reader.gpu_count_stated and not reader.tp_stated and "gpus" in reader.read:
        cards, words = int(settings["gpus"]), reader.read["gpus"][1]
    else:
        return False
    tp = int(settings["gpus"]) if reader.tp_stated else None
    pp = int(settings.get("pp", base.pp))
    if "dp" in settings:
        dp = int(settings["dp"])
    elif base.dp > 1:
        group = (tp or base.gpus) * pp
        dp = 1
        if cards % group == 0:
            dp, tp = cards // group, tp or base.gpus
            settings["gpus"] = str(tp)
        settings["dp"] = str(dp)
    else:
        dp = 1
    if tp is None:
        if cards % (pp * dp):
            split = " x ".join(f"{n} {_SPLIT_WORDS[key]}" for key, n in (("pp", pp), ("dp", dp)) if n > 1)
            raise InputError(
                f'"{words}" do not split into {split}: give a multiple of {pp * dp}, for example: {EXAMPLE}'
            )
        settings["gpus"] = str(cards // (pp * dp))
    elif tp * pp * dp != cards:
        sizes = " x ".join(f"{key}={n}" for key, n in (("gpus", tp), ("pp", pp), ("dp", dp)) if key == "gpus" or n > 1)
        raise InputError(
            f'"{reader.read["gpus"][1]}" and "{words}" disagree: {sizes} is {tp * pp * dp} GPUs, not {cards}; '
            f"ask about one at a time, for example: {EXAMPLE}"
        )
    return True


# Words before a key=value word that make it a correction of the sentence ("at 32k but s=16k").
_CORRECTIONS = frozenset({"but", "instead", "actually", "rather"})


def _refines(key: str, read: str, given: str, reader: _Reader) -> bool:
    """Whether a key=value word says more precisely what the words said, not something else: a
    card count the words gave only as an article ("on an a100 ... gpus=2") or split over stages or
    replicas the key=value words give ("on 8 h100s ... gpus=4 pp=2"); a GPU of the same family
    ("h100", gpu=h100-pcie); a weight format of the same width ("int4", dtype=awq)."""
    if key == "gpus":
        if not reader.gpu_count_stated:
            return True
        if not {"pp", "dp", "tp"} & reader.explicit.keys():
            return False
        # Split over stages or replicas: the layout typed must take the cards counted ("8 h100s ...
        # gpus=2 dp=2" is 4 GPUs, not the 8 said).
        layout = 1
        for part in (given, reader.explicit.get("pp", "1"), reader.explicit.get("dp", "1")):
            layout *= int(part) if part.isdigit() else 0
        return layout == (int(read) if read.isdigit() else -1)
    if key == "gpu":
        try:
            return lookup_gpu(read).family == lookup_gpu(given).family
        except InputError:
            return False
    if key == "dtype":
        bits = {str(fmt): n for fmt, n in FORMAT_BITS.items()}
        return bits.get(read) is not None and bits.get(read) == bits.get(given.lower())
    return False


def _check_explicit(reader: _Reader, settings: dict[str, str]) -> None:
    """A key=value word beside words that set the same key to another value ("on 2 h100s ... gpu=a100")
    is a key given twice, as in the grammar: say both, never let one win unsaid. After "but" ("at 32k
    but s=16k") the sentence corrects itself, and the key=value word is the one meant."""
    for key, value in reader.explicit.items():
        if key not in settings or key not in reader.read or key in reader.corrected:
            continue
        if parse_settings([f"{key}={value}"]) == parse_settings([f"{key}={settings[key]}"]):
            continue
        if _refines(key, settings[key], value, reader):
            continue
        words = reader.read[key][1]
        split = [f"{k}={reader.explicit[k]}" for k in ("pp", "dp") if k in reader.explicit]
        if key == "gpus" and split and all(p.split("=")[1].isdigit() for p in split) and value.isdigit():
            # The cards counted beside a layout that takes another number of them.
            layout = int(value)
            for part in split:
                layout *= int(part.split("=")[1])
            raise InputError(
                f'"{words}" and {" x ".join([f"gpus={value}", *split])} disagree: that layout is {layout} GPUs, '
                f"not {settings[key]}: ask about {layout}, or give a layout of {settings[key]}"
            )
        raise InputError(
            f'"{words}" and {key}={value} both set {key}: ask about one at a time (or say "but {key}={value}"), '
            f"for example: {EXAMPLE}"
        )


# "max context", "the longest context": the model's longest (s=max), as the answer's button asks it.
_LONGEST = re.compile(r"\b(?:max(?:imum)?|longest) (?:context|ctx)\b", re.IGNORECASE)
# "double the context", "half the batch": the thread's own value, twice or half.


def _scaled_noun(n: str) -> str:
    """The context or the batch a reply scales, as the named groups ``s{n}`` / ``b{n}``."""
    batch = r"batch(?:[ -]?size)?|concurrency|" + _BATCH_NOUN
    return rf"(?:the |my |our |its )?(?:(?P<s{n}>" + _CTX_WORD + rf")|(?P<b{n}>" + batch + r"))"


_SCALE_OP = r"(?P<op>double|twice|2x|halve|half) "
_SCALE = _w(_SCALE_OP + _scaled_noun(""))
# "double the batch and the context": both, the same way (the second noun would be left unread).
_SCALE_BOTH = _w(_SCALE_OP + _scaled_noun("") + r" (?:and|&) " + _scaled_noun("2"))
# A number alone ("32768", "what about 32,768?") is a context length from this many tokens; a smaller
# one could as well count users or GPUs.
_BARE_TOKENS = re.compile(r"\d{1,3}(?:,\d{3})+|\d+")
_BARE_TOKENS_FROM = 1024


def _read_reply_words(reader: _Reader, kind: QuestionKind, base: Query, text: str) -> str | None:
    """What a reply says relative to the thread's answer: "max context", "double the context", "half
    the batch". The refusal to say once the reply is known to be a change (the batch is 1 already:
    nothing to halve), else None."""
    refusal: str | None = None

    def scale_both(m: re.Match[str]) -> None:
        if bool(m.group("s")) == bool(m.group("s2")):
            return  # "the context and the context": not two things
        for noun in ("s", "b"):
            scale_one(m.group("op"), noun, m.group(0))

    def scale(m: re.Match[str]) -> None:
        scale_one(m.group("op"), "s" if m.group("s") else "b", m.group(0))

    def scale_one(op: str, noun: str, said: str) -> None:
        nonlocal refusal
        twice = op not in ("halve", "half")
        if noun == "s":
            if base.seq_len_from_model:
                refusal = f'"{said}": the context is the model\'s longest (s=max); give a length, for example s=64k'
                return
            reader.set("s", str(base.seq_len * 2 if twice else base.seq_len // 2), said)
            return
        if not twice and base.batch == 1:
            refusal = f'"{said}": the batch is 1 already (b=1); there is no half of it'
            return
        reader.set("b", str(base.batch * 2 if twice else base.batch // 2), said)

    reader.run_rule(_SCALE_BOTH, scale_both)
    reader.run_rule(_SCALE, scale)
    if kind == "max_context" and "s" not in reader.read and (m := _LONGEST.search(text)):
        reader.set("s", MODEL_MAX, m.group(0))
    return refusal


def _bare_tokens(reader: _Reader, unused: tuple[str, ...]) -> tuple[str, ...]:
    """A reply's one unread word that is a number of 1,024 or more: the context length (s=), as "32k"
    is; the words still unused."""
    if len(unused) != 1 or "s" in reader.read or "s" in reader.explicit or not _BARE_TOKENS.fullmatch(unused[0]):
        return unused
    digits = unused[0].replace(",", "")
    if len(digits) < len(str(_BARE_TOKENS_FROM)) or (len(digits) <= 6 and int(digits) < _BARE_TOKENS_FROM):
        return unused  # (never int() of a long run: the grammar says a count too long is out of range)
    reader.set("s", unused[0].replace(",", ""), unused[0])
    return ()


# A model named by words in a reply: a word of three letters and a number ("qwen3 32b", "phi-4",
# "llama 3"), so that chat's "x2" or "v2" and words such as "on-prem" or "real-time" are not looked up.
def _named_model(phrase: str) -> bool:
    return "/" in phrase or (
        re.search(r"[a-z]{3}", phrase, re.IGNORECASE) is not None and re.search(r"\d", phrase) is not None
    )


# A key=value word (bold or italic in chat: "*s=16k*"): a reply with one means a change.
_KEY_VALUE_WORD = re.compile(r"(?<!\S)[*_]*[A-Za-z][\w-]*=\S")


def read_change(
    text: str, base: Query, *, find_model: Callable[[str], str] | None = None
) -> tuple[Query, dict[str, Any]] | None:
    """:func:`read_reply`'s change where the reply used every word; None where it left some (for a
    caller with nowhere to list them)."""
    got = read_reply(text, base, find_model=find_model)
    return None if got is None or got[2] else (got[0], got[1])


# A reply that corrects or moves a setting: "no, I meant 8 users", "what if we drop to 8k context?",
# "lower the context to 8k". Only these forms: "drop fp8" or "increase by 8k" say no value to use.
_REPLY_CORRECTION = re.compile(r"^\s*(?:no|nope)\s*[,.!:;-]\s*|\b(?:i|we)\s+meant\b\s*:?", re.IGNORECASE)
_REPLY_MOVE = re.compile(
    r"\b(?:drop|dropping|go|going|increase|increasing|decrease|decreasing|raise|raising|lower|lowering|reduce|"
    r"reducing|cut|cutting)\b(?=(?:\s+(?:it|that|this|the|our|my))?(?:\s+[\w-]+)?\s+to\s+\S)",
    re.IGNORECASE,
)


def _reply_words(text: str) -> str:
    """A reply with its correction and move words taken out, where a value to use follows them."""
    return _REPLY_MOVE.sub("", _REPLY_CORRECTION.sub(" ", text))


def read_reply(
    text: str, base: Query, *, find_model: Callable[[str], str] | None = None
) -> tuple[Query, dict[str, Any], tuple[str, ...]] | None:
    """A thread reply in plain words ("what about 128k?", "and with fp8 kv?", "try 2 GPUs", "max
    context", "double the context", "what about qwen3 32b?").

    As :func:`bot.commands.parse_changes`: the changed query and {key: value}, and the words it did not
    use; None when the reply is conversation: it reads no setting, or it has words that are not
    settings ("I think 8 users is too many"). A reply with a ``key=value`` word means a change: its
    other words are listed as not used ("gpu=h100 (for prod)"), and what cannot be read is an
    InputError, never dropped. A model named by words is looked up with ``find_model`` (its Hub id);
    without one the reply is refused with a pointer. A bad value raises InputError.
    """
    if not text.strip():
        return None
    try:
        reader, kind = _read(_reply_words(text))
        refusal = _read_reply_words(reader, kind, base, text)
        phrase, unused = _finish_words(reader)
        unused = _bare_tokens(reader, unused)
    except InputError:
        if _KEY_VALUE_WORD.search(text):
            raise  # a change was meant: say why it cannot be made
        return None  # a sentence that cannot be read is conversation, not a failed change
    named = phrase is not None and _named_model(phrase)
    if reader.explicit:
        # key=value words say a change is meant: the rest is said back as not used, never a reason to drop it.
        if phrase is not None and not named:
            unused, phrase = (*unused, phrase), None
        unused = (*unused, *reader.passed_over)
    elif (
        (phrase is not None and not named)
        or unused
        or reader.passed_over
        or (not reader.read and reader.model is None and phrase is None and refusal is None)
    ):
        return None
    if refusal is not None:
        raise InputError(refusal)
    if phrase is not None:
        if find_model is None:
            raise InputError(
                f'"{phrase}" names a model by words, which vram looks up only for a whole question: reply with '
                f"its Hub id (for example: what about Qwen/Qwen3-32B?), or ask: can {phrase} run 32k on an H100?"
            )
        reader.set_model(find_model(phrase), None, phrase)
    settings = {key: value for key, (value, _) in reader.read.items()}
    # "try 8 GPUs": all the new layout's GPUs, over the base's stages and replicas unless the reply says them.
    if not _reply_cards(reader, settings, base):
        _split_cards(reader, settings)
    if settings.get("gpus") == "1" and not reader.gpu_count_stated and not reader.tp_stated:
        # "and on an H200?" is one card in all, as "on one H200" is: no replicas or stages stay behind.
        for key in ("dp", "pp"):
            if getattr(base, key) > 1 and key not in settings:
                settings[key] = "1"
    _check_explicit(reader, settings)
    settings.update(reader.explicit)
    parsed = parse_settings(f"{key}={value}" for key, value in _ordered(settings).items())
    query = query_with(base, parsed)
    _check_yarn_override(reader, query.vllm)
    # Only what moves: "and on an h100?" reads gpus=1 with gpu=, which the query may already have. A
    # layout that moves is said whole (gpus and dp), so the lead says what the count became; a reply
    # that moves nothing is said as read.
    moving = {key for key, value in parsed.items() if query_with(base, {key: value}) != base}
    layout = {"gpus", "dp", "pp"}
    changes: dict[str, Any] = {
        key: value
        for key, value in parsed.items()
        if key in moving or not moving or (key in layout and moving & layout)
    }
    if reader.model is not None:
        query = query.model_copy(update={"model": reader.model, "revision": reader.revision})
        changes["model"] = reader.model
    return query, changes, tuple(reader.spoken.get(word, word) for word in unused)


# "it", "this model": a thread's question about the model the thread sizes.
# The thread's model, or in a comparison's thread its two ("how many users can they serve?").
_THREAD_MODEL = re.compile(
    r"\b(?:it|its|this model|that model|this one|they|them|these models|those models|both models|"
    r"both of them|each of them|either of them)\b",
    re.IGNORECASE,
)


def mentions_the_thread_model(text: str) -> bool:
    """Whether ``text`` speaks of the thread's model: "it", "this model", a question for cards that names
    no model ("what GPU do I need?", "how many L4s do I need?"), or for its KV cache or a card's memory
    ("how big is the kv cache at 64k?", "is 24GB enough?"), which can only be about it."""
    return bool(_THREAD_MODEL.search(text)) or _cards_of_no_model(text) or bool(_ASKS_OF_THE_THREAD.search(text))


# What a question for cards about the thread's model asks of it: a need ("what GPU do I need?"), not
# chat about cards ("which GPU did you pick?", "how many GPUs do we have?").
_CARD_NEED = re.compile(
    r"\b(?:need|needs|needed|require|requires|required|use|run|serve|fit|hold|host|deploy|enough)\b", re.I
)


def _cards_of_no_model(text: str) -> bool:
    """ "what GPU do I need?", "how many GPUs do I need?": which card, or how many, naming no model."""
    if not is_question(text) or not _CARD_NEED.search(text):
        return False
    try:
        reader, kind = _read(text)
    except InputError:
        return False
    if kind not in ("which_gpu", "min_gpus") or reader.model is not None:
        return False
    phrase, _ = _finish_words(reader)
    return phrase is None


# Questions that can only be about the thread's model, though they do not say "it": the KV cache's size,
# and a card's memory ("how big is the kv cache at 64k?", "is 24GB enough?", "will it fit in 24GB?").
_ASKS_OF_THE_THREAD = re.compile(
    r"\b(?:how big|how large|how much|size of|what'?s)\b[^?]{0,40}?\bkv[ -]?cache\b"
    r"|\bkv[ -]?cache (?:size|per token)\b"
    r"|\b\d{1,3} ?gb\b[^?]{0,20}?\benough\b|\bfit (?:in|on|into) (?:an? |one )?\d{1,3} ?gb\b",
    re.IGNORECASE,
)


def thread_question(text: str, base: Query) -> tuple[Query, dict[str, Any], str] | None:
    """A question in a thread about its model ("how many users can it serve?", "how much context can
    it take at b=8?"): ``base`` with the settings the question says, those settings, and the question
    as read (the model and, where it names none, the thread's GPU in it); None when the text names no
    such model or asks nothing. Raises InputError where the question cannot be read."""
    if not base.model or not is_question(text) or not mentions_the_thread_model(text):
        return None
    first = _THREAD_MODEL.search(text)
    if first is not None and first.group(0).lower() == "its":
        # "how big is its kv cache?": the cache of the thread's model, named at the end.
        named = f"{(text[: first.start()] + 'the' + text[first.end() :]).rstrip(' ?!.')} for {base.model}"
    else:
        named = _THREAD_MODEL.sub(base.model, text, count=1)
    if named == text:
        # "what GPU do I need?": the thread's model, named at the end.
        named = f"{text.rstrip(' ?!.')} for {base.model}"
    try:
        question = read_question(named)
    except InputError:
        if not base.gpu:
            raise
        # "how many users can it serve?" names no GPU: the thread's, as its answer sized.
        named = f"{named} on {base.gpu}"
        question = read_question(named)
    if question.kind == "min_gpus" and question.settings.get("gpu") == ANY_GPU and base.gpu:
        # "how many GPUs does it need?" under an answer on an H100: how many H100s, not every card,
        # unless gpu=any is typed.
        reader, _ = _read(named)
        if "gpu" not in reader.explicit:
            named = f"{named} on {base.gpu}"
            question = read_question(named)
    if question.model != base.model or (question.kind == "fit" and not question.settings):
        return None
    parsed = parse_settings(f"{key}={value}" for key, value in question.settings.items())
    # What the thread already has (its GPU, said again to read the question) is no change.
    same_gpu = (
        "gpu" in parsed
        and parsed["gpu"] != ANY_GPU
        and base.gpu
        and lookup_gpu(str(parsed["gpu"])).key == lookup_gpu(base.gpu).key
    )
    moving = {k: v for k, v in parsed.items() if not (k == "gpu" and same_gpu) and query_with(base, {k: v}) != base}
    return query_with(base, moving), moving, named


def is_question(text: str) -> bool:
    """True for a sentence, False for grammar (``model key=value ...``) and the subcommands."""
    words = text.split()
    if len(words) < 2 or words[0].lower() in SUBCOMMANDS:
        return False
    # A word with letters that is not key=value; a stray "&" or "," stays the grammar's to refuse.
    return any("=" not in word and re.search(r"[A-Za-z]", word) for word in words[1:])


__all__ = [
    "EXAMPLE",
    "Question",
    "QuestionKind",
    "count_text",
    "is_question",
    "mentions_the_thread_model",
    "read_change",
    "read_question",
    "read_reply",
    "thread_question",
]
