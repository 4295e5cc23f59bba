"""Tables for Slack installs through OAuth: Bolt's installation and state stores, in vram's database.

The columns are those ``slack_sdk``'s SQLAlchemy stores read and write (same table and column
names), with the token columns wide enough for encrypted tokens (``bot.slack_oauth`` encrypts them).
``migrations/`` creates them; they are part of :data:`store.models.Base`'s metadata (``migrations/env.py``
imports this module) so the migration check covers them.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Index, Integer, String, Table, Text

from store.models import Base

INSTALLATIONS_TABLE = "slack_installations"
BOTS_TABLE = "slack_bots"
STATES_TABLE = "slack_oauth_states"


def _workspace_columns() -> list[Column[object]]:
    return [
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("client_id", String(32), nullable=False),
        Column("app_id", String(32), nullable=False),
        Column("enterprise_id", String(32)),
        Column("enterprise_name", String(200)),
    ]


slack_installations = Table(
    INSTALLATIONS_TABLE,
    Base.metadata,
    *_workspace_columns(),
    Column("enterprise_url", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", Text),  # encrypted
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", Text),  # encrypted
    Column("bot_token_expires_at", DateTime),
    Column("user_id", String(32), nullable=False),
    Column("user_token", Text),  # encrypted (vram asks for no user scopes: empty)
    Column("user_scopes", String(1000)),
    Column("user_refresh_token", Text),  # encrypted
    Column("user_token_expires_at", DateTime),
    Column("incoming_webhook_url", String(200)),
    Column("incoming_webhook_channel", String(200)),
    Column("incoming_webhook_channel_id", String(200)),
    Column("incoming_webhook_configuration_url", String(200)),
    Column("is_enterprise_install", Boolean, nullable=False, default=False),
    Column("token_type", String(32)),
    Column("installed_at", DateTime, nullable=False),
    Index("ix_slack_installations_team", "client_id", "enterprise_id", "team_id", "user_id", "installed_at"),
)

slack_bots = Table(
    BOTS_TABLE,
    Base.metadata,
    *_workspace_columns(),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", Text),  # encrypted
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", Text),  # encrypted
    Column("bot_token_expires_at", DateTime),
    Column("is_enterprise_install", Boolean, nullable=False, default=False),
    Column("installed_at", DateTime, nullable=False),
    Index("ix_slack_bots_team", "client_id", "enterprise_id", "team_id", "installed_at"),
)

slack_oauth_states = Table(
    STATES_TABLE,
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("state", String(200), nullable=False),
    Column("expire_at", DateTime, nullable=False),
)
