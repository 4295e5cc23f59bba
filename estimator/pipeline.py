"""vLLM pipeline parallelism (``pp=``): which decoder layers each rank holds, and one rank's model.

vLLM splits the decoder layers into ``pipeline_parallel_size`` contiguous stages
(distributed/utils.py ``get_pp_indices``@v0.27.1, used by model_executor/models/utils.py
``make_layers``): ``num_layers // pp`` each, and the remainder one more each to the ranks just
before the last (the second-to-last first), because the last rank also holds the final norm and
the LM head. ``VLLM_PP_LAYER_PARTITION`` overrides the split; vram follows the default.

The input embedding lives on the first rank, the final norm and the LM head on the last (every
other rank holds a ``PPMissingLayer``); with tied embeddings the last rank builds the embedding too,
as its LM head (model_executor/models/qwen2.py, llama.py ``is_first_rank or (tie_word_embeddings
and is_last_rank)``). The KV cache of a rank covers its own layers only.

vram sizes a pipeline rank by the spec of that rank alone, where the decoder layers are alike
(:func:`pp_refusal` says where they are not): each rank's weights are its share of the layers'
weights plus the embedding or LM head it holds. Where dense and MoE layers mix (DeepSeek-V3's first
three dense), the dense MLPs are shared out by the rank's dense layers and the experts and router by
its MoE layers.
"""

from __future__ import annotations

from estimator.spec import LinearWeights, ModelSpec, PipelineStage
from estimator.weights import weight_bytes


def pp_partition(num_layers: int, pp: int) -> tuple[int, ...]:
    """The decoder layers of each pipeline rank, as vLLM's ``get_pp_indices`` splits them."""
    if pp < 1 or num_layers < pp:
        raise ValueError(f"{num_layers} layers cannot be split over {pp} pipeline stages")
    parts = [num_layers // pp] * pp
    for i in range(2, num_layers % pp + 2):
        parts[-i] += 1
    return tuple(parts)


def pp_bounds(num_layers: int, pp: int) -> tuple[tuple[int, int], ...]:
    """[start, end) of each rank's layers."""
    out: list[tuple[int, int]] = []
    start = 0
    for n in pp_partition(num_layers, pp):
        out.append((start, start + n))
        start += n
    return tuple(out)


_KIND_WORDS = {
    "full": "full attention",
    "sliding": "sliding-window attention",
    "mla": "MLA attention",
    "state": "recurrent-state",
    "none": "cache-free",
}


def pp_too_many_stages(spec: ModelSpec, pp: int) -> str | None:
    """Why ``pp`` stages are more than the model's decoder layers can fill, or None: invalid input
    for this model (a stage would hold no decoder layer), whatever the GPU can hold."""
    if pp > 1 and spec.num_layers < pp:
        layers = spec.num_layers
        return f"the model's {layers} decoder layers cannot fill {pp} pipeline stages: use pp={layers} or fewer"
    return None


def pp_refusal(spec: ModelSpec, pp: int, *, text_only: bool = False, speculative: bool = False) -> str | None:
    """Why vram does not size this model over ``pp`` pipeline stages, or None.

    ``text_only``: a multimodal model started without its tower (``--language-model-only``, mm=0),
    which then builds no vision module on any rank. ``speculative``: a drafter or MTP proposer is
    active; without one the checkpoint's MTP layers are not built (their weights are skipped on
    load, as ``num_hidden_layers`` excludes them), so they do not bar the split."""
    if pp == 1:
        return None
    if why := pp_too_many_stages(spec, pp):
        return why
    if spec.vision is not None and not text_only:
        return (
            "vram sizes pipeline parallelism for text models only (the vision tower runs on the first rank); "
            "mm=0 (a text-only start) builds no tower"
        )
    if speculative:
        return "vram does not size speculative decoding with pipeline parallelism"
    if len(spec.layers) != spec.num_layers or len(set(spec.layers)) != 1:
        kinds = sorted({_KIND_WORDS[layer.kind] for layer in spec.layers})
        mix = " and ".join(kinds) + " layers" if len(kinds) > 1 else f"{kinds[0]} layers of different shapes"
        return (
            "vram sizes pipeline parallelism for models whose decoder layers are all alike; this one mixes "
            f"{mix}, so each rank's share depends on where they fall"
        )
    if spec.layers[0].kind == "state":
        return "vram does not size recurrent-state (Mamba, linear-attention) layers over pipeline stages"
    if spec.layers[0].window is not None:
        # A window reserves the tokens of every batch in flight, and pipeline stages put more batches
        # in flight (VllmConfig.max_concurrent_batches@v0.27.1): not modelled.
        return "vram does not size sliding-window attention over pipeline stages"
    alike = "vram sizes pipeline parallelism for models whose decoder layers are all alike"
    mixed = spec.num_moe_layers not in (0, spec.num_layers)
    if mixed and len(spec.moe_layer_flags) != spec.num_layers:
        return f"{alike}; this one mixes dense and MoE layers where vram does not know which are which"
    per_layer = [lin for lin in spec.linears if lin.component != "lm_head"]
    if any(lin.count % _layers_of(spec, lin.component) for lin in (*per_layer, *spec.value_from_key)):
        return f"{alike}; this one's weight matrices are not the same in every layer"
    return None


# The parts of a decoder layer that only MoE layers hold, and those only dense layers hold.
_MOE_PARTS = frozenset({"routed_experts", "shared_experts", "router"})
_DENSE_PARTS = frozenset({"dense_mlp"})


def _layers_of(spec: ModelSpec, component: str) -> int:
    """How many of the model's decoder layers hold a ``component``: the MoE layers for the experts
    and router, the dense ones for a dense MLP where the model mixes both, every layer otherwise."""
    if spec.num_moe_layers in (0, spec.num_layers):
        return spec.num_layers
    if component in _MOE_PARTS:
        return spec.num_moe_layers
    if component in _DENSE_PARTS:
        return spec.num_layers - spec.num_moe_layers
    return spec.num_layers


def _scaled(n: int, layers: int, whole: int) -> int:
    return n * layers // whole if whole else 0


def stage_spec(spec: ModelSpec, rank: int, pp: int) -> ModelSpec:
    """The model as pipeline rank ``rank`` of ``pp`` holds it (a spec :func:`pp_refusal` passes)."""
    start, end = pp_bounds(spec.num_layers, pp)[rank]
    n, whole = end - start, spec.num_layers
    first, last = rank == 0, rank == pp - 1
    # A model mixing dense and MoE layers (DeepSeek-V3's first three dense): each part of a layer is
    # shared out by the rank's layers of the kind that holds it.
    mixed = spec.num_moe_layers not in (0, whole)
    moe_here = sum(spec.moe_layer_flags[start:end]) if mixed else (n if spec.num_moe_layers else 0)
    held = {"moe": (moe_here, spec.num_moe_layers), "dense": (n - moe_here, whole - spec.num_moe_layers)}

    def part(count: int, component: str) -> int:
        if mixed and component in _MOE_PARTS:
            return _scaled(count, *held["moe"])
        if mixed and component in _DENSE_PARTS:
            return _scaled(count, *held["dense"])
        return _scaled(count, n, whole)

    embeds = first or (last and spec.tie_word_embeddings)
    p = spec.params
    final_norm = spec.hidden_size  # the final RMSNorm / LayerNorm weight, on the last rank
    layer_norms = p.norms - final_norm
    params = p.model_copy(
        update={
            "embedding": p.embedding if embeds else 0,
            "lm_head": p.lm_head if last else 0,
            # A vision tower runs on the first rank only (and on none with mm=0, which the loader drops).
            "vision": p.vision if first else 0,
            "attention": _scaled(p.attention, n, whole),
            "dense_mlp": part(p.dense_mlp, "dense_mlp"),
            "routed_experts": part(p.routed_experts, "routed_experts"),
            "shared_experts": part(p.shared_experts, "shared_experts"),
            "router": part(p.router, "router"),
            "norms": _scaled(layer_norms, n, whole) + (final_norm if last else 0),
            "other": _scaled(p.other, n, whole),
            "active": 0,
        }
    )
    # Parameters one token touches on this rank (MoE: the routed experts' share, as in the whole).
    idle = part(p.total - p.active, "routed_experts") if p.routed_experts else 0
    params = params.model_copy(update={"active": params.total - idle})

    def share(lins: tuple[LinearWeights, ...]) -> tuple[LinearWeights, ...]:
        out = []
        for lin in lins:
            if lin.component == "lm_head":
                if last:
                    out.append(lin)
            else:
                out.append(lin.model_copy(update={"count": part(lin.count, lin.component)}))
        return tuple(out)

    stage = spec.model_copy(
        update={
            "num_layers": n,
            "num_moe_layers": moe_here,
            "moe_layer_flags": spec.moe_layer_flags[start:end],
            "layers": spec.layers[start:end],
            "params": params,
            "linears": share(spec.linears),
            "value_from_key": share(spec.value_from_key),
            "checkpoint_bytes": None,
            "pp_stage": PipelineStage(
                rank=rank, size=pp, start=start, end=end, whole_layers=whole, whole_params=spec.params.total
            ),
        }
    )
    if spec.checkpoint_bytes is not None:
        # What is stored, less what the other ranks hold (the modelled bytes of the rest), as the
        # tensor-parallel share is taken from the stored bytes.
        rest = weight_bytes(spec.model_copy(update={"checkpoint_bytes": None})) - weight_bytes(stage)
        stage = stage.model_copy(update={"checkpoint_bytes": max(0, spec.checkpoint_bytes - rest)})
    return stage


def stage_specs(spec: ModelSpec, pp: int) -> tuple[ModelSpec, ...]:
    """Every rank's spec, first to last."""
    return tuple(stage_spec(spec, rank, pp) for rank in range(pp))
