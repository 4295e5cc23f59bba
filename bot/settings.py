"""Settings, read from the environment at entrypoints only (``vram`` and ``vram serve``).

This is the only module of vram that touches the environment: everything else gets its values
as arguments.
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.errors import InputError


class Settings(BaseSettings):
    """Environment variables of interface.md; secrets never appear in repr or logs."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore", frozen=True)

    database_url: str | None = None  # default: a SQLite file in the user data dir
    hf_token: SecretStr | None = None
    hf_endpoint: str | None = None
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    # Install in any workspace (OAuth v2): set all three instead of SLACK_BOT_TOKEN.
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    slack_token_key: SecretStr | None = None  # Fernet key: bot tokens are encrypted with it at rest
    slack_oauth_redirect_url: str | None = None  # default: what the app's settings on api.slack.com say
    slack_install_url: str = "https://slack.com/oauth/v2/authorize"  # where the install link sends people
    port: int = Field(3000, ge=1, le=65535)
    hub_timeout_s: float = Field(10.0, gt=0, le=120)  # total wait for one model's resolution
    hub_branch_ttl_s: float = Field(600.0, ge=0)  # how long a resolved branch (main) is trusted
    workers: int = Field(16, ge=1, le=256)  # Slack listener pool: resolutions run here, not in ack
    hf_hub_offline: str = ""  # as huggingface_hub reads it: 1, ON, YES or TRUE (any case) means offline
    # Terminal commands log WARNING and up unless this says otherwise (any case: debug is DEBUG).
    vram_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] | None = None
    user: str | None = None  # the terminal user when the passwd database has no entry (containers)

    @field_validator("vram_log_level", mode="before")
    @classmethod
    def _level_name(cls, value: object) -> object:
        """logging's level names, in any case; an empty value is unset."""
        if isinstance(value, str):
            return value.strip().upper() or None
        return value

    @property
    def hub_offline(self) -> bool:
        """HF_HUB_OFFLINE is on: answer from the Hub cache only."""
        return self.hf_hub_offline.strip().upper() in {"1", "ON", "YES", "TRUE"}


def load_settings() -> Settings:
    """Read the settings from the environment (call at an entrypoint only).

    A bad value is one sentence naming the variable and the rule, never a validation traceback.
    """
    quiet_hub_library()
    try:
        return Settings()
    except ValidationError as err:
        first = err.errors()[0]
        name = str(first["loc"][0]).upper() if first.get("loc") else "a setting"
        raise InputError(f"the environment variable {name} is not valid: {first['msg'].lower()}") from None


def quiet_hub_library() -> None:
    """Turn off huggingface_hub's telemetry unless the user set it (before the library is imported),
    and transformers' advice below errors (that PyTorch is missing: vram reads configs only).

    The libraries read these settings once, at import. Without the first huggingface_hub would fetch an
    "agent harness" registry from the Hub on the first request, only to build a user-agent string.
    """
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
