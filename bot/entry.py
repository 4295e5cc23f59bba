"""The ``vram`` console script: ``vram --help`` is answered at once, everything else by :mod:`bot.cli`.

Help is what people run first and most; printing it should not cost the import of the estimator,
pydantic, rich or the database layer. The text is the same one :mod:`bot.cli` prints (a test
compares the two).
"""

from __future__ import annotations

import os
import sys

HELP_ARGS = (["--help"], ["help"])
CLI_WIDTH = 120  # what bot.cli gives rich when stdout is not a terminal


def _width() -> int:
    """The width rich would wrap at: the terminal's, or bot.cli's fixed width for pipes and files."""
    try:
        if sys.stdout.isatty():
            return os.get_terminal_size(sys.stdout.fileno()).columns
    except (OSError, ValueError):
        return 0
    return CLI_WIDTH


def main() -> None:
    """Console-script entry point."""
    if sys.argv[1:] in HELP_ARGS:
        from bot.help_text import HELP

        if max(len(line) for line in HELP.splitlines()) <= _width():
            try:
                sys.stdout.write(HELP + "\n")
                sys.stdout.flush()
            except BrokenPipeError:  # `vram --help | head`: the reader left, not an error
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            raise SystemExit(0)
    from bot.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
