"""The store's error tree. Every error carries the one sentence the user sees.

Kept apart from ``estimator.errors`` (the store imports nothing it does not need), but shaped the
same way: ``str(err)`` is the sentence, ``exit_code`` is what a terminal command exits with.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of every error the store raises."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class StoreWriteError(StoreError):
    """A write still failed after the retries: the caller shows its answer anyway, "not saved"."""


class StoreReadError(StoreError):
    """The history could not be read (database unreachable, schema missing)."""
