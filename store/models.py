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
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from store.records import ID_LEN, MODEL_LEN, PLATFORM_LEN, REVISION_LEN, USER_LEN

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


class _Json(TypeDecorator[Any]):
    """JSONB on Postgres (compact, indexable later); plain JSON (text) elsewhere.

    The Postgres type is looked up only on a Postgres connection: importing
    ``sqlalchemy.dialects.postgresql`` up front would load that whole dialect for SQLite users too.
    """

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


Json = _Json()


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
    # The conversation (records.Conversation): platform, workspace, channel, user, DM or not.
    source: Mapped[str] = mapped_column(String(PLATFORM_LEN), nullable=False)
    team_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    channel_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    user_id: Mapped[str | None] = mapped_column(String(USER_LEN))
    is_dm: Mapped[bool] = mapped_column(Boolean(create_constraint=False), nullable=False)
    # Posted where the whole conversation sees it; else only its asker may see it in a listing.
    public: Mapped[bool] = mapped_column(Boolean(create_constraint=False), nullable=False, server_default=false())
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
        CheckConstraint("status IN ('ok', 'error')", name="status"),
        # Listings are "newest first" by id within a scope; model_lc rides along at the end so the
        # model filter is evaluated on the index entries (a covering scan, no table lookups).
        # A channel's public answers:
        Index("ix_queries_channel", "team_id", "channel_id", "public", "id", "model_lc"),
        # One user's queries in a channel (public rides along: someone else's are shown only if public).
        Index("ix_queries_channel_user", "team_id", "channel_id", "user_id", "id", "model_lc", "public"),
        # A user's own direct-message queries (only chat records are DMs: Conversation enforces it).
        Index("ix_queries_dm", "team_id", "user_id", "is_dm", "id", "model_lc"),
        # The terminal's queries of the local user (cli records have no team and are no DMs). Kept
        # apart from the DM index: "team_id IS NULL" does not let Postgres read an index in id order.
        Index("ix_queries_user", "user_id", "source", "id", "model_lc", "channel_id"),
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
    """Chat event ids already handled, so a retried delivery is answered once."""

    __tablename__ = "handled_events"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, index=True)


class SeenRequestRow(Base):
    """Signatures of signed requests already handled, until they expire: a replayed request is refused.

    A chat platform signs the timestamp with the body and refuses timestamps older than a few minutes
    (five minutes is usual), so a signature kept a little longer catches every replay, whichever replica it reaches.
    """

    __tablename__ = "seen_requests"

    signature: Mapped[str] = mapped_column(String(128), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, index=True)
