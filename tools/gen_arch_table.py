"""Write estimator/data/arch_table.json from the installed transformers' config classes.

Not installed, not run by the CLI: ``python tools/gen_arch_table.py`` after upgrading transformers.
For each causal-LM and image-text model type (and the sub-config types they nest), the table holds
what :mod:`estimator.archconfig` needs to fill a config.json the way the config class would,
without importing transformers: the declared field defaults, the attribute aliases, the nested
sub-configs, and the fields the class derives in ``__post_init__`` (with the rule where it is one vram
can apply as data; ``"live"`` otherwise, which sends configs lacking that field to the class). Besides,
every model type transformers defines, and the type of each model class a config's ``architectures``
may name.
A rule of :data:`estimator.archconfig.RULES` is recorded for a type only when the table, filling
configs that vary the fields the rule reads (:data:`PROBE_VALUES`), gives what the class gives on
every probe.
"""

from __future__ import annotations

import ast
import dataclasses
import itertools
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from estimator import archconfig  # noqa: E402 - after the path above

# Fields vram never reads (positions, token ids, training knobs): left out of the table.
IGNORED = {
    "rope_parameters",
    "rope_scaling",
    "rope_theta",
    "pad_token_id",
    "bos_token_id",
    "eos_token_id",
    "initializer_range",
    "use_cache",
    "attention_dropout",
    "hidden_dropout",
    "output_router_logits",
    "router_aux_loss_coef",
    "router_jitter_noise",
    "image_token_id",
    "video_token_id",
    "image_token_index",
    "video_token_index",
    "boi_token_id",
    "eoi_token_id",
    "num_nextn_predict_layers",
    "qk_head_dim",
    "time_step_limit",
    "layer_rope_theta",
}
OUT = ROOT / "estimator" / "data" / "arch_table.json"

# Values the data rules read, varied together so a rule that matches the class's default by chance
# (all layers full, a window off) meets a probe where it does not. Only fields the class declares are
# varied, and sliding_window_pattern, which some classes read from their keyword arguments.
PROBE_VALUES: dict[str, list[Any]] = {
    "num_hidden_layers": [7, 12],
    "use_sliding_window": [False, True],
    "sliding_window": [None, 64],
    "max_window_layers": [0, 3, 100],
    "sliding_window_pattern": [2, 3, 6],
    "no_rope_layer_interval": [2, 4],
    "no_rope_layers": [None, [0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 1, 0]],
    "attention_chunk_size": [None, 128],
    "interleave_moe_layer_step": [1, 2],
    "hidden_act": ["gelu", "silu"],
}
KWARGS = {"sliding_window_pattern"}
# Values varied only while probing a rule for the field named (Gemma 4's global layers read builder
# keywords that no other class takes), so other types' probes stay as they were.
FIELD_PROBE_VALUES: dict[str, dict[str, list[Any]]] = {
    "head_dim": {"head_dim": [None, 192]},
    # DeepSeek-V4's older keywords, which its class folds into these fields.
    "layer_types": {"compress_ratios": [None, [0, 0, 4, 128, 4, 128, 4, 128, 4, 128, 4, 0]]},
    "mlp_layer_types": {"num_hash_layers": [None, 2]},
    "compress_rates": {"compress_rate_csa": [None, 8]},
    "partial_rotary_factor": {"qk_rope_head_dim": [None, 32]},
    "qk_rope_head_dim": {"qk_rope_head_dim": [None, 32]},
    "per_layer_config": {
        "attention_k_eq_v": [False, True],
        "global_head_dim": [None, 256, 384],
        "num_global_key_value_heads": [None, 2, 4],
    },
}


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _base_fields() -> set[str]:
    from transformers import PreTrainedConfig

    return {f.name for f in dataclasses.fields(PreTrainedConfig)}


def _rule(cls: Any, name: str, default_value: Any) -> str:
    """How ``__post_init__`` derives ``name`` when the config leaves it unset."""
    probes = [{}, {"hidden_size": 1536, "num_attention_heads": 12, "num_hidden_layers": 6}]
    candidates = {
        "hidden_size//num_attention_heads": lambda c: c.hidden_size // c.num_attention_heads,
        "=num_attention_heads": lambda c: c.num_attention_heads,
        "=qk_rope_head_dim": lambda c: c.qk_rope_head_dim,
    }
    if "qk_rope_head_dim" in {f.name for f in dataclasses.fields(cls)}:
        probes.append({"qk_rope_head_dim": 32})
    for rule, fn in candidates.items():
        if rule == f"={name}":  # a field copied from itself says nothing about how it is derived
            continue
        ok = True
        for probe in probes:
            try:
                c = cls(**probe)
                ok = ok and getattr(c, name) == fn(c)
            except Exception:  # a probe the class rejects rules the candidate out
                ok = False
        if ok:
            return rule
    return "live"


def _probes(cls: Any, field: str = "") -> list[dict[str, Any]]:
    declared = {f.name for f in dataclasses.fields(cls)}
    varied = {k: v for k, v in PROBE_VALUES.items() if k in declared or k in KWARGS}
    varied.update(FIELD_PROBE_VALUES.get(field, {}))
    probes = [dict(zip(varied, values, strict=True)) for values in itertools.product(*varied.values())]
    # A probe leaves a None out, so the class sees its own default rather than an explicit null.
    return [{k: v for k, v in p.items() if v is not None or k == "sliding_window"} for p in probes]


def _rule_holds(cls: Any, model_type: str, entry: dict[str, Any], name: str, rule: str) -> bool:
    """Whether the table, with ``rule`` for ``name``, fills every probe as the class does."""
    trial = {**entry, "derived": {**entry["derived"], name: rule}, "sub_configs": {}}
    live = [f for f, r in trial["derived"].items() if r == "live"]
    checked = 0
    for probe in _probes(cls, name):
        try:
            want = cls(**probe).to_dict()
        except Exception:  # a combination the class rejects says nothing about the rule
            continue
        # Fields still left to the class come in as the class set them, as a saved config has them.
        given = {**probe, **{f: want[f] for f in live if f in want}}
        try:
            got = archconfig.fill(trial, model_type, given)
        except Exception:
            return False
        if name not in want or got.get(name) != want[name]:
            return False
        checked += 1
    return checked > 0


def _data_rules(cls: Any, model_type: str, entry: dict[str, Any]) -> None:
    """Replace ``"live"`` by the first rule of :data:`archconfig.RULES` that every probe confirms."""
    candidates = sorted(archconfig.RULES.items(), key=lambda item: item[1].stage)
    for rule, spec in candidates:
        name = spec.field
        # A rewrite of a value the config gives (Gemma's "gelu") leaves the default as declared, so
        # the default instance does not flag it: such rules are probed on every declared field.
        # A copy of another field (head_dim = qk_rope_head_dim) may be one the class makes over a given value.
        copied = str(entry["derived"].get(name, "")).startswith("=")
        open_to_rewrite = spec.always and name in entry["defaults"] and (name not in entry["derived"] or copied)
        if (entry["derived"].get(name) == "live" or open_to_rewrite) and _rule_holds(
            cls, model_type, entry, name, rule
        ):
            entry["derived"][name] = rule


def _sub_type(inst: Any, key: str, cls: Any) -> str | None:
    value = getattr(inst, key, None)
    if value is not None and getattr(value, "model_type", None):
        return str(value.model_type)
    return getattr(cls, "model_type", None) or None


def entry(cls: Any, base: set[str], *, flat: bool = True) -> dict[str, Any]:
    defaults: dict[str, Any] = {}
    unset: list[str] = []
    for f in dataclasses.fields(cls):
        if (f.name in base and f.name != "tie_word_embeddings") or f.name in IGNORED:
            continue
        if f.default is not dataclasses.MISSING:
            value = f.default
        elif f.default_factory is not dataclasses.MISSING:
            value = f.default_factory()
        else:
            continue
        if f.name in cls.sub_configs:
            continue
        if _jsonable(value):
            defaults[f.name] = value
        else:
            unset.append(f.name)
    inst = cls()
    derived: dict[str, str] = {}
    built = inst.to_dict()
    for name, value in defaults.items():
        if name in built and built[name] != value:
            derived[name] = _rule(cls, name, value)
    for name in unset:
        derived[name] = "live"
    # Attributes __post_init__ sets that are not declared fields (DeepSeek-V3's head_dim).
    declared = {f.name for f in dataclasses.fields(cls)}
    for name in built:
        if (
            name not in declared
            and name not in base
            and name not in IGNORED
            and name not in cls.sub_configs
            and name not in ("model_type", "transformers_version", "_name_or_path", "output_attentions")
        ):
            derived.setdefault(name, _rule(cls, name, None))
    out: dict[str, Any] = {
        "defaults": defaults,
        "attribute_map": dict(cls.attribute_map),
        # AutoConfig sub-configs take their type from the nested dict; the default instance names one.
        "sub_configs": {k: _sub_type(inst, k, v) for k, v in cls.sub_configs.items()},
        "derived": derived,
    }
    _data_rules(cls, str(getattr(cls, "model_type", "")), out)
    flat_keys = _flat_sub_configs(cls, inst, base) if flat and cls.sub_configs else []
    if flat_keys:
        out["flat_sub_configs"] = flat_keys
    return out


# Text fields a flat config carries at the top (Qwen2.5-VL's), each away from every class default.
FLAT_PROBE: dict[str, Any] = {
    "num_hidden_layers": 3,
    "vocab_size": 1000,
    "intermediate_size": 96,
    "max_window_layers": 1,
    "use_sliding_window": True,
    "sliding_window": 16,
}


def _flat_sub_configs(cls: Any, inst: Any, base: set[str]) -> list[str]:
    """Sub-configs the class builds from top-level fields of a flat config, as the table fills them.

    Recorded only when the class, given the fields of :data:`FLAT_PROBE` at the top, builds the
    sub-config the table builds from them: same values for every field the table fills.
    """
    model_type = str(getattr(cls, "model_type", ""))
    own = entry(cls, base, flat=False)
    flat = []
    for key, sub_cls in cls.sub_configs.items():
        sub_type = _sub_type(inst, key, sub_cls)
        if not sub_type or not dataclasses.is_dataclass(sub_cls) or getattr(sub_cls, "model_type", None) != sub_type:
            continue
        sub_entry = entry(sub_cls, base, flat=False)
        trial = {**own, "sub_configs": {key: sub_type}, "flat_sub_configs": [key]}
        probe = {k: v for k, v in FLAT_PROBE.items() if k in sub_entry["defaults"] and k not in own["defaults"]}
        if "num_hidden_layers" not in probe:
            continue
        try:
            want = getattr(cls(**probe), key).to_dict()
            got = archconfig.fill(trial, model_type, probe, {sub_type: sub_entry})[key]
        except Exception:  # a class that rejects the probe, or a sub-config the table cannot fill
            continue
        if all(want.get(k) == got.get(k) for k in probe) and all(
            got[k] == want[k] for k in got if k in want and k != "transformers_version"
        ):
            flat.append(key)
    return flat


def _declared_config(models: Path, model_type: str, cls: str) -> str | None:
    """The config class a model class declares (``config: DeepseekV3Config``), read from the source of
    its modeling module so that no model code (nor torch) is imported; its bases are followed."""
    from transformers.models.auto.configuration_auto import model_type_to_module_name

    for path in sorted((models / model_type_to_module_name(model_type)).glob("modeling_*.py")):
        tree = ast.parse(path.read_text())
        classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
        todo, seen = [cls], set()
        while todo:
            node = classes.get(todo.pop(0))
            if node is None or node.name in seen:
                continue
            seen.add(node.name)
            for st in node.body:
                if (
                    isinstance(st, ast.AnnAssign)
                    and isinstance(st.target, ast.Name)
                    and isinstance(st.annotation, ast.Name)
                    and st.target.id == "config"
                ):
                    return st.annotation.id
                if (
                    isinstance(st, ast.Assign)
                    and isinstance(st.value, ast.Name)
                    and any(isinstance(t, ast.Name) and t.id == "config_class" for t in st.targets)
                ):
                    return st.value.id
            todo.extend(b.id for b in node.bases if isinstance(b, ast.Name))
        if cls in classes:
            return None
    return None


def architectures(mappings: list[dict[str, Any]], config_mapping: Any) -> dict[str, str]:
    """The model type of each causal-LM and image-text model class (a config's ``architectures``).

    A class the auto mappings list under one type is that type; one listed under several
    (``DeepseekV3ForCausalLM`` under deepseek_v3 and sarvam_mla) is the type of the config class it
    declares. A class neither settles is left out.
    """
    import transformers

    models = Path(transformers.__file__).parent / "models"
    listed: dict[str, set[str]] = {}
    for mapping in mappings:
        for model_type, names in mapping.items():
            for name in names if isinstance(names, list | tuple) else [names]:
                listed.setdefault(name, set()).add(model_type)
    out: dict[str, str] = {}
    for cls, types in sorted(listed.items()):
        if len(types) == 1:
            out[cls] = next(iter(types))
            continue
        declared = next(filter(None, (_declared_config(models, t, cls) for t in sorted(types))), None)
        own = [
            t
            for t in sorted(types)
            if t in config_mapping
            and config_mapping[t].__name__ == declared
            and getattr(config_mapping[t], "model_type", None) == t
        ]
        if len(own) == 1:
            out[cls] = own[0]
    return out


def main() -> int:
    import transformers
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES,
    )
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # the probes trip the classes' advice on purpose
    base = _base_fields()
    todo = sorted(set(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES) | set(MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES))
    types: dict[str, Any] = {}
    failed: dict[str, str] = {}
    while todo:
        mt = todo.pop()
        if mt in types or mt in failed or mt not in CONFIG_MAPPING:
            continue
        cls = CONFIG_MAPPING[mt]
        try:
            types[mt] = entry(cls, base)
        except Exception as err:  # a class that cannot build its own default
            failed[mt] = f"{type(err).__name__}: {err}"[:200]
            continue
        todo.extend(t for t in types[mt]["sub_configs"].values() if t and t not in types)
    table = {
        "architectures": architectures(
            [MODEL_FOR_CAUSAL_LM_MAPPING_NAMES, MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES], CONFIG_MAPPING
        ),
        "config_types": sorted(CONFIG_MAPPING.keys()),
        "transformers_version": transformers.__version__,
        "types": dict(sorted(types.items())),
        "failed": dict(sorted(failed.items())),
    }
    OUT.write_text(json.dumps(table, indent=0, sort_keys=True, separators=(",", ":")) + "\n")
    print(f"{len(types)} types, {len(failed)} failed -> {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
