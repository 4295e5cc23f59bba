"""Every fixture config's answer, ``--json`` and the terminal table, against a recorded golden copy.

The golden file was written by this module (``python tests/bot/test_golden_answers.py --write``)
before the estimator was re-laid, so any change a refactor makes to what a user sees shows up
here. Only the checkout path of the fixtures is masked; every number is compared as recorded.
Regenerate it only for a deliberate change of answer, and say which entries changed and why.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from bot import cli
from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "tests" / "fixtures" / "configs"
GOLDEN = ROOT / "tests" / "fixtures" / "golden" / "answers.json"
MASK = "<configs>"

# A representative set: defaults, a long batch on a GPU, vLLM on one and on two GPUs of another
# kind, the KV and weight dtype knobs, the fp32 spellings, a GPU without bf16, data-centre
# Blackwell, vLLM without a GPU, and the classic formulas.
QUERIES: tuple[str, ...] = (
    "",
    "s=32k b=4 gpu=h100",
    "engine=vllm gpu=h100",
    "engine=vllm gpus=2 gpu=a100",
    "kv=fp8",
    "dtype=int4",
    "s=8k engine=vllm gpu=h100 p=32",
    "s=8k engine=vllm gpu=h100 dtype=fp32",
    "gpu=t4 s=2k",
    "engine=vllm gpu=b200 s=16k",
    "engine=vllm",
    "method=classic gpu=l4",
)


def _configs() -> list[str]:
    return sorted(p.name for p in CONFIGS.glob("*.json"))


def _run(words: list[str]) -> dict[str, Any]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.run(words, out=out, err=err, settings=Settings(database_url="sqlite://"))
    return {
        "code": code,
        "out": out.getvalue().replace(str(CONFIGS), MASK),
        "err": err.getvalue().replace(str(CONFIGS), MASK),
    }


def answer(config: str, query: str) -> dict[str, Any]:
    """The ``--json`` object (or the error) and the terminal text for one config and query."""
    words = [str(CONFIGS / config), *query.split()]
    as_json = _run([*words, "--json"])
    text = _run(words)
    parsed = json.loads(as_json["out"]) if as_json["code"] == 0 and as_json["out"] else None
    return {
        "code": as_json["code"],
        "json": parsed,
        "err": as_json["err"],
        "text": text["out"].splitlines(),
        "text_err": text["err"],
    }


@pytest.fixture(autouse=True)
def _no_store(monkeypatch: pytest.MonkeyPatch) -> None:
    # History is not part of an answer: without a store nothing is kept and no record id is printed.
    real = cli.build_service
    monkeypatch.setattr(cli, "build_service", lambda settings, **_: real(settings, with_store=False))


@pytest.fixture(scope="module")
def golden() -> dict[str, dict[str, Any]]:
    return json.loads(GOLDEN.read_text())


def test_the_golden_file_covers_every_fixture_and_query(golden: dict[str, dict[str, Any]]) -> None:
    assert sorted(golden) == _configs()
    for config, answers in golden.items():
        assert sorted(answers) == sorted(QUERIES), config


# Always run (dense, sliding 5:1, MXFP4 MoE, MLA); the other configs are marked slow (about 15 s
# for all of them) and run in the whole suite.
FAST = (
    "Qwen__Qwen3-8B.json",
    "google__gemma-3-1b-it.json",
    "openai__gpt-oss-20b.json",
    "deepseek-ai__DeepSeek-V2-Lite-Chat.json",
)


@pytest.mark.parametrize("config", [c if c in FAST else pytest.param(c, marks=pytest.mark.slow) for c in _configs()])
def test_answers_match_the_golden_copy(config: str, golden: dict[str, dict[str, Any]]) -> None:
    for query in QUERIES:
        assert answer(config, query) == golden[config][query], f"{config} {query!r}"


def test_p32_and_dtype_fp32_give_the_same_answer_with_vllm() -> None:
    # p=32 names fp32 weights; vLLM then runs in fp32 (--dtype float32): activations, logits and the
    # KV pool are sized in 4-byte elements whichever way the user spells it.
    p32 = answer("Qwen__Qwen3-8B.json", "s=8k engine=vllm gpu=h100 p=32")
    fp32 = answer("Qwen__Qwen3-8B.json", "s=8k engine=vllm gpu=h100 dtype=fp32")
    assert p32["code"] == 0 and p32["json"]["vllm"] is not None
    assert p32["json"] == fp32["json"]
    assert p32["json"]["details"]["kv_dtype"] == "fp32"


def main() -> None:
    """``--write``: record every answer anew. ``--write-text``: record only the terminal text, and
    refuse if any ``--json`` answer, exit status or error changed (for a change of layout alone)."""
    mode = sys.argv[1:]
    if mode not in (["--write"], ["--write-text"]):
        raise SystemExit("usage: python tests/bot/test_golden_answers.py --write | --write-text")
    real = cli.build_service
    cli.build_service = lambda settings, **_: real(settings, with_store=False)  # type: ignore[assignment]
    data = {config: {query: answer(config, query) for query in QUERIES} for config in _configs()}
    if mode == ["--write-text"]:
        old = json.loads(GOLDEN.read_text())
        moved = [
            f"{config} {query!r}"
            for config, answers in data.items()
            for query, new in answers.items()
            if {k: new[k] for k in ("code", "json", "err")}
            != {k: old.get(config, {}).get(query, {}).get(k) for k in ("code", "json", "err")}
        ]
        if moved:
            raise SystemExit("answers changed, not only the text:\n" + "\n".join(moved))
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
