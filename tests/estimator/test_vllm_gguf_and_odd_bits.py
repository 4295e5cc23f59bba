"""vLLM's GGUF support and odd bit widths by release. The 0.20.0-0.23.0 wheels have
model_executor/model_loader/gguf_loader.py, layers/quantization/gguf.py and "gguf" in
QuantizationMethods; the 0.24.0, 0.27.1, 0.30.0, 0.32.0, 0.33.0 and 0.34.0 wheels have none of them.
From 0.22 its GPTQ config takes 4- and 8-bit checkpoints only, so from 0.24 no 2, 3, 5 or 6-bit
checkpoint loads at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from estimator.config import load_model_spec
from estimator.engines.vllm import VllmReport
from estimator.estimate import estimate
from estimator.query import Query
from sources.local import load_local
from sources.model import opened
from tests.fakehub import llama_3_2_1b_gguf

QWEN3_8B = load_model_spec(
    json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "configs" / "Qwen__Qwen3-8B.json").read_text())
)


@pytest.fixture
def gguf_spec(tmp_path: Path):  # type: ignore[no-untyped-def]
    part = llama_3_2_1b_gguf(15, 807_694_464)  # Q4_K_M
    path = tmp_path / "Llama-3.2-1B-Q4_K_M.gguf"
    with path.open("wb") as f:
        f.write(part.prefix)
        f.truncate(part.size)
    return opened(load_local(str(path))).spec


@pytest.mark.parametrize(("release", "starts"), [("0.20", True), ("0.23", True), ("0.24", False), ("0.34", False)])
def test_a_gguf_checkpoint_starts_up_to_0_23(gguf_spec, release: str, starts: bool) -> None:  # type: ignore[no-untyped-def]
    est = estimate(gguf_spec, Query(model="g", engine="vllm", vllm=release, gpu="l4"), model_id="g")
    assert est.fit is not None and isinstance(est.engine_report, VllmReport)
    refusal = est.fit.engine_refuses or ""
    assert ("will not start a GGUF checkpoint" in refusal) is not starts, refusal
    assert est.fit.fits is starts


@pytest.mark.parametrize("bits", [2, 3, 5, 6])
def test_odd_widths_have_no_checkpoint_from_0_24(bits: int) -> None:
    late = estimate(QWEN3_8B, Query(model="q", engine="vllm", vllm="0.34", gpu="h100", bits=bits), model_id="q")
    assert late.fit is not None and late.fit.engine_refuses is not None
    assert f"serves no {bits}-bit weights" in late.fit.engine_refuses and "use p=4 or p=8" in late.fit.engine_refuses
    early = estimate(QWEN3_8B, Query(model="q", engine="vllm", vllm="0.23", gpu="h100", bits=bits), model_id="q")
    assert early.fit is not None and early.fit.engine_refuses is None
    # 4 and 8 bits have their checkpoints (AWQ / GPTQ / fp8) in every release.
    four = estimate(QWEN3_8B, Query(model="q", engine="vllm", vllm="0.34", gpu="h100", bits=4), model_id="q")
    assert four.fit is not None and four.fit.engine_refuses is None
