"""The sliding_batches note: vLLM reserves each request's sliding-window layers the window plus the
batches in flight of max_num_batched_tokens (v1/kv_cache_interface.py SlidingWindowSpec: one, two
with async scheduling from 0.26), whose default is
8,192 on an H100 and 2,048 on an A100 (get_batch_defaults): the note says what mnbt=2048 holds."""

from __future__ import annotations

import json
from pathlib import Path

from estimator.config import load_model_spec
from estimator.estimate import estimate
from estimator.query import Query

CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
GEMMA3 = load_model_spec(json.loads((CONFIGS / "google__gemma-3-4b-it.json").read_text()))
QWEN3 = load_model_spec(json.loads((CONFIGS / "Qwen__Qwen3-8B.json").read_text()))


def _notes(spec, **query):  # type: ignore[no-untyped-def]
    est = estimate(spec, Query(engine="vllm", seq_len=32768, **query), model_id="m")
    return est, [w.message for w in est.warnings if w.code == "sliding_batches"]


def test_the_note_gives_what_the_smaller_batch_holds() -> None:
    est, (message,) = _notes(GEMMA3, gpu="h100")
    small, none = _notes(GEMMA3, gpu="h100", max_num_batched_tokens=2048)
    assert not none  # mnbt= given: nothing to suggest
    held = small.engine_report.max_resident  # type: ignore[union-attr]
    assert held > est.engine_report.max_resident * 1.1  # type: ignore[union-attr]
    assert f"mnbt=2048 would hold {held:.2f} requests of 32,768 tokens" in message
    assert "(8,192, vLLM's default on this GPU)" in message
    assert "the window plus 2 batches of max_num_batched_tokens" in message


def test_before_async_scheduling_the_note_counts_one_batch() -> None:
    # 0.20-0.25 schedule one batch at a time: the window plus one batch, as the KV row counts it.
    est, (message,) = _notes(GEMMA3, gpu="h100", vllm="0.20")
    assert "the window plus one batch of max_num_batched_tokens" in message
    assert any(t.part == "sliding" and t.in_flight_batches == 1 for t in est.details.kv_terms)


def test_no_note_where_the_default_is_already_small_or_no_layer_slides() -> None:
    assert not _notes(GEMMA3, gpu="a100-80gb")[1]  # the A100's default is 2,048
    assert not _notes(QWEN3, gpu="h100")[1]  # full attention only
