"""conversation seam: any front end (no platform CHECK), and which answers the conversation saw

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 20:30:00

``source`` held only 'slack' or 'cli' (a CHECK): a new front end needed a migration. It is now any
platform name of up to 16 characters. ``public`` says whether the answer was posted where the whole
conversation saw it; listings show other people only those. Existing rows: public when they were
posted (``posted_ts`` set), which is exactly when Slack showed them to the channel.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("queries") as batch:
        batch.drop_constraint(op.f("ck_queries_source"), type_="check")
        batch.alter_column("source", existing_type=sa.String(length=8), type_=sa.String(length=16),
                           existing_nullable=False)
        batch.add_column(sa.Column("public", sa.Boolean(create_constraint=False), nullable=False,
                                   server_default=sa.false()))
    op.execute("UPDATE queries SET public = (posted_ts IS NOT NULL)")
    op.drop_index("ix_queries_channel", table_name="queries")
    op.create_index("ix_queries_channel", "queries", ["team_id", "channel_id", "public", "id", "model_lc"])
    op.drop_index("ix_queries_channel_user", table_name="queries")
    op.create_index("ix_queries_channel_user", "queries",
                    ["team_id", "channel_id", "user_id", "id", "model_lc", "public"])
    # A user's channel-less (terminal) queries: the channel test is read from the index entries.
    op.drop_index("ix_queries_user", table_name="queries")
    op.create_index("ix_queries_user", "queries", ["user_id", "source", "id", "model_lc", "channel_id"])


def downgrade() -> None:
    op.drop_index("ix_queries_user", table_name="queries")
    op.create_index("ix_queries_user", "queries", ["user_id", "source", "id", "model_lc"])
    op.drop_index("ix_queries_channel_user", table_name="queries")
    op.create_index("ix_queries_channel_user", "queries", ["team_id", "channel_id", "user_id", "id", "model_lc"])
    op.drop_index("ix_queries_channel", table_name="queries")
    op.create_index("ix_queries_channel", "queries", ["team_id", "channel_id", "id", "model_lc"])
    op.execute("DELETE FROM queries WHERE source NOT IN ('slack', 'cli')")
    with op.batch_alter_table("queries") as batch:
        batch.drop_column("public")
        batch.alter_column("source", existing_type=sa.String(length=16), type_=sa.String(length=8),
                           existing_nullable=False)
        batch.create_check_constraint(op.f("ck_queries_source"), "source IN ('slack', 'cli')")
