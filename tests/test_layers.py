"""The package layering of CONTRIBUTING.md, checked on the source: who may import whom, where the
environment is read, and no import loops."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
RUNTIME = ("common", "estimator", "sources", "store", "bot")
IO_LIBRARIES = {
    "huggingface_hub",
    "httpx",
    "httpx2",
    "requests",
    "sqlalchemy",
    "alembic",
    "slack_bolt",
    "slack_sdk",
    "socket",
    "threading",
    "urllib",
    "http",
    "subprocess",
    "asyncio",
    "concurrent",
}
MAY_IMPORT = {
    "common": set(),
    "estimator": {"common", "estimator"},
    "sources": {"common", "estimator", "sources"},
    "store": {"common", "store"},
    "bot": set(RUNTIME),
}


@cache
def modules() -> dict[str, Path]:
    found = {}
    for package in RUNTIME:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


@cache
def syntax(path: Path) -> ast.Module:
    """The parsed module, once per run: the checks below all walk the same trees."""
    return ast.parse(path.read_text(), filename=str(path))


@cache
def imports(path: Path) -> frozenset[str]:
    """Modules ``path`` imports (absolute names), inside functions too, but not those under
    ``if TYPE_CHECKING:`` (type hints load nothing)."""
    tree = syntax(path)
    names: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        # An import is a statement: only statement lists need walking, never expressions.
        for child in statements:
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                names.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                names.add(child.module)
                names.update(f"{child.module}.{alias.name}" for alias in child.names)
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(child, field, None)
                if isinstance(inner, list):
                    visit(inner)
            for block in (*getattr(child, "handlers", ()), *getattr(child, "cases", ())):
                visit(block.body)  # except clauses, match cases

    visit(tree.body)
    return frozenset(names)


@pytest.mark.parametrize("package", RUNTIME)
def test_each_package_imports_only_the_layers_below_it(package: str) -> None:
    for name, path in modules().items():
        if name.split(".")[0] != package:
            continue
        project = {i.split(".")[0] for i in imports(path)} & set(RUNTIME)
        assert project <= MAY_IMPORT[package], (name, sorted(project - MAY_IMPORT[package]))


def test_the_estimator_imports_no_io_library() -> None:
    for name, path in modules().items():
        if name.startswith("estimator"):
            used = {i.split(".")[0] for i in imports(path)}
            assert not used & IO_LIBRARIES, (name, sorted(used & IO_LIBRARIES))


ENV_NAMES = {"environ", "getenv", "environb", "putenv", "unsetenv"}


def reads_environment(path: Path) -> bool:
    """Whether the code (not a comment or a string) touches ``os.environ`` or calls ``os.getenv``.

    Only names of the ``os`` module count: a WSGI app's ``environ`` (the request's variables) is not
    the process environment.
    """
    text = path.read_text()
    if not any(name in text for name in ENV_NAMES):
        return False  # none of the names is even written: nothing to walk
    tree = syntax(path)
    nodes = list(ast.walk(tree))
    os_names = {
        a.asname or a.name for node in nodes if isinstance(node, ast.Import) for a in node.names if a.name == "os"
    }
    for node in nodes:
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ENV_NAMES
            and isinstance(node.value, ast.Name)
            and node.value.id in os_names
        ):
            return True
        if isinstance(node, ast.ImportFrom) and node.module == "os" and any(a.name in ENV_NAMES for a in node.names):
            return True
    return False


def test_the_environment_check_tells_os_environ_from_a_wsgi_environ(tmp_path: Path) -> None:
    cases = {
        "import os\nx = os.environ.get('A')\n": True,
        "import os as _os\nx = _os.getenv('A')\n": True,
        "from os import environ\n": True,
        "def app(environ, start_response):\n    return environ.get('REMOTE_ADDR')\n": False,
        "# os.getenv('A') in a comment\nx = 'os.environ'\n": False,
    }
    for i, (code, expected) in enumerate(cases.items()):
        path = tmp_path / f"m{i}.py"
        path.write_text(code)
        assert reads_environment(path) is expected, code


def test_only_the_settings_read_the_environment() -> None:
    readers = [name for name, path in modules().items() if reads_environment(path)]
    assert readers == ["bot.settings"]


def test_no_import_loops() -> None:
    # Imports inside functions count too: one there may save start-up time, never hide a loop.
    mods = modules()
    graph = {name: {m for i in imports(path) for m in _project_modules(i, mods, name)} for name, path in mods.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def walk(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import loop: " + " -> ".join([*path[path.index(nxt) :], nxt]))
            if nxt not in state:
                walk(nxt, [*path, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            walk(name, [name])


def _project_modules(imported: str, mods: dict[str, Path], importer: str) -> set[str]:
    """The project modules an import statement loads: the module and the packages above it, but not
    the importer's own packages (Python has begun those already: a sibling import is no loop)."""
    parts = imported.split(".")
    own = {".".join(importer.split(".")[:n]) for n in range(1, importer.count(".") + 2)}
    return {".".join(parts[:n]) for n in range(1, len(parts) + 1) if ".".join(parts[:n]) in mods} - own


def test_contributing_names_files_that_exist() -> None:
    text = (ROOT / "CONTRIBUTING.md").read_text()
    paths = set(re.findall(r"`((?:[\w.-]+/)+[\w.-]+\.(?:py|md|json|toml|yaml))`", text))
    assert len(paths) > 10  # the pattern finds them
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert missing == []
