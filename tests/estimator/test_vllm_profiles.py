"""vLLM release profiles: expected numbers are hand arithmetic from vLLM's source and logged lines."""

from __future__ import annotations

import pytest

from common.errors import InputError
from estimator.engines import vllm_profiles as vp

GiB = 1 << 30
MiB = 1 << 20


def test_every_minor_release_from_019_to_034_is_profiled() -> None:
    assert sorted(vp.PROFILES, key=lambda v: int(v.split(".")[1])) == [f"0.{m}" for m in range(19, 35)]


@pytest.mark.parametrize("given", ["0.24", "v0.24.0", "0.24.1", "0.24.0rc1.dev9+g01d4d1ad3"])
def test_profile_for_known_release_has_no_warning(given: str) -> None:
    profile, warning = vp.profile_for(given)
    assert profile.version == "0.24" and warning is None


def test_unknown_release_gets_nearest_with_a_warning_naming_it() -> None:
    profile, warning = vp.profile_for("0.40")
    assert profile.version == "0.34"
    assert warning is not None and "0.34" in warning and "0.40" in warning
    older, warning = vp.profile_for("v0.11.0")
    assert older.version == "0.19" and warning is not None and "0.19" in warning


def test_unparsable_version_raises() -> None:
    with pytest.raises(InputError):
        vp.profile_for("latest")


def test_version_switches_land_where_the_source_changed() -> None:
    # envs.py: VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS default "0" in 0.19.0, "1" in 0.20.0.
    assert vp.PROFILES["0.19"].cuda_graph_accounting == "opt_in"
    assert vp.PROFILES["0.20"].cuda_graph_accounting == "subtracted"
    # config/cache.py gpu_memory_utilization default 0.9 -> 0.92 in 0.20.0.
    assert vp.PROFILES["0.19"].gpu_memory_utilization == 0.9
    assert vp.PROFILES["0.33"].gpu_memory_utilization == 0.92
    # config/cache.py DEFAULT_BLOCK_SIZE 16 -> 64 in 0.34.0.
    assert vp.PROFILES["0.33"].default_block_size == 16 and vp.PROFILES["0.34"].default_block_size == 64
    assert vp.PROFILES["0.20"].kv_tokens_report == "blocks"
    assert vp.PROFILES["0.21"].kv_tokens_report == "concurrency"
    assert vp.PROFILES["0.26"].non_kv_accounting == "torch_peak"
    assert vp.PROFILES["0.27"].non_kv_accounting == "consumed"


def test_available_kv_cache_subtracts_cuda_graphs_only_where_the_release_does() -> None:
    requested, non_kv, graphs = 72 * GiB, 20 * GiB, 2 * GiB
    assert vp.available_kv_cache_bytes(vp.PROFILES["0.19"], requested, non_kv, graphs) == 52 * GiB
    assert vp.available_kv_cache_bytes(vp.PROFILES["0.24"], requested, non_kv, graphs) == 50 * GiB
    # VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS=0 on a newer release.
    assert (
        vp.available_kv_cache_bytes(vp.PROFILES["0.24"], requested, non_kv, graphs, estimate_cudagraphs=False)
        == 52 * GiB
    )
    with pytest.raises(InputError):
        vp.available_kv_cache_bytes(vp.PROFILES["0.34"], requested, non_kv, graphs)


def test_extensible_budget_is_measure_kv_cache_bytes() -> None:
    # v1/worker/extensible_kv_cache.py@v0.34.0 measure_kv_cache_bytes on round numbers: an 80 GiB device,
    # 1 GiB in use before vLLM (context), 30 GiB resident after capture, a 2 GiB transient peak:
    # margin max(1, 0.75 x 2) = 1.5 GiB; headroom 80 - 1 - 30 = 49 GiB; util 1.0 budget 80 - 30 = 50.
    profile = vp.PROFILES["0.34"]
    kw = dict(device_bytes=80 * GiB, outside_bytes=GiB, resident_non_kv_bytes=30 * GiB, transient_peak_bytes=2 * GiB)
    assert vp.extensible_margin_bytes(profile, 2 * GiB) == int(1.5 * GiB)
    assert vp.extensible_kv_cache_bytes(profile, requested_bytes=80 * GiB, **kw) == int(49 * GiB - 1.5 * GiB - 2 * GiB)
    # util 0.8: min(64 - 30, 49 - 1.5) - 2 = 32 GiB.
    assert vp.extensible_kv_cache_bytes(profile, requested_bytes=64 * GiB, **kw) == 32 * GiB
    # The larger of the peak and the torch reservation growth is kept free; ROCm's floor is 3 GiB.
    assert (
        vp.extensible_kv_cache_bytes(profile, requested_bytes=64 * GiB, torch_reserve_growth_bytes=3 * GiB, **kw)
        == 31 * GiB
    )
    assert vp.extensible_margin_bytes(profile, 2 * GiB, rocm=True) == 3 * GiB
    # A small peak: the 1 GiB floor.
    assert vp.extensible_margin_bytes(profile, 100 * MiB) == GiB
    # Nothing left is 0, not negative.
    assert vp.extensible_kv_cache_bytes(profile, requested_bytes=20 * GiB, **kw) == 0


def test_committed_blocks_round_each_segment_to_granules() -> None:
    # ExtensibleKVCache.blocks_within / physical_bytes_for: 4 segments of 1.5 MiB a block, 2 MiB
    # granules. 10 blocks: 15 MiB a segment -> 16 MiB, 64 MiB in all.
    strides = [3 * MiB // 2] * 4
    assert vp.committed_bytes(strides, 2 * MiB, 10) == 64 * MiB
    # 63 MiB holds 10 blocks' bytes (60 MiB) but not their granules: 9 blocks (14 MiB a segment).
    assert vp.committable_blocks(63 * MiB, strides, 2 * MiB, capacity=1_000) == 9
    assert vp.committable_blocks(64 * MiB, strides, 2 * MiB, capacity=1_000) == 10
    assert vp.committable_blocks(64 * MiB, strides, 2 * MiB, capacity=7) == 7
    assert vp.committable_blocks(0, strides, 2 * MiB, capacity=7) == 0


def test_capture_grids_of_0_34() -> None:
    # config/compilation.py@v0.34.0 docstrings: "54 sizes at 8192", "64 sizes at 1024"; "every count
    # up to 6, then a step of ... (2 from 8, 4 from 16 ...)".
    assert len(vp.prefill_capture_grid(8192)) == 54
    assert vp.prefill_capture_grid(8192)[:10] == [1, 2, 4, 8, 16, 24, 32, 40, 48, 56]
    assert len(vp.decode_capture_grid(1024)) == 64
    assert vp.decode_capture_grid(20) == [1, 2, 3, 4, 5, 6, 8, 10, 12, 14, 16, 20]


def test_cuda_graph_advice_matches_the_formula_of_the_log_line() -> None:
    # 2.22 GiB estimated on a 79.33 GiB GPU at 0.92: delta = 2.22 / 79.33 = 0.027984...
    equiv, suggested = vp.cuda_graph_utilization_advice(0.92, int(2.22 * GiB), int(79.33 * GiB))
    assert equiv == 0.892 and suggested == 0.948


@pytest.mark.parametrize(
    ("version", "memory_gib", "name", "expected"),
    [
        ("0.19", 80, "NVIDIA H100 80GB HBM3", (8192, 1024)),
        ("0.19", 80, "NVIDIA A100-SXM4-80GB", (2048, 256)),
        ("0.19", 24, "NVIDIA GeForce RTX 4090", (2048, 256)),
        ("0.27", 179, "NVIDIA B200", (8192, 1024)),  # no 160 GiB tier before 0.28
        ("0.28", 179, "NVIDIA B200", (16384, 1024)),
        ("0.28", 140, "NVIDIA H200", (8192, 1024)),
    ],
)
def test_batch_defaults_for_vllm_serve(version: str, memory_gib: int, name: str, expected: tuple[int, int]) -> None:
    assert vp.batch_defaults(vp.PROFILES[version], memory_gib * GiB, name) == expected


def test_gb10_leaves_the_large_tier_in_033() -> None:
    spark = 119 * GiB
    assert vp.batch_defaults(vp.PROFILES["0.32"], spark, "NVIDIA GB10", is_gb10=True) == (8192, 1024)
    assert vp.batch_defaults(vp.PROFILES["0.33"], spark, "NVIDIA GB10", is_gb10=True) == (2048, 256)
    assert vp.batch_defaults(vp.PROFILES["0.33"], 80 * GiB, "NVIDIA H100", usage="llm_class") == (16384, 1024)


def test_gated_delta_net_page_and_hybrid_block_size_of_qwen3_next() -> None:
    # Qwen3-Next-80B-A3B, bf16, TP 1: linear_num_key_heads 16, linear_num_value_heads 32,
    # head dims 128, conv kernel 4; attention 2 KV heads x 256.
    # conv: (128*16*2 + 128*32) * 3 * 2 B = 8192 * 6 = 49,152; state: 32*128*128*2 B = 1,048,576.
    page = vp.gated_delta_net_state_bytes(1, 16, 32, 128, 128, 4, 2, 2)
    assert page == 49_152 + 1_048_576
    # attention bytes per token: 2 heads * 256 * (K+V) * 2 B = 2048;
    # block = 16 * cdiv(1,097,728, 16*2048) = 16 * 34 = 544; padding 16,384 / 1,097,728 = 1.49 %.
    pages = vp.hybrid_attention_pages(page, 2048, alignment=16, block_size=16)
    assert pages.block_size == 544 and pages.raised
    assert pages.page_bytes == 544 * 2048
    assert f"{pages.mamba_padding_pct:.2f}" == "1.49"


def test_hybrid_block_is_not_lowered_below_a_larger_configured_block() -> None:
    pages = vp.hybrid_attention_pages(1000, 10, alignment=16, block_size=256)
    assert pages.block_size == 256 and not pages.raised and pages.page_bytes == 2560


def test_backend_lcm_rounds_the_block_up() -> None:
    # cdiv(1,097,728, 16*2048)*16 = 544, then up to a multiple of 64 -> 576.
    assert vp.hybrid_attention_pages(1_097_728, 2048, 16, 16, backend_lcm=64).block_size == 576


def test_padding_layers_of_qwen36_27b_with_mtp() -> None:
    # n011 (v0.25.1): 48 Gated-DeltaNet layers and 16 + 1 (MTP) attention layers; the log says
    # "Add 3 padding layers, may waste at most 6.25% KV cache memory" (3 / 48).
    size, groups, padding = vp.hybrid_groups([48, 17])
    assert (size, groups, padding) == (17, 4, 3)
    assert f"{padding / 48 * 100:.2f}" == "6.25"


def test_group_size_uses_the_larger_count_when_close() -> None:
    # gpt-oss-20b + eagle in vLLM's comment: 12 sliding + 13 full -> groups of 13, one padding layer.
    assert vp.hybrid_groups([12, 13]) == (13, 2, 1)


def test_mamba2_state_of_nemotron_h_style_layer() -> None:
    # intermediate 4096, n_groups 8, 64 heads x 64, state 128, kernel 4, bf16 conv, fp32 SSM, TP 2.
    # conv: (4096 + 2*8*128) / 2 * 3 = 3072 * 3 = 9216 elements * 2 B = 18,432
    # ssm: 64/2 * 64 * 128 = 262,144 elements * 4 B = 1,048,576
    assert vp.mamba2_state_bytes(2, 4096, 8, 64, 64, 128, 4, 2, 4) == 18_432 + 1_048_576
    # n_groups 1 at TP 4 is replicated to 4 groups: conv (4096 + 2*4*128)/4 * 3 = 1280 * 3.
    assert vp.mamba2_state_bytes(4, 4096, 1, 64, 64, 128, 4, 2, 2) == 3840 * 2 + 16 * 64 * 128 * 2


def test_mamba1_state_of_jamba_mini() -> None:
    # AI21-Jamba-1.5-Mini: mamba_expand 2 x hidden 4096 = 8192, d_state 16, d_conv 4, bf16.
    assert vp.mamba1_state_bytes(1, 8192, 16, 4, 2, 2) == 8192 * 3 * 2 + 8192 * 16 * 2


def test_kda_state_keeps_fp32_recurrent() -> None:
    # Kimi-Linear: 32 heads x 128, kernel 4, TP 1: conv 3*4096*3*2 B; state 32*128*128*4 B.
    assert vp.kda_state_bytes(1, 32, 128, 4, 2) == 73_728 + 2_097_152


def test_sparse_mla_bytes_per_token() -> None:
    # fp8_ds_mla: 512 fp8 latent + 4 fp32 scales + 64 bf16 rope = 512 + 16 + 128.
    assert vp.mla_bytes_per_token(512, 64, "fp8_ds_mla", 2) == 656
    # bf16 latent + rope: (512 + 64) * 2.
    assert vp.mla_bytes_per_token(512, 64, "auto", 2) == 1152
    # indexer: 128 fp8 values + one fp32 scale per 128.
    assert vp.dsa_indexer_bytes_per_token() == 132


def test_blocks_per_request_and_concurrency() -> None:
    assert vp.blocks_per_request(32_768, 16) == 2048
    # sliding window 4096, 8192 batched tokens, 32k context: min(4095 + 8192, 32768) = 12,287
    # tokens -> cdiv(12287, 16) + 1 = 769 blocks.
    assert vp.blocks_per_request(32_768, 16, sliding_window=4096, max_num_batched_tokens=8192) == 769
    assert vp.blocks_per_request(32_768, 544, mamba=True, num_speculative_blocks=2) == 3
    # one attention group (cdiv(131072, 544) = 241 blocks) and three Mamba groups (1 each).
    assert vp.max_concurrency(1220, [241, 1, 1, 1]) == 5.0


def test_kv_cache_size_line_per_release() -> None:
    old, new = vp.PROFILES["0.20"], vp.PROFILES["0.21"]
    assert vp.kv_cache_size_tokens(old, 10_001, 4, 544, 5.0, 131_072) == 2500 * 544
    assert vp.kv_cache_size_tokens(new, 10_001, 4, 544, 4.33, 131_072) == 567_541


def test_estimate_max_model_len_binary_search() -> None:
    # 2 KiB per token, blocks of 16: need(len) = cdiv(len, 16) * 32 KiB; 1 GiB holds 32,768 blocks
    # = 524,288 tokens.
    def need(length: int) -> int:
        return -(-length // 16) * 16 * 2048

    assert vp.estimate_max_model_len(need, GiB, 1_000_000) == 524_288
    assert vp.estimate_max_model_len(need, 1000, 1_000_000) == 0


def test_fit_error_message_wording_per_release() -> None:
    msg = vp.fit_error_message(vp.PROFILES["0.29"], 196_608, int(23.25 * GiB), int(22.5 * GiB), 190_272)
    assert msg.startswith(
        "To serve at least one request with the model's max seq len (196608), "
        "(23.25 GiB KV cache is needed, which is larger than the available KV "
        "cache memory (22.5 GiB). Based on the available memory, the estimated "
        "maximum model length is 190272. Try increasing `gpu_memory_utilization` "
        "(which also controls CPU memory on the CPU backend)"
    )
    assert "models's max seq len" in vp.fit_error_message(vp.PROFILES["0.19"], 10, 2, 1, 0)
    assert "estimated maximum" not in vp.fit_error_message(vp.PROFILES["0.19"], 10, 2, 1, 0)


def test_fit_check_holds_back_the_null_block_from_029() -> None:
    assert vp.fit_check_bytes(vp.PROFILES["0.28"], 10 * GiB, 1 << 20) == 10 * GiB
    assert vp.fit_check_bytes(vp.PROFILES["0.29"], 10 * GiB, 1 << 20) == 10 * GiB - (1 << 20)
    assert vp.fit_check_bytes(vp.PROFILES["0.30"], 10 * GiB, 1 << 20) == 10 * GiB - (1 << 20)


def test_cudagraph_capture_sizes() -> None:
    # 1024 sequences x 2 = 2048, capped at 512: [1, 2, 4] + 31 multiples of 8 (8..248) + 17
    # multiples of 16 (256..512) = 51 sizes.
    sizes = vp.cudagraph_capture_sizes(vp.PROFILES["0.24"], 1024, 8192)
    assert len(sizes) == 51 and sizes[-1] == 512
    assert vp.cudagraph_capture_sizes(vp.PROFILES["0.28"], 1024, 16384, sm100=True)[-1] == 1024
    assert vp.cudagraph_capture_sizes(vp.PROFILES["0.27"], 1024, 16384, sm100=True)[-1] == 512
    # one sequence: min(1 x 2, 512) = 2 -> [1, 2].
    assert vp.cudagraph_capture_sizes(vp.PROFILES["0.24"], 1, 8192) == [1, 2]
    # MTP with 3 tokens: 8 sequences x 4 x 2 = 64.
    assert vp.cudagraph_capture_sizes(vp.PROFILES["0.24"], 8, 8192, num_speculative_tokens=3)[-1] == 64


def test_mamba_cache_mode_per_release() -> None:
    assert vp.mamba_cache_mode(vp.PROFILES["0.25"]) == "none"  # prefix caching off for hybrids
    assert vp.mamba_cache_mode(vp.PROFILES["0.26"]) == "align"  # on by default
    # Mamba-2 families that support Mamba prefix caching got "all" up to 0.27, "align" from 0.28.
    assert vp.mamba_cache_mode(vp.PROFILES["0.27"], supports_all_mode=True) == "all"
    assert vp.mamba_cache_mode(vp.PROFILES["0.28"], supports_all_mode=True) == "align"
    assert vp.mamba_cache_mode(vp.PROFILES["0.19"], prefix_caching=True, supports_all_mode=True) == "all"


def test_mamba_pages_per_request_follow_the_cache_mode() -> None:
    assert vp.mamba_blocks_per_request(vp.PROFILES["0.25"], "none") == 1
    assert vp.mamba_blocks_per_request(vp.PROFILES["0.26"], "align") == 2
    # The prefill-checkpoint page: Mamba-2 from 0.32, Qwen's GDN from 0.33, neither in 0.29-0.31.
    assert vp.mamba_blocks_per_request(vp.PROFILES["0.29"], "align", mixers=("gated_deltanet",)) == 2
    assert vp.mamba_blocks_per_request(vp.PROFILES["0.31"], "align", mixers=("mamba2",)) == 2
    assert vp.mamba_blocks_per_request(vp.PROFILES["0.32"], "align", mixers=("mamba2",)) == 3
    assert vp.mamba_blocks_per_request(vp.PROFILES["0.32"], "align", mixers=("gated_deltanet",)) == 2
    # 0.33: Qwen's GDN exports a checkpoint only on FlashInfer's prefill; Triton's exports none.
    assert vp.mamba_blocks_per_request(vp.PROFILES["0.33"], "align", mixers=("qwen_gdn_flashinfer",)) == 3
    assert vp.mamba_blocks_per_request(vp.PROFILES["0.33"], "align", mixers=("gated_deltanet",)) == 2
    assert vp.mamba_blocks_per_request(vp.PROFILES["0.32"], "align", mixers=("qwen_gdn_flashinfer",)) == 2
    assert vp.mamba_blocks_per_request(vp.PROFILES["0.33"], "align", mixers=("mamba2", "")) == 2
    assert vp.mamba_blocks_per_request(vp.PROFILES["0.29"], "none", num_speculative_tokens=2) == 3
    assert vp.mamba_blocks_per_request(vp.PROFILES["0.26"], "align", num_speculative_tokens=2) == 4
    # "all": one page per block of the context: cdiv(131072, 1024) = 128 (+ 2 speculative).
    assert vp.mamba_blocks_per_request(vp.PROFILES["0.24"], "all", 2, max_model_len=131_072, block_size=1024) == 130
    assert vp.mamba_blocks_per_request(vp.PROFILES["0.19"], "all", 2, max_model_len=131_072, block_size=1024) == 128


def _qwen36_35b_a3b_fp8_kv_pages() -> vp.HybridPages:
    # Qwen3.6-35B-A3B (Qwen3_5MoeForConditionalGeneration): 40 layers = 30 Gated DeltaNet + 10
    # attention; GDN 16 k-heads / 32 v-heads x 128, conv kernel 4, conv state bf16, SSM state fp32
    # (the config's mamba_ssm_dtype); attention 2 KV heads x 256 in fp8 = 2*256*2*1 = 1024 B/token.
    # GDN page: (128*16*2 + 128*32) * 3 * 2 B = 49,152 + 32*128*128*4 B = 2,097,152 -> 2,146,304.
    page = vp.gated_delta_net_state_bytes(1, 16, 32, 128, 128, 4, conv_dtype_bytes=2, ssm_dtype_bytes=4)
    assert page == 2_146_304
    return vp.hybrid_attention_pages(page, 1024, alignment=16, block_size=16)


def test_qwen36_35b_a3b_v0200_log_is_reproduced() -> None:
    # v0.20.0 log (RTX 5090 under WSL, fp8_e4m3 KV, prefix caching on -> mamba "align", 65,536
    # tokens): "Setting attention block size to 2096 tokens", no padding line, "Available KV cache
    # memory: 3.07 GiB", "GPU KV cache size: 79,648 tokens", "Maximum concurrency for 65,536 tokens
    # per request: 4.03x".
    pages = _qwen36_35b_a3b_fp8_kv_pages()
    assert pages.block_size == 2096 and pages.mamba_padding_pct == 0.0  # 2096 * 1024 = 2,146,304
    size, groups, padding = vp.hybrid_groups([30, 10])
    assert (size, groups, padding) == (10, 4, 0)
    # 3.07 GiB / (10 layers x 2,146,304 B) = 3,296,378,798 / 21,463,040 = 153.6 -> 153 blocks.
    num_blocks = int(3.07 * GiB) // (size * pages.page_bytes)
    assert num_blocks == 153
    profile = vp.PROFILES["0.20"]
    attn = vp.blocks_per_request(65_536, pages.block_size)  # cdiv(65536, 2096) = 32
    mamba = vp.mamba_blocks_per_request(profile, vp.mamba_cache_mode(profile, prefix_caching=True))
    concurrency = vp.max_concurrency(num_blocks, [attn, mamba, mamba, mamba])  # 153 / 38
    assert f"{concurrency:.2f}" == "4.03"
    # 0.20 still prints num_blocks // groups * block: 153 // 4 * 2096 = 38 * 2096.
    assert vp.kv_cache_size_tokens(profile, num_blocks, groups, pages.block_size, concurrency, 65_536) == 79_648


def test_qwen36_35b_a3b_v0240_log_is_reproduced() -> None:
    # calibration2 n001, v0.24.0 (RTX 5090, fp8 KV, prefix caching on, 131,072 tokens):
    # "Available KV cache memory: 5.98 GiB", "GPU KV cache size: 567,978 tokens",
    # "Maximum concurrency for 131,072 tokens per request: 4.33x".
    pages = _qwen36_35b_a3b_fp8_kv_pages()
    # 5.98 GiB / 21,463,040 B = 299.2 -> 299 blocks.
    num_blocks = int(5.98 * GiB) // (10 * pages.page_bytes)
    assert num_blocks == 299
    profile = vp.PROFILES["0.24"]
    attn = vp.blocks_per_request(131_072, pages.block_size)  # cdiv(131072, 2096) = 63
    mamba = vp.mamba_blocks_per_request(profile, vp.mamba_cache_mode(profile, prefix_caching=True))
    concurrency = vp.max_concurrency(num_blocks, [attn, mamba, mamba, mamba])  # 299 / 69
    assert f"{concurrency:.2f}" == "4.33"
    # 0.21+: int(299 / 69 * 131072) = int(567,978.7).
    assert vp.kv_cache_size_tokens(profile, num_blocks, 4, pages.block_size, concurrency, 131_072) == 567_978


def test_qwen38_27b_tp2_fp8_kv_log_is_reproduced() -> None:
    # calibration2 n038 (2x RTX 3090, TP 2, fp8_e4m3 KV, prefix caching, 131,072 tokens): the PR
    # quotes block 1568, "GPU KV cache size: 302,921 tokens", "2.31x", pool 4.99 GiB per GPU.
    # GDN at TP 2 (16 k-heads, 48 v-heads x 128, kernel 4; fp32 state):
    # conv (128*16*2 + 128*48) / 2 * 3 * 2 B = 30,720; state 24*128*128*4 B = 1,572,864.
    page = vp.gated_delta_net_state_bytes(2, 16, 48, 128, 128, 4, 2, 4)
    assert page == 1_603_584
    # attention per GPU: 2 of 4 KV heads x 256 x 2 x 1 B = 1024 B/token;
    # 16 * cdiv(1,603,584, 16,384) = 16 * 98 = 1568.
    pages = vp.hybrid_attention_pages(page, 1024, alignment=16, block_size=16)
    assert pages.block_size == 1568
    size, groups, _ = vp.hybrid_groups([48, 16])
    assert (size, groups) == (16, 4)
    num_blocks = int(4.99 * GiB) // (size * pages.page_bytes)  # 5,357,950,402 / 25,690,112
    assert num_blocks == 208
    attn = vp.blocks_per_request(131_072, 1568)  # 84
    concurrency = vp.max_concurrency(num_blocks, [attn, 2, 2, 2])  # 208 / 90
    assert f"{concurrency:.2f}" == "2.31"
    assert vp.kv_cache_size_tokens(vp.PROFILES["0.24"], num_blocks, groups, 1568, concurrency, 131_072) == 302_921


def test_nemotron_nano_9b_v2_block_size() -> None:
    # vllm-project/vllm#24280 quotes 672-token attention pages for nvidia/NVIDIA-Nemotron-Nano-9B-v2
    # (config: mamba_num_heads 128 x mamba_head_dim 80, n_groups 8, ssm_state_size 128,
    # conv_kernel 4; attention 8 KV heads x 128; bf16). Mamba-2 page:
    # conv (10240 + 2*8*128) * 3 * 2 B = 73,728; SSM 128*80*128*2 B = 2,621,440.
    page = vp.mamba2_state_bytes(1, 10_240, 8, 128, 80, 128, 4, 2, 2)
    assert page == 2_695_168
    # 16 * cdiv(2,695,168, 16 * 8*128*2*2) = 16 * cdiv(2,695,168, 65,536) = 16 * 42.
    assert vp.hybrid_attention_pages(page, 4096, alignment=16, block_size=16).block_size == 672


def test_gemma4_v0230_capture_sizes() -> None:
    # calibration2 n036: max_num_seqs 20 -> 'cudagraph_capture_sizes': [1, 2, 4, 8, 16, 24, 32, 40].
    assert vp.cudagraph_capture_sizes(vp.PROFILES["0.23"], 20, 8192) == [1, 2, 4, 8, 16, 24, 32, 40]


def test_backend_block_size() -> None:
    # FlashAttention: MultipleOf(16) -> the default 16 stays.
    assert vp.backend_block_size(vp.PROFILES["0.26"], [16]) == 16
    # DSA indexer supports [64] on CUDA: GLM-5.2 on v0.26.0 logs "Setting kv cache block size to
    # 64 for DEEPSEEK_V32_INDEXER backend."
    assert vp.backend_block_size(vp.PROFILES["0.26"], [64]) == 64
    # 0.34's default 64 is already a multiple of FlashAttention's 16.
    assert vp.backend_block_size(vp.PROFILES["0.34"], [16]) == 64
    # FlashMLA-style [64, 256]: 16 fits neither -> 64.
    assert vp.backend_block_size(vp.PROFILES["0.24"], [64, 256]) == 64


def test_glm52_v0260_budget_line() -> None:
    # calibration2 n044 (v0.26.0, TP 4): "Desired GPU memory utilization is (0.92, 169.56 GiB).
    # Actual usage is 106.69 GiB for weight, 6.31 GiB for peak activation, 0.95 GiB for non-torch
    # memory", "Estimated CUDA graph memory: 4.99 GiB total", "Available KV cache memory: 50.62 GiB":
    # 169.56 - (106.69 + 6.31 + 0.95) - 4.99 = 50.62.
    gib = GiB / 100
    available = vp.available_kv_cache_bytes(
        vp.PROFILES["0.26"], int(16956 * gib), int((10669 + 631 + 95) * gib), int(499 * gib)
    )
    assert vp.format_gib(available) == "50.62"
    # 51 capture sizes up to 512 -> "PIECEWISE=51 (largest=512), FULL=51 (largest=512)".
    assert len(vp.cudagraph_capture_sizes(vp.PROFILES["0.26"], 1024, 8192)) == 51


def test_all_mode_block_is_a_chunk_multiple() -> None:
    # vLLM's own comment (model_executor/models/config.py@v0.19.0): "mamba page size = 788kB,
    # attn_1_token = 2kB -> fits ~394 tokens, then round up to a multiple of 256 -> 512 tokens".
    pages = vp.hybrid_attention_pages(788_000, 2_000, alignment=16, block_size=16, mamba_chunk_size=256)
    assert pages.block_size == 512


def _v2(version: str, arch: str, *, moe: bool = False, hybrid: bool = False, quantized: bool = False) -> bool:
    return vp.serves_on_v2_runner(
        vp.PROFILES[version], (arch,), moe=moe, hybrid=hybrid, attention_free=False, quantized=quantized
    )


def test_default_model_runner_follows_each_releases_rule() -> None:
    # config/vllm.py _is_default_v2_model_runner_model, release by release:
    # 0.20-0.21 have no default list: V1 for every model.
    assert not _v2("0.21", "LlamaForCausalLM")
    # 0.22.0: {"Qwen3ForCausalLM"}, and `not is_moe and not is_quantized`.
    assert _v2("0.22", "Qwen3ForCausalLM") and not _v2("0.22", "LlamaForCausalLM")
    assert not _v2("0.22", "Qwen3ForCausalLM", quantized=True)
    # 0.23.0 adds LlamaForCausalLM and MistralForCausalLM; an AWQ Llama stays on V1.
    assert _v2("0.23", "LlamaForCausalLM") and not _v2("0.23", "LlamaForCausalLM", quantized=True)
    # 0.24.0: any listed architecture, quantized or MoE (Qwen2MoeForCausalLM is listed).
    assert _v2("0.24", "LlamaForCausalLM", quantized=True) and _v2("0.24", "Qwen2MoeForCausalLM", moe=True)
    assert not _v2("0.24", "Qwen2ForCausalLM")
    # 0.25.0-0.28.0: `any(listed) or not model_config.is_moe`, hybrids first refused (0.25-0.26) or
    # refused unless listed (0.27-0.28).
    for version in ("0.25", "0.26", "0.27", "0.28"):
        assert _v2(version, "Qwen2ForCausalLM") and _v2(version, "LlamaForCausalLM", quantized=True), version
        assert not _v2(version, "Qwen3MoeForCausalLM", moe=True), version
        assert _v2(version, "Qwen2MoeForCausalLM", moe=True), version
        assert not _v2(version, "Qwen3_5MoeForConditionalGeneration", moe=True, hybrid=True), version
        assert not _v2(version, "Qwen3_5ForConditionalGeneration", hybrid=True), version
    # 0.29.0: V2 for every model (no architecture rule left).
    assert _v2("0.29", "Qwen3_5MoeForConditionalGeneration", moe=True, hybrid=True)


def test_v2_runner_takes_no_cuda_graph_estimate_until_0_29() -> None:
    # v1/worker/gpu/model_runner.py profile_cudagraph_memory: `return 0` in 0.20.0-0.28.0 (the V1
    # runner measures a capture); _profile_cudagraph_memory(self) from 0.29.0. 0.19 does not subtract.
    assert not vp.cuda_graph_estimate_taken(vp.PROFILES["0.19"], on_v2_runner=False)
    for version in ("0.20", "0.24", "0.26", "0.28"):
        assert vp.cuda_graph_estimate_taken(vp.PROFILES[version], on_v2_runner=False), version
        assert not vp.cuda_graph_estimate_taken(vp.PROFILES[version], on_v2_runner=True), version
    for version in ("0.29", "0.31", "0.33"):
        assert vp.cuda_graph_estimate_taken(vp.PROFILES[version], on_v2_runner=True), version


def test_prefill_checkpoint_alignment_is_flashinfers_gdn_grid_in_align_mode() -> None:
    # platforms/interface.py@v0.33.0: in "align" mode the block is a multiple of the lcm of the Mamba
    # layers' checkpoint alignments, None unless every layer declares one (FlashInfer's GDN: 64;
    # Mamba-2 exports at any token and declares none).
    v33, v32 = vp.PROFILES["0.33"], vp.PROFILES["0.32"]
    assert vp.prefill_checkpoint_alignment(v33, "align", ("qwen_gdn_flashinfer",)) == 64
    assert vp.prefill_checkpoint_alignment(v33, "none", ("qwen_gdn_flashinfer",)) is None
    assert vp.prefill_checkpoint_alignment(v33, "align", ("gated_deltanet",)) is None
    assert vp.prefill_checkpoint_alignment(v33, "align", ("mamba2",)) is None
    assert vp.prefill_checkpoint_alignment(v32, "align", ("qwen_gdn_flashinfer",)) is None
    assert vp.prefill_checkpoint_alignment(vp.PROFILES["0.34"], "align", ("qwen_gdn_flashinfer",)) == 64
    # Every state layer must declare one: a Mamba-2 layer beside FlashInfer's GDN leaves none.
    assert vp.prefill_checkpoint_alignment(v33, "align", ("mamba2", "qwen_gdn_flashinfer")) is None
