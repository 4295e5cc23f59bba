"""vLLM pipeline parallelism (pp=): the layer split, each rank's weights and profile, and the block
count the engine shares between ranks, against hand arithmetic and the n053 start-up log (Qwen3-32B,
vLLM 0.27.1, PP 2 on two RTX PRO 6000)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from common.errors import InputError, UnmodelledError
from estimator.config import load_model_spec
from estimator.engines import vllm
from estimator.estimate import estimate
from estimator.gpus import lookup_gpu
from estimator.grammar import parse_query
from estimator.pipeline import pp_bounds, pp_partition, pp_refusal, stage_spec, stage_specs
from estimator.query import Query
from estimator.spec import ModelSpec
from estimator.weights import weight_bytes

GiB = 1 << 30
CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "configs"


def spec_of(name: str) -> ModelSpec:
    return load_model_spec(json.loads((CONFIGS / f"{name}.json").read_text()))


@pytest.fixture(scope="module")
def qwen3_32b() -> ModelSpec:
    return spec_of("Qwen__Qwen3-32B")


# Qwen3-32B: hidden 5,120, 64 heads x 128 (8,192), 8 KV heads x 128 (1,024), MLP 25,600, vocabulary
# 151,936, untied. One layer: q and o 5,120 x 8,192 each, k and v 5,120 x 1,024 each, gate/up/down
# 3 x 5,120 x 25,600, q/k norms 2 x 128, two RMSNorms 2 x 5,120.
LAYER = 2 * 5_120 * 8_192 + 2 * 5_120 * 1_024 + 3 * 5_120 * 25_600 + 2 * 128 + 2 * 5_120
VOCAB = 151_936 * 5_120


def test_layer_split_as_get_pp_indices() -> None:
    # num_layers // pp each; the remainder one more each to the ranks before the last, from the
    # second-to-last back (distributed/utils.py get_pp_indices@v0.27.1).
    assert pp_partition(64, 2) == (32, 32)
    assert pp_partition(65, 2) == (33, 32)  # 65 // 2 = 32, remainder 1 to rank 0 (the second-to-last)
    assert pp_partition(61, 4) == (15, 15, 16, 15)  # remainder 1: rank 2
    assert pp_partition(62, 4) == (15, 16, 16, 15)  # remainder 2: ranks 2 and 1
    assert pp_partition(63, 4) == (16, 16, 16, 15)  # remainder 3: ranks 2, 1, 0
    assert pp_partition(36, 5) == (7, 7, 7, 8, 7)
    assert pp_bounds(36, 5) == ((0, 7), (7, 14), (14, 21), (21, 29), (29, 36))
    assert pp_partition(3, 3) == (1, 1, 1)
    with pytest.raises(ValueError):
        pp_partition(3, 4)


def test_each_rank_holds_its_layers_and_its_end_of_the_vocabulary(qwen3_32b: ModelSpec) -> None:
    first, last = stage_specs(qwen3_32b, 2)
    assert (first.num_layers, last.num_layers) == (32, 32)
    assert first.pp_stage is not None and first.pp_stage.first and not first.pp_stage.last
    # The first rank: the embedding and 32 layers; the last: 32 layers, the final norm and the LM head.
    assert weight_bytes(first) == 2 * (32 * LAYER + VOCAB)
    assert weight_bytes(last) == 2 * (32 * LAYER + 5_120 + VOCAB)
    assert weight_bytes(first) + weight_bytes(last) == weight_bytes(qwen3_32b)
    # Each rank caches its own 32 layers: 32 x 8 heads x 128 x 2 (K, V) x 2 B = 131,072 B per token.
    assert {layer.kv_heads for layer in first.layers} == {8} and len(first.layers) == 32


def test_tied_embeddings_sit_on_the_first_and_the_last_rank() -> None:
    # Qwen3-0.6B: 28 layers, hidden 1,024, vocabulary 151,936, tied: the last rank builds
    # embed_tokens as its LM head (qwen2.py: is_first_rank or (tie_word_embeddings and is_last_rank)).
    spec = spec_of("Qwen__Qwen3-0.6B")
    assert spec.tie_word_embeddings
    first, middle, last = stage_specs(spec, 3)
    vocab = 151_936 * 1_024
    assert (first.params.embedding, middle.params.embedding, last.params.embedding) == (vocab, 0, vocab)
    assert first.num_layers + middle.num_layers + last.num_layers == 28  # 9, 10, 9
    assert (first.num_layers, middle.num_layers, last.num_layers) == (9, 10, 9)


def test_models_whose_layers_differ_are_refused() -> None:
    assert pp_refusal(spec_of("Qwen__Qwen3-32B"), 2) is None
    # Gemma 2 alternates sliding and global layers; Qwen2.5-VL has a vision tower on the first rank
    # (unless mm=0 starts it text only). A dense/MoE mix whose placement vram reads is sized.
    for name in ("google__gemma-2-9b-it", "Qwen__Qwen2.5-VL-7B-Instruct"):
        assert pp_refusal(spec_of(name), 2) is not None, name
    assert "cannot fill" in (pp_refusal(spec_of("Qwen__Qwen3-0.6B"), 29) or "")
    # Mistral-7B-v0.1: a 4,096-token window on every layer, whose in-flight reservation PP changes.
    assert "sliding-window" in (pp_refusal(spec_of("mistralai__Mistral-7B-v0.1"), 2) or "")


# n053: Qwen3-32B bf16, vLLM 0.27.1, PP 2 on two RTX PRO 6000 Blackwell (95.01 GiB), util 0.426,
# max_model_len 32,768; the V2 runner, 8,192 batched tokens and 1,024 sequences.
N053 = Query(engine="vllm", vllm="0.27", seq_len=32_768, gpus=1, pp=2, util=0.426)


@pytest.fixture(scope="module")
def n053(qwen3_32b: ModelSpec) -> vllm.VllmReport:
    gpu = lookup_gpu("rtx-pro-6000")
    gpu = gpu.model_copy(update={"memory_bytes": int(95.01 * GiB)})
    return vllm.vllm_report(qwen3_32b, N053, weights_bytes=0, gpu=gpu)


def test_n053_weights_per_rank_are_the_logged_ones(n053: vllm.VllmReport) -> None:
    # "(Worker_PP0) Model loading took 30.52 GiB", "(Worker_PP1) Model loading took 30.52 GiB": each
    # rank's 32 layers and one vocabulary matrix, plus the bf16 rope cache (40,960 positions x 128)
    # and under 1 MiB of the caching allocator's segment rounding.
    first = n053.pipeline[0]
    assert 0 <= first.weights - (2 * (32 * LAYER + VOCAB) + 40_960 * 128 * 2) < 1 << 20
    for rank in n053.pipeline:
        assert abs(rank.weights / GiB - 30.52) <= 0.005


# The V2 runner's per-request tables beside the penalty state (allowed, logit-bias ids and biases,
# bad-word ids 1,024 each; stop ids 128; bad-word offsets 129; logprob ids 128: 4,481 four-byte
# slots) and the grammar bitmask (151,936 / 32 = 4,748 int32 + 1 logits index per row), 1,024 rows.
V2_REQUEST_TABLES = 1_024 * (4 * 1_024 + 128 + 129 + 128) * 4 + 1_024 * (4_748 + 1) * 4


def n053_last_rank_activations() -> int:
    forward = 8_192 * (2 * 5_120 * 2 + 4 * 5_120) + 8_192 * 3 * 25_600 * 2
    return forward + 2 * 8_192 * 5_120 * 2 + 1_024 * (151_936 + 4_748) * 4 + V2_REQUEST_TABLES


def test_n053_profile_per_rank(n053: vllm.VllmReport) -> None:
    first, last = n053.pipeline
    # Both ranks: the prefill MLP at 8,192 tokens, 8,192 x (2 x 5,120 x 2 + 4 x 5,120) + 8,192 x 3 x
    # 25,600 x 2 = 1,593,835,520 B. Only the last rank samples and holds the V2 sampler's penalty
    # state, 1,024 x (151,936 + 4,748) x 4 = 641,777,664 B, and only it receives the previous rank's
    # hidden states and residual, 2 x 8,192 x 5,120 x 2 = 167,772,160 B.
    forward = 8_192 * (2 * 5_120 * 2 + 4 * 5_120) + 8_192 * 3 * 25_600 * 2
    assert first.activation_peak == forward
    assert last.activation_peak == forward + 167_772_160 + 641_777_664 + V2_REQUEST_TABLES
    # The report's per-GPU terms are the rank with the smaller pool: the last.
    assert n053.activation_peak == last.activation_peak
    assert n053.kv_cache_memory == min(first.kv_cache_memory, last.kv_cache_memory) == last.kv_cache_memory


def test_n053_engine_takes_the_fewest_blocks(n053: vllm.VllmReport) -> None:
    # get_kv_cache_configs@v0.27.1 gives every rank the fewest blocks; 2 MiB blocks (16 tokens x
    # 131,072 B) on both ranks.
    first, last = n053.pipeline
    assert n053.num_gpu_blocks == min(first.num_gpu_blocks, last.num_gpu_blocks)
    assert last.num_gpu_blocks == last.kv_cache_memory // (2 << 20)
    assert n053.kv_cache_tokens == n053.num_gpu_blocks * 16
    assert n053.max_concurrency == n053.num_gpu_blocks * 16 * 100 // 32_768 / 100  # rounded down
    # The pool line is the first rank's (logged once per node); the tokens are the shared count's.
    assert n053.log_lines[0] == f"Available KV cache memory: {vllm.format_gib(first.kv_cache_memory)} GiB"
    assert n053.log_lines[1] == f"GPU KV cache size: {n053.kv_cache_tokens:,} tokens"


def test_n053_logged_tokens_from_the_first_ranks_pool(qwen3_32b: ModelSpec) -> None:
    # "Available KV cache memory: 6.92 GiB" (PP0), "GPU KV cache size: 56,640 tokens", "Maximum
    # concurrency for 32,768 tokens per request: 1.73x": 6.92 GiB / 2 MiB = 3,543.04, but a pool
    # printed as 6.92 lies in [6.915, 6.925) GiB, 3,540.48 to 3,545.6 blocks: 3,540 blocks, 56,640
    # tokens, at its low end (or the last rank's smaller pool).
    first = stage_spec(qwen3_32b, 0, 2)
    low = vllm.kv_capacity(first, N053, int(6.915 * GiB), batched_tokens=8_192)
    assert low[0] == 3_540 and low[1] == 56_640 and round(low[2], 2) == 1.73


def test_estimate_answers_for_the_busiest_rank(qwen3_32b: ModelSpec) -> None:
    q, _ = parse_query(["Qwen/Qwen3-32B", "engine=vllm", "vllm=0.27", "gpu=rtx-pro-6000", "s=32k", "pp=2"])
    est = estimate(qwen3_32b, q, model_id="Qwen/Qwen3-32B")
    assert est.query.pp == 2 and est.model_dump()["query"]["pp"] == 2
    # The last rank: its LM head and final norm, the sampler, the buffer of incoming hidden states.
    assert 0 <= est.memory.weights - (2 * (32 * LAYER + 5_120 + VOCAB) + 40_960 * 128 * 2) < 1 << 20
    assert est.memory.activations == n053_last_rank_activations()
    assert est.params_total == qwen3_32b.params.total
    report = est.engine_report
    assert isinstance(report, vllm.VllmReport) and len(report.pipeline) == 2


def test_pp_key_and_its_refusals(qwen3_32b: ModelSpec) -> None:
    for word in ("pp=2", "pipeline=2"):
        q, keys = parse_query(["m", word])
        assert q.pp == 2 and keys == ("pp",)
    for word in ("pp=0", "pp=1.5", "pp=two"):
        with pytest.raises(InputError, match="pp="):
            parse_query(["m", word])
    # transformers splits layers over gpus= itself; classic sizes one whole model; 64 x 32 GPUs.
    for words in (["engine=transformers", "pp=2"], ["engine=vllm", "method=classic", "pp=2"], ["gpus=64", "pp=32"]):
        q, _ = parse_query(["Qwen/Qwen3-32B", "engine=vllm", *words] if "gpus=64" in words else ["m", *words])
        with pytest.raises(InputError, match="pp="):
            estimate(qwen3_32b, q, model_id="Qwen/Qwen3-32B")
    q, _ = parse_query(["google/gemma-2-9b-it", "engine=vllm", "pp=2"])
    with pytest.raises(UnmodelledError, match="pp=2"):
        estimate(spec_of("google__gemma-2-9b-it"), q, model_id="google/gemma-2-9b-it")


def test_n_scales_the_whole_models_count(qwen3_32b: ModelSpec) -> None:
    # n= is the whole model's parameter count: half of it halves each stage's checkpoint share.
    words = ["Qwen/Qwen3-32B", "engine=vllm", "pp=2"]
    plain = estimate(qwen3_32b, parse_query(words)[0], model_id="m")
    half = estimate(qwen3_32b, parse_query([*words, f"n={32.762123264 / 2}"])[0], model_id="m")
    rope = 40_960 * 128 * 2
    assert abs((half.memory.weights - rope) * 2 - (plain.memory.weights - rope)) < 1 << 20


def test_every_figure_of_a_three_stage_answer_is_one_stages_or_says_which() -> None:
    # Qwen3-32B over 3 stages: 64 // 3 = 21 each, the remainder to the second-to-last first: 21, 22,
    # 21. Stage 2 holds 22 layers and neither end of the vocabulary: 2 x 22 x LAYER B of matrices.
    # vllm=0.33: a pool of bytes // bytes per block blocks, whose "Available KV cache memory" is the
    # pool itself (0.34: test_a_three_stage_extensible_cache_commits_the_fewest_blocks).
    qwen3_32b = spec_of("Qwen__Qwen3-32B")
    q, _ = parse_query(["m", "engine=vllm", "gpu=l40s", "s=32k", "b=8", "pp=3", "vllm=0.33"])
    est = estimate(qwen3_32b, q, model_id="m")
    v = est.engine_report
    assert isinstance(v, vllm.VllmReport)
    assert [(r.first_layer, r.layers) for r in v.pipeline] == [(0, 21), (21, 22), (43, 21)]
    # The rows and the report's per-GPU fields are the same stage: the busiest, stage 2.
    assert v.pipeline_shown == 1
    rope = 40_960 * 128 * 2
    assert 0 <= est.memory.weights - (2 * 22 * LAYER + rope) < 1 << 20
    assert v.weights == est.memory.weights == v.pipeline[1].weights
    assert v.activation_peak == est.memory.activations == v.pipeline[1].activation_peak
    assert v.kv_cache_memory == v.pipeline[1].kv_cache_memory
    # Stage 2's blocks: 16 tokens x 22 layers x 8 heads x 128 x 2 (K, V) x 2 B = 1,441,792 B each;
    # the engine's count is the fewest of any stage (stage 2's: the most layers per block).
    assert v.pipeline[1].num_gpu_blocks == v.pipeline[1].kv_cache_memory // 1_441_792
    assert v.num_gpu_blocks == min(r.num_gpu_blocks for r in v.pipeline) == v.pipeline[1].num_gpu_blocks
    assert v.pipeline_fewest_blocks == 1
    # What vLLM prints: the first rank's own pool, and the shared count's capacity.
    assert v.log_lines[0] == f"Available KV cache memory: {vllm.format_gib(v.pipeline[0].kv_cache_memory)} GiB"
    assert v.max_concurrency == v.num_gpu_blocks * 16 * 100 // 32_768 / 100
    line = vllm.VllmEngine().summary_line(est, lambda x: x) or ""
    assert (
        f"on stage 2 (the one the rows show) the KV pool takes what the rest leaves, {v.kv_cache_memory / GiB:.1f} GiB"
        in line
    )
    assert f"the fewest blocks of any, {v.num_gpu_blocks:,} (stage 2's)" in line
    assert f'"{v.log_lines[0]}" is stage 1\'s own pool' in line


def test_a_three_stage_extensible_cache_commits_the_fewest_blocks() -> None:
    # 0.34: each stage measures its own pool after warm-up and commits whole 2 MiB granules per layer
    # segment; the engine takes the fewest blocks of any stage, and the first rank logs the capacity
    # it reserved (its profiled estimate) and the shared committed blocks. Stage 2's block: 64 tokens
    # x 22 layers x 8 heads x 128 x 2 (K, V) x 2 B = 5,767,168 B, each layer's 262,144 B, 8 to a granule.
    qwen3_32b = spec_of("Qwen__Qwen3-32B")
    q, _ = parse_query(["m", "engine=vllm", "gpu=l40s", "s=32k", "b=8", "pp=3"])
    v = estimate(qwen3_32b, q, model_id="m").engine_report
    assert isinstance(v, vllm.VllmReport) and v.kv_sizing == "extensible"
    stage2 = v.pipeline[1]
    # The most blocks whose 22 segments, each rounded up to 2 MiB granules, fit the stage's bytes.
    granules = stage2.kv_cache_memory // (22 * 2 * 2**20)
    assert stage2.num_gpu_blocks == min(8 * granules, stage2.kv_cache_memory // 5_767_168)
    assert v.num_gpu_blocks == min(r.num_gpu_blocks for r in v.pipeline)
    first = v.pipeline[0]
    assert v.log_lines[0].startswith("Available KV cache memory: ")
    assert v.log_lines[0] != f"Available KV cache memory: {vllm.format_gib(first.kv_cache_memory)} GiB"
    assert v.log_lines[1].startswith("GPU KV cache size: ")
    assert v.log_lines[2].startswith(f"Extended KV cache to {v.num_gpu_blocks} blocks (")


def test_the_weights_line_gives_the_stages_count_of_the_whole() -> None:
    from bot.report import breakdown

    # Stage 2 of 2: 32 layers, the final norm (5,120) and the LM head (151,936 x 5,120):
    # 32 x 487,598,336 + 5,120 + 777,912,320 = 16,381,064,192 of 32,762,123,264.
    assert 32 * LAYER + 5_120 + VOCAB == 16_381_064_192
    q, _ = parse_query(["m", "engine=vllm", "gpu=h100", "s=32k", "pp=2"])
    est = estimate(spec_of("Qwen__Qwen3-32B"), q, model_id="m")
    why = next(text for label, _, text in breakdown(est) if label == "Weights")
    assert why.startswith("16.38B of 32.76B parameters in bf16, pipeline stage 2 of 2 (layers 32-63)")


def test_mtp_layers_do_not_bar_pp_without_speculative_decoding() -> None:
    # DeepSeek-V3 ships one MTP layer (num_nextn_predict_layers), which vLLM builds only for MTP
    # speculative decoding; without it its layers split over stages, dense and MoE alike.
    v3 = spec_of("deepseek-ai__DeepSeek-V3")
    assert v3.mtp_layers == 1
    assert pp_refusal(v3, 2) is None
    assert "speculative" in (pp_refusal(v3, 2, speculative=True) or "")


def test_the_configs_own_per_layer_list_places_the_moe_layers() -> None:
    # DeepSeek-V3.2's config (transformers' class defaults) gives mlp_layer_types: 3 "dense", then 58
    # "sparse". The stages split its dense and MoE layers as DeepSeek-V3's (31 and 30 layers).
    v32 = load_model_spec(json.loads((CONFIGS.parent / "calibration2" / "configs" / "deepseek_v32.json").read_text()))
    assert v32.moe_layer_flags == (False,) * 3 + (True,) * 58
    assert pp_refusal(v32, 2) is None
    one, two = stage_specs(v32, 2)
    assert (one.num_layers, one.num_moe_layers, two.num_layers, two.num_moe_layers) == (31, 28, 30, 30)


def test_a_model_mixing_dense_and_moe_layers_shares_each_part_by_where_its_layers_fall() -> None:
    # DeepSeek-V3: 61 layers, the first 3 dense (first_k_dense_replace), 58 MoE. pp=2 gives ranks of
    # 31 and 30 layers (0-30, 31-60): rank 1 holds the 3 dense MLPs and 28 MoE layers, rank 2 30 MoE
    # layers. Per dense layer the MLP is 3 x 7,168 x 18,432; per MoE layer 256 routed experts of
    # 3 x 7,168 x 2,048, one shared expert of the same width, and a router of 256 x 7,168 plus the
    # 256 correction biases (noaux_tc).
    v3 = spec_of("deepseek-ai__DeepSeek-V3")
    dense, routed = 3 * 7_168 * 18_432, 256 * 3 * 7_168 * 2_048
    shared, router = 3 * 7_168 * 2_048, 256 * 7_168 + 256
    one, two = stage_specs(v3, 2)
    assert (one.num_layers, one.num_moe_layers, two.num_layers, two.num_moe_layers) == (31, 28, 30, 30)
    assert one.params.dense_mlp == 3 * dense and two.params.dense_mlp == 0
    assert (one.params.routed_experts, two.params.routed_experts) == (28 * routed, 30 * routed)
    assert (one.params.shared_experts, two.params.shared_experts) == (28 * shared, 30 * shared)
    assert (one.params.router, two.params.router) == (28 * router, 30 * router)
    for part in ("dense_mlp", "routed_experts", "shared_experts", "router", "attention"):
        assert getattr(one.params, part) + getattr(two.params, part) == getattr(v3.params, part), part
    # The answer sizes the busier rank; the one that the whole-model refusal once stopped now starts.
    q, _ = parse_query(["m", "engine=vllm", "vllm=0.33", "gpu=h200", "gpus=8", "pp=2", "s=32k", "b=8"])
    est = estimate(v3, q, model_id="m")
    assert est.fit is not None and est.fit.fits
    # Gemma 2: sliding and global attention, no state layers: the refusal names what it mixes.
    why = pp_refusal(spec_of("google__gemma-2-9b-it"), 2) or ""
    assert "full attention and sliding-window attention layers" in why and "state" not in why


def test_more_stages_than_layers_is_invalid_input() -> None:
    # Qwen3-8B has 36 decoder layers: a 37th stage would hold none.
    q, _ = parse_query(["m", "engine=vllm", "gpu=h100", "pp=37"])
    with pytest.raises(InputError, match=r"pp=37 is too many stages.*36 decoder layers.*pp=36 or fewer"):
        estimate(spec_of("Qwen__Qwen3-8B"), q, model_id="m")


def test_a_text_only_start_of_a_vision_model_is_sized_over_stages() -> None:
    # Qwen2.5-VL-7B with mm=0 builds no vision tower on any rank. Stage 2 of 2 holds layers 14-27,
    # the final norm and the untied LM head: hidden 3,584, 28 heads x 128, 4 KV heads x 128 (q, k, v
    # biases), MLP 18,944, vocabulary 152,064.
    spec = spec_of("Qwen__Qwen2.5-VL-7B-Instruct")
    assert pp_refusal(spec, 2) is not None and pp_refusal(spec, 2, text_only=True) is None
    layer = 2 * 3_584 * 3_584 + 2 * 3_584 * 512 + 3_584 + 2 * 512 + 3 * 3_584 * 18_944 + 2 * 3_584
    matrices = 2 * (14 * layer + 3_584 + 152_064 * 3_584)
    q, _ = parse_query(["m", "engine=vllm", "gpu=h100", "s=8k", "pp=2", "mm=0"])
    est = estimate(spec, q, model_id="m")
    # Beyond the matrices only the rotary cache and the allocator's rounding (under 0.1 GiB): none
    # of the tower's 677M parameters (1.26 GiB in bf16).
    assert 0 <= est.memory.weights - matrices < GiB // 10
    q, _ = parse_query(["m", "engine=vllm", "gpu=h100", "s=8k", "pp=2"])
    with pytest.raises(UnmodelledError, match=r"text models only.*mm=0"):
        estimate(spec, q, model_id="m")


def test_the_fewest_gpus_hold_every_stage_not_only_the_asked_layouts_busiest(qwen3_32b: ModelSpec) -> None:
    # Qwen3-32B over 3 stages (21, 22, 21 layers) on L4s at util 0.5: at tp=1 the middle stage holds
    # the most (one more layer of weights and 8 requests' KV), at tp=4 the last (its LM head and the
    # sampler's state, which tensor parallelism does not shrink as much). vLLM starts only where every
    # stage holds its share, as the report checks: the layout the answer offers must be one.
    words = ["m", "engine=vllm", "gpu=l4", "s=32k", "b=8", "pp=3", "vllm=0.19", "util=0.5"]
    est = estimate(qwen3_32b, parse_query(words)[0], model_id="m")
    assert est.fit is not None and not est.fit.fits and est.fit.min_gpus
    tp4 = estimate(qwen3_32b, parse_query([*words, "tp=4"])[0], model_id="m")
    assert isinstance(tp4.engine_report, vllm.VllmReport) and tp4.engine_report.pipeline_shown == 2
    assert tp4.fit is not None and not tp4.fit.fits
    fewest = [f"tp={est.fit.min_gpus}", f"dp={est.fit.min_gpus_dp}"]
    offered = estimate(qwen3_32b, parse_query([*words, *fewest])[0], model_id="m")
    assert offered.fit is not None and offered.fit.fits
    assert est.fit.min_gpus * est.fit.min_gpus_dp > 4


def test_stages_of_data_parallel_moe_replicas_say_how_the_experts_split() -> None:
    from bot.report import breakdown

    q, _ = parse_query(["m", "engine=vllm", "gpu=h200", "gpus=8", "dp=2", "pp=2", "s=32k", "b=16"])
    est = estimate(spec_of("deepseek-ai__DeepSeek-V3"), q, model_id="m")
    why = next(text for label, _, text in breakdown(est) if label == "Weights")
    assert "pipeline stage 2 of 2 (layers 31-60), routed experts split over gpus x dp = 16 GPUs, the rest over 8" in why


def test_a_rank_without_moe_layers_has_no_moe_activation_peak() -> None:
    # DeepSeek-V3 over 20 ranks: the first holds layers 0-2, its three dense layers, and no experts.
    v3 = spec_of("deepseek-ai__DeepSeek-V3")
    first, second = stage_specs(v3, 20)[:2]
    assert (first.num_layers, first.num_moe_layers, second.num_moe_layers) == (3, 0, 3)
    q = Query(engine="vllm", gpus=8, pp=20, gpu="h200")
    assert vllm.activation_peak(first, q, gpu=lookup_gpu("h200"))[1].startswith("prefill MLP")
    assert vllm.activation_peak(second, q, gpu=lookup_gpu("h200"))[1].startswith("MoE experts")


def test_a_text_only_multimodal_model_holds_its_tower_on_the_first_rank_only() -> None:
    # Qwen3-VL-MoE over pp=2 with mm=0: the vision tower is counted once, on rank 0 (where vLLM would
    # build it, and which the text-only start drops); the ranks' parameters add up to the model's.
    from estimator.pipeline import stage_specs

    oracle = Path(__file__).resolve().parents[1] / "fixtures" / "oracle" / "configs"
    spec = load_model_spec(json.loads((oracle / "qwen3_vl_moe.json").read_text()))
    assert spec.params.vision > 0
    first, second = stage_specs(spec, 2)
    assert first.params.vision == spec.params.vision and second.params.vision == 0
    tied = spec.params.embedding if spec.tie_word_embeddings else 0
    assert first.params.total + second.params.total == spec.params.total + tied
    q, _ = parse_query(["m", "s=32k", "engine=vllm", "gpu=h100", "mm=0", "pp=2"])
    est = estimate(spec, q, model_id="m")
    # The rank shown (the second, with the untied head) holds no tower, so its weights drop none.
    assert est.engine_report is not None and getattr(est.engine_report, "pipeline_shown", None) == 1
    assert all(t.part != "vision_dropped" for t in est.details.weight_terms), est.details.weight_terms
