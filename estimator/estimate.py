"""One estimate: a model description and a query in, an :class:`Estimate` out; and the fit solvers."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

from common.errors import InputError, UnmodelledError
from estimator.classic import GB, classic
from estimator.dtypes import FORMAT_BITS, Dtypes
from estimator.engines import BaseEngine, Engine, EngineTerms, get_engine, setting_owner
from estimator.gpus import GPU, catalog, lookup_gpu
from estimator.grammar import KEYS, is_default
from estimator.kv import kv_bytes_per_token
from estimator.notes import Note, article, note
from estimator.pipeline import pp_refusal, pp_too_many_stages, stage_specs
from estimator.query import MAX_BATCH, MAX_GPUS, MAX_SEQ_LEN, Query, Yarn, replica_query
from estimator.result import CardFit, Classic, Details, Estimate, FewerWay, FinestSplit, Fit, Memory
from estimator.rope import with_yarn
from estimator.spec import FLOAT_FORMATS, ModelSpec
from estimator.units import gib_text
from estimator.weights import conversion_asked, query_weight_bytes, weight_format_name


def _weights(spec: ModelSpec, query: Query, gpus: int) -> int:
    """The weights one GPU holds (:func:`estimator.weights.query_weight_bytes`) under the query's engine."""
    return query_weight_bytes(spec, query, gpus, layer_split=get_engine(query.engine).split == "layers")


def _classic_memory(spec: ModelSpec, query: Query) -> tuple[Memory, EngineTerms]:
    # method=classic: the original formulas' terms, in bytes (GB = 1e9), so fit and solvers follow them.
    c = _classic(spec, query)
    act_gb = c.flash_gb if query.flash_attention is not False else (c.gqa_gb if c.gqa_gb is not None else c.vanilla_gb)
    memory = Memory(
        weights=round((c.model_gb or 0) * GB),
        kv_cache=round((c.kv_cache_gb or 0) * GB),
        activations=round((act_gb or 0) * GB),
        overhead=0,
    )
    return memory, EngineTerms(
        activations=memory.activations, overhead=0, activation_where="one layer's activations (classic formula)"
    )


def _memory(
    spec: ModelSpec, query: Query, weights: int, engine: Engine, gpu: GPU | None, dtypes: Dtypes
) -> tuple[Memory, EngineTerms]:
    if query.method == "classic":
        return _classic_memory(spec, query)
    if engine.split == "layers" and query.gpus > 1:
        share = engine.layer_share(spec, query, gpu, dtypes, weights=weights)
        return Memory(
            weights=share.weights,
            kv_cache=share.kv_cache,
            activations=share.terms.activations,
            overhead=share.terms.overhead,
        ), share.terms
    kv = 0 if dtypes.kv is None else engine.kv_cache_bytes(spec, query, dtypes.kv, gpus=query.gpus, gpu=gpu)
    terms = engine.terms(spec, query, gpu, dtypes, weights=weights, kv_cache=kv)
    # What the engine holds once loaded: the checkpoint share plus what its kernels re-lay or add
    # (vLLM: rope cache, MXFP4 swizzle padding); the terms above take the checkpoint share.
    loaded = engine.loaded_weight_bytes(spec, query, gpu, weights)
    return Memory(weights=loaded, kv_cache=kv, activations=terms.activations, overhead=terms.overhead), terms


def _pipeline_stages(spec: ModelSpec, query: Query) -> tuple[ModelSpec, ...]:
    """Every pipeline rank's model with pp= above 1 (after its refusals); the model itself otherwise."""
    if query.pp == 1:
        return (spec,)
    if why := pp_too_many_stages(spec, query.pp):
        raise InputError(f"pp={query.pp} is too many stages for this model: {why}")
    text_only = spec.vision is not None and query.mm_limit == 0 and query.engine == "vllm"
    speculative = spec.drafter is not None or bool(query.mtp)
    if why := pp_refusal(spec, query.pp, text_only=text_only, speculative=speculative):
        raise UnmodelledError(f"vram does not size pp={query.pp} for this model: {why}")
    return stage_specs(spec, query.pp)


def running_query(engine: Engine, query: Query, gpu: GPU | None) -> Query:
    """The query one GPU's replica runs at once: its share of b (:func:`replica_query`), at most the
    sequences the engine runs together (vLLM's max_num_seqs; the rest of b waits, holding no KV cache)."""
    one = replica_query(query)
    cap = engine.max_running(one, gpu)
    if cap is None or one.batch <= cap:
        return one
    return one.model_copy(update={"batch": cap})


def _gpu(query: Query) -> GPU | None:
    return lookup_gpu(query.gpu) if query.gpu else None


def total_for(spec: ModelSpec, query: Query, *, weights: int | None = None, gpu: GPU | None = None) -> int:
    """Per-GPU total bytes for a query (the quantity every solver bounds); with dp= above 1, one
    replica's GPU, holding its share of the batch (:func:`estimator.query.replica_query`).

    ``weights`` may be passed when the caller already has them for ``query.gpus``: they depend on
    neither s nor b, so the solvers compute them once. ``gpu`` is the record of ``query.gpu``
    (looked up when not given).
    """
    if weights is None:
        weights = _weights(spec, query, query.gpus)
    if gpu is None:
        gpu = _gpu(query)
    engine = get_engine(query.engine)
    memory, _ = _memory(spec, running_query(engine, query, gpu), weights, engine, gpu, engine.dtypes(spec, query))
    return memory.total


def _largest(fits: Callable[[int], bool], high: int, start: int = 1, step: int | None = None) -> int:
    """Largest x in [1, high] with fits(x), for a monotone predicate; 0 when fits(1) is false.

    Gallops from ``start`` (the query's own value, or an estimate of the answer) in steps that
    start at ``step`` (default: ``start``) and double, then bisects: a solver costs a dozen
    evaluations rather than log2(high).
    """
    start = min(max(start, 1), high)
    if fits(start):
        low, step = start, max(step or start, 1)
        while True:
            probe = min(low + step, high)
            if probe == low or not fits(probe):
                high = probe - 1 if probe != low else low
                break
            low, step = probe, step * 2
    else:
        if start == 1 or not fits(1):
            return 0
        # Gallop down from start: the answer is usually near it.
        high, step = start - 1, max(step or start, 1)
        while True:
            probe = max(high - step + 1, 1)
            if probe == 1 or fits(probe):  # fits(1) holds: checked above
                low = probe
                break
            high, step = probe - 1, step * 2
    while low < high:
        mid = (low + high + 1) // 2
        if fits(mid):
            low = mid
        else:
            high = mid - 1
    return low


def _linear_guess(total: Callable[[int], int], usable: int, at: int, high: int) -> int:
    """Where ``total(x) = usable`` would be if total grew linearly from ``at`` as it does just past
    ``high // 2`` (where every sliding window is full): the point the solvers gallop from."""
    far = max(high // 2, at + 1)
    slope = (total(high) - total(far)) / max(high - far, 1)
    if slope <= 0:
        return high
    guess = at + (usable - total(at)) / slope
    return int(min(max(guess, 1), high))


class _StageCheck:
    """What the solvers ask of one pipeline rank (the model itself without pp=) in one layout: its
    per-GPU total at (s, b), the bytes it may use, and the engine's start check at s."""

    def __init__(self, spec: ModelSpec, query: Query, gpu: GPU, engine: Engine, weights: int | None = None) -> None:
        self.spec = spec
        dtypes = engine.dtypes(spec, query)
        self.weights = _weights(spec, query, query.gpus) if weights is None else weights
        self.usable = engine.usable_bytes(spec, query, gpu)
        self.fast = engine.shape_total(spec, query, gpu, dtypes, weights=self.weights)
        self.starts = engine.start_limit(spec, query, gpu, weights=self.weights)
        self._one, self._engine, self._gpu, self._dtypes = replica_query(query), engine, gpu, dtypes

    def over(self, s: int, b: int) -> int:
        """Bytes past what it may use at s tokens and b requests per replica (<= 0: they fit)."""
        if self.fast is not None:
            return self.fast(s, b) - self.usable
        shaped = self._one.model_copy(update={"seq_len": s, "batch": b})
        return _memory(self.spec, shaped, self.weights, self._engine, self._gpu, self._dtypes)[0].total - self.usable


def _stage_checks(
    stages: tuple[ModelSpec, ...], query: Query, gpu: GPU, engine: Engine, *, given: tuple[ModelSpec, int] | None = None
) -> tuple[_StageCheck, ...]:
    """One check per pipeline rank: vLLM gives every rank its own pool and start check
    (estimator.engines.vllm.pipeline_report), so a layout holds only where every rank does.
    ``given``: a rank whose weights the caller already has."""
    return tuple(
        _StageCheck(stage, query, gpu, engine, given[1] if given is not None and given[0] is stage else None)
        for stage in stages
    )


def solve_fit(
    spec: ModelSpec,
    query: Query,
    gpu: GPU,
    total: int,
    *,
    weights: int | None = None,
    stages: tuple[ModelSpec, ...] = (),
) -> Fit:
    """Fits or not, headroom, max s at b, max b at s, and the smallest tensor-parallel group that fits.

    ``weights`` (for ``query.gpus``) may be passed by a caller that already has them. ``stages``:
    with pp= above 1, every pipeline rank (``spec`` is the busiest, the one the answer shows); each
    rank's memory and start check bound every answer, as in the engine's report.
    """
    engine = get_engine(query.engine)
    stages = stages or (spec,)
    checks = _stage_checks(stages, query, gpu, engine, given=(spec, weights) if weights is not None else None)
    usable = engine.usable_bytes(spec, query, gpu)
    fast = checks[0].fast

    def over(s: int, b: int) -> int:
        return max(c.over(s, b) for c in checks)

    one = replica_query(query)  # one data-parallel replica: its share of the batch
    # The sequences it runs at once (vLLM: at most max_num_seqs); memory bounds b up to that cap.
    cap = engine.max_running(one, gpu)

    # The engine's own start check (vLLM: one request against the pool less its null block) bounds
    # every answer as the memory total does: a configuration it will not start does not fit.
    def starts(s: int) -> bool:
        return all(c.starts is None or c.starts(s) for c in checks)

    def fits_at(s: int, b: int) -> bool:
        return over(s, b) <= 0 and starts(s)

    b, s = one.batch if cap is None else min(one.batch, cap), query.seq_len
    if fast is not None and fits_at(MAX_SEQ_LEN, b):
        max_seq = MAX_SEQ_LEN  # the KV cache stops growing (sliding windows) before memory runs out
    elif fast is not None:
        # Memory is the bound: extrapolate to it and search around that point, not from s upwards.
        guess = _linear_guess(lambda x: over(x, b), 0, s, MAX_SEQ_LEN)
        max_seq = _largest(lambda x: fits_at(x, b), MAX_SEQ_LEN, guess, step=64)
    else:
        max_seq = _largest(lambda x: fits_at(x, b), MAX_SEQ_LEN, s)
    if not starts(s):
        max_batch = 0  # the start check does not depend on b: no batch starts at this s
    elif fast is not None:
        guess = _linear_guess(lambda x: over(s, x), 0, b, MAX_BATCH)
        max_batch = _largest(lambda x: over(s, x) <= 0, MAX_BATCH, guess, step=4)
    else:
        max_batch = _largest(lambda x: over(s, x) <= 0, MAX_BATCH, b)
    bound: Literal["memory", "max_num_seqs"] = "memory"
    if cap is not None and max_batch > cap:
        # Memory would hold more than the engine runs at once: the rest of them would wait.
        max_batch, bound = cap, "max_num_seqs"
    # Every replica holds as many: b fits while ceil(b / dp) does.
    max_batch = min(max_batch * query.dp, MAX_BATCH)

    refusal = engine.refusal(spec, query)
    if refusal is not None and query.method == "calibrated":
        refusal = _refusal_at_longest(refusal, spec, stages, query, gpu, engine, lambda s: fits_at(s, b))
    fits = refusal is None and total <= usable and over(s, b) <= 0 and starts(s)
    # A setting that stops the engine on a layout (vLLM's util past what is free at its start check,
    # which TP on NVSwitch GPUs lowers) is sized, per layout tried, at the nearest that starts, which
    # the verdict names beside the layout.
    min_gpus, min_dp, min_util = _fewest_gpus(spec, stages, query, gpu, engine, fits)
    # No layout holds it: where the engine refuses every larger group, that is why (not the memory).
    beyond = _refused_beyond(spec, query, gpu, engine) if min_gpus == 0 and refusal is None else None
    finest = _finest_split(spec, query, gpu, engine) if min_gpus == 0 and refusal is None and beyond is None else None
    return Fit(
        gpu=gpu.key,
        gpu_name=gpu.name,
        gpu_memory=gpu.memory_bytes,
        fits=fits,
        headroom=usable - total,
        # What a configuration the engine will not start would hold is no claim to make.
        max_seq_len=None if refusal else max_seq,
        max_batch=None if refusal else max_batch,
        max_batch_bound=bound,
        min_gpus=min_gpus,
        min_gpus_dp=min_dp,
        min_gpus_util=min_util,
        min_gpus_refusal=beyond,
        finest_split=finest,
        max_seq_len_memory_only=not refusal
        and bool(spec.max_position_embeddings)
        and max_seq > (spec.max_position_embeddings or 0),
        max_seq_len_at_limit=not refusal and max_seq >= MAX_SEQ_LEN,
        engine_refuses=refusal,
    )


def _refusal_at_longest(
    refusal: str,
    spec: ModelSpec,
    stages: tuple[ModelSpec, ...],
    query: Query,
    gpu: GPU,
    engine: Engine,
    fits_at: Callable[[int], bool],
) -> str:
    """A refusal of a context past the model's longest offers s=max (and YaRN to reach the context):
    where the query's layout does not hold the way out, it names the layout that does, so the way out
    fits when typed back."""
    if (factor := engine.yarn_way(spec, query)) is not None and not fits_at(query.seq_len):
        # YaRN leaves the bytes as they are: the asked context does not fit this layout either way.
        yarn = Yarn(factor=factor)
        stretched = query.model_copy(update={"yarn": yarn})
        y_spec, _ = with_yarn(spec, yarn)
        if not engine.refuses(y_spec, stretched):
            y_stages = tuple(with_yarn(stage, yarn)[0] for stage in stages)
            layout = _fewest_gpus(y_spec, y_stages, stretched, gpu, engine, False)
            refusal = engine.refusal_with_yarn(spec, refusal, factor, layout, query)
    try:
        longest = engine.longest_context(spec, query)
    except InputError:
        return refusal
    if not 0 < longest < query.seq_len or fits_at(longest):
        return refusal
    at = query.model_copy(update={"seq_len": longest})
    if engine.refuses(spec, at):
        return refusal
    return engine.refusal_at_longest(refusal, longest, _fewest_gpus(spec, stages, at, gpu, engine, False), query)


def _finest_split(spec: ModelSpec, query: Query, gpu: GPU, engine: Engine) -> FinestSplit | None:
    """Where no split of the layers holds the query: the busiest GPU at the finest split the engine
    makes, so the verdict says what stops it there (one layer's weights, or activations that more GPUs
    do not divide); None for engines that split each layer (tensor parallel) or with method=classic."""
    sizes = engine.tp_sizes(spec, MAX_GPUS, query)
    if engine.split != "layers" or query.method == "classic" or not sizes:
        return None
    n = sizes[-1]
    at = engine.startable_query(query.model_copy(update={"gpus": n}), gpu)
    weights = _weights(spec, at, n)
    memory, _ = _memory(spec, running_query(engine, at, gpu), weights, engine, gpu, engine.dtypes(spec, at))
    usable = engine.usable_bytes(spec, at, gpu)
    least = at.model_copy(update={"seq_len": 1, "batch": 1})
    layers = len(spec.layers) or spec.num_layers
    return FinestSplit(
        gpus=n,
        layers_per_gpu=-(-layers // n),
        memory=memory,
        usable=usable,
        at_any_context=total_for(spec, least, weights=weights, gpu=gpu) > usable,
    )


def _refused_beyond(spec: ModelSpec, query: Query, gpu: GPU, engine: Engine) -> str | None:
    """The engine's refusal of the next group size past the query's, where it refuses every size past
    it (transformers quantizing to NVFP4 on load on one GPU only); None where one of them starts."""
    first: str | None = None
    for n in (n for n in engine.tp_sizes(spec, MAX_GPUS, query) if n > query.gpus):
        why = engine.refusal(spec, engine.startable_query(query.model_copy(update={"gpus": n}), gpu))
        if why is None:
            return None  # a larger group starts: memory is what stops it
        first = first or why
    if first is None:
        return None
    # Its way back to the query's own group (use gpus=1) is no way here: that group is what did not fit.
    return re.sub(rf"\buse gpus={query.gpus}(?: dp=\d+)?(?:, or |$)", "use ", first).removesuffix(": use ")


def _fewest_gpus(
    spec: ModelSpec, stages: tuple[ModelSpec, ...], query: Query, gpu: GPU, engine: Engine, fits: bool
) -> tuple[int, int, float | None]:
    """The layout with the fewest GPUs in all that holds the query's b requests of s tokens: a
    tensor-parallel size the engine accepts, and (where it has data parallelism) the fewest replicas
    of it that hold them; (0, 1) when none up to the limit does. Among equal counts, the query's own
    group size where it asked one, then the fewest replicas. The query's own layout counts where it
    fits. With pp= above 1 every rank of ``stages`` must hold its share (which rank holds the most
    changes with the layout). Each group size is sized at the engine's startable query for it (a util
    that starts there); the third value is that util where it is not the query's, else None."""
    pp = query.pp
    best: tuple[int, int, int] | None = (query.gpus * pp * query.dp, query.gpus, query.dp) if fits else None
    best_util: float | None = None
    for n in engine.tp_sizes(spec, MAX_GPUS, query):
        if best is not None and n * pp > best[0]:
            break  # sizes ascend: one replica of this group is already more GPUs
        tp = engine.startable_query(query.model_copy(update={"gpus": n}), gpu)
        if engine.refuses(spec, tp.model_copy(update={"dp": 1})):
            continue

        def holds(d: int, tp: Query = tp) -> bool:
            # The memory total, and the engine's start check on one request of s (the pool of a MoE
            # model's replica grows as its experts thin out, so it is asked per replica count).
            layout = tp.model_copy(update={"dp": d})
            for check in _stage_checks(stages, layout, gpu, engine):
                if total_for(check.spec, layout, weights=check.weights, gpu=gpu) > check.usable:
                    return False
                if check.starts is not None and not check.starts(layout.seq_len):
                    return False
            return True

        # Replicas of a dense model hold the same each, so more than b of them add nothing; a MoE
        # model's experts thin out over more replicas, so any count up to the limit may be needed.
        most = MAX_GPUS // (n * pp) if engine.data_parallel and query.method == "calibrated" else 1
        if not spec.num_experts:
            most = min(most, query.batch)
        if best is not None:
            most = min(most, best[0] // (n * pp))  # as many GPUs as the best so far, in fewer replicas
        if not holds(most):
            continue
        low, high = 1, most  # the fewest replicas that hold it: total_for falls as they grow
        while low < high:
            mid = (low + high) // 2
            if holds(mid):
                high = mid
            else:
                low = mid + 1
        # A MoE model's replicas: the fewest from there that the engine starts with, its experts'
        # width split over tp x dp (or whole experts placed over them with expert parallelism).
        # More replicas hold it too, so the first accepted count is the fewest. One replica is the
        # group alone, accepted above; a dense model's replicas change nothing vLLM checks.
        if spec.num_experts:
            low = next(
                (
                    d
                    for d in range(low, most + 1)
                    if d == 1 or not engine.refuses(spec, tp.model_copy(update={"dp": d}))
                ),
                0,
            )
            if not low:
                continue

        # Among equal counts, a group size asked (gpus= above 1) first: more replicas of tp=8, not a
        # 16-GPU group across nodes; then the fewest replicas (one GPU asked: a tensor-parallel group).
        def key(total: int, size: int, replicas: int) -> tuple[int, bool, int]:
            return total, query.gpus > 1 and size != query.gpus, replicas

        if best is None or key(n * pp * low, n, low) < key(*best):
            best = (n * pp * low, n, low)
            best_util = tp.util if tp.util != query.util else None
    if best is None:
        return 0, 1, None
    return best[1], best[2], best_util


def _classic(spec: ModelSpec, query: Query) -> Classic:
    n = query.params_billions if query.params_billions is not None else spec.params.total / 1e9
    bits: int
    if query.bits:
        bits = query.bits
    elif query.weight_format is not None:
        bits = FORMAT_BITS[query.weight_format]
    elif spec.quantization.method != "none":
        bits = spec.quantization.weight_bits  # the checkpoint's own: an 8-bit GPTQ is not a 4-bit one
    else:
        bits = FORMAT_BITS[spec.quantization.format]
    return classic(
        n_billions=n,
        bits=bits,
        seq_len=query.seq_len,
        batch=query.batch,
        hidden=spec.hidden_size,
        heads=spec.num_attention_heads,
        kv_heads=spec.num_kv_heads,
        layers=spec.num_layers,
        flash_attention=query.flash_attention is not False,
        kv_cache=query.kv != "off",
    )


def _off_by(name: str, ours: float, theirs: float) -> str | None:
    """'its X term is 2.5x too small' when the classic term is more than 10% off ours."""
    if ours <= 0 or theirs <= 0:
        return None
    ratio = ours / theirs
    if ratio > 1.1:
        return f"its {name} term is {_times(ratio)} too small"
    if ratio < 1 / 1.1:
        return f"its {name} term is {_times(1 / ratio)} too large"
    return None


def _times(ratio: float) -> str:
    """``2.5x``; from 100 on whole and with separators (``1,542,115,188x``), where a tenth says nothing."""
    return f"{ratio:.1f}x" if ratio < 99.95 else f"{ratio:,.0f}x"


def _classic_warning(
    result: Classic, memory: Memory, kv_ratio: float | None, query: Query, *, experts: bool
) -> Note | None:
    """Where and by how much the classic formula is wrong, when a term or the total is >10% off
    (``experts``: a MoE model, whose routed experts data-parallel replicas split)."""
    if result.total_gb is None or memory.total == 0:
        return None
    ours_gb = memory.total / GB
    act_gb = (
        result.flash_gb
        if query.flash_attention is not False
        else (result.gqa_gb if result.gqa_gb is not None else result.vanilla_gb)
    )
    reasons = [
        None if kv_ratio is None else _off_by("KV cache", kv_ratio, 1.0),
        # Its activation term is one layer's, at the whole model's scale of s and b; one data-parallel
        # replica runs its share of b.
        _off_by("activation", memory.activations / GB, act_gb or 0) if query.dp == 1 else None,
    ]
    # Else one GPU holds a share of the weights (replicas split a MoE model's routed experts).
    if query.gpus == 1 and query.pp == 1 and (query.dp == 1 or not experts):
        reasons.append(_off_by("weights", memory.weights / GB, result.model_gb or 0))
    found = [r for r in reasons if r]
    total_off = abs(result.total_gb - ours_gb) / ours_gb > 0.10
    if not found and not total_off:
        return None
    why = "; ".join(found) or "its terms do not follow how engines allocate"
    cancel = "" if total_off else ", close only because its errors cancel"
    # In GiB like the rest of the answer: the formula's GB (10^9 B) converted, not re-rounded first.
    theirs, ours = gib_text(round(result.total_gb * GB)), gib_text(memory.total)
    return note("classic_formula", f"The classic formula says {theirs} here (this estimate: {ours}{cancel}): {why}.")


def _conversion_notes(spec: ModelSpec, query: Query, engine: Engine) -> list[Note]:
    """A quantized format the engine does not produce on load from this checkpoint: the figure is
    a pre-quantized checkpoint's, so say one is needed."""
    wanted = conversion_asked(spec, weight_format=query.weight_format, bits=query.bits)
    if wanted is None:
        return []
    fmt = spec.quantization.format
    have = fmt if fmt in FLOAT_FORMATS else fmt.upper()
    if spec.quantization.method == "none" and wanted in engine.converts_on_load(query):
        return []
    if not engine.serves_pre_quantized(query, wanted):
        return []  # the engine's start-up refusal says it serves no such checkpoint
    asked = f"dtype={query.weight_format}" if query.weight_format else f"p={query.bits}"
    shown = wanted if wanted.endswith("-bit") else wanted.upper()
    what = f"{shown} weights" if wanted.endswith("-bit") else f"{article(shown)} {shown} checkpoint"
    if spec.quantization.method != "none":
        who = "neither transformers nor vLLM re-quantizes"
    else:
        who = f"{engine.release_label(query)} does not convert"
    return [
        note(
            "pre_quantized_needed",
            f"{asked} sizes {what} of this model: {who} {article(have)} {have} checkpoint to "
            f"{wanted.replace('-bit', ' bits') if wanted.endswith('-bit') else shown} on load, "
            "so load a pre-quantized one.",
        )
    ]


def _longest_context(engine: Engine, spec: ModelSpec, query: Query) -> int | None:
    """What s=max would ask of the engine for this model, or None where it cannot say."""
    try:
        return engine.longest_context(spec, query)
    except (InputError, UnmodelledError):
        return None


# The settings of the question itself (its s, b and layout): a way to fit that changes one of them is
# another question, not another engine setting for a card.
_QUESTION_KEYS = ("s=", "b=", "gpus=", "pp=", "dp=", "gpu=")


def card_fits(spec: ModelSpec, query: Query, *, model_id: str) -> tuple[CardFit, ...]:
    """``gpu=any``: every catalog card's fit at the query's layout and the fewest of it that hold the
    query, each sized as ``gpu=<card>`` would be (the engine's defaults, util and start check per card)."""
    cards: list[CardFit] = []
    for gpu in catalog():
        on_card = query.model_copy(update={"gpu_any": False, "gpu": gpu.key})
        try:
            est = estimate(spec, on_card, model_id=model_id)
        except (InputError, UnmodelledError) as err:
            # A setting this card cannot take (a KV dtype its architecture lacks): no layout of it.
            cards.append(
                CardFit(
                    gpu=gpu.key,
                    gpu_name=gpu.name,
                    gpu_memory=gpu.memory_bytes,
                    fits=False,
                    headroom=None,
                    min_gpus=0,
                    refusal=str(err),
                )
            )
            continue
        fit = est.fit
        if fit is None:
            continue  # no verdict for the model at all (the caller's estimate says why)
        fixes = () if fit.fits else (get_engine(query.engine).fit_fixes(est) or ())
        cards.append(
            CardFit(
                gpu=gpu.key,
                gpu_name=gpu.name,
                gpu_memory=gpu.memory_bytes,
                fits=fit.fits,
                headroom=fit.headroom,
                min_gpus=fit.min_gpus,
                min_gpus_dp=fit.min_gpus_dp,
                min_gpus_util=fit.min_gpus_util,
                finest_split=fit.finest_split,
                # The query's layout refused, or (no layout holds it) every larger one.
                refusal=fit.engine_refuses or (fit.min_gpus_refusal if not fit.min_gpus else None),
                ways=tuple(f.settings for f in fixes if not f.settings.startswith(_QUESTION_KEYS)),
                loaded_as=est.details.weight_format if any(w.code == "dequantized" for w in est.warnings) else None,
            )
        )
    return tuple(_fewer_ways(spec, query, cards, model_id=model_id))


def _fewer_ways(spec: ModelSpec, query: Query, cards: list[CardFit], *, model_id: str) -> list[CardFit]:
    """Each card whose fewest layout takes more GPUs than another card's: whether a smaller layout that
    another card takes holds it on this card with a setting the engine's verdict offers there (vLLM's
    mnbt= on a card whose larger default batch costs the room), so the list does not rank it by its
    defaults alone. Engines that offer no settings are not asked."""
    engine = get_engine(query.engine)
    if type(engine).fit_fixes is BaseEngine.fit_fixes:
        return cards
    out = []
    for card in cards:
        world = card.min_gpus * card.min_gpus_dp
        # Only where a card with no more memory takes fewer GPUs: the larger card's own defaults (a
        # larger batch) are then what costs it, not its memory.
        smaller = {
            (c.min_gpus, c.min_gpus_dp)
            for c in cards
            if c.min_gpus and c.gpu_memory <= card.gpu_memory and c.min_gpus * c.min_gpus_dp < world
        }
        layouts = sorted(smaller, key=lambda g: (g[0] * g[1], g[1])) if card.min_gpus and not card.ways else []
        for gpus, dp in layouts:
            at = query.model_copy(update={"gpu_any": False, "gpu": card.gpu, "gpus": gpus, "dp": dp})
            try:
                est = estimate(spec, at, model_id=model_id)
            except (InputError, UnmodelledError):
                continue
            if est.fit is None or est.fit.fits:
                continue
            ways = [f.settings for f in engine.fit_fixes(est) or () if not f.settings.startswith(_QUESTION_KEYS)]
            if ways:
                card = card.model_copy(update={"fewer": FewerWay(gpus=gpus, dp=dp, settings=ways[0])})
                break
        out.append(card)
    return out


def estimate(
    spec: ModelSpec, query: Query, *, model_id: str, revision: str | None = None, warnings: tuple[str, ...] = ()
) -> Estimate:
    """Size one query against one model description (with ``gpu=any``, against every card)."""
    given_spec, given_query = spec, query
    engine = get_engine(query.engine)
    if why := engine.setting_refusal(query):
        raise InputError(why)
    # fa= unsaid: the attention the engine runs by default for this model (transformers: eager where
    # the model class has no sdpa). Everything below sizes that; the answer keeps the query as asked.
    asked = query
    query = query.model_copy(update={"flash_attention": engine.fused_attention(spec, query)})
    gpu = _gpu(query)
    # The model as the engine loads it (vLLM's dtype=auto serves a float32 checkpoint in 16 bits;
    # transformers dequantizes FP8 weights on a GPU without FP8 kernels).
    spec, cast = engine.loaded_spec(spec, query, gpu)
    query, dequantized = engine.loaded_query(spec, query, gpu)
    scaled = None
    if query.yarn is not None:
        spec, scaled = with_yarn(spec, query.yarn)
    if query.seq_len_from_model:
        # s=max: the context the engine starts with when none is given (vLLM's max_model_len default).
        longest = min(engine.longest_context(spec, query), MAX_SEQ_LEN)
        query = query.model_copy(update={"seq_len": longest})
        asked = asked.model_copy(update={"seq_len": longest})
    whole = spec
    stages = _pipeline_stages(spec, query)
    if query.pp > 1:
        # The per-GPU answer is the rank whose GPU holds the most; the fit checks every rank.
        spec = max(stages, key=lambda stage: total_for(stage, query, gpu=gpu))
    dtypes = engine.dtypes(spec, query)
    fmt = weight_format_name(spec, weight_format=query.weight_format, bits=query.bits)
    if spec.format_label and query.weight_format is None and query.bits is None:
        fmt = spec.format_label
    weights = _weights(spec, query, query.gpus)
    # What one GPU holds is one data-parallel replica's: its share of the batch, of which the
    # engine may run fewer at once (vLLM's max_num_seqs): the KV cache is theirs.
    sized = replica_query(query)
    running = running_query(engine, query, gpu)
    memory, terms = _memory(spec, running, weights, engine, gpu, dtypes)
    kvd = dtypes.kv
    per_token = kv_bytes_per_token(spec, kvd, gpus=query.gpus) if kvd else 0
    fixed = engine.state_bytes_per_sequence(spec, query) if kvd else 0
    if kvd and engine.split == "layers" and query.gpus > 1 and query.method == "calibrated":
        share = engine.layer_share(spec, query, gpu, dtypes, weights=weights)
        per_token, fixed = share.kv_bytes_per_token, share.kv_state_bytes_per_sequence
    # The classic formula is the whole model's on one device, whatever the layout (as with gpus=).
    classic_result = _classic(whole, query)
    kv_ratio = None
    if classic_result.kv_cache_gb and memory.kv_cache:
        # Compare like with like: classic's KV is for the whole model on one device.
        # memory.kv_cache is this very figure only for one GPU holding every layer and every request.
        same = query.gpus == 1 and query.pp == 1 and query.dp == 1 and query.method == "calibrated"
        ours_kv_total = memory.kv_cache if same else engine.kv_cache_bytes(whole, query, kvd or "bf16", gpus=1)
        # Classic counts every request of b: so must ours, where the engine runs fewer of them at once.
        ran = running.batch if same else query.batch
        kv_ratio = ours_kv_total * query.batch / ran / (classic_result.kv_cache_gb * GB)
    # What reading the config found, then where the model came from (the resolver's sentences).
    notes = [*(note("config", w) for w in spec.warnings), *(note("source", w) for w in warnings), *terms.warnings]
    if cast:
        notes.append(note("dtype_cast", cast))
    if dequantized:
        notes.append(note("dequantized", dequantized))
    if scaled:
        notes.append(note("rope_scaling", scaled))
    notes += _conversion_notes(spec, query, engine)
    # An engine that allocates its cache whatever kv= says reports, and advises on, the cache it holds.
    held = engine.kv_always_allocated and query.kv == "off"
    notes += engine.notes(spec, asked.model_copy(update={"kv": "on"}) if held else asked, gpu)
    if gpu is not None and gpu.unified_memory and not any(n.code == "unified_memory" for n in notes):
        notes.append(
            note(
                "unified_memory",
                f"On the {gpu.name} the {gpu.memory_bytes / 2**30:,.2f} GiB torch reports is memory the CPU and "
                "the OS share: less of it is free when the model loads, so leave room beyond this total.",
            )
        )
    # Settings another engine reads: say they change nothing here.
    foreign = [
        key.name
        for key in KEYS
        if (owner := setting_owner(key.name)) is not None and owner is not engine and not is_default(asked, key.name)
    ]
    if foreign:
        owner = setting_owner(foreign[0])
        assert owner is not None
        one = len(foreign) == 1
        notes.append(
            note(
                "setting_ignored",
                f"{', '.join(foreign)} {'is a' if one else 'are'} {owner.label} "
                f"{'setting' if one else 'settings'}: "
                f"{'it changes' if one else 'they change'} nothing with engine={query.engine} "
                f"(add engine={owner.name}).",
            )
        )
    no_bf16 = gpu is not None and not gpu.bf16 and query.method == "calibrated" and dtypes.model == "bf16"
    if gpu is not None and no_bf16 and (what := engine.no_bf16(spec, query, gpu)) is not None:
        # Compute capability 7.x has no bf16: torch has no fast path; vLLM serves fp16 instead.
        arch = (gpu.arch or gpu.family).title()
        notes.append(note("no_bf16", f"The {gpu.name} has no bf16 ({arch}): {what}."))
    # A model whose structure vram could not establish gets no verdict: no fit, no engine report;
    # nor does one whose activations the engine sizes only in part.
    refused = spec.unread or ((terms.unmodelled,) if terms.unmodelled else ())
    fit = None
    if gpu and not refused:
        fit_query, fit_total = query, memory.total
        if held:
            # kv=off drops the cache from the rows; the engine holds it anyway, so the fit, the maxima
            # and the verdict are those of the cache it allocates.
            fit_query = query.model_copy(update={"kv": "on"})
            kv_on = running_query(engine, fit_query, gpu)
            fit_total = _memory(spec, kv_on, weights, engine, gpu, engine.dtypes(spec, kv_on))[0].total
        fit = solve_fit(spec, fit_query, gpu, fit_total, weights=weights, stages=stages)
    cards = card_fits(given_spec, given_query, model_id=model_id) if query.gpu_any and not refused else ()
    report = None
    if not refused and query.method == "calibrated":
        # The engine sizes every pipeline rank itself, from the whole model. method=classic is the
        # original calculator's six terms: no engine's accounting beside them.
        on = sized.model_copy(update={"kv": "on"}) if held else sized
        report, report_notes = engine.report(
            whole, on, gpu, engine.dtypes(whole, on) if held else dtypes, weights=weights
        )
        notes += report_notes
    if fit is not None and fit.engine_refuses and fit.engine_refuses != engine.refusal(spec, fit_query):
        # Only a refusal of a context past the model's longest is worded anew (the layout that holds
        # s=max): the context warning, in the words as asked, would contradict it. The refusal's own
        # note below says it instead.
        notes = [n for n in notes if n.code != "context_window_exceeded"]
    if fit is not None and fit.engine_refuses and not any(n.code == "engine_refuses" for n in notes):
        # With a GPU the verdict says it; --json's warnings carry it too, under its code.
        notes.append(note("engine_refuses", fit.engine_refuses + "."))
    if query.method == "calibrated":
        warning = _classic_warning(classic_result, memory, kv_ratio, query, experts=bool(whole.num_experts))
        if warning:
            notes.append(warning)
    return Estimate(
        model=model_id,
        revision=revision,
        params_total=whole.params.total,
        params_active=whole.params.active if whole.num_experts else None,
        query=asked,
        memory=memory,
        classic=classic_result,
        fit=fit,
        cards=cards,
        engine_report=report,
        details=Details(
            kv_bytes_per_token=per_token,
            weight_format=fmt,
            kv_dtype=kvd,
            kv_fixed_bytes_per_sequence=fixed,
            activation_peak_where=terms.activation_where,
            fused_attention=bool(query.flash_attention),
            fused_attention_runs=query.flash_attention is True
            or not engine.refuses(spec, query.model_copy(update={"flash_attention": True})),
            attends=not spec.layers or any(layer.kind != "state" for layer in spec.layers),
            params_source=spec.params_source,
            classic_kv_ratio=kv_ratio,
            context_window=spec.max_position_embeddings,
            longest_context=_longest_context(engine, spec, query),
            kv_terms=engine.kv_terms(spec, running, gpu, memory.kv_cache) if kvd else (),
            running_batch=running.batch if running.batch < sized.batch else None,
            weight_terms=engine.weight_terms(spec, query, gpu, weights),
            overhead_terms=terms.overhead_terms,
        ),
        warnings=tuple(dict.fromkeys(notes)),
        refused=refused,
        refusal_code="activations_unmodelled" if refused and not spec.unread else "structure_unread",
    )
