"""The grammar's settings applied to a stored query (a thread's what-ifs)."""

from __future__ import annotations

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
