"""Alembic migrations for the history store (scripts live beside this file, so they ship in the package)."""

from pathlib import Path

SCRIPT_LOCATION = Path(__file__).resolve().parent
