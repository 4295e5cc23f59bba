"""The GPU catalog: device totals as CUDA/ROCm report them (not the marketing number).

The data lives in ``estimator/data/gpus.json`` with a source for every figure
(``tests/fixtures/gpus_sources.md``).
"""

from __future__ import annotations

import difflib
import json
import re
from functools import cache
from importlib import resources
from typing import Literal

from common.errors import InputError
from estimator.spec import Frozen


class GPU(Frozen):
    """One catalog entry: what the estimator and the engines need to know about a device.

    Resolved once per query (``lookup_gpu``) and passed down; engines derive their own choices
    (vLLM's batch defaults and kernels) from these fields, never from the key.
    """

    key: str  # canonical, e.g. "h100-80gb"
    name: str  # e.g. "NVIDIA H100 80GB HBM3"
    aliases: tuple[str, ...] = ()
    vendor: Literal["nvidia", "amd", "intel"]
    memory_bytes: int  # device total as CUDA / ROCm report it
    basis: str  # how memory_bytes was obtained: cuda-bytes, cuda-gib, estimate
    source: str = ""
    bf16_tflops: float | None = None
    memory_bandwidth_gbs: float | None = None
    arch: str | None = None  # hopper, ampere, cdna3, ...
    family: str  # the product line whatever the memory or form factor: h100, a100, l4, mi300x
    compute_capability: tuple[int, int] | None = None  # NVIDIA's (major, minor); None elsewhere
    bf16: bool  # runs bf16 natively (NVIDIA compute capability >= 8.0, AMD CDNA2+)
    fp8: bool  # has fp8 tensor cores
    # The device memory is the system's (GB10): the CPU, the OS and its page cache take part of it, so
    # less than memory_bytes is free when an engine starts.
    unified_memory: bool = False
    # Sold joined by NVSwitch (HGX boards, NVL72 racks): NCCL sets up NVLink SHARP (NVLS) buffers with
    # each communicator, about 1 GiB more device memory per GPU than over PCIe.
    nvswitch: bool = False


def _norm(text: str) -> str:
    # "H100 80GB", "h100_80g", "RTX-4090" all compare equal.
    text = text.lower().replace("nvidia", "").replace("geforce", "").replace("amd", "").replace("instinct", "")
    return re.sub(r"[\s_\-]+", "", text).replace("gb", "g")


def parse_catalog(text: str) -> tuple[GPU, ...]:
    """The records of a catalog file's JSON text (a list of entries)."""
    gpus = []
    for item in json.loads(text):
        item = {k: v for k, v in item.items() if k in GPU.model_fields}
        item["aliases"] = tuple(item.get("aliases", ()))
        gpus.append(GPU.model_validate(item))
    return tuple(gpus)


@cache
def catalog() -> tuple[GPU, ...]:
    """Every GPU in the catalog, in the order of the data file."""
    return parse_catalog(resources.files("estimator").joinpath("data/gpus.json").read_text())


@cache
def _index() -> dict[str, GPU]:
    index: dict[str, GPU] = {}
    for gpu in catalog():
        for name in (gpu.key, gpu.name, *gpu.aliases):
            index.setdefault(_norm(name), gpu)
    return index


def _lookup_known(text: str) -> GPU | None:
    """The entry a key, name or alias spells, or None."""
    gpu = _index().get(_norm(text))
    # "a100-40", "h100 80", "a100-40-pcie": a memory figure without its unit is GB, as the aliases
    # spell it (a100-40gb); only a number set apart, so that "a10" never reads as "a10g".
    figures = re.finditer(r"(?<=[\s_\-])\d+(?=[\s_\-]|\s*$)", text)
    while gpu is None and (figure := next(figures, None)) is not None:
        gpu = _index().get(_norm(f"{text[: figure.end()]}gb{text[figure.end() :]}"))
    return gpu


def lookup_gpu(text: str) -> GPU:
    """The catalog entry for what a user typed (``h100``, ``a100-40gb``, ``RTX 4090``)."""
    gpu = _lookup_known(text)
    if gpu is not None:
        return gpu
    # "8xh100", "h100x8": a count glued to a catalog name is that many GPUs (no catalog name is written so).
    counted = re.fullmatch(r"\s*(?P<n>\d+)\s*[x*×]\s*(?P<gpu>\S.*?)\s*", text, flags=re.IGNORECASE)
    counted = counted or re.fullmatch(r"\s*(?P<gpu>\S.*?)\s*[x*×]\s*(?P<n>\d+)\s*", text, flags=re.IGNORECASE)
    if counted and (named := _lookup_known(counted["gpu"])) is not None:
        name = counted["gpu"].lower() if " " not in counted["gpu"] else named.key
        raise InputError(f'unknown GPU "{text}": that names {counted["n"]} GPUs; write gpu={name} gpus={counted["n"]}')
    keys = [g.key for g in catalog()]
    close = difflib.get_close_matches(text.lower(), keys, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else "; run `vram gpus` for the list"
    raise InputError(f'unknown GPU "{text}"{hint}')
