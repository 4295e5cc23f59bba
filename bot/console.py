"""The rich Console the terminal front end prints through, and terminal text without Markdown.

In a terminal rich fits the output to the window. In a pipe or a file nothing is hard-wrapped (a
script or ``grep`` wants one row per line, whatever ``COLUMNS`` says) and no line ends in the spaces
rich pads table cells with.
"""

from __future__ import annotations

import io
import re
from typing import TextIO, cast

from rich.console import Console

_CODE_SPAN = re.compile(r"`([^`\n]*)`")

# Wide enough that no line of ours is ever wrapped; rich sizes tables to their content, not to this.
UNWRAPPED_WIDTH = 100_000


class VramConsole(Console):
    """rich's Console, but a reader that leaves (``vram ... | head``) is not an error.

    rich answers a broken pipe with ``SystemExit(1)``; raising BrokenPipeError instead lets the
    command end with status 0, as it does for --json output.
    """

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError


class TrimmedLines(io.TextIOBase):
    """A text stream that passes whole lines on without their trailing spaces."""

    def __init__(self, out: TextIO) -> None:
        super().__init__()
        self._out = out
        self._partial = ""

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            self._out.write(line.rstrip(" ") + "\n")
        return len(text)

    def flush(self) -> None:
        if self._partial:
            self._out.write(self._partial.rstrip(" "))
            self._partial = ""
        self._out.flush()


def make_console(out: TextIO) -> Console:
    """A console for ``out``: the terminal's width on a terminal, unwrapped and trimmed elsewhere."""
    if out.isatty():
        return VramConsole(file=out, highlight=False)
    trimmed = cast(TextIO, TrimmedLines(out))  # a text stream, if not a typing.IO subclass
    return VramConsole(file=trimmed, highlight=False, width=UNWRAPPED_WIDTH, color_system=None)


def plain(text: str) -> str:
    """Terminal text: Markdown code spans (which Slack renders) lose their backticks."""
    return _CODE_SPAN.sub(r"\1", text)
