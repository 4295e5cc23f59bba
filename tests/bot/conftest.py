"""Fixtures shared by the terminal tests."""

from __future__ import annotations

import pytest

from bot.settings import Settings


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    """Settings with a history database of the test's own (migrated: see tests/conftest.py)."""
    return Settings(database_url=sqlite_url)
