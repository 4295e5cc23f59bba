"""vLLM data parallelism (dp=): replicas with their own KV pools, a MoE model's experts split over
tp x dp, the batch each replica gets, and the fewest-GPUs layout, against hand arithmetic and the
n006 / n007 start-up logs (DeepSeek-V4-Flash-0731, vLLM 0.25.0, 8 x B200: DP8 vs TP8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot import report
from bot.ask import headline
from bot.blocks import what_ifs
from bot.commands import parse_changes
from bot.question import read_question
from common.errors import InputError
from estimator.config import load_model_spec
from estimator.engines import get_engine
from estimator.engines.vllm import VllmReport
from estimator.estimate import estimate
from estimator.grammar import parse_query
from estimator.query import replica_query
from estimator.spec import ModelSpec
from estimator.weights import weight_bytes

CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "calibration2" / "configs"
# The published checkpoints are block-fp8 (e4m3, 128 x 128 blocks with an fp32 scale each); the
# fixture configs leave the quantization_config out.
FP8_BLOCK = {"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic", "weight_block_size": [128, 128]}


def spec_of(name: str, **extra: object) -> ModelSpec:
    return load_model_spec({**json.loads((CONFIGS / f"{name}.json").read_text()), **extra})


@pytest.fixture(scope="module")
def qwen3_5_27b() -> ModelSpec:
    return spec_of("qwen3_5_27b")


@pytest.fixture(scope="module")
def deepseek_v32() -> ModelSpec:
    return spec_of("deepseek_v32", quantization_config=FP8_BLOCK)


def run(spec: ModelSpec, *words: str):  # type: ignore[no-untyped-def]
    q, _ = parse_query(["m", "engine=vllm", *words])
    return estimate(spec, q, model_id="m")


def test_a_replica_gets_its_share_of_the_batch_rounded_up() -> None:
    # The load balancer sends each request to the least loaded engine: 16 over 3 is 6, 5, 5.
    q, _ = parse_query(["m", "engine=vllm", "b=16", "dp=3"])
    assert replica_query(q).batch == 6
    assert replica_query(q.model_copy(update={"batch": 15})).batch == 5
    assert replica_query(q.model_copy(update={"dp": 1})).batch == 16
    assert parse_query(["m", "engine=vllm", "replicas=4"])[0].dp == 4


def test_dense_replicas_are_one_gpu_each_with_its_share_of_the_requests(qwen3_5_27b: ModelSpec) -> None:
    # A dense model's replicas are independent engines: one replica's GPU holds what tp=4 with
    # ceil(64 / 3) = 22 requests holds, and the replicas' concurrency adds up.
    three = run(qwen3_5_27b, "gpu=h100", "s=128k", "b=64", "gpus=4", "dp=3")
    one = run(qwen3_5_27b, "gpu=h100", "s=128k", "b=22", "gpus=4")
    assert three.memory == one.memory
    v, w = three.engine_report, one.engine_report
    assert isinstance(v, VllmReport) and isinstance(w, VllmReport)
    assert v.kv_cache_memory == w.kv_cache_memory and v.max_concurrency == w.max_concurrency
    assert (v.data_parallel_size, v.requests_per_replica) == (3, 22)
    assert v.max_concurrency_all == round(3 * v.max_concurrency, 2)
    assert v.kv_cache_tokens_all == 3 * v.kv_cache_tokens
    assert three.fit is not None and one.fit is not None
    # b fits while each replica holds its 22.
    assert three.fit.fits == (v.max_concurrency >= 22) == one.fit.fits
    # The most b: every replica as many as one holds.
    assert one.fit.max_batch is not None and three.fit.max_batch == 3 * one.fit.max_batch
    assert three.to_json()["inputs"]["dp"] == 3


def test_moe_experts_split_over_every_replica(deepseek_v32: ModelSpec) -> None:
    # DeepSeek-V3.2: 58 MoE layers (61 - first_k_dense_replace 3) x 256 experts x 3 matrices of
    # 7,168 x 2,048 (gate and up split their 2,048 outputs, down its 2,048 inputs), fp8 with an
    # fp32 scale per 128 x 128 block. Over tp=8 a matrix share is 7,168 x 256 B + 56 x 2 x 4 B of
    # scales = 1,835,456 B; over tp x dp = 16 it is 7,168 x 128 + 56 x 1 x 4 = 917,728 B. The rest
    # (attention, dense layers, shared experts, embeddings) stays split over tp=8 alone.
    per_matrix_saved = (7_168 * 256 + 56 * 2 * 4) - (7_168 * 128 + 56 * 1 * 4)
    saved = per_matrix_saved * 3 * 256 * 58
    assert saved == 40_879_276_032
    tp8 = weight_bytes(deepseek_v32, gpus=8)
    assert tp8 - weight_bytes(deepseek_v32, gpus=8, expert_gpus=16) == saved
    one = run(deepseek_v32, "gpu=h200", "s=4k", "kv=fp8", "gpus=8")
    two = run(deepseek_v32, "gpu=h200", "s=4k", "kv=fp8", "gpus=8", "dp=2")
    assert one.memory.weights - two.memory.weights == saved
    # The latent KV is each replica's own, as large per token as under tp=8 alone.
    assert one.details.kv_bytes_per_token == two.details.kv_bytes_per_token


def test_replicas_beyond_the_requests_say_they_split_the_experts() -> None:
    # GLM-5.3 at its longest context (1,048,576 tokens) on H200s: one request's KV is about 90 GiB per
    # GPU, so only the experts' width shrinks enough beside it, split over gpus x dp: 8 replicas of 8
    # for b=1. The verdict says why a single request gets 64 GPUs.
    glm = load_model_spec(json.loads((CONFIGS / "glm5_3.json").read_text()))
    est = run(glm, "gpu=h200", "s=max", "gpus=8")
    assert est.fit is not None and not est.fit.fits
    assert (est.fit.min_gpus, est.fit.min_gpus_dp) == (8, 8)
    assert report.verdict(est).endswith("; use gpus=8 dp=8 (the replicas split the experts over all 64 GPUs)")
    # Replicas no more than the requests: no such words.
    est = run(glm, "gpu=h200", "s=max", "gpus=8", "b=8")
    assert est.fit is not None and "split the experts" not in report.verdict(est)


def test_fewest_gpus_counts_replicas(qwen3_5_27b: ModelSpec) -> None:
    # Qwen3.5-27B at 128k for 64 users on H100: no tensor-parallel group holds 64 (tp=8 holds about
    # 28), but replicas do. The layout found is the fewest GPUs: each of its replicas holds its
    # share, and one replica fewer does not.
    est = run(qwen3_5_27b, "gpu=h100", "s=128k", "b=64", "gpus=8")
    fit = est.fit
    assert fit is not None and not fit.fits
    tp, dp = fit.min_gpus, fit.min_gpus_dp
    assert dp > 1
    found = run(qwen3_5_27b, "gpu=h100", "s=128k", "b=64", f"gpus={tp}", f"dp={dp}")
    fewer = run(qwen3_5_27b, "gpu=h100", "s=128k", "b=64", f"gpus={tp}", f"dp={dp - 1}")
    assert found.fit is not None and found.fit.fits
    assert fewer.fit is not None and not fewer.fit.fits
    # No layout of fewer GPUs in all holds it: every accepted tp below tp x dp, with the replicas
    # that stay under that count.
    for n in (1, 2, 4, 8):
        for d in range(1, (tp * dp - 1) // n + 1):
            other = run(qwen3_5_27b, "gpu=h100", "s=128k", "b=64", f"gpus={n}", f"dp={d}")
            assert other.fit is not None and not other.fit.fits, (n, d)
    assert found.fit.min_gpus * found.fit.min_gpus_dp == tp * dp


def test_dp_is_vllm_only() -> None:
    spec = spec_of("qwen3_5_27b")
    q, _ = parse_query(["m", "dp=2"])
    with pytest.raises(InputError, match="data parallelism"):
        estimate(spec, q, model_id="m")
    q, _ = parse_query(["m", "engine=vllm", "dp=2", "method=classic"])
    with pytest.raises(InputError, match="method=classic"):
        estimate(spec, q, model_id="m")
    q, _ = parse_query(["m", "engine=vllm", "gpus=8", "dp=256"])
    with pytest.raises(InputError, match="2,048 GPUs"):
        estimate(spec, q, model_id="m")


def test_n006_n007_dp8_vs_tp8_deepseek_v4_flash() -> None:
    # n006: DP8 + EP, tp=1, util 0.95, max_num_batched_tokens 8,192, max_num_seqs 256, fp8 KV, 1M
    # context; n007: TP8 + EP with the recipe's defaults (util, batched tokens not shown). The
    # reporter's "156.9x vs 20.43x max concurrency at 1M" sums the 8 DP ranks' own lines (each
    # engine logs its pool): 156.9 / 8 = 19.61 a rank. Under TP8 the single latent KV head is
    # replicated on every rank; under DP8 each rank's pool holds its own requests, so the
    # aggregate is about 8x, less the attention weights each DP rank holds whole.
    spec = spec_of("deepseek_v4_flash")
    tp8 = run(spec, "gpu=b200", "vllm=0.25", "kv=fp8", "s=1m", "gpus=8")
    dp8 = run(spec, "gpu=b200", "vllm=0.25", "kv=fp8", "s=1m", "gpus=1", "dp=8", "util=0.95", "mnbt=8192", "seqs=256")
    v, w = tp8.engine_report, dp8.engine_report
    assert isinstance(v, VllmReport) and isinstance(w, VllmReport)
    assert v.max_concurrency == pytest.approx(20.43, rel=0.01)
    # Each DP rank holds the whole attention (tp=1) and an eighth of the experts, as each TP8 rank
    # holds an eighth of both: more weights per GPU under DP8.
    assert w.weights > v.weights
    assert w.max_concurrency_all == pytest.approx(8 * w.max_concurrency, abs=0.01)
    # vram's aggregate is 5% above the logged 156.9: the DP8 run's all-to-all (DeepGEMM mega-MoE)
    # buffers, about 7 GB a rank by this gap, are not modelled (see docs/engine-notes.md).
    assert w.max_concurrency_all == pytest.approx(156.9, rel=0.06)
    assert w.max_concurrency_all > 156.9


def test_how_many_answer_names_the_layout(qwen3_5_27b: ModelSpec) -> None:
    question = read_question("how many H100s do I need for ./qwen at 128k for 64 users with vllm")
    assert question.kind == "min_gpus"
    q, _ = parse_query(["m", *question.settings_text().split()])
    est = estimate(qwen3_5_27b, q, model_id="m")
    fit = est.fit
    assert fit is not None and fit.min_gpus_dp > 1
    n = fit.min_gpus * fit.min_gpus_dp
    assert headline(est, question).startswith(
        f"fewest {fit.gpu_name} that hold it: {n}, {fit.min_gpus_dp} replicas of tp={fit.min_gpus} "
    )
    # The verdict of one GPU, which does not hold them, points at the same layout.
    single = run(qwen3_5_27b, "gpu=h100", "s=128k", "b=64")
    verdict = get_engine("vllm").verdict(single, lambda text: text)
    assert verdict is not None and f"gpus={fit.min_gpus} dp={fit.min_gpus_dp}" in verdict


def _applied(est, change: str):  # type: ignore[no-untyped-def]
    """The query a thread reply of ``change`` asks for: the other settings kept, as what-ifs do."""
    parsed = parse_changes(change, est.query)
    assert parsed is not None
    return parsed[0]


def test_suggested_layout_leaves_replicas_when_fewer_gpus_hold_it_without(qwen3_5_27b: ModelSpec) -> None:
    # Qwen3.5-27B (bf16) on 24 GB L4s, 2 replicas of tp=2: each GPU holds half of the 27B
    # parameters' 54 GB, more than an L4, so no replica starts; one group of more GPUs holds it.
    est = run(qwen3_5_27b, "gpu=l4", "s=32k", "b=8", "gpus=2", "dp=2")
    fit = est.fit
    assert fit is not None and not fit.fits and fit.min_gpus_dp == 1
    fewest = report.fewest_layout(est)
    assert fewest is not None
    n, change = fewest
    # Applied over a query that had dp=2, the suggestion must undo it: a bare gpus= would keep
    # the two replicas and ask for twice the GPUs it names.
    q = _applied(est, change)
    assert q.dp == 1 and q.gpus * q.pp * q.dp == n
    verdict = get_engine("vllm").verdict(est, lambda text: text)
    assert verdict is not None and verdict.endswith(f"use {change}")
    assert ("8 GPUs (smallest that fits)", change) in what_ifs(est)


def test_suggested_layout_counts_every_pipeline_stage() -> None:
    # Qwen3-32B over 2 pipeline stages of one H100: 400 requests of 32k need replicas; the button
    # names every GPU the layout takes, tp x pp x dp, not tp x dp.
    spec = load_model_spec(json.loads((CONFIGS.parents[1] / "configs" / "Qwen__Qwen3-32B.json").read_text()))
    est = run(spec, "gpu=h100", "s=32k", "b=400", "gpus=1", "pp=2")
    fit = est.fit
    assert fit is not None and not fit.fits and fit.min_gpus_dp > 1
    n, change = report.fewest_layout(est) or (0, "")
    assert n == fit.min_gpus * 2 * fit.min_gpus_dp
    q = _applied(est, change)
    assert (q.gpus, q.pp, q.dp) == (fit.min_gpus, 2, fit.min_gpus_dp)
    assert (f"{n} GPUs (smallest that fits)", change) in what_ifs(est)


def test_kv_off_drops_the_cache_from_the_total_only(qwen3_5_27b: ModelSpec) -> None:
    # vLLM allocates its pool whatever kv= says: kv=off takes the KV row out of the total, and the
    # fit, the maxima and the verdict stay those of the pool (the same as without kv=off).
    off = run(qwen3_5_27b, "gpu=l4", "s=32k", "b=8", "gpus=2", "dp=2", "kv=off")
    on = run(qwen3_5_27b, "gpu=l4", "s=32k", "b=8", "gpus=2", "dp=2")
    assert off.memory.kv_cache == 0 < on.memory.kv_cache
    assert off.fit is not None and on.fit is not None and not off.fit.fits
    assert off.fit.model_copy(update={"headroom": 0}) == on.fit.model_copy(update={"headroom": 0})
    assert report.verdict(off).partition(": ")[2] == report.verdict(on).partition(": ")[2]
    assert any(w.code == "kv_off_allocates" for w in off.warnings)
    # The fixes too: a util that holds them, or fewer sampler rows, as with the cache counted.
    for args in (("gpu=h100", "util=0.3", "s=32k", "b=8"), ("gpu=h100", "s=96000", "b=3")):
        with_kv, without = run(qwen3_5_27b, *args), run(qwen3_5_27b, *args, "kv=off")
        assert report.verdict(without).partition(": ")[2] == report.verdict(with_kv).partition(": ")[2], args


def test_the_classic_comparison_is_of_the_whole_model_whatever_the_layout() -> None:
    # The classic formula sizes the whole model on one device, as for gpus=: pipeline stages and
    # replicas change neither its figures nor how its KV term compares with vram's whole-model KV.
    # Qwen3-8B at s=32k, b=8: 36 layers x 8 KV heads x 128 x (K, V) x 2 B = 147,456 B a token,
    # x 32,768 x 8 = 38,654,705,664 B; its classic KV term is 19.33 GB, so the ratio is 1.9997.
    qwen3_8b = load_model_spec(json.loads((CONFIGS.parents[1] / "configs" / "Qwen__Qwen3-8B.json").read_text()))
    # vllm=0.33: whole 16-token blocks of exactly these bytes (0.34 adds its granule rounding).
    one = run(qwen3_8b, "gpu=h100", "s=32k", "b=8", "vllm=0.33")
    replicas = run(qwen3_8b, "gpu=h100", "s=32k", "b=8", "dp=4", "vllm=0.33")
    assert one.classic.kv_cache_gb == replicas.classic.kv_cache_gb == 19.33
    assert one.details.classic_kv_ratio == pytest.approx(38_654_705_664 / 19.33e9)
    assert replicas.details.classic_kv_ratio == pytest.approx(38_654_705_664 / 19.33e9)
    (said,) = [w.message for w in replicas.warnings if w.code == "classic_formula"]
    assert "its KV cache term is 2.0x too small" in said
    # Two pipeline stages of Qwen3-32B: one GPU holds half the layers, the formula still all of them.
    qwen3_32b = load_model_spec(json.loads((CONFIGS.parents[1] / "configs" / "Qwen__Qwen3-32B.json").read_text()))
    whole = run(qwen3_32b, "gpu=h100", "s=32k", "b=8")
    stages = run(qwen3_32b, "gpu=h100", "s=32k", "b=8", "pp=2")
    assert stages.classic == whole.classic
    assert stages.details.classic_kv_ratio == pytest.approx(whole.details.classic_kv_ratio)
    (said,) = [w.message for w in stages.warnings if w.code == "classic_formula"]
    assert "weights term" not in said  # one stage's GPU holds half of them: no like-for-like


def test_the_classic_comparison_leaves_out_what_replicas_split() -> None:
    # Qwen3-30B-A3B over 4 replicas of one GPU: its 128 routed experts are split over the 4 GPUs, so
    # one GPU holds about a quarter of the weights the formula sizes whole (no like-for-like), and one
    # replica runs a quarter of b (its activations are no match for the formula's either).
    moe = load_model_spec(json.loads((CONFIGS.parents[1] / "configs" / "Qwen__Qwen3-30B-A3B.json").read_text()))
    replicas = run(moe, "gpu=h100", "s=32k", "b=8", "dp=4")
    assert replicas.memory.weights < replicas.classic.model_gb * 1e9 / 2  # a share, not the whole
    said = [w.message for w in replicas.warnings if w.code == "classic_formula"]
    assert not any("weights term" in m or "activation term" in m for m in said), said
    one = run(moe, "gpu=h100", "s=32k", "b=8")
    (said_one,) = [w.message for w in one.warnings if w.code == "classic_formula"]
    assert "activation term" in said_one  # one GPU, every request: compared as before


def test_how_many_answer_with_replicas_asked_says_when_one_group_is_fewest(qwen3_5_27b: ModelSpec) -> None:
    # Asked with 2 replicas on 24 GB L4s: one group of 4 (13.5 GB of bf16 weights each) holds it in
    # as many GPUs as 2 replicas of 2 would, so the answer names the single group, not a bare count
    # a reader would take as 2 replicas again.
    question = read_question("how many L4s do I need for ./qwen at 32k for 8 users with data parallel 2 in vllm")
    assert question.kind == "min_gpus"
    q, _ = parse_query(["m", *question.settings_text().split()])
    assert q.dp == 2
    est = estimate(qwen3_5_27b, q, model_id="m")
    fit = est.fit
    assert fit is not None and fit.min_gpus_dp == 1
    assert headline(est, question).startswith(f"fewest {fit.gpu_name} that hold it: {fit.min_gpus}, tp={fit.min_gpus} ")
