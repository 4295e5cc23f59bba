"""The Dockerfile, read statically (docker cannot run here): what it copies exists and reaches the image,
the package data ships in the wheel it installs, and the runtime stage is small, non-root and quick to start."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuation lines joined), one list per stage."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    out: list[list[str]] = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            out.append([])
        out[-1].append(line)
    return out


def dockerignored(path: str) -> bool:
    patterns = [
        p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines() if p.strip() and not p.startswith("#")
    ]
    parts = Path(path).parts
    return any(
        fnmatch.fnmatch(path, p.removeprefix("**/"))
        or any(fnmatch.fnmatch(part, p.removeprefix("**/")) for part in parts)
        for p in patterns
    )


def test_multi_stage_and_the_runtime_runs_vram_serve_as_a_user() -> None:
    build, runtime = stages()[0], stages()[-1]
    assert len(stages()) >= 2
    assert any(i.startswith("COPY --from=") for i in runtime)
    users = [i.split()[1] for i in runtime if i.upper().startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert 'ENTRYPOINT ["vram"]' in runtime and 'CMD ["serve"]' in runtime
    assert not any("pip install" in i for i in runtime)  # nothing built in the runtime stage
    assert build[0].split()[1] == runtime[0].split()[1]  # the venv's python is the runtime's python


def test_every_copied_source_exists_and_is_not_dockerignored() -> None:
    for stage in stages():
        for instr in stage:
            words = instr.split()
            if words[0].upper() != "COPY" or any(w.startswith("--from") for w in words):
                continue
            for src in words[1:-1]:
                assert (ROOT / src).exists(), f"COPY {src}: not in the repository"
                assert not dockerignored(src), f"COPY {src}: excluded by .dockerignore"


def test_the_installed_packages_are_copied_with_their_data() -> None:
    # What `pip install .` in the build stage packs: every package pyproject names must be copied in,
    # and its package-data patterns must cover the data files the code reads at run time.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    copied = {w.split()[1] for s in stages() for w in s if w.startswith("COPY ") and "--from" not in w}
    for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]:
        assert pattern.rstrip("*") in copied
    data = pyproject["tool"]["setuptools"]["package-data"]
    versions = [f"versions/{p.name}" for p in (ROOT / "migrations" / "versions").glob("*.py")]
    needed = {"estimator": ["data/gpus.json"], "migrations": ["script.py.mako", *versions]}
    for package, files in needed.items():
        for name in files:
            assert any(fnmatch.fnmatch(name, pat) for pat in data[package]), f"{package}/{name} not packaged"


def test_bytecode_is_kept_so_the_non_root_user_does_not_recompile_on_every_start() -> None:
    # /opt/vram is root's and read-only to the vram user: without the .pyc files pip compiled, every
    # `vram serve` (and every `docker exec ... vram history`) compiles all of its imports again.
    runtime_build = [i for s in stages() for i in s if "pip install" in i or "compileall" in i]
    assert not any("__pycache__" in i or "--no-compile" in i for i in runtime_build)
    assert any("compileall" in i for i in runtime_build)
