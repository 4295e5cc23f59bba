"""The steps of docs/extending.md, done for real.

A new serving engine is one module plus one registry line: register a toy one and see it in the
grammar, both help texts and ``--json``. A new GPU is one entry in estimator/data/gpus.json: add
one and size a model on it, both engines.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from bot import cli
from bot.commands import EstimateCmd, parse
from bot.helptext import slack_help, terminal_help
from bot.settings import Settings
from common.errors import InputError
from estimator import engines, gpus
from estimator.dtypes import Dtypes
from estimator.engines import BaseEngine, EngineReport, EngineTerms
from estimator.gpus import GPU
from estimator.notes import note
from estimator.query import Query
from estimator.spec import ModelSpec

CONFIG = str(Path(__file__).resolve().parents[1] / "fixtures" / "configs" / "Qwen__Qwen3-8B.json")
MiB = 1 << 20


class ToyReport(EngineReport):
    """The toy engine's own section: one number."""

    slots: int


class ToyEngine(BaseEngine):
    """A made-up engine: 100 MiB of activations, 300 MiB of overhead, one slot per 1k tokens."""

    name: ClassVar[str] = "toy"
    aliases: ClassVar[tuple[str, ...]] = ("toyish",)
    label: ClassVar[str] = "Toy"
    help: ClassVar[str] = "a toy engine for the tests"
    report_key: ClassVar[str | None] = "toy"
    report_model: ClassVar[type[EngineReport] | None] = ToyReport

    def terms(
        self, spec: ModelSpec, query: Query, gpu: GPU | None, dtypes: Dtypes, *, weights: int, kv_cache: int
    ) -> EngineTerms:
        return EngineTerms(activations=100 * MiB, overhead=300 * MiB, activation_where="toy peak")

    def report(
        self, spec: ModelSpec, query: Query, gpu: GPU | None, dtypes: Dtypes, *, weights: int
    ) -> tuple[EngineReport | None, list[str]]:
        return ToyReport(slots=query.seq_len // 1024), [note("unclassified", "toy engines are not real")]


@pytest.fixture
def toy() -> Iterator[None]:
    engines.register(ToyEngine())
    try:
        yield
    finally:
        engines.unregister("toy")


def _vram_json(*words: str) -> dict[str, object]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run([CONFIG, *words, "--json"], out=out, err=err, settings=Settings(database_url="sqlite://"))
    assert code == 0, err.getvalue()
    return json.loads(out.getvalue())  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def _no_store(monkeypatch: pytest.MonkeyPatch) -> None:
    real = cli.build_service
    monkeypatch.setattr(cli, "build_service", lambda settings, **_: real(settings, with_store=False))


def test_the_grammar_takes_the_new_engine_and_its_alias(toy: None) -> None:
    for text in ("org/model engine=toy", "org/model engine=TOYISH"):
        cmd = parse(text)
        assert isinstance(cmd, EstimateCmd) and cmd.query.engine == "toy"
    with pytest.raises(InputError, match="use one of transformers, vllm, toy"):
        parse("org/model engine=nope")


def test_without_registration_it_is_unknown() -> None:
    with pytest.raises(InputError, match=r"use one of transformers, vllm$"):
        parse("org/model engine=toy")


def test_both_help_texts_list_it(toy: None) -> None:
    for text in (terminal_help(), slack_help()):
        assert "transformers vllm toy" in text
        assert "a toy engine for the tests" in text


def test_json_has_its_section_and_its_terms(toy: None) -> None:
    data = _vram_json("engine=toy", "s=8k")
    inputs = data["inputs"]
    assert isinstance(inputs, dict) and inputs["engine"] == "toy"
    assert data["toy"] == {"slots": 8}
    assert data["vllm"] is None
    memory = data["memory"]
    assert isinstance(memory, dict)
    assert (memory["activations"], memory["overhead"]) == (100 * MiB, 300 * MiB)
    assert {"code": "unclassified", "message": "toy engines are not real"} in data["warnings"]  # type: ignore[operator]
    # The other engines' answers carry the new key too, empty.
    assert _vram_json("engine=vllm", "gpu=h100")["toy"] is None


# What an entry of estimator/data/gpus.json looks like (a made-up card; its source line would go to
# tests/fixtures/gpus_sources.md).
NEW_GPU = {
    "key": "x200-64gb",
    "name": "Example X200 64GB",
    "aliases": ["x200"],
    "vendor": "nvidia",
    "memory_bytes": 64 * 1024**3,
    "basis": "cuda-bytes",
    "source": "made up for the test",
    "arch": "hopper",
    "family": "x200",
    "compute_capability": [9, 0],
    "bf16": True,
    "fp8": True,
}


@pytest.fixture
def x200(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    text = json.dumps([g.model_dump() for g in gpus.catalog()] + [NEW_GPU])
    monkeypatch.setattr(gpus, "catalog", lambda: gpus.parse_catalog(text))
    gpus._index.cache_clear()
    try:
        yield
    finally:
        monkeypatch.undo()
        gpus._index.cache_clear()


def test_a_new_gpu_entry_is_found_and_sized_on(x200: None) -> None:
    assert gpus.lookup_gpu("X200").key == "x200-64gb"
    data = _vram_json("gpu=x200", "s=8k")
    fit = data["fit"]
    assert isinstance(fit, dict)
    assert (fit["gpu"], fit["gpu_memory"]) == ("x200-64gb", 64 * 1024**3)
    vllm = _vram_json("gpu=x200", "s=8k", "engine=vllm")
    report = vllm["vllm"]
    assert isinstance(report, dict)
    # vLLM's cap on the card: the newest release's default util, 1.0 for 0.34's extensible KV cache on
    # a CUDA GPU (config/cache.py@v0.34.0 resolved_gpu_memory_utilization), x 64 GiB.
    assert report["requested_memory"] == 64 * 1024**3
    # Under 70 GiB: vLLM's small-GPU batch defaults (2048 batched tokens, 256 sequences).
    assert "256 sequences" in str(vllm["details"])
