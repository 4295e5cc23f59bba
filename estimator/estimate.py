"""One estimate: a model description and a query in, an :class:`Estimate` out; and the fit solvers."""

from __future__ import annotations

from collections.abc import Callable

from estimator.classic import GB, classic
from estimator.engines import EngineTerms
from estimator.engines.transformers import transformers_terms
from estimator.engines.vllm import (
    VLLM_VERSION,
    batch_defaults,
    cuda_context_bytes,
    cuda_graph_bytes,
    loaded_weight_bytes,
    vllm_report,
    vllm_terms,
)
from estimator.gpus import GPU, lookup_gpu
from estimator.kv import kv_bytes_per_token, kv_cache_bytes, kv_dtype, model_dtype, state_bytes_per_sequence
from estimator.query import MAX_BATCH, MAX_GPUS, MAX_SEQ_LEN, Query
from estimator.result import Classic, Details, Estimate, Fit, Memory
from estimator.spec import ModelSpec
from estimator.weights import weight_bytes, weight_format_name

# Bits per weight the classic formula uses for each format (its p).
_FORMAT_BITS = {"fp32": 32, "bf16": 16, "fp16": 16, "fp8": 8, "int8": 8, "int4": 4, "nf4": 4, "mxfp4": 4,
                "awq": 4, "gptq": 4}

# Tensor-parallel sizes the min-GPU solver tries: what engines accept in practice.
_TP_SIZES = tuple(n for n in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024) if n <= MAX_GPUS)


def _weights(spec: ModelSpec, query: Query, gpus: int) -> int:
    weights = weight_bytes(spec, weight_format=query.weight_format, bits=query.bits, gpus=gpus)
    if query.params_billions is not None and spec.params.total:
        # n= overrides the parameter count: scale the checkpoint's byte mix to it.
        weights = round(weights * query.params_billions * 1e9 / spec.params.total)
    return weights


def _classic_memory(spec: ModelSpec, query: Query) -> tuple[Memory, EngineTerms]:
    # method=classic: the original formulas' terms, in bytes (GB = 1e9), so fit and solvers follow them.
    c = _classic(spec, query)
    act_gb = c.flash_gb if query.flash_attention else (c.gqa_gb if c.gqa_gb is not None else c.vanilla_gb)
    memory = Memory(weights=round((c.model_gb or 0) * GB), kv_cache=round((c.kv_cache_gb or 0) * GB),
                    activations=round((act_gb or 0) * GB), overhead=0)
    return memory, EngineTerms(activations=memory.activations, overhead=0,
                               activation_where="one layer's activations (classic formula)")


def _memory(spec: ModelSpec, query: Query, weights: int) -> tuple[Memory, EngineTerms]:
    if query.method == "classic":
        return _classic_memory(spec, query)
    kvd = kv_dtype(spec, query.kv, query.weight_format, query.bits)
    kv = 0 if kvd is None else kv_cache_bytes(
        spec, seq_len=query.seq_len, batch=query.batch, kv_dtype=kvd, gpus=query.gpus, engine=query.engine
    )
    if query.engine == "vllm":
        terms = vllm_terms(spec, query, weights_bytes=weights)
        # What vLLM holds once loaded: the checkpoint share plus what its kernels re-lay or add
        # (rope cache, MXFP4 swizzle padding); the profile functions take the checkpoint share.
        weights = loaded_weight_bytes(spec, query, weights)
    else:
        terms = transformers_terms(spec, query, weights_bytes=weights, kv_cache_bytes=kv)
    return Memory(weights=weights, kv_cache=kv, activations=terms.activations, overhead=terms.overhead), terms


def vllm_tp_refusal(spec: ModelSpec, gpus: int) -> str | None:
    """Why vLLM refuses this tensor-parallel size, or None when it accepts it.

    vLLM checks that the attention heads divide by the TP size, and its QKV projection that the
    KV heads either divide by it or divide it (replicated past them); MLA has no KV heads to split.
    """
    if gpus == 1:
        return None
    heads = spec.num_attention_heads
    if heads % gpus:
        return f"the model's {heads} attention heads do not divide by {gpus}"
    kv = spec.num_kv_heads
    has_gqa = any(layer.kind in ("full", "sliding") for layer in spec.layers)
    if has_gqa and kv and (kv % gpus if gpus <= kv else gpus % kv):
        return f"the model's {kv} KV heads and {gpus} GPUs do not divide one another"
    return None


def _tp_sizes(spec: ModelSpec, query: Query) -> tuple[int, ...]:
    """Group sizes the min-GPU solver tries: powers of two, or for vLLM the sizes it accepts
    (phi-4's 10 KV heads rule out 4 and 8 but allow 5 and 10)."""
    if query.engine != "vllm":
        return _TP_SIZES
    return tuple(n for n in range(1, MAX_GPUS + 1) if vllm_tp_refusal(spec, n) is None)


def _usable(spec: ModelSpec, query: Query, gpu: GPU) -> int:
    """The most ``memory.total`` may be on one GPU.

    transformers can use the whole device. vLLM's requested share (util x the device) holds the
    weights, the KV cache, the activation peak and non-torch memory; the CUDA context (there before
    vLLM measures) and the CUDA graphs (captured after the KV pool) come on top, within the device.
    So the query fits exactly when vLLM's KV pool holds its b x s tokens.
    """
    if query.engine != "vllm":
        return gpu.memory_bytes
    requested = int(query.util * gpu.memory_bytes)
    if query.method == "classic":
        return requested  # the classic terms have no overhead to place outside the share
    outside = cuda_context_bytes(query) + cuda_graph_bytes(spec)
    return min(requested + outside, gpu.memory_bytes)


def total_for(spec: ModelSpec, query: Query, *, weights: int | None = None) -> int:
    """Per-GPU total bytes for a query (the quantity every solver bounds).

    ``weights`` may be passed when the caller already has them for ``query.gpus``: they depend on
    neither s nor b, so the solvers compute them once.
    """
    if weights is None:
        weights = _weights(spec, query, query.gpus)
    memory, _ = _memory(spec, query, weights)
    return memory.total


def _largest(fits: Callable[[int], bool], high: int, start: int = 1) -> int:
    """Largest x in [1, high] with fits(x), for a monotone predicate; 0 when fits(1) is false.

    Gallops from ``start`` (the query's own value, usually near the answer) before bisecting, so a
    solver costs a dozen estimates rather than log2(high).
    """
    start = min(max(start, 1), high)
    if fits(start):
        low, step = start, max(start, 1)
        while True:
            probe = min(low + step, high)
            if probe == low or not fits(probe):
                high = probe - 1 if probe != low else low
                break
            low, step = probe, step * 2
    else:
        if start == 1 or not fits(1):
            return 0
        low, high = 1, start - 1
    while low < high:
        mid = (low + high + 1) // 2
        if fits(mid):
            low = mid
        else:
            high = mid - 1
    return low


def solve_fit(spec: ModelSpec, query: Query, gpu: GPU, total: int, *, weights: int | None = None) -> Fit:
    """Fits or not, headroom, max s at b, max b at s, and the smallest tensor-parallel group that fits.

    ``weights`` (for ``query.gpus``) may be passed by a caller that already has them.
    """
    usable = _usable(spec, query, gpu)
    if weights is None:
        weights = _weights(spec, query, query.gpus)

    def fits_seq(s: int) -> bool:
        return total_for(spec, query.model_copy(update={"seq_len": s}), weights=weights) <= usable

    def fits_batch(b: int) -> bool:
        return total_for(spec, query.model_copy(update={"batch": b}), weights=weights) <= usable

    min_gpus = 0
    for n in _tp_sizes(spec, query):
        tp = query.model_copy(update={"gpus": n})
        if total_for(spec, tp) <= _usable(spec, tp, gpu):
            min_gpus = n
            break
    return Fit(
        gpu=gpu.key, gpu_name=gpu.name, gpu_memory=gpu.memory_bytes, fits=total <= usable,
        headroom=usable - total, max_seq_len=_largest(fits_seq, MAX_SEQ_LEN, query.seq_len),
        max_batch=_largest(fits_batch, MAX_BATCH, query.batch), min_gpus=min_gpus,
    )


def _classic(spec: ModelSpec, query: Query) -> Classic:
    n = query.params_billions if query.params_billions is not None else spec.params.total / 1e9
    bits = query.bits or _FORMAT_BITS.get(query.weight_format or spec.quantization.format, 16)
    return classic(
        n_billions=n, bits=bits, seq_len=query.seq_len, batch=query.batch, hidden=spec.hidden_size,
        heads=spec.num_attention_heads, kv_heads=spec.num_kv_heads, layers=spec.num_layers,
        flash_attention=query.flash_attention, kv_cache=query.kv != "off",
    )


def _off_by(name: str, ours: float, theirs: float) -> str | None:
    """'its X term is 2.5x too small' when the classic term is more than 10% off ours."""
    if ours <= 0 or theirs <= 0:
        return None
    ratio = ours / theirs
    if ratio > 1.1:
        return f"its {name} term is {ratio:.1f}x too small"
    if ratio < 1 / 1.1:
        return f"its {name} term is {1 / ratio:.1f}x too large"
    return None


def _classic_warning(result: Classic, memory: Memory, kv_ratio: float | None, query: Query) -> str | None:
    """Where and by how much the classic formula is wrong, when a term or the total is >10% off."""
    if result.total_gb is None or memory.total == 0:
        return None
    ours_gb = memory.total / GB
    act_gb = result.flash_gb if query.flash_attention else (
        result.gqa_gb if result.gqa_gb is not None else result.vanilla_gb)
    reasons = [
        None if kv_ratio is None else _off_by("KV cache", kv_ratio, 1.0),
        # Its activation term is one layer's, at the whole model's scale of s and b.
        _off_by("activation", memory.activations / GB, act_gb or 0),
    ]
    if query.gpus == 1:
        reasons.append(_off_by("weights", memory.weights / GB, result.model_gb or 0))
    found = [r for r in reasons if r]
    total_off = abs(result.total_gb - ours_gb) / ours_gb > 0.10
    if not found and not total_off:
        return None
    why = "; ".join(found) or "its terms do not follow how engines allocate"
    cancel = "" if total_off else ", close only because its errors cancel"
    return f"The classic formula says {result.total_gb} GB here (this estimate: {ours_gb:.2f} GB{cancel}): {why}."


def estimate(spec: ModelSpec, query: Query, *, model_id: str, revision: str | None = None,
             warnings: tuple[str, ...] = ()) -> Estimate:
    """Size one query against one model description."""
    fmt = weight_format_name(spec, weight_format=query.weight_format, bits=query.bits)
    if spec.format_label and query.weight_format is None and query.bits is None:
        fmt = spec.format_label
    weights = _weights(spec, query, query.gpus)
    memory, terms = _memory(spec, query, weights)
    kvd = kv_dtype(spec, query.kv, query.weight_format, query.bits)
    per_token = kv_bytes_per_token(spec, kvd, gpus=query.gpus) if kvd else 0
    classic_result = _classic(spec, query)
    kv_ratio = None
    if classic_result.kv_cache_gb and memory.kv_cache:
        # Compare like with like: classic's KV is for the whole model on one device.
        same = query.gpus == 1 and query.method == "calibrated"  # then memory.kv_cache is this very figure
        ours_kv_total = memory.kv_cache if same else kv_cache_bytes(
            spec, seq_len=query.seq_len, batch=query.batch, kv_dtype=kvd or "bf16", gpus=1, engine=query.engine)
        kv_ratio = ours_kv_total / (classic_result.kv_cache_gb * GB)
    notes = [*spec.warnings, *warnings, *terms.warnings]
    wanted = query.weight_format
    if wanted in ("awq", "gptq", "mxfp4") and spec.quantization.format != wanted:
        # Calibrated or re-laid formats: neither engine converts bf16 weights into them on load.
        notes.append(f"dtype={wanted} sizes a {wanted.upper()} checkpoint of this model: neither transformers "
                     f"nor vLLM converts a {spec.quantization.format} checkpoint to {wanted.upper()} on load, "
                     "so load a pre-quantized one.")
    # engine=vllm says it its own way (vLLM refuses such a max_model_len): one sentence, not two.
    if spec.max_position_embeddings and query.seq_len > spec.max_position_embeddings and query.engine != "vllm":
        notes.append(f"s={query.seq_len:,} is longer than the model's context window "
                     f"({spec.max_position_embeddings:,} tokens).")
    vllm_only = [key for key, given in (("util", query.util != Query.model_fields["util"].default),
                                        ("mnbt", query.max_num_batched_tokens is not None),
                                        ("seqs", query.max_num_seqs is not None)) if given]
    if vllm_only and query.engine != "vllm":
        one = len(vllm_only) == 1
        notes.append(f"{', '.join(vllm_only)} {'is a vLLM setting' if one else 'are vLLM settings'}: "
                     f"{'it changes' if one else 'they change'} nothing with engine={query.engine} "
                     "(add engine=vllm).")
    if query.engine == "vllm":
        if not query.flash_attention:
            notes.append("vLLM always runs fused (paged) attention kernels: fa=off changes nothing with "
                         "engine=vllm (its --enforce-eager turns off CUDA graphs, not fused attention).")
        _, max_seqs = batch_defaults(query)
        if query.batch > max_seqs:
            # The KV term still counts b sequences; vLLM would queue all but max_num_seqs of them.
            seqs = f"{max_seqs:,} sequence" + ("" if max_seqs == 1 else "s")
            why = f"seqs={query.max_num_seqs:,}" if query.max_num_seqs else "its default max_num_seqs"
            notes.append(f"vLLM runs at most {seqs} at once ({why}): b={query.batch:,} would queue the rest; "
                         "raise seqs= to run them together.")
        refusal = vllm_tp_refusal(spec, query.gpus)
        if refusal:
            valid = [n for n in range(1, query.gpus) if vllm_tp_refusal(spec, n) is None]
            notes.append(f"vLLM will not start with gpus={query.gpus}: {refusal}; "
                         f"gpus={valid[-1]} is the largest size below it that vLLM accepts.")
    gpu = lookup_gpu(query.gpu) if query.gpu else None
    if gpu is not None and gpu.arch in ("turing", "volta") and query.method == "calibrated" \
            and model_dtype(spec, query.weight_format, query.bits) == "bf16":
        # Compute capability 7.x has no bf16: vLLM refuses to start, and torch has no fast path.
        refuses = "vLLM refuses to start in bf16" if query.engine == "vllm" else "bf16 has no fast path"
        plain = spec.quantization.method == "none" and query.weight_format is None and query.bits is None
        fix = "add dtype=fp16 (the same size)" if plain else "run it in fp16 (vLLM: --dtype half)"
        notes.append(f"The {gpu.name} has no bf16 ({gpu.arch.title()}): {refuses} there; {fix}.")
    # A model whose structure vram could not establish gets no verdict: no fit, no vLLM pool.
    refused = spec.unread
    fit = solve_fit(spec, query, gpu, memory.total, weights=weights) if gpu and not refused else None
    vllm = None
    if query.engine == "vllm" and not refused:
        if gpu is not None:
            vllm = vllm_report(spec, query, weights_bytes=weights, gpu_memory=gpu.memory_bytes)
            if vllm.kv_cache_memory <= 0:
                notes.append("vLLM would not start: weights and activations leave no room for the KV cache "
                             f"at util={query.util}.")
        else:
            notes.append(f"Give gpu= to see the KV pool vLLM {VLLM_VERSION} would reserve and how many "
                         "requests it holds.")
    if query.method == "calibrated":
        warning = _classic_warning(classic_result, memory, kv_ratio, query)
        if warning:
            notes.append(warning)
    return Estimate(
        model=model_id, revision=revision, params_total=spec.params.total,
        params_active=spec.params.active if spec.num_experts else None, query=query, memory=memory,
        classic=classic_result, fit=fit, vllm=vllm,
        details=Details(kv_bytes_per_token=per_token, weight_format=fmt, kv_dtype=kvd,
                        kv_fixed_bytes_per_sequence=state_bytes_per_sequence(spec, gpus=query.gpus, engine=query.engine)
                        if kvd else 0,
                        activation_peak_where=terms.activation_where, params_source=spec.params_source,
                        classic_kv_ratio=kv_ratio, context_window=spec.max_position_embeddings),
        warnings=tuple(dict.fromkeys(notes)), refused=refused,
    )
