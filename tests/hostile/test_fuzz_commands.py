"""Fuzzing the command text of ``/vram`` and ``vram``: random, built and mutated commands.

Each line goes through ``bot.commands.parse`` and the :class:`~bot.service.Service` (SQLite history,
a resolver that sizes any Hub id as Qwen2.5-7B and reads local paths for real) and then the Slack
renderer. Nothing but vram's own errors may escape the parser, nothing at all the service; every
mistake comes back as a sentence and is stored, and no figure is negative, NaN or infinite.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.commands import parse, split_words
from bot.question import read_question
from bot.service import CompareReply, ErrorReply, EstimateReply, Service
from bot.slack_render import render
from common.errors import VramError
from estimator.grammar import KEYS
from sources.local import is_local_reference, load_local
from sources.model import OpenedModel, opened
from store.records import Conversation
from store.store import Store
from tests.hostile.fuzzing import FIXTURES, bad_figures

QWEN_7B = str(FIXTURES / "configs" / "Qwen__Qwen2.5-7B.json")
# The grammar's own bounds (s up to 16M tokens, b up to 1M sequences) size real arithmetic into
# 1e23 bytes for a 7B model with eager attention (s=16m b=1m fa=off): large, exact and finite. The
# check here is for figures no query can mean (a 55-digit total, inf, NaN, a negative).
QUERY_LIMIT = 10**25
WHO = Conversation(platform="slack", workspace="T1", channel="C1", user="U1")


class FixtureResolver:
    """Any Hub id is Qwen2.5-7B (no network); a local reference is read from disk as vram would."""

    def __init__(self) -> None:
        self._qwen = opened(load_local(QWEN_7B))

    def open_model(self, model: str, revision: str | None = None) -> OpenedModel:
        if is_local_reference(model):
            return opened(load_local(model))
        return self._qwen.model_copy(update={"model_id": model, "revision": revision})


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, Store]]:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'vram.sqlite3'}", backoff_s=0.01)
    store.upgrade()
    try:
        yield Service(store=store, resolver=FixtureResolver()), store
    finally:
        store.close()


KEY_WORDS = sorted({alias for key in KEYS for alias in (key.name, *key.aliases)} | {"zz", "S", "GPU", ""})
HOSTILE_VALUES = [
    "1",
    "0",
    "-1",
    "32k",
    "1m",
    "1.5k",
    "0.5",
    "1e308",
    "1e-300",
    "nan",
    "inf",
    "-inf",
    "NaN",
    "²",
    "١٢",
    "0x10",
    "9" * 309,
    "9" * 5000,
    "1" + "0" * 19,
    "4_096",
    "4,096",
    "on",
    "off",
    "h100",
    "vllm",
    "fp8",
    "awq",
    "16",
    "",
    "=",
    "k",
    "m",
    "1e",
    ".5",
    "5.",
    "\u202e",
    "\u00a0",
    "`",
    "<@U1>",
]
MODELS = [
    "org/model",
    "Qwen/Qwen2.5-7B@main",
    "org/model@" + "a" * 200,
    "a" * 4000,
    QWEN_7B,
    "./missing.json",
    "/" + "a" * 300,
    "./" + "b" * 300 + "/config.json",
    "~/x.json",
    "org/model@",
    "@",
    "/",
    ".",
    "x.gguf",
]
HEADS = ["show", "history", "compare", "help", "gpus", "mine", "?"]

values = st.sampled_from(HOSTILE_VALUES) | st.text(max_size=12) | st.integers().map(str) | st.floats().map(str)
settings_words = st.builds(lambda k, v: f"{k}={v}", st.sampled_from(KEY_WORDS), values)
built = st.builds(
    lambda head, words: " ".join([*head, *words]),
    st.lists(st.sampled_from(MODELS + HEADS) | st.text(max_size=20), min_size=0, max_size=3),
    st.lists(settings_words | values, max_size=6),
)
GOOD = [
    f"{QWEN_7B} s=32k b=4 gpu=h100 gpus=2 engine=vllm",
    "org/model s=8k kv=fp8 dtype=awq",
    "show 1",
    "compare org/a org/b s=16k",
    "history org/model mine",
    "org/model p=4 n=7 util=0.8 mnbt=8192 seqs=64",
]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A good command with characters replaced, inserted or deleted."""
    text = list(draw(st.sampled_from(GOOD)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "replace", "delete"]))
        char = draw(st.characters() | st.sampled_from(list("=@/#.-_ 9k²\u00a0")))
        if action == "insert" or at == len(text):
            text.insert(at, char * draw(st.sampled_from([1, 1, 300])))
        elif action == "replace":
            text[at] = char
        else:
            del text[at]
    return "".join(text)


commands = st.text(max_size=80) | built | mutated()


def fuzz(examples: int) -> settings:
    """Bounded, reproducible runs, no per-example deadline (a 5,000-digit value takes its time)."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
    )


def _check(text: str, service: tuple[Service, Store]) -> None:
    svc, store = service
    with contextlib.suppress(VramError):  # the only kind allowed out of the parser
        parse(text)
    before = store.count()
    reply = svc.run(text, WHO)  # nothing may escape the service
    render(reply, "U1")  # nor the Slack renderer
    outcomes = (
        [reply.outcome]
        if isinstance(reply, EstimateReply)
        else [reply.a, reply.b]
        if isinstance(reply, CompareReply)
        else []
    )
    for outcome in outcomes:
        assert outcome.saved, (text, outcome.note)  # answers and failures alike are kept
        if outcome.estimate is not None:
            assert bad_figures(outcome.estimate.to_json(), limit=QUERY_LIMIT) == [], text
        else:
            assert outcome.error and "\n" not in outcome.error
    if isinstance(reply, ErrorReply):
        assert reply.message and reply.exit_code in (1, 2)
        if reply.exit_code == 2:
            # An estimate's or comparison's mistake is stored with its sentence; a mistyped sub-command
            # (show, history, gpus) sizes nothing and is not.
            words = split_words(text)
            head = words[0].lower() if words else ""
            kept = head not in ("show", "history", "gpus", "help")
            assert store.count() == before + kept, text


@pytest.mark.parametrize(
    "text",
    [
        "org/model s=" + "9" * 309,
        "org/model gpus=" + "9" * 400,
        "org/model mnbt=" + "9" * 5000,
        "show ²",
        "show " + "9" * 5000,
        "show 99999999999999999999",
        "./" + "a" * 300 + "/config.json",
        "org/model n=1e-300",
        "org/model seqs=1e308",
        "a" * 4000,
    ],
)
def test_the_reported_commands_end_in_a_sentence(text: str, service: tuple[Service, Store]) -> None:
    _check(text, service)


@pytest.mark.slow
@fuzz(300)
@given(text=commands)
def test_commands_end_in_an_answer_or_a_sentence(text: str, service: tuple[Service, Store]) -> None:
    _check(text, service)


@fuzz(10)
@given(text=commands)
def test_commands_end_in_an_answer_or_a_sentence_smoke(text: str, service: tuple[Service, Store]) -> None:
    _check(text, service)


@pytest.mark.slow
@fuzz(3000)
@given(text=commands)
def test_commands_end_in_an_answer_or_a_sentence_at_length(text: str, service: tuple[Service, Store]) -> None:
    _check(text, service)


# Questions in plain words read their numbers themselves ("32k", "1.5k tokens", "8 x H100"): a number
# of thousands of digits there went through float() to inf and crashed.
QUESTIONS = [
    "can org/model run {n} for 4 users on an h100?",
    "can org/model run 32k for {n} users on an h100?",
    "can org/model run 4k on {n} h100s?",
    "can org/model run 4k on {n}x h100?",
    "does org/model fit {n} tokens on an l4?",
    "vllm serve org/model --max-model-len {n} on an h100",
    "vllm serve org/model --max-num-batched-tokens={n} -tp 2 on an h100",
    'vllm serve org/model --speculative-config \'{{"method": "mtp", "num_speculative_tokens": {n}}}\'',
    "can org/model run 4k on an h100 with vllm {n}?",
]
numbers = st.builds(
    lambda whole, frac, suffix: whole + frac + suffix,
    st.integers(1, 4000).map(lambda k: "9" * k) | st.from_regex(r"\d{1,12}", fullmatch=True),
    st.just("") | st.integers(1, 3000).map(lambda k: "." + "0" * k + "1") | st.from_regex(r"\.\d{1,4}", fullmatch=True),
    st.sampled_from(["", "k", "m", "K"]),
)
questions = st.builds(lambda template, n: template.format(n=n), st.sampled_from(QUESTIONS), numbers)


def _read(text: str) -> None:
    with contextlib.suppress(VramError):  # the only kind allowed out
        read_question(text)


@pytest.mark.slow
@fuzz(200)
@given(text=questions)
def test_questions_with_any_number_end_in_a_reading_or_a_sentence(text: str) -> None:
    _read(text)


@fuzz(15)
@given(text=questions)
def test_questions_with_any_number_end_in_a_reading_or_a_sentence_smoke(text: str) -> None:
    _read(text)
