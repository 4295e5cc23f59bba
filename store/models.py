"""SQLAlchemy 2.x table models. ``migrations/`` must agree with these (a test runs ``alembic check``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from store.records import ID_LEN, MODEL_LEN, REVISION_LEN, USER_LEN

# Deterministic constraint names, so migrations can name what they alter or drop (SQLite batch mode
# needs names to drop constraints).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid alias), not a BIGINT one.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# JSONB on Postgres (compact, indexable later); plain JSON (text) elsewhere.
Json = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no zone: without this, values would come back naive there and aware on Postgres.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        # SQLite would store the offset as text; keep one canonical form that sorts as text.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class QueryRow(Base):
    """One sizing query: who asked, what, what came back, and where it was posted."""

    __tablename__ = "queries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    source: Mapped[str] = mapped_column(String(8), nullable=False)
    team_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    channel_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    user_id: Mapped[str | None] = mapped_column(String(USER_LEN))
    is_dm: Mapped[bool] = mapped_column(Boolean(create_constraint=False), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    params: Mapped[dict[str, Any] | None] = mapped_column(Json)
    requested_model: Mapped[str | None] = mapped_column(String(MODEL_LEN))
    model: Mapped[str | None] = mapped_column(String(MODEL_LEN))
    # lower(model or requested_model): the case-insensitive substring filter reads this column
    # (LIKE on a lowered copy is portable; pg_trgm is not there by default).
    model_lc: Mapped[str | None] = mapped_column(String(MODEL_LEN))
    revision: Mapped[str | None] = mapped_column(String(REVISION_LEN))
    result: Mapped[dict[str, Any] | None] = mapped_column(Json)
    status: Mapped[str] = mapped_column(String(8), nullable=False)
    error: Mapped[str | None] = mapped_column(Text)
    parent_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("queries.id", ondelete="SET NULL"))
    posted_channel: Mapped[str | None] = mapped_column(String(ID_LEN))
    posted_ts: Mapped[str | None] = mapped_column(String(ID_LEN))
    thread_ts: Mapped[str | None] = mapped_column(String(ID_LEN))

    __table_args__ = (
        CheckConstraint("source IN ('slack', 'cli')", name="source"),
        CheckConstraint("status IN ('ok', 'error')", name="status"),
        # Listings are "newest first" by id within a scope; model_lc rides along at the end so the
        # model filter is evaluated on the index entries (a covering scan, no table lookups).
        Index("ix_queries_channel", "team_id", "channel_id", "id", "model_lc"),
        Index("ix_queries_channel_user", "team_id", "channel_id", "user_id", "id", "model_lc"),
        # A user's own direct-message queries (only Slack records are DMs: NewQuery enforces it).
        Index("ix_queries_dm", "team_id", "user_id", "is_dm", "id", "model_lc"),
        # The terminal's queries of the local user (cli records have no team and are no DMs). Kept
        # apart from the DM index: "team_id IS NULL" does not let Postgres read an index in id order.
        Index("ix_queries_user", "user_id", "source", "id", "model_lc"),
        # Threaded follow-ups: the root message (posted_ts) and the replies (thread_ts).
        Index("ix_queries_thread", "posted_channel", "thread_ts", "id"),
        Index("ix_queries_posted", "posted_channel", "posted_ts"),
        Index("ix_queries_parent", "parent_id"),
    )


class HubCacheRow(Base):
    """The persistent Hub cache: one JSON entry per key (model + revision), with when it was fetched."""

    __tablename__ = "hub_cache"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    entry: Mapped[dict[str, Any]] = mapped_column(Json, nullable=False)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, index=True)


class HandledEventRow(Base):
    """Slack event ids already handled, so a retried delivery is answered once."""

    __tablename__ = "handled_events"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, index=True)

# Tables of Slack OAuth installs (same metadata, so the migration check covers them).
from store import slack_install as _slack_install  # noqa: E402, F401
