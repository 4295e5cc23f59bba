"""Alembic, driven from code: no alembic.ini, so it works from an installed package."""

from __future__ import annotations

from typing import TYPE_CHECKING

from migrations import SCRIPT_LOCATION

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Connection

# The newest migration. A test checks it against the scripts, so ``Store.ensure_schema`` can tell
# "up to date" with one SELECT instead of loading every script (and importing Alembic at all).
HEAD_REVISION = "0005"


def alembic_config(*, connection: Connection | None = None, url: str | None = None) -> Config:
    """An Alembic config for the packaged scripts, bound to a live connection or a URL."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    # Passed as attributes, not main options: ConfigParser would choke on "%" in URLs.
    if connection is not None:
        cfg.attributes["connection"] = connection
    if url is not None:
        cfg.attributes["url"] = url
    return cfg


def script_head() -> str | None:
    """The head revision according to the scripts on disk."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
