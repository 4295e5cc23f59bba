"""The grammar's settings applied to a stored query (a thread's what-ifs), and what its refusals say."""

from __future__ import annotations

import pytest

from common.errors import InputError
from estimator.grammar import parse_settings, query_with
from estimator.query import Query


def test_a_weight_key_given_alone_replaces_the_other_ones_earlier_value() -> None:
    # A thread that said "4-bit" (p=4) and then "in fp8": the weights are fp8, not a contradiction of
    # a p= the reply did not give. Given together, the two are still checked against each other.
    four = Query(model="m", bits=4)
    fp8 = query_with(four, parse_settings(["dtype=fp8"]))
    assert (fp8.weight_format, fp8.bits) == ("fp8", None)
    awq = Query(model="m", weight_format="awq")
    eight = query_with(awq, parse_settings(["p=8"]))
    assert (eight.weight_format, eight.bits) == (None, 8)
    both = query_with(Query(model="m"), parse_settings(["dtype=gptq", "p=4"]))
    assert (both.weight_format, both.bits) == ("gptq", 4)


def test_a_hub_address_is_read_as_its_model_id() -> None:
    # As a question reads it: the id, and the branch or commit the address names ("main" is the default).
    from estimator.grammar import parse_model

    assert parse_model("https://huggingface.co/Qwen/Qwen3-8B") == ("Qwen/Qwen3-8B", None)
    assert parse_model("https://huggingface.co/Qwen/Qwen3-8B/tree/main") == ("Qwen/Qwen3-8B", None)
    assert parse_model("https://hf.co/Qwen/Qwen3-8B/blob/abc1234/config.json") == ("Qwen/Qwen3-8B", "abc1234")
    assert parse_model("<https://huggingface.co/Qwen/Qwen3-8B>") == ("Qwen/Qwen3-8B", None)


def refusal(word: str) -> str:
    with pytest.raises(InputError) as caught:
        parse_settings([word])
    return str(caught.value)


@pytest.mark.parametrize(
    ("word", "said"),
    [
        ("util=90%", "util=90% is a percentage: util takes a fraction of the GPU's memory, e.g. util=0.9"),
        ("util=85.5%", "util=85.5% is a percentage: util takes a fraction of the GPU's memory, e.g. util=0.855"),
        ("util=abc", "util=abc is not a number: util takes a fraction of the GPU's memory, e.g. util=0.9"),
        (
            "util=95",
            "util=95 is out of range: it must be greater than 0 and at most 1 "
            "(util takes a fraction of the GPU's memory, e.g. util=0.95)",
        ),
        (
            "util=1.5",
            "util=1.5 is out of range: it must be greater than 0 and at most 1 "
            "(util takes a fraction of the GPU's memory, e.g. util=0.9)",
        ),
    ],
)
def test_util_says_it_takes_a_fraction(word: str, said: str) -> None:
    # "util=90% is not a number" left the reader to guess that util is a share of 1.
    assert refusal(word) == said


@pytest.mark.parametrize(
    ("word", "said"),
    [
        (
            "kvmem=20",
            "kvmem=20 is under the least of 1 MiB, as a bare number is bytes: "
            "for 20 GiB write kvmem=20GiB, or kvmem=20g for 20 x 10^9 bytes",
        ),
        (
            "kvmem=5000",
            "kvmem=5000 is under the least of 1 MiB, as a bare number is bytes: write a unit, e.g. kvmem=20GiB",
        ),
    ],
)
def test_a_bare_kvmem_says_it_is_bytes(word: str, said: str) -> None:
    # "kvmem=20 is out of range: between 1 MiB and 1,024 GiB" did not say that 20 is read as bytes.
    assert refusal(word) == said
    assert parse_settings(["kvmem=20GiB"])["kvmem"] == 20 * 2**30  # the spelling suggested is taken


@pytest.mark.parametrize(
    ("word", "example"),
    [
        ("b=1.5", "(b=8)"),
        ("mnbt=abc", "(mnbt=8192)"),
        ("seqs=abc", "(seqs=256)"),
        ("gpus=x", "(gpus=2)"),
        ("mtp=x", "(mtp=2)"),
        ("spec=x", "(spec=3)"),
        ("yarn=4:abc", "(yarn=4:32768)"),
    ],
)
def test_a_refused_count_shows_a_typical_value(word: str, example: str) -> None:
    # The least value (mnbt=1, b=1) was shown as the example: a setting nobody would type.
    said = refusal(word)
    assert "is not a whole number" in said and said.endswith(example), said
    key, _, value = example.strip("()").partition("=")
    parse_settings([f"{key}={value}"])  # the example is itself valid


def test_a_relative_path_with_folders_or_a_gguf_file_is_a_path() -> None:
    from estimator.grammar import parse_model

    # A Hub id has one slash: more, or a .gguf file, is a path the source reads (and says what it finds).
    assert parse_model("tests/fixtures/configs") == ("tests/fixtures/configs", None)
    assert parse_model("models/x.gguf") == ("models/x.gguf", None)
    assert parse_model("org/name@refs/pr/1") == ("org/name", "refs/pr/1")
    assert parse_model("Qwen/Qwen3-8B") == ("Qwen/Qwen3-8B", None)


def test_a_bad_yarn_names_the_whole_value() -> None:
    with pytest.raises(InputError, match=r"^yarn=4:40960x is not a whole number"):
        parse_settings(["yarn=4:40960x"])
    with pytest.raises(InputError, match=r"^yarn=4x:40960 is not a number"):
        parse_settings(["yarn=4x:40960"])


def test_a_hub_address_without_its_scheme_is_its_model_id() -> None:
    from estimator.grammar import parse_model

    assert parse_model("huggingface.co/Qwen/Qwen3-8B") == ("Qwen/Qwen3-8B", None)
    # An address elsewhere is no path, and no model id either.
    with pytest.raises(InputError, match="is not a Hub model id"):
        parse_model("example.com/a/b")


def test_batch_size_spellings_are_b() -> None:
    # "bs=4", "batch_size=4", "users=4": the batch as people type it (they were "did you mean s/seqs?").
    for word in ("bs=4", "batch_size=4", "users=4", "BS=4"):
        assert parse_settings([word]) == {"b": 4}, word
