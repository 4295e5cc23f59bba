"""block= (vLLM --block-size): the cache block of attention-only models as given.

platforms/interface.py@v0.33.0 update_block_size_for_backend keeps a user's block size
(``user_specified_block_size``) where an attention-only model needs no page alignment. Llama-3.1-8B:
32 layers x 8 KV heads x 128 x (K + V) x 2 B = 131,072 B (128 KiB) per token.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from common.errors import InputError, UnmodelledError
from estimator.config import load_model_spec
from estimator.estimate import estimate
from estimator.grammar import parse_settings, query_with
from estimator.query import Query

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
LLAMA = load_model_spec(json.loads((FIXTURES / "meta-llama__Llama-3.1-8B.json").read_text()))
PER_TOKEN = 32 * 8 * 128 * 2 * 2
POOL = 8 << 30


@pytest.mark.parametrize("block", [16, 32, 64, 128, 256])
def test_the_pool_is_cut_into_blocks_of_the_size_asked(block: int) -> None:
    q = Query(engine="vllm", gpu="h100", vllm="0.33", kv_cache_memory=POOL, seq_len=8192, block_size=block)
    v = estimate(LLAMA, q, model_id="m").to_json()["vllm"]
    assert v["block_size"] == block
    assert v["num_gpu_blocks"] == POOL // (block * PER_TOKEN)  # 65,536 tokens' worth, whole blocks
    assert v["kv_cache_tokens"] == 65_536


def test_a_larger_block_rounds_each_request_up_further() -> None:
    # 8,000 tokens: 500 blocks of 16 (8,000 tokens) or 63 of 128 (8,064); from 0.29 one block of the
    # pool is the null block. 4,096 - 1 = 4,095 blocks of 16 hold 8 requests; 512 - 1 = 511 of 128 hold 8
    # (8 x 63 = 504), and the longest request is 511 x 128 = 65,408 tokens, not 4,095 x 16 = 65,520.
    def answer(block: int) -> dict[str, object]:
        q = Query(engine="vllm", gpu="h100", vllm="0.33", kv_cache_memory=POOL, seq_len=8000, block_size=block)
        return estimate(LLAMA, q, model_id="m").to_json()

    small, large = answer(16), answer(128)
    assert small["vllm"]["num_gpu_blocks"] == 4096 and large["vllm"]["num_gpu_blocks"] == 512  # type: ignore[index]
    assert small["fit"]["max_seq_len"] == 4095 * 16  # type: ignore[index]
    assert large["fit"]["max_seq_len"] == 511 * 128  # type: ignore[index]


def test_default_is_the_releases_block() -> None:
    for release, block in (("0.33", 16), ("0.34", 64)):
        q = Query(engine="vllm", gpu="h100", vllm=release, kv_cache_memory=POOL)
        assert estimate(LLAMA, q, model_id="m").to_json()["vllm"]["block_size"] == block  # type: ignore[index]


@pytest.mark.parametrize(
    ("config", "kind"),
    [("deepseek-ai__DeepSeek-V2-Lite-Chat.json", "MLA attention"), ("ai21labs__AI21-Jamba-1.5-Mini.json", "states")],
)
def test_models_whose_pages_vllm_aligns_are_not_sized(config: str, kind: str) -> None:
    spec = load_model_spec(json.loads((FIXTURES / config).read_text()))
    with pytest.raises(UnmodelledError, match=kind):
        estimate(spec, Query(engine="vllm", gpu="h100", block_size=32), model_id="m")
    estimate(spec, Query(engine="vllm", gpu="h100"), model_id="m")  # without block= it is sized


def test_the_grammar_takes_multiples_of_16_up_to_256() -> None:
    assert query_with(Query(), parse_settings(["block=32"])).block_size == 32
    for bad in ("24", "512", "0", "abc"):
        with pytest.raises(InputError, match="block="):
            parse_settings([f"block={bad}"])


def test_with_transformers_it_is_a_vllm_setting_that_changes_nothing() -> None:
    est = estimate(LLAMA, Query(block_size=32), model_id="m")
    assert any("block" in w.message and "engine=vllm" in w.message for w in est.warnings)


def test_deepseek_v4s_own_block_is_taken_and_sized_as_without_it() -> None:
    # --block-size 256 is V4_FLASHMLA_SPARSE's only kernel block, the default vram sizes DeepSeek-V4
    # with, and what its recipes pass (calibration2 n004-n007, n027): the same answer as without it.
    # Another size is not modelled.
    spec = load_model_spec(
        json.loads(
            (
                Path(__file__).resolve().parents[1] / "fixtures" / "calibration2" / "configs" / "deepseek_v4_flash.json"
            ).read_text()
        )
    )
    base = Query(engine="vllm", vllm="0.26", gpu="h20", gpus=2, util=0.95, seq_len=121_344, kv="fp8", mtp=1)
    without = estimate(spec, base, model_id="m").to_json()["vllm"]
    given = estimate(spec, base.model_copy(update={"block_size": 256}), model_id="m").to_json()["vllm"]
    assert (
        given["kv_cache_tokens"] == without["kv_cache_tokens"] and given["num_gpu_blocks"] == without["num_gpu_blocks"]
    )
    with pytest.raises(UnmodelledError, match="compressed attention"):
        estimate(spec, base.model_copy(update={"block_size": 64}), model_id="m")
