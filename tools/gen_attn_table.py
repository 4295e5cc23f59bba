"""Write estimator/data/attn_table.json: which attention implementations transformers' model classes support.

Not installed, not run by the CLI: ``python tools/gen_attn_table.py`` after upgrading transformers.
``from_pretrained`` without ``attn_implementation`` asks for ``sdpa`` and falls back to ``eager``
when the class says ``_supports_sdpa = False`` (``PreTrainedModel.get_correct_attn_implementation``);
flash-attention (``flash_attention_2``/3, the ``kernels`` flash kernels) and ``flex_attention`` run
only where the class says ``_supports_flash_attn`` / ``_supports_flex_attn``. For each causal-LM and
image-text model type, the class ``AutoModelForCausalLM`` (else ``AutoModelForImageTextToText``)
builds is found in the installed modeling sources and read with :mod:`ast` (no torch import): its
own class attributes, else its bases' in method-resolution order, following bases defined in the
same file or imported from another modeling file; ``PreTrainedModel`` declares all three False.
"""

from __future__ import annotations

import ast
import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "estimator" / "data" / "attn_table.json"
FLAGS = ("_supports_sdpa", "_supports_flash_attn", "_supports_flex_attn")
# Bases that set none of the flags below PreTrainedModel (mixins and the generic heads).
ROOTS = {"PreTrainedModel", "GenerationMixin", "nn.Module", "object"}


class Unread(Exception):
    """A class or base the sources do not define where the generator looks."""


@cache
def _classes(path: Path) -> tuple[dict[str, ast.ClassDef], dict[str, Path]]:
    """The file's top-level classes, and the names it imports from sibling modeling files."""
    tree = ast.parse(path.read_text())
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    imported: dict[str, Path] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level and node.module:
            parts = node.module.split(".")
            # "..llama.modeling_llama" from models/x/ -> models/llama/modeling_llama.py; ".modeling_x" alike.
            base = path.parent if node.level == 1 else path.parents[node.level - 1]
            target = base.joinpath(*parts).with_suffix(".py")
            for alias in node.names:
                imported[alias.asname or alias.name] = target
    return classes, imported


def _base_name(expr: ast.expr) -> str:
    return ast.unparse(expr)


def _own(cls: ast.ClassDef) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for stmt in cls.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(stmt, ast.Assign):
            targets, value = stmt.targets, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets, value = [stmt.target], stmt.value
        for target in targets:
            if isinstance(target, ast.Name) and target.id in FLAGS:
                if not (isinstance(value, ast.Constant) and isinstance(value.value, bool)):
                    raise Unread(f"{cls.name}.{target.id} is not a literal True/False")
                out[target.id] = value.value
    return out


def _mro(name: str, path: Path, seen: frozenset[str] = frozenset()) -> list[ast.ClassDef]:
    """The class and its bases (depth first, left to right) as far as the modeling sources define them."""
    classes, imported = _classes(path)
    if name in classes:
        cls = classes[name]
    elif name in imported and imported[name].exists():
        return _mro(name, imported[name], seen)
    else:
        raise Unread(f"{name} is not defined in {path.name}")
    out = [cls]
    for base in cls.bases:
        base_name = _base_name(base)
        if base_name in ROOTS or base_name.startswith("Generic") or base_name in seen:
            continue
        out += _mro(base_name, path, seen | {name})
    return out


def flags(class_name: str, folder: Path) -> dict[str, bool]:
    """The three flags of ``class_name``, defined in one of ``folder``'s modeling files, else in the one
    modeling file of another type that defines it (exaone's auto class is ``LlamaForCausalLM``)."""
    paths = [p for p in sorted(folder.glob("modeling_*.py")) if class_name in _classes(p)[0]]
    if not paths:
        paths = [p for p in sorted(folder.parent.glob("*/modeling_*.py")) if f"class {class_name}(" in p.read_text()]
        if len(paths) > 1:
            raise Unread(f"{class_name} is defined in {len(paths)} modeling files")
    if not paths:
        raise Unread(f"no modeling file defines {class_name}")
    found: dict[str, bool] = {}
    for cls in _mro(class_name, paths[0]):
        for key, value in _own(cls).items():
            found.setdefault(key, value)
    return {key.removeprefix("_supports_"): found.get(key, False) for key in FLAGS}


def build() -> dict[str, Any]:
    """The table for the installed transformers."""
    import transformers
    from transformers.models.auto.configuration_auto import model_type_to_module_name
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES,
    )

    models = Path(transformers.__file__).parent / "models"
    types: dict[str, Any] = {}
    failed: dict[str, str] = {}
    for model_type in sorted(set(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES) | set(MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES)):
        class_name = (
            MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.get(model_type) or MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES[model_type]
        )
        try:
            types[model_type] = {
                "class": class_name,
                **flags(class_name, models / model_type_to_module_name(model_type)),
            }
        except Unread as err:
            failed[model_type] = str(err)
    return {"transformers_version": transformers.__version__, "types": types, "failed": failed}


def main() -> int:
    table = build()
    OUT.write_text(json.dumps(table, indent=0, sort_keys=True, separators=(",", ":")) + "\n")
    print(f"{len(table['types'])} types, {len(table['failed'])} failed -> {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
