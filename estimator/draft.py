"""Draft models for vLLM's speculative decoding (``draft=<model> spec=<tokens>``).

What vLLM loads for a drafter is decided by its ``config.json`` and the tensors its checkpoint
ships (``config/speculative.py``, ``model_executor/models/qwen3_dflash.py`` and
``v1/spec_decode/llm_base_proposer.py`` @v0.20.2 and @v0.33.0): the method comes from the config's
architecture (or, as vLLM falls back, the repository name); the embedding and the LM head are the
target's unless the checkpoint ships its own. Reading the files is ``sources/``' job; this module
only turns what they hold into a :class:`~estimator.spec.Drafter`, or one sentence saying why not.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from common.errors import InputError
from estimator.query import Query
from estimator.spec import Drafter, DraftMethod, ModelSpec

# Architectures of drafters vram sizes, by the method vLLM runs them with.
DRAFT_ARCHITECTURES: dict[str, DraftMethod] = {
    "DFlashDraftModel": "dflash",  # z-lab DFlash drafters (model_executor/models/qwen3_dflash.py)
}
# Drafter architectures vLLM runs that vram does not size yet (named in the refusal).
_NOT_SIZED = {
    "Eagle3LlamaForCausalLM": "eagle3",
    "LlamaForCausalLMEagle3": "eagle3",
    "Eagle3Speculator": "eagle3",
    "EagleLlamaForCausalLM": "eagle",
    "LlamaForCausalLMEagle": "eagle",
    "EagleSpeculator": "eagle",
    "DFlash2DraftModel": "dflash2",
    "MedusaModel": "medusa",
    "MLPSpeculatorPreTrainedModel": "mlp_speculator",
}


def check_speculative_settings(query: Query) -> None:
    """The speculative keys make sense together: draft= needs spec= (vLLM has no default count for
    these drafters), spec= needs draft=, and MTP and a drafter are one speculative config each."""
    if query.draft and not query.spec:
        raise InputError(
            f"draft={query.draft} needs spec=<num_speculative_tokens>: vLLM will not start a draft model "
            "without it (for example spec=5)"
        )
    if query.spec and not query.draft:
        raise InputError("spec= is the draft model's speculative tokens: add draft=<drafter repo or path>")
    if query.draft and query.mtp:
        raise InputError("mtp= and draft= are two speculative configs: vLLM takes one; drop one of them")


def _method(model_id: str, config: dict[str, Any]) -> DraftMethod:
    architectures = [a for a in config.get("architectures") or () if isinstance(a, str)]
    for arch in architectures:
        if arch in DRAFT_ARCHITECTURES:
            return DRAFT_ARCHITECTURES[arch]
    for arch in architectures:
        if arch in _NOT_SIZED:
            raise InputError(
                f"{model_id} is a {_NOT_SIZED[arch]} drafter ({arch}): vram sizes DFlash drafters only so far, "
                "so it cannot tell what this one adds"
            )
    named = ", ".join(architectures) or "no architecture"
    raise InputError(
        f"{model_id} ({named}) is not a draft model vram knows: vram sizes DFlash drafters (DFlashDraftModel) only"
    )


def _taps(config: dict[str, Any], spec: ModelSpec) -> int:
    """How many target layers feed the drafter's ``fc`` (DFlashQwen3Model: ``target_layer_ids``,
    else ``layer_ids``, else one per drafter layer)."""
    drafter_config = config.get("dflash_config") or {}
    for key in ("target_layer_ids", "layer_ids"):
        ids = drafter_config.get(key) if isinstance(drafter_config, dict) else None
        if isinstance(ids, list) and ids:
            return len(ids)
    return spec.num_layers


def read_drafter(
    model_id: str,
    config: dict[str, Any],
    spec: ModelSpec,
    tensor_names: Iterable[str] | None,
) -> Drafter:
    """The drafter vLLM would load from this config and checkpoint, or an InputError saying why vram
    cannot size it (an unknown method, a quantized drafter, a checkpoint whose tensors are unread)."""
    method = _method(model_id, config)
    if spec.unread:
        raise InputError(f"vram could not read the drafter {model_id}'s structure: {spec.unread[0]}")
    if "quantization_config" in config:
        raise InputError(f"{model_id} is a quantized drafter, which vram does not size yet")
    if tensor_names is None:
        raise InputError(
            f"vram could not read which tensors the drafter {model_id} ships (vLLM shares the target's embedding "
            "and LM head only when it has none of its own): give a drafter whose safetensors headers can be read"
        )
    names = list(tensor_names)
    use_aux = (config.get("dflash_config") or {}).get("use_aux_hidden_state", True)
    target_hidden = config.get("target_hidden_size") or spec.hidden_size
    return Drafter(
        model_id=model_id,
        method=method,
        spec=spec,
        fc_in_features=int(target_hidden) * _taps(config, spec) if use_aux else 0,
        own_embed_tokens=any("embed_tokens" in name for name in names),
        own_lm_head=any("lm_head" in name for name in names),
    )
