"""The per-``model_type`` traits that :mod:`estimator.config` reads: only what a config does not say.

Defaults and derived fields come from transformers' config classes (:mod:`estimator.archconfig`);
a :class:`Family` says which tensors a layer holds where the config is silent: biases, norms,
q/k norms, gates, the MLP shape, the MoE and shared-expert layout, the vision tower. The "layers"
arch builds each layer from its kind (``layer_types``), so a new type made of known kinds is one
line here. Each entry names the model it serves; each was checked against the parameter count of
the model transformers builds on the meta device.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal

# How the decoder is built: a standard GQA decoder, DeepSeek's multi-head latent attention,
# gpt-oss (fused experts with biases, sinks), Jamba (mamba + attention), phi-2 (parallel block),
# or a builder of its own in :mod:`estimator.special` ("special").
Arch = Literal["decoder", "mla", "gpt_oss", "jamba", "phi", "layers", "special"]
# Which layers use a sliding window in transformers:
#   none: all full; all_if_window: every layer when ``sliding_window`` is set (mistral, phi3);
#   qwen2: only when ``use_sliding_window`` (layers >= max_window_layers); alternate: even layers
#   slide (gemma2); pattern: all but every ``sliding_window_pattern``-th (gemma3);
#   chunked: llama4's RoPE layers use chunked local attention of ``attention_chunk_size``.
# ``layer_types`` in the config, when present, always wins.
Sliding = Literal["none", "all_if_window", "qwen2", "alternate", "pattern", "chunked"]
# MoE layout: none; every layer (mixtral); qwen (decoder_sparse_step, mlp_only_layers, optional
# shared expert with a sigmoid gate); deepseek (first_k_dense_replace, moe_layer_freq, shared
# experts); llama4 (interleave_moe_layer_step, one shared expert); jamba (expert_layer_period).
MoE = Literal["none", "mixtral", "qwen", "deepseek", "llama4", "jamba", "gpt_oss", "ernie"]
Vision = Literal[
    "none",
    "unmodelled",
    "own",  # a tower of the type's own, built in estimator.towers_mm
    "special",  # a tower sized in estimator.special
    "siglip",
    "pixtral",
    "llama4",
    "qwen2_vl",
    "qwen2_5_vl",
    "qwen3_vl",
    "llava",
    "llava_next",
    "paligemma",
    "vipllava",
    "idefics3",
    "video_llava",
    "cohere2_vision",
    "kimi_k25",
    "internvl",
    # image-text types (vision towers): counted in estimator.towers
    "blip2",
    "got_ocr2",
    "idefics2",
    "lfm2_vl",
    "aria",
    "video_llama_3",
    "merger",
    "merger_linear",
    "pixel_shuffle_ln_mlp",
    "minicpm",
    "ovis2",
    "ovis2_5",
    "deepseek_vl_hybrid",
    "nemotron_h_omni",
    "moss",
    "janus",
    "gemma4",
    "gemma3n",  # estimator.towers: a timm MobileNetV5, a USM audio encoder, one embedder per tower
    "fast_vlm",  # estimator.towers: a timm FastViTHD and two linears
    "siglip2_merger",  # estimator.layerkinds: a SigLIP2 encoder and a patch-merging MLP (Cosmos3-Edge)
    "moonvit_adapter",  # estimator.layerkinds: a MoonViT-style encoder, pixel shuffle, MLP adapter (Muse)
    "conv_downsampled",  # estimator.layerkinds: a layer-scaled ViT and two stride-2 convolutions (Step 3.7)
]
# ``attention_bias`` handling: False (never), True (q/k/v always, e.g. qwen2), "config" (q/k/v/o
# follow ``attention_bias``, llama-style), or the name of the config field that decides it.
Bias = bool | str
# What a decoder layer's mixer is ("layers" arch), by the config's layer_types:
#   attention: GQA (full, sliding or chunked per layer_types); mla / dsa: DeepSeek latent attention
#   (dsa adds the lightning indexer); gated_deltanet, kda, mamba2, short_conv: fixed-state mixers
#   for the layers whose layer_types entry is "linear_attention" / "conv" / "mamba"; kda_full_gates (Ling 3's
#   KDA with full-rank gates) and lightning (MiniMax-Text-01) are built in estimator.layerkinds.
Attention = Literal["gqa", "mla", "dsa", "moa"]  # moa: mixture of attention experts (JetMoE)
Linear = Literal["none", "gated_deltanet", "kda", "mamba2", "short_conv", "kda_full_gates", "lightning"]
# Per-head q/k RMSNorm (head_dim each), or over all heads (olmo2/3, minimax-m2: heads x head_dim).
QKNorm = bool | Literal["full"]


@dataclass(frozen=True)
class Family:
    model_type: str
    arch: Arch = "decoder"
    text_key: str | None = None  # nested text config (gemma3, llama4, mistral3)
    text_defaults: MappingProxyType[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    vision_defaults: MappingProxyType[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    qkv_bias: Bias = "config"
    o_bias: Bias = "config"
    qk_norm: QKNorm = False  # RMSNorm on q and k: per head (head_dim weights each) or "full" width
    norms_per_layer: int = 2  # hidden-size norms per decoder layer
    mlp_bias: Bias = "config"  # reads ``mlp_bias`` when "config"
    tie_default: bool = False
    never_tied: bool = False  # its lm_head is its own whatever the config says (CPM-Ant ties no weights)
    sliding: Sliding = "none"
    moe: MoE = "none"
    vision: Vision = "none"
    dtype_default: str | None = None  # torch dtype when the config names none (no warning then),
    # ---- the "layers" arch: each layer built from its kind, with these traits
    attention: Attention = "gqa"
    linear: Linear = "none"
    attn_gate: bool = False  # q_proj doubled for a sigmoid output gate (Qwen3-Next, Qwen3.5)
    qk_norm_bias: bool = False  # the q/k norms are LayerNorms with a bias (Persimmon)
    # norms inside attention and MLP, before their output projections (BitNet), or in the MLP only ("mlp")
    sub_norms: bool | Literal["mlp"] = False
    embedding_norm: bool = False  # a norm right after the embedding (BLOOM)
    act_params: int = 0  # learned activation parameters per MLP (Apertus' xIELU: 2)
    attn_gate_bias: bool = False  # a per-head bias on that output gate (Beam)
    head_gate: bool = False  # one output-gate value per head (Laguna's g_proj)
    sinks: bool | Literal["sliding"] = False  # one learned sink logit per head (all layers, or sliding ones)
    v_head_dim: bool = False  # values have their own head size (config ``v_head_dim``)
    # Full-attention layers have no v_proj: the key projection's output is also the values (Gemma 4's
    # attention_k_eq_v). Keys and values are still cached apart (the keys get a norm and RoPE).
    k_eq_v: bool = False
    sliding_kv_factor: int = 1  # sliding layers hold this many times the KV heads (MiMo-V2)
    mlp: Literal["gated", "plain"] = "gated"  # gate/up/down, or up/down (fc1/fc2)
    norm_bias: bool = False  # LayerNorm with a bias (weight + bias per norm)
    learned_positions: bool = False  # absolute position embeddings (max_position_embeddings x hidden),
    # MoE: routed experts' router carries a per-expert score-correction bias (DeepSeek-V3 style).
    router_bias: bool = False
    shared: Literal["none", "deepseek", "qwen", "dense", "plain"] = "none"  # shared expert layout
    shared_gate: bool = True  # "qwen" shared expert: with its sigmoid gate (Linear(h, 1))
    single_block: bool = False  # each layer is one block (mixer, MLP or MoE) under one norm
    sublayers: int = 1  # attention + MLP pairs per layer (LongCat-Flash: 2, plus one MoE block)
    parallel_mamba: bool = False  # a Mamba mixer beside attention in every layer (Falcon-H1)
    final_norm: bool = True
    lm_head_bias: Bias = False  # GPT-J / CodeGen's lm_head carries a bias
    position_offset: int = 0  # learned position rows beyond max_position_embeddings (OPT, BioGPT: 2)
    per_layer_inputs: bool = False  # Gemma-4/3n per-layer input embeddings (hidden_size_per_layer_input)
    extra_vocab: str | None = None  # config field of embedding rows beyond vocab_size (no lm_head rows)
    token_types: int = 0  # token-type (segment) embedding rows added to every token (Kosmos-2.5: 2)
    dense_width: str | None = None  # config field of the dense MLP width, where intermediate_size is the experts'
    # Config flags that switch on a structure vram does not model: set, the spec says so (no verdict).
    unmodelled_flags: tuple[str, ...] = ()
    # ---- traits built by estimator.layerkinds
    diff_attention: bool = False  # differential attention: four lambda vectors of head_dim per layer (DiffLlama)
    moe_norm: bool = False  # a norm on each MoE block's output (A.X-K1)
    moe_bias: bool = False  # a bias (hidden) on each MoE block's output (JetMoE)
    dynamic_mask: bool = False  # Doge: a learned A per KV head and dt_proj from the values to the KV heads
    residual_scales: int = 0  # learned per-channel residual scales (hidden each) per layer (Doge: 2)
    # AXK2: q_b_proj fused with a sigmoid value gate (from 2 x q_lora_rank to heads x (qk + v) head dims),
    # and the input norm (every layer) and post-attention norm (MoE layers) gated by a low-rank MLP.
    mla_q_gate: bool = False
    gated_norms: bool = False
    # Kolibri 1.1: indexed-attention layers are GQA layers with a weightless indexer; a layer whose
    # ``kv_source_layers`` entry names another layer reads that layer's keys and values (no k/v weights,
    # no cache of its own).
    gqa_indexer: bool = False
    kv_sharing: bool = False
    # ModernBERT decoder: the first layer has no attention norm (the embedding norm precedes it), and a
    # prediction head (dense hidden -> hidden, biased per ``classifier_bias``, and a norm) precedes the lm_head.
    no_first_attn_norm: bool = False
    prediction_head: bool = False
    # Muse Spark: the routed experts work in ``moe_hidden_size``: a projection in (then a norm) and out
    # (after one norm over the experts' output) around them.
    moe_latent: bool = False
    # HRM-Text: the weights are this many stacks of ``num_layers_per_stack`` layers run in cycles, each pass
    # a cache layer of its own (num_hidden_layers of them), plus a learned initial state (hidden).
    weight_stacks: int = 0
    # Dory: layer_types alternate attention and "mlp" entries with every layer count doubled (halved as
    # DoryConfig does); the recurrent section runs n_recurrent_loops times, each loop caching its own
    # keys and values ("per_loop") or reading the last loop's ("last_loop"); learned per-channel scales:
    # attn_scales over heads x head_dim per attention, mlp_scales over the MLP width, a logit scale per token.
    paired_layer_types: bool = False
    recurrent_loops: bool = False
    attn_scales: int = 0
    mlp_scales: int = 0
    logit_scale: bool = False
    expert_norms: bool = False  # a norm on each routed expert's and on the shared expert's output (Ergo)
    last_o_bias: bool = False  # only the last layer's attention output carries a bias (GPT-NeoX-Japanese)
    # DSA layers whose ``indexer_types`` entry is "shared" reuse the previous indexer's selection:
    # no indexer of their own, no indexer key cached (Hy-V4).
    shared_indexers: bool = False
    hyper_connections: bool = False  # ``hc_mult`` residual streams mixed around each block (Hy-V4)
    # Config flags that switch traits on: flag -> the traits it sets when true (LFM3's use_attention_gate).
    switches: MappingProxyType[str, MappingProxyType[str, Any]] = field(default_factory=lambda: MappingProxyType({}))
    # Config fields whose value the family's traits assume: field -> the values modelled (others: no verdict).
    required: MappingProxyType[str, tuple[Any, ...]] = field(default_factory=lambda: MappingProxyType({}))
    # Fields vram reads that the config names otherwise: field -> the config fields whose product it is
    # (CTRL's ``dff`` is the MLP width; GPT-NeoX-Japanese's is hidden_size x intermediate_multiple_size).
    derived: MappingProxyType[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))


def _ro(**kw: Any) -> MappingProxyType[str, Any]:
    return MappingProxyType(kw)


_LLAMA = Family("llama")
# ---- special architectures: stacks sized by their own builders in estimator.special (arch "special").
_SPECIAL: dict[str, Family] = {
    # Mamba (state-spaces/mamba-*-hf) and Falcon-Mamba-7B: Mamba-1 mixers only, no attention.
    "mamba": Family("mamba", arch="special", tie_default=True),
    "falcon_mamba": Family("falcon_mamba", arch="special", tie_default=True),
    # RWKV-4 (RWKV/rwkv-4-*-pile): time-mix and channel-mix blocks, a fixed state per sequence.
    "rwkv": Family("rwkv", arch="special"),
    # Gemma 3n (E2B / E4B): AltUp, Laurel, per-layer inputs and MLP widths, KV shared by the last layers.
    "gemma3n_text": Family("gemma3n_text", arch="special", tie_default=True),
    # Mistral Large 4: DSA layers that differ one by one (RoPE, shared indexers, shared latents), and
    # Pixtral with Mistral 3's projector for the image-text model.
    "mistral_large4_text": Family("mistral_large4_text", arch="special", attention="dsa"),
    "mistral_large4": Family(
        "mistral_large4", arch="special", attention="dsa", text_key="text_config", vision="pixtral"
    ),
    # Llama 3.2 Vision: Llama layers with gated cross-attention layers, a tiled ViT with global layers.
    "mllama": Family("mllama", arch="special", text_key="text_config", vision="special"),
    # DeepSeek-V4 (Flash / Pro): sliding-window MQA with compressed sparse (CSA) and heavily compressed (HCA) caches.
    "deepseek_v4": Family("deepseek_v4", arch="special"),
    # Zamba-7B and Zamba2 (1.2B / 2.7B / 7B): Mamba layers with shared transformer blocks every few layers.
    "zamba": Family("zamba", arch="special", tie_default=True),
    "zamba2": Family("zamba2", arch="special", tie_default=True),
    # Unlimited-OCR: DeepSeek-OCR's SAM + CLIP towers over a small MoE text stack with reference sliding windows.
    "unlimited_ocr_text": Family("unlimited_ocr_text", arch="special"),
    "unlimited_ocr": Family("unlimited_ocr", arch="special", text_key="text_config", vision="special"),
    # ZAYA1 (Zyphra): compressed convolutional attention and MLP-routed MoE in every layer.
    "zaya": Family("zaya", arch="special", tie_default=True, lm_head_bias="lm_head_bias"),
    # Inkling: attention layers with relative-position biases and short convolutions, MoE MLPs.
    "inkling_text": Family("inkling_text", arch="special"),
    "inkling2_text": Family("inkling2_text", arch="special"),
    "inkling2_loop_text": Family("inkling2_loop_text", arch="special"),
    "inkling2": Family("inkling2", arch="special", text_key="text_config", vision="special"),
    "inkling2_loop": Family("inkling2_loop", arch="special", text_key="text_config", vision="special"),
    # ERNIE-4.5-VL-28B-A3B / 424B-A47B: separate text and image experts per MoE layer, a ViT and a resampler.
    "ernie4_5_vl_moe_text": Family("ernie4_5_vl_moe_text", arch="special", tie_default=True),
    "ernie4_5_vl_moe": Family(
        "ernie4_5_vl_moe", arch="special", text_key="text_config", vision="special", tie_default=True
    ),
}
FAMILIES: MappingProxyType[str, Family] = MappingProxyType(
    {
        "llama": _LLAMA,
        **_SPECIAL,
        "mistral": Family("mistral", sliding="all_if_window"),
        "mixtral": Family("mixtral", sliding="all_if_window", moe="mixtral"),
        "qwen2": Family("qwen2", qkv_bias=True, o_bias=False, sliding="qwen2"),
        "qwen2_moe": Family("qwen2_moe", qkv_bias=True, o_bias=False, sliding="qwen2", moe="qwen"),
        "qwen3": Family("qwen3", qk_norm=True, sliding="qwen2"),
        "qwen3_moe": Family("qwen3_moe", qk_norm=True, sliding="qwen2", moe="qwen"),
        "phi": Family("phi", arch="phi", qkv_bias=True, o_bias=True, norms_per_layer=1, mlp_bias=True),
        "phi3": Family("phi3", sliding="all_if_window"),
        "gemma": Family("gemma", tie_default=True),
        "gemma2": Family("gemma2", tie_default=True, norms_per_layer=4, sliding="alternate"),
        "gemma3": Family(
            "gemma3",
            text_key="text_config",
            tie_default=True,
            norms_per_layer=4,
            qk_norm=True,
            sliding="pattern",
            vision="siglip",
        ),
        "gemma3_text": Family("gemma3_text", tie_default=True, norms_per_layer=4, qk_norm=True, sliding="pattern"),
        "granite": Family("granite"),
        "deepseek_v2": Family("deepseek_v2", arch="mla", moe="deepseek"),
        "deepseek_v3": Family("deepseek_v3", arch="mla", moe="deepseek"),
        "gpt_oss": Family(
            "gpt_oss",
            arch="gpt_oss",
            qkv_bias=True,
            o_bias=True,
            moe="gpt_oss",
            sliding="alternate",
            dtype_default="bf16",
        ),
        "llama4": Family(
            "llama4",
            text_key="text_config",
            qkv_bias="config",
            sliding="chunked",
            moe="llama4",
            vision="llama4",
        ),
        "llama4_text": Family("llama4_text", sliding="chunked", moe="llama4"),
        "mistral3": Family(
            "mistral3",
            text_key="text_config",
            sliding="all_if_window",
            vision="pixtral",
        ),
        # Qwen2-VL / Qwen2.5-VL: a Qwen2 text stack (top-level fields, or a nested text_config in
        # newer saves) and a ViT whose images are at most the processor's default max_pixels
        # (12,845,056 = 3584 x 3584), the size vLLM profiles with.
        "qwen2_vl": Family(
            "qwen2_vl",
            qkv_bias=True,
            o_bias=False,
            sliding="qwen2",
            vision="qwen2_vl",
            vision_defaults=_ro(image_size=3584, in_chans=3, mlp_ratio=4, temporal_patch_size=2, spatial_merge_size=2),
        ),
        "qwen2_5_vl": Family(
            "qwen2_5_vl",
            qkv_bias=True,
            o_bias=False,
            sliding="qwen2",
            vision="qwen2_5_vl",
            vision_defaults=_ro(image_size=3584, in_chans=3, temporal_patch_size=2, spatial_merge_size=2),
        ),
        "jamba": Family("jamba", arch="jamba", moe="jamba"),
        # ---- built layer by layer from the config's layer_types / mlp_layer_types (arch "layers").
        # Each entry says only what the config does not: biases, norms, q/k norms, the MoE layout.
        "smollm3": Family("smollm3", arch="layers"),
        "olmo2": Family("olmo2", arch="layers", qk_norm="full"),  # post-norms only (2 per layer),
        "olmo3": Family("olmo3", arch="layers", qk_norm="full"),
        "seed_oss": Family("seed_oss", arch="layers", qkv_bias="attention_bias", o_bias="attention_out_bias"),
        "cohere2": Family("cohere2", arch="layers", norms_per_layer=1),  # parallel block, one LayerNorm (no bias),
        "ministral3": Family("ministral3", arch="layers", sliding="all_if_window"),
        "starcoder2": Family(
            "starcoder2",
            arch="layers",
            qkv_bias="use_bias",
            o_bias="use_bias",
            mlp="plain",
            mlp_bias="use_bias",
            norm_bias=True,
            sliding="all_if_window",
        ),
        # GPTBigCode (StarCoder 1): multi-query attention fused in c_attn, learned positions, LayerNorms.
        "gpt_bigcode": Family(
            "gpt_bigcode",
            arch="layers",
            qkv_bias=True,
            o_bias=True,
            mlp="plain",
            mlp_bias=True,
            norm_bias=True,
            learned_positions=True,
        ),
        "phimoe": Family("phimoe", arch="layers", norm_bias=True, moe="mixtral", sliding="all_if_window"),
        "minimax_m2": Family("minimax_m2", arch="layers", qk_norm="full", moe="mixtral"),
        "glm4_moe": Family(
            "glm4_moe",
            arch="layers",
            qkv_bias="attention_bias",
            o_bias=False,  # o_proj never carries a bias
            qk_norm=False,
            moe="deepseek",
            shared="deepseek",
        ),
        "ernie4_5_moe": Family(
            "ernie4_5_moe",
            arch="layers",
            qkv_bias="use_bias",
            o_bias="use_bias",
            moe="ernie",
            shared="deepseek",
            router_bias=True,
        ),
        "mistral4": Family("mistral4", arch="layers", attention="mla", moe="deepseek", shared="deepseek"),
        "deepseek_v32": Family("deepseek_v32", arch="layers", attention="mla", shared="deepseek"),
        "glm_moe_dsa": Family("glm_moe_dsa", arch="layers", attention="mla", shared="deepseek"),
        "glm4_moe_lite": Family("glm4_moe_lite", arch="layers", attention="mla", shared="deepseek"),
        "qwen3_next": Family(
            "qwen3_next",
            arch="layers",
            qk_norm=True,
            attn_gate=True,
            linear="gated_deltanet",
            moe="qwen",
            shared="qwen",
        ),
        "qwen3_5_text": Family("qwen3_5_text", arch="layers", qk_norm=True, attn_gate=True, linear="gated_deltanet"),
        "qwen3_5_moe_text": Family(
            "qwen3_5_moe_text",
            arch="layers",
            qk_norm=True,
            attn_gate=True,
            linear="gated_deltanet",
            moe="qwen",
            shared="qwen",
        ),
        "kimi_linear": Family("kimi_linear", arch="layers", attention="mla", linear="kda", shared="deepseek"),
        "granitemoehybrid": Family("granitemoehybrid", arch="layers", linear="mamba2", moe="mixtral", shared="dense"),
        "lfm2": Family("lfm2", arch="layers", qk_norm=True, linear="short_conv"),
        # Nemotron-H: Mamba-2, attention, ReLU^2 MLP and MoE layers, one block and one norm each.
        "nemotron_h": Family(
            "nemotron_h",
            arch="layers",
            linear="mamba2",
            mlp="plain",
            shared="plain",
            single_block=True,
            unmodelled_flags=("moe_latent_size",),
        ),
        # Falcon-H1: attention and a Mamba-2 mixer side by side in every layer, then the MLP.
        "falcon_h1": Family(
            "falcon_h1",
            arch="layers",
            linear="mamba2",
            parallel_mamba=True,
            qkv_bias="attention_bias",
            o_bias="attention_bias",
            mlp_bias="mlp_bias",
        ),
        # MiMo-V2-Flash: 192-wide keys, 128-wide values; sliding layers double the KV heads and add sinks.
        "mimo_v2_flash": Family("mimo_v2_flash", arch="layers", v_head_dim=True, sinks="sliding", sliding_kv_factor=2),
        # LongCat-Flash: two MLA + MLP sub-layers and one MoE block (with zero-compute experts) per layer.
        "longcat_flash": Family("longcat_flash", arch="layers", attention="mla", sublayers=2),
        # Gemma 4: sandwich norms, per-head q/k norms, per-layer head sizes, per-layer input embeddings.
        "gemma4_text": Family(
            "gemma4_text",
            arch="layers",
            tie_default=True,
            norms_per_layer=4,
            qk_norm=True,
            per_layer_inputs=True,
            switches=_ro(attention_k_eq_v=_ro(k_eq_v=True)),
            unmodelled_flags=("num_kv_shared_layers", "enable_moe_block", "use_double_wide_mlp"),
        ),
        # Llama-shaped decoders (gated MLP, RMSNorms, no biases) whose config says the rest.
        **{
            t: Family(t, arch="layers")
            for t in ("cwm", "emu3", "ernie4_5", "exaone", "helium", "internlm3", "iquestcoder", "vaultgemma")
        },
        "exaone4": Family("exaone4", arch="layers", qk_norm=True),  # post-norms and per-head q/k norms
        "cohere": Family("cohere", arch="layers", norms_per_layer=1),  # parallel block, one LayerNorm
        "glm": Family("glm", arch="layers", qkv_bias=True, o_bias=False),
        "glm4": Family("glm4", arch="layers", qkv_bias=True, o_bias=False, norms_per_layer=4),  # post-attn/-MLP norms
        "hyperclovax": Family("hyperclovax", arch="layers", norms_per_layer=4),  # peri-layer norms
        "stablelm": Family("stablelm", arch="layers", norm_bias=True),  # LayerNorms
        "arcee": Family("arcee", arch="layers", mlp="plain"),  # ReLU^2 up/down MLP
        "mpt": Family("mpt", arch="layers", mlp="plain"),  # ALiBi, LayerNorms without bias, up/down MLP
        "falcon": Family("falcon", arch="layers", norms_per_layer=1, norm_bias=True, mlp="plain"),
        # Mamba-2: every layer a Mamba-2 mixer under one norm.
        "mamba2": Family("mamba2", arch="layers", linear="mamba2", single_block=True),
        # Granite SWA: a learned sink per head in every layer, full and sliding (GraniteSWAAttention).
        "granite_swa": Family("granite_swa", arch="layers", sinks=True),
        "flint": Family("flint", arch="layers", qk_norm=True, sinks=True, moe="qwen", shared="qwen", shared_gate=False),
        # Beam: per-head q/k norms (BeamAttention), a gated output with a per-head bias, sandwich norms.
        "beam": Family("beam", arch="layers", qk_norm=True, attn_gate=True, attn_gate_bias=True, norms_per_layer=4),
        "jais2": Family("jais2", arch="layers", norm_bias=True, mlp="plain"),  # biases follow the config
        "persimmon": Family(
            "persimmon",
            arch="layers",
            qkv_bias=True,
            o_bias=True,
            norm_bias=True,
            mlp="plain",
            mlp_bias=True,
            qk_norm=True,
            qk_norm_bias=True,
        ),
        "nanochat": Family("nanochat", arch="layers", norms_per_layer=0, final_norm=False, mlp="plain"),
        "bloom": Family(
            "bloom",
            arch="layers",
            qkv_bias=True,
            o_bias=True,
            norm_bias=True,
            mlp="plain",
            mlp_bias=True,
            embedding_norm=True,
        ),
        "apertus": Family("apertus", arch="layers", qk_norm=True, mlp="plain", act_params=2),
        "apertus1p5_text": Family("apertus1p5_text", arch="layers", qk_norm=True, mlp="plain", act_params=2),
        "bitnet": Family("bitnet", arch="layers", sub_norms=True),
        "aria_text": Family("aria_text", arch="layers", moe="mixtral", shared="deepseek"),
        # Kolibri 1: per-head q/k norms, and one ungated shared expert of shared_expert_intermediate_size.
        "kolibri1": Family(
            "kolibri1", arch="layers", norms_per_layer=4, qk_norm=True, moe="mixtral", shared="qwen", shared_gate=False
        ),
        # Laguna: one ungated shared expert of shared_expert_intermediate_size (LagunaSparseMoeBlock).
        "laguna": Family(
            "laguna",
            arch="layers",
            qk_norm=True,
            head_gate=True,
            moe="deepseek",
            shared="qwen",
            shared_gate=False,
            router_bias=True,
        ),
        # Bamba: Mamba-2 layers with attention at attn_layer_indices.
        "bamba": Family("bamba", arch="layers", linear="mamba2"),
        # OLMo (1): non-parametric LayerNorms.
        "olmo": Family("olmo", arch="layers", norms_per_layer=0, final_norm=False),
        "olmo_hybrid": Family("olmo_hybrid", arch="layers", qk_norm="full", linear="gated_deltanet"),
        # AFMoE: gated attention (a separate gate projection), sandwich norms, dense-first MoE with bias.
        "afmoe": Family(
            "afmoe",
            arch="layers",
            qk_norm=True,
            attn_gate=True,
            norms_per_layer=4,
            moe="deepseek",
            shared="deepseek",
            router_bias=True,
        ),
        "minicpm5_moe": Family("minicpm5_moe", arch="layers", attn_gate=True, shared="deepseek"),
        "youtu": Family("youtu", arch="layers", attention="mla"),
        "minicpm3": Family("minicpm3", arch="layers", attention="mla"),
        "sarvam_mla": Family("sarvam_mla", arch="layers", attention="mla", moe="deepseek", shared="deepseek"),
        "mellum": Family("mellum", arch="layers", qk_norm=True),
        "gemma4_unified_text": Family(
            "gemma4_unified_text", arch="layers", tie_default=True, norms_per_layer=4, qk_norm=True
        ),
        # MoE decoders whose MoE placement the config gives (mlp_layer_types, or every layer).
        "cohere2_moe": Family("cohere2_moe", arch="layers", norms_per_layer=1),
        "exaone_moe": Family("exaone_moe", arch="layers", qk_norm=True, moe="mixtral", shared="deepseek"),
        "hy_v3": Family("hy_v3", arch="layers", qk_norm=True, moe="mixtral", shared="deepseek"),
        "solar_open": Family("solar_open", arch="layers", moe="mixtral", shared="deepseek"),
        "olmoe": Family("olmoe", arch="layers", qk_norm="full", moe="mixtral"),
        "flex_olmo": Family("flex_olmo", arch="layers", qk_norm="full", moe="mixtral"),
        "granitemoe": Family("granitemoe", arch="layers", moe="mixtral"),
        "granitemoe_swa": Family("granitemoe_swa", arch="layers", moe="mixtral", sinks=True),
        "granitemoeshared": Family("granitemoeshared", arch="layers", moe="mixtral", shared="dense"),
        "param2moe": Family("param2moe", arch="layers", qk_norm=True, moe="deepseek", shared="deepseek"),
        "sarvam_moe": Family("sarvam_moe", arch="layers", qk_norm=True, moe="deepseek", shared="deepseek"),
        # GPT-2: fused biased c_attn/c_proj, LayerNorms with bias, learned positions, biased fc/proj MLP.
        "gpt2": Family(
            "gpt2",
            arch="layers",
            qkv_bias=True,
            o_bias=True,
            norm_bias=True,
            mlp="plain",
            mlp_bias=True,
            learned_positions=True,
        ),
        # GPT-J / CodeGen: parallel block under one LayerNorm, bias-free attention, biased fc_in/fc_out and lm_head.
        "gptj": Family(
            "gptj", arch="layers", norms_per_layer=1, norm_bias=True, mlp="plain", mlp_bias=True, lm_head_bias=True
        ),
        "codegen": Family(
            "codegen", arch="layers", norms_per_layer=1, norm_bias=True, mlp="plain", mlp_bias=True, lm_head_bias=True
        ),
        # GPT-Neo: bias-free q/k/v, biased out_proj, learned positions.
        "gpt_neo": Family(
            "gpt_neo", arch="layers", o_bias=True, norm_bias=True, mlp="plain", mlp_bias=True, learned_positions=True
        ),
        "opt": Family(
            "opt",
            arch="layers",
            qkv_bias=True,
            o_bias=True,
            norm_bias=True,
            mlp="plain",
            mlp_bias=True,
            learned_positions=True,
            position_offset=2,
        ),
        "biogpt": Family(
            "biogpt",
            arch="layers",
            qkv_bias=True,
            o_bias=True,
            norm_bias=True,
            mlp="plain",
            mlp_bias=True,
            learned_positions=True,
            position_offset=2,
        ),
        "gpt_neox": Family(
            "gpt_neox", arch="layers", qkv_bias=True, o_bias=True, norm_bias=True, mlp="plain", mlp_bias=True
        ),
        "xglm": Family("xglm", arch="layers", qkv_bias=True, o_bias=True, norm_bias=True, mlp="plain", mlp_bias=True),
    }
)

# ---- text types (layer kinds)
# Each entry names the model it serves; what the config does not say.
FAMILIES = MappingProxyType(
    {
        **FAMILIES,
        # dots.llm1: per-head q/k norms, DeepSeek-style dense-first MoE with shared experts.
        "dots1": Family("dots1", arch="layers", qk_norm=True, moe="deepseek", shared="deepseek"),
        # DiffLlama: Llama with differential attention (two softmax maps, four lambda vectors per layer).
        "diffllama": Family("diffllama", arch="layers", diff_attention=True),
        # LFM3: LFM2's short convolutions and attention, with a per-head output gate and sandwich norms
        # where the config switches them on.
        "lfm3": Family(
            "lfm3",
            arch="layers",
            qk_norm=True,
            linear="short_conv",
            switches=_ro(use_attention_gate=_ro(head_gate=True), use_sandwich_norm=_ro(norms_per_layer=4)),
        ),
        # A.X-K1: DeepSeek-V3 with a norm on each MoE block's output.
        "axk1": Family("axk1", arch="layers", attention="mla", shared="deepseek", moe_norm=True),
        # Ling 3 (bailing_hybrid): KDA layers with full-rank gates, MLA layers with a per-head output gate.
        "bailing_hybrid": Family(
            "bailing_hybrid",
            arch="layers",
            attention="mla",
            linear="kda_full_gates",
            head_gate=True,
            shared="deepseek",
            unmodelled_flags=("attention_bias",),
        ),
        # Hy-V4: DSA with shared indexers, a full sigmoid output gate and sinks on every attention layer,
        # hyper-connections, dense-first MoE with shared experts.
        "hy_v4": Family(
            "hy_v4",
            arch="layers",
            attention="dsa",
            attn_gate=True,
            sinks=True,
            shared="deepseek",
            shared_indexers=True,
            hyper_connections=True,
            unmodelled_flags=("attention_bias",),
        ),
        # Lara-Mini: Qwen3.5 gated DeltaNet layers, sliding and full attention, Flint's MoE (ungated shared expert).
        "lara_mini": Family(
            "lara_mini",
            arch="layers",
            qk_norm=True,
            linear="gated_deltanet",
            moe="qwen",
            shared="qwen",
            shared_gate=False,
        ),
        # CTRL: biased q/k/v/o and fc MLP, LayerNorms, sinusoidal positions, a biased lm_head tied to the embedding.
        "ctrl": Family(
            "ctrl",
            arch="layers",
            qkv_bias=True,
            o_bias=True,
            mlp="plain",
            mlp_bias=True,
            norm_bias=True,
            lm_head_bias=True,
            derived=_ro(intermediate_size=("dff",)),
        ),
        # GPT-NeoX-Japanese: fused bias-free q/k/v, a bias on the last layer's attention output only,
        # LayerNorms, a bias-free up/down MLP of hidden_size x intermediate_multiple_size.
        "gpt_neox_japanese": Family(
            "gpt_neox_japanese",
            arch="layers",
            norm_bias=True,
            mlp="plain",
            last_o_bias=True,
            derived=_ro(intermediate_size=("hidden_size", "intermediate_multiple_size")),
        ),
        # A.X-K2: DSA with a fused query / output-gate projection, low-rank gated norms, DeepSeek MoE.
        "axk2": Family(
            "axk2",
            arch="layers",
            attention="dsa",
            shared="deepseek",
            mla_q_gate=True,
            gated_norms=True,
            unmodelled_flags=("attention_bias",),
        ),
        # MiniMax-Text-01: lightning (linear) attention layers holding a heads x head_dim x head_dim state,
        # softmax attention layers, a Mixtral-style MoE.
        "minimax": Family("minimax", arch="layers", linear="lightning", moe="mixtral"),
        # Ergo: fused q/k/v with per-head q/k norms, sandwich norms, residual gates, ReLU^2 up/down MLPs,
        # a routed and a shared expert each followed by its own norm.
        "ergo": Family(
            "ergo",
            arch="layers",
            qk_norm=True,
            norms_per_layer=4,
            residual_scales=2,
            mlp="plain",
            shared="plain",
            expert_norms=True,
            derived=_ro(
                intermediate_size=("first_dense_intermediate_size",),
                moe_shared_expert_intermediate_size=("shared_intermediate_size",),
            ),
        ),
        # Kolibri 1.1: sandwich norms, sliding and indexed GQA layers, some reading another layer's K/V,
        # dense MLPs on mlp_only_layers, MoE with an ungated shared expert elsewhere.
        "kolibri1_1": Family(
            "kolibri1_1",
            arch="layers",
            norms_per_layer=4,
            qk_norm=True,
            moe="qwen",
            shared="qwen",
            shared_gate=False,
            gqa_indexer=True,
            kv_sharing=True,
            derived=_ro(intermediate_size=("mlp_only_intermediate_size",)),
        ),
        # ModernBERT decoder (Ettin): LayerNorms biased per norm_bias, an embedding norm, a gated MLP fused in Wi,
        # sliding and full layers, a prediction head and a tied decoder with its own bias.
        "modernbert-decoder": Family(
            "modernbert-decoder",
            arch="layers",
            embedding_norm=True,
            mlp_bias="mlp_bias",
            lm_head_bias="decoder_bias",
            no_first_attn_norm=True,
            prediction_head=True,
            switches=_ro(norm_bias=_ro(norm_bias=True)),
        ),
        # Cosmos3-Edge's text stack: Llama attention and a plain fc1/fc2 (ReLU^2) MLP.
        "cosmos3_edge_text": Family("cosmos3_edge_text", arch="layers", mlp="plain"),
        # Cosmos3-Edge: that text stack, a SigLIP2 tower and a patch merger; images at most the processor's
        # longest_edge (4096 x 4096 pixels), the size vLLM profiles with.
        "cosmos3_edge": Family(
            "cosmos3_edge",
            arch="layers",
            mlp="plain",
            text_key="text_config",
            vision="siglip2_merger",
            vision_defaults=_ro(image_size=4096),
        ),
        # Muse Glimmer's text stack: Gemma 2 sandwich norms, a full sigmoid output gate, weightless q/k norms.
        "muse_glimmer_text": Family("muse_glimmer_text", arch="layers", norms_per_layer=4, attn_gate=True),
        # Muse Glimmer: that text stack, a MoonViT-style tower and an MLP adapter; images of at most
        # max_image_tokens 4096 merged 28-pixel cells (1792 x 1792 pixels).
        "muse_glimmer": Family(
            "muse_glimmer",
            arch="layers",
            norms_per_layer=4,
            attn_gate=True,
            text_key="text_config",
            vision="moonvit_adapter",
            vision_defaults=_ro(image_size=1792),
        ),
        # Muse Spark's text stack: Muse Glimmer's attention, three weighted norms and two residual gates per
        # layer, MoE layers whose experts work in a latent width.
        "muse_spark_text": Family(
            "muse_spark_text", arch="layers", norms_per_layer=3, residual_scales=2, attn_gate=True, moe_latent=True
        ),
        # Muse Spark: that text stack, Muse Glimmer's tower and a convolutional waveform encoder.
        "muse_spark": Family(
            "muse_spark",
            arch="layers",
            norms_per_layer=3,
            residual_scales=2,
            attn_gate=True,
            moe_latent=True,
            text_key="text_config",
            vision="moonvit_adapter",
            vision_defaults=_ro(image_size=1792),
        ),
        # Step 3.5 (Step-3.7-Flash's text stack): per-head q/k norms and output gate, dense-first MoE with
        # an ungated shared expert of share_expert_dim.
        "step3p5": Family(
            "step3p5",
            arch="layers",
            qk_norm=True,
            head_gate=True,
            moe="mixtral",
            shared="qwen",
            shared_gate=False,
            required=_ro(gating=(True, "per-head", None)),  # absent: Step3p5Config's default, True
            derived=_ro(shared_expert_intermediate_size=("share_expert_dim",)),
            # the legacy per-layer-type override of head counts (newer configs give per_layer_config)
            unmodelled_flags=("attention_other_setting",),
        ),
        # Step-3.7-Flash: that text stack, a ViT downsampled by two convolutions, a linear projector.
        "step3p7": Family(
            "step3p7",
            arch="layers",
            qk_norm=True,
            head_gate=True,
            moe="mixtral",
            shared="qwen",
            shared_gate=False,
            required=_ro(gating=(True, "per-head", None)),
            derived=_ro(shared_expert_intermediate_size=("share_expert_dim",)),
            # the legacy per-layer-type override of head counts (newer configs give per_layer_config)
            unmodelled_flags=("attention_other_setting",),
            text_key="text_config",
            vision="conv_downsampled",
        ),
        # HRM-Text: two stacks of gated-attention layers with weightless norms, run in cycles.
        "hrm_text": Family(
            "hrm_text", arch="layers", attn_gate=True, norms_per_layer=0, final_norm=False, weight_stacks=2
        ),
        # Dory: nGPT-style weightless L2 norms, a gated attention output, learned scales, looped middle layers.
        "dory": Family(
            "dory",
            arch="layers",
            attn_gate=True,
            norms_per_layer=0,
            final_norm=False,
            residual_scales=2,
            attn_scales=2,
            mlp_scales=2,
            logit_scale=True,
            paired_layer_types=True,
            recurrent_loops=True,
        ),
        # JetMoE: mixture-of-attention (q/o experts over shared k/v) and a gated MoE with an output bias.
        "jetmoe": Family("jetmoe", arch="layers", attention="moa", moe="mixtral", moe_bias=True),
        # Doge: per-head q/k norms, a learned dynamic mask, learned residual scales; CDMoE not modelled.
        "doge": Family(
            "doge", arch="layers", qk_norm=True, dynamic_mask=True, residual_scales=2, unmodelled_flags=("is_moe",)
        ),
    }
)


def _composite(model_type: str, text: str, vision: Vision, **kw: Any) -> Family:
    """An image-text type: the text stack of ``text``'s family under ``text_config``, and a vision tower."""
    base = FAMILIES[text]
    return replace(base, model_type=model_type, text_key="text_config", vision=vision, **kw)


FAMILIES = MappingProxyType(
    {
        **FAMILIES,
        # Qwen3-VL / Qwen3.5: a ViT with learned positions, a patch merger and (3-VL) deepstack mergers.
        "qwen3_vl_text": replace(FAMILIES["qwen3"], model_type="qwen3_vl_text", arch="layers"),
        "qwen3_vl_moe_text": replace(FAMILIES["qwen3_moe"], model_type="qwen3_vl_moe_text", arch="layers"),
    }
)
FAMILIES = MappingProxyType(
    {
        **FAMILIES,
        # Their checkpoints' preprocessor_config.json (Qwen3-VL, Qwen3.5, Qwen3.6) cap an image at
        # longest_edge 16,777,216 pixels = 4096 x 4096, the image vLLM profiles the encoder with; the
        # vision config carries no image size of its own.
        "qwen3_vl": _composite("qwen3_vl", "qwen3_vl_text", "qwen3_vl", vision_defaults=_ro(image_size=4096)),
        "qwen3_vl_moe": _composite(
            "qwen3_vl_moe", "qwen3_vl_moe_text", "qwen3_vl", vision_defaults=_ro(image_size=4096)
        ),
        "qwen3_5": _composite("qwen3_5", "qwen3_5_text", "qwen3_vl", vision_defaults=_ro(image_size=4096)),
        "qwen3_5_moe": _composite("qwen3_5_moe", "qwen3_5_moe_text", "qwen3_vl", vision_defaults=_ro(image_size=4096)),
        "gemma4": _composite("gemma4", "gemma4_text", "gemma4"),  # towers in estimator.towers
        # LLaVA / LLaVA-NeXT: a CLIP (or SigLIP) tower and a two-layer projector; the text family by type.
        "llava": _composite("llava", "llama", "llava"),
        "llava_next": _composite("llava_next", "llama", "llava_next"),
        "llava_next_video": _composite("llava_next_video", "llama", "llava_next"),
        "llava_onevision": _composite("llava_onevision", "qwen2", "llava_next"),
        "vipllava": _composite("vipllava", "llama", "vipllava"),
        "cosmos3_omni": _composite("cosmos3_omni", "qwen3_vl_text", "qwen3_vl"),
        "shieldgemma2": replace(FAMILIES["gemma3"], model_type="shieldgemma2"),
        "lighton_ocr": _composite("lighton_ocr", "qwen3", "pixtral"),
        "paligemma": _composite("paligemma", "gemma", "paligemma"),
        # Idefics3 / SmolVLM: a SigLIP-style tower without the pooling head, a pixel-shuffle connector.
        "idefics3": _composite("idefics3", "llama", "idefics3"),
        "smolvlm": _composite("smolvlm", "llama", "idefics3"),
        # Kimi-K2.5: MoonViT and a patch-merging projector over a DeepSeek-V3 text stack.
        "kimi_k25": _composite("kimi_k25", "deepseek_v3", "kimi_k25"),
        "video_llava": _composite("video_llava", "llama", "video_llava"),
        "deepseek_vl": _composite("deepseek_vl", "llama", "llava"),  # SigLIP and a two-linear aligner
        "cohere2_vision": _composite("cohere2_vision", "cohere2", "cohere2_vision"),
        # InternVL: InternViT and a pixel-shuffle projector over a Qwen2 text stack.
        "internvl": _composite("internvl", "qwen2", "internvl"),
        # ---- multimodal types (own layers): towers in estimator.towers_mm, text stacks of known families.
        # GLM-4.1V / 4.6V (and GLM-ga): a GLM-4 text stack (biased q/k/v, post-attention/-MLP norms); GLM-4.6V
        # and GLM-ga take whichever GLM-4V text stack their text_config names (4.6V: the MoE one).
        "glm4v_text": replace(FAMILIES["glm4"], model_type="glm4v_text"),
        "glm4v_moe_text": replace(FAMILIES["glm4_moe"], model_type="glm4v_moe_text"),
        "glm4v": _composite("glm4v", "glm4", "own"),
        "glm46v": _composite("glm46v", "glm4", "own"),
        "glmga": _composite("glmga", "glm4", "own"),
        # GLM-4.5V: a GLM-4.5 MoE text stack.
        "glm4v_moe": _composite("glm4v_moe", "glm4_moe", "own"),
        # GLM-OCR: a GLM-4 text stack without q/k/v biases.
        "glm_ocr": _composite("glm_ocr", "glm4", "own", qkv_bias=False),
        # PaddleOCR-VL: an ERNIE-4.5 text stack whose biases follow use_bias.
        "paddleocr_vl": _composite(
            "paddleocr_vl", "ernie4_5", "own", qkv_bias="use_bias", o_bias="use_bias", mlp_bias="use_bias"
        ),
        # Qwen2.5-Omni's thinker: a Qwen2 text stack under vision and audio encoders.
        "qwen2_5_omni_thinker": _composite("qwen2_5_omni_thinker", "qwen2", "own"),
        # Granite-Docling: a Granite text stack (its multipliers change no tensor).
        "granite_docling": _composite("granite_docling", "granite", "own"),
        # MiniMax-M3-VL: per-head q/k norms, MoE layers with an always-on shared MLP, dense layers of their own width.
        "minimax_m3_vl_text": Family(
            "minimax_m3_vl_text",
            arch="layers",
            qk_norm=True,
            moe="mixtral",
            shared="dense",
            dense_width="dense_intermediate_size",
        ),
        # GIT: a BERT-style decoder (post-LayerNorms, learned positions and an embedding LayerNorm,
        # a biased output layer) over a CLIP image encoder.
        "git": Family(
            "git",
            arch="layers",
            qkv_bias=True,
            o_bias=True,
            norm_bias=True,
            mlp="plain",
            mlp_bias=True,
            learned_positions=True,
            embedding_norm=True,
            final_norm=False,
            lm_head_bias=True,
            vision="own",
        ),
        # Kosmos-2 / 2.5: XGLM-style layers (biased attention and fc1/fc2, LayerNorms, sinusoidal positions) with a
        # LayerNorm over the MLP width before fc2 (Kosmos-2 also one before out_proj); 2.5 adds segment embeddings.
        "kosmos-2": _composite(
            "kosmos-2",
            "xglm",
            "own",
            sub_norms=True,
            tie_default=True,
        ),
        "kosmos-2.5": _composite(
            "kosmos-2.5",
            "xglm",
            "own",
            sub_norms="mlp",
            token_types=2,
            tie_default=True,
        ),
        # IDEFICS: Llama layers with gated cross-attention layers (estimator.towers_mm) over a CLIP encoder.
        "idefics": replace(FAMILIES["llama"], model_type="idefics", vision="own"),
        # Phi-4-multimodal: a Phi-3 text stack (top-level fields) under vision and audio encoders.
        "phi4_multimodal": replace(FAMILIES["phi3"], model_type="phi4_multimodal", vision="own"),
        # Molmo2: a Qwen3-style text stack (per-head q/k norms) with extra embedding rows for its image tokens.
        "molmo2": _composite("molmo2", "llama", "own", o_bias=False, qk_norm=True, extra_vocab="additional_vocab_size"),
    }
)
FAMILIES = MappingProxyType(
    {
        **FAMILIES,
        "minimax_m3_vl": _composite("minimax_m3_vl", "minimax_m3_vl_text", "own"),  # MiniMax-M3-VL
        # HY-V4-VL and LFM3-VL: their towers over the Hy-V4 and LFM3 text stacks, where those are registered.
        **{
            vl: _composite(vl, text, "own")
            for vl, text in (("hy_v4_vl", "hy_v4"), ("lfm3_vl", "lfm3"))
            if text in FAMILIES
        },
    }
)
# ---- image-text types (vision towers): towers and projectors in estimator.towers
FAMILIES = MappingProxyType(
    {
        **FAMILIES,
        # BLIP-2 / InstructBLIP: an EVA ViT, a Q-Former and a language projection over OPT.
        "blip-2": _composite("blip-2", "opt", "blip2"),
        "instructblip": _composite("instructblip", "opt", "blip2"),
        "instructblipvideo": _composite("instructblipvideo", "opt", "blip2"),
        # GOT-OCR2 / PP-Chart2Table: a SAM ViT, two stride-2 convolutions and a linear over Qwen2.
        "got_ocr2": _composite("got_ocr2", "qwen2", "got_ocr2"),
        "pp_chart2table": _composite("pp_chart2table", "qwen2", "got_ocr2"),
        # Idefics2: a SigLIP tower without its head, a gated MLP and a perceiver resampler, over Mistral.
        "idefics2": _composite("idefics2", "mistral", "idefics2"),
        # LFM2-VL: a SigLIP2 (NaFlex) tower and a pixel-unshuffle MLP over LFM2.
        "lfm2_vl": _composite("lfm2_vl", "lfm2", "lfm2_vl"),
        # Aria: an Idefics3-style SigLIP tower and a cross-attention projector over Aria's MoE stack.
        "aria": _composite("aria", "aria_text", "aria"),
        # VideoLLaMA3: a rotary SigLIP tower (images up to the processor's max_pixels, 28 * 28 * 1280,
        # a 1001-pixel square) and two linears over Qwen2.
        "video_llama_3": _composite("video_llama_3", "qwen2", "video_llama_3", vision_defaults=_ro(image_size=1001)),
        # Qwen2-VL-processor types: images up to its default max_pixels (3584 x 3584).
        # HyperCLOVA X SEED vision: Qwen2.5-VL's ViT and a linear over HyperCLOVA X.
        "hyperclovax_vision_v2": _composite(
            "hyperclovax_vision_v2", "hyperclovax", "merger_linear", vision_defaults=_ro(image_size=3584)
        ),
        # EXAONE 4.5: a Qwen2.5-VL-style ViT with grouped KV heads; its merger is the projector.
        "exaone4_5": _composite("exaone4_5", "exaone4", "merger", vision_defaults=_ro(image_size=3584)),
        # LLaVA-OneVision-1.5: RiceViT and its patch merger over Qwen3.
        "llava_onevision1_5": _composite("llava_onevision1_5", "qwen3", "merger", vision_defaults=_ro(image_size=3584)),
        # Qianfan-OCR: InternViT and an InternVL-style pixel-shuffle projector over Qwen3.
        "qianfan_ocr": _composite("qianfan_ocr", "qwen3", "pixel_shuffle_ln_mlp"),
        # MiniCPM-V 4.6 / 4.7, MiniCPM-OCR: a SigLIP tower with a window-attention merger inside,
        # and an MLP merger, over Qwen3.5's text stack.
        "minicpm_ocr": _composite("minicpm_ocr", "qwen3_5_text", "minicpm"),
        "minicpmv4_6": _composite("minicpmv4_6", "qwen3_5_text", "minicpm"),
        "minicpmv4_7": _composite("minicpmv4_7", "qwen3_5_text", "minicpm"),
        # Ovis2: a visual tokenizer (an RMS-normed ViT with a softmax head over a visual vocabulary)
        # and a visual embedding table, over Qwen2. Ovis2.5: a SigLIP tower, the same over Qwen3.
        "ovis2": _composite("ovis2", "qwen2", "ovis2"),
        "ovis2_5": _composite("ovis2_5", "qwen3", "ovis2_5"),
        # DeepSeek-VL (hybrid): a SigLIP tower and a high-resolution SAM tower, aligned over Llama.
        "deepseek_vl_hybrid": _composite("deepseek_vl_hybrid", "llama", "deepseek_vl_hybrid"),
        # Nemotron-H Omni: a RADIO tower and a pixel-shuffle MLP (a Parakeet audio encoder and its MLP
        # where the config has audio) over Nemotron-H.
        "nemotron_h_omni": _composite("nemotron_h_omni", "nemotron_h", "nemotron_h_omni"),
        # MOSS transcribe-diarize: a Whisper encoder and a merged-frame MLP over Qwen3 (audio only).
        "moss_transcribe_diarize": _composite("moss_transcribe_diarize", "qwen3", "moss"),
        # Janus: a SigLIP-style tower and an aligner for understanding, a VQGAN and heads for
        # generating images, over Llama.
        "janus": _composite("janus", "llama", "janus"),
        # Apertus 1.5: discrete image (Emu3.5 VQGAN encoder) and audio (WavTokenizer) tokenizers whose
        # codes are text-vocabulary tokens: no projector, over Apertus 1.5's text stack.
        "apertus1p5": _composite("apertus1p5", "apertus1p5_text", "merger"),
        # Gemma 4 unified: an encoder-free patch embedder and raw audio frames, each into one linear.
        "gemma4_unified": _composite("gemma4_unified", "gemma4_unified_text", "gemma4"),
        # ---- stacks unlike any decoder family, built in estimator.stacks
        # X-MOD (facebook/xmod-base): RoBERTa layers with one adapter per language.
        "xmod": Family("xmod", arch="special", tie_default=True),
        # CPM-Ant 10B (openbmb/cpm-ant-10b): learned prompt tokens cached with every sequence.
        "cpmant": Family("cpmant", arch="special", never_tied=True),
        # XLNet (xlnet/xlnet-large-cased): its cache is each layer's hidden-state memory.
        "xlnet": Family("xlnet", arch="special", tie_default=True),
        # xLSTM 7B (NX-AI/xLSTM-7b): mLSTM blocks with a fixed matrix-memory state.
        "xlstm": Family("xlstm", arch="special"),
        # dots.llm3 note (dots-studio/dots3-note-prev): MLA layers of two geometries, DSA and sliding.
        "dots3_note_text": Family("dots3_note_text", arch="special", attention="dsa"),
        "dots3_note": Family("dots3_note", arch="special", attention="dsa", text_key="text_config", vision="own"),
    }
)

# ---- oracle-gap types: sized once the oracle's forward ran (a placeholder default replaced by a
# published config, or the forward given what the model needs).
FAMILIES = MappingProxyType(
    {
        **FAMILIES,
        # Qwen3-Omni-30B-A3B's thinker: the Qwen3-VL ViT and its own audio encoder over a Qwen3 MoE
        # text stack with interleaved M-RoPE (the cache is the text stack's).
        "qwen3_omni_moe_thinker": _composite("qwen3_omni_moe_thinker", "qwen3_vl_moe_text", "own"),
    }
)

# ---- image-text types with timm towers (Gemma 3n, FastVLM): counted in estimator.towers
FAMILIES = MappingProxyType(
    {
        **FAMILIES,
        # Gemma 3n E2B / E4B: a timm MobileNetV5 and a USM audio encoder, each into an embedder, over
        # the Gemma 3n text stack.
        "gemma3n": _composite("gemma3n", "gemma3n_text", "gemma3n"),
        # FastVLM-7B (apple/FastVLM-7B): a timm FastViTHD tower and two linears over Qwen2; images
        # at its processor's 1024-pixel square.
        "fast_vlm": _composite("fast_vlm", "qwen2", "fast_vlm", vision_defaults=_ro(image_size=1024)),
    }
)

# Types whose text_config names a known stack but whose model is not that stack: refused, with why.
UNMODELLED: MappingProxyType[str, str] = MappingProxyType(
    {
        "gemma4_assistant": "a Gemma 4 draft model that reads the target model's KV states",
        "gemma4_unified_assistant": "a Gemma 4 draft model that reads the target model's KV states",
        # Decoders whose cross-attention caches the image (encoder) states: a cache that depends on the images.
        "blip": "its text decoder's cross-attention layers cache the image tokens' keys and values",
        "trocr": "an image-to-text decoder whose cross-attention caches the encoder's states",
        # Moshi serves the temporal transformer with a depth decoder and the Mimi audio codec.
        "moshi": "a speech model: its depth decoder and Mimi audio codec",
    }
)

# Read through the standard (Llama-style) fields, with a warning in the spec.
UNKNOWN = _LLAMA


def family(model_type: str) -> Family | None:
    """The registered family for ``model_type``, or None when it is not one we know."""
    return FAMILIES.get(model_type)
