"""The vLLM profile's arithmetic, checked against numbers worked out by hand from config fields.

The block arithmetic is checked against what vLLM v0.19's start-up logs printed (the calibration
cases named in each test): given the pool the log reports, our blocks, tokens and concurrency
must be the log's, to the digit.
"""

from __future__ import annotations

import math

import pytest

from common.errors import InputError
from estimator.engines import vllm
from estimator.gpus import GPU, lookup_gpu
from estimator.query import Query
from estimator.spec import LayerKV, LinearWeights, ModelSpec, ParamCounts, Quantization

GiB = 1 << 30
H100 = 85_030_617_088  # CUDA total of an H100 80GB HBM3


def make_spec(
    *,
    layers: tuple[LayerKV, ...],
    hidden: int,
    inter: int,
    vocab: int,
    heads: int,
    kv_heads: int,
    head_dim: int,
    dtype: str = "bf16",
    max_pos: int | None = None,
    experts: int = 0,
    topk: int = 0,
    moe_inter: int = 0,
    model_type: str = "llama",
) -> ModelSpec:
    return ModelSpec(
        model_type=model_type,
        known_family=True,
        torch_dtype=dtype,
        hidden_size=hidden,
        num_layers=len(layers),
        num_attention_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        vocab_size=vocab,
        intermediate_size=inter,
        num_experts=experts,
        experts_per_token=topk,
        moe_intermediate_size=moe_inter,
        num_moe_layers=len(layers) if experts else 0,
        max_position_embeddings=max_pos,
        layers=layers,
        params=ParamCounts(embedding=vocab * hidden, active=vocab * hidden),
        quantization=Quantization(format="bf16"),
    )


def full(kv_heads: int, head_dim: int) -> LayerKV:
    return LayerKV(kind="full", kv_heads=kv_heads, key_dim=head_dim, value_dim=head_dim)


def sliding(window: int, kv_heads: int, head_dim: int) -> LayerKV:
    return LayerKV(kind="sliding", window=window, kv_heads=kv_heads, key_dim=head_dim, value_dim=head_dim)


# Llama-3.1-8B: 32 layers, 8 KV heads of 128, hidden 4096, MLP 14336, vocabulary 128256.
LLAMA = make_spec(
    layers=tuple(full(8, 128) for _ in range(32)),
    hidden=4096,
    inter=14336,
    vocab=128256,
    heads=32,
    kv_heads=8,
    head_dim=128,
    max_pos=131072,
)
# gemma-2-9b: 42 layers alternating sliding (4096) and full, 8 KV heads of 256.
GEMMA2 = make_spec(
    layers=tuple(sliding(4096, 8, 256) if i % 2 == 0 else full(8, 256) for i in range(42)),
    hidden=3584,
    inter=14336,
    vocab=256000,
    heads=16,
    kv_heads=8,
    head_dim=256,
    max_pos=8192,
    model_type="gemma2",
)
# gpt-oss-20b: 24 layers alternating sliding (128) and full, 8 KV heads of 64; 32 experts, top-4.
GPT_OSS = make_spec(
    layers=tuple(sliding(128, 8, 64) if i % 2 == 0 else full(8, 64) for i in range(24)),
    hidden=2880,
    inter=0,
    vocab=201088,
    heads=64,
    kv_heads=8,
    head_dim=64,
    max_pos=131072,
    experts=32,
    topk=4,
    moe_inter=2880,
    model_type="gpt_oss",
)
# DeepSeek-V2-Lite: 27 MLA layers caching kv_lora_rank 512 + qk_rope_head_dim 64, one head.
DEEPSEEK = make_spec(
    layers=tuple(LayerKV(kind="mla", kv_heads=1, key_dim=512, value_dim=64) for _ in range(27)),
    hidden=2048,
    inter=10944,
    vocab=102400,
    heads=16,
    kv_heads=16,
    head_dim=192,
    max_pos=163840,
    experts=64,
    topk=6,
    moe_inter=1408,
    model_type="deepseek_v2",
)


def q(**kw) -> Query:
    # The expected numbers of this module come from v0.19 start-up logs.
    return Query(engine="vllm", **{"vllm": "0.19", **kw})


def gpu_of(query: Query) -> GPU | None:
    """The catalog record of the query's GPU, as the estimate resolves it."""
    return lookup_gpu(query.gpu) if query.gpu else None


H100_GPU = lookup_gpu("h100-80gb")


# ------------------------------------------------------------------ block arithmetic vs the logs


def test_llama_blocks_tokens_concurrency_match_the_log():
    # page = 16 tokens x 8 heads x (128 + 128) x 2 bytes = 65,536 B per layer; x 32 layers = 2 MiB a block.
    layout, _ = vllm.kv_layout(LLAMA, q(seq_len=8192))
    assert layout.bytes_per_block == 16 * 8 * 256 * 2 * 32 == 2_097_152
    # case020 logged 29,751 blocks, "GPU KV cache size: 476,016 tokens", concurrency 58.11x at 8192.
    pool = 29_751 * 2_097_152 + 12_345
    blocks, tokens, conc = vllm.kv_capacity(LLAMA, q(seq_len=8192), pool, batched_tokens=8192)
    assert (blocks, tokens) == (29_751, 29_751 * 16)
    assert conc == pytest.approx(29_751 / (8192 / 16))  # 512 blocks a request
    assert round(conc, 2) == 58.11
    # case022 (max_model_len 2048): 29,751 / 128 = 232.43x.
    _, _, conc_2k = vllm.kv_capacity(LLAMA, q(seq_len=2048), pool, batched_tokens=8192)
    assert round(conc_2k, 2) == 232.43


def test_llama_fp8_kv_halves_the_page():
    # case017: kv fp8 -> 1 byte an element: 1 MiB a block; 59,502 blocks = 952,032 tokens, 116.21x.
    layout, _ = vllm.kv_layout(LLAMA, q(seq_len=8192, kv="fp8"))
    assert layout.bytes_per_block == 16 * 8 * 256 * 1 * 32
    blocks, tokens, conc = vllm.kv_capacity(LLAMA, q(seq_len=8192, kv="fp8"), 59_502 * 1_048_576, batched_tokens=8192)
    assert (blocks, tokens, round(conc, 2)) == (59_502, 952_032, 116.21)


def test_tensor_parallel_splits_kv_heads_and_replicates_below_one():
    # TP 4: 8 KV heads -> 2 per GPU: page 16 x 2 x 256 x 2 = 16,384 B per layer.
    assert vllm.kv_layout(LLAMA, q(gpus=4))[0].bytes_per_block == 16 * 2 * 256 * 2 * 32
    # TP 16: fewer heads than ranks -> each GPU keeps one head.
    assert vllm.kv_layout(LLAMA, q(gpus=16))[0].bytes_per_block == 16 * 1 * 256 * 2 * 32


def test_gemma2_hybrid_groups_match_the_log():
    # 21 sliding + 21 full layers: two groups of 21 sharing one block count; a block index costs
    # 21 layers x 16 x 8 x 512 x 2 = 2,752,512 B. case008 logged 168,880 tokens = 21,110 // 2 x 16,
    # and 20.60x: a request of 8192 needs 512 full blocks + (8192/16 + 1) sliding blocks = 1,025.
    layout, _ = vllm.kv_layout(GEMMA2, q(seq_len=8192))
    assert (layout.group_size, layout.num_groups, layout.uniform) == (21, 2, False)
    assert layout.bytes_per_block == 21 * 16 * 8 * 512 * 2 == 2_752_512
    blocks, tokens, conc = vllm.kv_capacity(GEMMA2, q(seq_len=8192), 21_110 * 2_752_512, batched_tokens=8192)
    assert (blocks, tokens) == (21_110, 168_880)
    assert conc == pytest.approx(21_110 / 1025)
    assert round(conc, 2) == 20.60


def test_sliding_window_needs_only_window_plus_chunk():
    # With a 512-token prefill chunk a 128-token window needs cdiv(127 + 512, 16) + 1 = 41 blocks,
    # not 8192 / 16 = 512: per request 512 + 41 = 553 blocks.
    blocks, _, conc = vllm.kv_capacity(GPT_OSS, q(seq_len=8192), 553 * 12 * 16 * 8 * 128 * 2, batched_tokens=512)
    assert blocks == 553
    assert conc == pytest.approx(1.0)


def test_gpt_oss_tp2_matches_the_log():
    # TP 2: 4 KV heads of 64 per GPU: page 16 x 4 x 128 x 2 = 16,384 B; 12 layers a group.
    # case041: 2,764,768 tokens = 345,596 // 2 x 16; 337.17x = 345,596 / 1,025.
    layout, _ = vllm.kv_layout(GPT_OSS, q(seq_len=8192, gpus=2))
    assert layout.bytes_per_block == 12 * 16 * 4 * 128 * 2 == 196_608
    blocks, tokens, conc = vllm.kv_capacity(GPT_OSS, q(seq_len=8192, gpus=2), 345_596 * 196_608, batched_tokens=8192)
    assert (blocks, tokens, round(conc, 2)) == (345_596, 2_764_768, 337.17)


def test_mla_entry_is_one_unsplit_latent():
    # (512 + 64) x 2 bytes x 16 tokens = 18,432 B per layer, the same on every rank; 27 layers.
    for tp in (1, 2, 4):
        assert vllm.kv_layout(DEEPSEEK, q(gpus=tp))[0].bytes_per_block == 16 * 576 * 2 * 27 == 497_664
    # case002: 94,097 blocks -> 1,505,552 tokens, 183.78x at 8192 (512 blocks a request).
    blocks, tokens, conc = vllm.kv_capacity(DEEPSEEK, q(seq_len=8192), 94_097 * 497_664, batched_tokens=8192)
    assert (blocks, tokens, round(conc, 2)) == (94_097, 1_505_552, 183.78)


def test_empty_or_negative_pool_holds_nothing():
    assert vllm.kv_capacity(LLAMA, q(), -5, batched_tokens=8192) == (0, 0, 0.0)
    assert vllm.kv_capacity(LLAMA, q(), 2_097_151, batched_tokens=8192)[:2] == (0, 0)


def test_int8_kv_is_refused():
    with pytest.raises(InputError, match="int8"):
        vllm.kv_layout(LLAMA, q(kv="int8"))


# ------------------------------------------------------------------ defaults


def test_batch_defaults_follow_the_gpu():
    # >= 70 GiB and not an A100: 8192 tokens, 1024 sequences; otherwise 2048 / 256.
    assert vllm.batch_defaults(q(gpu="h100-80gb"), gpu_of(q(gpu="h100-80gb"))) == (8192, 1024)
    assert vllm.batch_defaults(q(gpu="a100-80gb"), gpu_of(q(gpu="a100-80gb"))) == (2048, 256)
    assert vllm.batch_defaults(q(gpu="l4"), gpu_of(q(gpu="l4"))) == (2048, 256)
    assert vllm.batch_defaults(q(), None) == (2048, 256)
    # Given values win; max_num_seqs is capped at max_num_batched_tokens.
    assert vllm.batch_defaults(q(max_num_batched_tokens=512), H100_GPU) == (512, 512)
    assert vllm.batch_defaults(q(max_num_batched_tokens=4096, max_num_seqs=64), H100_GPU) == (4096, 64)


def test_version_constants():
    assert vllm.constants_for_version("0.19") == vllm.DEFAULT_CONSTANTS
    assert vllm.constants_for_version("v0.17.1") == vllm.DEFAULT_CONSTANTS
    assert vllm.constants_for_version("v0.11.0") == vllm.LEGACY_CONSTANTS
    assert vllm.LEGACY_CONSTANTS.sampler_bytes_per_logit > 2 * vllm.DEFAULT_CONSTANTS.sampler_bytes_per_logit
    with pytest.raises(InputError):
        vllm.constants_for_version("nightly")


# ------------------------------------------------------------------ weights as loaded


def test_rope_cache_is_added_to_loaded_weights():
    # Llama-3.1: 131,072 positions x 128 rotary dims x 2 bytes = 32 MiB; vLLM logs 14.99 GiB for
    # 8,030,261,248 params x 2 bytes = 14.957 GiB + 0.031 GiB.
    assert vllm.rope_cache_bytes(LLAMA, q()) == 131072 * 128 * 2 == 32 * 1024 * 1024
    loaded = vllm.loaded_weight_bytes(LLAMA, q(), gpu_of(q()), 8_030_261_248 * 2)
    assert round(loaded / GiB, 2) == 14.99
    # MLA rotates only the 64 rope dims: 163,840 x 64 x 2.
    assert vllm.rope_cache_bytes(DEEPSEEK, q()) == 163840 * 64 * 2


def test_mla_models_load_the_flashinfer_mla_workspace():
    # Choosing an MLA backend imports every backend in the priority list (platforms/cuda.py
    # get_valid_backends); flashinfer_mla.py allocates a 128 MiB workspace at import, once per GPU.
    # DeepSeek-V2-Lite-Chat by hand from its config (hidden 2048, vocab 102,400, 27 layers, the first
    # dense with MLP 10,944, then 26 MoE layers of 64 experts x 1408 plus 2 shared experts):
    #   embed + lm_head        2 x 102,400 x 2048                                =    419,430,400
    #   attention, per layer   q 2048x3072 + kv_a 2048x576 + kv_a norm 512
    #                          + kv_b 512x4096 + o 2048x2048 + 2 norms x 2048    =     13,767,168
    #   dense MLP (layer 0)    3 x 2048 x 10,944                                 =     67,239,936
    #   MoE, per layer         64 x 3 x 2048 x 1408 + 3 x 2048 x 2816 + 64 x 2048 =    571,080,704
    #   total  419,430,400 + 27 x 13,767,168 + 67,239,936 + 26 x 571,080,704 + 2048 = 15,706,484,224
    tp1_params = 419_430_400 + 27 * 13_767_168 + 67_239_936 + 26 * 571_080_704 + 2048
    assert tp1_params == 15_706_484_224
    # TP 4: kv_a_proj_with_mqa, the norms and the router stay whole; everything else is split in 4.
    #   attention per layer    (6,291,456 + 2,097,152 + 4,194,304) / 4 + 1,179,648 + 512 + 4096 = 4,329,984
    #   MoE per layer          (553,648,128 + 17,301,504) / 4 + 131,072                       = 142,868,480
    tp4_params = 419_430_400 // 4 + 27 * 4_329_984 + 67_239_936 // 4 + 26 * 142_868_480 + 2048
    assert tp4_params == 3_953_159_680
    assert vllm.mla_backend_workspace_bytes(DEEPSEEK, gpu_of(q())) == 128 * MiB
    rope = 163840 * 64 * 2
    # Logged "Model loading took 29.43 GiB" (case002, TP 1) and 7.51 GiB (case067, TP 4). Without the
    # workspace: 29.28 / 7.38, 0.15 / 0.13 GiB short. With it: 29.40 / 7.51; the TP 1 rest (~0.03 GiB)
    # is the caching allocator's rounding of the 11 MiB shared-expert matrices, not modelled.
    tp1 = vllm.loaded_weight_bytes(DEEPSEEK, q(), gpu_of(q()), tp1_params * 2)
    tp4 = vllm.loaded_weight_bytes(DEEPSEEK, q(gpus=4), gpu_of(q(gpus=4)), tp4_params * 2)
    assert tp1 == tp1_params * 2 + rope + 128 * MiB == 31_568_157_696
    assert tp4 == tp4_params * 2 + rope + 128 * MiB == 8_061_508_608
    assert abs(tp1 / GiB - 29.43) < 0.05 and abs(tp4 / GiB - 7.51) < 0.01


def test_mla_backend_workspace_follows_the_gpu():
    assert vllm.mla_backend_workspace_bytes(LLAMA, gpu_of(q(gpu="h100-80gb"))) == 0  # no MLA layers
    assert vllm.mla_backend_workspace_bytes(DEEPSEEK, gpu_of(q(gpu="a100-80gb"))) == 128 * MiB
    # B200 (compute capability 10) also lists CUTLASS_MLA, whose module allocates another 128 MiB.
    assert vllm.mla_backend_workspace_bytes(DEEPSEEK, gpu_of(q(gpu="b200"))) == 256 * MiB
    assert vllm.mla_backend_workspace_bytes(DEEPSEEK, gpu_of(q(gpu="rtx-5090"))) == 128 * MiB  # SM120
    assert vllm.mla_backend_workspace_bytes(DEEPSEEK, gpu_of(q(gpu="mi300x"))) == 0  # ROCm lists neither


def test_batch_defaults_read_the_catalog_when_only_the_gpu_key_is_given():
    assert vllm.batch_defaults(q(gpu="h100-80gb"), gpu_of(q(gpu="h100-80gb"))) == (8192, 1024)
    assert vllm.batch_defaults(q(gpu="a100-80gb"), gpu_of(q(gpu="a100-80gb"))) == (2048, 256)  # 79.15 GiB, but an A100
    assert vllm.batch_defaults(q(gpu="l4"), gpu_of(q(gpu="l4"))) == (2048, 256)


# ------------------------------------------------------------------ terms and report


def test_llama_terms_on_an_h100():
    c = vllm.DEFAULT_CONSTANTS
    terms = vllm.vllm_terms(LLAMA, q(gpu="h100-80gb", seq_len=8192), gpu=H100_GPU)
    # Sampler warm-up: hidden states of 8192 tokens (8192 x 4096 x 2) stay alive, plus 1024 rows x
    # 128,256 logits at (12.9 + 2) bytes each.
    sampler = 8192 * 4096 * 2 + int(1024 * 128256 * (12.9 + 2))
    # Forward: 8192 x (2 x 4096 x 2 + 4 x 4096) + 8192 x 3 x 14336 x 2 = 0.91 GiB: the sampler wins.
    forward = 8192 * (2 * 4096 * 2 + 4 * 4096) + 8192 * 3 * 14336 * 2
    assert c.sampler_bytes_per_logit == 12.9 and forward < sampler
    assert terms.activations == sampler == 2_023_987_609
    assert terms.activation_where == (
        "sampler warm-up: 1,024 sequences x 128,256-token vocabulary x 14.9 B per logit "
        "(2 B of logits + 12.9 B of the sampler's fp32 copies and temporaries)"
    )
    # Overhead: context 522 MiB + non-torch 256 MiB + CUDA graphs: 51 PIECEWISE + 51 FULL graphs (capture
    # sizes 1, 2, 4, 8..248 by 8, 256..512 by 16; every one a decode size at 1,024 sequences), each
    # 3,760 KiB + 32 layers x (76 + 75) KiB = 102 x 8,592 KiB = 0.84 GiB (the log: 0.91 GiB actual,
    # 0.84 GiB estimated).
    graphs = 102 * (3760 + 32 * (76 + 75)) * 1024
    assert terms.overhead == (522 + 256) * 1024 * 1024 + graphs
    # TP 2: the sampler still sees the whole vocabulary; non-torch jumps to 2,120 MiB; context +1,065 MiB.
    tp2 = vllm.vllm_terms(LLAMA, q(gpu="h100-80gb", gpus=2), gpu=H100_GPU)
    assert tp2.activations == sampler
    # Graphs at TP 2: the per-layer part that divides with TP halves, 75 KiB -> 37.5 KiB (0.72 GiB; the
    # study's TP 2 log: 0.76 GiB).
    tp2_graphs = 102 * (3760 * 1024 + 32 * (76 * 1024 + 75 * 1024 // 2))
    assert tp2.overhead == (522 + 1065 + 2120) * 1024 * 1024 + tp2_graphs


def test_small_vocabulary_model_is_set_by_its_mlp():
    # CodeLlama-7B geometry: vocabulary 32,016, MLP 11,008. Forward at 8192 tokens:
    # 8192 x (2 x 4096 x 2 + 4 x 4096) + 8192 x 3 x 11008 x 2 = 809,500,672 B (log: 0.77 GiB);
    # sampler: 8192 x 4096 x 2 + 1024 x 32016 x 14.9 = 555,613,593 B.
    code = LLAMA.model_copy(
        update={"layers": tuple(full(32, 128) for _ in range(32)), "vocab_size": 32016, "intermediate_size": 11008}
    )
    peak, where = vllm.activation_peak(code, q(gpu="h100-80gb"), gpu=gpu_of(q(gpu="h100-80gb")))
    assert peak == 8192 * (2 * 4096 * 2 + 4 * 4096) + 8192 * 3 * 11008 * 2 == 809_500_672
    assert where == "prefill MLP at 8,192 batched tokens"


def test_report_pool_is_requested_minus_weights_peak_non_torch():
    weights = 8_030_261_248 * 2
    report = vllm.vllm_report(LLAMA, q(gpu="h100-80gb", seq_len=8192, util=0.95), weights_bytes=weights, gpu=H100_GPU)
    requested = math.ceil(0.95 * H100)
    loaded = weights + 131072 * 128 * 2
    peak = 8192 * 4096 * 2 + int(1024 * 128256 * 14.9)
    pool = requested - loaded - peak - 256 * 1024 * 1024
    assert (report.requested_memory, report.weights, report.activation_peak) == (requested, loaded, peak)
    assert report.kv_cache_memory == pool
    assert report.num_gpu_blocks == pool // 2_097_152
    assert report.kv_cache_tokens == pool // 2_097_152 * 16
    # case018 logged 476,000 tokens and 58.11x: within 0.3% of ours.
    assert report.kv_cache_tokens == pytest.approx(476_000, rel=0.003)
    # The concurrency is rounded down to hundredths (vLLM's log line rounds: 58.11x there).
    assert report.max_concurrency == (pool // 2_097_152) * 100 // 512 / 100
    assert report.version == vllm.VLLM_VERSION == "0.19"


def test_report_with_no_room_says_zero_tokens():
    report = vllm.vllm_report(
        LLAMA,
        q(gpu="l4", util=0.9),
        weights_bytes=30 * GiB,
        gpu=lookup_gpu("l4").model_copy(update={"memory_bytes": 23_612_293_120}),
    )
    assert report.kv_cache_memory < 0
    assert (report.kv_cache_tokens, report.num_gpu_blocks, report.max_concurrency) == (0, 0, 0.0)


def test_fp32_dtype_doubles_the_kv_page_and_the_logits():
    # --dtype float32 (case021): KV auto follows it, 4 bytes an element: 4 MiB a block.
    assert vllm.kv_layout(LLAMA, q(weight_format="fp32"))[0].bytes_per_block == 16 * 8 * 256 * 4 * 32
    peak, _ = vllm.activation_peak(LLAMA, q(gpu="h100-80gb", weight_format="fp32"), gpu=H100_GPU)
    assert peak == 8192 * 4096 * 4 + int(1024 * 128256 * (12.9 + 4))


# ------------------------------------------------------------------ MXFP4 experts (gpt-oss) as vLLM lays them out

MiB = 1 << 20
# gpt-oss-20b's MXFP4 experts: 24 MoE layers x 32 experts; gate_up 2880 -> 5760 (column-split) and
# down 2880 -> 2880 (row-split), each with a bf16 bias (5760 + 2880 per expert).
GPT_OSS_MXFP4 = GPT_OSS.model_copy(
    update={
        "quantization": Quantization(
            method="mxfp4", format="mxfp4", weight_bits=4, group_size=32, scope="experts", scale_bytes=1
        ),
        "linears": (
            LinearWeights(component="routed_experts", in_features=2880, out_features=5760, count=768, split="column"),
            LinearWeights(component="routed_experts", in_features=2880, out_features=2880, count=768, split="row"),
        ),
        "params": ParamCounts(
            embedding=201088 * 2880, routed_experts=768 * (2880 * 5760 + 2880 * 2880 + 8640), active=1
        ),
    }
)
CHECKPOINT_GPT_OSS_20B = 13_761_264_768  # the checkpoint's bytes (its safetensors total)


def test_cuda_block_bytes_follows_the_caching_allocator():
    assert vllm.cuda_block_bytes(1) == 512
    assert vllm.cuda_block_bytes(8_294_400) == 8_294_400  # under 10 MiB: carved from a shared segment
    # 129.375 MiB: its own 130 MiB cudaMalloc; 0.625 MiB left is not worth a split: all 130 MiB counted.
    assert vllm.cuda_block_bytes(135_659_520) == 130 * MiB
    # 258.75 MiB: a 260 MiB segment would leave 1.25 MiB (> 1 MiB): split, the tensor's own size counted.
    assert vllm.cuda_block_bytes(271_319_040) == 271_319_040


def test_mxfp4_backend_follows_the_gpu():
    assert vllm.mxfp4_moe_backend(gpu_of(q(gpu="h100-80gb"))) == "triton"
    assert vllm.mxfp4_moe_backend(gpu_of(q())) == "triton"  # no GPU named: Hopper, where the logs come from
    assert vllm.mxfp4_moe_backend(gpu_of(q(gpu="b200"))) == "flashinfer_trtllm"
    assert vllm.mxfp4_moe_backend(gpu_of(q(gpu="a100-80gb"))) == "marlin"
    assert vllm.mxfp4_moe_backend(gpu_of(q(gpu="rtx-5090"))) == "marlin"  # SM120: outside Triton's SM90-SM100
    assert vllm.mxfp4_moe_backend(gpu_of(q(gpu="mi300x"))) == "rocm"


def test_gpt_oss_rope_cache_is_fp32():
    # OAIAttention builds its rotary embedding in fp32: 131,072 positions x 64 dims x 4 bytes.
    assert vllm.rope_cache_bytes(GPT_OSS, q()) == 131072 * 64 * 4 == 32 * MiB


def test_mxfp4_experts_on_hopper_by_hand():
    # TP 1 on an H100, per MoE layer (32 experts, hidden 2880, intermediate 2880, already a multiple of 64):
    # swizzled w13 values: 32 x 5760 x (1440 bytes -> 1472)          = 271,319,040 (258.75 MiB, split)
    # swizzled w2 values:  32 x 2880 x 1472                         = 135,659,520 -> 130 MiB block
    # loaded w13 scales kept: 32 x 5760 x 90 = 16,588,800 (15.82 MiB)             -> 16 MiB block
    # loaded w2 scales kept:  32 x 2880 x 90                        = 8,294,400
    # swizzled w13 scales: 32 x (5760 -> 5888 rows) x 90            = 16,957,440 (16.17 MiB, split)
    # swizzled w2 scales:  32 x (2880 -> 3072 rows) x 90            = 8,847,360
    # fp32 biases: 32 x 5760 x 4 = 737,280 and 32 x 2880 x 4        = 368,640
    per_layer = 271_319_040 + 130 * MiB + 16 * MiB + 8_294_400 + 16_957_440 + 8_847_360 + 737_280 + 368_640
    assert per_layer == 459_616_256
    assert vllm.mxfp4_expert_bytes(GPT_OSS_MXFP4, q(gpu="h100-80gb"), gpu_of(q(gpu="h100-80gb"))) == 24 * per_layer
    # The checkpoint holds 768 x (8,294,400 + 518,400) for gate_up, 768 x (4,147,200 + 259,200) for
    # down (4 bits + a scale byte per 32) and 768 x 8,640 bf16 biases.
    checkpoint_experts = 768 * (8_294_400 + 518_400 + 4_147_200 + 259_200) + 768 * 8640 * 2
    assert checkpoint_experts == 10_165_616_640
    loaded = vllm.loaded_weight_bytes(GPT_OSS_MXFP4, q(gpu="h100-80gb"), H100_GPU, CHECKPOINT_GPT_OSS_20B)
    assert loaded == CHECKPOINT_GPT_OSS_20B - checkpoint_experts + 24 * per_layer + 32 * MiB
    # case040 (vLLM v0.19, H100, TP 1) logged "Model loading took 13.64 GiB": 13.65 here (+0.1%);
    # the checkpoint alone would say 12.82 (-6%).
    assert loaded / GiB == pytest.approx(13.64, rel=0.002)


def test_mxfp4_experts_before_the_64_byte_pre_pad():
    # The v0.11-era images' triton_kernels padded the values only to the MMA tile:
    # w13 32 x 5760 x 1440 = 265,420,800 (253.125 MiB -> 254 MiB block, 0.875 left);
    # w2 32 x 2880 x 1440 = 132,710,400 (126.5625 MiB, a 128 MiB segment leaves 1.44 MiB: split).
    per_layer = 254 * MiB + 132_710_400 + 16 * MiB + 8_294_400 + 16_957_440 + 8_847_360 + 737_280 + 368_640
    legacy = vllm.LEGACY_CONSTANTS
    assert vllm.mxfp4_expert_bytes(GPT_OSS_MXFP4, q(), gpu_of(q()), legacy) == 24 * per_layer
    # case080 (~v0.11 image, H100, TP 1) logged 13.47 GiB.
    loaded = vllm.loaded_weight_bytes(GPT_OSS_MXFP4, q(), gpu_of(q()), CHECKPOINT_GPT_OSS_20B, legacy)
    assert loaded / GiB == pytest.approx(13.47, rel=0.002)


def test_mxfp4_experts_split_and_pad_per_gpu():
    # TP 2: the per-GPU intermediate 1440 rounds up to 1472 (a multiple of 64), so w13 has 2944 rows:
    # values 32 x 2944 x 1472 = 138,674,176 (132.25 MiB, split) and 32 x 2880 x (736 -> 768)
    # = 70,778,880 (67.5 MiB -> 68 MiB block); kept scales 32 x 2944 x 90 = 8,478,720 and
    # 32 x 2880 x 46 = 4,239,360; swizzled 32 x 3072 x 90 = 8,847,360 and 32 x 3072 x 46 = 4,521,984;
    # fp32 biases 32 x 2944 x 4 = 376,832 and 368,640.
    per_layer = 138_674_176 + 68 * MiB + 8_478_720 + 4_239_360 + 8_847_360 + 4_521_984 + 376_832 + 368_640
    assert vllm.mxfp4_expert_bytes(GPT_OSS_MXFP4, q(gpus=2), gpu_of(q(gpus=2))) == 24 * per_layer


def test_mxfp4_layout_only_for_the_checkpoints_own_experts():
    assert vllm.uses_mxfp4_experts(GPT_OSS_MXFP4, q())
    assert not vllm.uses_mxfp4_experts(GPT_OSS_MXFP4, q(weight_format="bf16"))
    assert not vllm.uses_mxfp4_experts(GPT_OSS, q())  # not an MXFP4 checkpoint
    assert vllm.loaded_weight_bytes(LLAMA, q(), gpu_of(q()), 1000) == 1000 + 32 * MiB
    # Marlin (A100) pads the per-GPU intermediate to 128 and hidden to 256: 2880 -> 3072 both ways, so
    # gpt-oss-20b's expert matrices are allocated (3072 / 2880)^2 larger than on Hopper.
    marlin = vllm.mxfp4_expert_bytes(GPT_OSS_MXFP4, q(gpu="a100-80gb"), gpu_of(q(gpu="a100-80gb")))
    assert marlin > vllm.mxfp4_expert_bytes(GPT_OSS_MXFP4, q(gpu="h100-80gb"), gpu_of(q(gpu="h100-80gb")))
