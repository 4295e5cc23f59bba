"""The inputs of one estimate, as the grammar parses them (see ``estimator.grammar``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from estimator.engines import DEFAULT_ENGINE, get_engine
from estimator.spec import Frozen, WeightFormat

KVSetting = Literal["on", "off", "auto", "bf16", "fp16", "fp8", "int8"]
Method = Literal["calibrated", "classic"]
# Bits per weight p= accepts.
Bits = Literal[2, 3, 4, 5, 6, 8, 16, 32]


def _registered(name: str) -> str:
    get_engine(name)
    return name


# The name of a registered engine (estimator.engines).
EngineName = Annotated[str, AfterValidator(_registered)]

MAX_SEQ_LEN = 16 * 1024 * 1024
MAX_BATCH = 1024 * 1024
MAX_GPUS = 1024
# n= below a thousand parameters rounds the weights to nothing (n=1e-300 gave 0 bytes).
MIN_PARAMS_BILLIONS = 1e-6


class Query(Frozen):
    """Everything one estimate depends on, besides the model description itself."""

    model: str | None = None  # Hub repo id, or a path to a config.json / model folder
    revision: str | None = None
    seq_len: int = Field(4096, ge=1, le=MAX_SEQ_LEN)
    batch: int = Field(1, ge=1, le=MAX_BATCH)
    bits: Bits | None = None  # p=: bits per weight override
    weight_format: WeightFormat | None = None  # dtype=: weight format override
    kv: KVSetting = "on"
    flash_attention: bool = True
    params_billions: float | None = Field(None, gt=MIN_PARAMS_BILLIONS, le=100_000)  # n=
    gpu: str | None = None  # catalog key, already validated
    gpus: int = Field(1, ge=1, le=MAX_GPUS)
    engine: EngineName = DEFAULT_ENGINE
    util: float = Field(0.9, gt=0, le=1)
    max_num_batched_tokens: int | None = Field(None, ge=1, le=MAX_SEQ_LEN)
    max_num_seqs: int | None = Field(None, ge=1, le=MAX_BATCH)
    method: Method = "calibrated"
