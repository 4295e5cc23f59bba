"""The typed, normalised description of a model that every calculation reads.

``estimator.config.load_model_spec`` builds a :class:`ModelSpec` from a ``config.json``
(and, when the caller has it, the checkpoint's safetensors metadata). Nothing downstream
reads raw config dicts: every quirk is resolved once, there.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

# Formats a user can ask for with ``dtype=`` (closed set, see the interface spec).
WeightFormat = Literal["bf16", "fp16", "fp32", "fp8", "int8", "int4", "nf4", "mxfp4", "nvfp4", "awq", "gptq"]
# The unquantized weight formats: a float checkpoint loaded as is (or cast).
FLOAT_FORMATS: frozenset[str] = frozenset({"bf16", "fp16", "fp32"})
# Dtypes of unquantized tensors and of activations.
TorchDType = Literal["fp32", "bf16", "fp16"]
# Dtypes the KV cache can be stored in. Past the plain element types, vLLM's quantized layouts:
# "nvfp4" (FP4 values two per byte plus an FP8 scale per 16) and "int8_per_token_head" (int8 values
# plus an fp32 scale per token and head for K and for V); see ``estimator.kv.head_token_bytes``.
KVDType = Literal["bf16", "fp16", "fp32", "fp8", "int8", "nvfp4", "int8_per_token_head"]
QuantMethod = Literal["none", "fp8", "int8", "gptq", "awq", "compressed-tensors", "bitsandbytes", "mxfp4", "modelopt"]
LayerKind = Literal["full", "sliding", "mla", "state", "none"]

DTYPE_BYTES: dict[str, int] = {"fp32": 4, "bf16": 2, "fp16": 2, "fp8": 1, "int8": 1}


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ParamCounts(Frozen):
    """Parameter counts by component, summed over all layers (unique tensors: tied = counted once)."""

    embedding: int
    lm_head: int = 0  # 0 when tied to the embedding
    attention: int = 0  # q/k/v/o or MLA projections, their biases and q/k norms
    dense_mlp: int = 0  # dense MLP weights (and biases)
    routed_experts: int = 0  # every routed expert, every MoE layer
    shared_experts: int = 0  # always-on experts (DeepSeek, Qwen2-MoE, Llama 4)
    router: int = 0  # MoE gates
    norms: int = 0  # layer norms and the final norm
    other: int = 0  # SSM / linear-attention mixers and anything else in the text stack
    vision: int = 0  # vision tower and multimodal projector
    active: int  # parameters one token touches (MoE: k of E routed experts); equals total for dense

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total(self) -> int:
        return (
            self.embedding
            + self.lm_head
            + self.attention
            + self.dense_mlp
            + self.routed_experts
            + self.shared_experts
            + self.router
            + self.norms
            + self.other
            + self.vision
        )


class LayerKV(Frozen):
    """What one decoder layer caches per token (or per sequence, for state layers)."""

    kind: LayerKind
    window: int | None = None  # sliding layers: the attention window from the config
    # Sliding layers that attend within fixed chunks of ``window`` tokens (Llama-4's attention_chunk_size)
    # rather than over the last ``window`` tokens.
    chunked: bool = False
    kv_heads: int = 0  # cached heads (MLA: 1, the shared latent)
    key_dim: int = 0  # cached key width per head (MLA: kv_lora_rank)
    value_dim: int = 0  # cached value width per head (MLA: qk_rope_head_dim)
    state_elements: int = 0  # fixed per-sequence state elements (SSM conv + ssm state), kind="state"
    # The parts of a Mamba state, which engines store differently
    # (transformers: conv window of conv_kernel in the model dtype, SSM state in fp32; vLLM: a
    # conv window of conv_kernel - 1, SSM state in the model dtype). 0 when not a Mamba layer.
    conv_channels: int = 0
    conv_kernel: int = 0
    ssm_state_elements: int = 0
    # Optional, defaults keep older readers working:
    # What a "state" layer is: Mamba-1/2 mixers, gated DeltaNet (Qwen3-Next, Qwen3.5), Kimi Delta
    # Attention, a short convolution (LFM2). "" for attention layers.
    # RWKV (v4): time-mix / channel-mix; its two token-shift vectors are held as a conv window of 2.
    # ZAYA's compressed convolutional attention ("cca") keeps a q/k conv window and the previous
    # token's delayed value half beside its KV cache.
    # xLSTM's mLSTM keeps a matrix memory, its normaliser and max state (all in state_elements).
    mixer: Literal["", "mamba", "mamba2", "gated_deltanet", "kda", "short_conv", "rwkv", "cca", "mlstm"] = ""
    # Bytes per element of the recurrent (ssm) state as transformers keeps it (4: fp32; 0: the
    # model dtype). Mamba and the linear-attention kernels (gated DeltaNet, KDA) keep fp32.
    ssm_state_dtype_bytes: int = 4
    # DSA "indexed" attention (DeepSeek-V3.2, GLM-5, Mistral Large 4): the lightning indexer's key
    # cached per token next to the MLA latent (kind="mla"), in the model dtype. 0: no indexer.
    index_dim: int = 0
    # DeepSeek-V4 compressed attention (CSA / HCA), beside the layer's sliding window: one compressed
    # entry of ``compressed_dim`` elements per ``compress_rate`` tokens, the ``compress_buffer_dim``
    # elements of each token of the unfinished window, and once a window has closed its overlap
    # (``overlap_dim`` elements, plus as many fp32 gates). 0: no compression.
    # Bytes per element of the conv window as transformers keeps it (0: the model dtype; Inkling's
    # short convolutions run and cache in fp32).
    conv_state_dtype_bytes: int = 0
    compress_rate: int = 0
    compressed_dim: int = 0
    compress_buffer_dim: int = 0
    overlap_dim: int = 0
    # Bytes per element of the per-token cache as transformers keeps it, whatever KV dtype is asked
    # (0: the KV dtype). XLNet's memory is fp32: its forward runs in fp32 only.
    cache_dtype_bytes: int = 0
    # Bytes per element of the DSA indexer's cached key (0: as the latent). dots.llm3 keeps it in fp32.
    index_dtype_bytes: int = 0
    # Tokens every sequence caches ahead of its own (CPM-Ant's prompt_length learned prompt tokens).
    prefix_tokens: int = 0
    # The heads a state layer's mixer splits across tensor-parallel ranks (gated DeltaNet's value
    # heads, KDA's heads, Mamba-2's heads) and the groups beside them (gated DeltaNet's key heads,
    # Mamba-2's n_groups). 0: not recorded (other mixers, attention layers).
    mixer_heads: int = 0
    mixer_groups: int = 0
    # A gated DeltaNet layer's key head width (linear_key_head_dim): vLLM picks its prefill kernel by
    # it on Blackwell. 0: not recorded (other mixers, attention layers).
    mixer_key_dim: int = 0


# A divisor read from a config (group and block sizes): zero or negative would divide by zero or
# turn bytes negative, and past 2**40 it is no real layout.
_Positive = Annotated[int, Field(ge=1, le=2**40)]


class Quantization(Frozen):
    """How the checkpoint's weights are stored."""

    method: QuantMethod = "none"
    format: WeightFormat  # the user-facing name: bf16, fp8, gptq, awq, nf4, mxfp4, ...
    weight_bits: Annotated[int, Field(ge=1, le=32)] = 16  # bits per quantized weight element (a config may say -4)
    group_size: _Positive | None = None  # elements sharing one scale (None: per channel / per tensor)
    # Which weights the method quantizes: every linear layer in the text stack, or only the
    # routed experts (gpt-oss's MXFP4). Embeddings, lm_head, norms and routers stay unquantized.
    scope: Literal["linear", "experts"] = "linear"
    skipped_modules: tuple[str, ...] = ()
    block_size: tuple[_Positive, _Positive] | None = None  # FP8 block scales [out, in] (None: per channel/tensor)
    # What one scale covers when group_size and block_size are None: a whole tensor or one output row.
    granularity: Literal["tensor", "channel"] = "channel"
    scale_bytes: Annotated[int, Field(ge=0, le=8)] = 2  # bytes per stored scale (fp32 4, fp16/bf16 2, e8m0/u8 1)
    zero_points: bool = False  # asymmetric int schemes store packed zero points per group (GPTQ, AWQ)
    # GPTQ's ``sym``: symmetric quantization (its stored qzeros are constant); vLLM serves only these.
    symmetric: bool = True
    # GPTQ's ``desc_act`` with groups: rows quantized in activation order, so a row's group is read
    # from the stored ``g_idx`` (kernels keep it, sorted, and vLLM 0.30+ refuses such checkpoints).
    act_order: bool = False
    double_quant: bool = False  # bitsandbytes nf4: absmax quantized to 8 bits (+ fp32 per 256 blocks)
    # fp32 scalars each quantized matrix stores besides its group scales: NVFP4's weight global scale,
    # plus the input global scale when activations are quantized too (W4A4).
    tensor_scales: Annotated[int, Field(ge=0, le=8)] = 0
    # Routed experts stored in another format than the rest: DeepSeek-V4-Flash's MXFP4 experts
    # (``expert_dtype: fp4``) beside block-fp8 linears. "": the experts are as the rest.
    expert_format: Literal["", "mxfp4"] = ""


class VisionSpec(Frozen):
    """The vision tower of a multimodal model (for its parameters and encoder activations)."""

    hidden_size: int
    num_layers: int
    intermediate_size: int
    num_heads: int
    image_size: int
    patch_size: int
    # How vLLM's encoder profile run sees the tower. "generic": one square image of ``image_size``
    # through a stack sized by its widths alone. "qwen2_5_vl" / "qwen3_vl": the Qwen ViTs whose
    # forward vLLM's profile is modelled tensor by tensor (estimator.engines.vllm.encoder_profile);
    # ``image_size`` is then the side of the processor's largest image (max_pixels = side^2).
    encoder: Literal["generic", "qwen2_5_vl", "qwen3_vl"] = "generic"
    merge_size: int = Field(1, ge=1)  # patches merged per side into one token the text model reads
    temporal_patch_size: int = Field(1, ge=1)  # frames one patch spans (an image is padded to it)
    in_channels: int = Field(3, ge=1)
    output_width: int = Field(0, ge=0)  # width of one merged token handed to the text model (all levels)
    deepstack_levels: int = Field(0, ge=0)  # Qwen3-VL: intermediate layers merged and handed on as well
    # A multimodal prefix LM (bidirectional attention over an item's tokens): vLLM prefills an item
    # whole, so its batch (max_num_batched_tokens) must hold the largest one, this many tokens; 0: items
    # are chunked like text.
    prefix_item_tokens: int = Field(0, ge=0)


# A count read from a checkpoint header or the Hub (dimensions, bytes, elements): never negative.
_NonNegative = Annotated[int, Field(ge=0)]


class TensorInfo(Frozen):
    dtype: str  # safetensors dtype: BF16, F16, F32, F8_E4M3, U8, I32, ...
    shape: tuple[_NonNegative, ...]
    nbytes: _NonNegative  # from the header's data_offsets: exact bytes on disk


class SafetensorsInfo(Frozen):
    """What the checkpoint's safetensors metadata says (from the Hub or a local folder)."""

    parameters: dict[str, _NonNegative]  # element count by dtype, as the Hub reports it
    tensors: dict[str, TensorInfo] | None = None  # per tensor, when the headers were read

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total_bytes(self) -> int | None:
        if self.tensors is None:
            return None
        return sum(t.nbytes for t in self.tensors.values())


LinearComponent = Literal["attention", "dense_mlp", "routed_experts", "shared_experts", "other", "lm_head"]
LinearSplit = Literal["column", "row", "kv", "vocab", "none"]


class LinearWeights(Frozen):
    """A group of identical weight matrices (``count`` of them), for quantized bytes and TP shares.

    Only matrices a quantization scheme may quantize are listed (plus ``lm_head``); embeddings,
    norms, biases, routers and vision towers are the rest of ``params`` and stay in torch dtype.
    """

    component: LinearComponent
    in_features: int
    out_features: int
    count: int
    # How tensor parallelism splits it: column (out features), row (in features), kv (out features,
    # by KV heads, replicated where gpus > KV heads), vocab (lm_head rows), none (replicated).
    split: LinearSplit


class PipelineStage(Frozen):
    """Which pipeline-parallel rank a stage spec is (``estimator.pipeline.stage_spec``): its place
    among ``size`` ranks and its decoder layers [start, end) of the whole model's ``whole_layers``."""

    rank: int
    size: int
    start: int
    end: int
    whole_layers: int
    whole_params: int  # the whole model's parameter count (n= scales the weights by it)

    @property
    def first(self) -> bool:
        return self.rank == 0

    @property
    def last(self) -> bool:
        return self.rank == self.size - 1


class ModelSpec(Frozen):
    """One model, normalised: the geometry every calculation needs."""

    model_type: str
    known_family: bool  # False: a model_type whose layers vram does not model (see ``unread``)
    architectures: tuple[str, ...] = ()
    torch_dtype: TorchDType  # dtype of unquantized tensors and activations
    hidden_size: int
    num_layers: int
    num_attention_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    intermediate_size: int  # dense MLP width (0 when every layer is MoE)
    num_experts: int = 0  # routed experts per MoE layer (0: dense)
    experts_per_token: int = 0
    moe_intermediate_size: int = 0
    num_moe_layers: int = 0
    # Per decoder layer, whether it is a MoE layer (empty where vram has no placement rule for it).
    moe_layer_flags: tuple[bool, ...] = ()
    max_position_embeddings: int | None = None
    # The longest max_model_len the config allows once its RoPE scaling is applied, derived the way
    # vLLM's model config does (yarn: original positions x factor; linear/dynamic: positions x factor;
    # llama3/longrope/su: the positions as given). None when the config names no positions.
    scaled_max_positions: int | None = None
    # The config's RoPE scaling type (rope_type, else type): "default" without scaling.
    rope_scaling_type: str = "default"
    tie_word_embeddings: bool = False
    layers: tuple[LayerKV, ...]  # one per decoder layer
    # Bytes the cache holds once, whatever the batch (xLSTM's int64 step counter, shape [1]).
    cache_shared_bytes: int = 0
    # Multi-token-prediction layers the checkpoint ships beside the decoder (mtp_num_hidden_layers /
    # num_nextn_predict_layers): what vLLM's MTP speculative decoding loads and caches.
    mtp_layers: int = 0
    # The config's mamba_ssm_dtype (Qwen3.5/3.6 publish float32): the recurrent state's dtype where
    # the engine's config hook applies it (vLLM's Qwen3_5ForConditionalGenerationConfig). None: unset.
    mamba_ssm_dtype: TorchDType | None = None
    # DeepSeek-V4: the rotary part of each head (qk_rope_head_dim), and how many distinct rope bases its
    # layers use (rope_theta; compress_rope_theta on compressed layers). 0: not DeepSeek-V4.
    rope_head_dim: int = 0
    rope_bases: int = 0
    params: ParamCounts
    quantization: Quantization
    vision: VisionSpec | None = None
    # Exact bytes of the stored tensors, from safetensors headers, when known.
    checkpoint_bytes: int | None = None
    # Of those, the bytes stored in float32 (what an engine that downcasts a float32 checkpoint halves).
    checkpoint_fp32_bytes: int | None = None
    params_source: Literal["config", "safetensors", "gguf"] = "config"
    # The checkpoint's own name for a format outside WeightFormat (GGUF "Q4_K_M"), shown as is.
    format_label: str | None = None
    warnings: tuple[str, ...] = ()
    # What vram could not establish about this model (an architecture it does not model, a type the
    # installed transformers does not know): when non-empty, the numbers are not a basis for a
    # verdict and no answer carries one.
    unread: tuple[str, ...] = ()
    # Where the config was filled from: transformers' config class ("transformers"), the generated
    # table of its defaults ("table"), or the raw config.json ("raw": a type transformers lacks).
    config_source: Literal["table", "transformers", "raw"] = "raw"
    # The weight matrices, for quantized bytes and tensor-parallel shares.
    linears: tuple[LinearWeights, ...] = ()
    # Key projections whose output is also the values (Gemma 4's attention_k_eq_v global layers): one
    # matrix in the checkpoint and in transformers, but vLLM loads it into both the K and the V slot
    # of its fused qkv_proj, so it holds each of these twice.
    value_from_key: tuple[LinearWeights, ...] = ()
    # The draft model vLLM's speculative decoding loads beside this one (``draft=``), when asked.
    drafter: Drafter | None = None
    # Set on the spec of one pipeline-parallel rank (its layers, and the embedding / LM head only
    # where that rank holds them); None for a whole model.
    pp_stage: PipelineStage | None = None


# Speculative methods whose drafter vram sizes (vLLM ``--speculative-config`` ``method``).
DraftMethod = Literal["dflash", "eagle", "eagle3", "draft_model"]
# The decoder layer of an EAGLE-3 head: Llama's (Eagle3LlamaForCausalLM) or Qwen3's, with per-head
# q/k norms (Eagle3Qwen3ForCausalLM, vLLM 0.24+).
Eagle3Layer = Literal["llama", "qwen3"]


class Drafter(Frozen):
    """A separate draft model for vLLM's speculative decoding: its own config, and what of it vLLM
    loads beside the target (its embedding and LM head are the target's unless it ships its own)."""

    model_id: str
    method: DraftMethod
    spec: ModelSpec  # the drafter's own config (its decoder layers, their KV heads)
    # DFlash / EAGLE-3's ``fc``: the target's hidden states at the tapped layers, concatenated,
    # projected to the drafter's width (in_features = target hidden x taps). 0: none.
    fc_in_features: int = 0
    own_embed_tokens: bool = False  # the checkpoint ships ``embed_tokens`` (else the target's is shared)
    own_lm_head: bool = False  # the checkpoint ships ``lm_head`` (else the target's is shared)
    # EAGLE-3 (``Eagle3LlamaForCausalLM``): the LM head's rows (``draft_vocab_size``, else the
    # drafter's vocabulary); the target hidden states the ``fc`` takes as vLLM 0.22+ counts them
    # (``num_aux_hidden_states``, else ``eagle_config.eagle_aux_hidden_state_layer_ids``, else 3; up to
    # 0.21 always 3); their width (EAGLE-3 and DFlash: ``target_hidden_size``, else the drafter's own);
    # the RMSNorm over them all (``norm_before_fc``) or one per tap
    # (``fc_norm``, 0.22+).
    draft_vocab_size: int = 0
    eagle3_taps: int = 0
    eagle3_layer: Eagle3Layer = "llama"
    target_hidden_size: int = 0
    # DFlash: the target layers whose hidden states feed the ``fc`` (``dflash_config.target_layer_ids``).
    target_layer_ids: tuple[int, ...] = ()
    norm_before_fc: bool = False
    fc_norm: bool = False


ModelSpec.model_rebuild()
