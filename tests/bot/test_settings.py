"""Settings come from the environment; a bad value is one sentence, not a traceback."""

from __future__ import annotations

import pytest

from bot.settings import load_settings
from common.errors import InputError


@pytest.mark.parametrize(("var", "value"), [("PORT", "abc"), ("WORKERS", "0"), ("HUB_TIMEOUT_S", "-1")])
def test_bad_setting_is_one_sentence(monkeypatch: pytest.MonkeyPatch, var: str, value: str) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(InputError) as err:
        load_settings()
    message = str(err.value)
    assert message.startswith(f"the environment variable {var} is not valid: ")
    assert "\n" not in message and err.value.exit_code == 2


def test_good_settings_and_secrets_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "8080")
    monkeypatch.setenv("HF_TOKEN", "hf_secret_value")
    settings = load_settings()
    assert settings.port == 8080
    assert "hf_secret_value" not in repr(settings)
