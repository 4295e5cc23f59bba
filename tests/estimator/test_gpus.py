"""The GPU catalog: CUDA-reported totals, aliases, and clear errors."""

import json
import re
from pathlib import Path

import pytest

from common.errors import InputError
from estimator.config import load_model_spec
from estimator.engines.vllm import VllmGpu, batch_defaults, kv_dtype_refusal, non_torch_bytes, vllm_gpu
from estimator.estimate import estimate
from estimator.gpus import catalog, lookup_gpu
from estimator.grammar import parse_settings
from estimator.query import Query

CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
SOURCES = Path(__file__).resolve().parents[1] / "fixtures" / "gpus_sources.md"
# The bases tests/fixtures/gpus_sources.md defines; "estimate" is not one of them.
BASES = {"cuda-bytes", "cuda-mib", "cuda-gib", "nvidia-smi-mib"}


def test_catalog_size_and_vendors() -> None:
    gpus = catalog()
    assert len(gpus) >= 20
    assert {g.vendor for g in gpus} >= {"nvidia", "amd"}
    assert len({g.key for g in gpus}) == len(gpus)
    for gpu in gpus:
        assert gpu.source, gpu.key
        assert gpu.basis in BASES, gpu.key
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


@pytest.mark.parametrize(
    ("typed", "hint"),
    [
        ("8xh100", "gpu=h100 gpus=8"),
        ("2 x L40S", "gpu=l40s gpus=2"),
        ("h100x2", "gpu=h100 gpus=2"),
        ("L40S x 4", "gpu=l40s gpus=4"),
        ("a100-40x4", "gpu=a100-40 gpus=4"),
    ],
)
def test_a_count_glued_to_the_gpu_says_how_to_write_it(typed: str, hint: str) -> None:
    # "8xh100" is eight H100s: the count is gpus=, not part of the name (no catalog name is like it).
    with pytest.raises(InputError) as err:
        parse_settings([f"gpu={typed}"])
    assert f'unknown GPU "{typed}": that names {hint.split("=")[-1]} GPUs; write {hint}' in str(err.value)


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
    # vLLM 0.33 asks for util x the total at start-up: 0.92 x 121.69 GiB = 111.95 GiB at its default.
    est = estimate(llama, Query(gpu="gb10", engine="vllm", vllm="0.33"), model_id="l")
    (only,) = [w.message for w in est.warnings if w.code == "unified_memory"]
    assert "(0.92 x 121.69 = 111.95 GiB) is free then" in only
    # The pool is the host's at start-up (non-torch memory read from the OS's available memory), so
    # the warning says so instead of a correction: four DGX Spark logs lie 2.3 to 6.9 GiB under vram.
    assert "Its KV pool depends on the host at start-up" in only
    assert "2.3 to 6.9 GiB less pool than vram's" in only
    assert not any(w.code == "unified_memory" for w in estimate(llama, Query(gpu="h100"), model_id="l").warnings)
    # 0.34 (the default) checks no util share at start-up: its extensible KV cache is sized from the
    # memory the OS has available after warm-up (utils/mem_utils.py@v0.34.0 device_memory_info).
    est = estimate(llama, Query(gpu="gb10", engine="vllm"), model_id="l")
    (only,) = [w.message for w in est.warnings if w.code == "unified_memory"]
    assert "vLLM 0.34 sizes its KV cache from the memory free after warm-up" in only
    assert "is free then" not in only


def test_the_a800_is_what_torch_reports() -> None:
    # tests/fixtures/gpus_sources.md: torch OOMs on A800s say "total capacity of 79.33 GiB";
    # compute capability 8.0 (Ampere): bf16, no fp8.
    gpu = lookup_gpu("a800")
    assert gpu.key == "a800-80gb" and round(gpu.memory_bytes / 2**30, 2) == 79.33
    assert gpu.compute_capability == (8, 0) and gpu.bf16 and not gpu.fp8
    assert lookup_gpu("A800-SXM4-80GB") is gpu


def _source_rows() -> dict[str, list[str]]:
    """The sources table of gpus_sources.md: key -> (key, memory_bytes, GiB, basis, source, confidence)."""
    rows: dict[str, list[str]] = {}
    for line in SOURCES.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) >= 6 and cells[1].isdigit():
            assert cells[0] not in rows, cells[0]
            rows[cells[0]] = cells
    return rows


def test_every_entry_has_its_sourced_row() -> None:
    # Each record's total is the one its source row gives, counted by its basis: torch's "X GiB" to two
    # decimals is round(X x 2**30) bytes, its "N MB" printout whole MiB; an nvidia-smi total is taken
    # only as the CUDA total of a catalogued twin (same die and memory) whose total CUDA printed.
    rows = _source_rows()
    assert set(rows) == {gpu.key for gpu in catalog()}
    for gpu in catalog():
        _, memory, gib, basis, source, _ = rows[gpu.key][:6]
        assert (int(memory), basis) == (gpu.memory_bytes, gpu.basis), gpu.key
        assert gib == f"{gpu.memory_bytes / 2**30:.2f}" and source, gpu.key
        if basis == "cuda-gib":
            assert gpu.memory_bytes == round(float(gib) * 2**30), gpu.key
        elif basis == "cuda-mib":
            assert gpu.memory_bytes % 2**20 == 0, gpu.key
        elif basis == "nvidia-smi-mib":
            twins = [
                g
                for g in catalog()
                if g.memory_bytes == gpu.memory_bytes and g.arch == gpu.arch and g.basis.startswith("cuda-")
            ]
            assert twins, gpu.key


def test_every_spelling_names_one_gpu() -> None:
    # No ambiguous aliases: a key, name or alias two records shared would find only the first.
    for gpu in catalog():
        for spelling in (gpu.key, gpu.name, *gpu.aliases):
            assert lookup_gpu(spelling) is gpu, (spelling, gpu.key)


def test_a_memory_figure_may_leave_out_its_gb() -> None:
    # "a100-40" was unknown while "h100-80g" was an alias: every spelling with a GB figure ("a100-40gb",
    # "a100-pcie-40gb", "rtx-3060-12gb") is also found without the unit, and names the same record.
    shortened = 0
    for gpu in catalog():
        for spelling in (gpu.key, *gpu.aliases):
            short = re.sub(r"(?<=[-_ ]\d)(\d*)gb?(?=[-_ ]|$)", r"\1", spelling.lower())
            if short != spelling.lower():
                assert lookup_gpu(short) is gpu, (short, gpu.key)
                shortened += 1
    assert shortened >= 40
    assert (lookup_gpu("a100-40").key, lookup_gpu("A100 80").key, lookup_gpu("a100-40-pcie").key) == (
        "a100-40gb",
        "a100-80gb",
        "a100-40gb-pcie",
    )
    # A figure set apart only: "a10" is not the "a10g", and a model number is no memory figure.
    assert lookup_gpu("a10").key == "a10"
    for typed in ("a1024", "rtx-4070", "rtx-5070-12"):
        with pytest.raises(InputError, match="unknown GPU"):
            lookup_gpu(typed)


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        # The device names CUDA / ROCm print, as the sources quote them.
        ("NVIDIA B300 SXM6 AC", "b300"),
        ("NVIDIA GB200", "gb200"),
        ("NVIDIA GB300", "gb300"),
        ("NVIDIA H800", "h800"),
        ("AMD Instinct MI355X", "mi355x"),
        ("NVIDIA A40", "a40"),
        ("NVIDIA L20", "l20"),
        ("NVIDIA RTX PRO 4500 Blackwell", "rtx-pro-4500"),
        ("NVIDIA GeForce RTX 5080", "rtx-5080"),
        ("NVIDIA GeForce RTX 5070 Ti", "rtx-5070-ti"),
        ("NVIDIA GeForce RTX 4070 Laptop GPU", "rtx-4070-laptop"),
    ],
)
def test_device_names_find_their_records(typed: str, key: str) -> None:
    assert lookup_gpu(typed).key == key


@pytest.mark.parametrize(
    "typed", ["rtx-5070", "5070", "rtx-4070", "4070", "grace-blackwell", "blackwell-ultra", "rtx-pro-4000", "mi300a"]
)
def test_other_cards_are_not_aliases(typed: str) -> None:
    # The 12GB RTX 5070 and desktop RTX 4070 are other cards; GB200 vs GB300 and B300 vs GB300 share the
    # marketing names; RTX PRO 4000 and MI300A have no accepted total (gpus_sources.md).
    with pytest.raises(InputError, match="unknown GPU"):
        lookup_gpu(typed)


def test_vllm_batch_tiers_read_the_new_totals() -> None:
    # engine/arg_utils.py@v0.30.0 get_batch_defaults, `vllm serve`: >= 160 GiB -> 16384 tokens and 1024
    # sequences; >= 70 GiB with no "a100" in the device name -> 8192 / 1024; else 2048 / 256.
    query = Query(engine="vllm", vllm="0.30")
    for key in ("b300", "gb200", "gb300", "mi355x"):  # 267.69, 184.31, 276.50, 287.98 GiB
        assert batch_defaults(query, lookup_gpu(key)) == (16384, 1024), key
    assert batch_defaults(query, lookup_gpu("h800")) == (8192, 1024)  # 79.19 GiB, "NVIDIA H800"
    for key in ("a40", "l20", "rtx-pro-4500", "rtx-5080", "rtx-5070-ti", "rtx-4070-laptop"):  # 44.35 GiB and less
        assert batch_defaults(query, lookup_gpu(key)) == (2048, 256), key
    # @v0.27.1 has no 160 GiB tier: a B300 takes the H100's.
    assert batch_defaults(Query(engine="vllm", vllm="0.27"), lookup_gpu("b300")) == (8192, 1024)


def test_vllm_kernels_follow_the_compute_capability() -> None:
    # vLLM's sm100 family is any 10.x (platforms/interface.py@v0.30.0 is_device_capability_family: the
    # capability // 10): B300 and GB300 (10.3) take trtllm's MXFP4 MoE (trtllm_mxfp4_moe.py) and list
    # CUTLASS_MLA (platforms/cuda.py: device_capability.major == 10) as the B200 does.
    sm100 = VllmGpu(mxfp4_moe_backend="flashinfer_trtllm", mla_import_workspaces=2)
    for key in ("b200", "b300", "gb200", "gb300"):
        assert vllm_gpu(lookup_gpu(key)) == sm100, key
    # sm120 (RTX PRO Blackwell, RTX 50xx), sm89 and sm86: outside Triton's SM90-SM100 range.
    for key in ("rtx-pro-4500", "rtx-5080", "rtx-5070-ti", "rtx-4070-laptop", "l20", "a40"):
        assert vllm_gpu(lookup_gpu(key)).mxfp4_moe_backend == "marlin", key
    assert vllm_gpu(lookup_gpu("h800")).mxfp4_moe_backend == "triton"
    assert vllm_gpu(lookup_gpu("mi355x")) == VllmGpu(mxfp4_moe_backend="rocm", mla_import_workspaces=0)
    # The nvfp4 KV cache: sm100 family only up to 0.31, an FA2 path for sm120 from 0.32.
    q29 = Query(engine="vllm", vllm="0.29", kv="nvfp4")
    for key in ("b300", "gb200", "gb300"):
        assert kv_dtype_refusal(q29, lookup_gpu(key)) is None, key
    refused = kv_dtype_refusal(q29, lookup_gpu("rtx-5080"))
    # It names every sm100-family card the catalog has, and the loop above shows each runs it.
    assert refused is not None and "sm100-family GPUs (B200, GB200, B300, GB300)" in refused
    assert kv_dtype_refusal(Query(engine="vllm", vllm="0.32", kv="nvfp4"), lookup_gpu("rtx-pro-4500")) is None


def test_nvswitch_parts_pay_nvls_buffers() -> None:
    # At TP 2 NCCL's NVLS buffers come with an NVSwitch (HGX H800 and B300 boards, GB200 / GB300 NVL72
    # racks) as on the H100 hosts; PCIe and workstation cards pay the single-GPU figure.
    tp2 = Query(engine="vllm", vllm="0.27", gpus=2)
    nvls, none = non_torch_bytes(tp2, gpu=lookup_gpu("h100")), non_torch_bytes(tp2, gpu=lookup_gpu("rtx-5090"))
    assert nvls > none
    for key in ("h800", "b300", "gb200", "gb300"):
        assert non_torch_bytes(tp2, gpu=lookup_gpu(key)) == nvls, key
    for key in ("l20", "a40", "rtx-pro-4500", "rtx-5080", "mi355x"):
        assert non_torch_bytes(tp2, gpu=lookup_gpu(key)) == none, key
