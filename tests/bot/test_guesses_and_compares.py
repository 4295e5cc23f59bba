"""Answers whose total is a guess, comparisons (their settings, vLLM's pool, a guessed side), and how
stored comparisons come back in `show` and `history`; the terminal and the Slack rendering."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot import ask, blocks
from bot.question import read_question
from bot.service import CompareReply, Service, ShowReply
from bot.settings import Settings
from bot.slack_render import render
from sources import make_resolver
from store import Store
from store.records import Conversation
from tests.bot.test_cli import CONFIGS, QWEN3_8B, vram

# A Falcon-H1 config: Mamba-2 mixers, whose prefill activations transformers' terms leave out.
FALCON_H1 = str(Path(__file__).resolve().parents[1] / "fixtures" / "oracle" / "configs" / "falcon_h1.json")
GEMMA2 = str(CONFIGS / "google__gemma-2-9b-it.json")
MAMBA2_NOT_MODELLED = "prefill activations of the Mamba-2 layers are not modelled"


def _lines(out: str) -> list[str]:
    return [" ".join(line.split()) for line in out.splitlines()]


# -- a guess answers a question without a verdict ---------------------------------------------------
def test_question_about_a_guess_says_why_there_is_no_verdict(settings: Settings) -> None:
    code, out, _ = vram([f"how many users can {FALCON_H1} serve at 16k on an H100?"], settings)
    assert code == 0  # an answer was given; it says itself that it is no verdict
    answer = out.splitlines()[1]
    assert answer.startswith("no verdict: the total (") and MAMBA2_NOT_MODELLED in answer
    assert "name a GPU" not in out and "it needs" not in out


def test_guess_exits_0_with_fit_null_and_the_refusal_in_json(settings: Settings) -> None:
    code, out, _ = vram([FALCON_H1, "s=16k", "gpu=h100", "--json"], settings)
    data = json.loads(out)
    assert code == 0
    assert data["fit"] is None and data["refusal"]["code"] == "activations_unmodelled"
    assert MAMBA2_NOT_MODELLED in data["refusal"]["message"]


def test_slack_question_lead_about_a_guess(settings: Settings) -> None:
    service = Service(store=None, resolver=make_resolver(settings))
    question = read_question(f"will {FALCON_H1} fit 16k on an H100?")
    est = service.preview(question.command(None).query)
    lead = ask.headline(est, question)
    assert lead.startswith("no verdict: the total (") and MAMBA2_NOT_MODELLED in lead


# -- compare ----------------------------------------------------------------------------------------
def test_compare_with_a_guess_keeps_the_other_sides_fit_and_says_why(settings: Settings) -> None:
    code, out, _ = vram(["compare", FALCON_H1, QWEN3_8B, "s=16k", "b=2", "gpu=h100"], settings)
    assert code == 0
    lines = _lines(out)
    assert lines[0] == "s=16,384 · b=2 · transformers · gpu=h100-80gb"
    [fits] = [line for line in lines if line.startswith("Fits ")]
    assert fits.endswith("no verdict (a guess) yes")
    [why] = [line for line in lines if line.startswith("! falcon_h1: no verdict")]
    assert MAMBA2_NOT_MODELLED in why


def test_compare_on_vllm_shows_the_pool_and_sliding_layers_kv(settings: Settings) -> None:
    code, out, _ = vram(["compare", GEMMA2, QWEN3_8B, "s=8k", "b=2", "engine=vllm", "gpu=h100"], settings)
    assert code == 0
    lines = _lines(out)
    assert lines[0] == "s=8,192 · b=2 · vllm 0.34 · gpu=h100-80gb"
    # gemma-2-9b: 42 layers, every other one sliding; 8 KV heads x head_dim 256 x (K and V) x 2 bytes
    # = 8,192 B per layer and token; 21 layers = 172,032 B = 168 KiB, for each kind.
    # Qwen3-8B: 36 layers x 8 KV heads x 128 x 2 x 2 B = 147,456 B = 144 KiB.
    assert "KV per token 168 KiB + 168 KiB sliding 144 KiB" in lines
    # The requests held are the ones the single answer's vLLM line gives.
    for i, model in enumerate((GEMMA2, QWEN3_8B)):
        single = json.loads(vram([model, "s=8k", "b=2", "engine=vllm", "gpu=h100", "--json"], settings)[1])
        [held] = [line for line in lines if line.startswith("Requests of 8,192 tokens ")]
        assert held.split()[4 + i] == f"{single['vllm']['max_resident']:.2f}"
        [pool] = [line for line in lines if line.startswith("vLLM KV pool GiB ")]
        assert pool.split()[4 + i] == f"{single['vllm']['kv_cache_memory'] / 1024**3:.2f}"


def test_slack_compare_message_names_the_settings_the_pool_and_a_guess(settings: Settings) -> None:
    service = Service(store=None, resolver=make_resolver(settings))
    reply = service.run(f"compare {FALCON_H1} {GEMMA2} s=8k b=2 engine=vllm gpu=h100", Conversation(platform="cli"))
    assert isinstance(reply, CompareReply) and reply.a.estimate and reply.b.estimate
    text = json.dumps(blocks.compare_message(reply.a.estimate, reply.b.estimate).kwargs()["blocks"], ensure_ascii=False)
    assert "s=8,192 · b=2 · vllm 0.34 · gpu=h100-80gb" in text
    assert "KV 168 KiB + 168 KiB sliding per token" in text and "vLLM KV pool " in text
    reply = service.run(f"compare {FALCON_H1} {QWEN3_8B} s=16k gpu=h100", Conversation(platform="cli"))
    assert isinstance(reply, CompareReply) and reply.a.estimate and reply.b.estimate
    fields = blocks.compare_message(reply.a.estimate, reply.b.estimate).kwargs()["blocks"][1]["fields"]
    assert "No verdict, the total is a guess" in fields[0]["text"] and MAMBA2_NOT_MODELLED in fields[0]["text"]
    assert "Fits one NVIDIA H100" in fields[1]["text"]


def test_a_side_that_does_not_fit_gets_the_verdicts_ways_to_fit(settings: Settings) -> None:
    # Qwen3-32B in bf16 on one L4 (transformers): 65.5 GiB, "it fits on 4 of them (gpus=4)"; Qwen3-8B
    # fits. The terminal's table and Slack's field say the way the single answer gives.
    qwen32 = str(CONFIGS / "Qwen__Qwen3-32B.json")
    code, out, _ = vram(["compare", QWEN3_8B, qwen32, "s=8k", "gpu=l4"], settings)
    assert code == 0
    lines = _lines(out)
    assert "Fits NVIDIA L4 24GB yes no" in lines and "To fit, use gpus=4" in lines
    single = vram([qwen32, "s=8k", "gpu=l4"], settings)[1].splitlines()[1]
    assert single.endswith("(gpus=4)")
    service = Service(store=None, resolver=make_resolver(settings))
    reply = service.run(f"compare {QWEN3_8B} {qwen32} s=8k gpu=l4", Conversation(platform="cli"))
    assert isinstance(reply, CompareReply) and reply.a.estimate and reply.b.estimate
    fields = blocks.compare_message(reply.a.estimate, reply.b.estimate).kwargs()["blocks"][1]["fields"]
    assert "To fit" not in fields[0]["text"] and fields[1]["text"].endswith("To fit, use gpus=4")


@pytest.mark.parametrize(
    ("settings_words", "cells"),
    [
        # 64 GPUs for phi-4's 40 layers (transformers) is refused; one GPU holds it: the fewest layout.
        ("s=8k gpu=l4 gpus=64", ("gpus=1", "gpus=2")),
        # util=0.995 is past what vLLM finds free at its start: the util that starts, or one GPU at
        # the util that starts there, as the verdict says ("at util=0.99 gpus=1 is enough").
        (
            "s=8k b=1 engine=vllm vllm=0.33 gpu=h100 util=0.995 gpus=2",
            ("util=0.98, or gpus=1 util=0.99", "util=0.98, or gpus=1 util=0.99"),
        ),
        # phi-4 past its 16,384 positions: the refusal's own ways ("; or use ..."), each with the GPUs
        # that hold it (YaRN leaves the bytes: 64 requests of 32k take 4 replicas); Qwen3-8B's pool holds
        # 27 of the 64 requests.
        (
            "s=32k b=64 engine=vllm gpu=h100 gpus=2",
            ("b=27, or gpus=2 dp=3", "s=max with gpus=2 dp=2, or yarn=2 with gpus=2 dp=4"),
        ),
    ],
)
def test_a_comparisons_ways_to_fit_are_settings_alone(
    settings: Settings, settings_words: str, cells: tuple[str, str]
) -> None:
    phi4 = str(CONFIGS / "microsoft__phi-4.json")
    code, out, _ = vram(["compare", QWEN3_8B, phi4, *settings_words.split()], settings)
    assert code == 0
    [row] = [line for line in _lines(out) if line.startswith("To fit, use ")]
    assert row == f"To fit, use {cells[0]} {cells[1]}", row


# -- stored comparisons -----------------------------------------------------------------------------
def test_show_and_history_keep_both_sides_of_a_comparison(settings: Settings) -> None:
    assert vram(["compare", GEMMA2, QWEN3_8B, "s=4k"], settings)[0] == 0  # #1 and #2
    assert vram([QWEN3_8B, "s=2k"], settings)[0] == 0  # #3
    for side in ("1", "2"):
        code, out, _ = vram(["show", side], settings)
        assert code == 0
        lines = _lines(out)
        assert lines[0].startswith("#1 and #2 · ") and lines[1] == "s=4,096 · b=1 · transformers"
        assert lines[2].split() == ["google/gemma-2-9b-it", "Qwen__Qwen3-8B"]
    shown = json.loads(vram(["show", "2", "--json"], settings)[1])
    assert [side["id"] for side in shown] == [1, 2]
    # history: one row with both sides; the model filter finds it by either side.
    for args in (["history"], ["history", "gemma"]):
        rows = [line for line in _lines(vram(args, settings)[1]) if line.startswith("1 | 2 ")]
        assert len(rows) == 1 and re.search(r"google/gemma-2-9b-it \| Qwen__Qwen3-8B \d+\.\d \| \d+\.\d ", rows[0])
    listed = json.loads(vram(["history", "--json"], settings)[1])
    assert [(r["id"], r["compared_with"]) for r in listed] == [(3, None), (2, 1), (1, 2)]


def test_history_limit_counts_listed_rows_and_show_mistakes_are_not_kept(settings: Settings) -> None:
    assert vram([QWEN3_8B, "s=1k"], settings)[0] == 0  # #1
    assert vram([QWEN3_8B, "s=2k"], settings)[0] == 0  # #2
    for bad in ("s=abc", "b=zero", "s=-5"):  # #3..#5: input mistakes of an estimate, kept
        assert vram([QWEN3_8B, bad], settings)[0] == 2
    assert vram(["show", "abc"], settings)[0] == 2  # not kept: it sizes nothing
    code, out, _ = vram(["history", "--limit", "2"], settings)
    assert code == 0
    lines = _lines(out)
    assert [line.split()[0] for line in lines[1:3]] == ["2", "1"]
    assert lines[3].startswith("3 input mistakes not listed (#5, #4, #3)")
    records = json.loads(vram(["history", "--json"], settings)[1])
    assert [r["id"] for r in records] == [5, 4, 3, 2, 1]
    # --json's limit counts records.
    assert len(json.loads(vram(["history", "--json", "--limit", "2"], settings)[1])) == 2


def test_slack_show_and_history_of_a_comparison(settings: Settings) -> None:
    assert settings.database_url is not None
    store = Store(settings.database_url)
    store.ensure_schema()
    service = Service(store=store, resolver=make_resolver(settings))
    who = Conversation(platform="slack", workspace="T1", channel="C1", user="U1")
    service.run(f"compare {GEMMA2} {QWEN3_8B} s=4k", who)
    reply = service.show(2, who)
    assert isinstance(reply, ShowReply) and reply.sides is not None
    text = render(reply).message.kwargs()["text"]
    assert "Compare" in text and "gemma-2-9b-it" in text and "Qwen3-8B" in text
    assert "Stored as #1 and #2" in text
    history = render(service.run("history mine", who)).message.kwargs()["text"]
    assert history.count("`#1` `#2`") == 1 and "`#2` `#1`" not in history


def test_a_compare_over_replicas_or_stages_says_whose_figures_rows_are(settings: Settings) -> None:
    # dp=2: each replica's pool holds its own requests; the replicas together hold twice as many.
    code, out, _ = vram(["compare", GEMMA2, QWEN3_8B, "s=8k", "b=4", "engine=vllm", "gpu=h100", "dp=2"], settings)
    assert code == 0
    lines = _lines(out)
    assert lines[0] == "s=8,192 · b=4 · vllm 0.34 · gpu=h100-80gb · dp=2"
    [each] = [line for line in lines if line.startswith("Requests of 8,192 tokens (each of 2 replicas) ")]
    [total] = [line for line in lines if line.startswith("Requests in all (2 replicas) ")]
    for i in range(2):
        per, both = float(each.split()[-2 + i]), float(total.split()[-2 + i])
        assert abs(both - 2 * per) <= 0.01
    assert any(line.startswith("Fits each of 2 NVIDIA H100 80GB HBM3 (SXM5), 2 replicas of tp=1 ") for line in lines)
    # pp=2: the pool is the busiest stage's; both stages' GPUs are counted.
    code, out, _ = vram(["compare", QWEN3_8B, QWEN3_8B, "s=8k", "engine=vllm", "gpu=h100", "pp=2"], settings)
    lines = _lines(out)
    assert lines[0].endswith(" · pp=2")
    assert any(line.startswith("vLLM KV pool GiB (busiest stage) ") for line in lines)
    assert any(line.startswith("Fits each of 2 NVIDIA H100 80GB HBM3 (SXM5), tp=1 x pp=2 ") for line in lines)


def test_the_engines_ways_to_fit_are_data_the_verdict_and_compare_share(settings: Settings) -> None:
    # Qwen3-8B at 32k x 64 on two H100s (vLLM): the verdict's "; use ..." is the engine's ways joined,
    # each as its text; compare's cell is their settings alone.
    from bot import report
    from estimator.engines import get_engine

    service = Service(store=None, resolver=make_resolver(settings))
    reply = service.run(f"{QWEN3_8B} s=32k b=64 engine=vllm gpu=h100 gpus=2", Conversation(platform="cli"))
    est = reply.outcome.estimate  # type: ignore[union-attr]
    assert est is not None and est.fit is not None and not est.fit.fits
    ways = get_engine("vllm").fit_fixes(est)
    assert ways and [w.settings for w in ways] == ["b=27", "gpus=2 dp=3"]
    assert report.verdict(est).endswith("; use " + ", or ".join(w.text() for w in ways))
    assert report.fit_fixes(est) == "b=27, or gpus=2 dp=3"
    # transformers has no verdict of its own: the memory verdict's fewest layout is the way.
    assert get_engine("transformers").fit_fixes(est) is None
