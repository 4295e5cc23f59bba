"""kvmem= (vLLM --kv-cache-memory-bytes): the KV pool per GPU as given.

vLLM still runs the profile run (it compiles) but takes the pool as given, whatever
gpu_memory_utilization says ("skipped memory profiling", v1/worker/gpu_worker.py@v0.27.1 and @v0.34.0
determine_available_memory), and 0.34's extensible KV cache is off with it (config/cache.py@v0.34.0:
"enabled on CUDA and ROCm unless kv_cache_memory_bytes is set"). Its value is a human-readable
integer (utils/argparse_utils.py@v0.34.0 human_readable_int): 20G is 20 GiB, 20g 20 x 10^9 bytes.

By hand, Qwen3-8B: 36 layers x 8 KV heads x 128 x 2 (K, V) x 2 B = 144 KiB per token; vLLM 0.34's
block of 64 tokens is 9 MiB; 20 GiB holds 20,480 // 9 = 2,275 blocks, 145,600 tokens.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from common.errors import InputError
from estimator.config import load_model_spec
from estimator.engines import vllm
from estimator.estimate import estimate
from estimator.grammar import parse_settings
from estimator.query import Query

GiB = 1 << 30
MiB = 1 << 20
SPEC = load_model_spec(
    json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "configs" / "Qwen__Qwen3-8B.json").read_text())
)


def _est(**query: object):  # type: ignore[no-untyped-def]
    return estimate(SPEC, Query(**{"engine": "vllm", "gpu": "h100", **query}), model_id="m")


def test_the_pool_is_the_one_given() -> None:
    est = _est(kv_cache_memory=20 * GiB)
    v = est.engine_report
    assert v is not None and v.kv_sizing == "fixed"
    assert v.kv_cache_memory == 20 * GiB
    assert v.num_gpu_blocks == 2_275 and v.kv_cache_tokens == 145_600
    assert v.log_lines[0].startswith("reserved 20.0 GiB memory for KV Cache as specified by kv_cache_memory_bytes")
    assert "GPU KV cache size: 145,600 tokens" in v.log_lines[1]
    # The same pool at any util: util does not size it.
    other = _est(kv_cache_memory=20 * GiB, util=0.5).engine_report
    assert other is not None and other.num_gpu_blocks == 2_275


def test_b_fits_while_the_pool_holds_it_with_the_null_block() -> None:
    # s=32,768: 512 blocks a request. 2,275 blocks less the null block hold 4 whole requests.
    fits = _est(kv_cache_memory=20 * GiB, seq_len=32_768, batch=4)
    assert fits.fit is not None and fits.fit.fits and fits.fit.max_batch == 4
    over = _est(kv_cache_memory=20 * GiB, seq_len=32_768, batch=8)
    assert over.fit is not None and not over.fit.fits
    # The pool for 8 requests and the null block: 8 x 32,768 x 144 KiB + 9 MiB = 36 GiB + 9 MiB,
    # written up to the hundredth of a GiB (36.01GiB), and it fits.
    need = vllm.kvmem_to_fit(over)
    assert need is not None and vllm.kvmem_words(need) == "36.01GiB" and need >= 36 * GiB + 9 * MiB
    at_need = _est(kv_cache_memory=need, seq_len=32_768, batch=8)
    assert at_need.fit is not None and at_need.fit.fits


def test_a_pool_past_the_device_runs_out_of_memory() -> None:
    est = _est(kv_cache_memory=200 * GiB)
    v = est.engine_report
    assert v is not None and not v.starts and v.start_error is not None
    assert "runs out of memory" in v.start_error and "kvmem=200.00GiB" in v.start_error
    assert est.fit is not None and not est.fit.fits and est.fit.max_batch == 0
    # The verdict says it once; no note blames max_model_len for it.
    assert not [w for w in est.warnings if w.code == "max_model_len_refused"]
    assert not [w for w in est.warnings if "runs out of memory" in w.message]


def test_kvmem_reads_vllm_units() -> None:
    def parsed(raw: str) -> int:
        return int(parse_settings([f"kvmem={raw}"])["kvmem"])

    assert parsed("20G") == 20 * GiB
    assert parsed("20GiB") == 20 * GiB
    assert parsed("20g") == 20 * 10**9
    assert parsed("20GB") == 20 * 10**9
    assert parsed("1.5GiB") == 3 * GiB // 2
    assert parsed("21474836480") == 20 * GiB
    for bad in ("20 bananas", "0", "2T0", "5000GiB"):
        with pytest.raises(InputError):
            parsed(bad)


def test_the_kvmem_suggested_reads_back_as_a_pool_that_holds_them() -> None:
    # 0.33, 16-token blocks of 2,359,296 B: 8 requests of 32,768 tokens and the null block take
    # 16,385 blocks, 38,657,064,960 B = 36.0022 GiB, written 36.01GiB (up, never to 36.00GiB).
    over = _est(kv_cache_memory=20 * GiB, seq_len=32_768, batch=8, vllm="0.33")
    need = vllm.kvmem_to_fit(over)
    assert need is not None and vllm.kvmem_words(need) == "36.01GiB"
    assert parse_settings([f"kvmem={vllm.kvmem_words(need)}"])["kvmem"] >= 16_385 * 2_359_296
    at_need = _est(kv_cache_memory=parse_settings(["kvmem=36.01GiB"])["kvmem"], seq_len=32_768, batch=8, vllm="0.33")
    assert at_need.fit is not None and at_need.fit.fits
    # Below a GiB in whole MiB: one 4,096-token request (576 MiB) and the null block (9 MiB) at 0.34.
    small = _est(kv_cache_memory=512 * MiB)
    assert vllm.kvmem_words(vllm.kvmem_to_fit(small) or 0) == "585MiB"
    assert _est(kv_cache_memory=585 * MiB).fit.fits and not _est(kv_cache_memory=584 * MiB).fit.fits  # type: ignore[union-attr]


def test_pipeline_stages_log_the_given_pool() -> None:
    est = _est(kv_cache_memory=20 * GiB, seq_len=32_768, batch=8, pp=2)
    v = est.engine_report
    assert v is not None and v.log_lines[0].startswith("reserved 20.0 GiB memory for KV Cache")
    assert not any(line.startswith("Available KV cache memory") for line in v.log_lines)


def test_the_largest_pool_an_overflow_names_fits() -> None:
    # phi-4 on an H100: the room beside the rest, written down to the hundredth of a GiB, fits.
    phi4 = load_model_spec(
        json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "configs" / "microsoft__phi-4.json").read_text())
    )
    over = estimate(phi4, Query(engine="vllm", gpu="h100", kv_cache_memory=400 * GiB), model_id="p")
    assert over.engine_report is not None and over.engine_report.start_error is not None
    said = over.engine_report.start_error.rpartition("at most kvmem=")[2]
    room = parse_settings([f"kvmem={said}"])["kvmem"]
    fits = estimate(phi4, Query(engine="vllm", gpu="h100", kv_cache_memory=room), model_id="p")
    assert fits.engine_report is not None and fits.engine_report.starts, said


def test_with_pipeline_stages_the_kvmem_named_holds_them_on_every_rank() -> None:
    # Qwen3-8B's 36 layers over 5 ranks: 7, 7, 7, 8, 7 (get_pp_indices gives the extra one to the
    # rank before the last). Every rank gets the same pool, so the 8-layer rank sets the need.
    over = _est(kv_cache_memory=GiB, seq_len=32_768, batch=4, pp=5)
    need = vllm.kvmem_to_fit(over)
    assert need is not None
    at_need = _est(kv_cache_memory=need, seq_len=32_768, batch=4, pp=5)
    assert at_need.fit is not None and at_need.fit.fits


def test_a_decimal_size_is_shown_as_the_bytes_it_is() -> None:
    # kvmem=20g is 20 x 10^9 bytes (vLLM's human_readable_int), not 20 GiB: shown in decimal units,
    # which read back as the same bytes, beside its GiB.
    est = _est(kv_cache_memory=parse_settings(["kvmem=20g"])["kvmem"])
    assert vllm.kvmem_text(20 * 10**9) == "20g (18.63 GiB)" and vllm.kvmem_text(20 * GiB) == "20.00GiB"
    assert vllm.kvmem_text(500 * 10**6) == "500m (0.47 GiB)" and vllm.kvmem_text(20 * 10**9 + 1).startswith(
        "20000000001 "
    )
    for size in (20 * 10**9, 500 * 10**6):
        assert parse_settings([f"kvmem={vllm.kvmem_text(size).split()[0]}"])["kvmem"] == size
    assert est.engine_report is not None and est.engine_report.kv_cache_memory == 20 * 10**9


def test_method_classic_does_not_take_kvmem() -> None:
    with pytest.raises(InputError, match="method=classic does not size"):
        _est(kv_cache_memory=20 * GiB, method="classic")


def test_a_pool_smaller_than_the_null_block_is_no_memory_for_the_cache_blocks() -> None:
    # From 0.29 the check plans against the pool less one block (16 tokens x 144 KiB = 2.25 MiB): 1 MiB
    # leaves nothing, vLLM's "No available memory for the cache blocks" (kv_cache_planning.py@v0.33.0),
    # not a negative "available KV cache memory".
    for release in ("0.30", "0.33"):
        v = _est(kv_cache_memory=MiB, vllm=release).engine_report
        assert v is not None and v.start_error is not None
        assert v.start_error.startswith("No available memory for the cache blocks")
