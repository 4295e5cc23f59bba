"""What a source hands over: a model located and described, and what the estimator needs from it."""

from __future__ import annotations

import json
from typing import Any, Literal

from estimator.config import load_model_spec
from estimator.draft import is_speculators, read_drafter, speculators_layer_config
from estimator.gguf import GgufInfo, spec_from_gguf
from estimator.spec import Drafter, Frozen, ModelSpec, SafetensorsInfo


class ResolvedModel(Frozen):
    """A model located and described: its config and what its checkpoint holds."""

    model_id: str  # canonical id as the Hub spells it (after redirects), or the local path
    requested_id: str  # what the user typed
    revision: str | None  # 40-hex commit sha (None for local paths)
    config: dict[str, Any]  # config.json as is (nested text_config etc. untouched); {} for GGUF-only
    safetensors: SafetensorsInfo | None
    gguf: GgufInfo | None = None  # GGUF-only repos (no config.json)
    source: Literal["hub", "local", "cache"]
    warnings: tuple[str, ...] = ()


class OpenedModel(Frozen):
    """What the estimator needs about one model: its spec, and where it came from."""

    model_id: str
    revision: str | None
    warnings: tuple[str, ...] = ()
    spec: ModelSpec
    resolved: ResolvedModel


def describe(resolved: ResolvedModel) -> ModelSpec:
    """The spec of a resolved model: from its GGUF header when it has no config.json, else its config."""
    if resolved.gguf is not None and not resolved.config:
        return spec_from_gguf(resolved.gguf)
    if is_speculators(resolved.config):
        # A speculators-format drafter: its layer is the config nested under transformer_layer_config.
        return load_model_spec(speculators_layer_config(resolved.config), safetensors=resolved.safetensors)
    return load_model_spec(resolved.config, safetensors=resolved.safetensors)


def opened(resolved: ResolvedModel) -> OpenedModel:
    """A resolved model with its spec worked out."""
    return OpenedModel(
        model_id=resolved.model_id,
        revision=resolved.revision,
        warnings=resolved.warnings,
        spec=describe(resolved),
        resolved=resolved,
    )


def drafter_of(model: OpenedModel) -> Drafter:
    """The opened model as a speculative-decoding drafter: its config and the tensor names its
    checkpoint's headers list (which say whether vLLM shares the target's embedding and LM head)."""
    info = model.resolved.safetensors
    names = tuple(info.tensors) if info is not None and info.tensors is not None else None
    return read_drafter(model.model_id, model.resolved.config, model.spec, names)


class CachedEntry(Frozen):
    """One cached Hub answer. Store it with :meth:`to_data`, load it with :meth:`from_data`."""

    model: ResolvedModel
    fetched_at: float  # Unix time when the Hub last confirmed this revision's sha

    def to_json(self) -> str:
        # Computed fields (SafetensorsInfo.total_bytes) are derived: leaving them out keeps the
        # round trip valid under extra="forbid".
        return self.model_dump_json(exclude_computed_fields=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> CachedEntry:
        return cls.model_validate_json(text)

    def to_data(self) -> dict[str, Any]:
        """The entry as plain JSON data (what the store keeps)."""
        return self.model_dump(mode="json", exclude_computed_fields=True)

    @classmethod
    def from_data(cls, data: Any) -> CachedEntry:
        # strict JSON-mode validation, as from_json: the data went through JSON in the store.
        return cls.model_validate_json(json.dumps(data))


def hub_timeout_sentence(total_s: float) -> str:
    """What the user reads when the Hub did not answer within the budget."""
    return (
        f"the Hugging Face Hub did not answer within {total_s:g} s: try again in a minute "
        "(or set HF_HUB_OFFLINE=1 where vram runs, to use models looked up before)"
    )


def offline_sentence(model: str) -> str:
    """What the user reads when offline mode is on and the model was never looked up."""
    return (
        f"offline mode is on (HF_HUB_OFFLINE) and {model} has not been looked up before nor is it in "
        "the Hugging Face cache: unset HF_HUB_OFFLINE to ask the Hub"
    )
