"""What the answer's words say about its numbers: the release followed, the batch tier sized without
gpu=, what vLLM holds on the device, the sampler warm-up's bytes per logit, the state pages of hybrid
models and the KV row by cache where bytes per token x s x b do not give it.

Expected figures are hand arithmetic from the configs (tests/fixtures/configs, calibration2/configs),
the GPU catalog's device totals and vLLM's source (docs/engine-notes.md); the text is searched for
the figures, never compared with a copy of an answer.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from bot import report
from estimator.config import load_model_spec
from estimator.draft import read_drafter
from estimator.engines.vllm import VllmReport
from estimator.estimate import estimate
from estimator.grammar import parse_settings, query_with
from estimator.query import Query
from estimator.result import Estimate

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "tests" / "fixtures" / "configs"
CAL = ROOT / "tests" / "fixtures" / "calibration2" / "configs"
GIB = 1 << 30
H100 = 85_030_617_088  # bytes CUDA reports for an H100 80GB HBM3 (the catalog's h100-80gb)


def _estimate(path: Path, **query: object) -> Estimate:
    return estimate(load_model_spec(json.loads(path.read_text())), Query(**query), model_id="m")  # type: ignore[arg-type]


def _row(est: Estimate, label: str) -> str:
    (why,) = [why for name, _, why in report.breakdown(est) if name == label]
    return why


def _terms(est: Estimate, part: str) -> list:
    return [t for t in est.details.kv_terms if t.part == part]


# -- 5: the release followed ----------------------------------------------------------------------
def test_the_default_release_says_it_is_the_newest_followed() -> None:
    est = _estimate(CONFIGS / "Qwen__Qwen3-8B.json", engine="vllm", gpu="h100", seq_len=8192)
    header = report.header(est)
    assert header.endswith(" · vllm 0.34 (the newest vram follows)")
    assert header.count("newest") == 1
    # The comparison's title stays short: the note belongs to the answer's header.
    assert report.compare_title(est) == "s=8,192 · b=1 · vllm 0.34 · gpu=h100"


def test_a_patch_release_says_whose_profile_sizes_it() -> None:
    base = Query(engine="vllm", gpu="h100", seq_len=8192)
    patch = query_with(base, parse_settings(["vllm=v0.31.1"]))
    assert patch.vllm == "0.31.1"
    assert query_with(base, parse_settings(["vllm=v0.31.0"])).vllm == "0.31"
    nightly = "0.31.1rc1.dev50+g554340f3d"
    assert query_with(base, parse_settings([f"vllm={nightly}"])).vllm == nightly
    spec = load_model_spec(json.loads((CONFIGS / "Qwen__Qwen3-8B.json").read_text()))
    est = estimate(spec, patch, model_id="m")
    minor = estimate(spec, base.model_copy(update={"vllm": "0.31"}), model_id="m")
    assert report.header(est).endswith(" · vllm 0.31.1 (follows the 0.31 profile)")
    assert report.header(minor).endswith(" · vllm 0.31")
    assert est.memory == minor.memory  # the same profile sizes both
    assert est.to_json()["inputs"]["vllm"] == "0.31.1"


# -- 12: the batch tier without gpu= ----------------------------------------------------------
def test_without_a_gpu_the_answer_names_the_batch_defaults_it_sized() -> None:
    # engine/arg_utils.py get_batch_defaults: with no device record vLLM's small tier applies,
    # max_num_seqs 256 and, for vllm serve, max_num_batched_tokens 2,048; the H100 tier starts at 70 GiB.
    est = _estimate(CAL / "qwen3_5_27b.json", engine="vllm", seq_len=32768, batch=4)
    (note,) = [w.message for w in est.warnings if w.code == "no_gpu_given"]
    assert "max_num_seqs 256, max_num_batched_tokens 2,048" in note
    # 0.33's tiers (engine/arg_utils.py get_batch_defaults): from 70 GiB, but not an A100 (an A100-80GB
    # keeps the small tier) nor the GB10, 8,192 tokens and 1,024 sequences; from 160 GiB 16,384 and 1,024.
    assert (
        "(GPUs of 70 GiB and more, A100s and the GB10 aside, get max_num_seqs 1,024, max_num_batched_tokens 8,192; "
        "GPUs of 160 GiB and more get max_num_seqs 1,024, max_num_batched_tokens 16,384, and more activations)"
    ) in note
    given = _estimate(
        CAL / "qwen3_5_27b.json", engine="vllm", seq_len=32768, max_num_seqs=64, max_num_batched_tokens=4096
    )
    (note,) = [w.message for w in given.warnings if w.code == "no_gpu_given"]
    assert "max_num_seqs" not in note


# -- 13: what the process holds ----------------------------------------------------------------
def test_the_vllm_line_says_what_the_process_holds() -> None:
    est = _estimate(CAL / "qwen3_5_27b.json", engine="vllm", gpu="h100", seq_len=32768, vllm="0.33")
    line = report.engine_line(est)
    assert line is not None
    # 0.92 x 85,030,617,088 B = 78,228,167,720 B = 72.86 GiB of the device's 79.19 GiB.
    assert est.engine_report.requested_memory == math.ceil(0.92 * H100)
    # Beside it, outside util's share, one GPU's CUDA context: 522 MiB = 0.51 GiB.
    assert line.startswith(
        "vLLM 0.33 will hold 72.9 GiB of 79.2 GiB (util=0.92 x the device) + 0.51 GiB CUDA context; "
    )
    pool = est.engine_report.kv_cache_memory / GIB
    assert f"the KV pool takes what the rest leaves, {pool:.1f} GiB, room for " in line
    # 0.34 (the default) holds no fixed share: it sizes the pool after capture from free memory, beside
    # the margin and the transient peak it keeps free and the CUDA context (0.51 GiB).
    est = _estimate(CAL / "qwen3_5_27b.json", engine="vllm", gpu="h100", seq_len=32768)
    v = est.engine_report
    line = report.engine_line(est)
    assert line is not None and v.requested_memory == H100
    assert line.startswith(
        "vLLM 0.34 sizes its KV cache after CUDA-graph capture from the memory then free (the extensible KV "
        f"cache, the whole device): of 79.2 GiB it keeps {v.kv_margin / GIB:.2f} GiB free as a margin and "
        f"{v.transient_reserve / GIB:.2f} GiB for transient activations, beside the 0.51 GiB CUDA context; "
    )
    # "The rest" is named, so the sentence adds up: the device less the context, the margin and the
    # transient reserve, the weights, non-torch memory, CUDA graphs and the activation row's kept part.
    kept = (v.activation_peak - v.transient_reserve) / GIB
    assert (
        "the KV pool takes what the weights, non-torch memory, CUDA graphs and the "
        f"{kept:.2f} GiB of the activation row that stays allocated leave, {v.kv_cache_memory / GIB:.1f} GiB, room for "
    ) in line
    rest = H100 - v.cuda_context - v.kv_margin - v.transient_reserve - v.weights - v.non_torch - v.cuda_graphs
    assert abs(rest - (v.activation_peak - v.transient_reserve) - v.kv_cache_memory) < GIB // 100


# -- 11: the sampler warm-up's bytes per logit ----------------------------------------------------
def test_the_sampler_warm_up_says_its_bytes_per_logit() -> None:
    # gpt-oss-20b (vocabulary 201,088, bf16 logits 2 B) at TP 8 on an H200: 1,024 sequences.
    # 0.31 (V2 runner, greedy warm-up): the all-gather holds a shard and a copy, 2 x (1 + 1/8) = 2.25 B
    # beside the 2 B logits; 0.33 adds the second warm-up pass: an fp32 copy (4 B) and FlashInfer's
    # masked logits and softmax (8 B), 12 B beside the logits.
    def where(version: str) -> str:
        est = _estimate(
            CONFIGS / "openai__gpt-oss-20b.json",
            engine="vllm",
            gpu="h200",
            gpus=8,
            seq_len=65536,
            batch=4,
            vllm=version,
        )
        return est.details.activation_peak_where

    assert "1,024 sequences x 201,088-token vocabulary x 4.25 B per logit (2 B of logits + 2.25 B" in where("0.31")
    at_033 = where("0.33")
    assert "1,024 sequences x 201,088-token vocabulary x 14 B per logit (2 B of logits + 12 B" in at_033
    assert "second warm-up pass from 0.33" in at_033
    # 0.19 (V1 sampler): 12.9 B per logit of fp32 copies and temporaries (VllmConstants) + the 2 B logits.
    assert "x 14.9 B per logit (2 B of logits + 12.9 B" in where("0.19")


# -- 10: the state pages of hybrid models ------------------------------------------------------
# Qwen3.5-27B: 48 Gated DeltaNet layers, each 48 value heads x 128 x 128 fp32 (mamba_ssm_dtype) and a
# conv window of kernel 4 - 1 = 3 columns of (2 x 16 x 128 + 48 x 128) bf16 channels: one page.
QWEN35_STATE_PAGE = 48 * 128 * 128 * 4 + (2 * 16 * 128 + 48 * 128) * 3 * 2  # 3,207,168 B


def test_hybrid_state_says_its_pages_and_what_prefix_off_keeps() -> None:
    est = _estimate(CAL / "qwen3_5_27b.json", engine="vllm", gpu="h100", seq_len=32768)
    (state,) = _terms(est, "state")
    # 0.33 under prefix caching's align mode: 2 pages, plus the GDN prefill checkpoint.
    assert (state.pages, state.checkpoint_pages, state.speculative_pages) == (3, 1, 0)
    assert state.bytes_per_sequence == 48 * 3 * QWEN35_STATE_PAGE  # 440.4 MiB
    how = _row(est, "KV cache")
    assert "440 MiB of recurrent state in 48 layers (3 pages each: 2 for prefix caching's align mode" in how
    assert "+ 1 prefill checkpoint; prefix=off keeps 1 page, 147 MiB)" in how  # 48 x 3,207,168 B = 146.8 MiB
    # 0.31: align mode's 2 pages, no checkpoint (GDN layers export none before 0.33): 2 x 146.8 = 294 MiB.
    at_031 = _row(
        _estimate(CAL / "qwen3_5_27b.json", engine="vllm", gpu="h100", seq_len=32768, vllm="0.31"), "KV cache"
    )
    assert "294 MiB of recurrent state in 48 layers (2 pages each: prefix caching's align mode; " in at_031
    off = _estimate(CAL / "qwen3_5_27b.json", engine="vllm", gpu="h100", seq_len=32768, prefix_caching=False)
    (state,) = _terms(off, "state")
    assert (state.pages, state.bytes_per_sequence) == (1, 48 * QWEN35_STATE_PAGE)
    assert "147 MiB of recurrent state in 48 layers (1 page each)" in _row(off, "KV cache")


def test_speculative_pages_are_counted_apart() -> None:
    # mtp=2 adds two pages per state layer, and the conv window two columns (3 + 2 = 5): a page of
    # 48 x 128 x 128 x 4 + 10,240 x 5 x 2 = 3,248,128 B. prefix=off then keeps 1 + 2 = 3 of the 5.
    page = 48 * 128 * 128 * 4 + (2 * 16 * 128 + 48 * 128) * 5 * 2
    est = _estimate(CAL / "qwen3_5_27b.json", engine="vllm", gpu="h100", seq_len=32768, mtp=2)
    (state,) = _terms(est, "state")
    assert (state.pages, state.checkpoint_pages, state.speculative_pages) == (5, 1, 2)
    assert state.bytes_per_sequence == 48 * 5 * page  # 743 MiB
    how = _row(est, "KV cache")
    assert "743 MiB of recurrent state in 48 layers (5 pages each: 2 for prefix caching's align mode + " in how
    assert "+ 1 prefill checkpoint + 2 for speculative tokens; prefix=off keeps 3 pages, 446 MiB)" in how


# -- 9: transformers' sliding layers ----------------------------------------------------------
def test_transformers_sliding_layers_are_told_apart() -> None:
    # gpt-oss-20b: 12 full and 12 sliding layers (window 128), 8 KV heads x 64 x (K + V) x 2 B = 2,048 B
    # per layer and token: 24 KiB per token in each kind. transformers' sliding layers keep 127 tokens.
    est = _estimate(CONFIGS / "openai__gpt-oss-20b.json", gpu="h100", seq_len=32768, batch=2)
    per_token = 12 * 8 * 64 * 2 * 2
    assert est.memory.kv_cache == (per_token * 32768 + per_token * 127) * 2  # 1.51 GiB, not 3 GiB
    (full,) = _terms(est, "attention")
    (sliding,) = _terms(est, "sliding")
    assert (full.layers, full.bytes_per_token, full.tokens) == (12, per_token, 32768)
    assert (sliding.layers, sliding.tokens, sliding.window, sliding.in_flight_batches) == (12, 127, 128, 0)
    how = _row(est, "KV cache")
    assert how == (
        "(24 KiB per token x 32,768 tokens + 24 KiB per token x 127 tokens in 12 sliding-window layers "
        "(the 128-token window less one)) x 2 sequences, bf16"
    )
    assert est.to_json()["details"]["kv_terms"][0]["part"] in ("attention", "sliding")


def test_transformers_sliding_layers_on_the_busiest_gpu() -> None:
    # gpus=3 places 8 of gpt-oss-20b's 24 alternating layers on each GPU: 4 full and 4 sliding, 4 x
    # 2,048 = 8 KiB per token each; the row is one GPU's (8,192 x 32,768 + 8,192 x 127) x 2 bytes.
    est = _estimate(CONFIGS / "openai__gpt-oss-20b.json", gpu="h100", gpus=3, seq_len=32768, batch=2)
    assert est.memory.kv_cache == (8192 * 32768 + 8192 * 127) * 2
    assert _row(est, "KV cache") == (
        "(8 KiB per token x 32,768 tokens + 8 KiB per token x 127 tokens in 4 sliding-window layers "
        "(the 128-token window less one)) x 2 sequences, bf16"
    )


def test_transformers_compressed_layers_are_told_apart() -> None:
    # DeepSeek-V4-Flash: 43 layers keep a 128-token window (127 tokens) of one 512-wide latent; 21
    # layers compress by 4 and 20 by 128, each into its own term; the parts add up to the row.
    est = _estimate(CAL / "deepseek_v4_flash.json", gpu="b200", seq_len=32768)
    (sliding,) = _terms(est, "sliding")
    assert (sliding.layers, sliding.tokens) == (43, 127)
    rates = sorted((t.compress_rate, t.layers) for t in _terms(est, "compressed"))
    assert rates == [(4, 21), (128, 20)]
    assert sum(t.bytes_per_sequence for t in est.details.kv_terms) == est.memory.kv_cache
    how = _row(est, "KV cache")
    assert "of compressed cache for 32,768 tokens in 21 layers (one entry per 4 tokens)" in how
    assert "of compressed cache for 32,768 tokens in 20 layers (one entry per 128 tokens)" in how


def test_transformers_models_without_windows_keep_the_per_token_line() -> None:
    est = _estimate(CONFIGS / "Qwen__Qwen3-8B.json", gpu="h100", seq_len=8192)
    assert est.details.kv_terms == ()
    assert _row(est, "KV cache") == "144 KiB per token x 8,192 tokens x 1 sequence, bf16"


# -- 8: DeepSeek-V4's caches with vLLM ----------------------------------------------------------
def _dsv4(mnbt: int | None = None, mtp: int | None = None) -> Estimate:
    return _estimate(
        CAL / "deepseek_v4_flash.json",
        engine="vllm",
        gpu="h200",
        gpus=8,
        seq_len=131072,
        max_num_batched_tokens=mnbt,
        mtp=mtp,
        vllm="0.33",  # the release whose arithmetic these tests write out (no granules term)
    )


def test_deepseek_v4_kv_row_is_told_by_cache_and_names_the_batches() -> None:
    # 0.33 on an H200: two in-flight batches of max_num_batched_tokens 8,192. The sliding windows (128
    # tokens, 43 layers) keep 128 - 1 + 2 x 8,192 = 16,511 tokens; the CSA compressors (coff 2 x ratio 4
    # = 8 tokens, 21 layers) 8 - 1 + 16,384 = 16,391; the HCA compressors (128 tokens, 20 layers) 16,511;
    # the compressed latent and indexer keys (41 layers) all 131,072.
    est = _dsv4()
    parts = {(t.part, t.window): t for t in est.details.kv_terms}
    assert set(parts) == {("compressed", 0), ("sliding", 128), ("compressor", 8), ("compressor", 128)}
    assert (parts[("sliding", 128)].layers, parts[("sliding", 128)].tokens) == (43, 16_511)
    assert (parts[("compressor", 8)].layers, parts[("compressor", 8)].tokens) == (21, 16_391)
    assert (parts[("compressor", 128)].layers, parts[("compressor", 128)].tokens) == (20, 16_511)
    assert (parts[("compressed", 0)].layers, parts[("compressed", 0)].tokens) == (41, 131_072)
    assert all(t.batch_tokens == 8192 and t.in_flight_batches == 2 for p, t in parts.items() if p[0] != "compressed")
    assert sum(t.bytes_per_sequence for t in est.details.kv_terms) == est.memory.kv_cache
    how = _row(est, "KV cache")
    assert "of sliding-window caches in 43 layers (16,511 tokens: 128-token window + 2 batches)" in how
    assert how.endswith(", fp8; a batch is max_num_batched_tokens, 8,192 here (mnbt= sets it)")
    # With MTP the proposer's layer keeps a sliding cache too, and the row says which the 44th is.
    mtp = _row(_dsv4(mtp=1), "KV cache")
    assert "of sliding-window caches in 44 layers, the MTP layer's among them (16,511 tokens" in mtp


def test_deepseek_v4_batches_shrink_with_mnbt() -> None:
    # From 0.29 each group's pages cost the widest group's page, so a windowed group's share is its
    # pages: cdiv(span, block) + 1. Sliding (64-token blocks): 16,511 -> 259 pages, at mnbt=2,048
    # 127 + 4,096 = 4,223 -> 67. CSA compressor (4-token blocks): 16,391 -> 4,099, 4,103 -> 1,027. HCA
    # compressor (8-token blocks): 16,511 -> 2,065, 4,223 -> 529. The compressed cache does not move.
    big, small = _dsv4(), _dsv4(2048)
    a = {(t.part, t.window): t.bytes_per_sequence for t in big.details.kv_terms}
    b = {(t.part, t.window): t.bytes_per_sequence for t in small.details.kv_terms}
    assert a[("compressed", 0)] == b[("compressed", 0)]
    assert a[("sliding", 128)] * 67 == b[("sliding", 128)] * 259
    assert a[("compressor", 8)] * 1_027 == b[("compressor", 8)] * 4_099
    assert a[("compressor", 128)] * 529 == b[("compressor", 128)] * 2_065
    assert "a batch is max_num_batched_tokens, 2,048 here" in _row(small, "KV cache")


def test_deepseek_v4_granules_under_0_34_are_one_segment() -> None:
    # 0.34's extensible cache commits DeepSeek-V4's block-outermost allocation as one segment: one
    # request's 6,810 blocks of 1,002,240 B and the null block round up to one 2 MiB granule once.
    est = _estimate(CAL / "deepseek_v4_flash.json", engine="vllm", gpu="h200", gpus=8, seq_len=32768)
    blocks = 6_810 + 1
    padding = -(-blocks * 1_002_240 // (2 << 20)) * (2 << 20) - blocks * 1_002_240
    assert [t.bytes_per_sequence for t in _terms(est, "granules")] == [padding]
    assert "for whole granules of the one block segment)" in _row(est, "KV cache")


# -- layouts over pipeline stages and replicas -------------------------------------------------------
def test_a_pipeline_or_replicas_answer_is_per_gpu_and_its_comparison_names_the_layout() -> None:
    # Qwen3-32B over 2 pipeline stages of one GPU each: 2 GPUs in all, so the totals are one GPU's
    # (the busiest stage's), as with gpus=2; a comparison's shared settings carry pp= and dp=.
    est = _estimate(CONFIGS / "Qwen__Qwen3-32B.json", engine="vllm", gpu="h100", seq_len=8192, pp=2)
    assert report.breakdown(est)[-1] == ("Total", est.memory.total, "per GPU")
    assert report.verdict(est).startswith(f"Total {est.memory.total / GIB:.1f} GiB per GPU: ")
    assert report.compare_title(est) == "s=8,192 · b=1 · vllm 0.34 · gpu=h100 · pp=2"
    both = _estimate(CONFIGS / "Qwen__Qwen3-32B.json", engine="vllm", gpu="h100", seq_len=8192, pp=2, dp=3)
    assert report.compare_title(both).endswith(" · gpu=h100 · pp=2 · dp=3")
    assert report.world(both.query) == 6


def test_the_max_line_names_the_group_that_holds_it() -> None:
    # A tensor- or pipeline-parallel group holds the longest s and the largest b together; one GPU of
    # it does not, so the line names the group's GPUs (gpus x pp), and one GPU alone "this GPU".
    llama = CONFIGS / "meta-llama__Llama-3.1-8B.json"
    one = report.max_line(_estimate(llama, engine="vllm", gpu="h100"))
    tp = report.max_line(_estimate(llama, engine="vllm", gpu="h100", gpus=2))
    tp_pp = report.max_line(_estimate(llama, engine="vllm", gpu="h100", gpus=2, pp=2))
    assert one is not None and one.startswith("Max on this GPU: ")
    assert tp is not None and tp.startswith("Max on these 2 GPUs: ")
    assert tp_pp is not None and tp_pp.startswith("Max on these 4 GPUs: ")


def test_no_room_at_all_names_the_group_and_util_share() -> None:
    # Llama-3.1-8B's 15 GiB of bf16 weights fit an H100 but not util=0.05 of it (about 4 GiB).
    llama = CONFIGS / "meta-llama__Llama-3.1-8B.json"
    low = report.max_line(_estimate(llama, engine="vllm", gpu="h100", util=0.05, vllm="0.33"))
    assert low == "Max on this GPU: not one token at b=1 (the weights alone do not fit in util=0.05 of the GPU)"
    group = report.max_line(_estimate(llama, engine="vllm", gpu="h100", util=0.05, vllm="0.33", gpus=2))
    assert group is not None and group.startswith("Max on these 2 GPUs: not one token")


# -- trial 2, 11: the CUDA context beside util's share --------------------------------------------
def test_the_hold_line_adds_the_cuda_context_outside_util() -> None:
    # TP 8: each rank's CUDA context is 522 MiB + the TP extra 1,065 MiB = 1,587 MiB = 1.55 GiB, outside
    # util's share of the device (0.92 x its total in 0.33): the line shows both.
    est = _estimate(
        CAL / "deepseek_v4_flash.json", engine="vllm", gpu="h200", gpus=8, seq_len=131072, kv="fp8", vllm="0.33"
    )
    line = report.engine_line(est)
    assert line is not None
    device = est.fit.gpu_memory
    assert (
        f"will hold {0.92 * device / GIB:.1f} GiB of {device / GIB:.1f} GiB per GPU (util=0.92 x the device) " in line
    )
    assert "(util=0.92 x the device) + 1.55 GiB CUDA context; the KV pool" in line
    # 0.19 captures its graphs after the pool, on top of it: the line adds them too.
    old = _estimate(CONFIGS / "Qwen__Qwen3-8B.json", engine="vllm", vllm="0.19", gpu="h100", seq_len=32768)
    line = report.engine_line(old)
    graphs = old.engine_report.cuda_graphs
    assert not old.engine_report.cuda_graphs_in_budget and graphs > 0
    assert f"(util=0.9 x the device) + 0.51 GiB CUDA context + {graphs / GIB:.2f} GiB CUDA graphs; " in line


# -- trial 2, 14: a refusal the verdict states is not listed again ----------------------------------
def test_s_past_the_positions_is_said_once() -> None:
    # qwen3_5_moe's config allows 32,768 positions (no RoPE scaling): 131,072 is past them.
    est = _estimate(CAL / "qwen3_5_moe.json", engine="vllm", gpu="h100", seq_len=131072)
    said = "max_model_len 131,072 is past the 32,768 positions"
    assert said in report.verdict(est)
    assert not [w for w in report.listed_warnings(est) if said in w.message]
    # --json keeps every warning, the engine's code included.
    assert "context_window_exceeded" in {w.code for w in est.warnings}


# -- trial 2, 16: the longest s at the range's top ------------------------------------------------
def test_the_max_line_says_when_s_is_vrams_own_limit() -> None:
    # DeepSeek-V4-Flash keeps windows and compressed caches: at TP 8 on H200s one request of 16m =
    # 16,777,216 tokens (the s= range's top) still fits, so the search stops there (0.33).
    est = _estimate(
        CAL / "deepseek_v4_flash.json", engine="vllm", gpu="h200", gpus=8, seq_len=131072, kv="fp8", vllm="0.33"
    )
    assert est.fit.max_seq_len == 16 * 1024 * 1024 and est.fit.max_seq_len_at_limit
    assert "16M tokens or more (vram's limit) at b=1" in report.max_line(est)
    # Where memory is the bound, no such words: Qwen3-8B's KV grows with every token.
    small = _estimate(CONFIGS / "Qwen__Qwen3-8B.json", engine="vllm", gpu="h100", seq_len=32768)
    assert not small.fit.max_seq_len_at_limit and "vram's limit" not in report.max_line(small)


# -- trial 3, 9: one concurrency figure in the prose ------------------------------------------------
def _prose_concurrencies(est: Estimate) -> set[str]:
    """The two-decimal request counts the answer's own words give (vLLM's log lines quoted aside)."""
    text = " ".join(filter(None, (report.verdict(est), report.max_line(est), report.engine_line(est))))
    prose = re.sub(r'"[^"]*"', '""', text)
    return set(re.findall(r"(?<![=\d.])(\d+\.\d\d)(?: requests| of the |x| x )", prose))


def test_the_prose_gives_one_concurrency_and_no_product_that_does_not_multiply_out() -> None:
    # Qwen3.5-27B with MTP on one H100: the pool holds max_resident requests (one block, the null
    # block, is no request's), vLLM's log prints its own concurrency over all blocks ("2.94x") and a
    # token figure int(concurrency x max_model_len) (v1/core/kv_cache_utils.py@v0.33.0
    # get_kv_cache_capacity). The prose says the resident figure only; the log's numbers stay in quotes.
    mtp = query_with(Query(engine="vllm", gpu="h100", seq_len=65536, batch=8), parse_settings(["mtp=2"]))
    est = estimate(load_model_spec(json.loads((CAL / "qwen3_5_27b.json").read_text())), mtp, model_id="m")
    v = est.engine_report
    assert isinstance(v, VllmReport)
    assert _prose_concurrencies(est) == {f"{v.max_resident:.2f}"}
    # Qwen3-32B on 2 L40S at 0.31: 2.20 x 32,768 is 72,090, not the 72,384 tokens the log prints; the
    # answer shows no such product.
    est = _estimate(CONFIGS / "Qwen__Qwen3-32B.json", engine="vllm", gpu="l40s", gpus=2, seq_len=32768, vllm="0.31")
    v = est.engine_report
    assert isinstance(v, VllmReport)
    line = report.engine_line(est) or ""
    assert f'"GPU KV cache size: {v.kv_cache_tokens:,} tokens"' in line
    assert re.search(r"\d+\.\d\d x [\d,]+", line) is None
    assert _prose_concurrencies(est) == {f"{v.max_resident:.2f}"}


# -- trial 3, 10: the header names speculative decoding ------------------------------------------------
def test_the_header_names_mtp_and_the_drafter() -> None:
    qwen = load_model_spec(json.loads((CAL / "qwen3_5_27b.json").read_text()))
    base = Query(engine="vllm", gpu="h100", seq_len=65536)
    est = estimate(qwen, query_with(base, parse_settings(["mtp=2"])), model_id="m")
    assert " · MTP (2 speculative tokens) · " in report.header(est)
    assert "MTP" not in report.header(estimate(qwen, base, model_id="m"))
    # A draft model: its name and its tokens (the header is what people paste into a ticket).
    dflash = json.loads((CAL / "qwen3_6_27b_dflash.json").read_text())
    shipped = ("layers.0.self_attn.q_proj.weight", "fc.weight", "hidden_norm.weight", "norm.weight")
    drafter = read_drafter("z-lab/Qwen3.6-27B-DFlash", dflash, load_model_spec(dflash), shipped)
    with_draft = qwen.model_copy(update={"drafter": drafter})
    query = base.model_copy(update={"vllm": "0.20", "draft": "z-lab/Qwen3.6-27B-DFlash", "spec": 5})
    header = report.header(estimate(with_draft, query, model_id="m"))
    assert " · dflash drafter z-lab/Qwen3.6-27B-DFlash (5 speculative tokens) · " in header


# -- trial 3, 10: one rule for binary units -------------------------------------------------------------
def test_per_token_sizes_follow_the_one_rule_for_binary_units() -> None:
    # Llama-3.1-8B with kv=fp8: 32 layers x 8 KV heads x 128 x (K + V) x 1 byte = 65,536 B = 64 KiB;
    # the comparison's cell and the KV row say it the same way, without a ".0".
    est = _estimate(CONFIGS / "meta-llama__Llama-3.1-8B.json", seq_len=8192, kv="fp8")
    assert report.kv_per_token_text(est) == "64 KiB"
    assert "64 KiB per token" in _row(est, "KV cache")
    # Three significant digits, as every size: 7.86 KiB (DeepSeek's indexer, (128 + 4) x 61 bytes).
    assert report.per_token(132 * 61) == report.size(132 * 61) == "7.86 KiB"
    assert report.per_token(3 * 1024 * 1024 // 2) == "1.5 MiB"


def test_a_yes_that_a_first_start_misses_says_it_is_a_warm_starts() -> None:
    # gpt-oss-120b at 128k on one H100 (0.34): the pool holds 1.01 requests on a warm start; the
    # first start's compile peak (cold_compile note) leaves less than one.
    from bot.ask import headline
    from bot.question import read_question

    question = read_question("can openai/gpt-oss-120b run on an H100 with vllm at 128k tokens")
    est = _estimate(CAL / "gpt_oss_120b.json", engine="vllm", gpu="h100", seq_len=131072)
    assert any(w.code == "cold_compile" for w in est.warnings) and est.fit is not None and est.fit.fits
    said = headline(est, question)
    assert said.startswith("yes: fits one NVIDIA H100 80GB HBM3 (SXM5) once its compile cache is warm (vLLM reserves ")
    assert said.count("compile cache is warm") == 1
    assert "GiB; see the first-start note): " in said
    (cold,) = [w.message for w in est.warnings if w.code == "cold_compile"]
    assert " of the 1 request. " in cold
    # The key=value verdict says it the same way.
    assert "fits one NVIDIA H100 80GB HBM3 (SXM5) once its compile cache is warm" in report.verdict(est)
    # Without the note, a plain yes.
    plain = _estimate(CAL / "gpt_oss_120b.json", engine="vllm", gpu="h200", seq_len=131072)
    assert not any(w.code == "cold_compile" for w in plain.warnings)
    assert headline(plain, question).startswith("yes: ")
    assert "compile cache" not in report.verdict(plain)


def test_a_util_refusal_is_not_blamed_on_max_model_len() -> None:
    # util=1 on 0.33: more than is free beside the CUDA context at start (request_memory): no
    # max_model_len note, and the max line says util is what stops it.
    est = _estimate(CONFIGS / "Qwen__Qwen3-8B.json", engine="vllm", gpu="h100", vllm="0.33", util=1.0)
    assert not any(w.code == "max_model_len_refused" for w in est.warnings)
    assert report.max_line(est) == "Max on this GPU: none at util=1, which vLLM will not start with"


def test_one_token_requests_read_in_the_singular_and_counts_group_thousands() -> None:
    # Qwen3-8B at s=1 on an H100: every 16-token block holds a request, so the pool holds thousands.
    est = _estimate(CONFIGS / "Qwen__Qwen3-8B.json", engine="vllm", gpu="h100", seq_len=1)
    assert isinstance(est.engine_report, VllmReport)
    held = est.engine_report.max_resident
    assert held >= 1_000
    text = " ".join(filter(None, (report.verdict(est), report.engine_line(est))))
    assert f"{held:,.2f} requests of 1 token" in text
    assert "1 tokens" not in text


def test_a_refused_tp_size_says_when_fewer_gpus_are_enough() -> None:
    # Qwen3-8B's 8 KV heads do not divide over 3 GPUs; the refusal names 2 and 4, and one H100 holds
    # the request, which the verdict adds. Qwen2.5-32B on 24 GB L4s (61 GiB of weights) needs at least
    # as many GPUs as asked: no clause there.
    est = _estimate(CONFIGS / "Qwen__Qwen3-8B.json", engine="vllm", gpu="h100", gpus=3, seq_len=8192)
    assert est.fit is not None and est.fit.engine_refuses and est.fit.min_gpus == 1
    assert report.verdict(est).endswith("it accepts gpus=2 or gpus=4; gpus=1 is enough")
    big = _estimate(CONFIGS / "Qwen__Qwen2.5-32B.json", engine="vllm", gpu="l4", gpus=3, seq_len=8192)
    assert big.fit is not None and big.fit.engine_refuses and big.fit.min_gpus * big.fit.min_gpus_dp >= 3
    assert "is enough" not in report.verdict(big)


def test_a_pool_smaller_than_one_requests_state_says_so_in_the_max_line() -> None:
    # Qwen3.5-27B on two RTX 5090s (0.34, 1k tokens): each GPU's pool is smaller than the recurrent
    # state one request holds (48 GDN layers x 3 pages, whatever its length), so not one token fits,
    # and the Max line says why.
    est = _estimate(CAL / "qwen3_5_27b.json", engine="vllm", gpu="rtx-5090", gpus=2, seq_len=1024, vllm="0.34")
    v = est.engine_report
    assert isinstance(v, VllmReport) and v.kv_cache_memory > 0
    (state,) = [t for t in est.details.kv_terms if t.part == "state"]
    assert v.kv_cache_memory < state.bytes_per_sequence
    line = report.max_line(est)
    assert line is not None and line.startswith("Max on these 2 GPUs: not one token at b=1")
    assert line.endswith(
        f"(one request's recurrent state alone, {report.size(state.bytes_per_sequence)}, is more than the pool)"
    )


def test_what_if_lines_add_up_and_put_the_fit_before_the_requests_held() -> None:
    # The change is that of the shown totals; equal shown totals say "under 0.1 GiB"; past 10,000 GiB
    # the bytes' change in the larger unit.
    # 34.14 and 40.16 GiB show as 34.1 and 40.2: +6.1, where the bytes differ by 6.02 GiB.
    assert report.shown_change(int(34.14 * GIB), int(40.16 * GIB)) == "+6.1 GiB"
    assert report.signed_gib(int(40.16 * GIB) - int(34.14 * GIB)) == "+6.0 GiB"
    assert report.shown_change(int(77.74 * GIB), int(77.71 * GIB)) == "under 0.1 GiB less"
    assert report.shown_change(int(9_999.97 * GIB), 9_000 * GIB).startswith("-")
    # Qwen3.5-27B at 32k, b=8 on an H100 (0.33): util=0.98 makes it fit with the same total; the line
    # says so, then what vLLM's pool holds before and after.
    base = _estimate(CAL / "qwen3_5_27b.json", engine="vllm", gpu="h100", seq_len=32_768, batch=8, vllm="0.33")
    new = _estimate(
        CAL / "qwen3_5_27b.json", engine="vllm", gpu="h100", seq_len=32_768, batch=8, vllm="0.33", util=0.98
    )
    assert base.fit is not None and new.fit is not None and not base.fit.fits and new.fit.fits
    assert base.memory.total == new.memory.total
    a, b = base.engine_report, new.engine_report
    assert isinstance(a, VllmReport) and isinstance(b, VllmReport)
    line = report.what_if_line(1, ["util"], base, new)
    # The unset util was vLLM's default, and the line says which: "(was 0.92, the default)".
    assert line.startswith("what-if of #1: util=0.98 (was 0.92, the default): total ")
    assert line.endswith(
        f"as before, but it now fits; vLLM's pool holds {a.max_resident:,.2f} → {b.max_resident:,.2f} requests"
    )
    # With replicas on either side, the requests in all.
    two = _estimate(CAL / "qwen3_5_27b.json", engine="vllm", gpu="h100", seq_len=32_768, batch=8, vllm="0.33", dp=2)
    c = two.engine_report
    assert isinstance(c, VllmReport) and c.data_parallel_size == 2
    held = report.held_change(base, two)
    assert held == f"; vLLM's replicas hold {a.max_resident:,.2f} → {2 * c.max_resident:,.2f} requests in all"


def test_is_enough_is_not_said_of_a_size_the_refusal_already_names() -> None:
    # Qwen3-30B-A3B on 40 GB A100s: gpus=3 is refused and gpus=2 (named among the accepted sizes) is
    # the fewest that holds it, so nothing is added.
    est = _estimate(CONFIGS / "Qwen__Qwen3-30B-A3B.json", engine="vllm", gpu="a100-40gb", gpus=3)
    assert est.fit is not None and est.fit.engine_refuses and (est.fit.min_gpus, est.fit.min_gpus_dp) == (2, 1)
    verdict = report.verdict(est)
    assert verdict.endswith("it accepts gpus=2 or gpus=4") and "is enough" not in verdict


def test_parameter_counts_round_into_billions() -> None:
    # gemma-3-1b-it's 999,885,952 parameters read 1.00B, never "1000M".
    assert report.params(999_885_952) == "1.00B"
    assert report.params(999_499_999) == "999M"
    assert report.params(14_659_507_200) == "14.66B"
    assert report.params(1_026_408_232_448) == "1,026.41B"  # Kimi-K2


def test_sizes_never_print_an_exponent() -> None:
    # 999.5 MiB and up round to 1,000 of the unit, written whole with its thousands grouped.
    assert report.size(1_048_051_712) == "1,000 MiB"  # 999.5 MiB
    assert report.size(1_073_312_327_270) == "1,000 GiB"
    assert report.size(999 * 1024**3) == "999 GiB"
    assert report.size(1_672 * 1024**5) == "1,672 PiB"


def test_the_header_names_the_serve_settings_that_change_the_numbers() -> None:
    est = _estimate(
        CAL / "qwen3_5_27b.json",
        engine="vllm",
        gpu="h100",
        seq_len=65536,
        enforce_eager=True,
        prefix_caching=False,
        mm_limit=0,
    )
    head = report.header(est)
    assert "eager (no CUDA graphs)" in head and "prefix caching off" in head and "text only (mm=0)" in head, head
    # Settings a warning says change nothing here stay out of it.
    plain = _estimate(CONFIGS / "Qwen__Qwen3-8B.json", engine="vllm", gpu="h100", mm_limit=2, prefix_caching=True)
    assert any(w.code == "setting_ignored" for w in plain.warnings)
    head = report.header(plain)
    assert "mm=" not in head and "prefix caching" not in head, head


def test_a_change_of_gpus_says_which_total_is_per_gpu() -> None:
    # Qwen3-8B at 32k on one H100, then two: the second total is each GPU's share, and says so.
    base = _estimate(CONFIGS / "Qwen__Qwen3-8B.json", gpu="h100", seq_len=32768)
    two = _estimate(CONFIGS / "Qwen__Qwen3-8B.json", gpu="h100", seq_len=32768, gpus=2)
    line = report.what_if_line(1, ["gpus"], base, two)
    # One GPU's share against the whole model on one: no difference taken between them.
    assert f"total {report.gib(base.memory.total)} → {report.gib(two.memory.total)} per GPU" in line, line
    assert "GiB per GPU (" not in line, line
    both = report.totals_change(two, two.model_copy(update={"memory": base.memory}))
    assert both.count("per GPU") == 1 and both.endswith(")")  # both per GPU: said once, after the second
    assert "per GPU" not in report.totals_change(base, base)


def test_replica_verdicts_use_one_parenthesis_and_say_at_most() -> None:
    # b=1 over 4 replicas: one replica gets it (ceil(1 / 4) = 1 is the most any gets).
    est = _estimate(CONFIGS / "Qwen__Qwen3-8B.json", engine="vllm", gpu="h100", dp=4)
    line = report.verdict(est)
    assert "(4 replicas of tp=1; vLLM reserves " in line and "tp=1) (vLLM" not in line, line
    assert line.endswith("(b=1 asked: 1 a replica at most)"), line
    even = report.verdict(_estimate(CONFIGS / "Qwen__Qwen3-8B.json", engine="vllm", gpu="h100", dp=4, batch=8))
    assert even.endswith("(b=8 asked: 2 a replica)"), even


def test_no_request_at_s_reads_not_even_one() -> None:
    est = _estimate(CONFIGS / "Qwen__Qwen3-8B.json", gpu="l4", seq_len=131072)
    line = report.max_line(est) or ""
    assert line.endswith("or not even b=1 at s=131,072"), line


def test_a_memory_only_context_says_vllm_will_not_start_there() -> None:
    # Qwen3.5-27B on 2 H100s (0.34): memory holds far past its 262,144 positions, where vLLM refuses
    # the max_model_len as configured; the figure is memory's, not an s= to type back.
    est = _estimate(CAL / "qwen3_5_27b.json", engine="vllm", gpu="h100", gpus=2, seq_len=32_768)
    assert est.fit is not None and est.fit.max_seq_len is not None and est.fit.max_seq_len > 262_144
    line = report.max_line(est)
    assert line is not None
    assert "(memory only: the model's context window is 262,144, which vLLM will not start past as configured)" in line
    # transformers has no such start check: the window alone (Qwen3-8B on an H200: 485k of memory).
    hf = _estimate(CONFIGS / "Qwen__Qwen3-8B.json", gpu="h200", seq_len=32_768)
    assert hf.fit is not None and hf.fit.max_seq_len is not None and hf.fit.max_seq_len > 40_960
    assert "(memory only: the model's context window is 40,960)," in (report.max_line(hf) or "")


def test_kv_off_under_vllm_says_the_pool_is_allocated_all_the_same() -> None:
    # transformers with kv=off keeps no cache (each step recomputes attention); vLLM allocates its pool
    # whatever kv= says, so its row only leaves it out of the total.
    qwen = CONFIGS / "Qwen__Qwen3-8B.json"
    off = _estimate(qwen, model="m", seq_len=32768, batch=4, gpu="l40s", engine="vllm", kv="off")
    assert _row(off, "KV cache") == "left out (kv=off); the engine allocates its KV cache all the same"
    plain = _estimate(qwen, model="m", seq_len=32768, batch=4, gpu="l40s", kv="off")
    assert _row(plain, "KV cache") == "off (kv=off): every step recomputes attention"


def test_a_kvmem_setting_reads_back_as_typed_in_every_line() -> None:
    # kvmem=20GB is 20 x 10^9 bytes (18.63 GiB): the what-if and header say 20g, as vLLM's
    # --kv-cache-memory-bytes writes it, never the 11-digit byte count.
    q = Query(model="m", engine="vllm", kv_cache_memory=20 * 10**9)
    assert report.setting_value("kvmem", q) == "20g"
    assert report.setting_value("kvmem", q.model_copy(update={"kv_cache_memory": 10 * GIB})) == "10.00GiB"
    assert report.setting_value("kvmem", q.model_copy(update={"kv_cache_memory": 12_345_678_901})) == "12345678901"
    assert parse_settings(["kvmem=20g"])["kvmem"] == 20 * 10**9


def test_a_margin_under_a_tenth_of_a_gib_is_said_in_mib() -> None:
    # "fits one NVIDIA L4 24GB with 0.0 GiB to spare": a positive margin never reads as none.
    assert report.margin(28 * 2**20) == "28.0 MiB"
    assert report.margin(2**20 // 4) == "0.2 MiB"
    assert report.margin(1_000) == "under 0.1 MiB"
    assert report.margin(GIB // 5) == "0.2 GiB"  # from 0.1 GiB on as before
    assert report.margin(0) == "0.0 GiB"
    # Qwen3-8B at s=32k with an fp8 KV cache fills an L4 to within a few dozen MiB.
    est = _estimate(CONFIGS / "Qwen__Qwen3-8B.json", gpu="l4", seq_len=32_768, kv="fp8")
    assert est.fit is not None and est.fit.fits and 0 < est.fit.headroom < GIB // 20
    line = report.verdict(est)
    assert re.search(r"with \d+\.\d MiB to spare$", line) and "0.0 GiB" not in line, line


def test_exactly_one_request_held_reads_in_the_singular() -> None:
    # "holds 1.00 requests of 32,768 tokens" in the comparison card: one request is one.
    from estimator.units import request_noun

    assert [request_noun(n) for n in ("1.00", "1", "0.99", "1.01", "2.00")] == [
        "request",
        "request",
        "requests",
        "requests",
        "requests",
    ]
    from bot.blocks import _compare_field

    # A 4.51 GiB pool of 144 KiB-per-token (bf16) blocks holds one 32,768-token request (4.5 GiB) and
    # the null block, with less than a second request's room left over.
    est = _estimate(
        CONFIGS / "Qwen__Qwen3-8B.json", engine="vllm", gpu="l4", seq_len=32_768, kv_cache_memory=int(4.51 * GIB)
    )
    assert isinstance(est.engine_report, VllmReport) and f"{est.engine_report.max_resident:.2f}" == "1.00"
    assert "1.00 request of 32,768 tokens" in json.dumps(_compare_field(est, "q"))


def test_counts_of_requests_read_back_as_numbers_and_tokens_in_units() -> None:
    # b=2048 is 2,048 requests: said as typed, where "b=2k" read as a context; s and mnbt count tokens (64k).
    q = Query(model="m", engine="vllm", batch=2048, max_num_seqs=1024, seq_len=65536, max_num_batched_tokens=4096)
    assert [report.setting_value(k, q) for k in ("b", "seqs", "s", "mnbt")] == ["2048", "1024", "64k", "4k"]


def test_compare_offers_the_kvmem_the_verdict_offers_when_the_pool_overflows() -> None:
    # kvmem=20GiB on an L4 beside Qwen3-8B's 17.47 GiB of the rest: the verdict offers at most
    # kvmem=4.52GiB, and compare's cell says the same (it said gpus=2).
    from estimator.engines import get_engine

    est = _estimate(
        CONFIGS / "Qwen__Qwen3-8B.json", model="m", engine="vllm", gpu="l4", seq_len=32768, kv_cache_memory=20 * GIB
    )
    ways = get_engine("vllm").fit_fixes(est)
    assert ways is not None and [w.settings for w in ways] == ["kvmem=4.52GiB"]
    assert report.verdict(est).endswith("it has room for at most kvmem=4.52GiB")
    assert report.fit_fixes(est) == "kvmem=4.52GiB"
