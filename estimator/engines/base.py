"""What a serving engine is to the estimator: the protocol every engine module implements.

An engine gets the model's spec, the query, the GPU record (None when no ``gpu=`` was given) and
the query's dtypes (:mod:`estimator.dtypes`), and returns its memory terms, its fit rules, its
warnings and its ``--json`` section. :class:`BaseEngine` holds the defaults (a contiguous KV cache,
the whole device usable, powers-of-two tensor parallelism, no section of its own), so an engine
states only where it differs. Engines are listed in :mod:`estimator.engines`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, Literal, Protocol

from common.errors import InputError
from estimator.dtypes import resolve_dtypes
from estimator.kv import CacheLayout, kv_cache_bytes, state_bytes_per_sequence
from estimator.notes import Note
from estimator.spec import Frozen, KVDType, ModelSpec

if TYPE_CHECKING:
    from estimator.dtypes import Dtypes
    from estimator.gpus import GPU
    from estimator.query import Query
    from estimator.result import Estimate

Escape = Callable[[str], str]


class OverheadTerm(Frozen):
    """One part of the overhead row, per GPU, where the engine tells its parts: ``context`` (what the
    allocator does not count), ``reserve`` (the allocator's reserve over its peak: a floor plus a share
    of ``basis`` bytes of activations), ``eager_scores`` (blocks stranded by ``basis`` eager score
    elements)."""

    part: Literal["context", "reserve", "eager_scores"]
    bytes: int
    basis: int = 0
    floor: int = 0  # ``reserve``: the least it is, whatever the activations


class EngineTerms(Frozen):
    """Per-GPU bytes an engine adds on top of weights and KV cache."""

    activations: int  # peak transient memory of a forward pass (prefill), per GPU
    overhead: int  # CUDA context, allocator slack, non-torch memory, CUDA graphs
    activation_where: str  # what sets the peak, for the report ("prefill MLP", "attention scores")
    warnings: tuple[Note, ...] = ()
    # Why the activations leave out part of the model (a layer kind whose transients are not
    # modelled): one sentence, and then the total is no basis for a verdict. None: all modelled.
    unmodelled: str | None = None
    overhead_terms: tuple[OverheadTerm, ...] = ()  # the parts ``overhead`` adds up from (empty: untold)


KvPart = Literal[
    "attention",
    "indexer",
    "mtp",
    "drafter",
    "sliding",
    "drafter_sliding",
    "compressed",
    "compressor",
    "state",
    "blocks",
    "granules",
    "request",
]
WeightPart = Literal[
    "checkpoint",
    "vision_dropped",
    "vision_split",
    "mtp",
    "drafter",
    "value_slots",
    "eplb_state",
    "zero_points",
    "gptq_dropped",
    "gptq_act_order",
    "mxfp4_repack",
    "rotary_cache",
    "mla_workspaces",
    "load_segments",
]


class KvTerm(Frozen):
    """One part of the KV-cache row, per GPU: ``bytes_per_sequence`` for each of the b sequences.

    Per-token parts say their bytes per token and the tokens one sequence holds of them
    (``bytes_per_sequence = bytes_per_token x tokens``, where ``bytes_per_token`` is not 0); ``state`` (recurrent
    states), ``compressed`` and ``compressor`` (DeepSeek-V4's caches), ``blocks`` (the
    rest: whole blocks, pages padded to one size, padding layers), ``granules`` (vLLM 0.34's extensible
    KV cache: what its blocks map beyond their bytes, each layer segment rounded up to 2 MiB, shared
    over the b sequences) and ``request`` (a layout read only as a whole) are per sequence. The parts
    add up to the row."""

    part: KvPart
    layers: int = 0
    bytes_per_token: int = 0
    tokens: int = 0
    bytes_per_sequence: int
    # Sliding parts: the in-flight batches of tokens held beyond the window (0 for other parts), and
    # the tokens of each (max_num_batched_tokens; 0 where the engine keeps no batch beyond it).
    in_flight_batches: int = 0
    batch_tokens: int = 0
    window: int = 0  # sliding parts: the layers' window in tokens (0: not told)
    # ``compressed`` (DeepSeek-V4's compressed entries, one per ``compress_rate`` tokens of the s) and
    # ``compressor`` (its compressors' states over a window) are per sequence, in the layers compressing
    # by this rate (0: several rates together).
    compress_rate: int = 0
    # ``state`` in paged caches: the pages one request holds per layer, of which the prefill
    # checkpoint and the speculative tokens' pages (the rest: one page, or two under prefix caching's
    # align mode). 0: one whole state per layer, no pages.
    pages: int = 0
    checkpoint_pages: int = 0
    speculative_pages: int = 0


class WeightTerm(Frozen):
    """One part of the weights row, per GPU (negative for what the engine leaves out). ``params`` is
    the parameter count the part holds, where it is one."""

    part: WeightPart
    bytes: int
    params: int | None = None


class GpuShare(Frozen):
    """The busiest GPU's part of a model whose layers an engine splits across GPUs."""

    weights: int
    kv_cache: int
    terms: EngineTerms
    layers: int  # decoder layers this GPU runs
    kv_bytes_per_token: int  # what its layers cache per token
    kv_state_bytes_per_sequence: int = 0  # what its layers hold per sequence whatever its length


class EngineReport(Frozen):
    """An engine's own section of the answer (``--json`` key ``Engine.report_key``)."""


class FitFix(Frozen):
    """One way to fit that a verdict offers: the settings as ``key=`` takes them back (``b=27``,
    ``gpus=2 dp=3``), and why, where the settings alone do not say it."""

    settings: str
    why: str | None = None

    def text(self) -> str:
        """As the verdict writes it: ``gpus=4 dp=16 (the replicas split the experts over all 64 GPUs)``."""
        return self.settings + (f" ({self.why})" if self.why else "")


class PoolSummary(Frozen):
    """An engine's KV pool as the front ends show it (vLLM's): what one GPU's pool takes, and the
    requests of s tokens it holds at once."""

    memory_bytes: int  # one GPU's pool (the shown pipeline stage's)
    requests: float  # requests of s tokens one replica's pool holds at once (its null block left out)
    replicas: int = 1  # data-parallel replicas, each with such a pool
    starts: bool = True  # whether the engine starts as sized


class Engine(Protocol):
    """A serving engine profile."""

    name: ClassVar[str]  # the engine= value
    aliases: ClassVar[tuple[str, ...]]  # other spellings engine= accepts
    label: ClassVar[str]  # how sentences name it ("vLLM")
    help: ClassVar[str]  # one line for the help texts
    report_key: ClassVar[str | None]  # its --json section, None when it has none
    report_model: ClassVar[type[EngineReport] | None]
    setting_keys: ClassVar[tuple[str, ...]]  # grammar keys only this engine reads
    cache_layout: ClassVar[CacheLayout]  # how its KV cache and per-sequence states are laid out
    always_fused_attention: ClassVar[bool]  # fa=off changes nothing
    overhead_label: ClassVar[str]  # what its overhead term is made of, for the breakdown
    # How gpus=N divides the model: tensor parallelism (every layer split) or whole layers per GPU.
    split: ClassVar[Literal["tensor", "layers"]]
    # Whether dp= runs independent replicas of the model, each with its own KV cache (vLLM).
    data_parallel: ClassVar[bool]
    # Whether it allocates its KV cache whatever kv= says (vLLM): kv=off then drops the cache from the
    # memory total only, and the fit is the one with the cache.
    kv_always_allocated: ClassVar[bool]
    # Whether it will not start past its longest context as configured (vLLM's max_model_len check).
    refuses_past_longest: ClassVar[bool]

    def kv_cache_bytes(
        self, spec: ModelSpec, query: Query, kv_dtype: KVDType, *, gpus: int, gpu: GPU | None = None
    ) -> int:
        """KV cache bytes one GPU holds for the query's b sequences of s tokens, laid out as it lays them."""
        ...

    def layer_share(self, spec: ModelSpec, query: Query, gpu: GPU | None, dtypes: Dtypes, *, weights: int) -> GpuShare:
        """With ``split = "layers"``: the busiest GPU's share of the whole model's ``weights``."""
        ...

    def refusal(self, spec: ModelSpec, query: Query) -> str | None:
        """The sentence saying why the engine will not start this configuration, or None."""
        ...

    def refuses(self, spec: ModelSpec, query: Query) -> bool:
        """Whether :meth:`refusal` gives a sentence, without composing it (the solvers ask it of
        many layouts)."""
        ...

    def refusal_at_longest(
        self, refusal: str, longest: int, layout: tuple[int, int, float | None], query: Query
    ) -> str:
        """``refusal``, whose way out is the model's longest context (``s=max``), with the layout
        (GPUs, replicas, util) that holds that context where the query's does not."""
        ...

    def yarn_way(self, spec: ModelSpec, query: Query) -> int | None:
        """The YaRN factor a refusal of the query's context offers as a way out, or None."""
        ...

    def refusal_with_yarn(
        self, spec: ModelSpec, refusal: str, factor: int, layout: tuple[int, int, float | None], query: Query
    ) -> str:
        """``refusal``, whose way out includes ``yarn=factor``, with the layout that holds the query's
        context at it where the query's own does not (or that none does)."""
        ...

    def kv_terms(self, spec: ModelSpec, query: Query, gpu: GPU | None, kv_cache: int) -> tuple[KvTerm, ...]:
        """The parts the KV-cache row adds up from (empty: bytes per token x s x b say it)."""
        ...

    def state_bytes_per_sequence(self, spec: ModelSpec, query: Query) -> int:
        """One sequence's recurrent and conv states per GPU, whatever its length, at the dtypes the
        engine keeps them in (``details.kv_fixed_bytes_per_sequence``)."""
        ...

    def weight_terms(self, spec: ModelSpec, query: Query, gpu: GPU | None, weights: int) -> tuple[WeightTerm, ...]:
        """The parts the weights row adds up from (empty: the checkpoint's ``weights`` alone)."""
        ...

    def longest_context(self, spec: ModelSpec, query: Query) -> int:
        """The context ``s=max`` asks for: the model's longest, as the engine derives its default."""
        ...

    def loaded_spec(self, spec: ModelSpec, query: Query, gpu: GPU | None) -> tuple[ModelSpec, str | None]:
        """The model as the engine loads it with the query's settings (a float32 checkpoint its
        ``dtype=auto`` casts to 16 bits), and the sentence saying so, or the spec as read and None."""
        ...

    def loaded_query(self, spec: ModelSpec, query: Query, gpu: GPU | None) -> tuple[Query, str | None]:
        """The query as the engine loads the checkpoint on ``gpu`` (transformers dequantizes FP8 weights
        to bf16 on GPUs without FP8 kernels), and the sentence saying so, or the query and None."""
        ...

    def fused_attention(self, spec: ModelSpec, query: Query) -> bool:
        """Whether the engine runs fused attention: fa= when given, else the engine's own default."""
        ...

    def dtypes(self, spec: ModelSpec, query: Query) -> Dtypes:
        """The query's dtypes as this engine resolves them (an engine may pick the KV cache's)."""
        ...

    def setting_refusal(self, query: Query) -> str | None:
        """Why the engine refuses the query's settings whatever the model (a KV dtype it lacks), or None."""
        ...

    def check_drafter_method(self, method: str, model_id: str, query: Query) -> None:
        """Raise when the query's release runs no drafter of ``method`` at all: said before the
        drafter's checkpoint is read, so that the reason is the release, not a missing file."""
        ...

    def converts_on_load(self, query: Query) -> tuple[str, ...]:
        """The weight formats it quantizes a float checkpoint to while loading it ("fp8", "3-bit")."""
        ...

    def serves_pre_quantized(self, query: Query, weight_format: str) -> bool:
        """Whether the release serves a pre-quantized checkpoint of ``weight_format`` at all (vLLM
        0.28+ has no bitsandbytes: no NF4); where not, its start-up refusal says so."""
        ...

    def release_label(self, query: Query) -> str:
        """How a sentence names the engine at the query's release ("vLLM 0.33", "transformers")."""
        ...

    def loaded_weight_bytes(self, spec: ModelSpec, query: Query, gpu: GPU | None, weights: int) -> int:
        """The weights once loaded, from the checkpoint's per-GPU share ``weights``."""
        ...

    def terms(
        self, spec: ModelSpec, query: Query, gpu: GPU | None, dtypes: Dtypes, *, weights: int, kv_cache: int
    ) -> EngineTerms:
        """Activations, overhead and warnings, per GPU."""
        ...

    def usable_fraction(self, query: Query) -> float:
        """The share of the device the engine lets itself use."""
        ...

    def display_name(self, query: Query) -> str:
        """How the answer's header names the engine (with its release where it has one)."""
        ...

    def release_note(self, query: Query) -> str | None:
        """What the header adds after that name about the release followed, once per answer, or None."""
        ...

    def usable_bytes(self, spec: ModelSpec, query: Query, gpu: GPU) -> int:
        """The most ``memory.total`` may be on one GPU."""
        ...

    def tp_sizes(self, spec: ModelSpec, limit: int, query: Query | None = None) -> tuple[int, ...]:
        """Tensor-parallel sizes up to ``limit`` the engine can run this model on (for ``query``'s
        settings, where they matter), smallest first."""
        ...

    def shape_total(
        self, spec: ModelSpec, query: Query, gpu: GPU | None, dtypes: Dtypes, *, weights: int
    ) -> Callable[[int, int], int] | None:
        """A fast per-GPU total at (s, b) for the solvers, or None to recompute the whole estimate."""
        ...

    def start_limit(
        self, spec: ModelSpec, query: Query, gpu: GPU | None, *, weights: int
    ) -> Callable[[int], bool] | None:
        """Whether the engine starts at max length s on ``gpu`` beyond the memory total fitting (a
        check of its own on one request), for the fit and every solver; None when it has none."""
        ...

    def startable_query(self, query: Query, gpu: GPU) -> Query:
        """The query the fewest-GPUs solver sizes: ``query``, or where a setting of it alone stops the
        engine whatever the layout (vLLM: a util past the free memory), the nearest that starts."""
        ...

    def no_bf16(self, spec: ModelSpec, query: Query, gpu: GPU) -> str | None:
        """What the engine does with a bf16 model on ``gpu``, which has no bf16, and what to change:
        the words after "The T4 has no bf16 (Turing): "; None where its refusal says it."""
        ...

    def max_running(self, query: Query, gpu: GPU | None) -> int | None:
        """The most sequences one replica runs at once whatever memory holds (vLLM's max_num_seqs), or
        None where every request of b runs: the rest of b waits, holding no KV cache."""
        ...

    def notes(self, spec: ModelSpec, query: Query, gpu: GPU | None) -> list[Note]:
        """Warnings about the query as this engine would run it."""
        ...

    def report(
        self, spec: ModelSpec, query: Query, gpu: GPU | None, dtypes: Dtypes, *, weights: int
    ) -> tuple[EngineReport | None, list[Note]]:
        """Its own section of the answer (or None) and the warnings that come with it."""
        ...

    def summary_line(self, est: Estimate, esc: Escape) -> str | None:
        """One line for the front ends about its section, or None."""
        ...

    def verdict(self, est: Estimate, esc: Escape) -> str | None:
        """The verdict line when the engine's own rule decides the fit (vLLM: its KV pool), or None
        for the memory verdict."""
        ...

    def fit_fixes(self, est: Estimate) -> tuple[FitFix, ...] | None:
        """The ways to fit that the engine's own verdict offers, in its order; None where the memory
        verdict decides (the fewest layout is then the way)."""
        ...

    def pool(self, est: Estimate) -> PoolSummary | None:
        """Its KV pool as sized (vLLM's), or None where it has none or no GPU was named."""
        ...

    def speculative_words(self, est: Estimate, esc: Escape) -> str | None:
        """The speculative decoding sized (MTP, a drafter), in words for the header; None for none."""
        ...

    def setting_default(self, key: str, est: Estimate) -> object | None:
        """The value in effect for grammar key ``key`` left unset, where its section states it (vLLM's
        max_num_seqs default for the GPU); None where it does not."""
        ...

    def release_sized(self, est: Estimate) -> str | None:
        """The engine release the answer follows, or None for an engine without releases."""
        ...

    def util_refused(self, est: Estimate) -> bool:
        """Whether the engine refuses the memory share asked of it (vLLM's util start check)."""
        ...


# Tensor-parallel sizes tried when an engine has no rule of its own: what engines accept in practice.
POWERS_OF_TWO = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class BaseEngine:
    """Defaults for an engine: override what differs (see ``estimator/engines/transformers.py``)."""

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    label: ClassVar[str]
    help: ClassVar[str]
    report_key: ClassVar[str | None] = None
    report_model: ClassVar[type[EngineReport] | None] = None
    cache_layout: ClassVar[CacheLayout] = "contiguous"
    setting_keys: ClassVar[tuple[str, ...]] = ()
    always_fused_attention: ClassVar[bool] = False
    overhead_label: ClassVar[str] = "CUDA context and allocator"
    split: ClassVar[Literal["tensor", "layers"]] = "tensor"
    data_parallel: ClassVar[bool] = False
    kv_always_allocated: ClassVar[bool] = False
    refuses_past_longest: ClassVar[bool] = False

    def kv_cache_bytes(
        self, spec: ModelSpec, query: Query, kv_dtype: KVDType, *, gpus: int, gpu: GPU | None = None
    ) -> int:
        return kv_cache_bytes(spec, seq_len=query.seq_len, batch=query.batch, kv_dtype=kv_dtype, gpus=gpus)

    def layer_share(self, spec: ModelSpec, query: Query, gpu: GPU | None, dtypes: Dtypes, *, weights: int) -> GpuShare:
        raise NotImplementedError(f"{self.name} splits tensors, not layers")

    def refusal(self, spec: ModelSpec, query: Query) -> str | None:
        return None

    def refuses(self, spec: ModelSpec, query: Query) -> bool:
        return self.refusal(spec, query) is not None

    def refusal_at_longest(
        self, refusal: str, longest: int, layout: tuple[int, int, float | None], query: Query
    ) -> str:
        return refusal  # no refusal of this engine suggests s=max

    def yarn_way(self, spec: ModelSpec, query: Query) -> int | None:
        return None

    def refusal_with_yarn(
        self, spec: ModelSpec, refusal: str, factor: int, layout: tuple[int, int, float | None], query: Query
    ) -> str:
        return refusal

    def kv_terms(self, spec: ModelSpec, query: Query, gpu: GPU | None, kv_cache: int) -> tuple[KvTerm, ...]:
        """The parts the KV-cache row ``kv_cache`` adds up from (empty: the per-token rule says it)."""
        return ()

    def state_bytes_per_sequence(self, spec: ModelSpec, query: Query) -> int:
        return state_bytes_per_sequence(spec, gpus=query.gpus, layout=self.cache_layout)

    def weight_terms(self, spec: ModelSpec, query: Query, gpu: GPU | None, weights: int) -> tuple[WeightTerm, ...]:
        """The parts the weights row adds up from, beside the checkpoint's ``weights`` (empty: only those)."""
        return ()

    def loaded_spec(self, spec: ModelSpec, query: Query, gpu: GPU | None) -> tuple[ModelSpec, str | None]:
        return spec, None

    def loaded_query(self, spec: ModelSpec, query: Query, gpu: GPU | None) -> tuple[Query, str | None]:
        return query, None

    def longest_context(self, spec: ModelSpec, query: Query) -> int:
        if spec.max_position_embeddings is None:
            raise InputError(f"s=max: the {spec.model_type} config names no max_position_embeddings; give s=")
        return spec.max_position_embeddings

    def fused_attention(self, spec: ModelSpec, query: Query) -> bool:
        return query.flash_attention is not False

    def dtypes(self, spec: ModelSpec, query: Query) -> Dtypes:
        return resolve_dtypes(spec, query)

    def setting_refusal(self, query: Query) -> str | None:
        return None

    def check_drafter_method(self, method: str, model_id: str, query: Query) -> None:
        return None

    def converts_on_load(self, query: Query) -> tuple[str, ...]:
        return ()

    def serves_pre_quantized(self, query: Query, weight_format: str) -> bool:
        return True

    def release_label(self, query: Query) -> str:
        return self.label

    def loaded_weight_bytes(self, spec: ModelSpec, query: Query, gpu: GPU | None, weights: int) -> int:
        return weights

    def terms(
        self, spec: ModelSpec, query: Query, gpu: GPU | None, dtypes: Dtypes, *, weights: int, kv_cache: int
    ) -> EngineTerms:
        raise NotImplementedError

    def usable_fraction(self, query: Query) -> float:
        return 1.0

    def display_name(self, query: Query) -> str:
        return self.name

    def release_note(self, query: Query) -> str | None:
        return None

    def usable_bytes(self, spec: ModelSpec, query: Query, gpu: GPU) -> int:
        return gpu.memory_bytes

    def tp_sizes(self, spec: ModelSpec, limit: int, query: Query | None = None) -> tuple[int, ...]:
        return tuple(n for n in POWERS_OF_TWO if n <= limit)

    def shape_total(
        self, spec: ModelSpec, query: Query, gpu: GPU | None, dtypes: Dtypes, *, weights: int
    ) -> Callable[[int, int], int] | None:
        return None

    def start_limit(
        self, spec: ModelSpec, query: Query, gpu: GPU | None, *, weights: int
    ) -> Callable[[int], bool] | None:
        return None

    def startable_query(self, query: Query, gpu: GPU) -> Query:
        return query

    def max_running(self, query: Query, gpu: GPU | None) -> int | None:
        return None

    def no_bf16(self, spec: ModelSpec, query: Query, gpu: GPU) -> str | None:
        plain = spec.quantization.method == "none" and query.weight_format is None and query.bits is None
        fix = "add dtype=fp16 (the same size)" if plain else "run it in fp16 (vLLM: --dtype half)"
        return f"bf16 has no fast path there; {fix}"

    def notes(self, spec: ModelSpec, query: Query, gpu: GPU | None) -> list[Note]:
        return []

    def report(
        self, spec: ModelSpec, query: Query, gpu: GPU | None, dtypes: Dtypes, *, weights: int
    ) -> tuple[EngineReport | None, list[Note]]:
        return None, []

    def summary_line(self, est: Estimate, esc: Escape) -> str | None:
        return None

    def verdict(self, est: Estimate, esc: Escape) -> str | None:
        return None

    def fit_fixes(self, est: Estimate) -> tuple[FitFix, ...] | None:
        return None

    def pool(self, est: Estimate) -> PoolSummary | None:
        return None

    def speculative_words(self, est: Estimate, esc: Escape) -> str | None:
        return None

    def setting_default(self, key: str, est: Estimate) -> object | None:
        return None

    def release_sized(self, est: Estimate) -> str | None:
        return None

    def util_refused(self, est: Estimate) -> bool:
        return False
