"""compare's title: the settings both sides share, every one asked, so a pasted table says what it sized."""

from __future__ import annotations

import json
from pathlib import Path

from bot.report import compare_title
from estimator.config import load_model_spec
from estimator.estimate import estimate
from estimator.query import Query

SPEC = load_model_spec(
    json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "configs" / "Qwen__Qwen3-8B.json").read_text())
)


def test_the_title_names_every_setting_asked() -> None:
    q = Query(
        seq_len=32_768,
        batch=8,
        gpu="h100-80gb",
        engine="vllm",
        vllm="0.33",
        kv="fp8",
        weight_format="fp8",
        util=0.8,
        max_num_seqs=4,
        enforce_eager=True,
    )
    title = compare_title(estimate(SPEC, q, model_id="m"))
    assert title == "s=32,768 · b=8 · vllm 0.33 · gpu=h100-80gb · dtype=fp8 · kv=fp8 · util=0.8 · seqs=4 · eager=on"
    plain = compare_title(estimate(SPEC, Query(seq_len=32_768), model_id="m"))
    assert plain == "s=32,768 · b=1 · transformers"


def test_sizes_and_yarn_read_as_written() -> None:
    from estimator.grammar import parse_settings, query_with

    q = query_with(Query(seq_len=4096, engine="vllm", gpu="h100-80gb"), parse_settings(["kvmem=20GiB", "yarn=4:32768"]))
    assert compare_title(estimate(SPEC, q, model_id="m")).endswith("· yarn=4:32768 · kvmem=20.00GiB")


def test_s_max_is_each_sides_own_length() -> None:
    from bot.report import pool_labels
    from estimator.grammar import parse_settings, query_with

    q = query_with(Query(engine="vllm", gpu="h100-80gb"), parse_settings(["s=max"]))
    est = estimate(SPEC, q, model_id="m")
    assert compare_title(est).startswith("s=max (each model's longest) · b=1")
    assert pool_labels(est.query)[1] == "Requests of its longest context"
