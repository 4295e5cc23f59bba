"""A RoPE scaling the query asks for, applied to a model read from its config."""

from __future__ import annotations

from common.errors import InputError
from estimator.query import Yarn
from estimator.spec import ModelSpec


def with_yarn(spec: ModelSpec, yarn: Yarn) -> tuple[ModelSpec, str]:
    """``spec`` served with YaRN RoPE scaling by ``yarn.factor`` over ``yarn.original`` positions (the
    config's max_position_embeddings where not given), and the sentence that says so.

    The override vLLM takes is ``--hf-overrides '{"rope_scaling": {"rope_type": "yarn", "factor": F,
    "original_max_position_embeddings": P}, "max_position_embeddings": P x F}'``: up to 0.29 vLLM
    derives its longest max_model_len as original x factor, from 0.30 it takes max_position_embeddings
    as given for YaRN (config/model.py ``_get_and_verify_max_len``), so both fields make P x F in every
    release. transformers reads the same rope_scaling. The rotary table grows to P x F rows."""
    if spec.max_position_embeddings is None:
        raise InputError(f"yarn={yarn}: the {spec.model_type} config names no max_position_embeddings to scale")
    # mrope is a layout of positions (Qwen2.5-VL), not a scaling: YaRN applies over it.
    if spec.rope_scaling_type not in ("default", "mrope"):
        raise InputError(
            f"yarn={yarn}: the {spec.model_type} config already scales RoPE ({spec.rope_scaling_type} scaling, "
            f"{spec.max_position_embeddings:,} positions); drop yarn="
        )
    if spec.rope_bases:
        raise InputError(f"yarn={yarn}: vram does not rescale {spec.model_type}'s compressed-attention ropes")
    positions = yarn.original or spec.max_position_embeddings
    scaled = int(positions * yarn.factor)
    cast = spec.model_copy(
        update={"max_position_embeddings": scaled, "scaled_max_positions": scaled, "rope_scaling_type": "yarn"}
    )
    over = f"{positions:,} original positions" if yarn.original else f"the config's {positions:,} positions"
    override = (
        f'{{"rope_scaling": {{"rope_type": "yarn", "factor": {yarn.factor:g}, '
        f'"original_max_position_embeddings": {positions}}}, "max_position_embeddings": {scaled}}}'
    )
    keep = ", keeping the config's mrope_section in rope_scaling" if spec.rope_scaling_type == "mrope" else ""
    return cast, (
        f"yarn={yarn}: RoPE YaRN x{yarn.factor:g} over {over} takes {scaled:,} tokens "
        f"(vLLM: --hf-overrides '{override}'{keep})"
    )
