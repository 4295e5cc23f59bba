"""A RoPE scaling the query asks for, applied to a model read from its config."""

from __future__ import annotations

from common.errors import InputError
from estimator.spec import ModelSpec


def with_yarn(spec: ModelSpec, factor: float) -> tuple[ModelSpec, str]:
    """``spec`` served with YaRN RoPE scaling by ``factor`` over the config's positions, and the
    sentence that says so.

    The override vLLM takes is ``--hf-overrides '{"rope_scaling": {"rope_type": "yarn", "factor": F,
    "original_max_position_embeddings": P}, "max_position_embeddings": P x F}'``: up to 0.29 vLLM
    derives its longest max_model_len as original x factor, from 0.30 it takes max_position_embeddings
    as given for YaRN (config/model.py ``_get_and_verify_max_len``), so both fields make P x F in every
    release. transformers reads the same rope_scaling. The rotary table grows to P x F rows."""
    positions = spec.max_position_embeddings
    if positions is None:
        raise InputError(f"yarn={factor:g}: the {spec.model_type} config names no max_position_embeddings to scale")
    if spec.rope_scaling_type != "default":
        raise InputError(
            f"yarn={factor:g}: the {spec.model_type} config already scales RoPE ({spec.rope_scaling_type}, "
            f"{spec.scaled_max_positions or positions:,} positions); drop yarn="
        )
    if spec.rope_bases:
        raise InputError(f"yarn={factor:g}: vram does not rescale {spec.model_type}'s compressed-attention ropes")
    scaled = int(positions * factor)
    cast = spec.model_copy(
        update={"max_position_embeddings": scaled, "scaled_max_positions": scaled, "rope_scaling_type": "yarn"}
    )
    return cast, (
        f"yarn={factor:g}: RoPE YaRN x{factor:g} over the config's {positions:,} positions takes {scaled:,} tokens "
        f'(vLLM: --hf-overrides \'{{"rope_scaling": {{"rope_type": "yarn", "factor": {factor:g}, '
        f'"original_max_position_embeddings": {positions}}}, "max_position_embeddings": {scaled}}}\')'
    )
