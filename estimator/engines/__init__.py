"""Serving engine profiles, as plug-ins: each engine is one module, listed once in ``_BUILTIN``.

The grammar's ``engine=`` values, the help texts and the ``--json`` sections come from this
registry (see docs/extending.md, "Add a serving engine").
"""

from __future__ import annotations

from common.errors import InputError
from estimator.engines import transformers, vllm
from estimator.engines.base import (
    BaseEngine,
    Engine,
    EngineReport,
    EngineTerms,
    FitFix,
    GpuShare,
    KvTerm,
    OverheadTerm,
    PoolSummary,
    WeightTerm,
)

_BUILTIN: tuple[Engine, ...] = (
    transformers.ENGINE,
    vllm.ENGINE,
)

_REGISTRY: dict[str, Engine] = {engine.name: engine for engine in _BUILTIN}

DEFAULT_ENGINE = transformers.ENGINE.name


def register(engine: Engine) -> None:
    """Add an engine (one not shipped here); its name must be new."""
    if engine.name in _REGISTRY:
        raise ValueError(f"an engine named {engine.name!r} is already registered")
    _REGISTRY[engine.name] = engine


def unregister(name: str) -> None:
    """Remove a registered engine (tests that add one take it away again)."""
    if name == DEFAULT_ENGINE:
        raise ValueError("the default engine cannot be removed")
    del _REGISTRY[name]


def engines() -> tuple[Engine, ...]:
    """Every registered engine, built-ins first."""
    return tuple(_REGISTRY.values())


def engine_names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def engine_aliases() -> dict[str, str]:
    """Other spellings of engine names -> the name."""
    return {alias: engine.name for engine in _REGISTRY.values() for alias in engine.aliases}


def get_engine(name: str) -> Engine:
    """The engine called ``name``; an unknown name is an input error."""
    engine = _REGISTRY.get(name)
    if engine is None:
        raise InputError(f"engine={name} is not valid: use one of {', '.join(_REGISTRY)}")
    return engine


def setting_owner(key: str) -> Engine | None:
    """The engine whose setting a grammar key is (``util`` -> vLLM), or None for a shared key."""
    return next((engine for engine in _REGISTRY.values() if key in engine.setting_keys), None)


__all__ = [
    "DEFAULT_ENGINE",
    "BaseEngine",
    "Engine",
    "EngineReport",
    "EngineTerms",
    "FitFix",
    "GpuShare",
    "KvTerm",
    "OverheadTerm",
    "PoolSummary",
    "WeightTerm",
    "engine_aliases",
    "engine_names",
    "engines",
    "get_engine",
    "register",
    "setting_owner",
    "unregister",
]
