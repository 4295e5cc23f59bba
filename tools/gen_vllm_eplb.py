"""List the architectures a vLLM release serves with EPLB: the registered model classes that
implement its ``MixtureOfExperts`` interface (directly or through a base class), read from the
release's wheel with ``ast`` (no vLLM import, no GPU).

    python tools/gen_vllm_eplb.py vllm-0.33.0-cp38-abi3-manylinux_2_28_x86_64.whl

prints the sorted architecture names, one per line, for estimator/eplb.py (which keeps 0.27.1's set
and what each later release adds or drops).
"""

from __future__ import annotations

import ast
import sys
import zipfile


def eplb_architectures(wheel: str) -> list[str]:
    bases: dict[str, set[str]] = {}
    registry: dict[str, str] = {}
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if not name.endswith(".py") or not name.startswith(("vllm/model_executor/models/", "vllm/models/")):
                continue
            tree = ast.parse(archive.read(name))
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef):
                    found = bases.setdefault(node.name, set())
                    for base in node.bases:
                        if isinstance(base, ast.Name):
                            found.add(base.id)
                        elif isinstance(base, ast.Attribute):
                            found.add(base.attr)
            if name.endswith("models/registry.py"):
                for node in ast.walk(tree):
                    # "ArchName": ("module", "ClassName") entries of the registry's dicts.
                    if isinstance(node, ast.Dict):
                        for key, value in zip(node.keys, node.values, strict=False):
                            if (
                                isinstance(key, ast.Constant)
                                and isinstance(key.value, str)
                                and isinstance(value, ast.Tuple)
                                and len(value.elts) >= 2
                                and isinstance(value.elts[1], ast.Constant)
                            ):
                                registry[key.value] = str(value.elts[1].value)

    memo: dict[str, bool] = {}

    def implements(cls: str, seen: frozenset[str] = frozenset()) -> bool:
        if cls == "MixtureOfExperts":
            return True
        if cls in memo:
            return memo[cls]
        if cls in seen:
            return False
        result = any(implements(b, seen | {cls}) for b in bases.get(cls, ()))
        memo[cls] = result
        return result

    return sorted(arch for arch, cls in registry.items() if implements(cls))


if __name__ == "__main__":
    print("\n".join(eplb_architectures(sys.argv[1])))
