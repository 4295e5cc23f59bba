"""Fill a ``config.json`` the way transformers' own config class does, defaults and derived fields.

The config classes are the library's definition of each architecture: their defaults, aliases
(``n_embd`` for ``hidden_size``) and ``__post_init__`` rules (``head_dim``, ``layer_types``,
``mlp_only_layers``...) decide the model transformers builds. Two paths give the same dict:

- the table (``data/arch_table.json``, written by ``tools/gen_arch_table.py`` from the installed
  transformers): declared defaults and aliases as data, used when the config already carries every
  field the class would derive (configs saved by transformers do) or the rule is one of the table's
  data rules (``hidden_size//num_attention_heads``, ``=other_field``, or one of :data:`RULES`: the
  per-layer ``layer_types`` patterns of Qwen2/3, Gemma 2/3, Llama 4..., a window that
  ``use_sliding_window`` turns off), each recorded only after the generator saw the class agree on
  every probe;
- the class itself (lazy ``import transformers``, ~0.7 s once) for every other config, and for
  types the table lacks.

A type the installed transformers does not know raises :class:`UnknownModelType`, which the caller
turns into a refusal (or reads the checkpoint's tensors instead).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Callable, Mapping
from functools import cache
from importlib import resources
from typing import Any, Literal

from common.errors import ConfigError

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


_FULL, _SLIDING, _CHUNKED = "full_attention", "sliding_attention", "chunked_attention"


def _layers(out: Mapping[str, Any]) -> range:
    return range(int(out["num_hidden_layers"]))


def _no_rope_layers(out: Mapping[str, Any]) -> list[int]:
    # The class replaces an empty list too ("no_rope_layers if no_rope_layers else default").
    given = out.get("no_rope_layers")
    if given:
        return list(given)
    step = int(out["no_rope_layer_interval"])
    return [int((i + 1) % step != 0) for i in _layers(out)]


# DeepSeek-V4: the attention kind each per-layer compress ratio of older checkpoints stands for.
_V4_RATIO_KINDS = {0: "sliding_attention", 4: "compressed_sparse_attention", 128: "heavily_compressed_attention"}


def _v4_layer_types(out: Mapping[str, Any]) -> list[str]:
    n = int(out["num_hidden_layers"])
    ratios = out.get("compress_ratios")
    if ratios is not None:
        kinds = [_V4_RATIO_KINDS[int(r)] for r in ratios]
    else:
        alternate = ["compressed_sparse_attention" if i % 2 else "heavily_compressed_attention" for i in range(n - 2)]
        kinds = ["heavily_compressed_attention"] * min(n, 2) + alternate
    return kinds[:n]


def _v4_hash_layers(out: Mapping[str, Any]) -> list[str]:
    n = int(out["num_hidden_layers"])
    given = out.get("num_hash_layers")
    hashed = min(n, 3 if given is None else int(given))
    return ["hash_moe"] * hashed + ["moe"] * (n - hashed)


def _v4_compress_rates(out: Mapping[str, Any]) -> dict[str, int]:
    rates = {"compressed_sparse_attention": 4, "heavily_compressed_attention": 128}
    for key, kind in (
        ("compress_rate_csa", "compressed_sparse_attention"),
        ("compress_rate_hca", "heavily_compressed_attention"),
    ):
        if out.get(key) is not None:
            rates[kind] = out[key]
    return rates


def _global_layer_overrides(out: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Gemma 4's full-attention layers: ``global_head_dim`` (512 unless given) and, where
    ``attention_k_eq_v`` holds, ``num_global_key_value_heads``, as per-layer overrides.

    As the class stores them: an override equal to the model's value is dropped, a layer left with none
    too, and the keys are layer indices zero-padded to the widest one.
    """
    over: dict[str, Any] = {"head_dim": out.get("global_head_dim", 512)}
    kv_heads = out.get("num_global_key_value_heads") if out.get("attention_k_eq_v", True) else None
    if kv_heads is not None:
        over["num_key_value_heads"] = kv_heads
    over = {k: v for k, v in over.items() if out.get(k) != v}
    full = [i for i, kind in enumerate(out["layer_types"]) if kind == _FULL] if over else []
    width = len(str(max(full))) if full else 0
    return {str(i).zfill(width): dict(over) for i in full}


class _Rule:
    """A ``__post_init__`` rule as data: the field it sets, when it runs, and what it computes.

    ``always`` rules rewrite the field even when the config carries it (qwen2 drops a window that
    ``use_sliding_window`` turns off); the others fill the field only when the config leaves it unset.
    ``stage`` orders them: windows first, then the per-layer lists the layer types read, then the types,
    then the per-layer overrides the types place.
    """

    def __init__(self, field: str, stage: int, always: bool, fn: Callable[[Mapping[str, Any]], Any]) -> None:
        self.field, self.stage, self.always, self.fn = field, stage, always, fn


# Rules the generator may record for a type, each after probing the type's class with varied configs.
RULES: dict[str, _Rule] = {
    "gelu read as gelu_pytorch_tanh": _Rule(
        "hidden_act", 0, True, lambda o: "gelu_pytorch_tanh" if o.get("hidden_act") == "gelu" else o.get("hidden_act")
    ),
    "sliding_window if use_sliding_window else None": _Rule(
        "sliding_window", 0, True, lambda o: o.get("sliding_window") if o.get("use_sliding_window") else None
    ),
    "sliding_window if use_sliding_window else 0": _Rule(
        "sliding_window", 0, True, lambda o: o.get("sliding_window") if o.get("use_sliding_window") else 0
    ),
    # GLM-5 (glm_moe_dsa) points head_dim at the rope slice whatever the config says.
    "qk_rope_head_dim, whatever the config gives": _Rule("head_dim", 0, True, lambda o: o["qk_rope_head_dim"]),
    "sliding_window_pattern, else 6": _Rule(
        "_sliding_window_pattern", 1, True, lambda o: o.get("sliding_window_pattern", 6)
    ),
    "no_rope_layers, else rope off every no_rope_layer_interval-th layer": _Rule(
        "no_rope_layers", 1, True, _no_rope_layers
    ),
    "every interleave_moe_layer_step-th layer": _Rule(
        "moe_layers",
        1,
        False,
        lambda o: list(
            range(
                int(o["interleave_moe_layer_step"]) - 1,
                int(o["num_hidden_layers"]),
                int(o["interleave_moe_layer_step"]),
            )
        ),
    ),
    "global_head_dim and num_global_key_value_heads on full_attention layers": _Rule(
        "per_layer_config", 3, False, _global_layer_overrides
    ),
    "none when unset": _Rule("mlp_only_layers", 1, False, lambda o: []),
    # DeepSeek-V4: older checkpoints' keywords (compress_ratios, num_hash_layers, qk_rope_head_dim,
    # compress_rate_csa / _hca) folded into the class's fields.
    "compress_ratios per layer (0 sliding, 4 CSA, 128 HCA), else 2 HCA then CSA and HCA in turn": _Rule(
        "layer_types", 2, False, _v4_layer_types
    ),
    "num_hash_layers (else 3) hash_moe layers, then moe": _Rule("mlp_layer_types", 2, False, _v4_hash_layers),
    "CSA 4 and HCA 128, compress_rate_csa / compress_rate_hca given over them": _Rule(
        "compress_rates", 1, False, _v4_compress_rates
    ),
    "qk_rope_head_dim / head_dim, else 64 / 512": _Rule(
        "partial_rotary_factor",
        1,
        False,
        lambda o: o["qk_rope_head_dim"] / o["head_dim"] if o.get("qk_rope_head_dim") is not None else 64 / 512,
    ),
    "head_dim x partial_rotary_factor, whatever the config gives": _Rule(
        "qk_rope_head_dim", 2, True, lambda o: int(o["head_dim"] * o["partial_rotary_factor"])
    ),
    "all full_attention": _Rule("layer_types", 2, False, lambda o: [_FULL for _ in _layers(o)]),
    # GLM-5's DSA layers: every layer runs the indexed (sparse) attention.
    "all indexed_attention": _Rule("layer_types", 2, False, lambda o: ["indexed_attention" for _ in _layers(o)]),
    "sliding_attention from layer max_window_layers on, when sliding_window": _Rule(
        "layer_types",
        2,
        False,
        lambda o: [
            _SLIDING if o.get("sliding_window") is not None and i >= o["max_window_layers"] else _FULL
            for i in _layers(o)
        ],
    ),
    "sliding_attention on even layers below max_window_layers, when use_sliding_window": _Rule(
        "layer_types",
        2,
        False,
        lambda o: [
            _SLIDING if (i + 1) % 2 and i < o["max_window_layers"] and o.get("use_sliding_window") else _FULL
            for i in _layers(o)
        ],
    ),
    "full_attention every 2nd layer, else sliding_attention": _Rule(
        "layer_types", 2, False, lambda o: [_SLIDING if (i + 1) % 2 else _FULL for i in _layers(o)]
    ),
    "full_attention every _sliding_window_pattern-th layer, else sliding_attention": _Rule(
        "layer_types",
        2,
        False,
        lambda o: [_SLIDING if (i + 1) % int(o["_sliding_window_pattern"]) else _FULL for i in _layers(o)],
    ),
    "chunked_attention on no_rope_layers, when attention_chunk_size": _Rule(
        "layer_types",
        2,
        False,
        lambda o: [
            _CHUNKED if flag and o.get("attention_chunk_size") is not None else _FULL for flag in o["no_rope_layers"]
        ],
    ),
}


def _stage(rule: str) -> int:
    known = RULES.get(rule)
    return known.stage if known is not None else 1


def _fast(model_type: str, cfg: Mapping[str, Any]) -> dict[str, Any]:
    entry = table()["types"].get(model_type)
    if entry is None:
        raise _NeedsClass(model_type)
    return fill(entry, model_type, cfg)


def _real_defaults(defaults: Mapping[str, Any], amap: Mapping[str, str]) -> dict[str, Any]:
    """The declared defaults under the names the class stores them by.

    A field declared under an alias name (Qwen3-MoE's ``num_experts``, kept as ``num_local_experts``)
    sets the real attribute; where the real one is declared too, its default is what the class holds
    (Step3p5Config: ``num_local_experts`` 128 is declared, but reads back ``n_routed_experts``, 288).
    The aliases are added back from the real names once the config is filled.
    """
    out = {k: v for k, v in defaults.items() if amap.get(k, k) == k}
    for k, v in defaults.items():
        real = amap.get(k, k)
        if real != k and real not in out:
            out[real] = v
    return out


def fill(
    entry: Mapping[str, Any], model_type: str, cfg: Mapping[str, Any], types: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``cfg`` filled from one type's table entry; :class:`_NeedsClass` where the entry cannot.

    ``types`` holds the entries of nested sub-config types (the generator's, while it writes them).
    """
    types = table()["types"] if types is None else types
    amap: Mapping[str, str] = entry["attribute_map"]
    given = {amap.get(k, k): v for k, v in cfg.items()}
    defaults = _real_defaults(entry["defaults"], amap)
    out: dict[str, Any] = {**defaults, **{k: v for k, v in given.items() if v is not None}}
    # An explicit null is a value (Mistral-7B-v0.3's sliding_window: null turns the window off).
    for k, v in given.items():
        if v is None and k in defaults and (k not in entry["derived"] or k in _NULLABLE):
            out[k] = None
    for name, rule in sorted(entry["derived"].items(), key=lambda item: _stage(item[1])):
        known = RULES.get(rule)
        if known is not None and known.always:
            out[name] = known.fn(out)
            continue
        if _present(given, name) or (name in _NULLABLE and name in given):
            continue
        if known is not None:
            out[name] = known.fn(out)
        elif rule == "hidden_size//num_attention_heads":
            out[name] = out["hidden_size"] // out["num_attention_heads"]
        elif rule.startswith("=") and rule[1:] in out:
            out[name] = out[rule[1:]]
        else:
            raise _NeedsClass(name)
    for key, sub_type in entry["sub_configs"].items():
        sub = given.get(key)
        if isinstance(sub, Mapping):
            sub_mt = str(sub.get("model_type") or sub_type or "")
            out[key] = {**_sub_fill(types, sub_mt, sub), "model_type": sub_mt}
        elif key not in given and key in entry.get("flat_sub_configs", ()) and sub_type in types:
            # A flat config (Qwen2.5-VL's text fields at the top): the class gathers the fields its
            # sub-config declares and its own does not into that sub-config.
            sub_entry = types[sub_type]
            own = {*entry["defaults"], *entry["sub_configs"], *entry["derived"]}
            theirs = {*sub_entry["defaults"], *sub_entry["derived"], *sub_entry["attribute_map"]}
            flat = {k: v for k, v in cfg.items() if k in theirs and amap.get(k, k) not in own}
            out[key] = {**_sub_fill(types, sub_type, flat), "model_type": sub_type}
        elif key not in given:
            # The class builds a default sub-config here, sometimes with its own overrides.
            raise _NeedsClass(key)
    out["model_type"] = model_type
    return _with_aliases(out, amap)


def _sub_fill(types: Mapping[str, Any], model_type: str, cfg: Mapping[str, Any]) -> dict[str, Any]:
    entry = types.get(model_type)
    if entry is None:
        raise _NeedsClass(model_type)
    return fill(entry, model_type, cfg, types)


@cache
def _transformers() -> tuple[Any, Any]:
    """transformers and its config mapping, imported once and quiet.

    Its import announces that torch is missing and its config classes log advice (RoPE factors,
    token ids) on stderr: none of it is for vram's user, whose answer is the one sentence.
    """
    # Its logger too: a handler made before the swap (a server's log) would still print the advice.
    logging.getLogger("transformers").setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            import transformers
            from transformers.models.auto.configuration_auto import CONFIG_MAPPING
            from transformers.utils import logging as hf_logging
    except ImportError as err:  # pragma: no cover - a dependency of the package
        raise ConfigError(
            f"vram reads configs through transformers>={MIN_TRANSFORMERS}, which is not "
            "installed: pip install -U transformers."
        ) from err
    hf_logging.set_verbosity_error()
    return transformers, CONFIG_MAPPING


def preload() -> None:
    """Import transformers now, before any other thread runs: its import is quieted by swapping the
    process's stderr, which would swallow what other threads write meanwhile (a server calls this
    before it takes requests; the terminal, one thread, imports it when a config first needs it)."""
    _transformers()


def _unknown(model_type: str, version: str) -> UnknownModelType:
    return UnknownModelType(
        f"transformers {version} does not know model_type {model_type!r}: upgrade it "
        "(pip install -U transformers), or size a Hub checkpoint so vram reads the layers from its "
        "tensors."
    )


def _live(model_type: str, cfg: Mapping[str, Any]) -> dict[str, Any]:
    transformers, CONFIG_MAPPING = _transformers()
    if model_type not in CONFIG_MAPPING:
        raise _unknown(model_type, transformers.__version__)
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
        raise UnknownModelType("config.json names no model_type, so vram cannot tell which architecture it describes.")
    try:
        return _fast(model_type, config), "table"
    except _NeedsClass:
        return _live(model_type, config), "transformers"


@cache
def _live_architectures() -> Mapping[str, str]:
    """Model class -> model type from the installed transformers' auto mappings, for a class the
    table lacks; a class they list under several types is left out (the table settles those)."""
    return {name: next(iter(types)) for name, types in listed_architectures().items() if len(types) == 1}


@cache
def listed_architectures() -> Mapping[str, frozenset[str]]:
    """Model class -> every model type the installed transformers' causal-LM and image-text auto
    mappings list it under."""
    _transformers()
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES,
    )

    listed: dict[str, set[str]] = {}
    for mapping in (MODEL_FOR_CAUSAL_LM_MAPPING_NAMES, MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES):
        for model_type, names in mapping.items():
            for name in names if isinstance(names, list | tuple) else [names]:
                listed.setdefault(str(name), set()).add(str(model_type))
    return {name: frozenset(types) for name, types in listed.items()}


def defines(model_type: str) -> bool:
    """Whether the table's transformers defines ``model_type`` (a newer one installed may, too)."""
    known = table().get("config_types")
    return known is None or model_type in known


def architecture_type(config: Mapping[str, Any]) -> tuple[str, str] | None:
    """The model type transformers builds the first class of ``architectures`` from, and that class.

    For a ``model_type`` transformers does not know whose checkpoint names a class it does (Kimi-K2:
    ``kimi_k2`` over ``DeepseekV3ForCausalLM``); engines that dispatch on the class build that model.
    """
    names = config.get("architectures")
    if not isinstance(names, list):
        return None
    known: Mapping[str, str] = table().get("architectures", {})
    for name in names:
        if not isinstance(name, str):
            continue
        model_type = known.get(name) or _live_architectures().get(name)
        if model_type:
            return model_type, name
    return None
