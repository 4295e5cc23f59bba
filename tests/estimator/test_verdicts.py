"""Verdicts a careful user can trust: one rule for vLLM's fit and concurrency, vLLM's refusal of a TP
size, and transformers' layer split (``device_map="auto"``) across GPUs. Numbers from the configs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bot import report
from estimator.config import load_model_spec
from estimator.engines.vllm import (
    BLOCK_SIZE,
    VllmReport,
    batch_defaults,
    kv_capacity,
    resident_requests,
    vllm_report,
)
from estimator.estimate import estimate
from estimator.gpus import lookup_gpu
from estimator.query import Query
from estimator.spec import ModelSpec
from estimator.weights import weight_bytes
from tests.helpers import messages

CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "configs"


def spec(name: str) -> ModelSpec:
    return load_model_spec(json.loads((CONFIGS / f"{name}.json").read_text()))


QWEN_MOE = "Qwen__Qwen3-30B-A3B"
SCOUT = "meta-llama__Llama-4-Scout-17B-16E-Instruct"


# -- vLLM: the KV pool decides ------------------------------------------------------------------
def test_a_pool_a_little_short_suggests_util_or_b_not_a_second_gpu() -> None:
    # vLLM 0.19's accounting (util 0.9, graphs outside the share), the release these cases were measured on.
    q = Query(model="q", seq_len=32 * 1024, batch=8, kv="fp8", engine="vllm", vllm="0.19", gpu="h100")
    est = estimate(spec(QWEN_MOE), q, model_id="q")
    assert est.fit is not None and not est.fit.fits
    v = est.engine_report
    assert isinstance(v, VllmReport) and 7 <= v.max_concurrency < 8
    line = report.verdict(est)
    # Rounded down, as every concurrency is shown, the JSON field included: 16,317 blocks / 2,048 per
    # request = 7.967 (7.97 would round towards the 8 asked).
    assert v.num_gpu_blocks == 16_317 and v.max_concurrency == 7.96
    assert "holds 7.96 of the 8 requests of 32,768 tokens asked" in line, line
    # The vLLM line below the table gives the same figure, and max_batch is its floor.
    assert "room for 7.96 requests of 32,768 tokens" in (report.engine_line(est) or "")
    assert est.fit.max_batch == 7
    # Fewer sampler rows (seqs=) make the room too: the default 1,024 halved once.
    assert v.seqs_to_fit == 512
    assert f"use util={v.util_to_fit:g}, or seqs=512, or b=7" in line, line
    assert "gpus=" not in line and "0.0 GiB short" not in line, line
    # The util it suggests is the smallest that works: it fits there and not 0.01 below.
    assert v.util_to_fit is not None
    at = estimate(spec(QWEN_MOE), q.model_copy(update={"util": v.util_to_fit}), model_id="q")
    below = estimate(spec(QWEN_MOE), q.model_copy(update={"util": round(v.util_to_fit - 0.01, 2)}), model_id="q")
    assert at.fit is not None and at.fit.fits and below.fit is not None and not below.fit.fits
    assert "fits one" in report.verdict(at)


def test_scout_fit_and_concurrency_agree() -> None:
    # Said "fits each of 4 ... 1.2 GiB to spare" and "b=6" next to "will hold 5.79 requests".
    # (5.79 requests before the vision tower was split over tensor parallelism; 6.38 since, so b=7.)
    q = Query(model="s", seq_len=128 * 1024, batch=7, engine="vllm", vllm="0.19", gpus=4, gpu="h100")
    est = estimate(spec(SCOUT), q, model_id="s")
    v = est.engine_report
    assert isinstance(v, VllmReport) and 6 < v.max_concurrency < 7
    assert est.fit is not None and not est.fit.fits and est.fit.max_batch == 6
    assert f"holds {v.max_concurrency:.2f} of the 7 requests" in report.verdict(est)
    assert "b=7 at" not in (report.max_line(est) or "")


@pytest.mark.parametrize(
    "name",
    [
        QWEN_MOE,
        SCOUT,
        "meta-llama__Llama-3.1-8B",
        "google__gemma-3-4b-it",
        "mistralai__Mistral-7B-v0.1",
        "openai__gpt-oss-20b",
        "deepseek-ai__DeepSeek-V2-Lite-Chat",
    ],
)
@pytest.mark.parametrize(
    ("s", "b", "gpus", "gpu"),
    [(32 * 1024, 8, 1, "h100"), (128 * 1024, 6, 4, "h100"), (8 * 1024, 40, 2, "a100"), (4096, 1, 1, "l4")],
)
def test_one_rule_decides_fit_and_concurrency(name: str, s: int, b: int, gpus: int, gpu: str) -> None:
    # With engine=vllm the query fits exactly when the pool holds its b requests of s tokens, and the
    # largest b the solver finds is the whole number of requests the pool holds.
    sp = spec(name)
    q = Query(model="m", seq_len=s, batch=b, engine="vllm", gpus=gpus, gpu=gpu)
    est = estimate(sp, q, model_id="m")
    assert est.fit is not None
    if est.fit.engine_refuses:
        return
    device = lookup_gpu(gpu)
    weights = weight_bytes(sp, gpus=gpus)
    v = vllm_report(sp, q, weights_bytes=weights, gpu=device)
    batched, seqs = batch_defaults(q, device)
    # The pool's blocks: 0.34 (the default) commits the granule-rounded blocks its bytes hold, fewer
    # than bytes // bytes per block; the scheduler holds them less the null block.
    _, _, concurrency = kv_capacity(sp, q, v.kv_cache_memory, batched_tokens=batched, num_blocks=v.num_gpu_blocks)
    held = resident_requests(v.num_gpu_blocks, concurrency)
    # vLLM runs no more than max_num_seqs at once, however many the pool holds; the rest wait.
    assert est.fit.fits == (held >= min(b, seqs)), (held, est.fit)
    assert est.fit.max_batch == min(math.floor(held), seqs)


def test_the_pool_reserves_whole_blocks_per_request() -> None:
    # Llama-3.1-8B: 32 layers x 8 KV heads x (128 + 128) x 2 bytes = 128 KiB per token, blocks of 16
    # tokens: one request of 32,768 tokens takes 2,048 blocks of 2 MiB = 4 GiB; two take 8 GiB.
    est = estimate(
        spec("meta-llama__Llama-3.1-8B"),
        Query(model="l", seq_len=32768, batch=2, engine="vllm", vllm="0.33"),
        model_id="l",
    )
    assert BLOCK_SIZE == 16
    assert est.memory.kv_cache == 2 * 2048 * 32 * 16 * 8 * 256 * 2 == 8 * 2**30


def test_vllm_refuses_a_tp_size_that_does_not_divide_the_heads() -> None:
    # phi-4: 40 attention heads, 10 KV heads. 3 divides neither; 4 divides 40 but not 10 (and 10 does
    # not divide 4); 2 and 5 divide both: the nearest sizes vLLM accepts are 2 and 5.
    est = estimate(spec("microsoft__phi-4"), Query(model="p", engine="vllm", gpus=3, gpu="h100"), model_id="p")
    assert est.fit is not None and not est.fit.fits
    line = report.verdict(est)
    assert "vLLM will not start with gpus=3: the model's 40 attention heads do not divide by 3" in line
    # phi-4 (14.7B, bf16) fits one H100, which the verdict adds.
    assert line.endswith("it accepts gpus=2 or gpus=5; gpus=1 is enough"), line
    # The verdict says it; the warnings carry it under its code for --json, and the text leaves it out.
    assert [n.code for n in est.warnings if "will not start" in n.message] == ["engine_refuses"]
    assert not any("will not start" in w.message for w in report.listed_warnings(est))
    # Without a GPU there is no verdict: the warning says it.
    bare = estimate(spec("microsoft__phi-4"), Query(model="p", engine="vllm", gpus=3), model_id="p")
    assert any("it accepts gpus=2 or gpus=5" in w for w in messages(bare))


# -- transformers: whole layers per GPU ---------------------------------------------------------
def test_phi4_on_three_gpus_splits_layers_not_heads() -> None:
    sp = spec("microsoft__phi-4")
    one = estimate(sp, Query(model="p", gpu="h100"), model_id="p")
    three = estimate(sp, Query(model="p", gpus=3, gpu="h100"), model_id="p")
    # 40 layers over 3 GPUs: 14, 13, 13. The first also holds the embedding (100,352 x 5,120, bf16),
    # the last the untied lm_head (the same size). Each layer's share of the rest is equal.
    emb = 100_352 * 5_120 * 2
    whole = weight_bytes(sp)
    per_layer = (whole - 2 * emb) / 40
    first, last = round(14 * per_layer) + emb, round(13 * per_layer) + emb
    assert three.memory.weights == max(first, last)
    # Every KV head of its 14 layers (no replication): 14 x 10 x (128 + 128) x 2 = 71,680 bytes a
    # token (70 KiB; splitting heads over 3 showed ceil(10/3) = 4 of 10 heads on all 40: 80 KiB).
    assert three.details.kv_bytes_per_token == 14 * 10 * 256 * 2 == 71_680
    assert three.memory.kv_cache == 71_680 * 4096
    # Full-width activations on every GPU: the same as on one (phi-4 has no sliding layers).
    assert three.memory.activations == one.memory.activations
    assert "layers split across 3 GPUs" in report.header(three) and "(TP)" not in report.header(three)
    assert "70 KiB per token" in report.breakdown(three)[1][2]


def test_jamba_at_256k_is_not_told_to_buy_more_gpus() -> None:
    # Each GPU runs a Mamba layer's PyTorch scan over 262,144 tokens whatever the split (hundreds of GiB
    # of fp32 tensors): more GPUs do not divide it, so no count fits and the advice is a shorter s or b.
    sp = spec("ai21labs__AI21-Jamba-1.5-Mini")
    est = estimate(sp, Query(model="j", seq_len=256 * 1024, gpu="h100"), model_id="j")
    assert est.fit is not None and not est.fit.fits and est.fit.min_gpus == 0
    line = report.verdict(est)
    assert "fits on" not in line and "more GPUs do not divide" in line, line
    # b=1 is already the least: only s is named.
    assert line.endswith("; try a shorter s"), line
    many = report.verdict(estimate(sp, Query(model="j", seq_len=256 * 1024, batch=4, gpu="h100"), model_id="j"))
    assert many.endswith("; try a shorter s, or a smaller b"), many
    # At 16k the model fits on a few GPUs (16,384 tokens x 1,753,088 B of scan transients, 28.7 GB,
    # beside a share of the 96 GiB of weights): the solver finds a count no larger than the 32 layers.
    short = estimate(sp, Query(model="j", seq_len=16 * 1024, gpu="h100"), model_id="j")
    assert short.fit is not None and 1 < short.fit.min_gpus <= 32
    assert f"it fits on {short.fit.min_gpus} of them" in report.verdict(short)


def test_one_layer_too_large_for_the_card_is_said_as_weights_not_activations() -> None:
    # Kimi-K2 in fp8 on 16 GB RTX 5080s: 61 layers of about 15.7 GiB each (the ~1 T parameters'
    # checkpoint over 61), the first GPU also holding the bf16 embedding (163,840 x 7,168 x 2 B). One
    # layer per GPU still does not fit a 16 GB card at any s, so "a shorter s" (the activation advice)
    # would be false.
    sp = spec("moonshotai__Kimi-K2-Instruct")
    est = estimate(sp, Query(model="k", gpu="rtx-5080"), model_id="k")
    assert est.fit is not None and est.fit.min_gpus == 0
    split = est.fit.finest_split
    assert split is not None and split.gpus == 61 and split.layers_per_gpu == 1 and split.at_any_context
    embedding = 163_840 * 7_168 * 2
    whole = est.memory.weights  # one GPU holds all of them
    assert split.memory.weights == round((whole - 2 * embedding) / 61) + embedding  # untied head on the last
    assert split.memory.weights > lookup_gpu("rtx-5080").memory_bytes
    line = report.verdict(est)
    assert "at one layer per GPU (61 GPUs) the busiest holds 17." in line and "at any s" in line, line
    assert "try a shorter s" not in line and "activations" not in line, line
    # On an L4 one layer fits, and at 32k the activations each GPU runs are what stop it.
    long = estimate(sp, Query(model="k", seq_len=32 * 1024, gpu="l4"), model_id="k")
    assert long.fit is not None and long.fit.min_gpus == 0 and long.fit.finest_split is not None
    assert not long.fit.finest_split.at_any_context
    assert report.verdict(long).endswith("which more GPUs do not divide; try a shorter s"), report.verdict(long)


@pytest.mark.slow
def test_gpu_any_says_which_cards_one_layer_outgrows() -> None:
    # Kimi-K2 on every card: the 16 GB cards cannot hold one fp8 layer (said as weights, at any s), nor
    # can 24-32 GB cards that load it dequantized to bf16 (compute capability below 8.9: twice the
    # bytes); an L4 holds it in fp8 on one layer each.
    est = estimate(spec("moonshotai__Kimi-K2-Instruct"), Query(model="k", gpu_any=True), model_id="k")
    none = [line for line in report.cards_lines(est) if line.startswith("none: ")]
    assert len(none) == 2 and none[0].startswith("none: a10, a10g, t4, v100-16gb, v100-32gb"), none
    assert none[1].startswith("none: rtx-5080, rtx-5070-ti, rtx-4080"), none
    assert all("of weights are more than the card holds at any s" in line for line in none)
    assert any(line.startswith("61 GPUs: ") and " l4" in line for line in report.cards_lines(est))


@pytest.mark.slow
def test_gpu_any_none_line_offers_fused_attention_and_quotes_the_finest_split() -> None:
    # gpt-oss-20b at 128k under transformers runs eager attention (its class), whose fp32 scores
    # (64 heads x 131,072^2 x 4 B = 4 TiB a layer) no card holds: the way out is fa=on.
    est = estimate(spec("openai__gpt-oss-20b"), Query(model="g", seq_len=128 * 1024, gpu_any=True), model_id="g")
    [none] = [line for line in report.cards_lines(est) if line.startswith("none: ")]
    assert none.endswith("which more GPUs do not divide; try fa=on, or a shorter s)"), none
    # Gemma-4-31B at s=max: the busiest GPU at one layer each runs fewer activations than one GPU with
    # every layer (its layers' own differ), and the line quotes that least figure, which is what the
    # cards that hold it stay above.
    gemma = load_model_spec(
        json.loads((CONFIGS.parent / "calibration2" / "configs" / "gemma4_31b_it.json").read_text())
    )
    h200 = estimate(gemma, Query(model="m", seq_len_from_model=True, gpu="h200"), model_id="m")
    assert h200.fit is not None and h200.fit.finest_split is not None
    least = h200.fit.finest_split.memory.activations
    assert least < h200.memory.activations
    every = estimate(gemma, Query(model="m", seq_len_from_model=True, gpu_any=True), model_id="m")
    [line] = [line for line in report.cards_lines(every) if line.startswith("none: ")]
    assert f"each GPU still runs {report.gib(least)} of activations" in line, line


def test_more_layers_than_the_gpu_limit_say_the_limit() -> None:
    # Past vram's 1,024 GPUs (no model has that many layers yet) the finest split holds several each.
    est = estimate(spec("moonshotai__Kimi-K2-Instruct"), Query(model="k", gpu="t4"), model_id="k")
    assert est.fit is not None and est.fit.finest_split is not None
    split = est.fit.finest_split.model_copy(update={"gpus": 1_024, "layers_per_gpu": 2})
    assert report.finest_split_words(split, est).startswith("on 1,024 GPUs (vram's limit; up to 2 layers each) ")


def test_vllm_has_no_finest_layer_split() -> None:
    # Tensor parallel splits each layer: the layer-split reason is not its to give.
    q = Query(model="k", engine="vllm", gpu="t4")
    est = estimate(spec("moonshotai__Kimi-K2-Instruct"), q, model_id="k")
    assert est.fit is not None and est.fit.finest_split is None


def test_transformers_refuses_more_gpus_than_layers() -> None:
    # Qwen3-0.6B has 28 layers: 32 GPUs would leave 4 with nothing to run.
    est = estimate(spec("Qwen__Qwen3-0.6B"), Query(model="q", gpus=32, gpu="h100"), model_id="q")
    assert est.fit is not None and not est.fit.fits
    assert "use gpus=28 at most" in (est.fit.engine_refuses or "")


def test_a_fit_question_is_answered_by_the_same_rule() -> None:
    from bot.ask import headline
    from bot.question import read_question

    question = read_question("will Qwen/Qwen3-30B-A3B fit 32k for 8 users with fp8 kv cache in vllm on an H100?")
    q = Query(model="q", seq_len=32 * 1024, batch=8, kv="fp8", engine="vllm", vllm="0.19", gpu="h100")
    est = estimate(spec(QWEN_MOE), q, model_id="q")
    line = headline(est, question)
    assert line.startswith("no: does not fit one") and "7.96 of the 8 requests" in line, line
    assert "more per GPU" not in line and "of them would" not in line
    refused = estimate(spec("microsoft__phi-4"), Query(model="p", engine="vllm", gpus=3, gpu="h100"), model_id="p")
    assert headline(refused, question).startswith("no: vLLM will not start with gpus=3")


def test_a_config_without_its_size_is_a_guess_not_a_fit() -> None:
    # {"model_type": "llama"}: transformers' LlamaConfig defaults would be sized, 6.74B, and "fit".
    est = estimate(load_model_spec({"model_type": "llama"}), Query(gpu="h100"), model_id="llama")
    assert est.fit is None and est.refused
    line = report.verdict(est)
    assert "is a guess, not a verdict: the config gives no num_hidden_layers or hidden_size" in line
    assert "fits" not in line


def test_concurrency_is_rounded_down_to_hundredths() -> None:
    from estimator.engines.vllm import floor_hundredths

    # 2,995 blocks of the 1,000 one request takes: 2.995, which rounding would show as the 3 asked.
    assert floor_hundredths(2_995 / 1_000) == 2.99
    assert floor_hundredths(3.0) == 3.0 and floor_hundredths(2.3) == 2.3  # 2.3 x 100 = 229.99999999999997
    assert floor_hundredths(0.009) == 0.0
