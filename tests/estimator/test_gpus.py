"""The GPU catalog: CUDA-reported totals, aliases, and clear errors."""

import json
from pathlib import Path

import pytest

from common.errors import InputError
from estimator.config import load_model_spec
from estimator.engines.vllm import VllmGpu, batch_defaults, vllm_gpu
from estimator.estimate import estimate
from estimator.gpus import catalog, lookup_gpu
from estimator.query import Query

CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "configs"


def test_catalog_size_and_vendors() -> None:
    gpus = catalog()
    assert len(gpus) >= 20
    assert {g.vendor for g in gpus} >= {"nvidia", "amd"}
    assert len({g.key for g in gpus}) == len(gpus)
    for gpu in gpus:
        assert gpu.source, gpu.key
        # Every total is what the driver reports: a little under the marketing size, never a round GB figure.
        assert gpu.memory_bytes % 10**9 != 0, gpu.key


def test_h100_is_what_cuda_reports() -> None:
    # interface.md: an H100 80GB HBM3 reports 85,030,617,088 bytes = 79.19 GiB.
    h100 = lookup_gpu("h100")
    assert h100.key == "h100-80gb"
    assert h100.memory_bytes == 85_030_617_088
    assert round(h100.memory_bytes / 2**30, 2) == 79.19


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("H100", "h100-80gb"),
        ("h100-80gb", "h100-80gb"),
        ("a100-40gb", "a100-40gb"),
        ("A100 80GB", "a100-80gb"),
        ("rtx4090", "rtx-4090"),
        ("RTX 4090", "rtx-4090"),
        ("l4", "l4"),
        ("mi300x", "mi300x"),
    ],
)
def test_aliases(typed: str, key: str) -> None:
    assert lookup_gpu(typed).key == key


def test_unknown_gpu_is_input_error_with_hint() -> None:
    with pytest.raises(InputError) as err:
        lookup_gpu("h1000")
    assert 'unknown GPU "h1000"' in str(err.value)
    assert err.value.exit_code == 2


def test_every_entry_states_its_capabilities() -> None:
    # NVIDIA: bf16 from compute capability 8.0 (Ampere) on; the capability is what vLLM's kernel
    # choices read. Others carry no CUDA capability.
    for gpu in catalog():
        if gpu.vendor == "nvidia":
            assert gpu.compute_capability is not None, gpu.key
            assert gpu.bf16 == (gpu.compute_capability >= (8, 0)), gpu.key
        else:
            assert gpu.compute_capability is None, gpu.key
        assert gpu.family and gpu.family == gpu.family.lower(), gpu.key


def test_vllm_reads_the_record_not_the_key() -> None:
    h100, a100, b200, rtx5090, mi300x = (lookup_gpu(k) for k in ("h100", "a100-80gb", "b200", "rtx-5090", "mi300x"))
    assert vllm_gpu(h100) == VllmGpu(mxfp4_moe_backend="triton", mla_import_workspaces=1)
    # 79 GiB, but vLLM keeps the small defaults on any A100 (engine/arg_utils.py get_batch_defaults).
    query = Query(engine="vllm")
    assert batch_defaults(query, a100) == (2048, 256) and batch_defaults(query, h100) == (8192, 1024)
    assert vllm_gpu(b200).mxfp4_moe_backend == "flashinfer_trtllm" and vllm_gpu(b200).mla_import_workspaces == 2
    assert vllm_gpu(rtx5090).mxfp4_moe_backend == "marlin"  # SM120: outside Triton's SM90-SM100 range
    assert vllm_gpu(mi300x) == VllmGpu(mxfp4_moe_backend="rocm", mla_import_workspaces=0)
    # A renamed key changes nothing: the facts are fields.
    renamed = h100.model_copy(update={"key": "a100-lookalike", "name": "Not an A100"})
    assert vllm_gpu(renamed) == vllm_gpu(h100)


@pytest.mark.parametrize("typed", ["gb10", "GB10", "dgx-spark", "DGX Spark", "spark"])
def test_the_dgx_spark_is_in_the_catalog(typed: str) -> None:
    # vLLM's start-up check on DGX Spark prints torch's device total, "(X/121.69 GiB)", and torch's
    # OOMs "a total capacity of 121.69 GiB": round(121.69 x 2**30) bytes, the cuda-gib basis.
    gb10 = lookup_gpu(typed)
    assert gb10.key == "gb10" and gb10.basis == "cuda-gib"
    assert gb10.memory_bytes == round(121.69 * 2**30) == 130_663_642_563
    assert gb10.compute_capability == (12, 1) and gb10.fp8 and gb10.bf16
    assert gb10.unified_memory and not lookup_gpu("h100").unified_memory


def test_unified_memory_is_flagged_in_answers() -> None:
    llama = load_model_spec(json.loads((CONFIGS / "meta-llama__Llama-3.1-8B.json").read_text()))
    est = estimate(llama, Query(gpu="gb10"), model_id="l")
    assert [w.message for w in est.warnings if w.code == "unified_memory"] == [
        "On the NVIDIA GB10 (DGX Spark) the 121.69 GiB torch reports is memory the CPU and the OS share: less of "
        "it is free when the model loads, so leave room beyond this total."
    ]
    # vLLM asks for util x the total at start-up: 0.92 x 121.69 GiB = 111.95 GiB at 0.33's default.
    est = estimate(llama, Query(gpu="gb10", engine="vllm"), model_id="l")
    (only,) = [w.message for w in est.warnings if w.code == "unified_memory"]
    assert "(0.92 x 121.69 = 111.95 GiB) is free then" in only
    # The pool is the host's at start-up (non-torch memory read from the OS's available memory), so
    # the warning says so instead of a correction: four DGX Spark logs lie 2.3 to 6.9 GiB under vram.
    assert "Its KV pool depends on the host at start-up" in only
    assert "2.3 to 6.9 GiB less pool than vram's" in only
    assert not any(w.code == "unified_memory" for w in estimate(llama, Query(gpu="h100"), model_id="l").warnings)


def test_the_a800_is_what_torch_reports() -> None:
    # tests/fixtures/gpus_sources.md: torch OOMs on A800s say "total capacity of 79.33 GiB";
    # compute capability 8.0 (Ampere): bf16, no fp8.
    gpu = lookup_gpu("a800")
    assert gpu.key == "a800-80gb" and round(gpu.memory_bytes / 2**30, 2) == 79.33
    assert gpu.compute_capability == (8, 0) and gpu.bf16 and not gpu.fp8
    assert lookup_gpu("A800-SXM4-80GB") is gpu
