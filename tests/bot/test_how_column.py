"""The breakdown's "how" column is arithmetic of what its row holds: the numbers it states, multiplied
and added as it says, give the row's bytes (to the precision they are printed with).

Expected parts are hand arithmetic from the configs (tests/fixtures/configs, calibration2/configs)
and vLLM's cache layouts (docs/engine-notes.md); the text is parsed, never compared to a copy of it.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from bot import report
from common.errors import VramError
from estimator.config import load_model_spec
from estimator.estimate import estimate
from estimator.query import Query
from estimator.result import Estimate

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "tests" / "fixtures" / "configs"
CAL = ROOT / "tests" / "fixtures" / "calibration2" / "configs"
GIB = 1 << 30
UNIT = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}


def _spec(path: Path):
    return load_model_spec(json.loads(path.read_text()))


def _how(est: Estimate, label: str) -> tuple[int, str]:
    (row,) = [(n, why) for name, n, why in report.breakdown(est) if name == label]
    return row


def kv_said(how: str) -> float:
    """The bytes a KV line states: ``(A + the indexer's B per token x N tokens + C of ... ) x b sequences``."""
    body, _, _dtype = re.sub(r"; a batch is max_num_batched_tokens, .*$", "", how).rpartition(", ")
    expr = re.sub(r"the [A-Za-z ]+'s? ", "", body)
    kept = r"(?:[\d,]+-token )?window (?:\+ (?:one batch|\d+ batches)|less one)"
    expr = re.sub(rf" in [\d,]+ (?:\w+ )?sliding-window layers?(?: \((?:the )?{kept}\))?", "", expr)
    expr = re.sub(r" of recurrent state(?: in [\d,]+ layers?)?(?: \([\d,]+ pages? each[^)]*\))?", "", expr)
    expr = re.sub(r" of compressed cache for [\d,]+ tokens in [\d,]+ layers \([a-z\d, ]+\)", "", expr)
    caches = r"(?:sliding-window caches|compressor states)"
    expr = re.sub(rf" of {caches} in [\d,]+ layers \([\d,]+ tokens(?:: {kept})?\)", "", expr)
    expr = re.sub(r" for whole blocks and pages padded to one size", "", expr)
    expr = re.sub(r" for whole granules of (?:each layer's blocks|the one block segment)", "", expr)
    expr = re.sub(r" of caches per request \([a-z ,]+\)", "", expr)
    expr = re.sub(r"([\d,.]+) (B|KiB|MiB|GiB)\b", lambda m: f"[{m[1].replace(',', '')}*{UNIT[m[2]]}]", expr)
    expr = re.sub(
        r"((?:\[[\d.*]+\] \+ )*\[[\d.*]+\]) per token x ([\d,]+) tokens?",
        lambda m: f"(({m[1]})*{m[2].replace(',', '')})",
        expr,
    )
    expr = re.sub(r" x ([\d,]+) sequences?$", lambda m: f"*{m[1].replace(',', '')}", expr)
    expr = expr.replace("[", "(").replace("]", ")")
    assert re.fullmatch(r"[\d.*+\-() ]+", expr), f"not arithmetic: {how!r} -> {expr!r}"
    return float(eval(expr))  # digits and operators only, checked above


def weights_said(how: str) -> float:
    """The bytes a weights line states: ``...: A GiB + B GiB of ... - C GiB for ...``."""
    first = re.search(r": ([\d,.]+) GiB", how)
    assert first is not None, how
    total = float(first[1].replace(",", ""))
    for sign, value in re.findall(r" ([+-]) ([\d,.]+) GiB", how[first.end() :]):
        total += float(value.replace(",", "")) if sign == "+" else -float(value.replace(",", ""))
    return total * GIB


def assert_rows_multiply_out(est: Estimate) -> None:
    kv, kv_how = _how(est, "KV cache")
    assert kv_said(kv_how) == pytest.approx(kv, rel=0.005), kv_how
    weights, weights_how = _how(est, "Weights")
    terms = max(len(est.details.weight_terms), 1)
    if re.search(r": [\d,.]+ GiB", weights_how):
        assert abs(weights_said(weights_how) - weights) <= 0.006 * GIB * terms, weights_how
    else:  # the checkpoint alone, to what the row's two decimals show
        extra = [t.bytes for t in est.details.weight_terms if t.part != "checkpoint"]
        assert all(abs(b) < 0.005 * GIB for b in extra), weights_how
    overhead, overhead_how = _how(est, "Overhead")
    if est.engine_report is not None:
        said = sum(float(x.replace(",", "")) for x in re.findall(r"([\d,.]+)(?: \+| GiB)", overhead_how)) * GIB
        assert abs(said - overhead) <= 0.016 * GIB, overhead_how


def test_sparse_attention_shows_the_indexer() -> None:
    # DeepSeek-V3.2, fp8 KV on Hopper: 61 layers x 656 B (fp8_ds_mla: 512 fp8 + 4 fp32 scales + 64
    # bf16 rope) = 40,016 B = 39.1 KiB, and the indexer 61 x (128 fp8 + 4-byte scale) = 8,052 B = 7.86
    # KiB; 64-token blocks and 65,536 tokens leave no rounding.
    est = estimate(
        _spec(CAL / "deepseek_v32.json"),
        Query(engine="vllm", gpu="h200", gpus=8, kv="fp8", seq_len=65536, vllm="0.33"),
        model_id="m",
    )
    assert est.memory.kv_cache == (40_016 + 8_052) * 65_536
    _, how = _how(est, "KV cache")
    assert how == "39.1 KiB + the indexer's 7.86 KiB per token x 65,536 tokens x 1 sequence, fp8"
    # The CUDA context with TP: 522 MiB + 1,065 MiB of NCCL set-up = 1.55 GiB (VllmConstants).
    _, overhead_how = _how(est, "Overhead")
    assert overhead_how.startswith("CUDA context 1.55 + ")
    assert_rows_multiply_out(est)


def test_mtp_layers_appear_in_both_lines() -> None:
    # Qwen3.5-27B, mtp=3: one MTP layer of full attention, 4 KV heads x 256 x (K + V) x 2 B = 4,096 B
    # per token beside the 16 full layers' 16 x 4,096 = 64 KiB; 48 Gated DeltaNet layers hold states.
    est = estimate(
        _spec(CAL / "qwen3_5_27b.json"),
        Query(engine="vllm", gpu="h200", seq_len=262_144, batch=2, mtp=3),
        model_id="m",
    )
    _, kv_how = _how(est, "KV cache")
    assert kv_how.startswith("(64 KiB + the MTP layers' 4 KiB per token x 262,144 tokens + ")
    assert "of recurrent state in 48 layers" in kv_how
    _, weights_how = _how(est, "Weights")
    assert "of the MTP layers" in weights_how
    assert_rows_multiply_out(est)


def test_sliding_layers_say_the_tokens_they_keep() -> None:
    # gemma-4-31B at vLLM 0.19: 50 sliding layers x 16 KV heads x 256 x 2 x 2 B = 800 KiB per token
    # over their window (1,024) - 1 + one batch (8,192) = 9,215 tokens; 10 global layers x 4 x 512 x
    # 2 x 2 B = 80 KiB per token over all 131,072.
    est = estimate(
        _spec(CAL / "gemma4_31b_it.json"),
        Query(engine="vllm", gpu="h200", vllm="0.19", seq_len=131_072, batch=4),
        model_id="m",
    )
    _, how = _how(est, "KV cache")
    assert how.startswith("(80 KiB per token x 131,072 tokens + 800 KiB per token x 9,215 tokens in 50 ")
    assert_rows_multiply_out(est)


def test_sliding_layers_keep_two_batches_from_0_26() -> None:
    # gemma-3-4b at vLLM 0.26 (async scheduling: two in-flight batches of 8,192 on an H100): 29
    # sliding layers x 4 KV heads x 256 x 2 x 2 B = 116 KiB per token over 1,024 - 1 + 2 x 8,192 =
    # 17,407 tokens; 5 global layers x 4 KiB = 20 KiB per token over 32,768. Groups of 5 layers: 29
    # sliding layers take 6 groups, one padding layer. Blocks of 16 tokens: a sliding group keeps
    # cdiv(17,407, 16) + 1 = 1,089 blocks, so the rest is the padding layer's 1,089 x 16 x 4,096 B
    # plus 17 tokens of rounding in the 29 real layers.
    est = estimate(
        _spec(CONFIGS / "google__gemma-3-4b-it.json"),
        Query(engine="vllm", gpu="h100", vllm="0.26", seq_len=32_768, batch=4, mm_limit=0),
        model_id="m",
    )
    terms = {t.part: t for t in est.details.kv_terms}
    assert (terms["sliding"].tokens, terms["sliding"].in_flight_batches) == (1_023 + 2 * 8_192, 2)
    assert terms["sliding"].bytes_per_sequence == 29 * 4_096 * 17_407
    assert terms["blocks"].bytes_per_sequence == 1_089 * 16 * 4_096 + 29 * 4_096 * 17
    _, how = _how(est, "KV cache")
    assert "116 KiB per token x 17,407 tokens in 29 sliding-window layers (1,024-token window + 2 batches)" in how
    assert how.endswith("; a batch is max_num_batched_tokens, 8,192 here (mnbt= sets it)")
    assert_rows_multiply_out(est)


def test_block_rounding_is_said() -> None:
    # Llama-3.1-8B: 131,072 B per token. vLLM 0.33: 4,097 tokens take 257 blocks of 16 = 4,112 tokens,
    # so 15 tokens x 128 KiB = 1,966,080 B (1.88 MiB) more per sequence.
    llama = _spec(CONFIGS / "meta-llama__Llama-3.1-8B.json")
    est = estimate(llama, Query(engine="vllm", seq_len=4097, vllm="0.33"), model_id="m")
    _, how = _how(est, "KV cache")
    rounding = "1.88 MiB for whole blocks and pages padded to one size"
    assert how == f"(128 KiB per token x 4,097 tokens + {rounding}) x 1 sequence, bf16"
    assert_rows_multiply_out(est)
    # 0.34 (the default): 65 blocks of 64 = 4,160 tokens, 63 x 128 KiB = 7.88 MiB more; and its
    # extensible cache maps each layer's blocks in 2 MiB granules: the 65 blocks and the null block are
    # 66 x 256 KiB = 16.5 MiB a layer, 18 MiB mapped, 1.5 MiB x 32 layers = 48 MiB.
    est = estimate(llama, Query(engine="vllm", seq_len=4097), model_id="m")
    _, how = _how(est, "KV cache")
    assert how == (
        "(128 KiB per token x 4,097 tokens + 48 MiB for whole granules of each layer's blocks + 7.88 MiB for whole "
        "blocks and pages padded to one size) x 1 sequence, bf16"
    )
    assert_rows_multiply_out(est)


def test_a_text_only_start_leaves_the_vision_tower_out() -> None:
    est = estimate(_spec(CONFIGS / "Qwen__Qwen2.5-VL-7B-Instruct.json"), Query(engine="vllm", mm_limit=0), model_id="m")
    _, how = _how(est, "Weights")
    assert "for the vision tower's" in how and "not loaded (mm=0" in how
    assert_rows_multiply_out(est)


def test_a_drafter_beside_a_hybrid_model() -> None:
    sys.path.insert(0, str(ROOT / "tests" / "estimator"))
    from test_vllm_draft import WITH27, q27

    est = estimate(WITH27, q27(gpu="rtx-4090", seq_len=65_536), model_id="m")
    _, kv_how = _how(est, "KV cache")
    assert "the drafter's" in kv_how and "for whole blocks and pages padded to one size" in kv_how
    _, weights_how = _how(est, "Weights")
    assert "of the dflash drafter" in weights_how
    assert_rows_multiply_out(est)


# Every fixture config in the whole suite; the fast subset keeps a sample (dense, sliding 5:1, MXFP4
# MoE, MLA, vision-language, Mamba and gated-DeltaNet hybrids, DeepSeek-V4's compressed caches, sparse
# MLA), so adding configs does not slow it.
FAST_SAMPLE = {
    "Qwen__Qwen3-8B.json",
    "google__gemma-3-1b-it.json",
    "openai__gpt-oss-20b.json",
    "deepseek-ai__DeepSeek-V2-Lite-Chat.json",
    "Qwen__Qwen2.5-VL-7B-Instruct.json",
    "ai21labs__AI21-Jamba-1.5-Mini.json",
    "qwen3_5_27b.json",
    "deepseek_v4_flash.json",
    "glm_moe_dsa.json",
}
EVERY_CONFIG = [
    path if path.name in FAST_SAMPLE else pytest.param(path, marks=pytest.mark.slow)
    for path in sorted([*CONFIGS.glob("*.json"), *CAL.glob("*.json")])
]


@pytest.mark.parametrize("path", EVERY_CONFIG, ids=lambda p: p.name)
def test_every_vllm_answer_multiplies_out(path: Path) -> None:
    for query in (
        Query(engine="vllm", gpu="h100", seq_len=5000, batch=3),
        Query(engine="vllm", gpus=2, gpu="a100"),
        Query(engine="vllm", gpus=8, gpu="h200", kv="fp8", seq_len=40_000),
    ):
        try:
            est = estimate(_spec(path), query, model_id="m")
        except VramError:
            continue  # refused to be sized: nothing to check
        assert_rows_multiply_out(est)


ORACLE = ROOT / "tests" / "fixtures" / "oracle" / "configs"


def test_an_attention_free_model_says_its_state_and_no_attention() -> None:
    # mamba (oracle config): 32 layers, d_inner = 2 x 768 = 1,536; per layer an SSM state of 1,536 x
    # 16 fp32 (98,304 B) and a conv state of 1,536 x 4 (conv_kernel) bf16 (12,288 B): 110,592 B, x 32 =
    # 3,538,944 B (3.38 MiB) per sequence, no per-token part.
    est = estimate(_spec(ORACLE / "mamba.json"), Query(seq_len=16_384, batch=2, gpu="h100"), model_id="m")
    assert est.memory.kv_cache == 2 * 32 * (1_536 * 16 * 4 + 1_536 * 4 * 2)
    _, how = _how(est, "KV cache")
    assert how == "3.38 MiB of recurrent state x 2 sequences, bf16"
    assert " · no attention · " in report.header(est)
    _, act_how = _how(est, "Activations")
    assert act_how.endswith(", no attention") and "fused" not in act_how


def test_a_hybrid_model_under_transformers_adds_its_state() -> None:
    # Jamba-1.5-Mini: 4 attention layers x 8 KV heads x 128 x (K + V) x 2 B = 16 KiB per token; the 28
    # Mamba layers' states are per sequence. Split over 3 GPUs, the busiest holds one attention layer.
    for gpus, per_token in ((1, "16 KiB"), (3, "4 KiB")):
        est = estimate(
            _spec(CONFIGS / "ai21labs__AI21-Jamba-1.5-Mini.json"),
            Query(seq_len=32_768, batch=4, gpu="h100", gpus=gpus),
            model_id="m",
        )
        _, how = _how(est, "KV cache")
        assert how.startswith(f"({per_token} per token x 32,768 tokens + ") and "of recurrent state) x 4" in how
        assert_rows_multiply_out(est)


def overhead_said(how: str) -> float:
    """The bytes an overhead line states: ``name A + name B + name C GiB (...)``."""
    head = how.split(" GiB", 1)[0]
    return sum(float(x) for x in re.findall(r"(\d+\.\d+)", head)) * GIB


def test_transformers_overhead_says_its_parts() -> None:
    # gpt-oss-20b at s=16k runs eager attention: one layer's scores are 1 x 64 heads x 16,384^2 =
    # 17,179,869,184 elements, and about one fp32 tensor of them (4 B each, 64 GiB) stays stranded
    # (bench/README.md); the CUDA context is 720 MiB (0.70 GiB).
    est = estimate(_spec(CONFIGS / "openai__gpt-oss-20b.json"), Query(seq_len=16_384, gpu="h100"), model_id="m")
    overhead, how = _how(est, "Overhead")
    assert how.startswith("CUDA context 0.70 + allocator reserve ")
    assert " + eager score blocks 64.00 GiB (" in how and "4 B x 17,179,869,184 eager score elements" in how
    assert overhead_said(how) == pytest.approx(overhead, abs=0.016 * GIB)
    # Fused attention (phi-4, sdpa): no score blocks, the reserve is 64 MiB + 12% of the activations.
    est = estimate(_spec(CONFIGS / "microsoft__phi-4.json"), Query(seq_len=16_384, gpu="h100"), model_id="m")
    overhead, how = _how(est, "Overhead")
    assert "score" not in how and "(reserve: 64 MiB + 12% of the " in how
    reserve = overhead - 720 * 2**20
    assert reserve == 64 * 2**20 + int(0.12 * est.memory.activations)
    assert overhead_said(how) == pytest.approx(overhead, abs=0.011 * GIB)


@pytest.mark.parametrize("path", EVERY_CONFIG, ids=lambda p: p.name)
def test_every_transformers_kv_line_multiplies_out(path: Path) -> None:
    for query in (Query(gpu="h100", seq_len=5000, batch=3), Query(gpus=2, gpu="a100", seq_len=9000, batch=2)):
        try:
            est = estimate(_spec(path), query, model_id="m")
        except VramError:
            continue  # refused to be sized: nothing to check
        kv, how = _how(est, "KV cache")
        if "windowed layers keep less" in how or how.startswith("off"):
            continue  # a sliding window's share is not stated
        assert kv_said(how) == pytest.approx(kv, rel=0.005), how


def test_the_active_count_does_not_follow_a_format_in_parentheses() -> None:
    # "in nvfp4 (compressed-tensors) (3.91B active per token)" read as two asides in a row.
    est = estimate(_spec(CAL / "qwen3_6_35b_a3b_nvfp4.json"), Query(seq_len=16_384, gpu="b200"), model_id="m")
    _, how = _how(est, "Weights")
    assert how.startswith("35.11B parameters (3.91B active per token) in nvfp4 (compressed-tensors)")
    assert ") (" not in how
