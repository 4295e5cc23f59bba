"""vLLM MoE layouts: without --enable-expert-parallel the fused experts' width is split over the
flattened tp x dp group (FusedMoEParallelConfig.make, flatten_tp_across_dp_and_pcp; FusedMoEConfig
asserts ``intermediate_size % tp_size == 0``), and block-FP8 experts need that per-GPU width in
whole (or, from 0.29, refined >= 32) blocks; with it (ep=on) whole experts are placed over tp x dp,
num_experts // (tp x dp) each and one more on the first remainder GPUs (determine_expert_map).
Expected numbers are hand arithmetic on the configs' sizes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot import report
from bot.question import read_question
from estimator.config import load_model_spec
from estimator.engines import get_engine
from estimator.estimate import estimate
from estimator.grammar import parse_query
from estimator.query import Query
from estimator.spec import ModelSpec
from estimator.weights import weight_bytes

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ENGINE = get_engine("vllm")
FP8_BLOCK = {"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic", "weight_block_size": [128, 128]}


def spec_of(path: str, **extra: object) -> ModelSpec:
    return load_model_spec({**json.loads((FIXTURES / path).read_text()), **extra})


@pytest.fixture(scope="module")
def qwen3_moe() -> ModelSpec:
    # Qwen3-30B-A3B: 48 MoE layers of 128 experts, expert width 768, hidden 2,048, bf16.
    return spec_of("configs/Qwen__Qwen3-30B-A3B.json")


@pytest.fixture(scope="module")
def qwen3_moe_fp8() -> ModelSpec:
    return spec_of("configs/Qwen__Qwen3-30B-A3B.json", quantization_config=FP8_BLOCK)


@pytest.fixture(scope="module")
def mixtral() -> ModelSpec:
    # Mixtral-8x7B: 32 layers of 8 experts, expert width 14,336 = 2^11 x 7.
    return spec_of("configs/mistralai__Mixtral-8x7B-Instruct-v0.1.json")


def refusal(spec: ModelSpec, *words: str) -> str | None:
    q, _ = parse_query(["m", "engine=vllm", *words])
    return get_engine("vllm").refusal(spec, q)


def run(spec: ModelSpec, *words: str):  # type: ignore[no-untyped-def]
    q, _ = parse_query(["m", "engine=vllm", *words])
    return estimate(spec, q, model_id="m")


def test_without_ep_the_expert_width_divides_by_tp_x_dp(qwen3_moe: ModelSpec, mixtral: ModelSpec) -> None:
    # 768 % 5 = 3 and 768 % 7 = 5: refused; 768 / 3 = 256, / 4 = 192, / 6 = 128, / 24 = 32: started.
    why = refusal(qwen3_moe, "dp=5")
    assert why is not None
    assert "gpus=1 dp=5 without expert parallelism" in why
    assert "768 does not divide by 5" in why
    assert "it accepts dp=4 or dp=6, or ep=on" in why
    assert refusal(qwen3_moe, "dp=7") is not None
    for layout in (["dp=3"], ["dp=4"], ["dp=6"], ["gpus=4", "dp=6"]):
        assert refusal(qwen3_moe, *layout) is None, layout
    # 4 x 7 = 28 and 768 % 28 = 12.
    assert refusal(qwen3_moe, "gpus=4", "dp=7") is not None
    # Mixtral: 14,336 % 3 = 2 refused; 14,336 / 7 = 2,048 started though 8 experts do not split over 7.
    assert refusal(mixtral, "dp=3") is not None
    assert refusal(mixtral, "dp=7") is None


def test_with_ep_no_width_is_split_so_any_count_starts(qwen3_moe: ModelSpec, mixtral: ModelSpec) -> None:
    for layout in (["dp=5"], ["dp=7"], ["gpus=4", "dp=7"]):
        assert refusal(qwen3_moe, "ep=on", *layout) is None, layout
    assert refusal(mixtral, "ep=on", "dp=3") is None
    # The attention heads still divide by tp alone: 32 heads over 3 GPUs is refused with or without EP.
    why = refusal(qwen3_moe, "ep=on", "gpus=3")
    assert why is not None and "attention heads" in why


def test_fp8_block_experts_take_the_width_per_gpu_of_tp_x_dp(qwen3_moe_fp8: ModelSpec) -> None:
    # dp=2: 768 / 2 = 384 = 3 x 128 whole blocks, every release.
    assert refusal(qwen3_moe_fp8, "dp=2", "vllm=0.28") is None
    # dp=4: 192 per GPU, not a multiple of 128: refused up to 0.28; from 0.29 the scales are refined
    # to gcd(128, 128, 192, 2,048) = 64 >= 32.
    why = refusal(qwen3_moe_fp8, "dp=4", "vllm=0.28")
    assert why is not None and "768 over gpus x dp = 4 GPUs (192 each)" in why
    assert refusal(qwen3_moe_fp8, "dp=4", "vllm=0.29") is None
    assert refusal(qwen3_moe_fp8, "dp=4", "vllm=0.33") is None
    # gpus=2 dp=4: 96 each, gcd(128, 96, 2,048) = 32: refined from 0.29.
    assert refusal(qwen3_moe_fp8, "gpus=2", "dp=4", "vllm=0.33") is None
    # dp=16: 48 each, gcd(128, 48, 2,048) = 16 < 32: refused by every release ...
    why = refusal(qwen3_moe_fp8, "dp=16", "vllm=0.33")
    assert why is not None and "(48 each)" in why and "the largest that fits is 16" in why
    # ... but not with EP, where every GPU holds whole experts of width 768 = 6 x 128.
    assert refusal(qwen3_moe_fp8, "dp=16", "ep=on", "vllm=0.28") is None
    # A TP size refused by one replica stays refused whatever dp (the heads): the message offers TP sizes.
    why = refusal(qwen3_moe_fp8, "gpus=8", "dp=16", "vllm=0.33")
    assert why is not None and "without expert parallelism" in why  # 768 / 128 = 6, 6 / 8 does not divide
    assert refusal(qwen3_moe_fp8, "gpus=8", "dp=16", "ep=on", "vllm=0.33") is None


def test_fp8_experts_block_k_rule_follows_the_attention_tp_size(qwen3_moe: ModelSpec) -> None:
    # Fp8MoEMethod.create_weights (quantization/fp8.py@v0.27.1; validate_fp8_block_shape_moe in
    # quantization/utils/fp8_utils.py@v0.33.0): the experts' per-GPU width must be a multiple of
    # block_n always, and of block_k only when get_tensor_model_parallel_world_size() (the attention
    # TP size, not the flattened tp x dp of the experts) is above 1. With 128 x 256 blocks and width
    # 768: dp=2 gives 384 = 3 x 128 each, no multiple of 256, at tp=1: accepted; gpus=2 gives the same
    # 384 at tp=2: refused (0.28 has no refined blocks).
    spec = spec_of(
        "configs/Qwen__Qwen3-30B-A3B.json", quantization_config={**FP8_BLOCK, "weight_block_size": [128, 256]}
    )
    assert refusal(spec, "dp=2", "vllm=0.28") is None
    why = refusal(spec, "gpus=2", "vllm=0.28")
    assert why is not None and "768 over 2 GPUs (384 each)" in why and "128x256" in why
    # block_n still binds at tp=1: dp=4 gives 192 each, no multiple of 128.
    why = refusal(spec, "dp=4", "vllm=0.28")
    assert why is not None and "(192 each)" in why


def test_ep_weights_are_the_busiest_gpus_whole_experts(qwen3_moe: ModelSpec) -> None:
    # One expert's matrices: gate, up and down of 2,048 x 768, bf16: 3 x 2,048 x 768 x 2 B = 9,437,184 B.
    expert = 3 * 2_048 * 768 * 2
    assert expert == 9_437_184
    whole = weight_bytes(qwen3_moe)
    # dp=5 with EP: 128 = 5 x 25 + 3, so 3 GPUs hold 26 experts of each of the 48 layers; the busiest
    # lacks 128 - 26 = 102 of them.
    ep5 = weight_bytes(qwen3_moe, gpus=1, expert_gpus=5, experts_held=26)
    assert whole - ep5 == 102 * 48 * expert
    # The answer's weights: the same difference from one GPU's (the rotary cache is in both).
    one = run(qwen3_moe, "s=8k").memory.weights
    assert one - run(qwen3_moe, "s=8k", "dp=5", "ep=on").memory.weights == 102 * 48 * expert
    # dp=4: 32 whole experts or a quarter of every expert's width (192 of 768) are the same bytes.
    assert whole - weight_bytes(qwen3_moe, gpus=1, expert_gpus=4, experts_held=32) == 96 * 48 * expert
    assert run(qwen3_moe, "s=8k", "dp=4", "ep=on").memory.weights == run(qwen3_moe, "s=8k", "dp=4").memory.weights


def test_ep_uneven_note_names_the_busiest_share(qwen3_moe: ModelSpec) -> None:
    est = run(qwen3_moe, "s=8k", "dp=5", "ep=on")
    texts = [w.message for w in est.warnings if w.code == "experts_uneven"]
    assert texts and "3 of them hold 26 experts and the rest 25" in texts[0]
    # Without EP the width divides (768 / 4 = 192): nothing is uneven, no note.
    assert not [w for w in run(qwen3_moe, "s=8k", "dp=4").warnings if w.code == "experts_uneven"]


def test_fewest_gpus_takes_the_layouts_vllm_starts(mixtral: ModelSpec) -> None:
    # Mixtral at 32k for 64 users on H100: 7 replicas of one GPU (14,336 / 7 = 2,048), which the old
    # expert-count rule (8 % 7) skipped. Every layout of fewer GPUs that vLLM starts does not hold it;
    # those it refuses (dp=3, 5, 6: 14,336 is 2^11 x 7) are not offered.
    est = run(mixtral, "gpu=h100", "s=32k", "b=64")
    fit = est.fit
    assert fit is not None and (fit.min_gpus, fit.min_gpus_dp) == (1, 7)
    found = run(mixtral, "gpu=h100", "s=32k", "b=64", "dp=7")
    assert found.fit is not None and found.fit.fits and found.fit.engine_refuses is None
    for n, d in ((1, 1), (1, 2), (1, 4), (2, 1), (2, 2), (4, 1)):
        other = run(mixtral, "gpu=h100", "s=32k", "b=64", f"gpus={n}", f"dp={d}")
        assert other.fit is not None and not other.fit.fits, (n, d)
    for d in (3, 5, 6):
        assert refusal(mixtral, "s=32k", f"dp={d}") is not None


def test_fewest_gpus_with_ep_counts_any_replicas(mixtral: ModelSpec) -> None:
    # With EP, 3 replicas of one GPU hold 16 users at 32k: 8 experts over 3 GPUs, 3 on the busiest.
    est = run(mixtral, "gpu=h100", "s=32k", "b=16", "ep=on")
    fit = est.fit
    assert fit is not None and (fit.min_gpus, fit.min_gpus_dp) == (1, 3)
    assert run(mixtral, "gpu=h100", "s=32k", "b=16", "dp=3", "ep=on").fit.fits  # type: ignore[union-attr]


def test_ep_is_read_from_a_pasted_command_and_plain_words() -> None:
    q = read_question("vllm serve ./m --tensor-parallel-size 8 --enable-expert-parallel --max-model-len 64k on h100")
    assert q.settings["ep"] == "on" and q.settings["gpus"] == "8"
    q = read_question("vllm serve ./m -dp 5 -ep --expert-placement-strategy round_robin on h100")
    assert q.settings["ep"] == "on" and q.settings["dp"] == "5"
    q = read_question("how many H100s for ./m at 32k for 500 users with vllm and expert parallelism")
    assert q.settings["ep"] == "on"
    assert parse_query(["m", "engine=vllm", "expert_parallel=on"])[0].expert_parallel


def test_ep_is_a_vllm_setting(qwen3_moe: ModelSpec) -> None:
    q, _ = parse_query(["m", "ep=on"])
    messages = [w.message for w in estimate(qwen3_moe, q, model_id="m").warnings]
    assert "ep is a vLLM setting: it changes nothing with engine=transformers (add engine=vllm)." in messages


def test_weights_line_says_where_the_experts_go(qwen3_moe: ModelSpec) -> None:
    def weights_line(*words: str) -> str:
        rows = report.breakdown(run(qwen3_moe, "gpu=h100", "s=8k", *words))
        return next(why for name, _, why in rows if name == "Weights")

    assert ", routed experts split over gpus x dp = 8 GPUs, the rest over 2" in weights_line("gpus=2", "dp=4")
    assert ", routed experts placed whole over 8 GPUs, the rest over 8" in weights_line("gpus=8", "ep=on")
    assert ", split over 2 GPUs" in weights_line("gpus=2")


def test_refuses_agrees_with_the_refusal_sentence() -> None:
    # The fewest-GPUs search asks `refuses` of every replica count; it must say what `refusal` says,
    # here for an expert width that only one GPU takes (1,531 is prime) and for Qwen3-30B-A3B's 768
    # (768 = 2^8 x 3: gpus x dp of 1, 2, 3, 4, 6, 8, ... divide it).
    for width in (768, 1531):
        spec = spec_of("configs/Qwen__Qwen3-30B-A3B.json", moe_intermediate_size=width)
        for gpus in (1, 2, 4):
            for dp in (1, 2, 3, 5, 7, 12):
                query = Query(engine="vllm", gpu="h100", gpus=gpus, dp=dp)
                sentence = ENGINE.refusal(spec, query)
                assert ENGINE.refuses(spec, query) == (sentence is not None), (width, gpus, dp)
                if width == 1531 and gpus * dp > 1:
                    assert sentence is not None and "1,531" in sentence
