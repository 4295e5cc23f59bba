"""Everything that reads models: the Hugging Face Hub, local folders and files, GGUF and
safetensors headers, and the caches of Hub answers.

The estimator is pure (config in, numbers out); this package is its I/O edge. The one entry point
is a resolver's ``open_model(model, revision)``, which returns an :class:`OpenedModel` (the spec
the estimator sizes, plus where it came from); :func:`make_resolver` builds one from settings.
``huggingface_hub`` is imported only when the Hub is asked (see :func:`sources.resolve.hub_client`).
"""

from __future__ import annotations

from typing import Protocol

from pydantic import SecretStr

from sources.cache import (
    CachedEntry,
    HubCache,
    MemoryHubCache,
    PlainCache,
    StoredHubCache,
    StoredSearchCache,
    cache_key,
)
from sources.model import OpenedModel, ResolvedModel
from sources.model_search import ModelSearch
from sources.resolve import HubOnlyResolver, Opens, Resolver


class HubSettings(Protocol):
    """The settings a resolver is built from (``bot.settings.Settings`` has them)."""

    @property
    def hf_token(self) -> SecretStr | None: ...
    @property
    def hf_endpoint(self) -> str | None: ...
    @property
    def hub_offline(self) -> bool: ...
    @property
    def hub_branch_ttl_s(self) -> float: ...
    @property
    def hub_timeout_s(self) -> float: ...


def make_resolver(
    settings: HubSettings, *, store_cache: PlainCache | None = None, local_paths: bool = True
) -> Resolver | HubOnlyResolver:
    """The resolver every front end uses, wired from settings.

    ``store_cache``: the store's plain-data Hub cache (``Store.hub_cache()``), used through its
    typed view. ``local_paths=False`` refuses local paths (a server must not read its own files
    for a user).
    """
    resolver = Resolver(
        token=settings.hf_token.get_secret_value() if settings.hf_token else None,
        endpoint=settings.hf_endpoint,
        cache=StoredHubCache(store_cache) if store_cache is not None else None,
        branch_ttl_s=settings.hub_branch_ttl_s,
        total_timeout_s=settings.hub_timeout_s,
        offline=settings.hub_offline,
        preload_client=not local_paths,  # a server: start-up time matters less than a clean shutdown
    )
    return resolver if local_paths else HubOnlyResolver(resolver)


def make_search(settings: HubSettings, *, store_cache: PlainCache | None = None) -> ModelSearch:
    """The Hub model search every front end uses; answers kept in the store's cache when there is one."""
    return ModelSearch(
        endpoint=settings.hf_endpoint,
        token=settings.hf_token.get_secret_value() if settings.hf_token else None,
        timeout_s=settings.hub_timeout_s,
        cache=StoredSearchCache(store_cache) if store_cache is not None else None,
    )


__all__ = [
    "CachedEntry",
    "HubCache",
    "HubOnlyResolver",
    "HubSettings",
    "MemoryHubCache",
    "OpenedModel",
    "Opens",
    "PlainCache",
    "ResolvedModel",
    "Resolver",
    "StoredHubCache",
    "cache_key",
    "make_resolver",
    "make_search",
]
