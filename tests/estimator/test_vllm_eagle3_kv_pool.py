"""An EAGLE-3 head's KV layer shares the target's pool: Qwen3-8B-AWQ on one RTX 5070 Ti, vLLM 0.30.0 and
0.31.0, with and without RedHatAI/Qwen3-8B-Thinking-speculator.eagle3 (calibration2 n064-n067, the
pinned-image bump records of Burbanit0/Vote-App).

Expected numbers are the logged ones ("KV cache X GiB, N tokens, Cx concurrency at 16,384" in the
author's tables) and hand arithmetic: Qwen3-8B caches 36 layers x 8 KV heads x (128 + 128) x 2 B =
147,456 B per token; a block is 16 tokens. The pool is printed to 0.01 GiB, so the logged count must
lie between the counts at the two ends of that rounding.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from estimator.config import load_model_spec
from estimator.draft import read_drafter, speculators_layer_config
from estimator.engines import vllm
from estimator.query import Query

ROOT = Path(__file__).resolve().parents[2]
GiB = 1 << 30
HALF_HUNDREDTH = GiB // 200
QWEN3_8B = load_model_spec(json.loads((ROOT / "tests/fixtures/configs/Qwen__Qwen3-8B.json").read_text()))
DRAFTER_ID = "RedHatAI/Qwen3-8B-Thinking-speculator.eagle3"

# The head as vLLM reads a speculators checkpoint: its layer under transformer_layer_config. Known of
# this checkpoint (a public mirror's card, huggingface.co/minseokim25/Qwen3-8B-Eagle3-NeMoRL-RedhatAI-
# thinking): speculators format, norm_before_residual true, eagle_aux_hidden_state_layer_ids null,
# rope_theta 10000, embed_tokens shipped; vLLM resolves it as Eagle3LlamaForCausalLM (the project's
# start-up). Its attention is what the logged counts below imply: one layer of 8 KV heads x 128 at
# the target's width. intermediate_size and draft_vocab_size are not known; they change the head's
# weights, which these tests do not check, and not its KV cache.
HEAD_CONFIG = {
    "architectures": ["Eagle3Speculator"],
    "speculators_model_type": "eagle3",
    "norm_before_residual": True,
    "eagle_aux_hidden_state_layer_ids": None,
    "draft_vocab_size": 32000,
    "transformer_layer_config": {
        "model_type": "llama",
        "hidden_size": 4096,
        "intermediate_size": 12288,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "head_dim": 128,
        "num_hidden_layers": 1,
        "vocab_size": 151936,
        "rms_norm_eps": 1e-06,
        "rope_theta": 10000.0,
        "max_position_embeddings": 40960,
    },
}
HEAD_TENSORS = ("embed_tokens.weight", "layers.0.self_attn.q_proj.weight", "fc.weight", "norm.weight", "lm_head.weight")
WITH_HEAD = QWEN3_8B.model_copy(
    update={
        "drafter": read_drafter(
            DRAFTER_ID,
            HEAD_CONFIG,
            load_model_spec(speculators_layer_config(HEAD_CONFIG)),
            HEAD_TENSORS,
        )
    }
)


def _query(release: str, *, head: bool) -> Query:
    extra = {"draft": DRAFTER_ID, "spec": 3} if head else {}
    return Query(engine="vllm", vllm=release, seq_len=16_384, gpus=1, util=0.88 if head else 0.8, **extra)


def _tokens_over_rounding(spec, query: Query, printed_gib: float) -> tuple[int, int]:
    """The token counts at the two ends of a pool printed as ``printed_gib``."""
    pool = int(printed_gib * GiB)
    low = vllm.kv_capacity(spec, query, pool - HALF_HUNDREDTH, batched_tokens=8192)[1]
    high = vllm.kv_capacity(spec, query, pool + HALF_HUNDREDTH - 1, batched_tokens=8192)[1]
    return low, high


def test_without_speculation_030() -> None:
    # n064: "KV cache 3.67 GiB (26,704 tokens, 1.63x concurrency at 16,384)". 26,704 / 16 = 1,669
    # blocks of 16 x 147,456 = 2,359,296 B; 1,669 / (16,384 / 16) = 1.63.
    query = _query("0.30", head=False)
    low, high = _tokens_over_rounding(QWEN3_8B, query, 3.67)
    assert low <= 26_704 <= high
    blocks, tokens, concurrency = vllm.kv_capacity(QWEN3_8B, query, 1_669 * 2_359_296, batched_tokens=8192)
    assert (blocks, tokens, round(concurrency, 2)) == (1_669, 26_704, 1.63)


@pytest.mark.parametrize(
    ("case", "release", "printed_gib", "logged_tokens", "logged_concurrency"),
    [
        ("n065, 0.30.0 cold", "0.30", 3.25, 23_024, 1.41),
        ("n066, 0.31.0 cold", "0.31", 4.34, 30_784, 1.88),
        ("n067, 0.31.0 warm restart", "0.31", 5.47, 38_784, 2.37),
    ],
)
def test_the_heads_layer_is_in_the_pool(
    case: str, release: str, printed_gib: float, logged_tokens: int, logged_concurrency: float
) -> None:
    # With the head: 37 layers x 4,096 B = 151,552 B per token, 2,424,832 B per block of 16.
    query = _query(release, head=True)
    low, high = _tokens_over_rounding(WITH_HEAD, query, printed_gib)
    assert low <= logged_tokens <= high, case
    blocks = logged_tokens // 16
    _, tokens, concurrency = vllm.kv_capacity(WITH_HEAD, query, blocks * 2_424_832, batched_tokens=8192)
    assert (tokens, round(concurrency, 2)) == (logged_tokens, logged_concurrency), case
    # The target alone would count more tokens from the same pool: 3.25 GiB -> 1,479 blocks of
    # 2,359,296 B = 23,664 tokens, not the logged 23,024.
    alone = _query(release, head=False)
    assert _tokens_over_rounding(QWEN3_8B, alone, printed_gib)[0] > logged_tokens, case


def test_the_target_alone_at_325_gib() -> None:
    # The hand figure quoted above: 3.25 GiB = 3,489,660,928 B; // 2,359,296 = 1,479 blocks.
    assert vllm.kv_capacity(QWEN3_8B, _query("0.30", head=False), int(3.25 * GiB), batched_tokens=8192)[1] == 23_664
