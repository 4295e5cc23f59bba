"""The estimator's error tree. Every error carries the one sentence the user sees.

``InputError`` (exit status 2) is for what the user typed; everything else is a
``VramError`` (exit status 1): a model we cannot describe, a Hub failure, and so on.
"""

from __future__ import annotations


class VramError(Exception):
    """Base of every error the estimator raises; ``str(err)`` is the user-facing sentence."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InputError(VramError):
    """The text the user typed is invalid (unknown key, bad value, out of range)."""

    exit_code = 2


class ConfigError(VramError):
    """A config.json lacks what we need to describe the model."""


class ResolveError(VramError):
    """The model could not be resolved (Hub or local path)."""


class NotFoundError(ResolveError):
    """No such repo, revision or file."""


class GatedError(ResolveError):
    """The repo is gated and the token (if any) has not been granted access."""


class HubUnavailableError(ResolveError):
    """The Hub timed out, answered 5xx, or offline mode is on and nothing is cached."""
