"""The question reader's properties, thread replies in plain words, and the model-name lookup on the fake Hub."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cli import run
from bot.commands import EstimateCmd, parse, parse_changes
from bot.question import is_question, read_change, read_question, read_reply, spoken_numbers
from bot.settings import Settings
from common.errors import HubUnavailableError, InputError, NotFoundError
from estimator.gpus import catalog
from estimator.grammar import _BOOL_VALUES, KEY_BY_NAME
from estimator.query import Query
from sources.model_search import MemorySearchCache, ModelSearch, rank, search_terms
from tests.fakehub import GRANTED_TOKEN, FakeHub

_BITS = KEY_BY_NAME["p"].values()
_WEIGHT_FORMATS = KEY_BY_NAME["dtype"].values()
_WEIGHT_FORMAT_ALIASES = KEY_BY_NAME["dtype"].value_aliases()
_KV_VALUES = KEY_BY_NAME["kv"].values()
_KV_ALIASES = KEY_BY_NAME["kv"].value_aliases()
_ENGINES = KEY_BY_NAME["engine"].values()
_ENGINE_ALIASES = KEY_BY_NAME["engine"].value_aliases()
_METHODS = KEY_BY_NAME["method"].values()
KEY_ALIASES = {key.name: key.aliases for key in KEY_BY_NAME.values()}

# -- every key=value command reads the same inside a sentence -------------------------------------

_counts = st.one_of(st.integers(1, 1_000_000).map(str), st.integers(1, 1024).map(lambda n: f"{n}k"))
_VALUES = {
    "s": _counts,
    "b": _counts,
    "p": st.sampled_from(_BITS).map(str),
    "dtype": st.sampled_from(_WEIGHT_FORMATS + tuple(_WEIGHT_FORMAT_ALIASES)),
    "kv": st.sampled_from(_KV_VALUES + tuple(_KV_ALIASES)),
    "fa": st.sampled_from(tuple(_BOOL_VALUES)),
    "n": st.decimals(min_value="0.1", max_value="2000", places=1).map(str),
    "gpu": st.sampled_from([name for g in catalog() for name in (g.key, *g.aliases)]),
    "gpus": st.integers(1, 1024).map(str),
    "engine": st.sampled_from(_ENGINES + tuple(_ENGINE_ALIASES)),
    "util": st.decimals(min_value="0.05", max_value="1", places=2).map(str),
    "mnbt": _counts,
    "seqs": st.integers(1, 100_000).map(str),
    "method": st.sampled_from(_METHODS),
}
_PAIR = st.sampled_from(sorted(_VALUES)).flatmap(
    lambda key: st.tuples(st.sampled_from((key, *KEY_ALIASES[key])), _VALUES[key]).map(lambda kv: f"{kv[0]}={kv[1]}")
)
_TEMPLATES = (
    "can {model} run with {pairs}?",
    "will {model} fit {pairs} please",
    "hey vram, does {model} fit with {pairs}?",
    "{model} {pairs}",
    "@vram is {model} ok at {pairs}, thanks!",
    "what would {model} need for {pairs}?",
)


_SENTENCES = {
    "pairs": st.lists(_PAIR, min_size=1, max_size=6),
    "template": st.sampled_from(_TEMPLATES),
    "model": st.sampled_from(("Qwen/Qwen3-8B", "meta-llama/Llama-3.1-8B@main", "openai/gpt-oss-20b")),
}


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(**_SENTENCES)
def test_a_command_reads_the_same_inside_a_sentence(pairs: list[str], template: str, model: str) -> None:
    _reads_the_same(pairs, template, model)


@settings(max_examples=10, deadline=None)
@given(**_SENTENCES)
def test_a_command_reads_the_same_inside_a_sentence_smoke(pairs: list[str], template: str, model: str) -> None:
    _reads_the_same(pairs, template, model)


def _reads_the_same(pairs: list[str], template: str, model: str) -> None:
    command = f"{model} {' '.join(pairs)}"
    try:
        expected = parse(command)
    except InputError as err:
        # A command the grammar refuses is refused the same way inside a sentence.
        with pytest.raises(InputError) as caught:
            read_question(template.format(model=model, pairs=" ".join(pairs)))
        assert str(caught.value) == str(err)
        return
    assert isinstance(expected, EstimateCmd)
    question = read_question(template.format(model=model, pairs=" ".join(pairs)))
    got = question.command()
    assert got.query == expected.query
    assert set(got.changed) == set(expected.changed)
    assert question.unused == ()


# -- threads ----------------------------------------------------------------------------------------

BASE = Query(model="Qwen/Qwen3-8B", seq_len=32 * 1024, batch=4, gpu="l40s", gpus=2)


@pytest.mark.parametrize(
    ("text", "changes"),
    [
        ("what about 128k?", {"s": 131072}),
        ("and with fp8 kv?", {"kv": "fp8"}),
        ("try 2 GPUs", {"gpus": 2}),
        ("try 4 GPUs and 16 users", {"b": 16, "gpus": 4}),
        ("what about on an H200?", {"gpu": "h200", "gpus": 1}),
        # Two GPUs already: only the card moves, and only what moves is a change.
        ("and on two H100s?", {"gpu": "h100-80gb"}),
        ("and on one L40S?", {"gpus": 1}),
        ("with vllm?", {"engine": "vllm"}),
        ("with vllm 0.31?", {"engine": "vllm", "vllm": "0.31"}),
        ("and with --kv-cache-dtype fp8?", {"kv": "fp8"}),
        ("try --tensor-parallel-size=4", {"gpus": 4}),
        ("flash attention off", {"fa": False}),
        ("how about 8 users at 64k", {"s": 65536, "b": 8}),
        ("in fp8 then", {"dtype": "fp8"}),
        ("ok and s=16k?", {"s": 16384}),
        ("<@U0VRAM> what about 1k context?", {"s": 1024}),
        # Chat's "w/" is "with", never a model.
        ("w/8 users", {"b": 8}),
        ("and w/ fp8 kv?", {"kv": "fp8"}),
    ],
)
def test_a_thread_reply_in_plain_words_changes_settings(text: str, changes: dict[str, object]) -> None:
    got = read_change(text, BASE)
    assert got is not None
    query, read = got
    assert read == changes
    fields = {
        "s": "seq_len",
        "b": "batch",
        "kv": "kv",
        "gpus": "gpus",
        "gpu": "gpu",
        "engine": "engine",
        "fa": "flash_attention",
        "dtype": "weight_format",
        "vllm": "vllm",
    }
    for key, value in changes.items():
        assert getattr(query, fields[key]) == value
    # What it did not name stays as it was.
    untouched = {"seq_len", "batch", "kv", "gpus", "gpu", "engine", "flash_attention", "weight_format", "vllm"} - {
        fields[k] for k in changes
    }
    for name in untouched:
        assert getattr(query, name) == getattr(BASE, name)


def test_a_thread_reply_can_change_the_model_by_its_hub_id() -> None:
    got = read_change("and Qwen/Qwen3-32B at 64k?", BASE)
    assert got is not None
    query, changes = got
    assert (query.model, query.seq_len, changes) == ("Qwen/Qwen3-32B", 65536, {"s": 65536, "model": "Qwen/Qwen3-32B"})


def test_a_thread_reply_pastes_a_yarn_override_only_releases_up_to_0_29_read_as_yarn() -> None:
    # No max_position_embeddings: 0.29 and earlier take original x factor (what yarn=4:32768 sizes),
    # 0.30 and later the config's positions, so the reply is refused unless the thread's release reads it.
    reply = (
        'and with --hf-overrides \'{"rope_scaling": {"rope_type": "yarn", "factor": 4, '
        '"original_max_position_embeddings": 32768}}\''
    )
    with pytest.raises(InputError, match=r"name vllm 0\.29 or earlier"):
        read_change(reply, BASE.model_copy(update={"engine": "vllm", "vllm": None}))
    got = read_change(reply, BASE.model_copy(update={"engine": "vllm", "vllm": "0.29"}))
    assert got is not None and got[0].yarn is not None
    assert (got[0].yarn.factor, got[0].yarn.original) == (4, 32768)


def test_a_thread_reply_counts_cards_over_stages_and_replicas_as_a_question_does() -> None:
    # "8 L40S with data parallel 4" is 8 cards: 4 replicas of 2, not 4 replicas of 8 (32 cards).
    for words, layout in [
        ("on 8 L40S with data parallel 4", (2, 1, 4)),
        ("on 8 L40S with pipeline parallel 2", (4, 2, 1)),
        ("on 16 L40S with pp 2 and dp 4", (2, 2, 4)),
        ("with -tp 4 -dp 2", (4, 1, 2)),  # a TP size is the group already
    ]:
        got = read_change(f"and {words}?", BASE)
        assert got is not None, words
        assert (got[0].gpus, got[0].pp, got[0].dp) == layout, words
        question = read_question(f"can Qwen/Qwen3-8B run {words} in vllm?")
        read = tuple(int(question.settings.get(key, "1")) for key in ("gpus", "pp", "dp"))
        assert read == layout, words
    # No cards named: the group stays.
    got = read_change("try data parallel 2", BASE)
    assert got is not None and (got[0].gpus, got[0].dp) == (BASE.gpus, 2)
    with pytest.raises(InputError, match="give a multiple of 8"):
        read_change("and on 12 L40S with pp 2 and dp 4?", BASE)


def test_a_count_of_cards_in_a_reply_keeps_the_base_queries_replica_and_says_the_replicas() -> None:
    # The base runs 4 replicas of a 2-GPU group: 8 cards. "try 16 GPUs" keeps the group and gives
    # 16 / 2 = 8 replicas; "try 8 GPUs" is the layout it was (2 x 4 = 8 cards, not 8 x 4 = 32).
    base = BASE.model_copy(update={"engine": "vllm", "gpus": 2, "dp": 4})
    for text, layout in [
        ("try 16 GPUs", (2, 1, 8)),
        ("try 8 GPUs", (2, 1, 4)),
        ("and on 4 H100s?", (2, 1, 2)),
        ("try tp 2 on 16 GPUs", (2, 1, 8)),
        # No multiple of the 2-GPU replica: one group of 3, the replicas dropped.
        ("try 3 GPUs", (3, 1, 1)),
        ("try 8 GPUs with data parallel 2", (4, 1, 2)),  # replicas said: the count is split over them
    ]:
        got = read_change(text, base)
        assert got is not None, text
        query, changes = got
        assert (query.gpus, query.pp, query.dp) == layout, text
        # Both are changes, so the answer's lead says what the count became.
        assert (changes["gpus"], changes["dp"]) == (layout[0], layout[2]), text
    # Pipeline stages of the base count too: 2 stages of 2 GPUs, 2 replicas (8 cards); 16 cards are 4
    # replicas, and without replicas 8 cards over 2 stages are groups of 4.
    staged = base.model_copy(update={"pp": 2, "dp": 2})
    got = read_change("try 16 GPUs", staged)
    assert got is not None and (got[0].gpus, got[0].pp, got[0].dp) == (2, 2, 4)
    got = read_change("try 8 GPUs", base.model_copy(update={"pp": 2, "dp": 1}))
    assert got is not None and (got[0].gpus, got[0].pp, got[0].dp) == (4, 2, 1)
    with pytest.raises(InputError, match="give a multiple of 2"):
        read_change("try 3 GPUs", base.model_copy(update={"pp": 2, "dp": 1}))


def test_a_key_value_word_beside_words_that_set_the_key_otherwise_is_a_key_given_twice() -> None:
    # The grammar refuses s=1k s=2k; a sentence's "at 32k" beside s=64k is the same, never one winning unsaid.
    text = "how many users can Qwen/Qwen3-8B serve on 2 h100s at 32k with vllm"
    for extra, words in (
        ("gpu=a100", '"h100s" and gpu=a100'),
        ("s=64k", '"at 32k" and s=64k'),
        ("gpus=4", '"2 h100s"'),
    ):
        with pytest.raises(InputError, match=re.escape(words)):
            read_question(f"{text} {extra}")
    # The same value said twice, or a key the words do not set, is fine.
    for extra in ("gpu=h100", "s=32768", "mtp=1"):
        assert read_question(f"{text} {extra}").settings.get(extra.split("=")[0]) is not None
    # A key=value word that says more precisely what the words said is no contradiction: a count the
    # words gave only as an article, cards split over the stages or replicas the words give, a GPU
    # of the same family, a weight format of the same width.
    refined = {
        "how many users can Qwen/Qwen3-8B serve on 8 h100s with vllm gpus=4 pp=2": "gpus=4 pp=2",
        "how many users can Qwen/Qwen3-8B serve on 8 h100s with vllm tp=4 dp=2": "gpus=4 dp=2",
        "does Qwen/Qwen3-8B fit on an h100 gpu=h100-pcie": "gpu=h100-pcie",
        "does Qwen/Qwen3-8B fit on an h100 in int4 dtype=awq": "dtype=awq",
        "does Qwen/Qwen3-8B fit on an a100 with gpus=2": "gpus=2",
    }
    for sentence, words in refined.items():
        assert words in read_question(sentence).settings_text(), sentence
    with pytest.raises(InputError, match=re.escape('"in int4" and dtype=fp8 both set dtype')):
        read_question("does Qwen/Qwen3-8B fit on an h100 in int4 dtype=fp8")
    got = read_change("and on an a100 with gpus=2 dp=2", BASE)
    assert got is not None and (got[0].gpus, got[0].dp) == (2, 2)
    with pytest.raises(InputError, match=re.escape('"64k" and s=32k both set s')):
        read_change("try 64k s=32k", BASE)
    got = read_change("try 64k s=64k", BASE)
    assert got is not None and got[0].seq_len == 65536


def test_common_follow_ups_read_as_changes() -> None:
    # "go back to 32k", "make it 64 users", CUDA graphs off (vLLM's --enforce-eager), "b=16?".
    base = BASE.model_copy(update={"engine": "vllm"})
    for text, changes in (
        ("go back to 64k", {"s": 65536}),
        ("make it 64 users", {"b": 64}),
        ("turn off cuda graphs", {"eager": True}),
        ("no CUDA graphs", {"eager": True}),
        ("eager mode", {"eager": True}),
    ):
        got = read_change(text, base)
        assert got is not None and got[1] == changes, text
    got = parse_changes("b=16?", base)
    assert got is not None and got[1] == {"b": 16}
    assert read_change("I think we should go back", base) is None


def test_replies_said_against_the_threads_answer_read_as_changes() -> None:
    # BASE: s=32k (32,768 tokens), b=4. "double"/"half" work from those; "max context" is s=max, as
    # the answer's button; a number alone of 1,024 or more is tokens, as "32k" is.
    for text, changes, field, value in (
        ("max context", {"s": "max"}, "seq_len_from_model", True),
        ("what about the longest context?", {"s": "max"}, "seq_len_from_model", True),
        ("turn off prefix caching", {"prefix": False}, "prefix_caching", False),
        ("switch off the prefix caching", {"prefix": False}, "prefix_caching", False),
        ("enable prefix caching", {"prefix": True}, "prefix_caching", True),
        ("16384", {"s": 16384}, "seq_len", 16384),
        ("what about 65,536?", {"s": 65536}, "seq_len", 65536),
        ("double the context", {"s": 65536}, "seq_len", 65536),
        ("half the context", {"s": 16384}, "seq_len", 16384),
        ("half the batch", {"b": 2}, "batch", 2),
        ("double the users", {"b": 8}, "batch", 8),
        # Both nouns, the same way: 32,768 x 2 tokens and 4 x 2 requests (the context was dropped).
        ("double the batch and the context", {"s": 65536, "b": 8}, "seq_len", 65536),
        ("half the context and the batch", {"s": 16384, "b": 2}, "batch", 2),
    ):
        got = read_change(text, BASE)
        assert got is not None, text
        assert got[1] == changes, text
        assert getattr(got[0], field) == value, text
    # A small number alone could count users or GPUs as well: chat, as before.
    assert read_change("512", BASE) is None
    with pytest.raises(InputError, match=re.escape("the batch is 1 already (b=1)")):
        read_change("half the batch", BASE.model_copy(update={"batch": 1}))
    with pytest.raises(InputError, match=re.escape("the model's longest (s=max)")):
        read_change("double the context", BASE.model_copy(update={"seq_len_from_model": True}))


def test_a_reply_naming_a_model_by_words_looks_it_up() -> None:
    looked_up: list[str] = []

    def find(phrase: str) -> str:
        looked_up.append(phrase)
        return "Qwen/Qwen3-32B"

    got = read_change("what about qwen3 32b?", BASE.model_copy(update={"revision": "abc123"}), find_model=find)
    assert got is not None and looked_up == ["qwen3 32b"]
    query, changes = got
    assert changes == {"model": "Qwen/Qwen3-32B"}
    # The thread's settings stay; the old revision belongs to the old model.
    assert (query.model, query.revision, query.seq_len, query.gpus) == ("Qwen/Qwen3-32B", None, BASE.seq_len, 2)
    got = read_change("and qwen3 32b at 64k", BASE, find_model=find)
    assert got is not None and got[1] == {"s": 65536, "model": "Qwen/Qwen3-32B"}
    # With no lookup to hand, one sentence says how instead.
    with pytest.raises(InputError, match=re.escape('"qwen3 32b" names a model by words')):
        read_change("what about qwen3 32b?", BASE)
    # Chat's "x2" is no model name, and nothing is looked up for it.
    assert read_change("thanks x2", BASE, find_model=find) is None
    assert looked_up == ["qwen3 32b", "qwen3 32b"]


def test_a_reply_with_a_key_value_word_is_a_change_and_its_other_words_are_said() -> None:
    # key=value means a change: the other words are listed, not a reason to drop it.
    for text, changes, unused in (
        ("gpu=h100 (for prod)", {"gpu": "h100-80gb"}, ("prod",)),
        ("I think b=2 is too small", {"b": 2}, ("think", "too", "small")),
        ("s=4k --port 8000", {"s": 4096}, ("--port",)),
        (":rocket: s=4k", {"s": 4096}, ()),  # Slack's emoji code is no word
    ):
        got = read_reply(text, BASE)
        assert got is not None and (got[1], got[2]) == (changes, unused), text
    # Without a key=value word, words that are not settings stay conversation.
    assert read_reply("I think 8 users is too many", BASE) is None
    # read_change, with nowhere to say unused words, takes only a reply that used them all.
    assert read_change("gpu=h100 (for prod)", BASE) is None
    assert read_change(":rocket: s=4k", BASE) == parse_changes("s=4k", BASE)
    # What cannot be read beside a key=value word is said, not taken for chat.
    with pytest.raises(InputError, match='unknown key "sq"'):
        read_reply("sq=32k for prod", BASE)


def test_a_reply_naming_a_card_is_one_card_in_all() -> None:
    # "and on an A100?" on 2 replicas of 2 GPUs: one A100, not one A100 per replica (2 cards).
    base = BASE.model_copy(update={"engine": "vllm", "gpus": 2, "dp": 2})
    got = read_change("and on an a100?", base)
    assert got is not None
    query, changes = got
    assert (query.gpu, query.gpus, query.pp, query.dp) == ("a100-80gb", 1, 1, 1)
    assert changes == {"gpu": "a100-80gb", "gpus": 1, "dp": 1}
    got = read_change("on an h100", base.model_copy(update={"dp": 1, "pp": 2}))
    assert got is not None and (got[0].gpus, got[0].pp, got[0].dp) == (1, 1, 1)
    # Cards without a count keep the layout: "on A100s" swaps the card.
    got = read_change("and on a100s?", base)
    assert got is not None and (got[0].gpu, got[0].gpus, got[0].dp) == ("a100-80gb", 2, 2)
    # Replicas said beside the card: one card each.
    got = read_change("with 2 replicas on an a100", base)
    assert got is not None and (got[0].gpus, got[0].dp) == (1, 2)


@pytest.mark.parametrize(
    "text",
    [
        "thanks, that's helpful",
        "I think 8 users is too many",
        "lol",
        "nice!",
        "",
        "we ran it on two H100s last week and it was fine",
        "can you share this with the team?",
        "what about llama?",  # no model-shaped word ("llama" has no number or size): chat
        "the 128k number looks high to me",
    ],
)
def test_chatter_in_a_thread_is_ignored(text: str) -> None:
    assert read_change(text, BASE) is None


def test_a_plain_reply_with_a_bad_value_says_so() -> None:
    with pytest.raises(InputError, match="b=0 is out of range"):
        read_change("what about 0 users?", BASE)


def test_a_key_value_reply_reads_as_the_grammar_reads_it() -> None:
    assert read_change("s=64k b=2", BASE) == parse_changes("s=64k b=2", BASE)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("can Qwen/Qwen3-8B run 32k for 4 users on an L4?", True),
        ("Qwen/Qwen3-8B s=32k", False),
        ("Qwen/Qwen3-8B", False),
        ("history mine", False),
        ("compare Qwen/Qwen3-8B Qwen/Qwen3-32B", False),
        ("qwen3 8b on an L4", True),
        ("Qwen/Qwen3-8B s=4k &", False),  # no word: the grammar refuses the stray "&"
    ],
)
def test_is_question(text: str, expected: bool) -> None:
    assert is_question(text) is expected


# -- model names through the Hub's search -----------------------------------------------------------


def _search_requests(hub: FakeHub) -> int:
    return len(hub.requests("/api/models?"))


@pytest.fixture
def hub(fake_hub: FakeHub) -> FakeHub:
    # Download counts as the search reports them; two repos only the search lists.
    fake_hub.downloads = {
        "qwen/qwen3-8b": 1_000,
        "qwen/qwen3-8b-awq": 500,
        "unsloth/qwen3-8b-gguf": 2_000,
        "bartowski/qwen3-0.6b-instruct-gguf": 300,
        "acme/qwen3-0.6b-instruct-ft": 40,
    }
    fake_hub.listed = ["unsloth/Qwen3-8B-GGUF", "bartowski/Qwen3-0.6B-Instruct-GGUF", "acme/Qwen3-0.6B-Instruct-ft"]
    return fake_hub


def test_a_name_is_the_repo_named_so_and_the_others_are_offered(hub: FakeHub) -> None:
    match = ModelSearch(endpoint=hub.url).find("qwen3 8b")
    # Qwen/Qwen3-8B is named exactly so; the GGUF, more downloaded, is offered, then the AWQ.
    assert (match.model_id, match.others) == ("Qwen/Qwen3-8B", ("unsloth/Qwen3-8B-GGUF", "Qwen/Qwen3-8B-AWQ"))
    assert hub.requests("/api/models?")[0].path.count("sort=downloads") == 1


def test_the_forms_suggestions_read_words_typed_apart_as_questions_do(hub: FakeHub) -> None:
    # "qwen3 8b" typed in the form: the Hub's search matches ids, so the words are asked joined
    # ("qwen3-8b") as a question's name is; each suggestion has every word. It listed nothing.
    ids = ModelSearch(endpoint=hub.url).suggest("qwen3 8b")
    assert ids[0] == "Qwen/Qwen3-8B" and {"unsloth/Qwen3-8B-GGUF", "Qwen/Qwen3-8B-AWQ"} <= set(ids)
    assert all({"qwen3", "8b"} <= set(i.lower().replace("/", "-").split("-")) for i in ids), ids


def test_without_an_exact_name_the_most_downloaded_match_wins(hub: FakeHub) -> None:
    match = ModelSearch(endpoint=hub.url).find("qwen3 0.6b instruct")
    assert (match.model_id, match.others) == ("bartowski/Qwen3-0.6B-Instruct-GGUF", ("acme/Qwen3-0.6B-Instruct-ft",))


def test_a_warm_lookup_makes_no_hub_request(hub: FakeHub) -> None:
    search = ModelSearch(endpoint=hub.url)
    first = search.find("gpt-oss-20b")
    seen = _search_requests(hub)
    assert seen == 1
    again = search.find("GPT OSS 20B")  # the same words, spelt otherwise
    assert _search_requests(hub) == seen
    assert again.model_id == first.model_id == "openai/gpt-oss-20b"


def test_the_shared_cache_serves_a_new_client_and_expires(hub: FakeHub) -> None:
    cache, now = MemorySearchCache(), [1_000_000.0]
    ModelSearch(endpoint=hub.url, cache=cache, clock=lambda: now[0], ttl_s=3600).find("qwen3 8b")
    assert _search_requests(hub) == 1
    # A new process (a new client) with the same cache: no request.
    fresh = ModelSearch(endpoint=hub.url, cache=cache, clock=lambda: now[0], ttl_s=3600)
    assert fresh.find("qwen3 8b").model_id == "Qwen/Qwen3-8B"
    assert _search_requests(hub) == 1
    now[0] += 3601  # a day's downloads change the ranking: asked again once the entry is old
    ModelSearch(endpoint=hub.url, cache=cache, clock=lambda: now[0], ttl_s=3600).find("qwen3 8b")
    assert _search_requests(hub) == 2


def test_words_in_another_order_are_found_by_the_longest_word(hub: FakeHub) -> None:
    # "8b qwen3" is no substring of any id, nor is "8b qwen3" with its space: the third search, "qwen3",
    # lists the Qwen3 repos, and the one with both words and the exact name is used.
    match = ModelSearch(endpoint=hub.url).find("8b qwen3")
    assert match.model_id == "Qwen/Qwen3-8B"
    assert [r.path.split("search=")[1].split("&")[0] for r in hub.requests("/api/models?")] == [
        "8b-qwen3",
        "8b+qwen3",
        "qwen3",
    ]


def test_no_match_and_hub_failures_are_one_sentence(hub: FakeHub) -> None:
    with pytest.raises(NotFoundError, match='no Hub model matches "zzz 9b"'):
        ModelSearch(endpoint=hub.url).find("zzz 9b")
    hub.fail_status = 503
    with pytest.raises(HubUnavailableError, match="search failed"):
        ModelSearch(endpoint=hub.url).find("qwen3 8b")


def test_the_token_goes_with_the_search_and_never_into_repr(hub: FakeHub) -> None:
    search = ModelSearch(endpoint=hub.url, token=GRANTED_TOKEN)
    search.find("qwen3 8b")
    assert hub.requests("/api/models?")[-1].authorized
    assert GRANTED_TOKEN not in repr(search)


def test_search_terms_and_ranking_by_hand() -> None:
    assert search_terms("Llama 3.3 70B Instruct") == ["llama-3.3-70b-instruct", "llama 3.3 70b instruct", "instruct"]
    assert search_terms("gpt-oss-120b") == ["gpt-oss-120b", "gpt oss 120b", "120b"]
    from sources.model_search import ModelHit

    hits = [
        ModelHit(id="meta-llama/Llama-3.1-70B", downloads=9),
        ModelHit(id="x/Llama-3-70B", downloads=5),
        ModelHit(id="meta-llama/Meta-Llama-3-70B", downloads=7),
        ModelHit(id="y/llama-3-70b-ft", downloads=1),
    ]
    # "3" is a whole word: Llama-3.1 is not Llama 3; the repo named exactly so comes first whatever its
    # downloads, then the most downloaded.
    assert rank("llama 3 70b", hits) == ["x/Llama-3-70B", "meta-llama/Meta-Llama-3-70B", "y/llama-3-70b-ft"]


# -- the terminal -----------------------------------------------------------------------------------


def _vram(args: list[str], settings_: Settings) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(args, out=out, err=err, settings=settings_)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def cli_settings(hub: FakeHub, sqlite_url: str) -> Settings:
    return Settings(database_url=sqlite_url, hf_endpoint=hub.url)


def test_terminal_question_starts_with_how_it_was_read(cli_settings: Settings) -> None:
    code, out, err = _vram(["can Qwen/Qwen3-8B run 32k for 4 users on an L4?"], cli_settings)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "read as: Qwen/Qwen3-8B s=32k b=4 gpu=l4"
    # 8.19B parameters in bf16 alone (16.4 GB) leave too little of an L4's 22.0 GiB for 4 x 32k of KV.
    assert lines[1].startswith("no: on one NVIDIA L4 24GB it needs")


def test_terminal_question_json_has_inputs_and_read_as(cli_settings: Settings, hub: FakeHub) -> None:
    code, out, err = _vram(["will qwen3 8b fit on an L4 at 32k for our chatbot?", "--json"], cli_settings)
    assert code == 0, err
    data = json.loads(out)
    assert data["read_as"] == "Qwen/Qwen3-8B s=32k gpu=l4"
    assert data["model"] == "Qwen/Qwen3-8B"
    assert (data["inputs"]["seq_len"], data["inputs"]["batch"], data["inputs"]["gpu"]) == (32768, 1, "l4")
    # KV by hand: 36 layers x (K+V) x 8 heads x 128 x 2 bytes = 147,456 bytes per token, x 32,768 tokens.
    assert data["memory"]["kv_cache"] == 147_456 * 32_768
    assert data["question"]["kind"] == "fit"
    assert data["question"]["unused"] == ["chatbot"]
    assert data["question"]["model_phrase"] == "qwen3 8b"
    assert data["question"]["other_matches"] == ["unsloth/Qwen3-8B-GGUF", "Qwen/Qwen3-8B-AWQ"]


def test_terminal_question_by_name_lists_the_other_matches(cli_settings: Settings) -> None:
    code, out, _ = _vram(["how much context can qwen3 8b take on an H100?"], cli_settings)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "read as: Qwen/Qwen3-8B gpu=h100-80gb"
    assert lines[1] == (
        '"qwen3 8b" read as Qwen/Qwen3-8B (most downloaded match on the Hub); also: '
        "unsloth/Qwen3-8B-GGUF, Qwen/Qwen3-8B-AWQ"
    )
    assert lines[2].startswith("longest context at batch 1 on one NVIDIA H100 80GB HBM3 (SXM5): ")


def test_terminal_question_refused_is_one_sentence_and_exit_2(cli_settings: Settings, hub: FakeHub) -> None:
    code, out, err = _vram(["will it fit on an h100?"], cli_settings)
    assert (code, out) == (2, "")
    assert err.startswith("vram: which model?") and err.count("\n") == 1
    assert hub.log == []  # refused before any Hub request


def test_terminal_question_reads_a_pasted_vllm_command_and_release(cli_settings: Settings) -> None:
    text = "vllm serve Qwen/Qwen3-8B --max-model-len 16384 --kv-cache-dtype fp8 --port 8000 on an L4 with vllm v0.31"
    code, out, err = _vram([text, "--json"], cli_settings)
    assert code == 0, err
    data = json.loads(out)
    assert data["read_as"] == "Qwen/Qwen3-8B s=16k kv=fp8 gpu=l4 engine=vllm vllm=0.31"
    assert (data["inputs"]["seq_len"], data["inputs"]["kv_dtype"], data["inputs"]["vllm"]) == (16384, "fp8", "0.31")
    assert data["question"]["unused"] == ["--port"]
    # The text answer says how it was read and lists the flag it passed over.
    code, out, err = _vram([text], cli_settings)
    assert code == 0, err
    assert out.splitlines()[:2] == [
        "read as: Qwen/Qwen3-8B s=16k kv=fp8 gpu=l4 engine=vllm vllm=0.31",
        "not used: --port",
    ]


def test_terminal_question_naming_replicas_is_answered_with_vllm(cli_settings: Settings) -> None:
    # Replicas are vLLM's alone: the question is sized with vLLM, not refused by its own reading.
    code, out, err = _vram(["Qwen/Qwen3-8B on 8 H100s with data parallel 4 for 64 users", "--json"], cli_settings)
    assert code == 0, err
    data = json.loads(out)
    assert data["read_as"] == "Qwen/Qwen3-8B b=64 gpu=h100-80gb gpus=2 dp=4 engine=vllm"
    assert (data["inputs"]["engine"], data["inputs"]["gpus"], data["inputs"]["dp"]) == ("vllm", 2, 4)


def test_quoted_grammar_stays_grammar(cli_settings: Settings) -> None:
    code, out, _ = _vram(["Qwen/Qwen3-8B s=32k", "--json"], cli_settings)
    assert code == 0
    assert "read_as" not in json.loads(out)


def test_a_search_answer_kept_in_the_store_serves_a_new_process(hub: FakeHub, tmp_path: Path) -> None:
    # Two terminal runs share the history database: the second finds the name without a search.
    from sources import make_search
    from store import Store

    url = f"sqlite:///{tmp_path / 'v.sqlite3'}"
    settings = Settings(database_url=url, hf_endpoint=hub.url)
    for _ in range(2):
        store = Store(url)
        store.upgrade()
        try:
            assert make_search(settings, store_cache=store.hub_cache()).find("qwen3 8b").model_id == "Qwen/Qwen3-8B"
        finally:
            store.close()
    assert _search_requests(hub) >= 1
    first = _search_requests(hub)
    store = Store(url)
    try:
        make_search(settings, store_cache=store.hub_cache()).find("qwen3 8b")
    finally:
        store.close()
    assert _search_requests(hub) == first


def test_a_terminal_option_in_a_chat_question_is_said_as_one() -> None:
    # "--json" is vram's own terminal option, not a vLLM flag: the sentence says so.
    with pytest.raises(
        InputError, match=r"^--json is an option of the terminal's vram command: in chat, ask without it"
    ):
        read_question("can microsoft/phi-4 run 16k on an h100 --json")


def test_a_layout_typed_beside_the_cards_counted_must_take_them() -> None:
    # "on 8 H100s with tp=2 dp=2" is 4 GPUs: said, not answered for 4 unsaid.
    with pytest.raises(InputError, match=r'^"8 H100s" and gpus=2 x dp=2 disagree: that layout is 4 GPUs, not 8'):
        read_question("will Qwen/Qwen3-8B fit on 8 H100s with tp=2 dp=2?")
    assert read_question("will Qwen/Qwen3-8B fit on 8 H100s with tp=2 dp=4?").settings["dp"] == "4"


def test_a_long_run_of_digits_in_a_reply_is_an_input_error() -> None:
    # A pasted 5,000-digit number: the grammar's range sentence, never a ValueError from int().
    with pytest.raises(InputError, match=r"is out of range"):
        read_reply("9" * 5000, Query(model="m"))


def test_replies_that_change_a_setting_in_other_words() -> None:
    # "no, I meant 8 users", "what if we drop to 8k context?": a change, not conversation.
    for text, change in (
        ("no, I meant 8 users", {"b": 8}),
        ("what if we drop to 8k context?", {"s": 8192}),
        ("what if we increase to 16 users", {"b": 16}),
        ("lower the context to 8k", {"s": 8192}),
    ):
        got = read_reply(text, BASE)
        assert got is not None and got[1] == change, text
    # Conversation stays conversation; a reply about on-prem is no model to look up.
    for text in ("I am going home", "we should lower costs", "what about on-prem?", "no idea"):
        assert read_reply(text, BASE, find_model=lambda phrase: pytest.fail(phrase)) is None, text


def test_replies_that_take_a_setting_away_are_conversation() -> None:
    # "drop fp8" or "increase by 8k" name no value to use: read as settings they were the opposite.
    for text in ("drop fp8", "cut fp8 kv", "drop vllm", "drop the H100", "drop 2 users", "increase by 8k"):
        assert read_reply(text, BASE) is None, text
    for text in ("what do you mean, 8 users?", "thanks a million", "it took a couple of minutes"):
        assert read_reply(text, BASE, find_model=lambda phrase: pytest.fail(phrase)) is None, text


def test_long_words_read_in_one_pass() -> None:
    # A 2,000-character word (a hash, an id) beside the model, and 8,000 digits, are read once each.
    with pytest.raises(InputError):
        read_question("can Qwen/Qwen3-8B run on an L4 with " + "a" * 1960 + "-b9")
    assert read_question("can Qwen/Qwen3-8B run on an L4 with " + "a" * 1960 + "-b").unused
    assert spoken_numbers("1" * 8000) == "1" * 8000
