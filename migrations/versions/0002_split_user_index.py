"""split the user index: own DMs and terminal queries each read in id order

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 05:10:00

"""
from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_queries_user", table_name="queries")
    op.create_index("ix_queries_dm", "queries", ["team_id", "user_id", "is_dm", "id", "model_lc"])
    op.create_index("ix_queries_user", "queries", ["user_id", "source", "id", "model_lc"])


def downgrade() -> None:
    op.drop_index("ix_queries_user", table_name="queries")
    op.drop_index("ix_queries_dm", table_name="queries")
    op.create_index(
        "ix_queries_user", "queries", ["user_id", "source", "team_id", "is_dm", "id", "model_lc"]
    )
