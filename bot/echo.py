"""User text shown back to users (Slack messages, history listings): nothing in it can reorder or flood.

Bidirectional control characters (U+202E RIGHT-TO-LEFT OVERRIDE and kin) would make a listing read
differently from what was typed (``txt.exe`` shown as ``exe.txt``); they are shown as U+FFFD instead.
A run of more than ``MAX_RUN`` characters without a space (a 4,000-character "model id") is cut, so one
query cannot fill a message.
"""

from __future__ import annotations

import re

BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
MAX_RUN = 120  # Hub repo ids are at most 96 characters
_LONG_RUN = re.compile(rf"\S{{{MAX_RUN + 1},}}")


def neutral(text: str) -> str:
    """``text`` with bidi controls replaced by U+FFFD and space-less runs over MAX_RUN cut with "…"."""
    return _LONG_RUN.sub(lambda m: m.group()[: MAX_RUN - 1] + "…", BIDI_CONTROLS.sub("\ufffd", text))
