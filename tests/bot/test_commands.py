"""The one grammar: values, aliases, errors (exit 2 with one sentence), and no crash on any input."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.commands import (
    CompareCmd,
    EstimateCmd,
    GpusCmd,
    HelpCmd,
    HistoryCmd,
    ShowCmd,
    parse,
    parse_changes,
)
from common.errors import InputError, VramError
from estimator.query import Query


def est(text: str) -> Query:
    cmd = parse(text)
    assert isinstance(cmd, EstimateCmd)
    return cmd.query


def test_defaults() -> None:
    q = est("microsoft/phi-4")
    assert (
        q.model,
        q.revision,
        q.seq_len,
        q.batch,
        q.kv,
        q.flash_attention,
        q.gpus,
        q.engine,
        q.util,
        q.method,
        q.vllm,
    ) == ("microsoft/phi-4", None, 4096, 1, "on", None, 1, "transformers", None, "calibrated", None)


def test_spec_example_and_suffixes() -> None:
    q = est("microsoft/phi-4 s=16384 b=1 fa=on")
    assert (q.seq_len, q.batch, q.flash_attention) == (16384, 1, True)
    assert est("m/x s=32k").seq_len == 32 * 1024
    assert est("m/x s=1m").seq_len == 1024 * 1024
    assert est("m/x s=1.5k").seq_len == 1536
    # A decimal before k or m is rounded down to whole tokens (the answers print "3.76M"):
    # 3.76 x 1,048,576 = 3,942,645.76; 1.3 x 1,024 = 1,331.2. Without a suffix it stays an error.
    assert est("m/x s=3.76m").seq_len == 3_942_645
    assert est("m/x s=1.3k").seq_len == 1331
    assert est("m/x ctx=8K").seq_len == 8192


def test_aliases_and_case_and_a_repeat_is_refused() -> None:
    q = est("Qwen/Qwen3-8B SEQ=2k Batch=4 tp=2 flash=off q=fp8 bits=8 params=7.5")
    assert (q.seq_len, q.batch, q.gpus, q.flash_attention, q.weight_format, q.bits, q.params_billions) == (
        2048,
        4,
        2,
        False,
        "fp8",
        8,
        7.5,
    )
    # Silently keeping the last of two values hid typos: a key given twice is an error.
    with pytest.raises(InputError, match='"SEQ=1k" and "s=2k" set the same key'):
        est("Qwen/Qwen3-8B SEQ=1k s=2k")


def test_revision_and_vllm_keys() -> None:
    q = est("meta-llama/Llama-3.1-8B@main engine=vllm util=0.95 mnbt=8192 seqs=256 kv=fp8 gpu=H100")
    assert q.revision == "main"
    assert (q.engine, q.util, q.max_num_batched_tokens, q.max_num_seqs, q.kv) == ("vllm", 0.95, 8192, 256, "fp8")
    assert q.gpu == "h100-80gb"


def test_unknown_key_names_word_and_suggests() -> None:
    with pytest.raises(InputError) as err:
        parse("microsoft/phi-4 sq=4")
    assert str(err.value).startswith('unknown key "sq"; did you mean "s"?')
    assert err.value.exit_code == 2


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("m/x s=0", "out of range"),
        ("m/x s=16m", None),  # the top of the range is allowed
        ("m/x s=17m", "out of range"),
        ("m/x b=0", "out of range"),
        ("m/x b=2000000", "out of range"),
        ("m/x gpus=1025", "out of range"),
        ("m/x util=0", "out of range"),
        ("m/x util=1.5", "out of range"),
        ("m/x p=7", "not valid"),
        ("m/x fa=maybe", "not valid"),
        ("m/x dtype=fp5", "not valid"),
        ("m/x kv=fp4", "not valid"),
        ("m/x engine=tgi", "not valid"),
        ("m/x s=abc", "not a whole number"),
        ("m/x s=1.3", "not a whole number"),
        ("m/x n=-1", "out of range"),
        ("m/x n=nan", "not a number"),
        ("m/x gpu=h900", "unknown GPU"),
        ("m/x hello", 'unexpected word "hello"'),
        ("s=4k", "comes before the model"),
        ("m/x s=", "has no value"),
        ("bad!id", "not a Hub model id"),
    ],
)
def test_bad_values(text: str, fragment: str | None) -> None:
    if fragment is None:
        assert est(text).seq_len == 16 * 1024 * 1024
        return
    with pytest.raises(InputError) as err:
        parse(text)
    message = str(err.value)
    assert fragment in message
    assert "\n" not in message


def test_subcommands() -> None:
    assert isinstance(parse(""), HelpCmd)
    assert isinstance(parse("help"), HelpCmd)
    assert isinstance(parse("gpus"), GpusCmd)
    assert parse("history llama mine") == HistoryCmd(model="llama", mine=True)
    assert parse("history") == HistoryCmd()
    assert parse("show 42") == ShowCmd(record_id=42)
    cmp = parse("compare Qwen/Qwen3-8B meta-llama/Llama-3.1-8B s=32k")
    assert isinstance(cmp, CompareCmd)
    assert (cmp.a.model, cmp.b.model, cmp.a.seq_len, cmp.b.seq_len) == (
        "Qwen/Qwen3-8B",
        "meta-llama/Llama-3.1-8B",
        32768,
        32768,
    )
    with pytest.raises(InputError):
        parse("show abc")
    with pytest.raises(InputError):
        parse("compare only/one")


def test_paths_pass_through() -> None:
    path = "./tests/fixtures/configs/Qwen__Qwen3-8B.json"
    assert est(f"{path} s=1k").model == path
    assert est("/tmp/model-folder").model == "/tmp/model-folder"


def test_slack_decorations_are_tolerated() -> None:
    q = est("`microsoft/phi-4`\u00a0s = 32k")
    assert (q.model, q.seq_len) == ("microsoft/phi-4", 32768)


def test_a_stray_equals_sign_is_named_not_glued_to_the_model() -> None:
    # "s = 32k" and "s =5" glue back into settings; "=5" after the model has no key and says so,
    # rather than reading "model=5" as a setting before the model.
    assert est("microsoft/phi-4 s =5").seq_len == 5
    for text, word in (
        ("microsoft/phi-4 =5", "=5"),
        ("microsoft/phi-4 b=3 =5", "=5"),
        ("microsoft/phi-4 b=3 = 5", "="),
    ):
        with pytest.raises(InputError) as info:
            est(text)
        assert str(info.value).startswith(f'"{word}" has no key before "=": write key=value'), info.value


@pytest.mark.parametrize(
    ("typed", "meant"), [("histroy", "history"), ("hlep", "help"), ("gpsu", "gpus"), ("shwo 4", "show")]
)
def test_a_mistyped_command_is_named_not_asked_of_the_hub(typed: str, meant: str) -> None:
    with pytest.raises(InputError) as info:
        parse(typed)
    assert str(info.value).startswith(f'unknown command "{typed.split()[0]}": did you mean {meant}?')


def test_one_part_hub_ids_are_not_taken_for_commands() -> None:
    # Nor words a letter away by substitution ("snow", "helm") or a first letter dropped ("how").
    for model in ("gpt2", "bloom", "llama", "phi", "distilgpt2", "snow", "helm", "heap", "how", "opt"):
        assert isinstance(parse(model), EstimateCmd), model


def test_thread_changes() -> None:
    base = est("microsoft/phi-4 s=16k gpu=h100")
    assert parse_changes("thanks, looks good", base) is None
    assert parse_changes("<@U123> nice", base) is None
    query, changes = parse_changes("<@U123> s=32k b=8 kv=fp8", base)
    assert (query.model, query.seq_len, query.batch, query.kv, query.gpu) == (
        "microsoft/phi-4",
        32768,
        8,
        "fp8",
        "h100-80gb",
    )
    assert changes == {"s": 32768, "b": 8, "kv": "fp8"}
    query, changes = parse_changes("Qwen/Qwen3-8B gpus=2", base)
    assert (query.model, query.gpus, query.seq_len) == ("Qwen/Qwen3-8B", 2, 16384)
    with pytest.raises(InputError):
        parse_changes("s=lots", base)
    # Conversation around a setting is not a change (and a bare first word is never a model).
    assert parse_changes("I think b=2 is too small", base) is None
    assert parse_changes("<@U123> try s=32k", base) is None
    assert parse_changes("try s=32k", base) is None
    # A Hub id first still changes the model, as a local path does (the terminal's show N; a server's
    # resolver refuses the path in a sentence).
    changed = parse_changes("./model s=1k", base)
    assert changed is not None and changed[1] == {"s": 1024, "model": "./model"}
    # Chat's bold and italic around settings are the settings ("**" is markdown's bold).
    for typed in ("*s=32k b=8*", "_s=32k_ *b=8*", "**s=32k** b=8"):
        got = parse_changes(typed, base)
        assert got is not None and got[1] == {"s": 32768, "b": 8}, typed
    assert parse_changes("*really* s=32k", base) is None  # emphasis without a setting is a word
    assert parse("microsoft/phi-4 *s=32k*") == parse("microsoft/phi-4 s=32k")


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(st.text(max_size=80))
def test_any_text_parses_or_raises_input_error(text: str) -> None:
    _parses_or_raises_input_error(text)


@settings(max_examples=10, deadline=None)
@given(st.text(max_size=80))
def test_any_text_parses_or_raises_input_error_smoke(text: str) -> None:
    _parses_or_raises_input_error(text)


def _parses_or_raises_input_error(text: str) -> None:
    try:
        parse(text)
    except InputError as err:
        assert str(err) and "\n" not in str(err)


_keys = st.sampled_from(
    [
        "s",
        "b",
        "p",
        "dtype",
        "kv",
        "fa",
        "n",
        "gpu",
        "gpus",
        "engine",
        "util",
        "mnbt",
        "seqs",
        "method",
        "seq",
        "batch",
        "tp",
        "flash",
        "zz",
    ]
)
_values = st.one_of(
    st.integers(-5, 10**9).map(str),
    st.floats(allow_nan=True).map(str),
    st.sampled_from(["on", "off", "32k", "1m", "fp8", "h100", "vllm", "classic", "", "x"]),
    st.text(max_size=6),
)


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(_keys, _values), max_size=6))
def test_key_value_grammar_never_crashes(pairs: list[tuple[str, str]]) -> None:
    _grammar_does_not_crash(pairs)


@settings(max_examples=10, deadline=None)
@given(st.lists(st.tuples(_keys, _values), max_size=6))
def test_key_value_grammar_never_crashes_smoke(pairs: list[tuple[str, str]]) -> None:
    _grammar_does_not_crash(pairs)


def _grammar_does_not_crash(pairs: list[tuple[str, str]]) -> None:
    text = "org/model " + " ".join(f"{k}={v}" for k, v in pairs)
    try:
        parse(text)
    except VramError as err:
        assert err.exit_code == 2


def test_history_takes_the_terminals_limit_in_chat_too() -> None:
    # "/vram history --limit 3" in Slack: the terminal's option, read the same; --json is the terminal's.
    cmd = parse("history --limit 3")
    assert isinstance(cmd, HistoryCmd) and (cmd.limit, cmd.model, cmd.mine) == (3, None, False)
    cmd = parse("history Qwen/Qwen3-8B mine --limit=5")
    assert isinstance(cmd, HistoryCmd) and (cmd.limit, cmd.model, cmd.mine) == (5, "Qwen/Qwen3-8B", True)
    with pytest.raises(InputError, match="--limit needs a number from 1 to 1000"):
        parse("history --limit 0")
    with pytest.raises(InputError, match="--json is the terminal's output switch"):
        parse("history --json")


@pytest.mark.parametrize("typed", ['"Qwen/Qwen3-8B" s=8k', "“Qwen/Qwen3-8B” s=8k", "'Qwen/Qwen3-8B' s=8k"])
def test_a_quoted_model_id_is_the_id(typed: str) -> None:
    # Slack turns typed quotes into smart ones; a shell user may quote the id: the id is inside.
    cmd = parse(typed)
    assert isinstance(cmd, EstimateCmd) and cmd.query.model == "Qwen/Qwen3-8B" and cmd.query.seq_len == 8192


@pytest.mark.parametrize(("typed", "got"), [("compare a/b c/d e/f s=8k", "3 given"), ("compare a/b", "1 given")])
def test_compare_says_it_takes_exactly_two_models(typed: str, got: str) -> None:
    with pytest.raises(InputError, match=rf"^compare takes exactly two models \({got}\), for example: "):
        parse(typed)


@pytest.mark.parametrize("typed", ["compare with Qwen/Qwen3-0.6B", "compare it to Qwen/Qwen3-0.6B"])
def test_compare_with_one_model_outside_a_thread_says_what_it_needs(typed: str) -> None:
    # "with" is no model to look up on the Hub: compare-with compares against an answer.
    with pytest.raises(InputError, match=r"compares with an answer: reply so under one"):
        parse(typed)
