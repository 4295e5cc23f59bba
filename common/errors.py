"""The one error tree of vram. Every error carries the one sentence the user sees.

``str(err)`` is that sentence; ``exit_code`` is what a terminal command exits with (2 for what the
user typed, 1 for anything else, a valid question that vram does not model included). The structured
fields (``what`` failed, the ``value`` that did not fit, a ``hint`` of what to do) are optional and
let a front end render more than the sentence; both front ends catch :class:`VramError` alone.

This module imports nothing of the project, so ``estimator``, ``sources``, ``store`` and ``bot`` can
all raise these errors without importing each other.
"""

from __future__ import annotations


class VramError(Exception):
    """Root of every error vram raises on purpose; ``str(err)`` is the user-facing sentence."""

    exit_code: int = 1
    # A stable name for the kind of error (``--json`` prints it as ``error.code``); match on it, never
    # on the sentence.
    code: str = "error"

    def __init__(self, message: str, *, what: str | None = None, value: object = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.what = what
        self.value = value
        self.hint = hint

    def __str__(self) -> str:
        return self.message

    def fields(self) -> dict[str, object]:
        """The structured fields, for a front end that renders more than the sentence."""
        return {
            "message": self.message,
            "what": self.what,
            "value": self.value,
            "hint": self.hint,
            "exit_code": self.exit_code,
            "code": self.code,
        }


class InputError(VramError):
    """The text the user typed is invalid (unknown key, bad value, out of range), or a setting the
    engine refuses before anything can be sized (a KV dtype the release does not have)."""

    exit_code = 2
    code = "invalid_input"


class UnmodelledError(VramError):
    """The question is valid, but vram does not model what it needs (a layout, a drafter, a release):
    a limit of vram's, not of what the user typed, so it exits 1."""

    code = "unmodelled"


class ConfigError(VramError):
    """A config.json (or a checkpoint header) lacks what is needed to describe the model."""

    code = "config"


class ResolveError(VramError):
    """The model could not be resolved (Hub or local path)."""

    code = "resolve"


class NotFoundError(ResolveError):
    """No such repo, revision or file."""

    code = "not_found"


class GatedError(ResolveError):
    """The repo is gated and the token (if any) has not been granted access."""

    code = "gated"


class HubUnavailableError(ResolveError):
    """The Hub timed out, answered 5xx, or offline mode is on and nothing is cached."""

    code = "hub_unavailable"


class StoreError(VramError):
    """The history database failed (base of the store's errors)."""

    code = "store"


class StoreWriteError(StoreError):
    """A write still failed after the retries: the caller shows its answer anyway, "not saved"."""


class StoreReadError(StoreError):
    """The history could not be read (database unreachable, schema missing)."""
