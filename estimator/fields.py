"""Config field checks shared by estimator.config and the layer and tower builders it imports
(which cannot import it back)."""

from __future__ import annotations

from typing import Any

from common.errors import ConfigError


def positive(model_type: str, name: str, value: Any) -> int:
    """``value`` as a whole number of at least 1, else a sentence naming the field."""
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value or value < 1:
        raise ConfigError(f"{model_type} config has {name}={value!r}; expected a positive whole number.")
    return int(value)


def whole(where: str, name: str, value: Any) -> int:
    """``value`` as a whole number of at least 0, else a sentence naming ``where`` and the field."""
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value or value < 0:
        raise ConfigError(f"{where} has {name}={value!r}; expected a non-negative whole number.")
    return int(value)
