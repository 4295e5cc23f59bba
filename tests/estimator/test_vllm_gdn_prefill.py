"""Gated DeltaNet's prefill kernel shapes vLLM 0.33's hybrid cache by GPU.

vLLM 0.33 runs Qwen's gated DeltaNet prefill on FlashInfer's kernel on Hopper, and on Blackwell for
128-wide key heads under CUDA 13 (_resolve_gdn_prefill_backend,
layers/mamba/gdn/qwen_gdn_linear_attn.py@v0.33.0); elsewhere on Triton's. Only FlashInfer's exports
prefill checkpoints in "align" mode: one more state page per layer, attention blocks aligned to its
64-token grid (platforms/interface.py ``_align_hybrid_block_size``), and a workspace of
``cdiv(max_num_batched_tokens, block)`` fp32 states. Expected numbers are page arithmetic written here;
the logged case is glq's quoted refusal (calibration2 n070, test_calibrate_versions.py).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from estimator.config import load_model_spec
from estimator.engines import vllm
from estimator.gpus import lookup_gpu
from estimator.query import Query

CONFIG = Path(__file__).resolve().parents[1] / "fixtures" / "calibration2" / "configs" / "qwen3_5_27b.json"
# Qwen3.5-27B: 16 full-attention layers (4 KV heads x 256) and 48 gated-DeltaNet layers (16 key heads
# x 128, 48 value heads x 128, conv kernel 4).
QWEN35_27B = load_model_spec(json.loads(CONFIG.read_text()))
PER_TOKEN = 4 * 256 * 2 * 2  # one attention layer's K and V per token, bf16: 4,096 B
# The GDN state per layer: conv (2 x 16 x 128 + 48 x 128 = 10,240 channels) x 3 x 2 B = 61,440 B
# + the fp32 recurrent state 48 x 128 x 128 x 4 B = 3,145,728 B.
STATE = 10_240 * 3 * 2 + 48 * 128 * 128 * 4


def q(**kw) -> Query:
    return Query(**{"engine": "vllm", "vllm": "0.33", **kw})


def needed(block: int, state_pages: int, s: int = 131_072) -> int:
    """One request of s tokens: 16 attention layers x cdiv(s, block) pages and 48 GDN layers x
    state_pages pages, every page block x 4,096 B."""
    return (16 * math.ceil(s / block) + 48 * state_pages) * block * PER_TOKEN


@pytest.mark.parametrize(
    ("gpu", "flashinfer"),
    [
        ("h100", True),
        ("h200", True),
        ("h20", True),
        ("gh200", True),
        ("b200", True),
        ("b300", True),
        ("gb10", True),
        ("rtx-5090", True),
        ("rtx-pro-6000", True),
        ("a100-80gb", False),
        ("l40s", False),
        ("rtx-4090", False),
        ("v100-32gb", False),
        ("mi300x", False),
    ],
)
def test_prefill_backend_follows_the_gpu(gpu: str, flashinfer: bool) -> None:
    assert vllm.gdn_flashinfer_prefill(lookup_gpu(gpu), 128) is flashinfer
    # Blackwell needs 128-wide key heads; Hopper takes any.
    assert vllm.gdn_flashinfer_prefill(lookup_gpu(gpu), 64) is (flashinfer and gpu in ("h100", "h200", "h20", "gh200"))


def test_no_gpu_named_takes_the_h100s_kernel() -> None:
    assert vllm.gdn_flashinfer_prefill(None, 128)
    assert vllm.kv_layout(QWEN35_27B, q())[0].block_size == 832


def test_flashinfer_gpus_align_blocks_to_64_and_add_the_checkpoint_page() -> None:
    # 16 x cdiv(3,207,168, 16 x 4,096) = 784 tokens with Triton's prefill; FlashInfer's aligns to
    # lcm(16, 64) = 64: 64 x cdiv(3,207,168, 64 x 4,096) = 832.
    assert STATE == 3_207_168
    assert 16 * math.ceil(STATE / (16 * PER_TOKEN)) == 784
    assert 64 * math.ceil(STATE / (64 * PER_TOKEN)) == 832
    for gpu, block, pages in (("h100", 832, 3), ("rtx-5090", 832, 3), ("l40s", 784, 2), ("mi300x", 784, 2)):
        query = q(gpu=gpu, seq_len=131_072)
        layout, _ = vllm.kv_layout(QWEN35_27B, query)
        assert layout.block_size == block, gpu
        check = vllm.start_check(QWEN35_27B, query, 0, batched_tokens=8192)
        assert check.needed_bytes == needed(block, pages), gpu
    # glq's quoted refusal on a 32 GB card: "8.48 GiB KV cache is needed"; Triton's layout prints 8.33.
    assert f"{needed(832, 3) / 2**30:.2f}" == "8.48"
    assert f"{needed(784, 2) / 2**30:.2f}" == "8.33"


def test_032_and_prefix_off_keep_triton_s_layout_on_an_h100() -> None:
    # 0.32 has no GDN checkpoint; without prefix caching ("none" mode) no layer exports one.
    for query in (q(gpu="h100", vllm="0.32"), q(gpu="h100", prefix_caching=False)):
        layout, _ = vllm.kv_layout(QWEN35_27B, query)
        assert layout.block_size == 784 and not layout.prefill_checkpoints
        assert vllm.gdn_checkpoint_workspace_bytes(QWEN35_27B, query, 8192) == 0


def test_olmo_hybrids_gdn_exports_no_checkpoint() -> None:
    # OlmoHybridGatedDeltaNetAttention subclasses the base GDN layer, not Qwen's exporting one. On this
    # shape its state is vram's OLMo-hybrid one (recurrent state in the model dtype): 61,440 +
    # 48 x 128 x 128 x 2 B = 1,634,304 B, so 16 x cdiv(1,634,304, 65,536) = 400-token blocks and 2
    # pages (64-token alignment would give 448, a checkpoint page 3).
    olmo = QWEN35_27B.model_copy(update={"model_type": "olmo_hybrid"})
    query = q(gpu="h100", seq_len=131_072)
    assert vllm.kv_layout(olmo, query)[0].block_size == 16 * math.ceil(1_634_304 / (16 * PER_TOKEN)) == 400
    assert vllm.start_check(olmo, query, 0, batched_tokens=8192).needed_bytes == needed(400, 2)


def test_checkpoint_workspace_is_in_the_activation_peak() -> None:
    # cdiv(8,192 batched tokens, 832) = 10 states of 48 value heads x 128 x 128 x 4 B: 31,457,280 B,
    # halved per GPU at TP 2 (24 heads each, cdiv(8,192, 832) still 10).
    h100 = lookup_gpu("h100")
    one = vllm.gdn_checkpoint_workspace_bytes(QWEN35_27B, q(gpu="h100"), 8192)
    assert one == 10 * 48 * 128 * 128 * 4 == 31_457_280
    two = vllm.gdn_checkpoint_workspace_bytes(QWEN35_27B, q(gpu="h100", gpus=2), 8192)
    assert two == 10 * 24 * 128 * 128 * 4
    assert vllm.gdn_checkpoint_workspace_bytes(QWEN35_27B, q(gpu="l40s"), 8192) == 0
    # Under the text run's peak, and kept after it (0.34's extensible cache counts it as resident):
    # the same model as OLMo-hybrid (no checkpoint) differs by exactly the workspace.
    olmo = QWEN35_27B.model_copy(update={"model_type": "olmo_hybrid"})
    peak, where = vllm.activation_peak(QWEN35_27B, q(gpu="h100", seq_len=32_768), gpu=h100)
    assert "GDN checkpoint workspace (30.0 MiB)" in where
    without, _ = vllm.activation_peak(olmo, q(gpu="h100", seq_len=32_768), gpu=h100)
    assert peak - without == one
    at_034 = q(gpu="h100", vllm="0.34", seq_len=32_768)
    kept = vllm.persistent_runner_bytes(QWEN35_27B, at_034, gpu=h100)
    assert kept - vllm.persistent_runner_bytes(olmo, at_034, gpu=h100) == one


def test_moe_buffers_share_the_workspace() -> None:
    # Qwen3.5-35B-A3B (calibration2 qwen3_5_moe.json): 32 value heads x 128 x 128 x 4 B per state,
    # blocks of 64 x cdiv(2,146,304, 64 x 2,048) = 1,088 tokens, so cdiv(8,192, 1,088) = 8 states:
    # 16 MiB. The fused experts take their buffers from the same workspace (8,192 tokens x 8 slots x
    # (3 x 512 + 2,048) x 2 B = 469,762,048 B), which already holds it: nothing is added.
    moe = load_model_spec(json.loads((CONFIG.parent / "qwen3_5_moe.json").read_text()))
    query = q(gpu="h100")
    assert vllm.gdn_checkpoint_workspace_bytes(moe, query, 8192) == 8 * 32 * 128 * 128 * 4
    assert 8192 * 8 * (3 * 512 + 2048) * 2 == 469_762_048
    assert vllm.gdn_workspace_beyond_moe(moe, query, 8192) == 0


def test_minicpm_v_over_qwen35_exports_checkpoints_too() -> None:
    # MiniCPM-V 4.6 builds vLLM's Qwen3_5ForCausalLM (models/minicpmv4_6.py@v0.33.0): its GDN layers
    # are Qwen's, so an H100 aligns its blocks to 64 and adds the checkpoint page; an L40S does not.
    config = Path(__file__).resolve().parents[1] / "fixtures" / "oracle" / "configs" / "minicpmv4_6.json"
    spec = load_model_spec(json.loads(config.read_text()))
    assert spec.model_type == "minicpmv4_6"
    on_h100, _ = vllm.kv_layout(spec, q(gpu="h100"))
    on_l40s, _ = vllm.kv_layout(spec, q(gpu="l40s"))
    assert on_h100.prefill_checkpoints and on_h100.block_size % 64 == 0
    assert not on_l40s.prefill_checkpoints
    pages = (
        {t.mamba_blocks for t in on_h100.types if t.kind == "mamba"},
        {t.mamba_blocks for t in on_l40s.types if t.kind == "mamba"},
    )
    assert pages == ({3}, {2})
