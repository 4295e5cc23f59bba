"""Small helpers the tests share."""

from __future__ import annotations

from typing import Any


def messages(answer: Any) -> list[str]:
    """The sentences of an estimate's (or engine terms') warnings, without their codes."""
    return [w.message for w in answer.warnings]
