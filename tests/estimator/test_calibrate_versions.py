"""The per-release calibration (tools/calibrate_versions.py) against the calibration2 start-up logs.

Fails on regression: per release, KV tokens from the logged pool within the issue's targets (median
<= 2%, p90 <= 5%), the start/fail verdict right on every case with a known outcome, and the README's
tables are the command's output.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from estimator.config import load_model_spec
from estimator.engines import vllm
from estimator.query import Query

ROOT = Path(__file__).resolve().parents[2]
GiB = 1 << 30


def _tool():
    spec = importlib.util.spec_from_file_location("calibrate_versions", ROOT / "tools" / "calibrate_versions.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["calibrate_versions"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tool():
    return _tool()


@pytest.fixture(scope="module")
def rows(tool):
    return tool.run()


def test_every_release_meets_the_targets(tool, rows) -> None:
    summary = tool.summary(rows)
    assert len(summary) >= 5  # 0.20, 0.21, 0.24, 0.26, 0.29, 0.31 today
    for version, entry in summary.items():
        assert entry["verdicts"] == entry["verdicts_right"], version
        if entry["kv_tokens_checked"]:
            assert entry["median"] <= 0.02, version
            assert entry["p90"] <= 0.05, version


def test_logged_lines_are_reproduced_to_the_digit(rows) -> None:
    by_id = {row.id: row for row in rows}
    # n001 (v0.24.0): "GPU KV cache size: 567,978 tokens", "4.33x"; n035 (v0.20.0): 79,648, 4.03x.
    assert (by_id["n001"].tokens_from_pool, by_id["n001"].concurrency_from_pool) == (567_978, 4.33)
    assert (by_id["n035"].tokens_from_pool, by_id["n035"].concurrency_from_pool) == (79_648, 4.03)
    assert by_id["n035"].profile == "0.20" and by_id["n001"].profile == "0.24"


def test_failed_start_is_predicted_with_vllms_numbers(rows) -> None:
    # n042 (<= 0.21): "(36.0 GiB KV cache is needed, which is larger than the available KV cache memory
    # (6.94 GiB). Based on the available memory, the estimated maximum model length is 50512."
    # 6.94 GiB is rounded: the pool holds 3,157 or 3,158 blocks of 2,359,296 B (16 tokens x 144 KiB),
    # so the estimate is 50,512 or 50,528 tokens.
    row = next(r for r in rows if r.id == "n042")
    assert (row.start_from_pool, row.logged_start) == ("failed", "failed")
    assert row.needed_gib == row.logged_needed_gib == 36.0
    assert row.estimated_max_len in (50_512, 50_528)


def test_unsized_cases_say_why(rows) -> None:
    for row in rows:
        assert (row.profile is None) == (row.skipped is not None), row.id


def test_readme_shows_the_commands_tables(tool, rows) -> None:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("<!-- calibrate_versions:start -->\n") + len("<!-- calibrate_versions:start -->\n")
    end = readme.index("\n<!-- calibrate_versions:end -->")
    assert readme[start:end] == tool.markdown(rows), "README is stale: rerun tools/calibrate_versions.py --markdown"


def test_mtp_runs_come_out_within_a_block(rows) -> None:
    # Qwen3.6-27B with MTP x 3 (club-3090 composes, TP 2 and TP 4): the logged pools are rounded to
    # 0.01 GiB and the other ranks' pools may hold a block less, so one block (1/179 of a request at
    # TP 2) is the resolution. n022 (#77): "GPU KV cache size: 619,479 tokens"; n018 (#584): 1,774,963.
    by_id = {row.id: row for row in rows}
    assert by_id["n022"].tokens_from_pool == 619_479
    assert by_id["n018"].tokens_from_pool == 1_774_963
    for case in ("n019", "n021", "n034"):
        row = by_id[case]
        assert row.logged_tokens is not None and row.tokens_from_pool is not None
        assert abs(row.tokens_from_pool - row.logged_tokens) <= 262_144 // 179 + 1, case
    # n044 (GLM-5.2, 21 indexer caches of 78 layers) and n015 (MiniMax-M2.7 failed start) as logged.
    assert by_id["n044"].tokens_from_pool == 1_139_456
    assert (by_id["n015"].start_from_pool, by_id["n015"].needed_gib) == ("failed", 23.25)


def test_dflash_runs_come_out_as_logged(rows) -> None:
    # Qwen3.6-27B + the z-lab DFlash drafter (5 speculative tokens, club-3090 composes, TP 2):
    # n020 (#46, 0.20.1rc1, block-count line) "GPU KV cache size: 67,728 tokens", 1.06x; n023 (#75)
    # 188,838 tokens and n024 (#76) 204,615, both 1.02x, within the pool's 0.01 GiB rounding.
    by_id = {row.id: row for row in rows}
    assert (by_id["n020"].tokens_from_pool, by_id["n020"].concurrency_from_pool) == (67_728, 1.06)
    for case, logged in (("n023", 188_838), ("n024", 204_615)):
        row = by_id[case]
        assert row.tokens_range is not None and row.tokens_range[0] <= logged <= row.tokens_range[1], case
        assert row.concurrency_from_pool == 1.02, case
    # n025 (PR #96) and n028 (vllm#46462) start at their max_model_len, as logged.
    assert by_id["n025"].start_from_pool == by_id["n028"].start_from_pool == "started"


@pytest.fixture(scope="module")
def full(tool):
    return {row.id: row for row in tool.run_full()}


def test_whole_pool_cases_are_sized_term_by_term(tool, full) -> None:
    # n045 (v0.26.0, Llama-3.1-8B on an A40, util 0.9): util x 44.34 GiB = 39.91 GiB requested; the
    # log's pool is 23.9 GiB and its token line 195,760 (16-token blocks of 128 KiB/token).
    n045 = full["n045"]
    assert n045.total_gib == 44.34 and n045.util == 0.9
    assert (n045.logged_pool_gib, n045.logged_tokens) == (23.9, 195_760)
    # bf16 Llama-3.1-8B: 8,030,261,248 parameters x 2 B = 14.96 GiB, plus the rotary cache.
    assert 14.96 <= n045.weights_gib <= 15.0
    # A dense Llama runs on Model Runner V2 in 0.26, which takes no CUDA-graph estimate out of the
    # pool (the graphs come on top): the pool is what weights, activations and non-torch leave.
    assert n045.cuda_graphs_in_budget is False
    terms = n045.weights_gib + n045.activation_gib + n045.non_torch_gib + n045.pool_gib
    assert abs(terms - 0.9 * 44.34) < 0.01
    # The tokens are the ones vram's own pool holds: 128 KiB per token (32 layers x 8 KV heads x 128 x
    # K and V x 2 B), 8,192 tokens per GiB, whole 16-token blocks (and the pool's 3-decimal rounding).
    assert abs(n045.tokens - n045.pool_gib * 8192) <= 16 + 5
    # Llama-3.1-8B is dense, so v0.26.0 serves it on the V2 model runner, whose
    # profile_cudagraph_memory returns 0: no CUDA-graph estimate leaves the pool. The V2 sampler's
    # greedy pass (256 x 128,256 bf16 logits, 63 MiB) is below the forward at 2,048 tokens: 2,048 x
    # (2 x 4,096 x 2 + 4 x 4,096) + 2,048 x 3 x 14,336 x 2 = 243,269,632 B = 0.227 GiB; 0.26 does not
    # count the sampler's penalty state (allocated before the profile run). Pool 39.906 - 14.99
    # (weights) - 0.227 - 0.25 (non-torch) = 24.44 GiB by hand, against the logged 23.9 (+2.3%).
    assert n045.cuda_graphs_in_budget is False
    assert abs(n045.activation_gib - 243_269_632 / GiB) < 0.001
    assert abs(n045.pool_gib - (0.9 * 44.34 - 14.99 - 243_269_632 / GiB - 0.25)) < 0.01
    # n003 (v0.26.0, bf16 Qwen3.5-35B-A3B at TP 4) prints every term: "16.92 GiB for weight, 5.66 GiB
    # for peak activation, 0.13 GiB for non-torch memory", pool 43.4 GiB.
    n003 = full["n003"]
    assert (n003.logged_weights_gib, n003.logged_activation_gib, n003.logged_non_torch_gib) == (16.92, 5.66, 0.13)
    assert n003.logged_pool_gib == 43.4 and n003.total_gib == 79.33


def test_whole_pool_does_not_regress(tool, full) -> None:
    """Today's figures, as bounds: a change that moves a term away from the logs fails here."""
    summary = tool.full_summary(list(full.values()))
    assert set(summary) >= {"0.26", "0.27", "0.31"}
    # Weights as loaded within 3.5% of "Model loading took" / the breakdown (n003, n013, n037).
    for case in ("n003", "n013", "n037"):
        assert abs(full[case].weights_error) <= 0.035, case
    # n037 (AWQ on an H200, "MacheteLinearKernel"): with Machete's fp16 zero points, within 2%.
    assert abs(full["n037"].weights_error) <= 0.02
    # The pools vram predicts: n045 (A40) within 3%, n003 within 3%; n017 (RTX 5090, TP 2) within 5%.
    # n045 leaves 1.02 GiB besides the weights where the V2 runner's mechanisms give 0.48 (forward
    # 0.23 + non-torch 0.25): its capture does not say whether torch.compile started cold (n055: a
    # cold compile adds 0.99 GiB of peak).
    assert abs(full["n045"].pool_error) <= 0.03
    assert abs(full["n045"].tokens_error) <= 0.03
    assert abs(full["n003"].pool_error) <= 0.03
    assert abs(full["n017"].pool_error) <= 0.05
    # n017's "1.59 GiB for peak activation" includes the 0.13 GiB graph estimate; the rest is the
    # encoder dummy run of one 4096 x 4096 image (65,536 ViT positions x 23,952 B = 1.462 GiB).
    assert abs(full["n017"].activation_gib + 0.13 - 1.59) <= 0.05
    # n058 (v0.23.0, Qwen2.5-VL-7B, util 0.22 of an A100 80GB) failed with "Available KV cache memory:
    # -14.28 GiB": the encoder profiles a 14-frame video (458,752 ViT positions). Within 5%.
    assert abs(full["n058"].pool_gib - (-14.28)) <= 0.05 * 14.28
    # n017's consumed memory (weights + non-torch), "15.03 GiB": two RTX 5090 have no NVSwitch, so the
    # non-torch term is the single-GPU 0.25 GiB, not the NVLS hosts' 2.07: 14.66 + 0.25 = 14.91 GiB.
    n017 = full["n017"]
    assert n017.logged_consumed_gib == 15.03
    assert abs(n017.weights_gib + n017.non_torch_gib - n017.logged_consumed_gib) <= 0.15


def test_cases_of_the_newer_releases_reproduce_their_token_lines(tool, rows) -> None:
    """n051-n058: each logged "GPU KV cache size" lies within the tokens of the logged pool's rounding."""
    by_id = {row.id: row for row in rows}
    logged = {
        "n051": ("0.22", 492_912),  # v0.22.0, Qwen2.5-7B-Instruct, 26.32 GiB, 120.34x at 4,096
        "n052": ("0.27", 67_296),  # v0.27.1, Qwen3-32B TP 2 on RTX PRO 6000, 8.22 GiB, 2.05x at 32,768
        "n055": ("0.27", 35_792),  # v0.27.1, Qwen3-8B on an RTX 4090, 4.92 GiB
        "n056": ("0.28", 251_344),  # v0.28.0, Qwen2.5-7B-Instruct-AWQ, 13.42 GiB, 30.68x at 8,192
        "n057": ("0.30", 72_992),  # v0.30.0, Qwen2.5-1.5B-Instruct, 1.95 GiB, 17.82x at 4,096
    }
    for case, (release, tokens) in logged.items():
        row = by_id[case]
        assert row.profile == release and row.logged_tokens == tokens, case
        assert row.tokens_range is not None
        assert row.tokens_range[0] <= tokens <= row.tokens_range[1], case
        assert row.verdict_right, case
    # Logged concurrency to the printed 2 decimals, within one block of the pool's rounding.
    assert abs(by_id["n056"].concurrency_from_pool - 30.68) <= 0.02
    assert abs(by_id["n052"].concurrency_from_pool - 2.05) <= 0.01
    # Failed starts with no memory for a single block: Qwen3-32B bf16 on one card at util 0.426
    # (-24.42 GiB, v0.27.1) and Qwen2.5-VL-7B at util 0.22 of an A100 80GB (-14.28 GiB, v0.23.0).
    for case, pool in (("n054", -24.42), ("n058", -14.28)):
        row = by_id[case]
        assert row.logged_pool_gib == pool
        assert (row.start_from_pool, row.logged_start) == ("failed", "failed"), case
    # The PP 2 run of n052's setup (v0.27.1): the first rank's 6.92 GiB holds 32 layers x 8 KV heads x
    # 128 x 2 (K, V) x 2 B = 131,072 B per token, 2 MiB per block of 16; 6.915 GiB / 2 MiB = 3,540.48
    # and 6.925 GiB / 2 MiB = 3,545.6 blocks, so 3,540-3,545 blocks, 56,640-56,720 tokens; logged 56,640
    # (3,540 blocks: 3,540 x 16 / 32,768 = 1.73x).
    row = by_id["n053"]
    assert row.skipped is None and row.pp == 2 and row.logged_tokens == 56_640
    assert row.tokens_range == (3_540 * 16, 3_545 * 16)
    assert abs(row.concurrency_from_pool - 1.73) <= 0.01 and row.verdict_right
    assert {"0.22", "0.23", "0.27", "0.28", "0.30"} <= set(tool.summary(rows))


def test_whole_pool_of_the_newer_releases(full) -> None:
    # "Model loading took" per GPU: Qwen3-32B bf16 at TP 2 30.59 GiB and at TP 1 61.03 GiB (v0.27.1),
    # Qwen3-8B 15.27 GiB (v0.27.1), Qwen2.5-1.5B-Instruct 2.98 GiB (v0.30.0, tied embeddings).
    # n053 (PP 2 of n052's setup): 30.52 GiB on each rank, the first's line sized.
    for case, logged in (("n052", 30.59), ("n053", 30.52), ("n054", 61.03), ("n055", 15.27), ("n057", 2.98)):
        assert full[case].logged_weights_gib == logged
        assert abs(full[case].weights_error) <= 0.035, case
    # The one-card Qwen3-32B start fails in vram's own pool too (vLLM: -24.42 GiB).
    assert full["n054"].pool_gib < 0
    # Qwen3-8B on an RTX 4090 (23.52 GiB and util 0.92, both logged): the V2 runner leaves the graphs
    # out of the budget; the logged 4.92 GiB is a cold-compile start (peak activation 1.18 GiB), the
    # warm restarts held 43,040 tokens (5.91 GiB): vram's pool lies between the two.
    assert full["n055"].cuda_graphs_in_budget is False
    assert 4.92 <= full["n055"].pool_gib <= 43_040 * 147_456 / GiB


def test_five_model_study_on_031(rows, full) -> None:
    """n059-n063: one study, vLLM 0.31.1rc1.dev50+g554340f3d (a main build after v0.31.0) on 8 x H100,
    TP 8 + EP, util 0.9, max_model_len 262,144."""
    by_id = {row.id: row for row in rows}
    # The nightly's version string maps to its minor release's profile.
    n059 = by_id["n059"]
    assert n059.profile == "0.31"
    # DeepSeek-V4-Flash-0731 from its logged pool (47.43 GiB): "GPU KV cache size: 1,728,531 tokens,
    # Maximum concurrency for 262,144 tokens per request: 6.59x" lies within the pool's rounding.
    assert (n059.logged_pool_gib, n059.logged_tokens, n059.logged_concurrency) == (47.43, 1_728_531, 6.59)
    assert n059.tokens_range is not None
    assert n059.tokens_range[0] <= 1_728_531 <= n059.tokens_range[1]
    assert n059.concurrency_from_pool == 6.59
    assert n059.verdict_right
    # Whole pool: "Model loading took 19.79 GiB"; the util line (0.9000 equivalent to 0.8897) puts
    # vLLM's CUDA-graph estimate at 0.0103 x 79.19 = 0.82 GiB, so the log's rest (activation peak +
    # non-torch) is 0.9 x 79.19 - 19.79 - 47.43 - 0.82 = 3.24 GiB.
    whole = full["n059"]
    assert whole.logged_weights_gib == 19.79 and whole.logged_pool_gib == 47.43
    # Within 1% (the compressors in bf16, replicated: see test_arch_vllm).
    assert abs(whole.weights_error) <= 0.01
    # Open: the graph estimate (vram 0.40 GiB against 0.82) and the activation + non-torch rest (vram
    # 2.80 GiB against 3.24) are each about 0.4 GiB short; the pool comes out 2.1% over the log.
    assert 0.01 <= whole.pool_error <= 0.03
    # The other four models have no published config here: listed with the reason, not sized.
    for case in ("n060", "n061", "n062", "n063"):
        assert by_id[case].skipped is not None and by_id[case].skipped.startswith("no config"), case
        assert by_id[case].profile is None
    assert (by_id["n061"].logged_pool_gib, by_id["n061"].logged_tokens) == (49.2, 6_972_745)
    assert (by_id["n060"].logged_pool_gib, by_id["n060"].logged_tokens) == (29.14, 9_092_381)


def test_v2_runner_pools_by_mechanism(full) -> None:
    """The V2 runner's profile run (v0.27.1): forward at max_num_batched_tokens, the greedy sampler
    pass, and the penalty state counted in the consumed memory."""
    # n052: Qwen3-32B bf16, TP 2 on two RTX PRO 6000 (95.01 GiB, util 0.426: 40.47 GiB requested),
    # 8,192 batched tokens, 1,024 sequences. Forward: 8,192 x (2 x 5,120 x 2 + 4 x 5,120) + 8,192 x 3 x
    # 12,800 x 2 = 964,689,920 B (the sampler's gather, 872,284,160 B, is below it); penalty state
    # 1,024 x 151,936 x 4 + 1,024 x 4,748 x 4 = 641,777,664 B; request tables 1,024 x 4,481 x 4 +
    # grammar bitmask 1,024 x 4,749 x 4 = 37,806,080 B. The log: "Model loading took 30.59 GiB",
    # pool 8.22 GiB, 67,296 tokens; the author's 1.66 GiB of other memory per card.
    n052 = full["n052"]
    assert abs(n052.activation_gib - (964_689_920 + 641_777_664 + 37_806_080) / GiB) < 0.001
    assert n052.logged_pool_gib == 8.22 and n052.logged_tokens == 67_296
    assert abs(n052.pool_error) <= 0.02
    assert abs(n052.tokens_error) <= 0.02
    # n055: Qwen3-8B on an RTX 4090 (2,048 tokens, 256 sequences): forward 2,048 x (2 x 4,096 x 2 +
    # 4 x 4,096) + 2,048 x 3 x 12,288 x 2 = 218,103,808 B against the 0.19 GiB the author's warm
    # restarts logged; penalty state 256 x (151,936 + 4,748) x 4 = 160,436,224 B; request tables and
    # grammar bitmask 256 x (4,481 + 4,749) x 4 = 9,451,520 B. The warm restarts
    # held 43,040 tokens (6,338,641,920 B at 147,456 B per token); the logged run (4.92 GiB, 35,792
    # tokens) compiled cold, 0.99 GiB more peak, which vram does not model.
    n055 = full["n055"]
    assert abs(n055.activation_gib - (218_103_808 + 160_436_224 + 9_451_520) / GiB) < 0.001
    warm_tokens = 43_040
    assert abs(n055.tokens - warm_tokens) / warm_tokens <= 0.05


def test_n055_terms_against_its_breakdown_line(full) -> None:
    """n055's full log (alexostapiuk11/coldstart-recon-worker fixtures/vllm_logs/startup_0.log at
    5e109091) prints vLLM's breakdown after the capture (v1/worker/gpu_worker.py@v0.27.1
    compile_or_warm_up_model): "Free memory on device (22.64/23.52 GiB) on startup. Desired GPU memory
    utilization is (0.92, 21.64 GiB). Actual usage is 15.54 GiB for consumed memory (weights +
    non-torch), 1.18 GiB for peak activation, and 0.56 GiB for CUDAGraph memory". The warm restart
    (startup_1.log) prints the same line with 0.19 GiB of peak activation, and 5.91 GiB of pool."""
    n055 = full["n055"]
    # The utilization is 0.27.1's default (config/cache.py: 0.92; the args set only the model and its
    # length): ceil(0.92 x 23.52 GiB) = 21.64 GiB requested.
    assert (n055.total_gib, n055.util) == (23.52, 0.92)
    assert (n055.logged_consumed_gib, n055.logged_activation_gib, n055.logged_captured_gib) == (15.54, 1.18, 0.56)
    # Consumed memory (0.27+: free memory lost since start-up, utils/mem_utils.py memory_profiling):
    # weights 15.27 GiB + penalty state 256 x (151,936 + 4,748) x 4 = 160,436,224 B + request tables
    # 256 x (4,481 + 4,749) x 4 = 9,451,520 B + vram's 0.25 GiB of non-torch memory = 15.68 GiB, where
    # the log has 15.54: this host's non-torch memory is 15.54 - 15.27 - 0.158 = 0.11 GiB.
    assert abs(n055.held_gib - (160_436_224 + 9_451_520) / GiB) < 0.001
    consumed = n055.weights_gib + n055.held_gib + n055.non_torch_gib
    assert 0.10 <= consumed - n055.logged_consumed_gib <= 0.17
    # The transient: the forward at 2,048 tokens, 2,048 x (2 x 4,096 x 2 + 4 x 4,096) + 2,048 x 3 x
    # 12,288 x 2 = 218,103,808 B = 0.203 GiB, against the warm start's 0.19; the cold start's 1.18 GiB
    # is torch.compile's, 0.99 GiB that vram does not model.
    transient = n055.activation_gib - n055.held_gib
    assert abs(transient - 218_103_808 / GiB) < 0.001
    assert abs(transient - 0.19) <= 0.02
    # Pool: 21.64 - 15.68 - 0.20 = 5.76 GiB, 2.6% under the warm start's 5.91 (the non-torch term).
    assert -0.04 <= n055.pool_gib / 5.91 - 1 <= -0.01
    # The graphs the V2 runner captures after the pool (0.27: no estimate): 51 PIECEWISE + 35 FULL x
    # (3,760 + 36 x 151) KiB = 0.754 GiB against the 0.56 the capture took.
    assert n055.cuda_graphs_in_budget is False
    assert abs(n055.cuda_graphs_gib - 86 * (3760 + 36 * 151) / (1 << 20)) < 0.001


def test_n053_first_rank_pool_is_above_the_log(full) -> None:
    """n053 (v0.27.1, Qwen3-32B PP 2 on two RTX PRO 6000, util 0.426: 40.47 GiB requested). The first
    rank logs 6.92 GiB: 40.47 - 30.52 - 6.92 = 3.03 GiB besides the weights (the author's figure),
    where its profile run, as vLLM's source has it, holds the forward at 8,192 tokens (no sampler, no
    penalty state on a rank before the last): 8,192 x (2 x 5,120 x 2 + 4 x 5,120) + 8,192 x 3 x 25,600
    x 2 = 1,593,835,520 B, and the 0.25 GiB of non-torch memory, 1.73 GiB. The 1.3 GiB between them is
    not in vram's terms (nor found in the 0.27.1 source); the pool and the tokens are above the log.
    The one-card run of the same setup (n054) misses by as much (3.86 GiB logged, 2.33 vram's)."""
    n053 = full["n053"]
    assert abs(n053.activation_gib - 1_593_835_520 / GiB) < 0.001
    assert n053.logged_pool_gib == 6.92 and n053.logged_tokens == 56_640
    other = 0.426 * 95.01 - n053.weights_gib - n053.pool_gib
    assert 1.65 <= other <= 1.80  # vram's 1.73 GiB of other memory against the logged 3.03
    assert 0.15 <= n053.pool_error <= 0.22
    assert 0.05 <= n053.tokens_error <= 0.10


MiB = 1 << 20


def test_n056_misses_by_a_transient_of_the_profile_run(full) -> None:
    """n056 (v0.28.0, Qwen2.5-7B-Instruct-AWQ on an RTX PRO 4000 Blackwell, util 0.9): vram's pool is
    above the log, and the author's nvidia-smi reading says the difference was not held after start-up,
    so no persistent term may close it."""
    n056 = full["n056"]
    # Marlin on sm_120 (the author's engine line): no repacked copies. V2 runner, 2,048 tokens, 256
    # sequences: forward 2,048 x (2 x 3,584 x 2 + 4 x 3,584) + 2,048 x 3 x 18,944 x 2 = 291,504,128 B;
    # penalty state 256 x (152,064 + 4,752) x 4 = 160,579,584 B; request tables and grammar bitmask
    # 256 x (4,481 + 4,753) x 4 = 9,455,616 B.
    assert abs(n056.activation_gib - (291_504_128 + 160_579_584 + 9_455_616) / GiB) < 0.001
    # The log: 13.42 GiB available of 0.9 x 24,467 MiB, so at least 0.9 x 24,467 MiB - 13.425 GiB of
    # non-KV share. The notes (week3-notes.md@26ac25a6, "Why VRAM is the wrong ceiling signal"): 20,874
    # MiB used when idle after start-up, the pool being 15,709 blocks x 16 x 57,344 B.
    non_kv = 0.9 * 24_467 * MiB - 13.425 * GiB
    held = 20_874 * MiB - 15_709 * 16 * 57_344  # CUDA context, consumed memory, graphs
    assert n056.logged_pool_gib == 13.42
    # From 0.27 the non-KV share is consumed memory plus the transient peak: >= 1.12 GiB was transient.
    assert non_kv - held > 1.11 * GiB
    # vram's whole non-KV share (its only transient is the 0.27 GiB forward) fits in what the card held.
    vram_non_kv = (n056.weights_gib + n056.activation_gib + n056.non_torch_gib) * GiB
    assert vram_non_kv < held


def test_n057_terms_beside_the_logged_weights(full) -> None:
    """n057 (v0.30.0, Qwen2.5-1.5B-Instruct on an RTX 4070 Laptop, util 0.8): with the logged weights,
    the log leaves 0.8 x 8,188 MiB - 1.95 - 2.98 GiB for activation, penalty state, non-torch memory
    and the graph estimate (1.467 GiB, +-0.01 by the rounding of the two lines)."""
    n057 = full["n057"]
    # V2 runner, 2,048 tokens, 256 sequences: forward 2,048 x (2 x 1,536 x 2 + 4 x 1,536) + 2,048 x 3 x
    # 8,960 x 2 = 135,266,304 B; penalty state 256 x (151,936 + 4,748) x 4 = 160,436,224 B; request
    # tables and grammar bitmask 256 x (4,481 + 4,749) x 4 = 9,451,520 B.
    assert abs(n057.activation_gib - (135_266_304 + 160_436_224 + 9_451_520) / GiB) < 0.001
    assert (n057.logged_weights_gib, n057.logged_pool_gib) == (2.98, 1.95)
    logged_rest = 0.8 * 8_188 * MiB / GiB - 1.95 - 2.98
    vram_rest = n057.activation_gib + n057.non_torch_gib + n057.cuda_graphs_gib
    assert n057.cuda_graphs_in_budget is True
    # The graph estimate, 51 PIECEWISE + 35 FULL graphs (256 sequences, 2,048 tokens: sizes up to
    # 512, decode sizes up to 256) x (3,760 + 28 x 151) KiB = 0.655 GiB. The log prints no graph
    # figure; the 0.28 GiB left between vram's terms and the rest is not assigned to one of them (the
    # v0.19 per-model constant, 0.865 GiB here, left 0.07).
    assert abs(n057.cuda_graphs_gib - 86 * (3760 + 28 * 151) / (1 << 20)) < 0.001
    assert 0.2 <= logged_rest - vram_rest <= 0.3
    # "Model loading took 2.98 GiB": 3,087,428,608 B of bf16 checkpoint, the 8 MiB rope table, and the
    # segments the tensors of 20 MiB or more keep whole under vLLM's max_split_size_mb=20 at load:
    # 28 x (gate_up_proj 52.5 MiB in 54 + down_proj 26.25 MiB in 28) + the embedding's 445.125 MiB in
    # 446 = 91.875 MiB; 2.973 GiB (2.89 GiB in a v0.20.0 log, loaded without the limit).
    assert abs(n057.weights_gib - (3_087_428_608 + 8 * MiB + 96_337_920) / GiB) < 0.001
    assert abs(n057.weights_gib - 2.98) <= 0.01


def test_gb10_pools_leave_a_host_dependent_share(full) -> None:
    """The DGX Spark logs, sized with the catalog's gb10 (torch's 121.69 GiB, util x total requested,
    v1/worker/utils.py request_memory). On unified memory vLLM's non-torch term is what the OS's
    available memory lost between start-up and the end of profiling (utils/mem_utils.py
    MemorySnapshot.measure), so the logs leave more besides weights and graphs than vram's terms."""
    requested = 0.85 * 121.69  # GiB, the three Qwen3.6-35B-A3B-NVFP4 runs (util 0.85)
    # n049 (v0.20.0, no drafter): "Model loading took 21.86 GiB", "CUDA graph pool memory: 0.47 GiB
    # (actual), 0.47 GiB (estimated)", "Available KV cache memory: 66.93 GiB", "GPU KV cache size:
    # 1,754,352 tokens". Peak activation and non-torch memory as vLLM measured them: 103.44 - 21.86 -
    # 0.47 - 66.93 = 14.18 GiB.
    n049 = full["n049"]
    assert (n049.total_gib, n049.util) == (121.69, 0.85)
    assert (n049.logged_weights_gib, n049.logged_cuda_graphs_gib) == (21.86, 0.47)
    assert (n049.logged_pool_gib, n049.logged_tokens) == (66.93, 1_754_352)
    assert abs(n049.weights_error) <= 0.01
    terms = n049.weights_gib + n049.activation_gib + n049.non_torch_gib + n049.cuda_graphs_gib + n049.pool_gib
    assert abs(terms - requested) < 0.01
    logged_rest_n049 = requested - 21.86 - 0.47 - 66.93
    assert abs(logged_rest_n049 - 14.18) < 0.01
    # vram's forward peak and non-torch memory are what a discrete GPU would show; the log's are more
    # than 6 GiB above them (host memory the processes took while loading and profiling).
    assert 6.0 <= logged_rest_n049 - (n049.activation_gib + n049.non_torch_gib) <= 7.0
    # n047 (v0.20.0 with the MTP drafter, 45 minutes later on the same machine): "Estimated CUDA graph
    # memory: -0.87 GiB total", subtracted as printed, so it adds to the pool; n048 (v0.20.2): -0.90.
    # Logged rest: 103.44 - 23.43 + 0.87 - 66.37 = 14.51 GiB, the same host share as n049's within 0.4.
    n047, n048 = full["n047"], full["n048"]
    assert (n047.logged_weights_gib, n047.logged_cuda_graphs_gib, n047.logged_pool_gib) == (23.43, -0.87, 66.37)
    assert (n048.logged_weights_gib, n048.logged_cuda_graphs_gib, n048.logged_pool_gib) == (23.43, -0.90, 66.58)
    logged_rest_n047 = requested - 23.43 + 0.87 - 66.37
    assert abs(logged_rest_n047 - 14.51) < 0.01 and abs(logged_rest_n047 - logged_rest_n049) < 0.4
    # n027 (another Spark pair, TP 2, DeepSeek-V4-Flash, util 0.8): "Model loading took 75.86 GiB",
    # "0.55 GiB (estimated)", pool 18.65 GiB: 97.35 - 75.86 - 0.55 - 18.65 = 2.29 GiB besides, about
    # 1.1 GiB above vram's terms: the host share is the host's, not a constant of the GPU.
    n027 = full["n027"]
    assert (n027.logged_weights_gib, n027.logged_cuda_graphs_gib, n027.logged_pool_gib) == (75.86, 0.55, 18.65)
    logged_rest_n027 = 0.8 * 121.69 - 75.86 - 0.55 - 18.65
    assert 0.5 <= logged_rest_n027 - (n027.activation_gib + n027.non_torch_gib) <= 1.5
    # So vram's pool is above every Spark log, by 8% to 13%.
    for row in (n027, n047, n048, n049):
        assert 0.08 <= row.pool_error <= 0.13, row.id


def test_qwen3_8b_awq_bump_records(rows) -> None:
    # n064 (0.30.0, no speculation): "KV cache 3.67 GiB (26,704 tokens, 1.63x concurrency at 16,384)";
    # 26,704 tokens = 1,669 blocks of 16 x 144 KiB, inside the 3.665-3.675 GiB rounding (1,667-1,672).
    n064 = next(r for r in rows if r.id == "n064")
    assert n064.logged_tokens == 26_704 and n064.tokens_error == 0.0
    assert n064.concurrency_from_pool == n064.logged_concurrency == 1.63
    # n065-n067 run an EAGLE-3 head whose config.json is not in the fixtures: listed, not sized
    # (tests/estimator/test_vllm_eagle3_kv_pool.py checks their pools with the head's KV layer).
    for case in ("n065", "n066", "n067"):
        row = next(r for r in rows if r.id == case)
        assert row.skipped == "a eagle3 draft model's config is not in the fixtures", case


def test_034_prose_cases_are_listed_not_sized(rows) -> None:
    # n068/n069 (GitLab's vLLM 0.34.0 sizing MR) give concurrency in prose, with no pool and no
    # TP/util/KV dtype: each is listed with its reason and none reaches the 0.34 refusal or a guessed flag.
    by_id = {row.id: row for row in rows}
    assert (by_id["n068"].version, by_id["n069"].version) == ("0.34.0", "0.34.0")
    for case in ("n068", "n069"):
        row = by_id[case]
        assert row.profile is None and row.skipped is not None and "no config" not in row.skipped, case


def test_033_fit_check_refusal_needs_what_glq_quotes(rows) -> None:
    # n070 (glq v0.8.37's notes, release gate on vLLM 0.33.0): on a 32 GB card at 131,072 tokens "8.48
    # GiB KV cache is needed ... 7.48 GiB available". Qwen3.5-27B's layout on FlashInfer's GDN prefill:
    # blocks of 832 tokens (13 x 64) of 3,407,872 B per layer; 16 attention layers x cdiv(131,072, 832)
    # = 158 blocks and 48 GDN layers x 3 pages (2 for align mode + the prefill checkpoint):
    # (16 x 158 + 48 x 3) x 3,407,872 = 9,105,833,984 B = 8.48 GiB.
    row = next(r for r in rows if r.id == "n070")
    assert row.profile == "0.33" and row.skipped is None
    assert (row.logged_pool_gib, row.max_model_len) == (7.48, 131_072)
    assert (16 * 158 + 48 * 3) * 3_407_872 == 9_105_833_984
    assert row.needed_gib == row.logged_needed_gib == round(9_105_833_984 / 2**30, 2) == 8.48
    assert (row.start_from_pool, row.logged_start) == ("failed", "failed")
    assert row.logged_estimated_max_len is None and row.estimated_max_len is not None


def test_cases_sized_from_published_configs_later(tool, rows, full) -> None:
    by_id = {row.id: row for row in rows}
    # n005 (v0.26.0, DeepSeek-V4-Flash-0731 on two H20, deepseek_mtp): the author's table gives
    # "7.71 GiB", "150,992" tokens and "121,344 (1.24x)" (150,992 / 121,344 = 1.2443).
    n005 = by_id["n005"]
    assert (n005.profile, n005.max_model_len, n005.logged_pool_gib) == ("0.26", 121_344, 7.71)
    assert n005.tokens_range is not None and n005.tokens_range[0] <= 150_992 <= n005.tokens_range[1]
    assert n005.concurrency_from_pool == n005.logged_concurrency == 1.24
    # n026 (v0.22.0, Qwen3.6-35B-A3B AutoRound INT4 on one RTX 3090, the PR's compose: 8,192 tokens,
    # fp8 KV, prefix caching): "KV 0.78 GiB / 31,129 tokens" = int(3.80 x 8,192) = int(31,129.6), the
    # count at the low end of the pool's rounding.
    n026 = by_id["n026"]
    assert (n026.profile, n026.max_model_len, n026.logged_tokens) == ("0.22", 8192, 31_129)
    assert n026.tokens_range is not None and n026.tokens_range[0] == int(3.80 * 8192) == 31_129
    assert n026.tokens_error == 0.0 and n026.verdict_right
    # The rest are listed with the reason they cannot be checked, none for want of a config but n043.
    for case in ("n004", "n006", "n007", "n008", "n009", "n012", "n014", "n038", "n041"):
        assert by_id[case].skipped is not None and "no config" not in by_id[case].skipped, case
    assert by_id["n043"].skipped is not None and "not named" in by_id["n043"].skipped


def test_gpt_oss_120b_weights_on_sm120(full) -> None:
    # gpt-oss-120b at TP 8 on sm_120 (Marlin): per layer 128 experts of w13 768 x 3072/2 values and
    # 768 x 96 scales, w2 3072 x 384/2 and 3072 x 12, bf16 biases 768 + 3072 (intermediate 2880/8 =
    # 360 padded to 384, hidden 2880 to 3072): 241,631,232 B x 36 layers = 8,698,724,352 B. The rest:
    # embedding and lm_head 2 x 25,136 x 2,880 x 2 B = 289,566,720; per layer qkv 640 x 2,880 and o
    # 2,880 x 512 (bf16, with biases), router 128 x 2,880 (+ bias), two norms, 8 sinks (fp32):
    # 7,391,616 + 32 B, x 36 = 266,099,328; final norm 5,760; the rope cache (32 MiB) and the load's
    # whole segments (3.85 MiB) on top.
    per_layer = 128 * (768 * 1536 + 768 * 96 + 3072 * 192 + 3072 * 12 + (768 + 3072) * 2)
    assert per_layer == 241_631_232
    rest = (
        2 * 25_136 * 2_880 * 2
        + 36 * (640 * 2880 * 2 + 640 * 2 + 2880 * 512 * 2 + 2880 * 2 + 128 * 2880 * 2 + 128 * 2 + 2 * 2880 * 2 + 8 * 4)
        + 2880 * 2
    )
    by_hand = (36 * per_layer + rest) / GiB
    n012 = full["n012"]
    assert abs(n012.weights_gib - by_hand) <= 0.04  # + 0.035 GiB of rope cache and segments
    # The commenter's "weights 9.98 GiB" per GPU is 15% above: not explained by vLLM 0.28's layout
    # (docs/engine-notes.md, 0.28.0); the row shows the gap rather than hiding it.
    assert n012.logged_weights_gib == 9.98 and n012.weights_error is not None and n012.weights_error < -0.1


def test_dsv4_mtp_block_not_its_token_count_sets_the_layout() -> None:
    # n005's table names the deepseek_mtp drafter but not its token count: 1 and 4 speculative tokens
    # lay 7.71 GiB out alike (1.24x at 121,344 as logged); without the drafter's block, 1.25x.
    config = ROOT / "tests" / "fixtures" / "calibration2" / "configs" / "deepseek_v4_flash.json"
    spec = load_model_spec(json.loads(config.read_text()))

    def concurrency(mtp: int | None) -> float:
        query = Query(engine="vllm", vllm="0.26", gpus=2, seq_len=121_344, kv="fp8", max_num_seqs=32, mtp=mtp)
        return vllm.kv_capacity(spec, query, int(7.71 * GiB), batched_tokens=8192)[2]

    assert concurrency(1) == concurrency(4)
    assert round(concurrency(1), 2) == 1.24 and round(concurrency(None), 2) == 1.25


def test_logs_found_by_the_loggers_line_numbers(rows, full) -> None:
    """n071-n076 (tests/fixtures/calibration2/README.md): vLLM 0.28.0 on an A100 80GB PCIe (Qwen3.8-27B
    and Qwen3.5-0.8B, hybrid) and 0.31.0 (Llama-3.1-8B-Instruct on an A100 80GB, Qwen3-32B FP4 on sm100)."""
    by_id = {row.id: row for row in rows}
    logged = {
        # "GPU KV cache size: 298,275 tokens ... concurrency: 1.14x" at 262,144 (18.61 GiB): 784-token
        # blocks of 48 GDN state pages and 16 attention pages; 298,275 / 262,144 = 1.138.
        "n071": ("0.28", 298_275, 1.14),
        # 67.08 GiB: "5,788,118 tokens, Maximum concurrency for 262,144 tokens per request: 22.08x".
        "n072": ("0.28", 5_788_118, 22.08),
        # 61.82 GiB at 8,192 tokens: 3,697,198 tokens, 451.32x.
        "n073": ("0.28", 3_697_198, 451.32),
        # 56.21 GiB: 128 KiB per token (32 layers x 8 x 128 x 2 x 2 B), 460,496 tokens, 3.51x at 131,072.
        "n074": ("0.31", 460_496, 3.51),
        # 136.35 / 136.79 GiB at 256 KiB per token (64 layers): 34,906 / 35,018 blocks of 16.
        "n075": ("0.31", 558_496, 136.35),
        "n076": ("0.31", 560_288, 136.79),
    }
    for case, (release, tokens, concurrency) in logged.items():
        row = by_id[case]
        assert row.profile == release and row.logged_tokens == tokens, case
        assert row.tokens_error == 0.0, case
        assert row.concurrency_from_pool == row.logged_concurrency == concurrency, case
        assert row.verdict_right, case
    # The whole pool where the log gives the budget's terms. Qwen3.8-27B: "Model loading took 51.1 GiB"
    # and 18.61 GiB of pool, at util 0.92 of 79.25 GiB. Llama-3.1-8B: 56.21 GiB, 15.26 GiB consumed.
    assert abs(full["n071"].weights_error) <= 0.01
    assert abs(full["n071"].pool_error) <= 0.01
    assert abs(full["n074"].weights_error) <= 0.01
    assert abs(full["n074"].pool_error) <= 0.015
    n074 = full["n074"]
    assert n074.total_gib == 79.25 and n074.logged_consumed_gib == 15.26 and n074.logged_activation_gib == 1.44
    # Qwen3.5-0.8B: the weights are as logged (1.72 GiB), but n073's consumed memory is 4.18 GiB,
    # about 2.2 GiB that no mechanism here accounts for; the pool is high by that share. n072's "4.31
    # GiB" is the report's prose ("the weights are only 4.31 GiB"), not compared as a logged figure.
    assert full["n073"].logged_consumed_gib == 4.18 and full["n072"].logged_consumed_gib is None
    for case in ("n072", "n073"):
        row = full[case]
        assert abs(row.weights_gib - 1.72) <= 0.02, case
        assert 0.02 <= row.pool_error <= 0.04, case
