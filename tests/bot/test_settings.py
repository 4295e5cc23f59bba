"""Settings come from the environment; a bad value is one sentence, not a traceback."""

from __future__ import annotations

import pytest

from bot.settings import load_settings
from common.errors import HubUnavailableError, InputError
from sources import make_resolver


@pytest.mark.parametrize(
    ("var", "value"), [("PORT", "abc"), ("WORKERS", "0"), ("HUB_TIMEOUT_S", "-1"), ("VRAM_LOG_LEVEL", "loud")]
)
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


@pytest.mark.parametrize(("value", "offline"), [("1", True), ("on", True), ("TRUE", True), ("0", False), ("", False)])
def test_hf_hub_offline_reaches_the_resolver(monkeypatch: pytest.MonkeyPatch, value: str, offline: bool) -> None:
    # Read once, here, and passed down: the resolver never looks at the environment itself.
    monkeypatch.setenv("HF_HUB_OFFLINE", value)
    settings = load_settings()
    assert settings.hub_offline is offline
    resolver = make_resolver(settings)
    if offline:
        with pytest.raises(HubUnavailableError, match="offline mode is on"):
            resolver.resolve("Qwen/Qwen3-8B")


def test_log_level_and_user_come_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VRAM_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("USER", "someone")
    settings = load_settings()
    assert (settings.vram_log_level, settings.user) == ("DEBUG", "someone")


@pytest.mark.parametrize(("value", "level"), [("debug", "DEBUG"), (" Info ", "INFO"), ("", None)])
def test_log_level_takes_any_case(monkeypatch: pytest.MonkeyPatch, value: str, level: str | None) -> None:
    # logging.basicConfig raises on "debug": the setting hands it logging's own name, or none.
    monkeypatch.setenv("VRAM_LOG_LEVEL", value)
    assert load_settings().vram_log_level == level


def test_a_bad_setting_with_json_is_a_json_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json
    import sys

    from bot.cli import main

    monkeypatch.setenv("VRAM_LOG_LEVEL", "loud")
    monkeypatch.setattr(sys, "argv", ["vram", "tests/fixtures/configs/Qwen__Qwen3-8B.json", "--json"])
    with pytest.raises(SystemExit) as done:
        main()
    out, err = capsys.readouterr()
    assert done.value.code == 2 and err.startswith("vram: the environment variable VRAM_LOG_LEVEL is not valid")
    error = json.loads(out)["error"]
    assert error["exit_code"] == 2 and error["code"] == "invalid_input" and "VRAM_LOG_LEVEL" in error["message"]
