"""Edge cases of an estimate: uneven tensor parallelism, malformed config fields, engine settings that
do not apply, dtype choices. Each test failed before its fix. Numbers worked out from the configs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.commands import parse
from common.errors import ConfigError, InputError
from estimator.config import load_model_spec
from estimator.engines import setting_owner
from estimator.engines.vllm import VllmReport
from estimator.estimate import estimate
from estimator.grammar import KEYS
from estimator.kv import kv_bytes_per_token, kv_cache_bytes
from estimator.notes import article
from estimator.query import Query
from estimator.weights import weight_bytes
from tests.helpers import messages

CONFIGS = Path(__file__).resolve().parents[1] / "fixtures" / "configs"


def spec(name: str):
    return load_model_spec(json.loads((CONFIGS / f"{name}.json").read_text()))


# -- gpus that do not divide the KV heads -------------------------------------------------------
def test_kv_heads_round_up_when_gpus_do_not_divide_them():
    # Qwen3-0.6B: 28 layers, 8 KV heads of 128. On 3 GPUs the busiest holds ceil(8/3) = 3 heads:
    # 28 x 3 x 128 x 2 (K, V) x 2 bytes = 43,008 bytes per token (floor gave 2 heads: 28,672).
    s = spec("Qwen__Qwen3-0.6B")
    assert kv_bytes_per_token(s, "bf16", gpus=3) == 28 * 3 * 128 * 2 * 2
    assert kv_cache_bytes(s, seq_len=1000, batch=2, kv_dtype="bf16", gpus=3) == 28 * 3 * 128 * 2 * 2 * 1000 * 2
    # 64 GPUs > 8 heads: each holds one (replicated), 28 x 1 x 128 x 2 x 2.
    assert kv_bytes_per_token(s, "bf16", gpus=64) == 28 * 1 * 128 * 2 * 2


def test_weight_shares_cover_the_whole_model_on_any_gpu_count():
    # Every GPU holds at least its share: n GPUs together hold no less than the whole model.
    for name in ("Qwen__Qwen3-0.6B", "meta-llama__Llama-3.1-8B", "microsoft__phi-4"):
        s = spec(name)
        whole = weight_bytes(s, weight_format="bf16")
        for gpus in (3, 5, 6, 7):
            assert weight_bytes(s, weight_format="bf16", gpus=gpus) * gpus >= whole, (name, gpus)


def test_vllm_warns_when_gpus_do_not_divide_the_heads():
    # Qwen3-0.6B has 16 attention heads: vLLM refuses tensor_parallel_size=3 (16 % 3 != 0) and 64.
    s = spec("Qwen__Qwen3-0.6B")
    # The nearest sizes it accepts: 3 -> 2 (below) or 4 (above); 64 -> 16 (nothing above divides 16 heads).
    for gpus, nearest in ((3, "gpus=2 or gpus=4"), (64, "gpus=16")):
        est = estimate(s, Query(gpus=gpus, engine="vllm"), model_id="q")
        assert any(
            f"vLLM will not start with gpus={gpus}" in w and w.endswith(f"it accepts {nearest}.") for w in messages(est)
        ), est.warnings
    # 2, 4, 8 divide 16 heads and 8 KV heads: no such warning; transformers splits layers, never warns.
    for gpus in (2, 4, 8):
        est = estimate(s, Query(gpus=gpus, engine="vllm"), model_id="q")
        assert not any("will not start" in w for w in messages(est))
    est = estimate(s, Query(gpus=3), model_id="q")
    assert not any("will not start" in w for w in messages(est))


# -- grammar wording ----------------------------------------------------------------------------
def test_fractional_counts_are_not_called_tokens():
    # b, gpus and seqs count sequences and GPUs: "b=2.5 is not a whole number of tokens" misled.
    for text, key in (("m/x b=2.5", "b"), ("m/x gpus=1.5", "gpus"), ("m/x seqs=1.5", "seqs")):
        with pytest.raises(InputError) as err:
            parse(text)
        assert str(err.value).startswith(f"{key}=") and "whole number" in str(err.value)
        assert "tokens" not in str(err.value), str(err.value)


# -- config validation --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "field, value",
    [
        ("mamba_expand", -33),
        ("mamba_expand", 1.5),
        ("mamba_d_state", -1),
        ("mamba_d_conv", 0),
        ("mamba_dt_rank", -4),
        ("attn_layer_period", 0),
        ("attn_layer_offset", -1),
    ],
)
def test_jamba_sizes_must_be_whole_and_positive(field: str, value: float) -> None:
    # mamba_expand=-33 gave a spec with a negative parameter total (found by test_config's fuzzing).
    cfg = json.loads((CONFIGS / "ai21labs__AI21-Jamba-1.5-Mini.json").read_text())
    with pytest.raises(ConfigError, match=field):
        load_model_spec({**cfg, field: value})


@pytest.mark.parametrize(
    "fixture, field",
    [
        ("Qwen__Qwen1.5-MoE-A2.7B", "shared_expert_intermediate_size"),
        ("Qwen__Qwen1.5-MoE-A2.7B", "decoder_sparse_step"),
        ("deepseek-ai__DeepSeek-V3", "n_shared_experts"),
        ("deepseek-ai__DeepSeek-V3", "first_k_dense_replace"),
        ("deepseek-ai__DeepSeek-V3", "moe_layer_freq"),
        ("meta-llama__Llama-4-Scout-17B-16E-Instruct", "interleave_moe_layer_step"),
        ("google__gemma-3-1b-it", "sliding_window_pattern"),
        ("ai21labs__AI21-Jamba-1.5-Mini", "expert_layer_period"),
    ],
)
@pytest.mark.parametrize("value", [-3, 2.5])
def test_optional_layer_counts_must_be_whole_and_not_negative(fixture: str, field: str, value: float) -> None:
    # n_shared_experts=-3 gave DeepSeek-V3 negative shared-expert parameters; 2.5 was truncated silently.
    cfg = json.loads((CONFIGS / f"{fixture}.json").read_text())
    target = cfg["text_config"] if field in cfg.get("text_config", {}) else cfg
    target[field] = value
    with pytest.raises(ConfigError, match=field):
        load_model_spec(cfg)


# -- vLLM's sequence limit ----------------------------------------------------------------------
def test_vllm_warns_when_b_exceeds_max_num_seqs():
    s = spec("microsoft__phi-4")
    est = estimate(s, Query(engine="vllm", gpu="h100", batch=4, max_num_seqs=1), model_id="p")
    # One runs, 4 - 1 = 3 wait.
    assert "vLLM runs 1 of b=4 at once (seqs=1); 3 wait; raise seqs= to run them together." in messages(est)
    # No seqs=: vLLM's default on a GPU under 70 GiB (an L4) is 256 sequences.
    est = estimate(s, Query(engine="vllm", gpu="l4", batch=300, seq_len=1024), model_id="p")
    assert any("runs 256 of b=300 at once (its default max_num_seqs); 44 wait" in w for w in messages(est))
    for q in (Query(engine="vllm", gpu="l4", batch=256), Query(batch=300)):
        assert not any(" at once " in w for w in messages(estimate(s, q, model_id="p")))


def test_with_replicas_the_queue_is_each_replicas_share_past_seqs():
    # dp=2: each replica schedules its own share. b=40 gives 20 each; 8 run (seqs=8), 20 - 8 = 12 wait.
    s = spec("microsoft__phi-4")
    q = Query(engine="vllm", gpu="h100", seq_len=4096, batch=40, dp=2, max_num_seqs=8)
    assert (
        "Each replica gets 20 of b=40 and runs 8 at once (seqs=8); 12 wait; raise seqs= to run them together."
        in messages(estimate(s, q, model_id="p"))
    )
    # b=41 does not divide: the busier replica gets ceil(41 / 2) = 21, and 21 - 8 = 13 of those wait.
    q = q.model_copy(update={"batch": 41})
    assert any(
        w.startswith("Each replica gets up to 21 of b=41 and runs 8 at once (seqs=8); 13 wait")
        for w in messages(estimate(s, q, model_id="p"))
    )


# -- dtype=fp32 runs the model, and its cache, in fp32 ---------------------------------------------
@pytest.mark.parametrize("engine", ["transformers", "vllm"])
def test_float_dtype_sets_the_kv_cache_dtype(engine: str):
    # Llama-3.1-8B: 32 layers x 8 KV heads x 128 x 2 (K, V) per token. dtype=fp32 loads the model
    # in float32 (torch_dtype / --dtype), so kv=on caches 4-byte elements: x 4 bytes x 8,192 tokens.
    # vllm=0.33: whole blocks of exactly these bytes (0.34's extensible cache adds granule rounding).
    s = spec("meta-llama__Llama-3.1-8B")
    release = "0.33" if engine == "vllm" else None
    est = estimate(s, Query(weight_format="fp32", seq_len=8192, engine=engine, vllm=release), model_id="l")
    assert est.details.kv_dtype == "fp32"
    assert est.memory.kv_cache == 32 * 8 * 128 * 2 * 4 * 8192
    # A quantized format keeps the checkpoint's bf16 compute: 2 bytes.
    est = estimate(s, Query(weight_format="int4", seq_len=8192, engine=engine, vllm=release), model_id="l")
    assert est.details.kv_dtype == "bf16" and est.memory.kv_cache == 32 * 8 * 128 * 2 * 2 * 8192
    # An explicit kv= wins over the model dtype.
    est = estimate(s, Query(weight_format="fp32", kv="fp8", seq_len=8192, engine=engine, vllm=release), model_id="l")
    assert est.memory.kv_cache == 32 * 8 * 128 * 2 * 1 * 8192


def test_fp32_activations_exceed_bf16_in_transformers():
    # The prefill transients are the model dtype's elements (plus fixed fp32 norm copies), so an
    # fp32 run holds more than a bf16 one, never the same.
    s = spec("meta-llama__Llama-3.1-8B")
    bf16 = estimate(s, Query(weight_format="bf16", seq_len=8192), model_id="l").memory.activations
    fp32 = estimate(s, Query(weight_format="fp32", seq_len=8192), model_id="l").memory.activations
    assert fp32 > 1.5 * bf16


def test_transformers_says_kv_fp8_is_not_its_default_cache():
    s = spec("meta-llama__Llama-3.1-8B")
    for kv in ("fp8", "int8"):
        est = estimate(s, Query(kv=kv), model_id="l")
        assert any(f"kv={kv} counts 1 byte per element" in w for w in messages(est)), est.warnings
    for q in (Query(kv="bf16"), Query(kv="fp8", engine="vllm")):
        assert not any("1 byte per element" in w for w in messages(estimate(s, q, model_id="l")))


# -- engine=vllm: the verdict and vLLM's own KV pool agree ------------------------------------------
@pytest.mark.parametrize(
    "name, fields",
    [
        ("microsoft__phi-4", dict(seq_len=16384, batch=4, kv="fp8", gpu="a100-40gb")),
        ("microsoft__phi-4", dict(batch=8, gpu="a100-40gb")),
        ("Qwen__Qwen3-14B", dict(seq_len=32768, batch=2, kv="fp8", gpu="rtx4090", gpus=2)),
        ("meta-llama__Llama-3.1-8B", dict(seq_len=131072, batch=4, gpu="h100")),
        ("Qwen__Qwen3-8B", dict(seq_len=40960, batch=5, gpu="l40s")),
    ],
)
def test_vllm_fits_exactly_when_its_kv_pool_holds_the_batch(name: str, fields: dict):
    # (Contexts within each model's positions: past them vLLM refuses to start, whatever the pool.)
    # vLLM's pool = util x device - (weights + activation peak + non-torch): the CUDA context and
    # graphs sit outside that share. "Does not fit, 0.3 GiB short" beside "vLLM will hold 2.4
    # requests" (phi-4, s=32k, b=2 on an A100-40GB) contradicted itself.
    est = estimate(spec(name), Query(engine="vllm", **fields), model_id=name)
    report = est.engine_report
    assert est.fit is not None and isinstance(report, VllmReport)
    assert est.fit.fits == (report.kv_cache_memory >= est.memory.kv_cache), (est.fit, report)
    assert est.fit.fits == (report.max_concurrency >= fields.get("batch", 1) - 0.01)
    # And never more than the device itself.
    assert not est.fit.fits or est.memory.total <= est.fit.gpu_memory


# What each engine quantizes a bf16 checkpoint to while loading it. transformers 5.25: quantization
# configs for fp8, int8 and nf4 (bitsandbytes), int4 (torchao, HQQ), 2/3-bit (HQQ), MXFP4 and NVFP4
# (quantizers/quantizer_mxfp4.py and quantizer_nvfp4.py quantize on the fly), GPTQ with a dataset; none
# writes AWQ or 5/6-bit weights. vLLM: --quantization fp8 in every release; bitsandbytes' in-flight
# 4-bit up to 0.27 (gone from model_executor/layers/quantization/__init__.py@v0.28.0); online MXFP4
# from 0.28 (online/mxfp4.py); its int8 and NVFP4 shorthands quantize MoE experts only.
CONVERTS = [
    ("transformers", None, {"fp8", "int8", "nf4", "int4", "mxfp4", "nvfp4", "gptq", "p2", "p3", "p4", "p8"}),
    ("vllm", "0.27", {"fp8", "nf4"}),
    ("vllm", "0.33", {"fp8", "mxfp4"}),
]
ASKED = ("fp8", "int8", "nf4", "int4", "mxfp4", "nvfp4", "gptq", "awq", "p2", "p3", "p4", "p5", "p6", "p8")


@pytest.mark.parametrize(("engine", "release", "converts"), CONVERTS)
def test_formats_the_engine_does_not_convert_to_on_load_are_flagged(engine: str, release, converts: set) -> None:
    llama = spec("meta-llama__Llama-3.1-8B")  # a bf16 checkpoint
    for asked in ASKED:
        fields = {"bits": int(asked[1:])} if asked.startswith("p") else {"weight_format": asked}
        est = estimate(llama, Query(engine=engine, vllm=release, **fields), model_id="l")
        flagged = [w for w in est.warnings if w.code == "pre_quantized_needed"]
        # From 0.28 vLLM serves no NF4 checkpoint at all: it refuses to start rather than asking for one.
        refused = engine == "vllm" and release == "0.33" and asked == "nf4"
        assert bool(flagged) == (asked not in converts and not refused), (engine, release, asked, est.warnings)
        if refused:
            assert any(w.code == "engine_refuses" and "bitsandbytes" in w.message for w in est.warnings)
        if flagged:
            who = "transformers" if engine == "transformers" else f"vLLM {release}"
            assert f"{who} does not convert a bf16 checkpoint to" in flagged[0].message
    # Articles before format names: "an AWQ", "an NVFP4", "an INT8", "a GPTQ".
    est = estimate(llama, Query(engine="vllm", weight_format="nvfp4"), model_id="l")
    assert any("sizes an NVFP4 checkpoint" in w for w in messages(est)), est.warnings
    est = estimate(llama, Query(weight_format="awq"), model_id="l")
    assert any("sizes an AWQ checkpoint" in w for w in messages(est)), est.warnings


def test_no_engine_re_quantizes_a_quantized_checkpoint() -> None:
    est = estimate(spec("Qwen__Qwen3-8B-AWQ"), Query(engine="vllm", weight_format="fp8"), model_id="q")
    assert any("neither transformers nor vLLM re-quantizes an AWQ checkpoint" in w for w in messages(est))
    # The checkpoint's own format raises nothing.
    for name, fields in (
        ("Qwen__Qwen3-8B-AWQ", {"weight_format": "awq"}),
        ("Qwen__Qwen3-8B-AWQ", {"bits": 4}),
        ("openai__gpt-oss-20b", {"weight_format": "mxfp4"}),
    ):
        est = estimate(spec(name), Query(engine="vllm", **fields), model_id=name)
        assert not any(w.code == "pre_quantized_needed" for w in est.warnings), (name, est.warnings)


def test_vllm_min_gpus_is_a_size_vllm_accepts():
    # phi-4 on 16 GB RTX 4080s with vLLM: 29.3 GB of bf16 weights need more than 2 GPUs. vLLM
    # refuses 4 and 8 (10 KV heads: 10 % 4 and 10 % 8 != 0, and neither divides 10); 5 is the
    # next size it accepts (40 heads % 5 == 0, 10 KV heads % 5 == 0): 29.3 / 5 = 5.9 GB each.
    s = spec("microsoft__phi-4")
    est = estimate(s, Query(engine="vllm", gpu="rtx4080"), model_id="p")
    assert est.fit is not None and not est.fit.fits
    assert est.fit.min_gpus == 5
    # transformers splits layers, any count works: powers of two as before (4 fits there).
    est = estimate(s, Query(gpu="rtx4080"), model_id="p")
    assert est.fit is not None and est.fit.min_gpus in (2, 4)


def test_vllm_settings_with_transformers_are_flagged():
    s = spec("meta-llama__Llama-3.1-8B")
    est = estimate(s, Query(util=0.5, max_num_batched_tokens=512, max_num_seqs=4), model_id="l")
    assert (
        "util, mnbt, seqs are vLLM settings: they change nothing with engine=transformers (add engine=vllm)."
    ) in messages(est)
    est = estimate(s, Query(util=0.5), model_id="l")
    assert "util is a vLLM setting: it changes nothing with engine=transformers (add engine=vllm)." in messages(est)
    # The same numbers as without them: they are ignored, not misapplied.
    assert est.memory == estimate(s, Query(), model_id="l").memory
    for q in (Query(), Query(util=0.5, engine="vllm")):
        assert not any("vLLM setting" in w for w in messages(estimate(s, q, model_id="l")))


def test_every_key_whose_help_names_vllm_is_a_vllm_setting():
    # One rule: a key the key table describes as vLLM's is owned by the vLLM engine, so transformers
    # answers that it changes nothing (mtp= was missing and passed silently).
    for key in KEYS:
        if key.help.startswith("vLLM") or key.default.startswith("vLLM"):
            owner = setting_owner(key.name)
            assert owner is not None and owner.name == "vllm", key.name


def test_settings_that_change_nothing_for_this_model_say_so():
    llama = spec("meta-llama__Llama-3.1-8B")
    est = estimate(llama, Query(mtp=2), model_id="l")
    assert "mtp is a vLLM setting: it changes nothing with engine=transformers (add engine=vllm)." in messages(est)
    # mm= on a text-only model, prefix= on a model without state-space layers: the same numbers.
    plain = estimate(llama, Query(engine="vllm", gpu="h100"), model_id="l")
    for fields, sentence in (
        ({"mm_limit": 2}, "mm=2 changes nothing: llama has no vision tower (it reads text only)."),
        ({"prefix_caching": False}, "prefix=off changes no figure here: prefix caching only changes the pages"),
    ):
        est = estimate(llama, Query(engine="vllm", gpu="h100", **fields), model_id="l")
        ignored = [w.message for w in est.warnings if w.code == "setting_ignored"]
        assert len(ignored) == 1 and ignored[0].startswith(sentence), est.warnings
        assert est.memory == plain.memory and est.engine_report == plain.engine_report
    # Where they do change something, no such warning: Qwen2.5-VL's tower, Jamba's Mamba pages.
    for name, fields in (
        ("Qwen__Qwen2.5-VL-7B-Instruct", {"mm_limit": 0}),
        ("ai21labs__AI21-Jamba-1.5-Mini", {"prefix_caching": True}),
    ):
        est = estimate(spec(name), Query(engine="vllm", **fields), model_id=name)
        assert not any(w.code == "setting_ignored" for w in est.warnings), (name, est.warnings)


def test_p32_runs_in_fp32_like_dtype_fp32():
    # p=32 is dtype=fp32 spelled as bits: 32 layers x 8 KV heads x 128 x 2 (K, V) x 4 bytes x 8,192.
    s = spec("meta-llama__Llama-3.1-8B")
    est = estimate(s, Query(bits=32, seq_len=8192), model_id="l")
    assert est.details.kv_dtype == "fp32" and est.memory.kv_cache == 32 * 8 * 128 * 2 * 4 * 8192
    assert est.memory == estimate(s, Query(weight_format="fp32", seq_len=8192), model_id="l").memory
    # p=16 on a bf16 checkpoint is the checkpoint itself: bf16, 2 bytes.
    est = estimate(s, Query(bits=16, seq_len=8192), model_id="l")
    assert est.details.kv_dtype == "bf16" and est.memory.kv_cache == 32 * 8 * 128 * 2 * 2 * 8192


def test_bf16_on_gpus_without_bf16_is_flagged():
    # T4 (Turing) and V100 (Volta) are compute capability 7.x: no bf16; vLLM's --dtype auto serves fp16.
    s = spec("meta-llama__Llama-3.2-1B")  # a bf16 checkpoint
    est = estimate(s, Query(gpu="t4", engine="vllm"), model_id="l")
    assert (
        "The NVIDIA Tesla T4 16GB has no bf16 (Turing): vLLM serves it in fp16 there "
        "(its --dtype auto falls back from bf16; the same size)."
    ) in messages(est)
    est = estimate(s, Query(gpu="v100-32gb"), model_id="l")
    assert any("has no bf16 (Volta): bf16 has no fast path there" in w for w in messages(est))
    for q in (Query(gpu="t4", weight_format="fp16"), Query(gpu="a100-40gb"), Query(gpu="t4", engine="vllm", bits=4)):
        # bits=4 still computes in bf16: flagged, but without the advice to dequantize to fp16.
        warned = [w for w in messages(estimate(s, q, model_id="l")) if "has no bf16" in w]
        assert (q.bits == 4) == bool(warned), (q, warned)
        assert not any("add dtype=fp16" in w for w in warned)
    # An fp16 checkpoint (phi-2) raises nothing.
    phi2 = estimate(spec("microsoft__phi-2"), Query(gpu="t4"), model_id="p")
    assert not any("has no bf16" in w for w in messages(phi2))


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("AWQ", "an"),
        ("GPTQ", "a"),
        ("FP8", "an"),
        ("bf16", "a"),
        ("8-bit", "an"),
        ("eagle", "an"),
        ("eagle3", "an"),
        ("medusa", "a"),
        ("peagle", "a"),
        ("mlp_speculator", "an"),
    ],
)
def test_articles_follow_how_the_name_is_read(word: str, expected: str) -> None:
    # Names in capitals, with digits or known abbreviations are read letter by letter ("an FP8",
    # "an mlp_speculator"); other words by their first sound ("a medusa drafter", "an eagle").
    assert article(word) == expected
