"""vLLM's start-up check of max_model_len against the config's positions, RoPE scaling included.

vLLM derives the longest max_model_len from max_position_embeddings; a yarn rope_scaling gives
original_max_position_embeddings x factor up to 0.29 and the positions as given from 0.30,
linear/dynamic give positions x factor, llama3 and longrope keep the positions as given, and a gemma3
model type keeps them whatever its scaling. A longer max_model_len is refused at start-up unless
VLLM_ALLOW_LONG_MAX_MODEL_LEN is set, so the answer must not say "fits".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from common.errors import InputError
from estimator.config import load_model_spec
from estimator.engines import vllm
from estimator.estimate import estimate
from estimator.grammar import parse_settings, query_with
from estimator.query import Query, Yarn
from estimator.rope import with_yarn

CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "configs"


def _config(name: str, **extra: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = json.loads((CONFIGS / name).read_text())
    cfg.update(extra)
    return cfg


def _answer(cfg: dict[str, Any], seq_len: int) -> Any:
    spec = load_model_spec(cfg)
    query = Query(model="m", seq_len=seq_len, engine="vllm", gpu="h100")
    return spec, estimate(spec, query, model_id="m")


def test_past_the_positions_vllm_will_not_start_and_nothing_fits() -> None:
    # Qwen3-8B: max_position_embeddings 40,960 and no rope_scaling.
    spec, est = _answer(_config("Qwen__Qwen3-8B.json"), 131_072)
    assert spec.scaled_max_positions == 40_960
    assert est.fit is not None and est.fit.fits is False
    assert any("40,960 positions" in w.message for w in est.warnings)


def test_within_the_positions_it_is_sized_as_usual() -> None:
    _, est = _answer(_config("Qwen__Qwen3-8B.json"), 32_768)
    assert est.fit is not None and est.fit.fits is True


def test_yarn_scaling_extends_the_positions_up_to_0_29_only() -> None:
    # Up to 0.29 (config/model.py@v0.29.0 _get_and_verify_max_len): yarn gives 32,768 original
    # positions x factor 4 = 131,072 (Qwen's published YaRN recipe). From 0.30 (@v0.30.0, @v0.34.0)
    # YaRN "leaves max_position_embeddings already scaled": Qwen3-8B's 40,960 as given.
    yarn = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32_768}
    cfg = _config("Qwen__Qwen3-8B.json", rope_scaling=yarn)
    spec = load_model_spec(cfg)
    assert spec.scaled_max_positions == 131_072 and spec.rope_scaling_type == "yarn"

    def fits(seq_len: int, release: str) -> bool:
        est = estimate(spec, Query(seq_len=seq_len, engine="vllm", gpu="h100", vllm=release), model_id="m")
        assert est.fit is not None
        return est.fit.fits

    assert fits(131_072, "0.29") and not fits(131_072 + 1, "0.29")
    assert not fits(131_072, "0.30") and not fits(131_072, "0.34") and fits(40_960, "0.34")


def test_gemma3_positions_are_already_scaled() -> None:
    # gemma-3-4b: max_position_embeddings 131,072 with linear RoPE x 8; vLLM skips the factor for a
    # gemma3 model type ("Gemma3's max_model_len (128K) is already scaled", config/model.py@v0.27.1,
    # @v0.34.0): 131,072 is the longest.
    gemma = load_model_spec(_config("google__gemma-3-4b-it.json"))
    for release in ("0.27", "0.34"):
        est = estimate(gemma, Query(seq_len=131_073, engine="vllm", gpu="h100", vllm=release), model_id="g")
        assert est.fit is not None and not est.fit.fits
        assert any("past the 131,072 positions" in w.message for w in est.warnings)


def test_past_the_window_within_rope_scaled_positions_vllm_starts_and_says_so() -> None:
    # Qwen3-8B with linear RoPE x 2: vLLM allows 40,960 x 2 = 81,920; the model's window stays 40,960.
    linear = {"rope_type": "linear", "factor": 2.0}
    _, est = _answer(_config("Qwen__Qwen3-8B.json", rope_scaling=linear), 65_536)
    (msg,) = [w.message for w in est.warnings if w.code == "context_window_exceeded"]
    assert "context window (40,960 tokens): vLLM starts" in msg and "81,920" in msg
    _, inside = _answer(_config("Qwen__Qwen3-8B.json", rope_scaling=linear), 40_960)
    assert not [w for w in inside.warnings if w.code == "context_window_exceeded"]


def test_llama3_scaling_keeps_the_positions_as_given() -> None:
    # Llama-3.1-8B: max_position_embeddings 131,072 already; its llama3 rope_scaling adds nothing.
    spec, est = _answer(_config("meta-llama__Llama-3.1-8B.json"), 131_072)
    assert spec.scaled_max_positions == 131_072
    assert est.fit is not None and est.fit.fits is True


def test_yarn_key_extends_the_context_in_every_release() -> None:
    # yarn=4 is the --hf-overrides rope_scaling (yarn, factor 4, original 40,960) with
    # max_position_embeddings 163,840: up to 0.29 vLLM derives original x factor, from 0.30 the
    # positions as given, 163,840 both ways.
    spec = load_model_spec(_config("Qwen__Qwen3-8B.json"))
    for release in ("0.29", "0.34"):
        ok = estimate(
            spec, Query(seq_len=131_072, engine="vllm", gpu="h100", vllm=release, yarn=Yarn(factor=4)), model_id="m"
        )
        assert ok.fit is not None and ok.fit.fits, release
        assert any(w.code == "rope_scaling" and "163,840 tokens" in w.message for w in ok.warnings)
        past = estimate(
            spec, Query(seq_len=163_841, engine="vllm", gpu="h100", vllm=release, yarn=Yarn(factor=4)), model_id="m"
        )
        assert past.fit is not None and not past.fit.fits
    # The rotary table grows to 163,840 rows: 163,840 x 128 x 2 B = 40 MiB, from 40,960 rows (10 MiB).
    q = Query(seq_len=4096, engine="vllm", yarn=Yarn(factor=4))
    assert vllm.rope_cache_bytes(with_yarn(spec, Yarn(factor=4))[0], q) == 163_840 * 128 * 2
    assert vllm.rope_cache_bytes(spec, q) == 40_960 * 128 * 2
    # transformers: the window is the scaled one, so no context_window_exceeded at 128k.
    t = estimate(spec, Query(seq_len=131_072, yarn=Yarn(factor=4)), model_id="m")
    assert not [w for w in t.warnings if w.code == "context_window_exceeded"]


def test_yarn_key_is_refused_where_the_config_already_scales_rope() -> None:
    llama = load_model_spec(_config("meta-llama__Llama-3.1-8B.json"))  # llama3 scaling
    with pytest.raises(InputError, match="already scales RoPE"):
        estimate(llama, Query(yarn=Yarn(factor=4)), model_id="l")
    gemma = load_model_spec(_config("google__gemma-3-4b-it.json"))  # linear x 8, positions already scaled
    with pytest.raises(InputError, match=r"already scales RoPE \(linear scaling, 131,072 positions\)"):
        estimate(gemma, Query(yarn=Yarn(factor=2)), model_id="g")


def test_yarn_over_original_positions() -> None:
    # yarn=4:32768 is Qwen's recipe: 32,768 original positions x 4 = 131,072, whatever the config's 40,960.
    spec = load_model_spec(_config("Qwen__Qwen3-8B.json"))
    q = Query(seq_len=131_072, engine="vllm", gpu="h100", yarn=parse_settings(["yarn=4:32768"])["yarn"])
    est = estimate(spec, q, model_id="m")
    assert est.fit is not None and est.fit.fits and est.details.context_window == 131_072
    past = estimate(spec, q.model_copy(update={"seq_len": 131_073}), model_id="m")
    assert past.fit is not None and not past.fit.fits
    assert any("over 32,768 original positions takes 131,072 tokens" in w.message for w in est.warnings)


def test_s_max_is_the_context_the_engine_starts_with() -> None:
    # vLLM without --max-model-len: Qwen3-8B's 40,960; gemma-3's 131,072 (already scaled); with
    # yarn=4:32768, 131,072. transformers: max_position_embeddings.
    def seq(cfg: str, *words: str) -> int:
        q = query_with(Query(), parse_settings(["s=max", *words]))
        assert q.seq_len_from_model
        est = estimate(load_model_spec(_config(cfg)), q, model_id="m")
        assert est.query.seq_len_from_model
        return est.query.seq_len

    assert seq("Qwen__Qwen3-8B.json", "engine=vllm") == 40_960
    assert seq("google__gemma-3-4b-it.json", "engine=vllm") == 131_072
    assert seq("Qwen__Qwen3-8B.json", "engine=vllm", "yarn=4:32768") == 131_072
    assert seq("Qwen__Qwen3-8B.json") == 40_960
    # A length given afterwards replaces it.
    q = query_with(query_with(Query(), parse_settings(["s=max"])), parse_settings(["s=32k"]))
    assert not q.seq_len_from_model and q.seq_len == 32_768


def test_yarn_over_mrope_keeps_its_sections() -> None:
    # Qwen2.5-VL's rope_scaling is mrope (a layout of positions, not a scaling): YaRN applies over it.
    vl = load_model_spec(_config("Qwen__Qwen2.5-VL-7B-Instruct.json"))
    q = Query(engine="vllm", seq_len=65_536, yarn=Yarn(factor=4, original=32_768))
    est = estimate(vl, q, model_id="v")
    (msg,) = [w.message for w in est.warnings if w.code == "rope_scaling"]
    assert "takes 131,072 tokens" in msg and "keeping the config's mrope_section" in msg


def test_the_refusal_names_the_longest_context_and_the_yarn_factor_that_reaches_it() -> None:
    # Qwen3-8B: 40,960 positions, RoPE unscaled; 131,072 / 40,960 = 3.2, so YaRN by 4 gives 163,840.
    _, est = _answer(_config("Qwen__Qwen3-8B.json"), 131_072)
    error = est.engine_report.start_error
    assert "s=max (40,960)" in error and "yarn=4 (RoPE YaRN, 163,840 positions)" in error
    # Llama-3.1 already scales RoPE (llama3, 131,072 positions): no YaRN on top, the longest only.
    _, est = _answer(_config("meta-llama__Llama-3.1-8B.json"), 262_144)
    error = est.engine_report.start_error
    assert "s=max (131,072)" in error and "yarn=" not in error


def test_a_config_of_zero_positions_is_refused_without_a_yarn_factor() -> None:
    # A config whose max_position_embeddings is 0 allows no context: the refusal says so and names
    # neither s=max (0) nor a YaRN factor (there is nothing to stretch), rather than dividing by zero.
    config = _config("Qwen__Qwen3-8B.json")
    config["max_position_embeddings"] = 0
    _, est = _answer(config, 4_096)
    error = est.engine_report.start_error
    assert "past the 0 positions" in error and "yarn=" not in error and "s=max" not in error


def test_the_way_to_s_max_names_the_gpus_that_hold_it() -> None:
    # Llama-3.1-8B (131,072 positions) at s=200k on a T4: s=max alone would not fit one T4 (the bf16
    # weights are 15.0 GiB of its 14.7), so the refusal offers s=max with the layout that holds it, and
    # that command typed back fits. On an H100 s=max fits one GPU and the way out stays as it was.
    spec = load_model_spec(_config("meta-llama__Llama-3.1-8B.json"))
    t4 = Query(model="m", seq_len=200 * 1024, engine="vllm", gpu="t4")
    refused = estimate(spec, t4, model_id="m")
    assert refused.fit is not None and refused.fit.engine_refuses is not None
    assert refused.fit.engine_refuses.endswith("or use s=max (131,072) with gpus=4")
    # The context warning in the words as asked ("or use s=max (131,072)") would contradict it: the
    # refusal's own note carries the way with its GPUs instead.
    assert [w.code for w in refused.warnings if "131,072" in w.message] == ["engine_refuses"]
    typed_back = query_with(t4, parse_settings(["s=max", "gpus=4"]))
    answer = estimate(spec, typed_back, model_id="m")
    assert answer.fit is not None and answer.fit.fits
    alone = estimate(spec, t4.model_copy(update={"seq_len": 131_072}), model_id="m")
    assert alone.fit is not None and not alone.fit.fits
    h100 = estimate(spec, t4.model_copy(update={"gpu": "h100"}), model_id="m")
    assert h100.fit is not None and h100.fit.engine_refuses is not None
    assert h100.fit.engine_refuses.endswith("or use s=max (131,072)")
    # No layout holds s=max for 2,000 requests (2,000 x 131,072 tokens x 128 KiB is 32,000 GiB of KV,
    # more than 1,024 T4s hold): the way out says so instead of offering a command that does not fit.
    many = estimate(spec, t4.model_copy(update={"batch": 2000}), model_id="m")
    assert many.fit is not None and (many.fit.engine_refuses or "").endswith(
        "or use s=max (131,072), which no layout up to 1,024 GPUs holds at b=2,000"
    )


def test_the_yarn_way_names_the_gpus_that_hold_the_context_asked() -> None:
    # Qwen3-8B (40,960 positions, unscaled RoPE) at s=64k on one L4: yarn=2 reaches 81,920 positions,
    # but 65,536 tokens x 144 KiB is 9 GiB of KV beside 15.3 GiB of weights, past one L4's 22 GiB: the
    # way says the GPUs that hold it, and typed back it fits.
    spec = load_model_spec(_config("Qwen__Qwen3-8B.json"))
    l4 = Query(model="m", seq_len=65_536, engine="vllm", gpu="l4")
    refused = estimate(spec, l4, model_id="m")
    assert refused.fit is not None and refused.fit.engine_refuses is not None
    assert refused.fit.engine_refuses.endswith("or yarn=2 (RoPE YaRN, 81,920 positions) with gpus=2")
    assert not estimate(spec, query_with(l4, parse_settings(["yarn=2"])), model_id="m").fit.fits  # type: ignore[union-attr]
    typed_back = estimate(spec, query_with(l4, parse_settings(["yarn=2", "gpus=2"])), model_id="m")
    assert typed_back.fit is not None and typed_back.fit.fits
    # On an H100 the one GPU holds it: the way stays as it was.
    h100 = estimate(spec, l4.model_copy(update={"gpu": "h100"}), model_id="m")
    assert h100.fit is not None and (h100.fit.engine_refuses or "").endswith("or yarn=2 (RoPE YaRN, 81,920 positions)")
