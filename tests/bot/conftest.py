"""Fixtures shared by the terminal tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a history database of the test's own."""
    return Settings(database_url=f"sqlite:///{tmp_path / 'vram.sqlite3'}")
