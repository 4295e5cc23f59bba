"""vLLM's CUDA-graph memory: the graphs captured (counted from vLLM's source) times what one holds.

Expected numbers: the "Profiling CUDA graph memory: PIECEWISE=N (largest=L), FULL=M (largest=K)"
lines of published start-up logs (tests/fixtures/calibration2/cases.json n027, n036, n051, n058),
their "Estimated CUDA graph memory" and "CUDA graph pool memory" figures, the v0.19 graph pools of
the llm-d capacity-planner study (Llama-3.1-8B-Instruct on H100 80GB at TP 1, 2, 4 and PP 2, 4;
shared/calibration/measurements.json), and hand arithmetic below.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from estimator.config import load_model_spec
from estimator.engines import vllm
from estimator.gpus import lookup_gpu
from estimator.pipeline import stage_spec
from estimator.query import Query

ROOT = Path(__file__).resolve().parents[2]
GiB = 1 << 30
KiB = 1 << 10


def _spec(path: str):
    return load_model_spec(json.loads((ROOT / "tests/fixtures" / path).read_text()))


LLAMA = _spec("configs/meta-llama__Llama-3.1-8B.json")
QWEN25 = _spec("configs/Qwen__Qwen2.5-7B.json")
GEMMA4 = _spec("calibration2/configs/gemma4_31b_it.json")
DSV4 = _spec("calibration2/configs/deepseek_v4_flash.json")
H100 = lookup_gpu("h100-80gb")


def _v019(gpus: int = 1, pp: int = 1) -> Query:
    # The study's starts: max_num_seqs 1,024 (v0.19's default there), 8,192 batched tokens.
    return Query(engine="vllm", vllm="0.19", gpus=gpus, pp=pp, max_num_seqs=1024, max_num_batched_tokens=8192)


def test_counts_match_the_profiling_lines() -> None:
    # n036 (0.23.0, gemma-4-31b-it, max_num_seqs 20): sizes 1, 2, 4, 8, 16, 24, 32, 40 (largest
    # 2 x 20 = 40); FULL for decode sizes up to 20: 1, 2, 4, 8, 16. "PIECEWISE=8 (largest=40), FULL=5".
    q = Query(engine="vllm", vllm="0.23", max_num_seqs=20, max_num_batched_tokens=8192)
    assert vllm.cuda_graph_counts(GEMMA4, q, lookup_gpu("h200")) == (8, 5)
    # n051 (0.22.0, Qwen2.5-7B, max_num_seqs 128, 2,048 tokens): largest 256, so 3 + 31 + 1 = 35
    # sizes; FULL up to 128: 1, 2, 4 and 8..128 by 8 = 19. "PIECEWISE=35 (largest=256), FULL=19".
    q = Query(engine="vllm", vllm="0.22", max_num_seqs=128, max_num_batched_tokens=2048)
    assert vllm.cuda_graph_counts(QWEN25, q, lookup_gpu("l40s")) == (35, 19)
    # v0.19 study: 1, 2, 4, 8..248 by 8, 256..512 by 16 = 3 + 31 + 17 = 51 sizes, all decode sizes
    # (max_num_seqs 1,024), so 51 FULL graphs as well.
    assert vllm.cuda_graph_counts(LLAMA, _v019(), H100) == (51, 51)


def test_speculative_sizes_are_rounded_to_the_decode_length() -> None:
    # n027 (0.21.1 dev, DeepSeek-V4-Flash, MTP x 2, max_num_seqs 4): decode query length 3, largest
    # 4 x 3 x 2 = 24; sizes 1, 2, 4, 8, 16, 24 round up to multiples of 3: 3, 6, 9, 18, 24; FULL for
    # 3..12: 3, 6, 9. The log: "PIECEWISE=5 (largest=24), FULL=3 (largest=9)".
    q = Query(engine="vllm", vllm="0.21", gpus=2, mtp=2, max_num_seqs=4, max_num_batched_tokens=8192)
    assert not vllm.uses_v2_runner(DSV4, q)
    assert vllm.cuda_graph_counts(DSV4, q, lookup_gpu("gb10")) == (5, 3)


def test_bytes_by_hand() -> None:
    # Per graph: 3,760 KiB + layers x (76 KiB + 75 KiB / TP) + MoE layers x 297 KiB.
    tp1 = 102 * (3760 * KiB + 32 * (76 * KiB + 75 * KiB))
    assert vllm.cuda_graph_bytes(LLAMA, _v019(), H100) == tp1
    tp4 = 102 * (3760 * KiB + 32 * (76 * KiB + 75 * KiB // 4))
    assert vllm.cuda_graph_bytes(LLAMA, _v019(gpus=4), H100) == tp4
    stage = stage_spec(LLAMA, 0, 4)  # 8 of the 32 layers
    assert vllm.cuda_graph_bytes(stage, _v019(pp=4), H100) == 102 * (3760 * KiB + 8 * 151 * KiB)
    # DeepSeek-V4-Flash, n027: 8 graphs, 43 layers (all MoE), TP 2.
    q = Query(engine="vllm", vllm="0.21", gpus=2, mtp=2, max_num_seqs=4, max_num_batched_tokens=8192)
    per_graph = 3760 * KiB + 43 * (76 * KiB + 75 * KiB // 2) + 43 * 297 * KiB
    assert vllm.cuda_graph_bytes(DSV4, q, lookup_gpu("gb10")) == 8 * per_graph


@pytest.mark.parametrize(
    ("gpus", "pp", "logged_gib"),
    [
        (1, 1, 0.91),  # "CUDA graph pool memory: 0.91 GiB (actual)", tp1pp1dp1--8192
        (2, 1, 0.76),  # tp2pp1dp1
        (4, 1, 0.67),  # tp4pp1dp1
        (1, 2, 0.65),  # tp1pp2dp1 (the first stage's line)
        (1, 4, 0.51),  # tp1pp4dp1
    ],
)
def test_v019_llama_graph_pools(gpus: int, pp: int, logged_gib: float) -> None:
    # The old per-model constant (0.92 GiB at 32 layers, whatever the TP or stage) was 21% and 37%
    # high at TP 2 and 4 and 16% high at PP 4; graphs x layers per GPU tracks all five within 10%.
    spec = stage_spec(LLAMA, 0, pp) if pp > 1 else LLAMA
    mine = vllm.cuda_graph_bytes(spec, _v019(gpus=gpus, pp=pp), H100) / GiB
    assert abs(mine / logged_gib - 1) <= 0.10


def test_newer_estimates_from_the_counts() -> None:
    # n036: 13 graphs x (3,760 + 60 x 151) KiB = 0.159 GiB; "Estimated CUDA graph memory: 0.13 GiB",
    # "CUDA graph pool memory: 0.1 GiB (actual)". The old constant scaled by 8 of 51 sizes gave 0.20.
    q = Query(engine="vllm", vllm="0.23", max_num_seqs=20, max_num_batched_tokens=8192)
    mine = vllm.cuda_graph_bytes(GEMMA4, q, lookup_gpu("h200")) / GiB
    assert 0.10 <= mine <= 0.13 * 1.25
    # n051: 54 graphs x (3,760 + 28 x 151) KiB = 0.41 GiB; logged estimate 0.37, actual 0.31. The old
    # constant scaled by 35 of 51 sizes: 0.59.
    q = Query(engine="vllm", vllm="0.22", max_num_seqs=128, max_num_batched_tokens=2048)
    mine = vllm.cuda_graph_bytes(QWEN25, q, lookup_gpu("l40s")) / GiB
    assert 0.31 <= mine <= 0.37 * 1.15
