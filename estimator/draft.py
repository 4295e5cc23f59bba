"""Draft models for vLLM's speculative decoding (``draft=<model> spec=<tokens>``).

What vLLM loads for a drafter is decided by its ``config.json`` and the tensors its checkpoint
ships (``config/speculative.py``, ``model_executor/models/qwen3_dflash.py``,
``model_executor/models/llama_eagle3.py``, ``transformers_utils/configs/speculators/algos.py`` and
``v1/spec_decode/llm_base_proposer.py`` @v0.20.2 and @v0.33.0): the method comes from the config's
architecture (or, as vLLM falls back, the repository name); the embedding and the LM head are the
target's unless the checkpoint ships its own. Reading the files is ``sources/``' job; this module
only turns what they hold into a :class:`~estimator.spec.Drafter`, or one sentence saying why not.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from common.errors import ConfigError, InputError, UnmodelledError
from estimator.notes import article
from estimator.query import Query
from estimator.spec import Drafter, DraftMethod, Eagle3Layer, ModelSpec

# Architectures of drafters vram sizes, by the method vLLM runs them with.
DRAFT_ARCHITECTURES: dict[str, DraftMethod] = {
    "DFlashDraftModel": "dflash",  # z-lab DFlash drafters (model_executor/models/qwen3_dflash.py)
    # EAGLE-3 heads of Llama layers (model_executor/models/llama_eagle3.py; the registry maps both
    # names to Eagle3LlamaForCausalLM): yuhuili/EAGLE3-LLaMA3.1-Instruct-8B, nvidia/*-Eagle3, lmsys/*.
    "Eagle3LlamaForCausalLM": "eagle3",
    "LlamaForCausalLMEagle3": "eagle3",
    # EAGLE-3 heads of Qwen3 layers, vLLM 0.24+ (model_executor/models/qwen3_eagle3.py).
    "Eagle3Qwen3ForCausalLM": "eagle3",
    # EAGLE-1 heads of Llama layers (model_executor/models/llama_eagle.py).
    "EagleLlamaForCausalLM": "eagle",
}
# Speculators-format checkpoints (RedHatAI/*-speculator.eagle3): the layer is
# ``transformer_layer_config``, vLLM builds it as Eagle3LlamaForCausalLM when that is a Llama layer
# and, from 0.24, as Eagle3Qwen3ForCausalLM when it is a Qwen3 one
# (transformers_utils/configs/speculators/algos.py ``eagle3_arch_map``).
_SPECULATORS_EAGLE3_LAYERS = {"llama": "Eagle3LlamaForCausalLM", "qwen3": "Eagle3Qwen3ForCausalLM"}
_SPECULATORS_EAGLE3_FIELDS = (
    "draft_vocab_size",
    "target_hidden_size",
    "norm_before_residual",
    "norm_before_fc",
    "fc_norm",
    "eagle_aux_hidden_state_layer_ids",
)
# Drafter architectures vLLM runs that vram does not size yet (named in the refusal).
_NOT_SIZED = {
    "PeagleQwen3ForCausalLM": "peagle",
    "PeagleLlamaForCausalLM": "peagle",
    "PEagleDraftModel": "peagle",
    "Eagle3DeepseekV2ForCausalLM": "eagle3 (DeepSeek layers)",
    "Eagle3DeepseekV3ForCausalLM": "eagle3 (DeepSeek layers)",
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


_SIZED = (
    "vram sizes DFlash drafters, EAGLE drafters of Llama layers, EAGLE-3 drafters of Llama and Qwen3 layers and "
    "plain causal LMs only so far"
)


def is_speculators(config: dict[str, Any]) -> bool:
    """A speculators-format drafter config (its layer under ``transformer_layer_config``)."""
    return "speculators_model_type" in config and isinstance(config.get("transformer_layer_config"), dict)


def speculators_layer_config(config: dict[str, Any]) -> dict[str, Any]:
    """The config vLLM builds a speculators EAGLE-3 drafter from: ``transformer_layer_config`` with
    the EAGLE-3 fields of the top level (speculators/algos.py ``update_eagle3``)."""
    flat = dict(config["transformer_layer_config"])
    flat.setdefault("model_type", "llama")
    for key in _SPECULATORS_EAGLE3_FIELDS:
        if config.get(key) is not None:
            flat[key] = config[key]
    flat["architectures"] = [_SPECULATORS_EAGLE3_LAYERS.get(flat["model_type"], "Eagle3LlamaForCausalLM")]
    return flat


def draft_method(model_id: str, config: dict[str, Any]) -> DraftMethod:
    """The method vLLM runs this drafter with, read from its config (and name) alone, or an
    UnmodelledError for a drafter vram does not size."""
    return _method(model_id, config)


def _method(model_id: str, config: dict[str, Any]) -> DraftMethod:
    if is_speculators(config):
        kind = config.get("speculators_model_type")
        layer = config["transformer_layer_config"].get("model_type", "llama")
        if kind == "eagle3" and layer in _SPECULATORS_EAGLE3_LAYERS:
            return "eagle3"
        raise UnmodelledError(
            f"{model_id} is a speculators {kind} drafter of {layer} layers: {_SIZED}, so it cannot tell what this "
            "one adds"
        )
    architectures = [a for a in config.get("architectures") or () if isinstance(a, str)]
    for arch in architectures:
        if arch in DRAFT_ARCHITECTURES:
            return DRAFT_ARCHITECTURES[arch]
    for arch in architectures:
        if arch in _NOT_SIZED:
            raise UnmodelledError(
                f"{model_id} is {article(_NOT_SIZED[arch])} {_NOT_SIZED[arch]} drafter ({arch}): {_SIZED}, so it "
                "cannot tell what this one adds"
            )
    name = model_id.lower()
    named = "eagle" if "eagle-" in name else "eagle3" if "eagle3" in name else "dflash" if "dflash" in name else ""
    if named in ("eagle", "eagle3") and architectures == ["LlamaForCausalLM"]:
        # vLLM takes a Llama checkpoint whose name says eagle- / eagle3 as one (config/speculative.py)
        # and builds it as EagleLlamaForCausalLM / Eagle3LlamaForCausalLM (transformers_utils/configs/eagle.py).
        return "eagle" if named == "eagle" else "eagle3"
    if named == "eagle3" and architectures == ["Qwen3ForCausalLM"]:
        # EAGLEConfig prefixes the architecture: Eagle3Qwen3ForCausalLM (registered from 0.24).
        return "eagle3"
    if named:
        # config/speculative.py reads the method from the name before it falls back on "draft_model".
        raise UnmodelledError(
            f"{model_id} ({', '.join(architectures) or 'no architecture'}): vLLM reads its name as "
            f"{article(named)} {named} drafter of this architecture, which vram does not size ({_SIZED})"
        )
    if len(architectures) == 1 and architectures[0].endswith("ForCausalLM") and "text_config" not in config:
        # Any other model is vLLM's "draft_model" method (config/speculative.py's default): a small
        # language model of the target's vocabulary, loaded whole (v1/spec_decode/draft_model.py).
        return "draft_model"
    listed = ", ".join(architectures) or "no architecture"
    raise UnmodelledError(
        f"{model_id} ({listed}) is not a draft model vram knows: {_SIZED} (DFlashDraftModel, EagleLlamaForCausalLM, "
        "Eagle3LlamaForCausalLM, LlamaForCausalLMEagle3, Eagle3Qwen3ForCausalLM, speculators eagle3)"
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
        raise UnmodelledError(f"vram could not read the drafter {model_id}'s structure: {spec.unread[0]}")
    if "quantization_config" in config:
        raise UnmodelledError(f"{model_id} is a quantized drafter, which vram does not size yet")
    if method == "draft_model":
        # Loaded whole with its own embedding and LM head (DraftModelProposer shares neither).
        return Drafter(model_id=model_id, method=method, spec=spec, own_embed_tokens=True, own_lm_head=True)
    if tensor_names is None:
        raise UnmodelledError(
            f"vram could not read which tensors the drafter {model_id} ships (vLLM shares the target's embedding "
            "and LM head only when it has none of its own): give a drafter whose safetensors headers can be read"
        )
    names = list(tensor_names)
    if method == "eagle":
        return Drafter(
            model_id=model_id,
            method=method,
            spec=spec,
            own_embed_tokens=any("embed_tokens" in name for name in names),
            own_lm_head=any("lm_head" in name for name in names),
        )
    if method == "eagle3":
        return _eagle3(model_id, speculators_layer_config(config) if is_speculators(config) else config, spec, names)
    dflash_config = config.get("dflash_config") or {}
    use_aux = dflash_config.get("use_aux_hidden_state", True)
    target_hidden = int(config.get("target_hidden_size") or spec.hidden_size)
    layer_ids = dflash_config.get("target_layer_ids") if isinstance(dflash_config, dict) else None
    return Drafter(
        model_id=model_id,
        method=method,
        spec=spec,
        fc_in_features=target_hidden * _taps(config, spec) if use_aux else 0,
        target_hidden_size=target_hidden if use_aux else 0,
        target_layer_ids=tuple(int(i) for i in layer_ids) if use_aux and isinstance(layer_ids, list) else (),
        own_embed_tokens=any("embed_tokens" in name for name in names),
        own_lm_head=any("lm_head" in name for name in names),
    )


def _eagle3_layer(config: dict[str, Any]) -> Eagle3Layer:
    """The decoder layer vLLM builds the head of: Qwen3's for Eagle3Qwen3ForCausalLM (named, or a
    plain Qwen3ForCausalLM that EAGLEConfig prefixes with "Eagle3"), Llama's otherwise."""
    architectures = config.get("architectures") or ()
    return "qwen3" if any(a in ("Eagle3Qwen3ForCausalLM", "Qwen3ForCausalLM") for a in architectures) else "llama"


def _eagle3_taps(config: dict[str, Any], eagle_config: dict[str, Any], layer: Eagle3Layer) -> int:
    """How many target hidden states the fc takes as vLLM 0.22+ counts them. Llama heads
    (llama_eagle3.py): ``num_aux_hidden_states``, else len(``eagle_config``'s layer ids), else 3.
    Qwen3 heads (qwen3_eagle3.py): ``num_aux_layers``, else ``num_aux_hidden_states``, else len of the
    layer ids at the top level or in ``eagle_config``, else 3."""
    if layer == "qwen3":
        for key in ("num_aux_layers", "num_aux_hidden_states"):
            if config.get(key) is not None:
                return int(config[key])
        ids = config.get("eagle_aux_hidden_state_layer_ids") or eagle_config.get("eagle_aux_hidden_state_layer_ids")
        return len(ids) if isinstance(ids, list) and ids else 3
    ids = eagle_config.get("eagle_aux_hidden_state_layer_ids")
    return int(config.get("num_aux_hidden_states") or (len(ids) if isinstance(ids, list) else 0) or 3)


def _eagle3(model_id: str, config: dict[str, Any], spec: ModelSpec, names: list[str]) -> Drafter:
    """An EAGLE-3 head as Eagle3LlamaForCausalLM / Eagle3Qwen3ForCausalLM build it
    (model_executor/models/llama_eagle3.py, qwen3_eagle3.py)."""
    eagle_config = config.get("eagle_config") or {}
    if not isinstance(eagle_config, dict):
        raise ConfigError(f"{model_id}'s eagle_config is not an object, so vram cannot read its layout")
    use_aux = bool(eagle_config.get("use_aux_hidden_state", True))
    layer = _eagle3_layer(config)
    taps = _eagle3_taps(config, eagle_config, layer)
    target_hidden = int(config.get("target_hidden_size") or spec.hidden_size)
    return Drafter(
        model_id=model_id,
        method="eagle3",
        spec=spec,
        fc_in_features=target_hidden * taps if use_aux else 0,
        own_embed_tokens=any("embed_tokens" in name for name in names),
        own_lm_head=any("lm_head" in name for name in names),
        draft_vocab_size=int(config.get("draft_vocab_size") or spec.vocab_size),
        eagle3_taps=taps if use_aux else 0,
        eagle3_layer=layer,
        target_hidden_size=target_hidden,
        norm_before_fc=bool(eagle_config.get("norm_before_fc", config.get("norm_before_fc", False))) and use_aux,
        fc_norm=bool(config.get("fc_norm", False)) and use_aux,
    )
