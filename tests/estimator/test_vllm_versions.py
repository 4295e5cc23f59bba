"""vllm=<release>: the engine follows each profiled release's start-up rules.

Expected numbers are hand arithmetic from vLLM's source at the named release (cited per test) or
logged start-up lines (tests/fixtures/calibration2/cases.json, by case id).
"""

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
from estimator.query import Query
from estimator.spec import Drafter, DraftMethod, LayerKV, ModelSpec
from estimator.weights import weight_bytes

GiB = 1 << 30
MiB = 1 << 20
CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
CALIBRATION2 = Path(__file__).resolve().parents[1] / "fixtures" / "calibration2" / "configs"
LLAMA = load_model_spec(json.loads((CONFIGS / "meta-llama__Llama-3.1-8B.json").read_text()))
# Llama-3.1-8B: 32 layers x 8 KV heads x 128 x (K + V) x 2 bytes = 131,072 B per token; a 16-token
# block across all layers is 2 MiB.
LLAMA_BLOCK = 16 * 32 * 8 * 128 * 2 * 2


def q(**kw) -> Query:
    return Query(engine="vllm", **kw)


def test_grammar_reads_the_release_as_major_minor_and_patch() -> None:
    # A patch release keeps its patch (the header says which minor's profile sizes it); .0 is the minor.
    for text, version in (
        ("vllm=0.33", "0.33"),
        ("vllm=v0.33.0", "0.33"),
        ("vllm=v0.29.1rc1.dev339+gda9888462", "0.29.1rc1.dev339+gda9888462"),
        ("vllm_version=0.20.2", "0.20.2"),
    ):
        query, _ = parse_query(["m", "engine=vllm", text])
        assert query.vllm == version
    # Versions are read as PEP 440 (vLLM's own strings are): a nightly and a post release keep their
    # whole normal form; free text with a release-like prefix is not a version.
    for text, version in (
        ("vllm=0.31.1rc1.dev50+g554340f3d", "0.31.1rc1.dev50+g554340f3d"),
        ("vllm=0.30.0.post1", "0.30.0.post1"),
    ):
        query, _ = parse_query(["m", "engine=vllm", text])
        assert query.vllm == version
    for bad in ("vllm=latest", "vllm=0.33.x", "vllm=0.33-nightly-2"):
        with pytest.raises(InputError, match="is not a vLLM release"):
            parse_query(["m", bad])


def test_default_release_is_the_newest_0_34_and_later_ones_are_refused() -> None:
    assert vllm.version_profile(q())[0].version == "0.34"
    assert vllm.version_profile(q(vllm="0.34"))[0].kv_sizing == "extensible"
    # A release vram has not read is its limit (exit 1), not invalid input (exit 2).
    with pytest.raises(UnmodelledError, match=r"past the newest release vram follows, 0\.34"):
        vllm.version_profile(q(vllm="0.35"))


def test_unknown_release_gets_the_nearest_with_a_warning() -> None:
    profile, warning = vllm.version_profile(q(vllm="0.18"))
    assert profile.version == "0.19"
    assert warning is not None and "0.18" in warning and "0.19" in warning
    est = estimate(LLAMA, q(vllm="0.18", gpu="h100-80gb"), model_id="m")
    assert any("0.18 is not profiled" in w.message for w in est.warnings)


def test_a_release_below_the_oldest_says_what_stands_in() -> None:
    # Below 0.17 the sampler warm-up takes 36.3 bytes per logit (full-vocabulary sort) where 0.17+
    # takes 12.9; all else follows 0.19. On an H100 at 0.19 the warm-up samples 1,024 rows
    # (max_num_seqs) of Llama-3.1's 128,256-token vocabulary.
    old = estimate(LLAMA, q(vllm="0.11", gpu="h100-80gb", seq_len=8192), model_id="m")
    new = estimate(LLAMA, q(vllm="0.19", gpu="h100-80gb", seq_len=8192), model_id="m")
    assert old.memory.activations - new.memory.activations == pytest.approx(1024 * 128_256 * (36.3 - 12.9), abs=2)
    assert old.memory.weights == new.memory.weights and old.memory.kv_cache == new.memory.kv_cache
    name = vllm.ENGINE.display_name(old.query)
    assert name == "vllm 0.11 (0.19's rules with the pre-0.17 sampler warm-up)"
    (warning,) = [w.message for w in old.warnings if w.code == "vllm_release"]
    assert "0.11 is not profiled" in warning and "0.19's" in warning and "36.3 bytes per logit" in warning
    assert "did you mean" not in warning
    # "0.3" is most likely 0.30 typed short: the warning asks (0.30 is profiled; 0.11 has no such twin).
    short = estimate(LLAMA, q(vllm="0.3", gpu="h100-80gb", seq_len=8192), model_id="m")
    (warning,) = [w.message for w in short.warnings if w.code == "vllm_release"]
    assert warning.endswith("; did you mean vllm=0.30?")
    line = vllm.ENGINE.summary_line(old, lambda s: s)
    assert line is not None and line.startswith("vLLM 0.11 (0.19's rules with the pre-0.17 sampler warm-up) will hold ")
    # 0.17 and 0.18 share 0.19's sampler: only the rules are borrowed.
    assert vllm.ENGINE.display_name(q(vllm="0.18")) == "vllm 0.18 (0.19's rules)"
    assert vllm.ENGINE.display_name(q(vllm="0.19")) == "vllm 0.19"


def test_a_refused_start_claims_no_capacity() -> None:
    # Llama-3.1-8B has 32 attention heads: 3 GPUs do not divide them, and vLLM stops before it
    # profiles anything; s past the 131,072 positions its config allows stops it too.
    for query in (q(gpu="h100", gpus=3), q(gpu="h100", seq_len=262_144)):
        est = estimate(LLAMA, query, model_id="m")
        assert est.fit is not None and est.fit.engine_refuses is not None and not est.fit.fits
        assert est.fit.max_batch is None and est.fit.max_seq_len is None
        report = est.engine_report
        assert isinstance(report, vllm.VllmReport)
        assert not report.starts and report.start_error == est.fit.engine_refuses
        assert report.log_lines == ()
        assert vllm.ENGINE.summary_line(est, lambda s: s) is None
        data = est.to_json()
        assert data["vllm"]["starts"] is False and data["fit"]["max_batch"] is None


def test_the_log_figure_is_said_to_be_vllms_own_arithmetic() -> None:
    # From 0.21 "GPU KV cache size" is int(concurrency x max_model_len); up to 0.20 the blocks per
    # group x the block size (v1/core/kv_cache_utils.py). The line shows both factors.
    for version in ("0.19", "0.33"):
        est = estimate(LLAMA, q(gpu="h100", seq_len=8192, vllm=version), model_id="m")
        line = vllm.ENGINE.summary_line(est, lambda s: s)
        assert line is not None
        figure = int(line.split('"GPU KV cache size: ')[1].split(" tokens")[0].replace(",", ""))
        if version == "0.33":
            conc = float(line.split("room for ")[1].split(" requests")[0])
            # No factor beside it: vLLM multiplies its unrounded concurrency, which 2 decimals do not give back.
            assert "(vLLM's maximum concurrency, over all its blocks, times max_model_len)" in line
            # The answer's concurrency is rounded down to 2 decimals and the figure truncated by int().
            assert 0 <= figure - conc * 8192 <= 0.01 * 8192 + 1
        else:
            blocks = int(line.split("(")[-1].split(" blocks")[0].replace(",", ""))
            assert figure == blocks * 16 and "x 16 tokens per block" in line


def test_default_util_per_release() -> None:
    # config/cache.py: gpu_memory_utilization Field(default=0.9) in 0.19.0, 0.92 from 0.20.0.
    assert vllm.util_of(q(vllm="0.19")) == 0.9
    assert vllm.util_of(q(vllm="0.20")) == 0.92
    assert vllm.util_of(q(vllm="0.33")) == 0.92
    assert vllm.util_of(q(vllm="0.33", util=0.8)) == 0.8


def test_batch_defaults_follow_the_release_and_the_gpu_record() -> None:
    # engine/arg_utils.py get_batch_defaults (vllm serve): >= 70 GiB and not an A100: 8192 / 1024;
    # from 0.28 >= 160 GiB: 16384 / 1024; from 0.33 a GB10 (cc 12.1) stays on 2048 / 256.
    h100, a100, b200 = lookup_gpu("h100"), lookup_gpu("a100-80gb"), lookup_gpu("b200")
    gb10 = lookup_gpu("gb10")  # 121.69 GiB: over the 70 GiB floor, kept off that tier by compute capability
    assert vllm.batch_defaults(q(vllm="0.19"), h100) == (8192, 1024)
    assert vllm.batch_defaults(q(vllm="0.33"), a100) == (2048, 256)
    assert vllm.batch_defaults(q(vllm="0.27"), b200) == (8192, 1024)
    assert vllm.batch_defaults(q(vllm="0.28"), b200) == (16384, 1024)
    assert vllm.batch_defaults(q(vllm="0.32"), gb10) == (8192, 1024)
    assert vllm.batch_defaults(q(vllm="0.33"), gb10) == (2048, 256)
    assert vllm.batch_defaults(q(vllm="0.33", max_num_seqs=8), b200) == (16384, 8)


def test_cuda_graph_estimate_leaves_the_pool_from_0_20() -> None:
    gpu = lookup_gpu("h100")
    weights = weight_bytes(LLAMA, gpus=1)
    old = vllm.vllm_report(LLAMA, q(vllm="0.19", gpu="h100"), weights_bytes=weights, gpu=gpu)
    new = vllm.vllm_report(LLAMA, q(vllm="0.20", gpu="h100", util=0.9), weights_bytes=weights, gpu=gpu)
    assert not old.cuda_graphs_in_budget and new.cuda_graphs_in_budget
    assert old.kv_cache_memory == old.requested_memory - old.weights - old.activation_peak - old.non_torch
    assert (
        new.kv_cache_memory
        == new.requested_memory - new.weights - new.activation_peak - new.non_torch - new.cuda_graphs
    )
    assert new.requested_memory == old.requested_memory
    assert new.kv_cache_memory == old.kv_cache_memory - new.cuda_graphs


def test_model_runner_v2_takes_no_graph_estimate_out_of_the_pool_up_to_0_28() -> None:
    # config/vllm.py _is_default_v2_model_runner_model: 0.22 lists Qwen3ForCausalLM (dense,
    # unquantized); 0.23 adds Llama/Mistral; 0.25-0.28 run V2 for every dense model that is not hybrid.
    # v1/worker/gpu/model_runner.py@v0.22.0..v0.28.0 profile_cudagraph_memory returns 0; from 0.29.0
    # the V2 runner profiles the graphs as V1 does.
    qwen2 = load_model_spec(json.loads((CONFIGS / "Qwen__Qwen2.5-7B.json").read_text()))
    qwen3 = load_model_spec(json.loads((CONFIGS / "Qwen__Qwen3-8B.json").read_text()))
    moe = load_model_spec(json.loads((CONFIGS / "Qwen__Qwen3-30B-A3B.json").read_text()))
    expected = {
        # release: (Qwen2.5-7B, Qwen3-8B, Llama-3.1-8B, Qwen3-30B-A3B) on V2
        "0.21": (False, False, False, False),
        "0.22": (False, True, False, False),
        "0.23": (False, True, True, False),
        "0.24": (False, True, True, False),  # Qwen3MoeForCausalLM is not listed
        "0.25": (True, True, True, False),
        "0.28": (True, True, True, False),
        "0.29": (True, True, True, True),
    }
    for release, runners in expected.items():
        got = tuple(vllm.uses_v2_runner(spec, q(vllm=release)) for spec in (qwen2, qwen3, LLAMA, moe))
        assert got == runners, release
        for spec, v2 in zip((qwen2, qwen3, LLAMA, moe), runners, strict=True):
            in_budget = vllm.graphs_in_budget(spec, q(vllm=release))
            assert in_budget == (not v2 or release == "0.29"), (release, spec.architectures)
    # A quantized checkpoint stays on V1 in 0.22-0.23 (not model_config.is_quantized), not from 0.25.
    assert not vllm.uses_v2_runner(LLAMA, q(vllm="0.23", weight_format="awq"))
    assert vllm.uses_v2_runner(LLAMA, q(vllm="0.25", weight_format="awq"))
    # On V2 the graphs are captured after the pool is sized: they come on top of it, as in 0.19.
    gpu = lookup_gpu("h100")
    weights = weight_bytes(LLAMA, gpus=1)
    v1 = vllm.vllm_report(LLAMA, q(vllm="0.22", gpu="h100", util=0.9), weights_bytes=weights, gpu=gpu)
    v2 = vllm.vllm_report(LLAMA, q(vllm="0.23", gpu="h100", util=0.9), weights_bytes=weights, gpu=gpu)
    assert v1.cuda_graphs_in_budget and not v2.cuda_graphs_in_budget
    assert v2.kv_cache_memory == v2.requested_memory - v2.weights - v2.activation_peak - v2.non_torch


def test_a_speculative_method_the_v2_runner_lacks_keeps_the_v1_runner() -> None:
    # config/vllm.py _get_v2_model_runner_unsupported_features: V2 takes eagle, eagle3 and mtp from
    # 0.22.0, dflash from 0.24.0; "draft_model" is an unsupported "speculative method" up to 0.32.0
    # and taken in 0.33.0 (only suffix / custom_class are left out there). Llama-3.1-8B is listed
    # (0.23-0.24) or dense (0.25-0.28) or any model (0.29+), so only the method decides.
    def with_drafter(method: DraftMethod) -> ModelSpec:
        drafter = Drafter(model_id="d", method=method, spec=LLAMA, own_embed_tokens=True, own_lm_head=True)
        return LLAMA.model_copy(update={"drafter": drafter})

    expected = {
        # release: (no drafter, eagle3, dflash, draft_model, mtp=2) on V2
        "0.23": (True, True, False, False, True),
        "0.24": (True, True, True, False, True),
        "0.25": (True, True, True, False, True),
        "0.29": (True, True, True, False, True),
        "0.32": (True, True, True, False, True),
        "0.33": (True, True, True, True, True),
    }
    eagle3, dflash, draft_model = (with_drafter(m) for m in ("eagle3", "dflash", "draft_model"))
    for release, runners in expected.items():
        got = (
            vllm.uses_v2_runner(LLAMA, q(vllm=release)),
            vllm.uses_v2_runner(eagle3, q(vllm=release, spec=3)),
            vllm.uses_v2_runner(dflash, q(vllm=release, spec=3)),
            vllm.uses_v2_runner(draft_model, q(vllm=release, spec=3)),
            vllm.uses_v2_runner(LLAMA, q(vllm=release, mtp=2)),
        )
        assert got == runners, release
    # On V1 at 0.25 the graph estimate leaves the pool again (V2's profile_cudagraph_memory is 0 there).
    assert vllm.graphs_in_budget(draft_model, q(vllm="0.25", spec=3))
    assert not vllm.graphs_in_budget(LLAMA, q(vllm="0.25"))


def test_kv_tokens_line_semantics_per_release() -> None:
    # 0.19-0.20: num_blocks // groups x 16; 0.21+: int(num_blocks / blocks per request x max_model_len)
    # (v1/core/kv_cache_utils.py get_kv_cache_capacity). At max_model_len 5,000 a request needs
    # cdiv(5000, 16) = 313 blocks; with 1,000 blocks: 16,000 tokens vs int(1000 / 313 x 5000) = 15,974.
    pool = 1000 * LLAMA_BLOCK + 12345
    blocks, tokens, conc = vllm.kv_capacity(LLAMA, q(vllm="0.20", seq_len=5000), pool, batched_tokens=8192)
    assert (blocks, tokens) == (1000, 16_000)
    assert conc == pytest.approx(1000 / 313)
    _, tokens, _ = vllm.kv_capacity(LLAMA, q(vllm="0.21", seq_len=5000), pool, batched_tokens=8192)
    assert tokens == 15_974


def test_n045_llama_on_a40_v026_from_the_logged_pool() -> None:
    # n045: "GPU KV cache size: 195,760 tokens" at max_model_len 4,096 with 23.9 GiB logged
    # (rounded to 0.01 GiB): 12,235 blocks of 2 MiB x 16 = 195,760; int(12235 / 256 x 4096) = 195,760.
    pool = 12235 * LLAMA_BLOCK + LLAMA_BLOCK // 3
    assert round(pool / GiB, 2) == 23.9
    _, tokens, conc = vllm.kv_capacity(LLAMA, q(vllm="0.26", seq_len=4096), pool, batched_tokens=2048)
    assert tokens == 195_760
    assert round(conc, 2) == 47.79


def test_start_check_reproduces_vllms_error_and_estimated_length() -> None:
    # One request of 131,072 tokens needs 8,192 blocks of 2 MiB = 16 GiB. A 10 GiB pool holds 5,120
    # blocks; from 0.30 the null block is held back first (5,119), so the longest request is
    # 5,119 x 16 = 81,904 tokens; before 0.30, 5,120 x 16 = 81,920.
    pool = 10 * GiB
    new = vllm.start_check(LLAMA, q(vllm="0.33", seq_len=131072), pool, batched_tokens=8192)
    assert not new.fits
    assert new.estimated_max_model_len == 81_904
    assert new.error is not None
    assert new.error.startswith(
        "To serve at least one request with the model's max seq len (131072), "
        "(16.0 GiB KV cache is needed, which is larger than the available KV cache "
        "memory (10.0 GiB). Based on the available memory, the estimated maximum "
        "model length is 81904."
    )
    old = vllm.start_check(LLAMA, q(vllm="0.19", seq_len=131072), pool, batched_tokens=8192)
    assert old.estimated_max_model_len == 81_920
    assert old.error is not None and "models's max seq len" in old.error
    fits = vllm.start_check(LLAMA, q(vllm="0.33", seq_len=81904), pool, batched_tokens=8192)
    assert fits.fits and fits.error is None


def test_answer_names_the_release_everywhere() -> None:
    est = estimate(LLAMA, q(gpu="h100", seq_len=8192), model_id="m")
    report = est.engine_report
    assert isinstance(report, vllm.VllmReport)
    assert report.version == "0.34" and report.kv_sizing == "extensible"
    data = est.to_json()
    assert data["vllm"]["version"] == "0.34"
    assert data["inputs"]["vllm"] is None
    line = vllm.ENGINE.summary_line(est, lambda s: s)
    assert line is not None and line.startswith("vLLM 0.34 sizes its KV cache after CUDA-graph capture ")
    assert "(the extensible KV cache, the whole device)" in line
    assert "; the KV pool takes what the weights, non-torch memory, CUDA graphs" in line
    # 0.34 logs the capacity it reserved, the capacity line (the engine core), then the blocks the
    # workers commit (extend_kv_cache, called after finalize_extensible_kv_cache).
    assert len(report.log_lines) == 3
    assert report.log_lines[1].startswith("GPU KV cache size: ")
    assert ", Maximum concurrency for 8,192 tokens per request: " in report.log_lines[1]
    assert report.log_lines[2].startswith(f"Extended KV cache to {report.num_gpu_blocks} blocks (")
    # 0.33: util=0.92 of the device, one capacity line from 0.28.
    est = estimate(LLAMA, q(gpu="h100", seq_len=8192, vllm="0.33"), model_id="m")
    report = est.engine_report
    assert isinstance(report, vllm.VllmReport) and report.version == "0.33"
    line = vllm.ENGINE.summary_line(est, lambda s: s)
    assert line is not None and line.startswith("vLLM 0.33 will hold ") and "util=0.92" in line
    assert len(report.log_lines) == 2
    assert report.log_lines[1].startswith("GPU KV cache size: ")
    old = estimate(LLAMA, q(gpu="h100", seq_len=8192, vllm="0.27"), model_id="m").engine_report
    assert isinstance(old, vllm.VllmReport) and len(old.log_lines) == 3


def test_a_request_longer_than_the_pool_is_a_failed_start() -> None:
    # Llama-3.1-8B bf16 on an L4 (22 GiB): 16 GiB of weights leave under 4 GiB of pool at util 0.92,
    # far less than the 16 GiB one 131,072-token request needs (0.33; 0.34 in test_vllm_extensible).
    est = estimate(LLAMA, q(gpu="l4", seq_len=131072, vllm="0.33"), model_id="m")
    report = est.engine_report
    assert isinstance(report, vllm.VllmReport)
    assert 0 < report.kv_cache_memory < 4 * GiB
    assert not report.starts
    expected = (report.kv_cache_memory - LLAMA_BLOCK) // LLAMA_BLOCK * 16
    assert report.estimated_max_model_len == expected
    assert any("would not start with max_model_len 131,072" in w.message for w in est.warnings)


# ------------------------------------------------------------------ hybrid KV cache manager


def _gdn(k_heads: int, v_heads: int, dim: int = 128, kernel: int = 4) -> LayerKV:
    """A Gated DeltaNet layer: conv over q, k, v (2 x k-heads + v-heads) x dim; state v-heads x dim x dim."""
    return LayerKV(
        kind="state",
        mixer="gated_deltanet",
        conv_channels=(2 * k_heads + v_heads) * dim,
        conv_kernel=kernel,
        ssm_state_elements=v_heads * dim * dim,
    )


def _qwen36(n_layers: int, k_heads: int, v_heads: int, kv_heads: int, model_type: str) -> ModelSpec:
    # Every 4th layer full attention (head_dim 256), the rest Gated DeltaNet (Qwen3.5/3.6 configs:
    # full_attention_interval 4, linear_key_head_dim = linear_value_head_dim = 128, conv kernel 4;
    # mamba_ssm_dtype float32, which vLLM's Qwen3.5 config hook makes the recurrent state's dtype).
    layers = tuple(
        LayerKV(kind="full", kv_heads=kv_heads, key_dim=256, value_dim=256) if i % 4 == 3 else _gdn(k_heads, v_heads)
        for i in range(n_layers)
    )
    return LLAMA.model_copy(
        update={
            "model_type": model_type,
            "layers": layers,
            "num_layers": n_layers,
            "num_kv_heads": kv_heads,
            "head_dim": 256,
            "mamba_ssm_dtype": "fp32",
        }
    )


QWEN36_35B = _qwen36(40, 16, 32, 2, "qwen3_5_moe")
QWEN38_27B = _qwen36(64, 16, 48, 4, "qwen3_5")


def test_n035_qwen36_35b_v020_block_tokens_and_concurrency() -> None:
    # calibration2 n035 (v0.20.0, fp8 KV, prefix caching on, 65,536 tokens): "Setting attention block
    # size to 2096 tokens", 3.07 GiB -> "GPU KV cache size: 79,648 tokens", "4.03x".
    # State page: conv 8192 x 3 x 2 B = 49,152 + fp32 state 32 x 128 x 128 x 4 B = 2,097,152 ->
    # 2,146,304 B; attention 2 heads x 512 x 1 B = 1,024 B/token -> block 16 x cdiv(2,146,304, 16,384) =
    # 2,096. Groups of 10 layers (10 full, 30 GDN): 4 groups; 3.07 GiB // (10 x 2,146,304) = 153
    # blocks; a request needs cdiv(65536, 2096) = 32 + 3 x 2 state pages -> 153 / 38 = 4.03;
    # 0.20 prints 153 // 4 x 2096 = 79,648.
    query = q(vllm="0.20", kv="fp8", seq_len=65536, prefix_caching=True)
    layout, _ = vllm.kv_layout(QWEN36_35B, query)
    assert (layout.block_size, layout.group_size, layout.num_groups) == (2096, 10, 4)
    blocks, tokens, conc = vllm.kv_capacity(QWEN36_35B, query, int(3.07 * GiB), batched_tokens=4096)
    assert (blocks, tokens, f"{conc:.2f}") == (153, 79_648, "4.03")


def test_n001_qwen36_35b_v024_tokens_are_concurrency_times_length() -> None:
    # calibration2 n001 (v0.24.0, fp8 KV, prefix caching on, 131,072 tokens): 5.98 GiB ->
    # "GPU KV cache size: 567,978 tokens", "4.33x": 299 blocks; cdiv(131072, 2096) = 63 + 6 = 69;
    # int(299 / 69 x 131,072) = 567,978.
    query = q(vllm="0.24", kv="fp8", seq_len=131072, prefix_caching=True)
    blocks, tokens, conc = vllm.kv_capacity(QWEN36_35B, query, int(5.98 * GiB), batched_tokens=8192)
    assert (blocks, tokens, f"{conc:.2f}") == (299, 567_978, "4.33")


def test_n038_qwen38_27b_tp2() -> None:
    # calibration2 n038 (0.21+ wording, 2 state pages per request: before 0.29), TP 2, fp8 KV:
    # block 1568, 4.99 GiB per GPU -> "302,921 tokens", "2.31x". Per GPU: conv 10240 / 2 x 3 x 2 B =
    # 30,720 + state 24 x 128 x 128 x 4 B = 1,572,864; attention 2 of 4 heads x 512 x 1 B = 1,024 B;
    # block 16 x cdiv(1,603,584, 16,384) = 1,568; groups of 16 (16 full, 48 GDN): 4; 4.99 GiB //
    # (16 x 1,605,632) = 208 blocks; cdiv(131072, 1568) = 84 + 3 x 2 = 90 -> 2.31; int(208/90 x 131072).
    query = q(vllm="0.24", kv="fp8", seq_len=131072, gpus=2, prefix_caching=True)
    layout, _ = vllm.kv_layout(QWEN38_27B, query)
    assert (layout.block_size, layout.group_size, layout.num_groups) == (1568, 16, 4)
    blocks, tokens, conc = vllm.kv_capacity(QWEN38_27B, query, int(4.99 * GiB), batched_tokens=8192)
    assert (blocks, tokens, f"{conc:.2f}") == (208, 302_921, "2.31")


def test_prefix_caching_default_and_checkpoint_page() -> None:
    # Hybrid models start with prefix caching from 0.26 (config/model.py), "align" mode holds 2 state
    # pages, plus a prefill-checkpoint page for Qwen's GDN from 0.33 where its prefill runs on
    # FlashInfer (qwen_gdn_linear_attn.py; the MambaSpec field exists from 0.29 but GDN sets it only
    # in 0.33); without prefix caching one page. An A100 runs Triton's prefill, no checkpoint; at
    # 1,000 blocks of 2,096 tokens, 65,536 tokens take cdiv(65536, 2096) = 32 attention blocks.
    pool = 1000 * 10 * 2096 * 1024
    for version, state_pages in (("0.25", 1), ("0.26", 2), ("0.28", 2), ("0.29", 2), ("0.32", 2), ("0.33", 2)):
        query = q(vllm=version, kv="fp8", seq_len=65536, gpu="a100-80gb")
        _, _, conc = vllm.kv_capacity(QWEN36_35B, query, pool, batched_tokens=8192)
        assert conc == pytest.approx(1000 / (32 + 3 * state_pages)), version
    # On an H100 the checkpoint page comes, and its 64-token grid aligns the block: 2,112 tokens
    # (64 x cdiv(2,146,304, 64 x 1,024) = 64 x 33), so 1,000 blocks of 2,112 x 1,024 B x 10 pages
    # fit in the pool's bytes 992 times, and 65,536 tokens take cdiv(65536, 2112) = 32 attention blocks.
    layout, _ = vllm.kv_layout(QWEN36_35B, q(vllm="0.33", kv="fp8", seq_len=65536, gpu="h100"))
    assert layout.block_size == 2_112
    query = q(vllm="0.33", kv="fp8", seq_len=65536, gpu="h100")
    blocks, _, conc = vllm.kv_capacity(QWEN36_35B, query, pool, batched_tokens=8192)
    assert blocks == pool // (10 * 2_112 * 1024) == 992
    assert conc == pytest.approx(992 / (32 + 3 * 3))
    _, _, conc = vllm.kv_capacity(
        QWEN36_35B, q(vllm="0.33", kv="fp8", seq_len=65536, prefix_caching=False), pool, batched_tokens=8192
    )
    assert conc == pytest.approx(1000 / 35)


def test_nemotron_nano_9b_v2_block_on_019() -> None:
    # vllm-project/vllm#24280: 672-token attention pages for NVIDIA-Nemotron-Nano-9B-v2 (mamba 128
    # heads x 80, 8 groups, state 128, kernel 4; 8 KV heads x 128; bf16). 0.19's NemotronH hook keeps
    # the SSM state in float16: conv (10240 + 2 x 8 x 128) x 3 x 2 B = 73,728 + 128 x 80 x 128 x 2 B =
    # 2,621,440 -> 16 x cdiv(2,695,168, 16 x 4,096) = 672. From 0.20 it is float32: 5,316,608 B ->
    # 16 x cdiv(5,316,608, 65,536) = 1,312.
    mamba = LayerKV(kind="state", mixer="mamba2", conv_channels=12288, conv_kernel=4, ssm_state_elements=128 * 80 * 128)
    layers = tuple(
        LayerKV(kind="full", kv_heads=8, key_dim=128, value_dim=128) if i % 7 == 3 else mamba for i in range(28)
    )
    spec = LLAMA.model_copy(update={"model_type": "nemotron_h", "layers": layers, "num_layers": 28})
    assert vllm.kv_layout(spec, q(vllm="0.19"))[0].block_size == 672
    assert vllm.kv_layout(spec, q(vllm="0.25"))[0].block_size == 1312


def test_jamba_is_sized_not_refused() -> None:
    # AI21-Jamba-1.5-Mini at TP 2 (Mamba-1: inner 2 x 4096, state 16, kernel 4; 4 attention layers
    # of 8 KV heads x 128 among 32; bf16). Per GPU: conv 4096 x 3 x 2 B = 24,576 + SSM 4096 x 16 x
    # 2 B = 131,072 -> 155,648 B; attention 4 heads x 256 x 2 B = 2,048 B/token -> block 16 x
    # cdiv(155,648, 32,768) = 80, page 163,840. Groups of 4: 1 attention + 7 Mamba. v0.25 (no prefix
    # caching): a 8,192-token request needs cdiv(8192, 80) = 103 + 7 blocks; 1,000 blocks ->
    # 1000 / 110 and int(1000 / 110 x 8192) = 74,472 tokens.
    spec = load_model_spec(json.loads((CONFIGS / "ai21labs__AI21-Jamba-1.5-Mini.json").read_text()))
    query = q(vllm="0.25", seq_len=8192, gpus=2)
    layout, _ = vllm.kv_layout(spec, query)
    assert (layout.block_size, layout.group_size, layout.num_groups) == (80, 4, 8)
    blocks, tokens, conc = vllm.kv_capacity(spec, query, 1000 * 4 * 163_840, batched_tokens=8192)
    assert (blocks, tokens) == (1000, 74_472)
    assert conc == pytest.approx(1000 / 110)
    est = estimate(spec, q(vllm="0.25", gpu="h100", gpus=2, seq_len=8192), model_id="jamba")
    assert isinstance(est.engine_report, vllm.VllmReport) and est.engine_report.kv_cache_tokens > 0


# ------------------------------------------------------------------ MLA with DSA

DSV32 = load_model_spec(json.loads((CONFIGS.parent / "calibration2" / "configs" / "deepseek_v32.json").read_text()))


@pytest.mark.parametrize(
    ("gpu", "kv", "per_token"),
    [
        # 61 MLA layers (DeepseekV32Config defaults: kv_lora_rank 512, rope 64, index_head_dim 128).
        # bf16: (512 + 64) x 2 = 1,152 B + indexer 128 fp8 + 4 B scale = 132 -> 1,284 B/token/layer.
        ("h100", "auto", 1_284),
        # fp8 on Hopper: FLASHMLA_SPARSE's fp8_ds_mla, 512 + 4 x 4 + 64 x 2 = 656, + 132 = 788.
        ("h100", "fp8", 788),
        # fp8 on B200: FLASHINFER_MLA_SPARSE keeps standard fp8, 576, + 132 = 708.
        ("b200", "fp8", 708),
    ],
)
def test_dsa_pages(gpu: str, kv: str, per_token: int) -> None:
    query = q(gpu=gpu, kv=kv, seq_len=8192)
    layout, _ = vllm.kv_layout(DSV32, query)
    assert layout.block_size == 64
    assert layout.bytes_per_block == 61 * 64 * per_token
    # One group: tokens = blocks x 64; at 8,192 tokens a request needs 128 blocks.
    blocks, _, conc = vllm.kv_capacity(DSV32, query, 1000 * layout.bytes_per_block, batched_tokens=8192)
    assert blocks == 1000 and conc == pytest.approx(1000 / 128)


def test_mla_fp8_is_the_standard_576_bytes() -> None:
    # DeepSeek-V2-Lite (no indexer) with kv=fp8: (512 + 64) x 1 B per token per layer, 16-token blocks.
    spec = load_model_spec(json.loads((CONFIGS / "deepseek-ai__DeepSeek-V2-Lite-Chat.json").read_text()))
    layout, _ = vllm.kv_layout(spec, q(kv="fp8", vllm="0.33"))
    assert (layout.block_size, layout.bytes_per_block) == (16, 27 * 16 * 576)
    # 0.34: 64-token blocks (CacheConfig.DEFAULT_BLOCK_SIZE, config/cache.py@v0.34.0; FlashMLA takes 64).
    layout, _ = vllm.kv_layout(spec, q(kv="fp8"))
    assert (layout.block_size, layout.bytes_per_block) == (64, 27 * 64 * 576)


# ------------------------------------------------------------------ multimodal start-up

MISTRAL_SMALL = load_model_spec(
    json.loads((CONFIGS / "mistralai__Mistral-Small-3.1-24B-Instruct-2503.json").read_text())
)


def test_pixtral_encoder_has_no_score_matrices() -> None:
    # The logged activation peak of Mistral-Small-3.1 matches the sampler term: vLLM's Pixtral encoder
    # runs fused attention, so the 16 x 12,100^2 x 2 B score tensors (4.4 GiB) never exist. Sampler
    # at 8,192 batched tokens and 1,024 rows: 8192 x 5120 x 2 B of hidden states + 1024 x 131,072
    # logits x (12.9 + 2) B = 83,886,080 + 1,999,844,147.
    peak, where = vllm.activation_peak(MISTRAL_SMALL, q(vllm="0.19", gpu="h100"), gpu=lookup_gpu("h100"))
    assert peak == 83_886_080 + int(1024 * 131_072 * 14.9)
    assert where.startswith("sampler warm-up")


def test_text_only_start_drops_the_vision_tower() -> None:
    # mm=0 (--limit-mm-per-prompt 0): the tower is a StageMissingLayer, neither allocated nor loaded.
    query, _ = parse_query(["m", "engine=vllm", "mm=0"])
    assert query.mm_limit == 0
    gpu = lookup_gpu("h100")
    full = vllm.loaded_weight_bytes(MISTRAL_SMALL, q(gpu="h100"), gpu, 10 * GiB)
    text = vllm.loaded_weight_bytes(MISTRAL_SMALL, q(gpu="h100", mm_limit=0), gpu, 10 * GiB)
    assert full - text == MISTRAL_SMALL.params.vision * 2 > 0.8 * GiB
    assert vllm.loaded_weight_bytes(LLAMA, q(mm_limit=0), gpu, 10 * GiB) == vllm.loaded_weight_bytes(
        LLAMA, q(), gpu, 10 * GiB
    )


def test_falcon_h1_layers_cache_attention_and_state() -> None:
    # Falcon-H1: every layer holds KV and a Mamba-2 state (vLLM registers both). 8 such layers, 2 KV
    # heads x 128 in bf16 = 1,024 B/token; state conv 1,536 x 3 x 2 B = 9,216 + SSM 262,144 x 2 B
    # (model dtype) = 533,504 B -> block 16 x cdiv(533,504, 16,384) = 528. Two groups of 8 (attention,
    # Mamba); v0.25 without prefix caching: cdiv(8192, 528) = 16 + 1 pages per request.
    layer = LayerKV(
        kind="full",
        kv_heads=2,
        key_dim=128,
        value_dim=128,
        mixer="mamba2",
        conv_channels=1536,
        conv_kernel=4,
        ssm_state_elements=262_144,
    )
    spec = LLAMA.model_copy(update={"model_type": "falcon_h1", "layers": (layer,) * 8, "num_layers": 8})
    query = q(vllm="0.25", seq_len=8192)
    layout, _ = vllm.kv_layout(spec, query)
    assert (layout.block_size, layout.group_size, layout.num_groups) == (528, 8, 2)
    _, _, conc = vllm.kv_capacity(spec, query, 1000 * 8 * 528 * 1024, batched_tokens=8192)
    assert conc == pytest.approx(1000 / 17)


def test_kimi_linear_kda_next_to_mla() -> None:
    # Kimi-Linear: KDA state conv 3 x 32 x 128 = 12,288 channels x 3 x 2 B = 73,728 + fp32 state
    # 32 x 128 x 128 x 4 B = 2,097,152 -> 2,170,880 B; MLA (512 + 64) x 2 B = 1,152 B/token. 0.19 aligns
    # MLA to 64: 64 x cdiv(2,170,880, 73,728) = 1,920; 0.27+ to 128: 128 x cdiv(2,170,880, 147,456) = 1,920.
    kda = LayerKV(kind="state", mixer="kda", conv_channels=12_288, conv_kernel=4, ssm_state_elements=32 * 128 * 128)
    mla = LayerKV(kind="mla", kv_heads=1, key_dim=512, value_dim=64)
    spec = LLAMA.model_copy(update={"model_type": "kimi_linear", "layers": (kda, kda, kda, mla) * 6, "num_layers": 24})
    for version in ("0.19", "0.27"):
        layout, _ = vllm.kv_layout(spec, q(vllm=version))
        assert layout.block_size == 1920, version


def test_both_front_ends_name_the_release() -> None:
    from bot import blocks, report

    est = estimate(LLAMA, q(gpu="h100", seq_len=8192, vllm="0.26"), model_id="m")
    assert report.header(est).endswith("· vllm 0.26")
    text = blocks.estimate_message(est).text
    assert "vllm 0.26" in text and "vLLM 0.26 will hold " in text


def test_vision_towers_are_split_over_tensor_parallelism() -> None:
    # Llama-4-Scout at TP 4: the logs put vLLM's weights 1.19 GiB under the checkpoint share with the
    # vision tower replicated (issue's held-out case); vLLM builds the tower from parallel linears
    # (mllama4.py), so 3/4 of it is not on each GPU.
    scout = load_model_spec(json.loads((CONFIGS / "meta-llama__Llama-4-Scout-17B-16E-Instruct.json").read_text()))
    gpu = lookup_gpu("h100")
    saving = vllm.vision_split_saving_bytes(scout, q(gpus=4))
    assert abs(saving - 1.19 * GiB) < 0.05 * GiB
    # (0.20: weights loaded without a split limit, so no segment rounding on top.)
    assert (
        vllm.loaded_weight_bytes(scout, q(gpus=4, vllm="0.20"), gpu, 20 * GiB)
        == 20 * GiB + vllm.rope_cache_bytes(scout, q(gpus=4)) - saving
    )
    assert vllm.vision_split_saving_bytes(scout, q(gpus=1)) == 0
    assert vllm.vision_split_saving_bytes(scout, q(gpus=4, mm_limit=0)) == 0  # no tower at all then


def test_gemma4_vision_tower_stays_whole_on_every_gpu() -> None:
    # vLLM builds Gemma 4's tower with transformers' AutoModel, its nn.Linear layers swapped for
    # ReplicatedLinear, and the embed_vision projection a ReplicatedLinear: no TP share. gemma-4-31b-it's
    # tower (h 1,152, 27 layers, 16 heads of 72, MLP 4,304, 16 px patches, 10,240 positions):
    #   patch embedding 3 x 16 x 16 x 1,152 = 884,736; position tables 2 x 10,240 x 1,152 = 23,592,960
    #   per layer: 4 norms 4,608 + q/k/v/o 4 x 1,152 x 1,152 = 5,308,416 + q/k norms 144
    #              + gated MLP 3 x 1,152 x 4,304 = 14,874,624 -> 20,187,792; x 27 = 545,070,384
    #   embed_vision 1,152 x 5,376 = 6,193,152
    # 575,741,232 parameters, 1,151,482,464 bytes in bf16, all of them on each GPU at TP 2 and 4.
    gemma = load_model_spec(json.loads((CALIBRATION2 / "gemma4_31b_it.json").read_text()))
    tower_bytes = 2 * (884_736 + 23_592_960 + 27 * (4_608 + 5_308_416 + 144 + 14_874_624) + 6_193_152)
    assert tower_bytes == 1_151_482_464
    for gpus in (2, 4):
        assert vllm.vision_split_saving_bytes(gemma, q(gpus=gpus, vllm="0.23")) == 0
        with_tower = vllm.loaded_weight_bytes(gemma, q(gpus=gpus, vllm="0.23"), None, 10 * GiB)
        text_only = vllm.loaded_weight_bytes(gemma, q(gpus=gpus, vllm="0.23", mm_limit=0), None, 10 * GiB)
        assert with_tower - text_only == tower_bytes
        terms = {t.part for t in vllm.weight_terms(gemma, q(gpus=gpus, vllm="0.23"), None, 10 * GiB)}
        assert "vision_split" not in terms


def test_unequal_pages_raise_the_smaller_pages_block_size() -> None:
    # gemma-4-31b-it (config: tests/fixtures/calibration2/configs/gemma4_31b_it.json): 50 sliding
    # layers of 16 KV heads x 256 (window 1024) and 10 global layers of 4 KV heads x 512. bf16 pages
    # of 16 tokens: 16 x 16 x 256 x 2 x 2 = 256 KiB and 16 x 4 x 512 x 2 x 2 = 128 KiB; vLLM
    # (unify_kv_cache_spec_page_size) gives the global layers 32-token blocks instead of padding.
    # calibration2 n036 (v0.23.0, 28.41 GiB, max_model_len 32,768, max_num_batched_tokens 8,192):
    # "GPU KV cache size: 97,541 tokens", "Maximum concurrency for 32,768 tokens per request: 2.98x".
    sliding = LayerKV(kind="sliding", window=1024, kv_heads=16, key_dim=256, value_dim=256)
    full = LayerKV(kind="full", kv_heads=4, key_dim=512, value_dim=512)
    spec = LLAMA.model_copy(update={"layers": ((sliding,) * 5 + (full,)) * 10, "model_type": "gemma4_text"})
    query = q(vllm="0.23", seq_len=32_768)
    layout, warnings = vllm.kv_layout(spec, query)
    assert warnings == ()
    assert (layout.group_size, layout.num_groups) == (10, 6)  # 5 sliding groups + 1 global, 10 layers each
    assert layout.bytes_per_block == 10 * 256 * 1024
    blocks, tokens, concurrency = vllm.kv_capacity(spec, query, int(28.41 * GiB), batched_tokens=8192)
    # 28.41 GiB / 2.5 MiB = 11,636 blocks; a request: 5 x (cdiv(1,023 + 8,192, 16) + 1) sliding blocks
    # + cdiv(32,768, 32) global blocks = 5 x 577 + 1,024 = 3,909.
    assert blocks == 11_636
    assert concurrency == pytest.approx(11_636 / 3_909)
    assert tokens == 97_541
    assert round(concurrency, 2) == 2.98


def test_glm5_shared_indexers_hold_no_indexer_cache() -> None:
    # GLM-5.3's config (tests/fixtures/calibration2/configs/glm5_3.json): indexer_types "full" on layers
    # 0, 1, 2 and every 4th from 6 to 74 (21 of 78), "shared" elsewhere: only 21 indexer key caches.
    spec = load_model_spec(
        json.loads((Path(__file__).resolve().parents[1] / "fixtures/calibration2/configs/glm5_3.json").read_text())
    )
    assert [i for i, layer in enumerate(spec.layers) if layer.index_dim] == [0, 1, 2, *range(6, 75, 4)]
    # calibration2 n044 (GLM-5.2 NVFP4, v0.26.0, TP 4, fp8 KV in the standard layout): "Available KV
    # cache memory: 50.62 GiB", "GPU KV cache size: 1,139,456 tokens" for 819,200 tokens per request.
    # Per token over the layers: 78 x 576 B latent + 21 x 132 B indexer = 47,700 B; a 64-token block
    # 3,052,800 B; 50.62 GiB / 3,052,800 = 17,804 blocks; 17,804 / 12,800 x 819,200 = 1,139,456.
    query = q(vllm="0.26", gpus=4, kv="fp8", gpu="b200", seq_len=819_200)
    layout, _ = vllm.kv_layout(spec, query)
    assert layout.bytes_per_block == 64 * (78 * 576 + 21 * 132)
    blocks, tokens, _ = vllm.kv_capacity(spec, query, int(50.62 * GiB), batched_tokens=8192)
    assert (blocks, tokens) == (17_804, 1_139_456)


def test_dense_model_on_the_v2_runner_keeps_its_graphs_out_of_the_pool_until_0_29() -> None:
    # Llama-3.1-8B (LlamaForCausalLM, dense, bf16): V1 in 0.20-0.22, V2 from 0.23
    # (DEFAULT_V2_MODEL_RUNNER_ARCHITECTURES, then `or not model_config.is_moe` from 0.25), whose
    # profile_cudagraph_memory returns 0 up to 0.28.0; 0.29.0 measures a capture again.
    gpu = lookup_gpu("h100")
    weights = weight_bytes(LLAMA, gpus=1)
    reports = {
        v: vllm.vllm_report(LLAMA, q(vllm=v, util=0.9), weights_bytes=weights, gpu=gpu)
        for v in ("0.20", "0.22", "0.23", "0.26", "0.28", "0.29")
    }
    for v in ("0.20", "0.22", "0.29"):
        r = reports[v]
        assert r.cuda_graphs_in_budget, v
        assert r.kv_cache_memory == r.requested_memory - r.weights - r.activation_peak - r.non_torch - r.cuda_graphs
    for v in ("0.23", "0.26", "0.28"):
        r = reports[v]
        assert not r.cuda_graphs_in_budget, v
        assert r.kv_cache_memory == r.requested_memory - r.weights - r.activation_peak - r.non_torch, v
    # The estimate the V1 runner takes out (0.22) is what the V2 runner leaves in (0.23), beside the
    # V2 runner's own (smaller) sampler warm-up.
    saved = reports["0.22"].activation_peak - reports["0.23"].activation_peak
    assert saved > 0
    assert reports["0.23"].kv_cache_memory - reports["0.22"].kv_cache_memory == reports["0.22"].cuda_graphs + saved


QWEN3_32B = load_model_spec(json.loads((CONFIGS / "Qwen__Qwen3-32B.json").read_text()))
QWEN3_8B = load_model_spec(json.loads((CONFIGS / "Qwen__Qwen3-8B.json").read_text()))


def test_v2_sampler_warm_up_by_hand() -> None:
    # Qwen3-32B bf16 at TP 2 (calibration2 n052's setup: 8,192 batched tokens, 1,024 sequences on a
    # 95 GiB card). compute_logits gives 1,024 x 151,936 bf16 logits on every rank; the all-gather
    # holds the rank's shard (1,024 x 75,968 x 2 B), the gathered tensor and its reshaped copy
    # (1,024 x 151,936 x 2 B each), beside the forward's hidden states (8,192 x 5,120 x 2 B) and the
    # 1,024 rows copied out of them for sampling.
    assert QWEN3_32B.vocab_size == 151_936 and QWEN3_32B.hidden_size == 5_120
    hidden = (8_192 + 1_024) * 5_120 * 2  # 94,371,840
    logits = 1_024 * 151_936 * 2  # 311,164,928
    shard = 1_024 * 75_968 * 2  # 155,582,464
    expected = hidden + logits + shard + logits  # 872,284,160
    query = q(vllm="0.27", gpus=2)
    assert vllm.v2_sampler_peak(QWEN3_32B, query, 8_192, 1_024, warmup_pass=False) == expected == 872_284_160
    # One GPU, greedy pass only (0.22-0.32): the logits and the gumbel kernel's per-block argmax (int64)
    # and maximum (fp32) over ceil(151,936 / 1,024) = 149 blocks per row.
    hidden8 = (2_048 + 256) * 4_096 * 2  # Qwen3-8B, 2,048 batched tokens, 256 sequences
    logits8 = 256 * 151_936 * 2
    blocks8 = 256 * 149 * (8 + 4)
    assert vllm.v2_sampler_peak(QWEN3_8B, q(vllm="0.27"), 2_048, 256, warmup_pass=False) == (
        hidden8 + logits8 + blocks8
    )
    # 0.22-0.25 copy the logits to fp32 (4 B per logit) in the greedy pass too.
    assert vllm.v2_sampler_peak(QWEN3_8B, q(vllm="0.22"), 2_048, 256, warmup_pass=False, fp32_copy=True) == (
        hidden8 + logits8 + 256 * 151_936 * 4 + blocks8
    )
    # 0.33's second pass copies the logits to fp32 (4 B per logit) beside the bf16 ones; FlashInfer's
    # top-k/top-p sampling then holds the masked fp32 logits and their fp32 softmax (8 B more).
    assert vllm.v2_sampler_peak(QWEN3_8B, q(vllm="0.33"), 2_048, 256, warmup_pass=True, flashinfer=False) == (
        hidden8 + logits8 + 256 * 151_936 * 4 + blocks8
    )
    assert vllm.v2_sampler_peak(QWEN3_8B, q(vllm="0.33"), 2_048, 256, warmup_pass=True) == (
        hidden8 + logits8 + 256 * 151_936 * (4 + 4 + 4) + blocks8
    )
    # FlashInfer samples on sm80+ NVIDIA cards (an H100 is 9.0); a T4 (7.5) and AMD cards use Triton.
    assert vllm.flashinfer_sampler(lookup_gpu("h100")) and not vllm.flashinfer_sampler(lookup_gpu("t4"))
    assert not vllm.flashinfer_sampler(lookup_gpu("mi300x"))
    # The penalty state: output_bin_counts (1,024 x 151,936 int32) + prompt_bin_mask (1,024 x 4,748 int32).
    assert vllm.v2_sampler_state_bytes(QWEN3_32B, 1_024) == 1_024 * 151_936 * 4 + 1_024 * 4_748 * 4 == 641_777_664
    # The request tables beside it, 4 B each per request: 1,024 allowed token ids + 1,024 logit-bias
    # ids + 1,024 biases + 128 stop ids + 1,024 bad-word ids + 129 bad-word offsets + 128 logprob ids
    # = 4,481; and the grammar bitmask, 4,748 int32 per logit row (151,936 / 32) plus its int32 index.
    assert vllm.v2_sampler_tables_bytes(QWEN3_8B, 256) == 256 * 4_481 * 4 + 256 * (4_748 + 1) * 4 == 9_451_520
    # With three speculative tokens the bitmask has 1 + 3 rows per request; the tables do not grow.
    assert vllm.v2_sampler_tables_bytes(QWEN3_8B, 256, 3) == 256 * 4_481 * 4 + 1_024 * (4_748 + 1) * 4


def test_v2_runner_activation_term_per_release() -> None:
    # Qwen3-8B on an H100 (8,192 tokens, 1,024 sequences). 0.22: Qwen3ForCausalLM is listed and runs
    # on V2; 0.21: V1, the v0.19 sampler constant (12.9 B + the 2 B logits per logit).
    gpu = lookup_gpu("h100")
    v1, _ = vllm.activation_peak(QWEN3_8B, q(vllm="0.21"), gpu=gpu)
    v2_26, _ = vllm.activation_peak(QWEN3_8B, q(vllm="0.26"), gpu=gpu)
    v2_27, where = vllm.activation_peak(QWEN3_8B, q(vllm="0.27"), gpu=gpu)
    v2_33, _ = vllm.activation_peak(QWEN3_8B, q(vllm="0.33"), gpu=gpu)
    assert v1 == 8_192 * 4_096 * 2 + int(1_024 * 151_936 * (12.9 + 2))
    v2_22, _ = vllm.activation_peak(QWEN3_8B, q(vllm="0.22"), gpu=gpu)
    v2_25, _ = vllm.activation_peak(QWEN3_8B, q(vllm="0.25"), gpu=gpu)
    # 0.22-0.25's fp32 copy in the greedy pass: (8,192 + 1,024) x 4,096 x 2 B of hidden states +
    # 1,024 x 151,936 x (2 + 4) B + 1,024 x 149 x 12 B, above the forward.
    assert v2_22 == v2_25 == 9_216 * 4_096 * 2 + 1_024 * 151_936 * 6 + 1_024 * 149 * 12
    # 0.26 the forward sets the V2 peak: 8,192 x (2 x 4,096 x 2 + 4 x 4,096) + 8,192 x 3 x
    # 12,288 x 2 = 268,435,456 + 603,979,776 (the greedy pass: 16 + 297 MiB).
    assert v2_26 == 872_415_232
    # From 0.27 the penalty state and the request tables allocated after the weights count in the
    # consumed memory: 1,024 x (151,936 + 4,748) x 4 B + 1,024 x 4,481 x 4 B + 1,024 x 4,749 x 4 B.
    assert v2_27 - v2_26 == 1_024 * 151_936 * 4 + 1_024 * 4_748 * 4 + 1_024 * 4_481 * 4 + 1_024 * 4_749 * 4
    assert "penalty state and request tables" in where
    # 0.33's fp32 pass with FlashInfer (H100): (8,192 + 1,024) x 4,096 x 2 B of hidden states + 1,024 x
    # 151,936 x (2 + 4 + 4 + 4) B + 149 blocks x 12 B per row, above the forward.
    assert v2_33 - (v2_27 - v2_26) == 9_216 * 4_096 * 2 + 1_024 * 151_936 * 14 + 1_024 * 149 * 12


def test_tensor_parallel_non_torch_memory_needs_an_nvswitch() -> None:
    # 2,120 MiB at TP 2-4 on the NVSwitch H100 hosts of the v0.19 logs (NCCL's NVLS buffers);
    # without NVLS (PCIe, NVLink-bridge pairs, GeForce) the single-GPU 256 MiB: n017 (v0.27.1, two RTX
    # 5090, TP 2) logs "15.03 GiB for consumed memory (weights + non-torch)" with 14.66 GiB of weights,
    # so at most 0.37 GiB; n003 (TP 4) logs "0.13 GiB for non-torch memory".
    tp2 = q(vllm="0.27", gpus=2)
    assert vllm.non_torch_bytes(tp2, gpu=lookup_gpu("h100")) == 2120 * MiB
    assert vllm.non_torch_bytes(tp2, gpu=lookup_gpu("b200")) == 2120 * MiB
    for key in ("rtx-5090", "h100-pcie", "h100-nvl", "a100-80gb", "l40s"):
        assert vllm.non_torch_bytes(tp2, gpu=lookup_gpu(key)) == 256 * MiB, key
    assert vllm.non_torch_bytes(q(vllm="0.27"), gpu=lookup_gpu("h100")) == 256 * MiB


def test_machete_unpacks_awq_zero_points_on_hopper() -> None:
    # Qwen2.5-7B as AWQ int4 g128 with zero points. Machete (sm90 only) rewrites each packed 4-bit
    # zero point as an fp16 value (-scale x zero): 2 - 0.5 = 1.5 bytes more per group and output
    # column. Per layer: q 28 groups x 3,584, k and v 28 x 512, o 28 x 3,584, gate and up 28 x 18,944,
    # down 148 groups (18,944 / 128) x 3,584 = 1,820,672 zero points; 28 layers = 50,978,816, so
    # 76,468,224 B (0.071 GiB). n037 (v0.31.0, H200) logs "Model loading took 5.38 GiB" and
    # "MacheteLinearKernel".
    spec = load_model_spec(json.loads((CONFIGS / "Qwen__Qwen2.5-7B.json").read_text()))
    awq = q(vllm="0.31", weight_format="awq")
    assert vllm.machete_zero_point_bytes(spec, awq, lookup_gpu("h200")) == 76_468_224
    assert vllm.machete_zero_point_bytes(spec, awq, lookup_gpu("h100")) == 76_468_224
    # Marlin (Ampere, Ada, and sm_120 Blackwell: n056's author records "AutoAWQMarlinLinearMethod" via
    # "MarlinLinearKernel" from v0.28.0 on an RTX PRO 4000) keeps them packed; symmetric schemes have
    # none to unpack.
    assert vllm.machete_zero_point_bytes(spec, awq, lookup_gpu("a100-80gb")) == 0
    assert vllm.machete_zero_point_bytes(spec, q(vllm="0.28", weight_format="awq"), lookup_gpu("rtx-5090")) == 0
    assert vllm.machete_zero_point_bytes(spec, q(vllm="0.31"), lookup_gpu("h200")) == 0
    # GPTQ stores qzeros, but vLLM serves only symmetric GPTQ and hands the kernel no zero points
    # (quantization/auto_gptq.py@v0.34.0: TYPE_MAP (4, True) only; MPLinearLayerConfig zero_points=False).
    assert vllm.machete_zero_point_bytes(spec, q(vllm="0.31", weight_format="gptq"), lookup_gpu("h200")) == 0


def test_weights_keep_whole_segments_under_the_load_split_limit() -> None:
    # vLLM 0.21+ loads under max_split_size_mb=20 (v1/worker/gpu_worker.py load_model): PyTorch's
    # allocator does not split a block for a request of 20 MiB or more, so such a tensor keeps its
    # whole cudaMalloc segment, rounded up to 2 MiB; below the limit a remainder over 1 MiB is split off.
    assert vllm.cuda_block_bytes(55_050_240, max_split=20 * MiB) == 54 * MiB  # 52.5 MiB
    assert vllm.cuda_block_bytes(55_050_240) == 55_050_240
    assert vllm.cuda_block_bytes(27_525_120, max_split=20 * MiB) == 28 * MiB  # 26.25 MiB
    assert vllm.cuda_block_bytes(6 * MiB, max_split=20 * MiB) == 6 * MiB
    # Qwen2.5-1.5B (bf16, tied): per layer gate_up_proj 2 x 8,960 x 1,536 x 2 B = 52.5 MiB in 54 and
    # down_proj 26.25 MiB in 28; qkv_proj (1,536 + 2 x 256) x 1,536 x 2 B = 6 MiB and o_proj 4.5 MiB
    # are split off 20 MiB segments; the embedding 151,936 x 1,536 x 2 B = 445.125 MiB in 446.
    # 28 x 3.25 + 0.875 = 91.875 MiB: v0.28.0-0.30.0 logs "Model loading took 2.98 GiB" against the
    # checkpoint's 2.88 ("Checkpoint size: 2.88 GiB"), a v0.20.0 log 2.89.
    small = load_model_spec(
        json.loads((CONFIGS.parent / "calibration2" / "configs" / "qwen2_5_1_5b_instruct.json").read_text())
    )
    assert vllm.load_segment_rounding_bytes(small, q(vllm="0.30")) == 96_337_920
    assert vllm.load_segment_rounding_bytes(small, q(vllm="0.21")) == 96_337_920
    assert vllm.load_segment_rounding_bytes(small, q(vllm="0.20")) == 0
    # _scoped_allocator_max_split sets nothing outside CUDA (v1/worker/gpu_worker.py@v0.28.0).
    assert vllm.load_segment_rounding_bytes(small, q(vllm="0.30"), lookup_gpu("mi300x")) == 0
    assert vllm.load_segment_rounding_bytes(small, q(vllm="0.30"), lookup_gpu("h100")) == 96_337_920
    # Qwen2.5-7B as AWQ int4: gate_up qweight 3,584 x 37,888 / 2 B = 64.75 MiB in 66, down 18,944 x
    # 3,584 / 2 B = 32.375 MiB in 34, the fp16 embedding and lm_head 1,039.5 MiB in 1,040 each:
    # 28 x 2.875 + 1 = 81.5 MiB. n037 (v0.31.0, H200) logs 5.38 GiB.
    awq = load_model_spec(json.loads((CONFIGS / "Qwen__Qwen2.5-7B.json").read_text()))
    assert vllm.load_segment_rounding_bytes(awq, q(vllm="0.31", weight_format="awq")) == 85_458_944


def test_a_model_without_dense_mlp_layers_has_no_dense_segments_to_round() -> None:
    # DeepSeek-V2-Lite without first_k_dense_replace: every layer is MoE, so the dense MLP matrices
    # appear with a count of 0; the load-segment rounding (0.21+) must skip them, not divide by 0.
    cfg = json.loads((CONFIGS / "deepseek-ai__DeepSeek-V2-Lite-Chat.json").read_text())
    cfg.pop("first_k_dense_replace", None)
    spec = load_model_spec(cfg)
    assert all(lin.count == 0 for lin in spec.linears if lin.component == "dense_mlp")
    query = q(vllm="0.33", gpu="h100")
    # What is left to round: the embedding and the head, 102,400 x 2,048 x 2 B = 400 MiB each, whole
    # 2 MiB multiples already (MLA and expert matrices are not counted), so nothing.
    assert vllm.load_segment_rounding_bytes(spec, query) == 0
    assert estimate(spec, query, model_id="m").memory.weights > 0


def test_util_to_fit_returns_at_once_past_the_device() -> None:
    # 80 GiB device: 72 GiB is util 0.9 exactly (int(0.9 x 80 GiB) = 72 GiB); anything past the device
    # needs no util at all. A request of ~1e35 bytes once looped for ever: int(pct / 100 x total)
    # at that size stays below it however far pct climbs (float steps above one percent's worth).
    gib = 1024**3
    assert vllm.util_to_fit(72 * gib, 80 * gib, 0) == 0.9
    assert vllm.util_to_fit(72 * gib, 80 * gib, 8 * gib + 1) is None
    assert vllm.util_to_fit(10**35 + 12345, 80 * gib, 0) is None


def test_v2_terms_beside_the_weights_of_a_warm_marlin_start() -> None:
    # A warm v0.28.0 start of hugging-quants/Meta-Llama-3.1-8B-Instruct-AWQ-INT4 on an RTX 3090
    # (MarlinLinearKernel, util 0.9; an ADR found through the code index, id 68608959307): "Model loading
    # took 5.39 GiB", 125,952 tokens x 128 KiB = 15.375 GiB warm, so 0.9 x 23.67 GiB (the catalog's
    # deviceQuery total) - 5.39 - 15.375 = 0.54 GiB beside the weights (0.84 at a 24.0 GiB total).
    # vram's V2 terms there do not depend on the 4-bit weights: forward at 2,048 tokens 2,048 x (2 x
    # 4,096 x 2 + 4 x 4,096) + 2,048 x 3 x 14,336 x 2 = 243,269,632 B; penalty state 256 x (128,256 +
    # 4,008) x 4 = 135,438,336 B; request tables and grammar bitmask 256 x (4,481 + 4,009) x 4 =
    # 8,693,760 B; plus 0.25 GiB non-torch.
    gpu = lookup_gpu("rtx-3090")
    peak, where = vllm.activation_peak(LLAMA, q(vllm="0.28", gpu="rtx-3090"), gpu=gpu)
    assert peak == 243_269_632 + 135_438_336 + 8_693_760
    assert where.startswith("prefill MLP at 2,048 batched tokens")
    beside = (peak + 256 * MiB) / GiB
    assert 0.54 - 0.1 <= beside <= 0.84
