"""``gpu=any``: every catalog card's fit and the fewest of it that hold the query."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from pydantic import ValidationError

from estimator.config import load_model_spec
from estimator.estimate import estimate
from estimator.gpus import catalog
from estimator.grammar import is_default, parse_query, query_with
from estimator.query import Query
from estimator.result import Estimate
from estimator.spec import ModelSpec

CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "configs"


def spec(name: str) -> ModelSpec:
    return load_model_spec(json.loads((CONFIGS / name).read_text()))


def test_gpu_any_parses_to_no_one_gpu() -> None:
    query, keys = parse_query(["Qwen/Qwen3-8B", "gpu=ANY", "s=32k"])
    assert (query.gpu, query.gpu_any, keys) == (None, True, ("gpu", "s"))
    assert not is_default(query, "gpu")
    # A card named afterwards (a thread's "on an H100") replaces any, and any replaces a card.
    named = query_with(query, {"gpu": "h100-80gb"})
    assert (named.gpu, named.gpu_any) == ("h100-80gb", False)
    again = query_with(named, {"gpu": "any"})
    assert (again.gpu, again.gpu_any) == (None, True)
    # Other settings leave it as it is.
    assert query_with(query, {"b": 8}).gpu_any


def test_a_query_cannot_name_a_gpu_and_any() -> None:
    with pytest.raises(ValidationError, match="gpu=any"):
        Query(model="m", gpu="h100-80gb", gpu_any=True)


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ("Qwen__Qwen3-32B.json", ["s=32k"]),
        ("Qwen__Qwen3-8B.json", ["s=32k", "b=8", "engine=vllm"]),
        pytest.param("Qwen__Qwen3-30B-A3B.json", ["s=16k", "b=16", "engine=vllm", "kv=fp8"], marks=pytest.mark.slow),
    ],
)
def test_each_card_is_the_answer_for_that_card(config: str, words: list[str]) -> None:
    model = spec(config)
    query, _ = parse_query([config, "gpu=any", *words])
    est = estimate(model, query, model_id=config)
    assert est.fit is None
    assert [c.gpu for c in est.cards] == [g.key for g in catalog()]
    for card in est.cards:
        fit = estimate(model, query.model_copy(update={"gpu_any": False, "gpu": card.gpu}), model_id=config).fit
        assert fit is not None
        assert (card.fits, card.headroom, card.min_gpus, card.min_gpus_dp, card.min_gpus_util, card.refusal) == (
            fit.fits,
            fit.headroom,
            fit.min_gpus,
            fit.min_gpus_dp,
            fit.min_gpus_util,
            fit.engine_refuses or (fit.min_gpus_refusal if not fit.min_gpus else None),
        ), card.gpu


def test_the_fewest_cards_hold_the_weights() -> None:
    # Qwen3-32B in bf16: 32,762,123,264 parameters x 2 B = 65.5 GB of weights (a lower bound of any
    # layout: the layers are split, never copied, with transformers). A card holds it alone only
    # where its device total holds the whole answer (transformers uses the whole device).
    model = spec("Qwen__Qwen3-32B.json")
    est = estimate(model, parse_query(["m", "gpu=any", "s=32k"])[0], model_id="m")
    weights = 32_762_123_264 * 2
    assert est.params_total == 32_762_123_264
    for card in est.cards:
        if card.min_gpus:
            assert card.min_gpus * card.gpu_memory >= weights, card.gpu
            assert card.min_gpus >= math.ceil(weights / card.gpu_memory)
        if card.fits:
            assert card.gpu_memory >= est.memory.total, card.gpu
    by_key = {c.gpu: c for c in est.cards}
    # 76.5 GiB in all: an 80 GB card (79.2 GiB as CUDA reports it) holds it, a 48 GB card does not.
    assert by_key["h100-80gb"].fits and by_key["h100-80gb"].min_gpus == 1
    assert not by_key["l40s"].fits and by_key["l40s"].min_gpus == 2


def test_a_card_the_engine_refuses_is_held_by_no_layout() -> None:
    # vLLM's nvfp4 KV cache runs on NVIDIA sm80 and later only: no count of V100s or MI300Xs starts it.
    model = spec("Qwen__Qwen3-8B.json")
    est = estimate(model, parse_query(["m", "gpu=any", "engine=vllm", "kv=nvfp4"])[0], model_id="m")
    by_key = {c.gpu: c for c in est.cards}
    for key in ("v100-32gb", "t4", "mi300x"):
        assert by_key[key].min_gpus == 0 and not by_key[key].fits
        assert by_key[key].refusal is not None and "nvfp4" in by_key[key].refusal
    assert by_key["h100-80gb"].fits


def test_cards_survive_the_store() -> None:
    model = spec("Qwen__Qwen3-8B.json")
    est = estimate(model, parse_query(["m", "gpu=any"])[0], model_id="m")
    again = Estimate.model_validate(json.loads(json.dumps(est.model_dump(mode="json"))))
    assert again.cards == est.cards and again.query.gpu_any
    data = est.to_json()
    assert data["inputs"]["gpu"] == "any"
    assert len(data["cards"]) == len(catalog())
    assert data["cards"][0].keys() >= {"gpu", "gpu_memory", "fits", "headroom", "min_gpus", "min_gpus_dp"}
    # No card asked: no list.
    assert estimate(model, parse_query(["m"])[0], model_id="m").to_json()["cards"] is None


def test_a_cards_other_way_holds_it_on_the_layout_asked() -> None:
    # vLLM's default max_num_seqs is 1,024 on the large non-A100 cards (256 elsewhere): its sampler
    # warm-up takes the room a 64-request pool needs on one H100 PCIe, where seqs=256 holds it.
    model = spec("Qwen__Qwen1.5-MoE-A2.7B.json")
    query = parse_query(["m", "gpu=any", "engine=vllm", "b=64"])[0]
    by_key = {c.gpu: c for c in estimate(model, query, model_id="m").cards}
    card = by_key["h100-pcie"]
    assert not card.fits and card.min_gpus == 2 and card.ways == ("seqs=256",)
    for way in card.ways:
        key, _, value = way.partition("=")
        on_card = query.model_copy(update={"gpu_any": False, "gpu": "h100-pcie", "max_num_seqs": int(value)})
        assert key == "seqs"
        fit = estimate(model, on_card, model_id="m").fit
        assert fit is not None and fit.fits
    # A card that holds it as asked offers nothing.
    assert by_key["a100-80gb-pcie"].fits and by_key["a100-80gb-pcie"].ways == ()


@pytest.mark.slow
def test_a_larger_card_ranked_below_a_smaller_one_by_its_defaults_says_the_setting() -> None:
    # DeepSeek-V4-Flash at 1M tokens, 32 users: a 180 GB B200's own defaults (a larger batch, and so
    # larger sliding-window states) take gpus=2 dp=4, while a 141 GB H200 takes gpus=1 dp=4; on the B200
    # that layout holds it with the setting its verdict offers there, which the card says.
    raw = json.loads((CONFIGS.parent / "calibration2" / "configs" / "deepseek_v4_flash.json").read_text())
    q, _ = parse_query(["m", "s=1m", "b=32", "engine=vllm", "gpu=any"])
    est = estimate(load_model_spec(raw), q, model_id="m")
    cards = {c.gpu: c for c in est.cards}
    h200, b200 = cards["h200"], cards["b200"]
    assert (h200.min_gpus, h200.min_gpus_dp) == (1, 4) and (b200.min_gpus, b200.min_gpus_dp) == (2, 4)
    assert b200.fewer is not None and (b200.fewer.gpus, b200.fewer.dp) == (1, 4)
    # The setting said holds it there, as gpu=b200 with that layout and setting answers.
    typed, _ = parse_query(
        ["m", "s=1m", "b=32", "engine=vllm", "gpu=b200", "gpus=1", "dp=4", *b200.fewer.settings.split()]
    )
    held = estimate(load_model_spec(raw), typed, model_id="m")
    assert held.fit is not None and held.fit.fits
    # A card that no smaller card beats is not asked (the H200 is the fewest of its size).
    assert h200.fewer is None
