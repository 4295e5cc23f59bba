"""The result of one estimate; ``Estimate.to_json()`` is the ``--json`` contract (docs/interface.md)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import SerializeAsAny, model_validator

from estimator.engines import DEFAULT_ENGINE, EngineReport, KvTerm, OverheadTerm, WeightTerm, engines, get_engine
from estimator.notes import Note
from estimator.query import Query
from estimator.spec import Frozen

# The version of the --json object's shape: raised whenever a key changes meaning or goes away.
# 2: schema_version, vram_version and id; warnings as {code, message}; fit.engine_refuses;
#    details.context_window_exceeded; vllm.util_to_fit.
# 3: fit.max_seq_len and fit.max_batch null when the engine refuses to start the configuration;
#    vllm.starts false (and vllm.start_error its reason) for every refusal, vllm.log_lines only
#    the lines vLLM prints before it stops.
# 4: with engine=vllm, fit.max_batch at most max_num_seqs (fit.max_batch_bound says which binds), and
#    memory.kv_cache, fit.fits and vllm.util_to_fit count the max_num_seqs requests it runs of b.
SCHEMA_VERSION = 5


class Memory(Frozen):
    """What ONE GPU holds, in bytes (per-GPU share with gpus > 1)."""

    weights: int
    kv_cache: int
    activations: int
    overhead: int

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.activations + self.overhead


class Classic(Frozen):
    """The original calculator's six numbers (GB = 1e9 bytes, rounded as it rounded them)."""

    model_gb: float | None
    vanilla_gb: float | None
    gqa_gb: float | None
    flash_gb: float | None
    kv_cache_gb: float | None
    total_gb: float | None


class FinestSplit(Frozen):
    """Where no split of the layers holds the query (engines that place whole layers per GPU): the
    busiest GPU at the finest split the engine makes, one layer each (or vram's GPU limit)."""

    gpus: int
    layers_per_gpu: int  # the most layers one GPU holds there
    memory: Memory  # the busiest GPU's share, at the query's s and b
    usable: int  # bytes one card gives it
    # True where it does not fit even at s=1 and b=1: its weights and fixed overhead alone are more than
    # the card holds, so no shorter s or smaller b helps.
    at_any_context: bool


class Fit(Frozen):
    gpu: str  # catalog key, e.g. "h100-80gb"
    gpu_name: str
    gpu_memory: int  # bytes as CUDA/ROCm report the device total
    fits: bool
    headroom: int  # bytes, negative when it does not fit
    # At the query's batch (0: not even one token fits); None when the engine refuses to start it.
    max_seq_len: int | None
    max_batch: int | None  # at the query's seq_len; None when the engine refuses to start it
    # What bounds max_batch: memory, or the sequences the engine runs at once (vLLM's max_num_seqs,
    # per replica) where memory would hold more.
    max_batch_bound: Literal["memory", "max_num_seqs"] = "memory"
    # The layout with the fewest GPUs in all that the engine starts and that fits: min_gpus is its
    # tensor-parallel group (gpus=; 0: none up to the limit), min_gpus_dp its data-parallel replicas
    # (vLLM dp=; 1 for engines without them). GPUs in all: min_gpus x pp x min_gpus_dp.
    min_gpus: int
    min_gpus_dp: int = 1
    # The util (two decimals) that layout is sized at where the one asked stops vLLM there (its start
    # check counts NCCL's buffers with TP on NVSwitch GPUs, and any util past the free memory); None:
    # the query's own util.
    min_gpus_util: float | None = None
    # min_gpus is 0 because the engine refuses every group larger than the query's: its refusal of the
    # next size (transformers quantizes to NVFP4 on load on one GPU only); None otherwise.
    min_gpus_refusal: str | None = None
    # min_gpus is 0 on an engine that places whole layers per GPU: the busiest GPU at its finest split
    # (what no split of the layers gets below); None otherwise.
    finest_split: FinestSplit | None = None
    # max_seq_len is past the model's context window (details.context_window): memory would hold it,
    # the model's positions do not (vLLM refuses such a max_model_len).
    max_seq_len_memory_only: bool = False
    # max_seq_len is the s= range's top (MAX_SEQ_LEN): memory would hold that many tokens and perhaps
    # more (the search stops there), so it is a lower bound, not memory's limit.
    max_seq_len_at_limit: bool = False
    engine_refuses: str | None = None  # why the engine will not start this configuration (fits is then false)


class Details(Frozen):
    """The arithmetic behind the breakdown, for the report lines."""

    kv_bytes_per_token: int  # per GPU, for full-attention layers at the chosen KV dtype (all layers)
    # Per GPU, what one sequence holds whatever its length (Mamba / linear-attention / conv states).
    kv_fixed_bytes_per_sequence: int = 0
    weight_format: str
    kv_dtype: str | None  # None when kv=off
    activation_peak_where: str  # e.g. "prefill MLP", "attention scores"
    fused_attention: bool = True  # what was sized: fa= when given, else the engine's default for the model
    # Whether the engine runs fa=on for this model (transformers: its class has sdpa, flash or flex
    # attention): where it does not, no answer suggests it.
    fused_attention_runs: bool = True
    attends: bool = True  # False for attention-free stacks (Mamba, RWKV): no attention to fuse or not
    params_source: str  # "safetensors" or "config"
    classic_kv_ratio: float | None  # ours / classic KV when both are non-zero
    context_window: int | None = None  # the model's max_position_embeddings, when the config gives it
    # The longest s the engine takes for the model (what s=max asks: vLLM's with RoPE scaling as the
    # release reads it); None where it cannot be derived.
    longest_context: int | None = None
    # The parts memory.kv_cache and memory.weights add up from, where the engine tells them (vLLM):
    # empty when bytes per token x s x b (and the checkpoint's weights) say it all.
    kv_terms: tuple[KvTerm, ...] = ()
    weight_terms: tuple[WeightTerm, ...] = ()
    overhead_terms: tuple[OverheadTerm, ...] = ()  # the overhead row's parts, where the engine tells them
    # The sequences one replica runs at once where the engine runs fewer than its share of b (vLLM's
    # max_num_seqs): memory.kv_cache is theirs, the rest wait holding none. None: all of them run.
    running_batch: int | None = None


class FewerWay(Frozen):
    """A smaller layout of a card that holds the query with an engine setting the verdict offers there
    (``gpu=b200 gpus=1 dp=4 mnbt=2048`` where its own defaults take gpus=2 dp=4)."""

    gpus: int  # the tensor-parallel group
    dp: int  # the replicas
    settings: str  # the setting, as key=value


class CardFit(Frozen):
    """One catalog card's answer to ``gpu=any``: its fit at the query's layout, and the fewest of it
    that hold the query (as ``Fit.min_gpus`` says for a GPU named)."""

    gpu: str  # catalog key
    gpu_name: str
    gpu_memory: int  # bytes as CUDA/ROCm report the device total
    fits: bool  # at the query's own layout (gpus x pp x dp of this card)
    headroom: int | None  # bytes at the query's own layout; None where the card was not sized
    min_gpus: int  # the fewest layout's tensor-parallel group; 0: none up to the limit
    min_gpus_dp: int = 1
    min_gpus_util: float | None = None
    finest_split: FinestSplit | None = None  # as Fit.finest_split says for a GPU named
    # Why the query's layout does not start on this card (the engine's sentence), or why the card
    # could not be sized at all (an input the card refuses, e.g. a KV dtype it lacks).
    refusal: str | None = None
    # Where it does not hold the query as asked: the engine settings its verdict offers that hold it on
    # the same layout without changing s, b or the layout (vLLM: seqs=256 where its default max_num_seqs
    # on this card costs the room), as key=value.
    ways: tuple[str, ...] = ()
    # The engine loads the checkpoint in another format on this card than it is stored in (transformers
    # dequantizes FP8 weights to bf16 below compute capability 8.9): that format, else None.
    loaded_as: str | None = None
    # Fewer GPUs of this card than its fewest layout, at a layout another card takes, with a setting of
    # the engine's (its verdict's way there); None where none is found.
    fewer: FewerWay | None = None


class Estimate(Frozen):
    model: str
    revision: str | None
    params_total: int
    params_active: int | None  # MoE only
    query: Query
    memory: Memory
    classic: Classic
    fit: Fit | None = None
    cards: tuple[CardFit, ...] = ()  # gpu=any: every catalog card, in the catalog's order
    engine_report: SerializeAsAny[EngineReport] | None = None  # the engine's own section (vLLM's KV pool)
    details: Details
    warnings: tuple[Note, ...] = ()
    # What vram could not establish about the model (``ModelSpec.unread``): when non-empty the
    # numbers are not a basis for a verdict, and ``fit`` and ``vllm`` are None.
    refused: tuple[str, ...] = ()
    # What ``refused`` is about: the model's structure, or a term the engine does not model for it.
    refusal_code: Literal["structure_unread", "activations_unmodelled"] = "structure_unread"

    @model_validator(mode="before")
    @classmethod
    def _engine_report(cls, data: Any) -> Any:
        """Read the engine's section back as its engine's model (stored answers: also the older
        ``vllm`` key)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        # Answers stored before warnings had codes hold plain sentences.
        data["warnings"] = tuple(
            Note(code="unclassified", message=w) if isinstance(w, str) else w for w in data.get("warnings") or ()
        )
        query = data.get("query")
        name = query.engine if isinstance(query, Query) else (query or {}).get("engine", DEFAULT_ENGINE)
        engine = get_engine(name)
        sections = {e.report_key: data.pop(e.report_key, None) for e in engines() if e.report_key}
        raw = data["engine_report"] if "engine_report" in data else sections.get(engine.report_key or "")
        model = engine.report_model
        data["engine_report"] = model.model_validate(raw) if raw is not None and model is not None else None
        # Answers stored before the engine chose the attention sized it as fa= said (unsaid: fused).
        details = data.get("details")
        if isinstance(details, dict) and "fused_attention" not in details:
            fa = query.flash_attention if isinstance(query, Query) else (query or {}).get("flash_attention")
            data["details"] = {**details, "fused_attention": fa is not False}
        return data

    @property
    def context_window_exceeded(self) -> bool:
        """s is longer than the model's context window (when the config gives one)."""
        window = self.details.context_window
        return window is not None and self.query.seq_len > window

    def to_json(self, *, record_id: int | None = None, vram_version: str | None = None) -> dict[str, Any]:
        """The ``--json`` object of the interface spec (bytes as integers; ``classic`` in GB).

        ``record_id`` is the stored record's id (None when it was not stored), ``vram_version`` the
        installed tool's version: the front ends know both, the estimator neither.
        """
        q = self.query
        params: dict[str, Any] = {"total": self.params_total}
        if self.params_active is not None:
            params["active"] = self.params_active
        return {
            "schema_version": SCHEMA_VERSION,
            "vram_version": vram_version,
            "id": record_id,
            "model": self.model,
            "revision": self.revision,
            "params": params,
            "inputs": {
                "seq_len": q.seq_len,
                "seq_len_from_model": q.seq_len_from_model,
                "batch": q.batch,
                "weight_dtype": self.details.weight_format,
                "kv_dtype": self.details.kv_dtype,
                "kv": q.kv,
                "flash_attention": self.details.fused_attention,
                "kv_cache": q.kv != "off",
                "gpus": q.gpus,
                "pp": q.pp,
                "dp": q.dp,
                "ep": q.expert_parallel,
                "engine": q.engine,
                "gpu": "any" if q.gpu_any else q.gpu,
                "method": q.method,
                "util": q.util,
                "max_num_batched_tokens": q.max_num_batched_tokens,
                "max_num_seqs": q.max_num_seqs,
                "vllm": q.vllm,
                "prefix_caching": q.prefix_caching,
                "mm_limit": q.mm_limit,
                "mtp": q.mtp,
                "draft": q.draft,
                "spec": q.spec,
                "yarn": q.yarn.factor if q.yarn else None,
                "yarn_original": q.yarn.original if q.yarn else None,
                "kv_cache_memory": q.kv_cache_memory,
                "block_size": q.block_size,
                "eplb": q.eplb,
            },
            "memory": {**self.memory.model_dump(), "total": self.memory.total},
            "classic": self.classic.model_dump(),
            "fit": self.fit.model_dump() if self.fit else None,
            "cards": [card.model_dump() for card in self.cards] if self.query.gpu_any else None,
            **self._engine_sections(),
            # fused_attention is inputs.flash_attention.
            "details": {
                **self.details.model_dump(exclude={"fused_attention"}),
                "context_window_exceeded": self.context_window_exceeded,
            },
            "warnings": [w.model_dump() for w in self.warnings],
            # Machine-readable: why there is no verdict (null when there is one or no GPU was named).
            "refusal": ({"code": self.refusal_code, "message": " ".join(self.refused)} if self.refused else None),
        }

    def _engine_sections(self) -> dict[str, Any]:
        """One key per engine that has a section: this estimate's engine fills its own."""
        own = self.engine_report.model_dump() if self.engine_report is not None else None
        return {
            engine.report_key: own if engine.name == self.query.engine else None
            for engine in engines()
            if engine.report_key
        }
