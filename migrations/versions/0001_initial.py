"""initial schema: queries, hub_cache, handled_events

Revision ID: 0001
Revises:
Create Date: 2026-11-26 04:58:08

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out here rather than imported from store.models: a migration must keep meaning what it
# meant when it was written, whatever the models become later.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "handled_events",
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("received_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_handled_events")),
    )
    op.create_index(op.f("ix_handled_events_received_at"), "handled_events", ["received_at"])

    op.create_table(
        "hub_cache",
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("entry", Json, nullable=False),
        sa.Column("fetched_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_hub_cache")),
    )
    op.create_index(op.f("ix_hub_cache_fetched_at"), "hub_cache", ["fetched_at"])

    op.create_table(
        "queries",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("team_id", sa.String(length=64), nullable=True),
        sa.Column("channel_id", sa.String(length=64), nullable=True),
        sa.Column("user_id", sa.String(length=128), nullable=True),
        sa.Column("is_dm", sa.Boolean(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("params", Json, nullable=True),
        sa.Column("requested_model", sa.String(length=256), nullable=True),
        sa.Column("model", sa.String(length=256), nullable=True),
        sa.Column("model_lc", sa.String(length=256), nullable=True),
        sa.Column("revision", sa.String(length=255), nullable=True),
        sa.Column("result", Json, nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("parent_id", BigId, nullable=True),
        sa.Column("posted_channel", sa.String(length=64), nullable=True),
        sa.Column("posted_ts", sa.String(length=64), nullable=True),
        sa.Column("thread_ts", sa.String(length=64), nullable=True),
        sa.CheckConstraint("source IN ('slack', 'cli')", name=op.f("ck_queries_source")),
        sa.CheckConstraint("status IN ('ok', 'error')", name=op.f("ck_queries_status")),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["queries.id"], name=op.f("fk_queries_parent_id_queries"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queries")),
    )
    op.create_index("ix_queries_channel", "queries", ["team_id", "channel_id", "id", "model_lc"])
    op.create_index(
        "ix_queries_channel_user", "queries", ["team_id", "channel_id", "user_id", "id", "model_lc"]
    )
    op.create_index(
        "ix_queries_user", "queries", ["user_id", "source", "team_id", "is_dm", "id", "model_lc"]
    )
    op.create_index("ix_queries_thread", "queries", ["posted_channel", "thread_ts", "id"])
    op.create_index("ix_queries_posted", "queries", ["posted_channel", "posted_ts"])
    op.create_index("ix_queries_parent", "queries", ["parent_id"])


def downgrade() -> None:
    op.drop_table("queries")  # its indexes go with it
    op.drop_index(op.f("ix_hub_cache_fetched_at"), table_name="hub_cache")
    op.drop_table("hub_cache")
    op.drop_index(op.f("ix_handled_events_received_at"), table_name="handled_events")
    op.drop_table("handled_events")
