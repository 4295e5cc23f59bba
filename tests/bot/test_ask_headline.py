"""The first line of a plain-words answer (all Slack shows of it) says what the question asked,
with the caveats that change what it means."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.ask import headline
from bot.question import read_question
from estimator.config import load_model_spec
from estimator.estimate import estimate

QWEN3_8B = Path(__file__).resolve().parents[1] / "fixtures" / "configs" / "Qwen__Qwen3-8B.json"
SPEC = load_model_spec(json.loads(QWEN3_8B.read_text()))  # max_position_embeddings 40,960


def _headline(text: str) -> str:
    question = read_question(text.format(model=QWEN3_8B))
    return headline(estimate(SPEC, question.command(None).query, model_id="m"), question)


def test_a_longest_context_past_the_window_says_it_is_memory_only() -> None:
    line = _headline("how much context can {model} take on an H100?")
    assert line.startswith("longest context at batch 1 on one NVIDIA H100 80GB HBM3 (SXM5): ")
    assert line.endswith("tokens of memory; the model's context window is 40,960")


def test_a_fit_past_the_window_is_no_and_says_the_memory_alone_would_fit() -> None:
    # 128k = 131,072 tokens against the config's 40,960 positions: the model cannot take it, so no "yes".
    line = _headline("{model} with 128k context on an h100")
    assert line.startswith(
        "no: 131,072 tokens is past the model's 40,960-token context window; "
        "the memory alone would fit on one NVIDIA H100 80GB HBM3 (SXM5), with "
    ), line
    assert line.endswith(" free")
    within = _headline("{model} with 32k context on an h100")
    assert within.startswith("yes: it fits on one NVIDIA H100 80GB HBM3 (SXM5), with ") and "window" not in within


def test_a_count_asked_of_a_refused_layout_is_no_count() -> None:
    line = _headline("how many H100s do I need for {model} at 128k for 64 users with vllm?")
    assert line.startswith("no number of NVIDIA H100 80GB HBM3 (SXM5) serves it: vLLM will not start: ")


def test_one_gpu_is_not_per_gpu() -> None:
    # One L4: the shortfall is the card's, not "per GPU"; on two, each card's.
    one = _headline("can {model} run 32k for 4 users on an L4?")
    assert one.startswith("no: on one NVIDIA L4 24GB it needs ") and "per GPU" not in one, one
    assert "GiB more; " in one
    fits = _headline("{model} with 8k context on an h100")
    assert fits.startswith("yes: it fits on one NVIDIA H100 80GB HBM3 (SXM5), with ") and fits.endswith(" free")
    two = _headline("can {model} run 32k for 16 users on 2 L4s?")
    assert "more per GPU" in two, two


def test_the_largest_batch_says_which_limit_it_meets() -> None:
    # Qwen3-8B at 8k on an L4 with vLLM: the pool holds a handful of requests, far below the L4's default
    # max_num_seqs of 256, so the pool is the limit (worded so the 256 does not read as the cap).
    line = _headline("how many users can {model} serve at 8k on an L4 with vllm?")
    assert line.startswith("most sequences at once at 8,192 tokens on one NVIDIA L4 24GB: ")
    assert line.endswith(" (the KV pool is the limit, below vLLM's default max_num_seqs of 256)"), line


def test_without_a_gpu_the_need_is_per_gpu_only_over_several() -> None:
    # No GPU named: one copy's total, "per GPU" only where the layout spreads it over several.
    line = _headline("how much memory does {model} need at 8k?")
    assert (
        line.startswith("it needs ")
        and "per GPU" not in line
        and line.endswith("name a GPU for a verdict (for example: ... on an H100)")
    )
    assert "GiB per GPU; name a GPU" in _headline("how much memory does {model} need at 8k on 2 GPUs?")


def test_how_about_in_a_thread_is_a_change_not_a_new_question() -> None:
    from bot.slack_app import is_new_question

    assert not is_new_question("how about Qwen/Qwen3-32B?")
    assert is_new_question("how many users can Qwen/Qwen3-8B serve at 32k on an L4?")


def test_every_count_past_the_window_says_it_is_memory_only() -> None:
    # Qwen3-8B's window is 40,960: at 128k no count is one the model can use, and each line says so.
    memory_only = "(memory only: 131,072 tokens is past the model's 40,960-token context window)"
    assert _headline("how many users can {model} serve at 128k on an H200?").endswith(memory_only)
    assert _headline("how many H100s do I need for {model} at 128k?").endswith(memory_only)
    line = _headline("can {model} fit 128k on an L4?")
    assert line.startswith("no: 131,072 tokens is past the model's 40,960-token context window, and on one NVIDIA L4")
    assert "memory only" not in _headline("how many users can {model} serve at 32k on an H200?")


def _cards(text: str) -> tuple[str, list[tuple[int, list[str]]]]:
    """The headline and gpu=any's groups: (GPUs in all, the card keys that take that many)."""
    from bot import report

    question = read_question(text.format(model=QWEN3_8B))
    est = estimate(SPEC, question.command(None).query, model_id="m")
    groups = [(n, [c.gpu for c in cards]) for n, cards in report.card_groups(est)]
    return headline(est, question), groups


def test_which_gpu_names_the_smallest_card_that_holds_it_alone() -> None:
    line, groups = _cards("what GPU do I need for {model}?")
    # Qwen3-8B in bf16 at 4,096 tokens needs 17.1 GiB: the 16 GB cards (15.5-15.8 GiB as CUDA reports
    # them) do not hold it alone, the 24 GB ones (21.98-23.6 GiB) do, the A10G (AWS g5) with the least.
    assert groups[0][0] == 1 and groups[0][1][0] == "a10g"
    assert "t4" not in groups[0][1] and "rtx-4080" not in groups[0][1]
    assert line.startswith("one NVIDIA A10G 24GB (AWS g5) holds it, the card with the least memory that does (")
    # Smaller cards take more of them: the line offers the next step down.
    assert "; on smaller cards, 2 × NVIDIA GeForce RTX 3060 12GB" in line


def test_how_many_gpus_without_a_card_lists_every_card() -> None:
    line, groups = _cards("how many GPUs do I need for {model} at 32k for 8 users?")
    counts = [n for n, _ in groups]
    assert counts == sorted(counts) and counts[0] >= 1
    # Every card that holds it is listed once.
    listed = [key for _, keys in groups for key in keys]
    assert len(listed) == len(set(listed))
    assert line.startswith("one ") or line.startswith("no one card holds it")


@pytest.mark.slow
def test_which_gpu_on_a_count_of_cards_says_which_hold_it_so() -> None:
    line, _ = _cards("which GPUs can run {model} at 32k for 16 users on 4 GPUs?")
    assert line.startswith("4 × ") and " hold it on 4 GPUs" in line, line


def test_a_question_for_cards_in_a_thread() -> None:
    from bot.question import thread_question
    from bot.slack_app import is_new_question
    from estimator.query import Query

    # Naming a model, it is a question of its own; naming none, it is about the thread's model.
    assert is_new_question("what GPU do I need for Qwen/Qwen3-32B?")
    assert is_new_question("which cards can run qwen3 32b at 64k?")
    assert not is_new_question("what about qwen3 32b?") and not is_new_question("what GPU do I need?")
    on_h100 = Query(model="Qwen/Qwen3-8B", gpu="h100-80gb", seq_len=16_384, engine="vllm")
    on_any = Query(model="Qwen/Qwen3-8B", gpu_any=True, seq_len=16_384)

    def read(text: str, base: Query) -> tuple[str | None, bool, dict[str, object]]:
        got = thread_question(text, base)
        assert got is not None, text
        return got[0].gpu, got[0].gpu_any, got[1]

    # How many, under an answer on a card: that card's, whatever other key=value the question has.
    assert read("how many GPUs does it need at s=64k?", on_h100) == ("h100-80gb", False, {"s": 65_536})
    assert read("how many GPUs does it need at b=64?", on_h100) == ("h100-80gb", False, {"b": 64})
    assert read("how many GPUs do I need?", on_h100) == ("h100-80gb", False, {})
    # gpu=any typed, or which card asked: every card.
    assert read("how many GPUs does it need with gpu=any?", on_h100) == (None, True, {"gpu": "any"})
    assert read("what GPU do I need?", on_h100) == (None, True, {"gpu": "any"})
    assert read("which gpu should I use instead?", on_any) == (None, True, {})
    # A card counted: that card.
    assert read("how many L4s do I need?", on_any) == ("l4", False, {"gpu": "l4"})
    # Chat about cards asks nothing of the model: left alone.
    for chat in ("which GPU did you pick?", "what do you need from me?", "how many GPUs do we have in the cluster?"):
        assert thread_question(chat, on_h100) is None, chat


def test_a_kv_cache_question_is_answered_with_the_kv_row() -> None:
    # Qwen3-8B: 36 layers x 8 KV heads x 128 x (K, V) x 2 B = 147,456 B = 144 KiB a token; at 32,768
    # tokens that is 4.5 GiB, with or without a card named.
    for text in ("how big is the kv cache for {model} at 32k?", "what's the KV cache size of {model} at 32k on an L4"):
        line = _headline(text)
        assert line == "the KV cache takes 4.5 GiB: 144 KiB per token x 32,768 tokens x 1 sequence, bf16", line
    question = read_question(f"how much kv cache per token does {QWEN3_8B} use?")
    assert (question.kind, question.unused) == ("kv_cache", ())


def test_a_limit_of_none_says_the_way_out_that_keeps_the_question() -> None:
    # Qwen3-8B at 32,768 tokens on an L4: one sequence does not fit (15.3 GiB of weights + 4.5 GiB of KV
    # + activations past 22 GiB); two L4s split the layers. With vLLM the verdict's own ways (fewer
    # sampler rows, or a second GPU) are said, never a shorter s, which the question is about.
    line = _headline("how many users can {model} serve on an L4 at 32k?")
    assert line == "not even one sequence of 32,768 tokens fits on one NVIDIA L4 24GB; 2 of them would (gpus=2)"
    vllm = _headline("how many users can {model} serve on an L4 at 32k with vllm?")
    assert vllm.startswith("not even one sequence of 32,768 tokens fits on one NVIDIA L4 24GB; use "), vllm
    assert " s=" not in vllm and " b=" not in vllm, vllm


@pytest.mark.slow
def test_a_cards_memory_said_is_every_card_of_that_size() -> None:
    # Qwen3-8B: 17.1 GiB at 4k, which every 24 GB card holds (L4 22.0 GiB usable and up); at 32k 24.2 GiB,
    # past every 24 GB card alone but within two L4s.
    question = read_question(f"will {QWEN3_8B} fit in 24GB?")
    assert (question.settings.get("gpu"), question.card_gb, question.unused) == ("any", 24, ())
    line = _headline("will {model} fit in 24GB?")
    assert line.startswith("yes: every 24 GB card in the catalog holds it alone (l4, a10, a10g, "), line
    assert line.endswith("; it needs 17.1 GiB"), line
    assert _headline("will {model} fit on a 24 GB GPU at 32k?") == (
        "no: no 24 GB card holds it alone (it needs 24.2 GiB); the fewest: 2 × l4"
    )
    past = _headline("is 80GB enough for {model} at 128k?")
    assert past.startswith("no: 131,072 tokens is past the model's 40,960-token context window; for the memory alone")
    assert _headline("will {model} fit in 20GB?").startswith("no 20 GB card in the catalog (it needs 17.1 GiB); ")
