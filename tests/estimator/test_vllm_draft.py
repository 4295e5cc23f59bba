"""Draft-model speculative decoding (draft=<drafter> spec=<tokens>) in vLLM's KV layout and weights.

Expected numbers: published start-up logs of Qwen3.6-27B with the z-lab DFlash drafter on two RTX
4090s / 3090s at TP 2 (noonghunna/club-3090 issues #46, #75, PR #96; calibration2 n020, n023, n025)
and of Qwen3.6-35B-A3B-FP8 with its DFlash drafter on one A800 (vllm-project/vllm#46462, n028), and
hand arithmetic below. The drafters' configs are tests/fixtures/calibration2/configs/*_dflash.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from common.errors import InputError, UnmodelledError
from estimator.config import load_model_spec
from estimator.draft import check_speculative_settings, read_drafter
from estimator.engines import vllm
from estimator.estimate import estimate
from estimator.grammar import parse_query
from estimator.query import Query

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "tests/fixtures/calibration2/configs"
GiB = 1 << 30


def _config(name: str) -> dict:
    return json.loads((CONFIGS / name).read_text())


QWEN27 = load_model_spec(_config("qwen3_5_27b.json"))
QWEN35B = load_model_spec(_config("qwen3_5_moe.json"))
# The published DFlash checkpoints ship neither embed_tokens nor lm_head: the target's are shared.
SHIPPED = ("layers.0.self_attn.q_proj.weight", "fc.weight", "hidden_norm.weight", "norm.weight")
DRAFT27 = read_drafter(
    "z-lab/Qwen3.6-27B-DFlash",
    _config("qwen3_6_27b_dflash.json"),
    load_model_spec(_config("qwen3_6_27b_dflash.json")),
    SHIPPED,
)
DRAFT35 = read_drafter(
    "z-lab/Qwen3.6-35B-A3B-DFlash",
    _config("qwen3_6_35b_a3b_dflash.json"),
    load_model_spec(_config("qwen3_6_35b_a3b_dflash.json")),
    SHIPPED,
)
WITH27 = QWEN27.model_copy(update={"drafter": DRAFT27})
WITH35 = QWEN35B.model_copy(update={"drafter": DRAFT35})


def q27(**kw) -> Query:
    """The club-3090 dual DFlash compose: TP 2, default (bf16) KV, prefix caching, 5 tokens."""
    base = dict(
        engine="vllm",
        vllm="0.20",
        gpus=2,
        prefix_caching=True,
        max_num_seqs=1,
        max_num_batched_tokens=8192,
        draft="z-lab/Qwen3.6-27B-DFlash",
        spec=5,
    )
    return Query(**{**base, **kw})


def test_grammar_reads_the_draft_keys() -> None:
    query, keys = parse_query(["Qwen/Qwen3.6-27B", "engine=vllm", "draft=z-lab/Qwen3.6-27B-DFlash@main", "spec=5"])
    assert (query.draft, query.spec, keys) == ("z-lab/Qwen3.6-27B-DFlash@main", 5, ("engine", "draft", "spec"))
    assert parse_query(["m", "draft_model=./drafter", "spec_tokens=2"])[0].draft == "./drafter"
    with pytest.raises(InputError, match="not a Hub model id"):
        parse_query(["m", "draft=not a repo!"])
    with pytest.raises(InputError, match="out of range"):
        parse_query(["m", "spec=0"])
    with pytest.raises(InputError, match="too long for a model id"):
        parse_query(["m", "draft=" + "a" * 400])


@pytest.mark.parametrize(
    ("fields", "sentence"),
    [
        ({"draft": "z-lab/x"}, "needs spec="),
        ({"spec": 3}, "add draft="),
        ({"draft": "z-lab/x", "spec": 3, "mtp": 2}, "two speculative configs"),
    ],
)
def test_speculative_settings_go_together(fields: dict, sentence: str) -> None:
    with pytest.raises(InputError, match=sentence):
        check_speculative_settings(Query(engine="vllm", **fields))


def test_drafter_method_comes_from_the_architecture() -> None:
    assert DRAFT27.method == "dflash"
    # fc: 5 tapped target layers x 5120 -> 5120 (DFlashQwen3Model: target_layer_ids).
    assert DRAFT27.fc_in_features == 5 * 5120
    assert not DRAFT27.own_embed_tokens and not DRAFT27.own_lm_head
    spec = load_model_spec(_config("qwen3_6_27b_dflash.json"))
    eagle = {**_config("qwen3_6_27b_dflash.json"), "architectures": ["MedusaModel"]}
    # Drafters vram does not size are its limit, not bad input: they exit 1, not 2.
    with pytest.raises(UnmodelledError, match=r"medusa drafter .* EAGLE-3 drafters of Llama and Qwen3 layers"):
        read_drafter("acme/eagle", eagle, spec, SHIPPED)
    with pytest.raises(UnmodelledError, match="not a draft model vram knows"):
        read_drafter("Qwen/Qwen3-8B", {"architectures": ["Qwen3Model"]}, spec, SHIPPED)
    with pytest.raises(UnmodelledError, match="could not read which tensors"):
        read_drafter("z-lab/Qwen3.6-27B-DFlash", _config("qwen3_6_27b_dflash.json"), spec, None)
    own = read_drafter("acme/d", _config("qwen3_6_27b_dflash.json"), spec, (*SHIPPED, "embed_tokens.weight"))
    assert own.own_embed_tokens and not own.own_lm_head


def test_drafter_layers_join_the_hybrid_groups_as_logged() -> None:
    layout, _ = vllm.kv_layout(WITH27, q27(seq_len=180_000))
    # GDN state per GPU with 5 speculative tokens: conv (2 x 16 x 128 + 48 x 128) / 2 = 5,120 channels
    # x (4 - 1 + 5) columns x 2 B = 81,920 B, plus 24 heads x 128 x 128 x 4 B = 1,572,864 B:
    # 1,654,784 B. The target's attention: 4 / 2 KV heads x (256 + 256) x 2 B = 2,048 B per token, so
    # the block is 16 x cdiv(1,654,784, 16 x 2,048) = 16 x 51 = 816 tokens.
    assert layout.block_size == 816
    # The drafter's layers: 8 / 2 KV heads x (128 + 128) x 2 B = 2,048 B per token each, the same page.
    drafter = [t for t in layout.types if t.kind == "full" and t.num_layers == 5]
    assert len(drafter) == 1 and drafter[0].page_bytes == 816 * 2048
    # 16 full + 5 drafter + 48 GDN layers: groups of 5; 16 -> 4 groups ("Add 4 padding layers, may
    # waste at most 25.00%"), 48 -> 10 groups ("Add 2 padding layers, may waste at most 4.17%"), n025.
    assert (layout.group_size, layout.num_groups) == (5, 4 + 1 + 10)
    assert next(t.mamba_blocks for t in layout.types if t.kind == "mamba") == 2 + 5  # align mode


def test_n020_tokens_and_concurrency_from_the_logged_pool() -> None:
    # v0.20.1rc1: "Available KV cache memory: 9.74 GiB", "GPU KV cache size: 67,728 tokens",
    # "Maximum concurrency for 180,000 tokens per request: 1.06x".
    blocks, tokens, concurrency = vllm.kv_capacity(WITH27, q27(seq_len=180_000), int(9.74 * GiB), batched_tokens=8192)
    # 9.74 GiB // (816 x 2,048 B x 5 layers) = 1,251 blocks; 1,251 // 15 groups x 816 = 67,728 tokens.
    assert blocks == int(9.74 * GiB) // (816 * 2048 * 5) == 1251
    assert tokens == 1251 // 15 * 816 == 67_728
    # One request: 4 target groups x cdiv(180,000, 816) = 4 x 221, the drafter's group 221, and
    # 10 GDN groups x 7 state pages: 1,175 blocks; 1,251 / 1,175 = 1.0647 -> "1.06x".
    assert concurrency == pytest.approx(1251 / (5 * 221 + 70))
    assert f"{concurrency:.2f}" == "1.06"


@pytest.mark.parametrize(
    ("pool_gib", "max_model_len", "logged_tokens", "logged_concurrency"),
    [(9.58, 185_000, 188_838, "1.02"), (10.36, 200_000, 204_615, "1.02")],  # n023, n024 (0.20.2rc1)
)
def test_n023_n024_within_the_pools_rounding(
    pool_gib: float, max_model_len: int, logged_tokens: int, logged_concurrency: str
) -> None:
    """0.20.2 prints int(concurrency x max_model_len); the pool is printed to 0.01 GiB."""
    query = q27(seq_len=max_model_len)

    def tokens(pool: int) -> int:
        _, _, concurrency = vllm.kv_capacity(WITH27, query, pool, batched_tokens=8192)
        return int(concurrency * max_model_len)

    pool = int(pool_gib * GiB)
    assert tokens(pool - GiB // 200) <= logged_tokens <= tokens(pool + GiB // 200)
    assert f"{vllm.kv_capacity(WITH27, query, pool, batched_tokens=8192)[2]:.2f}" == logged_concurrency


def test_n028_layout_and_tokens() -> None:
    # v0.20.2, Qwen3.6-35B-A3B-FP8 + DFlash (8 layers), num_speculative_tokens 6, prefix caching,
    # max_model_len 8,192: "Add 2 padding layers, may waste at most 6.67%", "Add 6 padding layers,
    # may waste at most 60.00%", "Available KV cache memory: 5.16 GiB", the author's "44k token kv cache".
    query = Query(engine="vllm", vllm="0.20", seq_len=8192, prefix_caching=True, max_num_seqs=24, draft="d", spec=6)
    layout, _ = vllm.kv_layout(WITH35, query)
    # GDN: conv (2 x 16 x 128 + 32 x 128) = 8,192 channels x (3 + 6) x 2 B = 147,456 B + 32 x 128 x 128
    # x 4 B = 2,097,152 B -> 2,244,608 B; attention 2 x 256 x 2 x 2 B = 2,048 B/token (the drafter's
    # 4 x 128 x 2 x 2 B is the same): block 16 x cdiv(2,244,608, 32,768) = 1,104.
    assert layout.block_size == 1104
    # 10 full + 8 drafter + 30 GDN: groups of 8; 10 -> 2 groups (6 padding, 60%), 30 -> 4 (2, 6.67%).
    assert (layout.group_size, layout.num_groups) == (8, 2 + 1 + 4)
    blocks, _, concurrency = vllm.kv_capacity(WITH35, query, int(5.16 * GiB), batched_tokens=8192)
    assert blocks == int(5.16 * GiB) // (1104 * 2048 * 8) == 306
    # Per request: 2 x cdiv(8,192, 1,104) + 8 + 4 groups x (2 + 6) = 16 + 8 + 32 = 56 blocks.
    assert concurrency == pytest.approx(306 / 56)
    assert int(concurrency * 8192) == 44_763  # "44k"


def test_drafter_kv_bytes_and_weights_by_hand() -> None:
    query = q27(seq_len=185_000, gpu="rtx-3090", util=0.95)
    report = vllm.drafter_report(WITH27, query)
    assert report is not None
    # 5 layers x 4 KV heads per GPU x (128 + 128) x 2 B = 10,240 B per token x 185,000 tokens (the
    # rounding up to 227 blocks of 816 is the pool's "blocks" term, as for the target's layers).
    assert report.kv_bytes_per_token == 5 * 4 * 256 * 2 == 10_240
    assert report.kv_cache == 185_000 * 10_240
    # Weights per GPU (bf16): per layer q 5120x4096 + k, v 5120x1024 + o 4096x5120 + q/k norms 2 x 128,
    # MLP 3 x 5120 x 17408, split over 2 GPUs; fc 25,600 x 5,120 whole on each GPU (ReplicatedLinear);
    # norms 5 x 2 x 5120 + 5120 and hidden_norm 5120 whole; no embedding or LM head (shared).
    layer = 5120 * 4096 + 2 * 5120 * 1024 + 4096 * 5120 + 2 * 128 + 3 * 5120 * 17408
    replicated = 25_600 * 5120 + 11 * 5120 + 5120
    assert report.weights == (5 * layer // 2 + replicated) * 2 == 1_861_346_560
    assert (
        vllm.loaded_weight_bytes(WITH27, query, None, 0)
        - vllm.loaded_weight_bytes(QWEN27, query.model_copy(update={"draft": None, "spec": None}), None, 0)
        == report.weights
    )


def test_drafter_widens_the_cuda_graph_sizes_like_mtp() -> None:
    # n028: max_num_seqs 24 x (1 + 6) x 2 = 336, the logged "largest=336".
    query = Query(engine="vllm", vllm="0.20", seq_len=8192, max_num_seqs=24, draft="d", spec=6, gpu="a100-80gb")
    assert vllm.speculative_tokens(WITH35, query) == 6
    profile, _ = vllm.version_profile(query)
    assert max(vllm.cudagraph_capture_sizes(profile, 24, 8192, num_speculative_tokens=6)) == 336


@pytest.mark.parametrize(
    ("release", "sentence", "error"),
    [
        # vLLM itself refuses these (exit 2) ...
        ("0.19", "has no DFlash drafter", InputError),
        ("0.27", "has sliding layers but no window: its config leaves use_sliding_window off", InputError),
        ("0.33", "has sliding layers but no window", InputError),
        # ... this one vram has not read (exit 1).
        ("0.25", "has not read how vLLM 0.25 keeps the sliding layers", UnmodelledError),
    ],
)
def test_releases_vram_cannot_size_say_so(release: str, sentence: str, error: type) -> None:
    query = q27(vllm=release, seq_len=32_768)
    assert sentence in (vllm.drafter_refusal(WITH27, query) or "")
    with pytest.raises(error, match=sentence) as raised:
        vllm.kv_layout(WITH27, query)
    assert type(raised.value) is error


def test_a_drafter_config_with_use_sliding_window_has_its_window() -> None:
    # transformers' Qwen3Config keeps sliding_window only with use_sliding_window true (default
    # false): vLLM's DFlash layers then read the 2,048-token window and start (0.29+: V2 runner).
    on = {**_config("qwen3_6_27b_dflash.json"), "use_sliding_window": True}
    drafter = read_drafter("acme/d", on, load_model_spec(on), SHIPPED)
    assert [x.window for x in drafter.spec.layers] == [2048, 2048, 2048, 2048, None]
    assert vllm.drafter_refusal(QWEN27.model_copy(update={"drafter": drafter}), q27(vllm="0.33")) is None


def test_sliding_drafter_layers_follow_layer_types_from_026() -> None:
    config = {**_config("qwen3_6_27b_dflash.json"), "use_sliding_window": True}
    spec = load_model_spec(config)
    drafter = read_drafter("z-lab/Qwen3.6-27B-DFlash", config, spec, SHIPPED)
    target = WITH27.model_copy(update={"drafter": drafter})
    # 0.20-0.24: every drafter layer is full attention (DFlashQwen3Attention passes no window).
    assert {layer.kind for layer in vllm.drafter_kv_layers(target, q27(vllm="0.24"))} == {"full"}
    # 0.26+: four sliding layers (window 2,048) and one full; the mix needs the V2 runner.
    kinds = [(layer.kind, layer.window) for layer in vllm.drafter_kv_layers(target, q27(vllm="0.33"))]
    assert kinds == [("sliding", 2048)] * 4 + [("full", None)]


@pytest.mark.parametrize("release", ["0.26", "0.27", "0.28"])
def test_a_mixed_dflash_drafter_starts_the_v2_runner_from_026(release: str) -> None:
    """config/vllm.py@v0.26.0 .. @v0.28.0 use_v2_model_runner: _dflash_needs_multi_kv_group picks V2
    before the architecture test, so the hybrid Qwen3.5-27B target, which runs on V1 alone there,
    runs on V2 with this drafter; V2 profiles no CUDA graphs up to 0.28, so none leave the pool."""
    config = {**_config("qwen3_6_27b_dflash.json"), "use_sliding_window": True}
    drafter = read_drafter("z-lab/Qwen3.6-27B-DFlash", config, load_model_spec(config), SHIPPED)
    target = QWEN27.model_copy(update={"drafter": drafter})
    query = q27(vllm=release, seq_len=180_000)
    assert vllm.drafter_refusal(target, query) is None
    assert vllm.uses_v2_runner(target, query)
    assert not vllm.uses_v2_runner(QWEN27, query.model_copy(update={"draft": None, "spec": None}))
    assert not vllm.graphs_in_budget(target, query)
    layout, _ = vllm.kv_layout(target, query)
    # The block as in test_drafter_layers_join_the_hybrid_groups_as_logged: 816 tokens, 2,048 B per
    # token for target and drafter layers alike. Types: 16 target full, 4 drafter sliding, 1 drafter
    # full, 48 GDN: the fewest is 1 layer, so 69 groups of one layer each.
    kinds = sorted((t.kind, t.window, t.num_layers) for t in layout.types)
    assert kinds == [("full", None, 1), ("full", None, 16), ("mamba", None, 48), ("sliding", 2048, 4)]
    assert (layout.block_size, layout.group_size, layout.num_groups) == (816, 1, 69)
    # 10 GiB // (816 x 2,048 B x 1 layer) = 6,425 blocks. One 180,000-token request: 17 full groups x
    # cdiv(180,000, 816) = 17 x 221; 4 sliding groups x (cdiv(2,048 - 1 + 2 in-flight batches x 8,192,
    # 816) + 1) = 4 x (23 + 1); 48 GDN groups x (2 + 5) state pages: 3,757 + 96 + 336 = 4,189 blocks.
    blocks, _, concurrency = vllm.kv_capacity(target, query, 10 * GiB, batched_tokens=8192)
    assert blocks == 10 * GiB // (816 * 2048) == 6425
    assert concurrency == pytest.approx(6425 / (17 * 221 + 4 * 24 + 48 * 7))


def test_the_answer_names_the_drafter() -> None:
    query = q27(seq_len=185_000, gpu="rtx-3090", util=0.95, weight_format="int4")
    est = estimate(WITH27, query, model_id="Qwen/Qwen3.6-27B")
    report = est.engine_report
    assert isinstance(report, vllm.VllmReport) and report.drafter is not None
    assert report.drafter.model == "z-lab/Qwen3.6-27B-DFlash"
    line = vllm.ENGINE.summary_line(est, lambda text: text)
    assert line is not None and "dflash drafter z-lab/Qwen3.6-27B-DFlash (5 speculative tokens)" in line
    assert "1.73 GiB of weights and 10 KiB of KV per token in its 5 layers" in line
    # --json: the drafter under "vllm", the keys under "inputs".
    data = est.to_json()
    assert data["inputs"]["draft"] == "z-lab/Qwen3.6-27B-DFlash" and data["inputs"]["spec"] == 5
    assert data["vllm"]["drafter"]["weights"] == 1_861_346_560
    assert data["vllm"]["drafter"]["kv_bytes_per_token"] == 10_240


def test_a_smaller_drafter_page_holds_more_tokens_per_block() -> None:
    # Qwen3.6-35B-A3B at TP 8: the target's 2 KV heads are replicated (1 x 256 x 2 x 2 B = 1,024 B
    # per token), the drafter's 4 split to 1 (1 x 128 x 2 x 2 B = 512 B): its page is half the
    # target's, so vLLM doubles its block size (unify_kv_cache_spec_page_size) instead of refusing.
    query = Query(engine="vllm", vllm="0.20", seq_len=8192, gpus=8, prefix_caching=True, draft="d", spec=6)
    layout, _ = vllm.kv_layout(WITH35, query)
    drafter = next(t for t in layout.types if t.kind == "full" and t.num_layers == 8)
    assert drafter.block_size == 2 * layout.block_size
    report = vllm.drafter_report(WITH35, query)
    assert report is not None and report.kv_bytes_per_token == 8 * 512
    # TP sizes: the drafter's 32 heads / 8 KV heads must divide too (DFlashQwen3Attention asserts it).
    # MiniMax-M2's 48 heads, 8 KV heads and 1,536-wide experts take TP 24 (48 / 24 = 2, 24 / 8 = 3,
    # 1,536 / 24 = 64); the Qwen3.6-27B drafter's 32 heads do not (32 / 24 is not whole).
    minimax = load_model_spec(_config("minimax_m2.json"))
    with_drafter = minimax.model_copy(update={"drafter": DRAFT27})
    assert vllm.tp_refusal(minimax, 24) is None
    assert vllm.tp_refusal(with_drafter, 24) == "the drafter's 32 attention heads do not divide by 24"
    assert 24 in vllm.ENGINE.tp_sizes(minimax, 48) and 24 not in vllm.ENGINE.tp_sizes(with_drafter, 48)


def test_a_drafter_for_another_target_is_refused() -> None:
    # The Qwen3.6-27B DFlash drafter (hidden 5,120, target_layer_ids up to 61 of 64) beside
    # Qwen3-8B (hidden 4,096, 36 layers): its fc takes 5 x 5,120 features, the target has 5 x 4,096.
    qwen8b = load_model_spec(json.loads((ROOT / "tests/fixtures/configs/Qwen__Qwen3-8B.json").read_text()))
    why = vllm.drafter_refusal(qwen8b.model_copy(update={"drafter": DRAFT27}), q27(gpus=1))
    assert why is not None and "width 5,120" in why and "target's hidden_size is 4,096" in why
    # Same width, too few layers: the hidden state after layer 62 (61 + 1 from 0.22) of a 36-layer target.
    narrow = DRAFT27.model_copy(update={"target_hidden_size": 4096})
    with_narrow = qwen8b.model_copy(update={"drafter": narrow})
    for release in ("0.20", "0.22", "0.33"):
        why = vllm.drafter_refusal(with_narrow, q27(gpus=1, vllm=release))
        assert why is not None and "target_layer_ids reach layer 61" in why and "36 layers" in why
    # Id 64 of the 64-layer target it was built for: the last layer's output up to 0.21, past it
    # (65) from 0.22; id 63 is the last layer's output from 0.22.
    last = WITH27.model_copy(update={"drafter": DRAFT27.model_copy(update={"target_layer_ids": (1, 64)})})
    assert vllm.drafter_refusal(last, q27(vllm="0.21")) is None
    assert "reach layer 64" in (vllm.drafter_refusal(last, q27(vllm="0.22")) or "")
    ok = WITH27.model_copy(update={"drafter": DRAFT27.model_copy(update={"target_layer_ids": (1, 63)})})
    assert ok.drafter is not None and vllm.drafter_refusal(ok, q27(vllm="0.22")) is None
    assert DRAFT27.target_layer_ids == (1, 16, 31, 46, 61)
    assert vllm.drafter_refusal(WITH27, q27()) is None


def test_the_drafter_kv_is_its_kv_terms_times_b() -> None:
    # One rule for the drafter's KV: vllm.drafter.kv_cache is its kv_terms (drafter, drafter_sliding)
    # x b; the rounding to whole blocks of every layer is the "blocks" term.
    query = Query(engine="vllm", vllm="0.20", gpu="h100", seq_len=32_768, batch=3, draft="d", spec=8)
    est = estimate(WITH27, query, model_id="Qwen/Qwen3.6-27B")
    report = est.engine_report
    assert isinstance(report, vllm.VllmReport) and report.drafter is not None
    # 0.20 runs the drafter's 5 layers as full attention: 5 x 8 KV heads x (128 + 128) x 2 B = 20,480 B
    # per token x 32,768 tokens x 3 requests.
    assert report.drafter.kv_cache == 5 * 8 * 256 * 2 * 32_768 * 3
    drafter_terms = [t for t in est.details.kv_terms if t.part in ("drafter", "drafter_sliding")]
    assert sum(t.bytes_per_sequence for t in drafter_terms) * 3 == report.drafter.kv_cache
    # Whole blocks are there too: the row is the terms' sum x b, more than attention + drafter + states.
    assert sum(t.bytes_per_sequence for t in est.details.kv_terms) * 3 == est.memory.kv_cache
    assert any(t.part == "blocks" and t.bytes_per_sequence > 0 for t in est.details.kv_terms)


def test_a_sliding_drafter_kv_is_its_kv_terms_times_b() -> None:
    # use_sliding_window on: 0.33 keeps the drafter's 4 sliding layers to the window and in-flight batches.
    config = {**_config("qwen3_6_27b_dflash.json"), "use_sliding_window": True}
    spec = load_model_spec(config)
    drafter = read_drafter("acme/d", config, spec, SHIPPED)
    assert sum(layer.kind == "sliding" and layer.window == 2048 for layer in drafter.spec.layers) == 4
    with_sliding = QWEN27.model_copy(update={"drafter": drafter})
    query = Query(engine="vllm", vllm="0.33", gpu="h200", seq_len=65_536, batch=2, draft="d", spec=8)
    est = estimate(with_sliding, query, model_id="Qwen/Qwen3.6-27B")
    report = est.engine_report
    assert isinstance(report, vllm.VllmReport) and report.drafter is not None
    sliding = [t for t in est.details.kv_terms if t.part == "drafter_sliding"]
    full = [t for t in est.details.kv_terms if t.part == "drafter"]
    assert [t.layers for t in sliding] == [4] and [t.layers for t in full] == [1]
    # The full layer: 8 x 256 x 2 B = 4,096 B per token x 65,536 tokens; the sliding ones less than s each.
    assert full[0].bytes_per_sequence == 4096 * 65_536
    assert 2048 <= sliding[0].tokens < 65_536
    assert report.drafter.kv_cache == (full[0].bytes_per_sequence + sliding[0].bytes_per_sequence) * 2
