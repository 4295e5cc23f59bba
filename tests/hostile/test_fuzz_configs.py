"""Fuzzing mutated configs through config reading and ``estimate()``.

Every mutated config either sizes to an answer whose figures are finite, non-negative and sane, or
is refused with a :class:`~common.errors.VramError`; no other exception may escape.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from common.errors import VramError
from estimator.config import load_model_spec
from estimator.estimate import estimate
from estimator.query import Query
from tests.hostile.fuzzing import SEEDS, bad_figures, mutated_configs

QUERIES = (
    Query(),
    Query(engine="vllm", gpu="h100"),
    Query(gpu="h100", gpus=2, seq_len=32768, batch=4),
    Query(engine="vllm", gpu="h100", gpus=2, seq_len=131072, batch=64),
)


def fuzz(examples: int) -> settings:
    """Bounded, reproducible runs (CI sees the same examples every time), no per-example deadline."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def _check(config: dict[str, Any]) -> None:
    try:
        spec = load_model_spec(config)
    except VramError:
        return
    for query in QUERIES:
        try:
            answer = estimate(spec, query, model_id="fuzzed")
        except VramError:
            continue
        assert bad_figures(answer.to_json()) == [], query


@pytest.mark.slow
def test_every_seed_config_sizes_cleanly() -> None:
    # The seeds themselves are real configs: the checks above must hold for them unmutated.
    assert len(SEEDS) > 200
    for seed in SEEDS:
        _check(seed)


def test_a_spread_of_seed_configs_sizes_cleanly() -> None:
    # The fast subset's share of the scan above: every 30th seed (a dozen families).
    for seed in SEEDS[::30]:
        _check(seed)


@pytest.mark.slow
@fuzz(200)
@given(mutated_configs())
def test_mutated_configs_end_in_an_answer_or_a_sentence(config: dict[str, Any]) -> None:
    _check(config)


@fuzz(10)
@given(mutated_configs())
def test_mutated_configs_end_in_an_answer_or_a_sentence_smoke(config: dict[str, Any]) -> None:
    _check(config)


@pytest.mark.slow
@fuzz(3000)
@given(mutated_configs())
def test_mutated_configs_end_in_an_answer_or_a_sentence_at_length(config: dict[str, Any]) -> None:
    _check(config)
