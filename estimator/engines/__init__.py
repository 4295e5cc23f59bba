"""Engine profiles: what each serving engine allocates beyond weights and KV cache."""

from __future__ import annotations

from estimator.spec import Frozen


class EngineTerms(Frozen):
    """Per-GPU bytes an engine adds on top of weights and KV cache."""

    activations: int  # peak transient memory of a forward pass (prefill), per GPU
    overhead: int  # CUDA context, allocator slack, non-torch memory, CUDA graphs
    activation_where: str  # what sets the peak, for the report ("prefill MLP", "attention scores")
    warnings: tuple[str, ...] = ()
