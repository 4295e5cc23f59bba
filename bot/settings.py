"""Settings, read from the environment at entrypoints only (``vram`` and ``vram serve``)."""

from __future__ import annotations

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from estimator.errors import InputError


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


def load_settings() -> Settings:
    """Read the settings from the environment (call at an entrypoint only).

    A bad value is one sentence naming the variable and the rule, never a validation traceback.
    """
    try:
        return Settings()
    except ValidationError as err:
        first = err.errors()[0]
        name = str(first["loc"][0]).upper() if first.get("loc") else "a setting"
        raise InputError(f"the environment variable {name} is not valid: {first['msg'].lower()}") from None
