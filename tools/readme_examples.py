"""The README's example outputs, regenerated from the commands they show.

An example is a fenced block (```) whose first line is ``$ vram ...``. Each ``$ vram`` line in it
is run in-process from the repository root, offline, with a fresh history database per block, and
the lines after it (up to the next ``$`` line or the end of the block) become what it printed:
stdout, then stderr. Examples name local configs (``tests/fixtures/configs/...``) so they run
anywhere without the Hub; a Hub id in an example is refused.

    python tools/readme_examples.py            rewrite README.md in place
    python tools/readme_examples.py --check    print a diff and exit 1 when README.md is stale
"""

from __future__ import annotations

import difflib
import io
import os
import re
import shlex
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PROMPT = "$ "
_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Example:
    """One ``$ vram ...`` line of the README and the output shown under it."""

    command: str  # without the "$ "
    shown: str  # the lines under it, each ending in a newline


def example_blocks(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the body of every example block in ``text``."""
    return [(m.start(1), m.end(1)) for m in _FENCE.finditer(text) if m.group(1).startswith(PROMPT + "vram")]


def examples(text: str) -> list[Example]:
    """Every example command in ``text`` with the output the README shows for it."""
    found = []
    for start, end in example_blocks(text):
        found.extend(_split(text[start:end]))
    return found


def _split(body: str) -> list[Example]:
    items: list[Example] = []
    command, shown = None, ""
    for line in body.splitlines(keepends=True):
        if line.startswith(PROMPT):
            if command is not None:
                items.append(Example(command, shown))
            command, shown = line[len(PROMPT) :].strip(), ""
        else:
            shown += line
    if command is not None:
        items.append(Example(command, shown))
    return items


def _check_offline(args: list[str]) -> None:
    """Refuse an example that would reach the Hub: README examples must run anywhere."""
    from bot.commands import CompareCmd, EstimateCmd, parse
    from bot.names import is_local

    cmd = parse(" ".join(args))
    queries = [cmd.query] if isinstance(cmd, EstimateCmd) else [cmd.a, cmd.b] if isinstance(cmd, CompareCmd) else []
    for query in queries:
        if query.model and not is_local(query.model):
            raise SystemExit(
                f"README example `vram {' '.join(args)}` names the Hub model {query.model}: "
                "use a config under tests/fixtures/configs so it runs offline"
            )


@contextmanager
def _in_root() -> Iterator[None]:
    before = Path.cwd()
    os.chdir(ROOT)
    try:
        yield
    finally:
        os.chdir(before)


def _no_questions(prompt: str) -> str:
    raise SystemExit(f"a README example asked a question ({prompt.strip()}): give the model on the command line")


def run_example(command: str, database: Path) -> str:
    """What ``command`` (``vram ...``) prints, stdout then stderr, against the history in ``database``."""
    from bot.cli import run
    from bot.settings import Settings

    argv = shlex.split(command)
    if argv[:1] != ["vram"]:
        raise SystemExit(f"README example `{command}` does not start with vram")
    _check_offline(argv[1:])
    out, err = io.StringIO(), io.StringIO()
    with _in_root():
        run(
            argv[1:],
            out=out,
            err=err,
            read=_no_questions,
            settings=Settings.model_validate({"database_url": f"sqlite:///{database}"}),
        )
    return out.getvalue() + err.getvalue()


def regenerate(text: str) -> str:
    """``text`` with every example block's output replaced by what its commands print now."""
    pieces, last = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for number, (start, end) in enumerate(example_blocks(text)):
            database = Path(tmp) / f"block{number}.sqlite3"
            body = "".join(
                f"{PROMPT}{ex.command}\n{run_example(ex.command, database)}" for ex in _split(text[start:end])
            )
            pieces += [text[last:start], body]
            last = end
    pieces.append(text[last:])
    return "".join(pieces)


def diff(old: str, new: str) -> str:
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            "README.md (as written)",
            "README.md (as the commands print now)",
        )
    )


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    text = README.read_text(encoding="utf-8")
    new = regenerate(text)
    if "--check" in argv:
        if new != text:
            print(diff(text, new), end="")
            print("README examples are stale: run python tools/readme_examples.py", file=sys.stderr)
            return 1
        return 0
    if new != text:
        README.write_text(new, encoding="utf-8")
        print(f"rewrote {len(examples(new))} README example(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
