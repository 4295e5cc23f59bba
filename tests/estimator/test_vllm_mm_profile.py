"""vLLM's multimodal encoder profile run for the Qwen ViTs (estimator.engines.vllm.encoder_profile).

Expected numbers are hand arithmetic from vLLM's source (models/qwen2_vl.py, qwen2_5_vl.py,
qwen3_vl.py, multimodal/encoder_budget.py @v0.27.1 / v0.23.0) and the checkpoints' processor configs,
checked against the start-up logs of tests/fixtures/calibration2/cases.json (by case id).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from estimator.config import load_model_spec
from estimator.engines import vllm
from estimator.gpus import lookup_gpu
from estimator.query import Query

GiB = 1 << 30
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
QWEN35_27B = load_model_spec(json.loads((FIXTURES / "calibration2" / "configs" / "qwen3_5_27b.json").read_text()))
QWEN35_MOE = load_model_spec(json.loads((FIXTURES / "calibration2" / "configs" / "qwen3_5_moe.json").read_text()))
QWEN25_VL = load_model_spec(json.loads((FIXTURES / "configs" / "Qwen__Qwen2.5-VL-7B-Instruct.json").read_text()))
ORACLE_QWEN3_VL = FIXTURES / "oracle" / "configs" / "qwen3_vl.json"
CASES = {c["id"]: c for c in json.loads((FIXTURES / "calibration2" / "cases.json").read_text())}


def q(**kw) -> Query:
    return Query(engine="vllm", **kw)


def test_qwen3_5_profiles_the_processors_largest_image() -> None:
    # Qwen3.5 / Qwen3.6 / Qwen3-VL preprocessor_config.json: longest_edge 16,777,216 px = 4096 x 4096;
    # patch 16 x merge 2 = 32 px per merged token: (4096 / 32)^2 = 16,384 tokens, x 4 = 65,536 patches
    # (the learned position grid, 48 x 48 x 4 = 9,216 patches, was what vram sized before).
    assert QWEN35_27B.vision is not None and QWEN35_27B.vision.image_size == 4096
    # n035 (v0.20.0, Qwen3.6-35B-A3B, max_num_batched_tokens 4,096, max_model_len 65,536, 1 sequence):
    # budget max(4,096, 16,384) = 16,384 -> 1 item.
    n035 = CASES["n035"]
    assert "budget of 16384 tokens, and profiled with 1 image items" in json.dumps(n035["measured"])
    profile = vllm.encoder_profile(
        QWEN35_MOE, q(vllm="0.20", seq_len=65536, max_num_batched_tokens=4096, max_num_seqs=1), None
    )
    assert profile is not None
    assert (profile.modality, profile.items, profile.tokens_per_item) == ("image", 1, 16_384)
    assert profile.patches_per_item == 65_536


def test_qwen3_5_position_bytes_by_hand_at_tp2() -> None:
    # Qwen3.5-27B ViT: width 1152, MLP 4304, 16 heads (head_dim 72), patches 3 x 2 x 16 x 16 = 1536.
    # TP 2: attention 3 x 1152 + 8 x 576 + 1152 (the all-reduce's copy) = 9,216 elements; MLP
    # 2 x 1152 + max(2 x 2152, 2152 + 1152 + 1152) = 6,760; held: pixels 1,536 + cos/sin 72 +
    # position embeddings 1,152. (9,216 + 2,760) x 2 B = 23,952 B per patch.
    profile = vllm.encoder_profile(
        QWEN35_27B, q(gpus=2, seq_len=262_144, max_num_batched_tokens=8192, max_num_seqs=2), None
    )
    assert profile is not None and profile.items == 1
    assert profile.patch_bytes == (9_216 + 1_536 + 72 + 1_152) * 2 == 23_952
    # The encoder outputs the cache holds through the text run: 16,384 tokens x 5,120 x 2 B.
    assert profile.output_bytes == 16_384 * 5_120 * 2


def test_n017_activation_is_the_encoder_run() -> None:
    # n017 (v0.27.1, Qwen3.8-27B FP8, TP 2 on two RTX 5090, max_num_batched_tokens 8,192, 2 sequences):
    # "1.59 GiB for peak activation", which on 0.27 includes the applied CUDA-graph estimate ("CUDA
    # graph pool memory: 0.09 GiB (actual), 0.13 GiB (estimated)"): 1.46 GiB of torch peak.
    # vram: 65,536 patches x 23,952 B = 1,569,718,272 B = 1.462 GiB.
    assert "1.59 GiB for peak activation" in CASES["n017"]["measured"]["memory_profile_breakdown_tp0"]
    query = q(
        vllm="0.27",
        gpus=2,
        gpu="rtx-5090",
        seq_len=262_144,
        max_num_batched_tokens=8192,
        max_num_seqs=2,
        weight_format="fp8",
    )
    peak, where = vllm.activation_peak(QWEN35_27B, query, gpu=lookup_gpu("rtx-5090"))
    assert peak == 65_536 * 23_952
    assert abs(peak / GiB - (1.59 - 0.13)) < 0.02
    assert where == "vision encoder dummy run: 1 image, 65,536 patches"


def test_n003_batches_two_images_and_holds_their_outputs() -> None:
    # n003 (v0.26.0, Qwen3.5-35B-A3B, TP 4, max_num_batched_tokens 40,000, max_model_len 183,872):
    # 40,000 // 16,384 = 2 images in one encoder forward (131,072 patches). At TP 4: attention
    # 3 x 1152 + 8 x 288 + 1152 = 6,912; MLP 2304 + max(2152, 1076 + 2304) = 5,684; + 2,760 held:
    # 9,672 x 2 B = 19,344 B per patch, 2.36 GiB, under the MoE forward at 40,000 tokens; the two
    # images' outputs (2 x 16,384 tokens x 3,584 x 2 B) stay cached through that forward.
    query = q(vllm="0.26", gpus=4, gpu="h100", seq_len=183_872, max_num_batched_tokens=40_000)
    profile = vllm.encoder_profile(QWEN35_MOE, query, lookup_gpu("h100"))
    assert profile is not None
    assert (profile.items, profile.patch_bytes) == (2, 19_344)
    assert profile.output_bytes == 2 * 16_384 * 3_584 * 2
    with_outputs, _ = vllm.activation_peak(QWEN35_MOE, query, gpu=lookup_gpu("h100"))
    text_only, _ = vllm.activation_peak(QWEN35_MOE, query.model_copy(update={"mm_limit": 0}), gpu=lookup_gpu("h100"))
    assert with_outputs - text_only == 2 * 16_384 * 3_584 * 2
    assert text_only > 2 * 65_536 * 19_344


def test_qwen2_5_vl_profiles_a_video_that_fills_max_model_len() -> None:
    # Qwen2.5-VL-7B: max_pixels 12,845,056 = 3584^2, 28 px per merged token -> 16,384 tokens per frame
    # pair. max_model_len 128,000 holds 7 pairs = 14 frames (the cap): 7 x 16,384 = 114,688 tokens,
    # n058's "budget of 114688 tokens, and profiled with 1 video items" (v0.23.0).
    assert "budget of 114688 tokens, and profiled with 1 video items" in json.dumps(CASES["n058"]["measured"])
    query = q(vllm="0.23", gpu="a100-sxm4-80gb", seq_len=128_000)
    profile = vllm.encoder_profile(QWEN25_VL, query, lookup_gpu("a100-sxm4-80gb"))
    assert profile is not None
    assert (profile.modality, profile.items, profile.frames) == ("video", 1, 14)
    assert profile.tokens_per_item == 114_688 and profile.patches_per_item == 458_752
    # Width 1280, gated MLP 3420, TP 1: attention 11 x 1280 = 14,080; MLP 2 x 1280 + 4 x 3420 =
    # 16,240 (gate_up, silu(gate) and the product live together); + pixels 3 x 2 x 14 x 14 = 1,176
    # + cos/sin 80 -> 17,496 x 2 B = 34,992 B per patch; x 458,752 = 14.95 GiB.
    assert profile.patch_bytes == 34_992
    # The log: util 0.22 x 79.15 GiB = 17.41 GiB, weights 15.67, pool -14.28, graph estimate 0.53:
    # activation + non-torch = 17.41 - 15.67 + 14.28 - 0.53 = 15.49 GiB; vram 14.95 + 0.25.
    peak, where = vllm.activation_peak(QWEN25_VL, query, gpu=lookup_gpu("a100-sxm4-80gb"))
    assert peak == 458_752 * 34_992
    assert abs((peak / GiB + 0.25) - (0.22 * 79.15 - 15.67 + 14.28 - 0.53)) < 0.05 * 15.49
    assert where == "vision encoder dummy run: 1 video of 14 frames, 458,752 patches"


def test_short_context_and_limits() -> None:
    # max_model_len 4,096 holds no frame pair: one frame, padded to the temporal patch: 16,384 tokens,
    # a tie with the image that goes to "video".
    profile = vllm.encoder_profile(QWEN25_VL, q(seq_len=4096), None)
    assert profile is not None and (profile.frames, profile.tokens_per_item) == (1, 16_384)
    # mm=0 starts text only: no encoder profile at all.
    assert vllm.encoder_profile(QWEN25_VL, q(seq_len=4096, mm_limit=0), None) is None
    # max_num_batched_tokens 40,000 at one image per prompt (mm=1) and one sequence: 1 item.
    one = vllm.encoder_profile(
        QWEN35_MOE, q(seq_len=183_872, max_num_batched_tokens=40_000, max_num_seqs=1, mm_limit=1), None
    )
    assert one is not None and one.items == 1


def test_qwen3_vl_deepstack_outputs_stay_alive_through_the_last_blocks() -> None:
    # Qwen3VLConfig defaults (the transformers oracle's saved config): ViT width 1152, MLP 4304,
    # 16 heads, deepstack layers [8, 16, 24] of the 27, out_hidden_size 3584. TP 1: attention
    # 3 x 1152 + 8 x 1152 = 12,672 (over the MLP's 2 x 1152 + 2 x 4304 = 10,912); held: pixels
    # 1,536 + cos/sin 72 + positions 1,152 + the three deepstack outputs, 3 x 3584 per 4
    # positions = 2,688. 18,120 x 2 B = 36,240 B per position.
    if not ORACLE_QWEN3_VL.exists():
        pytest.skip("the oracle fixture is not in this checkout")
    spec = load_model_spec(json.loads(ORACLE_QWEN3_VL.read_text()))
    assert spec.vision is not None and spec.vision.output_width == 4 * 3584
    profile = vllm.encoder_profile(spec, q(seq_len=32_768, max_num_batched_tokens=8192), None)
    assert profile is not None and profile.patch_bytes == 36_240
    # The outputs the cache holds: 16,384 tokens x (3584 x 4 levels) x 2 B.
    assert profile.output_bytes == 16_384 * 14_336 * 2
