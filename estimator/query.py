"""The inputs of one estimate, as the grammar parses them (see ``estimator.grammar``)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from packaging.version import InvalidVersion, Version
from pydantic import AfterValidator, Field, model_validator

from estimator.engines import DEFAULT_ENGINE, get_engine
from estimator.spec import Frozen, WeightFormat

KVSetting = Literal["on", "off", "auto", "bf16", "fp16", "fp8", "int8", "nvfp4", "int8_per_token_head"]
Method = Literal["calibrated", "classic"]
# Bits per weight p= accepts.
Bits = Literal[2, 3, 4, 5, 6, 8, 16, 32]


def _registered(name: str) -> str:
    get_engine(name)
    return name


# The name of a registered engine (estimator.engines).
EngineName = Annotated[str, AfterValidator(_registered)]

_VERSION_RE = re.compile(r"^\d+\.\d+(\.[1-9]\d*)?$")


def _version_text(text: str) -> str:
    if not _VERSION_RE.match(text):
        try:
            build = Version(text)
        except InvalidVersion:
            build = None
        if build is None or str(build) != text or len(build.release) not in (2, 3) or build.epoch or len(text) > 100:
            raise ValueError(f'"{text}" is not a vLLM release: write it as 0.19 or 0.33')
    return text


# A vLLM release as major.minor ("0.19"), or major.minor.patch for a patch release ("0.31.1"), or a
# build's whole PEP 440 form ("0.33.1rc1.dev50+g554340f3d"), sized by its minor release's profile; the
# grammar normalises "v0.19.1" to "0.19.1" and "v0.19.0" to "0.19".
VllmVersionText = Annotated[str, AfterValidator(_version_text)]

MAX_SEQ_LEN = 16 * 1024 * 1024
MAX_BATCH = 1024 * 1024
MAX_GPUS = 1024
MAX_MTP_TOKENS = 16
# vLLM takes any count; past 32 no published drafter (DFlash blocks are 16) has a use for it.
MAX_SPEC_TOKENS = 32
MAX_DRAFT_CHARS = 300  # draft=: a Hub id[@revision] or a path
# yarn=: published recipes use 2 to 40 (DeepSeek-V3's config: 40); 64 bounds a typo.
MAX_YARN_FACTOR = 64
# eplb=: EplbState's MAX_EXPERT_REDUNDANCY (distributed/eplb/eplb_state.py@v0.33.0).
MAX_REDUNDANT_EXPERTS = 1023
# block=: vLLM's block sizes of 256 tokens and more are page-size alignments it picks, not settings.
MAX_BLOCK_SIZE = 256
# kvmem=: a KV pool per GPU; no GPU holds more than a few hundred GiB, 1 TiB bounds a typo.
MAX_KV_CACHE_MEMORY = 1 << 40
# n= below a thousand parameters rounds the weights to nothing (n=1e-300 gave 0 bytes).
MIN_PARAMS_BILLIONS = 1e-6


class Yarn(Frozen):
    """yarn=F or yarn=F:P: YaRN by ``factor`` over ``original`` positions (None: the config's)."""

    factor: float = Field(gt=1, le=MAX_YARN_FACTOR)
    original: int | None = Field(None, ge=1, le=MAX_SEQ_LEN)

    def __str__(self) -> str:
        return f"{self.factor:g}" + (f":{self.original}" if self.original is not None else "")


class Query(Frozen):
    """Everything one estimate depends on, besides the model description itself."""

    model: str | None = None  # Hub repo id, or a path to a config.json / model folder
    revision: str | None = None
    seq_len: int = Field(4096, ge=1, le=MAX_SEQ_LEN)
    # s=max: the model's longest context as the engine derives its default (vLLM's max_model_len when
    # --max-model-len is not given); the estimate replaces seq_len with it.
    seq_len_from_model: bool = False
    batch: int = Field(1, ge=1, le=MAX_BATCH)
    bits: Bits | None = None  # p=: bits per weight override
    weight_format: WeightFormat | None = None  # dtype=: weight format override
    kv: KVSetting = "on"
    # fa=: fused attention on/off; None: the engine's default (transformers: what the model class supports).
    flash_attention: bool | None = None
    params_billions: float | None = Field(None, gt=MIN_PARAMS_BILLIONS, le=100_000)  # n=
    gpu: str | None = None  # catalog key, already validated
    # gpu=any: no one GPU; the answer lists, for every card in the catalog, the fewest that hold it
    # (gpu is then None).
    gpu_any: bool = False
    gpus: int = Field(1, ge=1, le=MAX_GPUS)
    # pp=: vLLM pipeline-parallel stages; each holds its layers on its own gpus (tensor-parallel)
    # group, so the GPUs in all are gpus x pp.
    pp: int = Field(1, ge=1, le=MAX_GPUS)
    # dp=: vLLM data-parallel replicas of the gpus x pp layout, each an engine with its own KV pool;
    # batch counts the requests of all of them (GPUs in all: gpus x pp x dp).
    dp: int = Field(1, ge=1, le=MAX_GPUS)
    # ep=: vLLM --enable-expert-parallel. A MoE layer's routed experts are then placed whole over the
    # tp x dp GPUs (the busiest holding ceil(experts / (tp x dp))) instead of split by width.
    expert_parallel: bool = False
    engine: EngineName = DEFAULT_ENGINE
    util: float | None = Field(None, gt=0, le=1)  # None: the vLLM release's default
    max_num_batched_tokens: int | None = Field(None, ge=1, le=MAX_SEQ_LEN)
    max_num_seqs: int | None = Field(None, ge=1, le=MAX_BATCH)
    method: Method = "calibrated"
    vllm: VllmVersionText | None = None  # vllm=: the vLLM release (None: the newest profiled)
    prefix_caching: bool | None = None  # prefix=: vLLM --enable-prefix-caching (None: the release's default)
    mm_limit: int | None = Field(None, ge=0, le=MAX_BATCH)  # mm=: vLLM --limit-mm-per-prompt (0: text only)
    mtp: int | None = Field(None, ge=0, le=MAX_MTP_TOKENS)  # mtp=: vLLM MTP num_speculative_tokens (0/None: off)
    # draft=: a draft model for vLLM's speculative decoding (Hub id[@revision] or local path), and
    # spec=: its num_speculative_tokens.
    draft: str | None = Field(None, min_length=1, max_length=MAX_DRAFT_CHARS)
    spec: int | None = Field(None, ge=1, le=MAX_SPEC_TOKENS)
    # eager=: vLLM --enforce-eager (no CUDA graphs, no torch.compile); off: vLLM's default.
    enforce_eager: bool = False
    # async=: vLLM --async-scheduling / --no-async-scheduling (None: the release's default).
    async_scheduling: bool | None = None
    # yarn=: RoPE YaRN scaling (vLLM --hf-overrides rope_scaling), which extends the context the
    # model takes.
    yarn: Yarn | None = None
    # kvmem=: vLLM --kv-cache-memory-bytes, the KV pool per GPU in bytes: vLLM then skips sizing it
    # from gpu_memory_utilization (and the extensible KV cache is off).
    kv_cache_memory: int | None = Field(None, ge=1, le=MAX_KV_CACHE_MEMORY)
    # block=: vLLM --block-size, tokens per KV-cache block (None: the release's, 16 up to 0.33, 64
    # from 0.34). Multiples of 16: what FlashAttention, FlashInfer and Triton all take on CUDA.
    block_size: int | None = Field(None, ge=16, le=MAX_BLOCK_SIZE, multiple_of=16)
    # eplb=: vLLM --enable-eplb with this many redundant experts (num_redundant_experts; None: off).
    eplb: int | None = Field(None, ge=0, le=MAX_REDUNDANT_EXPERTS)

    @model_validator(mode="after")
    def _one_gpu_or_any(self) -> Query:
        if self.gpu_any and self.gpu is not None:
            raise ValueError("gpu=any asks for every card: it names no one GPU")
        return self


def replica_query(query: Query) -> Query:
    """The query one data-parallel replica serves: ``batch`` is then its share, ceil(b / dp).

    vLLM's data-parallel load balancer sends each request to one engine, the least loaded one, so
    a burst of b requests spreads ceil(b / dp) to an engine at most (v1/engine/core_client.py
    ``DPLBAsyncMPClient.get_core_engine_for_request``@v0.25.0 and @v0.33.0). The query keeps ``dp``
    (a MoE model's experts are split over tp x dp); only the batch is one replica's.
    """
    if query.dp == 1:
        return query
    return query.model_copy(update={"batch": -(-query.batch // query.dp)})
