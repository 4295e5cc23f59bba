"""Pasted ``--enforce-eager`` and ``--async-scheduling`` (and ``--no-async-scheduling``) are read as
eager= and async=, sized as vLLM runs them.

--enforce-eager sets cudagraph_mode and the compilation mode to NONE (config/vllm.py@v0.33.0
``VllmConfig.__post_init__``): no CUDA graphs are captured and none is estimated out of the pool.
Async scheduling is on by default from 0.26 (config/vllm.py@v0.33.0, async_scheduling left None),
and from 0.26 a sliding-window group reserves ``window - 1 + max_num_batched_tokens x batches in
flight`` tokens a request, two batches with async scheduling on, one without.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.question import read_question
from common.errors import InputError
from estimator.config import load_model_spec
from estimator.engines.vllm import VllmReport
from estimator.estimate import estimate
from estimator.query import Query
from estimator.result import Estimate
from tests.helpers import messages

ROOT = Path(__file__).resolve().parents[2]
QWEN32B = ROOT / "tests" / "fixtures" / "configs" / "Qwen__Qwen3-32B.json"
GPT_OSS = ROOT / "tests" / "fixtures" / "calibration2" / "configs" / "gpt_oss_120b.json"


def _asked(text: str) -> tuple[Query, Estimate]:
    question = read_question(text)
    query = question.command(None).query
    model = Path(str(query.model))
    return query, estimate(load_model_spec(json.loads(model.read_text())), query, model_id="m")


def _sliding_tokens(est: Estimate) -> int:
    (term,) = [t for t in est.details.kv_terms if t.part == "sliding"]
    return term.tokens


def test_enforce_eager_drops_the_cuda_graph_term() -> None:
    query, eager = _asked(f"vllm serve {QWEN32B} -tp 4 --enforce-eager on 4 L40S")
    assert query.enforce_eager
    _, graphs = _asked(f"vllm serve {QWEN32B} -tp 4 on 4 L40S")
    e, g = eager.engine_report, graphs.engine_report
    assert isinstance(e, VllmReport) and isinstance(g, VllmReport)
    assert g.cuda_graphs > 0 and e.cuda_graphs == 0
    # From 0.20 the graph estimate comes out of util's share: without graphs the pool keeps it.
    assert e.kv_cache_memory - g.kv_cache_memory == g.cuda_graphs
    assert any(w.startswith("eager=on (--enforce-eager)") for w in messages(eager))


def test_async_scheduling_is_the_default_from_0_26() -> None:
    # gpt-oss-120b's sliding layers (128-token window) at 0.34's H100 batch of 8,192 tokens (the default release).
    query, asked = _asked(
        f"vllm serve {GPT_OSS} --tensor-parallel-size 2 --max-model-len 65536 --async-scheduling on 2 h100"
    )
    assert query.async_scheduling is True
    _, plain = _asked(f"vllm serve {GPT_OSS} --tensor-parallel-size 2 --max-model-len 65536 on 2 h100")
    assert _sliding_tokens(asked) == _sliding_tokens(plain) == 128 - 1 + 2 * 8192
    assert asked.memory == plain.memory
    assert "async=on changes no figure: it is vLLM 0.34's default here." in messages(asked)
    _, off = _asked(
        f"vllm serve {GPT_OSS} --tensor-parallel-size 2 --max-model-len 65536 --no-async-scheduling on 2 h100"
    )
    assert _sliding_tokens(off) == 128 - 1 + 8192


def test_async_scheduling_before_0_26_is_refused_with_why() -> None:
    spec = load_model_spec(json.loads(GPT_OSS.read_text()))
    query = Query(engine="vllm", gpu="h100", gpus=2, vllm="0.25", async_scheduling=True)
    with pytest.raises(InputError, match=r"from 0\.26"):
        estimate(spec, query, model_id="m")
