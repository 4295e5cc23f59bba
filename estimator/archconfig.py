"""Fill a ``config.json`` the way transformers' own config class does, defaults and derived fields.

The config classes are the library's definition of each architecture: their defaults, aliases
(``n_embd`` for ``hidden_size``) and ``__post_init__`` rules (``head_dim``, ``layer_types``,
``mlp_only_layers``...) decide the model transformers builds. Two paths give the same dict:

- the table (``data/arch_table.json``, written by ``tools/gen_arch_table.py`` from the installed
  transformers): declared defaults and aliases as data, used when the config already carries every
  field the class would derive (configs saved by transformers do) or the rule is one of the table's
  data rules (``hidden_size//num_attention_heads``, ``=other_field``);
- the class itself (lazy ``import transformers``, ~0.7 s once) for every other config, and for
  types the table lacks.

A type the installed transformers does not know raises :class:`UnknownModelType`, which the caller
turns into a refusal (or reads the checkpoint's tensors instead).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any, Literal

from estimator.errors import ConfigError

Source = Literal["table", "transformers"]
MIN_TRANSFORMERS = "5.25"


class UnknownModelType(ConfigError):
    """The installed transformers defines no config class for this ``model_type``."""


@cache
def table() -> Mapping[str, Any]:
    """The generated table (loaded once)."""
    text = resources.files("estimator").joinpath("data/arch_table.json").read_text()
    data: Mapping[str, Any] = json.loads(text)
    return data


def _present(cfg: Mapping[str, Any], name: str) -> bool:
    return cfg.get(name) is not None


# Derived fields whose explicit null the class keeps (qwen2's window when use_sliding_window is off).
_NULLABLE = frozenset({"sliding_window"})


class _NeedsClass(Exception):
    """The table cannot fill this config: a derived field is missing and its rule is not data."""


def _with_aliases(out: dict[str, Any], attribute_map: Mapping[str, str]) -> dict[str, Any]:
    """Add the generic names (``hidden_size``) next to the class's own (``n_embd``)."""
    for alias, real in attribute_map.items():
        if real in out and alias not in out:
            out[alias] = out[real]
    return out


def _fast(model_type: str, cfg: Mapping[str, Any]) -> dict[str, Any]:
    entry = table()["types"].get(model_type)
    if entry is None:
        raise _NeedsClass(model_type)
    amap: Mapping[str, str] = entry["attribute_map"]
    given = {amap.get(k, k): v for k, v in cfg.items()}
    out: dict[str, Any] = {**entry["defaults"], **{k: v for k, v in given.items() if v is not None}}
    # An explicit null is a value (Mistral-7B-v0.3's sliding_window: null turns the window off).
    for k, v in given.items():
        if v is None and k in entry["defaults"] and (k not in entry["derived"] or k in _NULLABLE):
            out[k] = None
    for name, rule in entry["derived"].items():
        if _present(given, name) or (name in _NULLABLE and name in given):
            continue
        if rule == "hidden_size//num_attention_heads":
            out[name] = out["hidden_size"] // out["num_attention_heads"]
        elif rule.startswith("=") and rule[1:] in out:
            out[name] = out[rule[1:]]
        else:
            raise _NeedsClass(name)
    for key, sub_type in entry["sub_configs"].items():
        sub = given.get(key)
        if isinstance(sub, Mapping):
            sub_mt = str(sub.get("model_type") or sub_type or "")
            out[key] = {**_fast(sub_mt, sub), "model_type": sub_mt}
        elif key not in given:
            # The class builds a default sub-config here, sometimes with its own overrides.
            raise _NeedsClass(key)
    out["model_type"] = model_type
    return _with_aliases(out, amap)


def _live(model_type: str, cfg: Mapping[str, Any]) -> dict[str, Any]:
    try:
        import transformers
        from transformers.models.auto.configuration_auto import CONFIG_MAPPING
    except ImportError as err:  # pragma: no cover - a dependency of the package
        raise ConfigError(f"vram reads configs through transformers>={MIN_TRANSFORMERS}, which is not "
                          "installed: pip install -U transformers.") from err
    if model_type not in CONFIG_MAPPING:
        raise UnknownModelType(
            f"transformers {transformers.__version__} does not know model_type {model_type!r}: upgrade it "
            "(pip install -U transformers), or size a Hub checkpoint so vram reads the layers from its "
            "tensors.")
    cls = CONFIG_MAPPING[model_type]
    try:
        built = cls.from_dict({k: v for k, v in cfg.items() if k != "model_type"})
    except Exception as err:
        detail = " ".join(str(err).split())[:160]
        raise ConfigError(f"transformers rejects this {model_type} config ({detail}).") from err
    return _with_aliases(_dump(built), dict(cls.attribute_map))


def _dump(conf: Any) -> dict[str, Any]:
    out: dict[str, Any] = conf.to_dict()
    for key in getattr(type(conf), "sub_configs", {}):
        sub = getattr(conf, key, None)
        if sub is not None and hasattr(sub, "to_dict"):
            out[key] = _with_aliases(_dump(sub), dict(type(sub).attribute_map))
    return out


def normalise(config: Mapping[str, Any]) -> tuple[dict[str, Any], Source]:
    """``config`` with every default and derived field its transformers class would set."""
    model_type = str(config.get("model_type") or "")
    if not model_type:
        raise UnknownModelType("config.json names no model_type, so vram cannot tell which architecture "
                               "it describes.")
    try:
        return _fast(model_type, config), "table"
    except _NeedsClass:
        return _live(model_type, config), "transformers"


def installed_version() -> str | None:
    """The transformers version the table was generated from."""
    version = table().get("transformers_version")
    return str(version) if version else None
