"""Write estimator/data/arch_table.json from the installed transformers' config classes.

Not installed, not run by the CLI: ``python tools/gen_arch_table.py`` after upgrading transformers.
For each causal-LM and image-text model type (and the sub-config types they nest), the table holds
what :mod:`estimator.archconfig` needs to fill a config.json the way the config class would,
without importing transformers: the declared field defaults, the attribute aliases, the nested
sub-configs, and the fields the class derives in ``__post_init__`` (with the rule where it is one
vram can apply as data; ``"live"`` otherwise, which sends configs lacking that field to the class).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

# Fields vram never reads (positions, token ids, training knobs): left out of the table.
IGNORED = {"rope_parameters", "rope_scaling", "rope_theta", "pad_token_id", "bos_token_id", "eos_token_id",
           "initializer_range", "use_cache", "attention_dropout", "hidden_dropout", "output_router_logits",
           "router_aux_loss_coef", "router_jitter_noise", "image_token_id", "video_token_id",
           "image_token_index", "video_token_index", "boi_token_id", "eoi_token_id", "num_nextn_predict_layers",
           "qk_head_dim", "time_step_limit", "layer_rope_theta"}
OUT = Path(__file__).resolve().parents[1] / "estimator" / "data" / "arch_table.json"


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
    candidates = {"hidden_size//num_attention_heads": lambda c: c.hidden_size // c.num_attention_heads,
                  "=num_attention_heads": lambda c: c.num_attention_heads,
                  "=qk_rope_head_dim": lambda c: c.qk_rope_head_dim}
    if "qk_rope_head_dim" in {f.name for f in dataclasses.fields(cls)}:
        probes.append({"qk_rope_head_dim": 32})
    for rule, fn in candidates.items():
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


def _sub_type(inst: Any, key: str, cls: Any) -> str | None:
    value = getattr(inst, key, None)
    if value is not None and getattr(value, "model_type", None):
        return str(value.model_type)
    return getattr(cls, "model_type", None) or None


def entry(cls: Any, base: set[str]) -> dict[str, Any]:
    defaults: dict[str, Any] = {}
    unset: list[str] = []
    for f in dataclasses.fields(cls):
        if (f.name in base and f.name != "tie_word_embeddings") or f.name in IGNORED:
            continue
        if f.default is not dataclasses.MISSING:
            value = f.default
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            value = f.default_factory()  # type: ignore[misc]
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
        if name not in declared and name not in base and name not in IGNORED and name not in cls.sub_configs \
                and name not in ("model_type", "transformers_version", "_name_or_path", "output_attentions"):
            derived.setdefault(name, _rule(cls, name, None))
    return {
        "defaults": defaults,
        "attribute_map": dict(cls.attribute_map),
        # AutoConfig sub-configs take their type from the nested dict; the default instance names one.
        "sub_configs": {k: _sub_type(inst, k, v) for k, v in cls.sub_configs.items()},
        "derived": derived,
    }


def main() -> int:
    import transformers
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES,
    )

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
    table = {"transformers_version": transformers.__version__, "types": dict(sorted(types.items())),
             "failed": dict(sorted(failed.items()))}
    OUT.write_text(json.dumps(table, indent=0, sort_keys=True, separators=(",", ":")) + "\n")
    print(f"{len(types)} types, {len(failed)} failed -> {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
