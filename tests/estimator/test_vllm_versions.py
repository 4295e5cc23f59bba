"""vllm=<release>: the engine follows each profiled release's start-up rules.

Expected numbers are hand arithmetic from vLLM's source at the named release (cited per test) or
logged start-up lines (tests/fixtures/calibration2/cases.json, by case id).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from estimator.config import load_model_spec
from estimator.engines import vllm
from estimator.errors import InputError
from estimator.estimate import estimate
from estimator.gpus import lookup_gpu
from estimator.grammar import parse_query
from estimator.query import Query
from estimator.weights import weight_bytes

GiB = 1 << 30
MiB = 1 << 20
CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
LLAMA = load_model_spec(json.loads((CONFIGS / "meta-llama__Llama-3.1-8B.json").read_text()))
# Llama-3.1-8B: 32 layers x 8 KV heads x 128 x (K + V) x 2 bytes = 131,072 B per token; a 16-token
# block across all layers is 2 MiB.
LLAMA_BLOCK = 16 * 32 * 8 * 128 * 2 * 2


def q(**kw) -> Query:
    return Query(engine="vllm", **kw)


def test_grammar_reads_the_release_as_major_minor() -> None:
    for text, version in (("vllm=0.33", "0.33"), ("vllm=v0.29.1rc1.dev339+gda9888462", "0.29"),
                          ("vllm_version=0.20.2", "0.20")):
        query, _ = parse_query(["m", "engine=vllm", text])
        assert query.vllm == version
    with pytest.raises(InputError, match="vllm=latest is not a vLLM release"):
        parse_query(["m", "vllm=latest"])


def test_default_release_is_033_and_0_34_is_refused() -> None:
    assert vllm.version_profile(q())[0].version == "0.33"
    with pytest.raises(InputError, match="extensible KV cache"):
        vllm.version_profile(q(vllm="0.34"))


def test_unknown_release_gets_the_nearest_with_a_warning() -> None:
    profile, warning = vllm.version_profile(q(vllm="0.18"))
    assert profile.version == "0.19"
    assert warning is not None and "0.18" in warning and "0.19" in warning
    est = estimate(LLAMA, q(vllm="0.18", gpu="h100-80gb"), model_id="m")
    assert any("0.18 is not profiled" in w for w in est.warnings)


def test_default_util_per_release() -> None:
    # config/cache.py: gpu_memory_utilization Field(default=0.9) in 0.19.0, 0.92 from 0.20.0.
    assert vllm.util_of(q(vllm="0.19")) == 0.9
    assert vllm.util_of(q(vllm="0.20")) == 0.92
    assert vllm.util_of(q(vllm="0.33")) == 0.92
    assert vllm.util_of(q(vllm="0.33", util=0.8)) == 0.8


def test_batch_defaults_follow_the_release_and_the_gpu_record() -> None:
    # engine/arg_utils.py get_batch_defaults (vllm serve): >= 70 GiB and not an A100: 8192 / 1024;
    # from 0.28 >= 160 GiB: 16384 / 1024; from 0.33 a GB10 (cc 12.1) stays on 2048 / 256.
    h100, a100, b200 = lookup_gpu("h100"), lookup_gpu("a100-80gb"), lookup_gpu("b200")
    gb10 = h100.model_copy(update={"family": "gb10", "memory_bytes": 119 * GiB, "compute_capability": (12, 1)})
    assert vllm.batch_defaults(q(vllm="0.19"), h100) == (8192, 1024)
    assert vllm.batch_defaults(q(vllm="0.33"), a100) == (2048, 256)
    assert vllm.batch_defaults(q(vllm="0.27"), b200) == (8192, 1024)
    assert vllm.batch_defaults(q(vllm="0.28"), b200) == (16384, 1024)
    assert vllm.batch_defaults(q(vllm="0.32"), gb10) == (8192, 1024)
    assert vllm.batch_defaults(q(vllm="0.33"), gb10) == (2048, 256)
    assert vllm.batch_defaults(q(vllm="0.33", max_num_seqs=8), b200) == (16384, 8)


def test_cuda_graph_estimate_leaves_the_pool_from_0_20() -> None:
    gpu = lookup_gpu("h100")
    weights = weight_bytes(LLAMA, gpus=1)
    old = vllm.vllm_report(LLAMA, q(vllm="0.19", gpu="h100"), weights_bytes=weights, gpu=gpu)
    new = vllm.vllm_report(LLAMA, q(vllm="0.20", gpu="h100", util=0.9), weights_bytes=weights, gpu=gpu)
    assert not old.cuda_graphs_in_budget and new.cuda_graphs_in_budget
    assert old.kv_cache_memory == old.requested_memory - old.weights - old.activation_peak - old.non_torch
    assert new.kv_cache_memory == new.requested_memory - new.weights - new.activation_peak - new.non_torch \
        - new.cuda_graphs
    assert new.requested_memory == old.requested_memory
    assert new.kv_cache_memory == old.kv_cache_memory - new.cuda_graphs


def test_kv_tokens_line_semantics_per_release() -> None:
    # 0.19-0.20: num_blocks // groups x 16; 0.21+: int(num_blocks / blocks per request x max_model_len)
    # (v1/core/kv_cache_utils.py get_kv_cache_capacity). At max_model_len 5,000 a request needs
    # cdiv(5000, 16) = 313 blocks; with 1,000 blocks: 16,000 tokens vs int(1000 / 313 x 5000) = 15,974.
    pool = 1000 * LLAMA_BLOCK + 12345
    blocks, tokens, conc = vllm.kv_capacity(LLAMA, q(vllm="0.20", seq_len=5000), pool, batched_tokens=8192)
    assert (blocks, tokens) == (1000, 16_000)
    assert conc == pytest.approx(1000 / 313)
    _, tokens, _ = vllm.kv_capacity(LLAMA, q(vllm="0.21", seq_len=5000), pool, batched_tokens=8192)
    assert tokens == 15_974


def test_n045_llama_on_a40_v026_from_the_logged_pool() -> None:
    # n045: "GPU KV cache size: 195,760 tokens" at max_model_len 4,096 with 23.9 GiB logged
    # (rounded to 0.01 GiB): 12,235 blocks of 2 MiB x 16 = 195,760; int(12235 / 256 x 4096) = 195,760.
    pool = 12235 * LLAMA_BLOCK + LLAMA_BLOCK // 3
    assert round(pool / GiB, 2) == 23.9
    _, tokens, conc = vllm.kv_capacity(LLAMA, q(vllm="0.26", seq_len=4096), pool, batched_tokens=2048)
    assert tokens == 195_760
    assert round(conc, 2) == 47.79


def test_start_check_reproduces_vllms_error_and_estimated_length() -> None:
    # One request of 131,072 tokens needs 8,192 blocks of 2 MiB = 16 GiB. A 10 GiB pool holds 5,120
    # blocks; from 0.30 the null block is held back first (5,119), so the longest request is
    # 5,119 x 16 = 81,904 tokens; before 0.30, 5,120 x 16 = 81,920.
    pool = 10 * GiB
    new = vllm.start_check(LLAMA, q(vllm="0.33", seq_len=131072), pool, batched_tokens=8192)
    assert not new.fits
    assert new.estimated_max_model_len == 81_904
    assert new.error is not None
    assert new.error.startswith("To serve at least one request with the model's max seq len (131072), "
                                "(16.0 GiB KV cache is needed, which is larger than the available KV cache "
                                "memory (10.0 GiB). Based on the available memory, the estimated maximum "
                                "model length is 81904.")
    old = vllm.start_check(LLAMA, q(vllm="0.19", seq_len=131072), pool, batched_tokens=8192)
    assert old.estimated_max_model_len == 81_920
    assert old.error is not None and "models's max seq len" in old.error
    fits = vllm.start_check(LLAMA, q(vllm="0.33", seq_len=81904), pool, batched_tokens=8192)
    assert fits.fits and fits.error is None


def test_answer_names_the_release_everywhere() -> None:
    est = estimate(LLAMA, q(gpu="h100", seq_len=8192), model_id="m")
    report = est.engine_report
    assert isinstance(report, vllm.VllmReport)
    assert report.version == "0.33"
    data = est.to_json()
    assert data["vllm"]["version"] == "0.33"
    assert data["inputs"]["vllm"] is None
    line = vllm.ENGINE.summary_line(est, lambda s: s)
    assert line is not None and line.startswith("vLLM 0.33 will hold about")
    assert "util=0.92" in line
    # One capacity line from 0.28 ("GPU KV cache size: N tokens, Maximum concurrency for ...").
    assert len(report.log_lines) == 2
    assert report.log_lines[1].startswith("GPU KV cache size: ")
    assert ", Maximum concurrency for 8,192 tokens per request: " in report.log_lines[1]
    old = estimate(LLAMA, q(gpu="h100", seq_len=8192, vllm="0.27"), model_id="m").engine_report
    assert isinstance(old, vllm.VllmReport) and len(old.log_lines) == 3


def test_a_request_longer_than_the_pool_is_a_failed_start() -> None:
    # Llama-3.1-8B bf16 on an L4 (22 GiB): 16 GiB of weights leave under 4 GiB of pool at util 0.92,
    # far less than the 16 GiB one 131,072-token request needs.
    est = estimate(LLAMA, q(gpu="l4", seq_len=131072), model_id="m")
    report = est.engine_report
    assert isinstance(report, vllm.VllmReport)
    assert 0 < report.kv_cache_memory < 4 * GiB
    assert not report.starts
    expected = (report.kv_cache_memory - LLAMA_BLOCK) // LLAMA_BLOCK * 16
    assert report.estimated_max_model_len == expected
    assert any("would not start with max_model_len 131,072" in w for w in est.warnings)
