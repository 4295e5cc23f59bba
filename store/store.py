"""The history store: every sizing query, the Hub cache and handled chat events, in one database.

SQLite (a file in the user's data dir, by default) or Postgres through psycopg 3. The store takes a
URL; it reads no environment itself (``default_database_url`` is for the entrypoints).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from platformdirs import user_data_dir
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Insert,
    Select,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import URL, Row, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    IntegrityError,
    NoSuchModuleError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.pool import StaticPool

from common.errors import StoreError, StoreReadError, StoreWriteError
from store.migrate import HEAD_REVISION, alembic_config
from store.models import HandledEventRow, HubCacheRow, QueryRow, SeenRequestRow
from store.records import Conversation, NewQuery, QueryRecord

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_LIMIT = 1000
# What a user is told when the database fails (the details are logged, never shown: they name hosts).
NOT_ANSWERING = "The history database is not answering: try again in a minute."
NOT_ANSWERING_LC = "the history database is not answering."


def default_database_url() -> str:
    """The embedded default: a SQLite file in the user's data directory (created on first use)."""
    path = Path(user_data_dir("vram", appauthor=False)) / "vram.sqlite3"
    return f"sqlite:///{path}"


def normalize_url(url: str) -> URL:
    """Parse a database URL; plain ``postgres://`` / ``postgresql://`` mean psycopg 3 (the driver we ship)."""
    try:
        parsed = make_url(url)
    except ArgumentError as err:
        raise StoreError(
            "DATABASE_URL is not a database URL: use sqlite:///path or postgresql+psycopg://user@host/db."
        ) from err
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _reason(err: BaseException) -> str:
    """The first line of the driver's message: enough to act on, without the SQL or its parameters."""
    orig = getattr(err, "orig", None) or err
    text = str(orig).strip().splitlines()
    return text[0] if text else type(orig).__name__


def _is_transient(err: SQLAlchemyError) -> bool:
    """Worth retrying: locked, busy, connection lost or refused (not a constraint or a bad statement)."""
    if isinstance(err, IntegrityError):
        return False
    if isinstance(err, OperationalError):
        return True
    return isinstance(err, DBAPIError) and err.connection_invalidated


class Store:
    """Queries, Hub cache and handled events, on SQLite or Postgres."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        retries: int = 3,
        backoff_s: float = 0.1,
        busy_timeout_ms: int = 1000,
        write_budget_s: float = 2.0,
        hub_cache_retention: timedelta = timedelta(days=30),
        event_retention: timedelta = timedelta(days=1),
        prune_interval_s: float | None = 3600.0,
    ) -> None:
        if retries < 1:
            raise ValueError("retries must be at least 1")
        self.url = normalize_url(url)
        self.retries = retries
        self.backoff_s = backoff_s
        # A write (all its tries) gives up after about this long: a locked SQLite file or a database
        # that does not answer costs the user a "not saved" note, never a late answer.
        self.write_budget_s = write_budget_s
        self.hub_cache_retention = hub_cache_retention
        self.event_retention = event_retention
        self.prune_interval_s = prune_interval_s  # None: only explicit prune() calls
        self._prune_lock = threading.Lock()
        self._busy_timeout_ms = busy_timeout_ms
        self._last_prune: float | None = None
        try:
            self.engine = self._create_engine(self.url, echo=echo, busy_timeout_ms=busy_timeout_ms)
        except ImportError as err:
            if self.url.get_backend_name() != "postgresql":
                raise StoreError(
                    f"DATABASE_URL names a database vram cannot open ({self.url.drivername}): its "
                    "driver is not installed; use sqlite:///path or postgresql+psycopg://user@host/db."
                ) from err
            # Postgres without its driver: the extra that installs it.
            raise StoreError(
                f"DATABASE_URL names Postgres, but its driver ({self.url.get_driver_name()}) is not "
                "installed: pip install 'vram[postgres]' (and use postgresql+psycopg://user@host/db)."
            ) from err
        except (ArgumentError, NoSuchModuleError) as err:
            # An unknown dialect or driver: say which, in one line.
            raise StoreError(
                f"DATABASE_URL names a database vram cannot open ({self.url.drivername}): use "
                "sqlite:///path or postgresql+psycopg://user@host/db."
            ) from err

    @staticmethod
    def _create_engine(url: URL, *, echo: bool, busy_timeout_ms: int) -> Engine:
        if url.get_backend_name() != "sqlite":
            connect_args: dict[str, Any] = {}
            if url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
                connect_args["connect_timeout"] = 5  # a down server fails fast instead of hanging
            return create_engine(url, echo=echo, pool_pre_ping=True, connect_args=connect_args)

        database = url.database or ""
        in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
        if in_memory:
            # One shared connection, or every checkout would see its own empty database.
            engine = create_engine(url, echo=echo, poolclass=StaticPool, connect_args={"check_same_thread": False})
        else:
            folder = Path(database).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)  # first use: the user data dir may not exist
            except OSError as err:
                raise StoreError(f"Cannot create the folder for the history database {folder}: {err}.") from err
            engine = create_engine(url, echo=echo, pool_pre_ping=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            if not in_memory:
                # WAL: readers never block the writer, and the writer never blocks readers.
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine

    def __repr__(self) -> str:  # never show a password
        return f"Store({self._safe_url()!r})"

    # -- life cycle -------------------------------------------------------------------------------

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def upgrade(self) -> None:
        """Apply the Alembic migrations up to head (``vram db upgrade``, ``vram serve`` on start)."""
        from alembic import command  # imported here: the terminal's read path never needs it
        from alembic.util.exc import CommandError

        try:
            with self.engine.begin() as conn:
                if conn.dialect.name == "sqlite":
                    # Take the write lock first: two processes upgrading at once then queue on
                    # busy_timeout instead of failing on a read-to-write lock upgrade.
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                command.upgrade(alembic_config(connection=conn), "head")
        except CommandError as err:
            # Typically: a newer release already migrated this database further than we know.
            log.error("database upgrade failed on %s: %s", self._safe_url(), err)
            raise StoreWriteError(
                f"The database could not be upgraded ({err}): is it used by a newer version of vram?"
            ) from err
        except SQLAlchemyError as err:
            log.error("database upgrade failed on %s: %s", self._safe_url(), _reason(err))
            raise StoreWriteError(f"The database could not be upgraded: {_reason(err)}.") from err

    def schema_revision(self) -> str | None:
        """The migration the database is at (None: never migrated)."""
        try:
            with self.engine.connect() as conn:
                if not conn.dialect.has_table(conn, "alembic_version"):
                    return None
                return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        except SQLAlchemyError as err:
            log.error("history database check failed (%s): %s", self._safe_url(), _reason(err))
            raise StoreReadError(NOT_ANSWERING) from err

    def check_writable(self) -> None:
        """Raise StoreWriteError unless a write goes through now (a health check: nothing is kept).

        Waits at most about a second for a lock, so a health probe answers promptly.
        """
        try:
            with self.engine.connect() as conn:
                sqlite = conn.dialect.name == "sqlite"
                if sqlite:
                    conn.exec_driver_sql("PRAGMA busy_timeout=1000")
                    conn.commit()
                try:
                    conn.execute(insert(SeenRequestRow).values(signature="health-probe", expires_at=_now()))
                finally:
                    conn.rollback()  # the probe keeps nothing
                    if sqlite:
                        conn.exec_driver_sql(f"PRAGMA busy_timeout={self._busy_timeout_ms}")
                        conn.commit()
        except SQLAlchemyError as err:
            log.error("history database is not writable (%s): %s", self._safe_url(), _reason(err))
            raise StoreWriteError(NOT_ANSWERING) from err

    def ensure_schema(self) -> None:
        """Upgrade only when needed: one cheap SELECT when the database is already at head."""
        if self.schema_revision() != HEAD_REVISION:
            self.upgrade()

    # -- writing ----------------------------------------------------------------------------------

    def _safe_url(self) -> str:
        return self.url.render_as_string(hide_password=True)

    def _write(self, what: str, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in a transaction; retry transient failures with backoff, then raise StoreWriteError."""
        # The sentences name no host, port or database: those go to the log, for the operator.
        deadline = time.monotonic() + self.write_budget_s
        for attempt in range(1, self.retries + 1):
            try:
                with self.engine.begin() as conn:
                    return fn(conn)
            except SQLAlchemyError as err:
                if not _is_transient(err):
                    log.error("could not %s (%s): %s", what, self._safe_url(), _reason(err))
                    raise StoreWriteError(f"Could not {what}: the history database refused it.") from err
                pause = self.backoff_s * (2 ** (attempt - 1))
                if attempt == self.retries or time.monotonic() + pause >= deadline:
                    log.error("could not %s after %d tries (%s): %s", what, attempt, self._safe_url(), _reason(err))
                    raise StoreWriteError(f"Could not {what}: {NOT_ANSWERING_LC}") from err
                log.warning("could not %s (try %d of %d): %s; retrying", what, attempt, self.retries, _reason(err))
                time.sleep(pause)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _read(self, fn: Callable[[Connection], T]) -> T:
        try:
            with self.engine.connect() as conn:
                return fn(conn)
        except SQLAlchemyError as err:
            log.error("history read failed (%s): %s", self._safe_url(), _reason(err))
            raise StoreReadError(NOT_ANSWERING) from err

    def record(self, rec: NewQuery) -> QueryRecord:
        """Store one query; retried briefly, StoreWriteError when it still fails."""
        created_at = _utc(rec.created_at) if rec.created_at is not None else _now()
        label = rec.model or rec.requested_model
        values: dict[str, Any] = {
            "created_at": created_at,
            "source": rec.conversation.platform,
            "team_id": rec.conversation.workspace,
            "channel_id": rec.conversation.channel,
            "user_id": rec.conversation.user,
            "is_dm": rec.conversation.private,
            "public": False,  # until set_posted: an answer nobody else saw is its asker's alone
            "text": rec.text,
            "params": rec.params,
            "requested_model": rec.requested_model,
            "model": rec.model,
            "model_lc": label.lower() if label is not None else None,
            "revision": rec.revision,
            "result": rec.result,
            "status": rec.status,
            "error": rec.error,
            "parent_id": rec.parent_id,
        }

        def run(conn: Connection) -> int:
            return conn.execute(insert(QueryRow).values(values).returning(QueryRow.id)).scalar_one()

        query_id = self._write("save the query to history", run)
        data = rec.model_dump(exclude={"created_at"})
        return QueryRecord(
            id=query_id,
            created_at=created_at,
            public=False,
            posted_channel=None,
            posted_ts=None,
            thread_ts=None,
            **data,
        )

    def set_posted(self, query_id: int, *, channel: str, ts: str, thread_ts: str | None) -> None:
        """Remember the message a query was answered with (and the thread it is in).

        Posted means the whole conversation saw it: from now on, listings show it to its members.
        """

        def run(conn: Connection) -> int:
            stmt = (
                update(QueryRow)
                .where(QueryRow.id == query_id)
                .values(posted_channel=channel, posted_ts=ts, thread_ts=thread_ts, public=True)
            )
            return conn.execute(stmt).rowcount

        if self._write("save where the answer was posted", run) == 0:
            raise StoreWriteError(f"Query {query_id} is not in the history.")

    @staticmethod
    def _insert_once(conn: Connection, table: Any, key: str, values: dict[str, Any]) -> bool:
        """INSERT unless the key is there; True when this call inserted it (atomic on both databases)."""
        stmt: Insert
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            stmt = pg_insert(table).values(values).on_conflict_do_nothing(index_elements=[key])
        elif conn.dialect.name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            stmt = sqlite_insert(table).values(values).on_conflict_do_nothing(index_elements=[key])
        else:  # pragma: no cover - only the two supported databases
            raise StoreWriteError(f"Unsupported database {conn.dialect.name}.")
        # RETURNING, not rowcount: an insert's rowcount is not reported by every driver (-1).
        return conn.execute(stmt.returning(getattr(table, key))).first() is not None

    def mark_public(self, query_ids: tuple[int, ...]) -> None:
        """The conversation saw these answers (posted together, e.g. a comparison): listings show them."""
        if query_ids:
            self._write(
                "save that the answers were posted",
                lambda conn: conn.execute(update(QueryRow).where(QueryRow.id.in_(query_ids)).values(public=True)),
            )

    def withdraw(self, query_ids: tuple[int, ...]) -> None:
        """Their asker deleted the message these answers were posted in: the conversation no longer sees
        them (listings and ``show`` keep them for the asker alone), and no thread continues from it."""
        if query_ids:
            self._write(
                "save that the answers were deleted",
                lambda conn: conn.execute(
                    update(QueryRow)
                    .where(QueryRow.id.in_(query_ids))
                    .values(public=False, posted_ts=None, thread_ts=None)
                ),
            )

    def claim_event(self, event_id: str) -> bool:
        """True the first time an event id is seen, False for every repeat (safe across processes)."""
        now = _now()
        values = {"event_id": event_id, "received_at": now}
        claimed = self._write(
            "record the chat event", lambda conn: self._insert_once(conn, HandledEventRow, "event_id", values)
        )
        self._maybe_prune()
        return claimed

    def first_sighting(self, signature: str, *, keep: timedelta = timedelta(minutes=10)) -> bool:
        """True the first time a request signature is seen; False for a replay (safe across replicas).

        An expired signature counts as new: it is deleted and claimed again in the same transaction.
        """
        now = _now()

        def run(conn: Connection) -> bool:
            conn.execute(
                delete(SeenRequestRow).where(SeenRequestRow.signature == signature, SeenRequestRow.expires_at < now)
            )
            return self._insert_once(
                conn, SeenRequestRow, "signature", {"signature": signature[:128], "expires_at": now + keep}
            )

        first = self._write("record the signed request", run)
        self._maybe_prune()
        return first

    def _maybe_prune(self) -> None:
        """Retention without a scheduler: the event path prunes at most once per interval (per process)."""
        if self.prune_interval_s is None:
            return
        now = time.monotonic()
        with self._prune_lock:
            if self._last_prune is not None and now - self._last_prune < self.prune_interval_s:
                return
            self._last_prune = now
        try:
            self.prune()
        except StoreWriteError as err:  # retention can wait for the next interval
            log.warning("pruning skipped: %s", err)

    def prune(self, *, now: datetime | None = None) -> None:
        """Apply the retention rules: old Hub cache entries and old handled-event ids go."""
        at = _utc(now) if now is not None else _now()

        def run(conn: Connection) -> None:
            conn.execute(delete(HubCacheRow).where(HubCacheRow.fetched_at < at - self.hub_cache_retention))
            conn.execute(delete(HandledEventRow).where(HandledEventRow.received_at < at - self.event_retention))
            conn.execute(delete(SeenRequestRow).where(SeenRequestRow.expires_at < at))

        self._write("prune old cache entries and event ids", run)

    # -- reading ----------------------------------------------------------------------------------

    @staticmethod
    def _to_record(row: Row[Any]) -> QueryRecord:
        return QueryRecord(
            id=row.id,
            created_at=row.created_at,
            conversation=Conversation(
                platform=row.source, workspace=row.team_id, channel=row.channel_id, user=row.user_id, private=row.is_dm
            ),
            public=row.public,
            text=row.text,
            params=row.params,
            requested_model=row.requested_model,
            model=row.model,
            revision=row.revision,
            result=row.result,
            status=row.status,
            error=row.error,
            parent_id=row.parent_id,
            posted_channel=row.posted_channel,
            posted_ts=row.posted_ts,
            thread_ts=row.thread_ts,
        )

    def _rows_by_id(self, conn: Connection, ids: list[int]) -> list[QueryRecord]:
        if not ids:
            return []
        rows = conn.execute(select(QueryRow).where(QueryRow.id.in_(ids)).order_by(QueryRow.id.desc()))
        return [self._to_record(r) for r in rows]

    def get(self, query_id: int) -> QueryRecord | None:
        """One query by id (no privacy check: use ``visible`` before showing it)."""
        if not 0 < query_id < 2**63:  # no such id, and a bigger one would overflow the driver's integer
            return None

        def run(conn: Connection) -> QueryRecord | None:
            found = self._rows_by_id(conn, [query_id])
            return found[0] if found else None

        return self._read(run)

    def latest_in_thread(self, *, team: str | None, channel: str, thread_ts: str) -> QueryRecord | None:
        """The newest successful estimate posted in a chat thread (the root message or a reply)."""

        def run(conn: Connection) -> QueryRecord | None:
            ids: list[int] = []
            # Two index lookups rather than one OR: each stays a simple range scan on both databases.
            for match in (QueryRow.thread_ts == thread_ts, QueryRow.posted_ts == thread_ts):
                stmt = select(QueryRow.id).where(QueryRow.posted_channel == channel, match, QueryRow.status == "ok")
                if team is not None:
                    stmt = stmt.where(QueryRow.team_id == team)
                found = conn.execute(stmt.order_by(QueryRow.id.desc()).limit(1)).scalar()
                if found is not None:
                    ids.append(found)
            return self._rows_by_id(conn, [max(ids)])[0] if ids else None

        return self._read(run)

    def latest_posted(self, *, team: str | None, channel: str) -> QueryRecord | None:
        """The newest successful estimate posted in a conversation (a DM with the bot: its latest answer)."""

        def run(conn: Connection) -> QueryRecord | None:
            stmt = select(QueryRow.id).where(
                QueryRow.posted_channel == channel, QueryRow.posted_ts.is_not(None), QueryRow.status == "ok"
            )
            if team is not None:
                stmt = stmt.where(QueryRow.team_id == team)
            found = conn.execute(stmt.order_by(QueryRow.id.desc()).limit(1)).scalar()
            return self._rows_by_id(conn, [found])[0] if found is not None else None

        return self._read(run)

    def posted_together(self, *, team: str | None, channel: str, ts: str) -> list[QueryRecord]:
        """The successful estimates answered with one chat message (a comparison's two), oldest first."""

        def run(conn: Connection) -> list[QueryRecord]:
            stmt = select(QueryRow.id).where(
                QueryRow.posted_channel == channel, QueryRow.posted_ts == ts, QueryRow.status == "ok"
            )
            if team is not None:
                stmt = stmt.where(QueryRow.team_id == team)
            return sorted(self._rows_by_id(conn, list(conn.execute(stmt).scalars())), key=lambda r: r.id)

        return self._read(run)

    def history(
        self,
        *,
        scope: Conversation,
        model: str | None = None,
        user: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> list[QueryRecord]:
        """Queries ``scope``'s user may see from there, newest first; ``model`` is a case-insensitive substring."""
        selects = self.history_selects(scope=scope, model=model, user=user, limit=limit, offset=offset)

        def run(conn: Connection) -> list[QueryRecord]:
            ids: set[int] = set()
            for stmt in selects:
                ids.update(conn.execute(stmt).scalars())
            page = sorted(ids, reverse=True)[offset : offset + limit]
            return self._rows_by_id(conn, page)

        return self._read(run)

    @staticmethod
    def history_selects(
        *,
        scope: Conversation,
        model: str | None = None,
        user: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> list[Select[int]]:
        """The id queries behind ``history``: one per visible group, each one index range in id order.

        The rule is ``visible``'s: in a channel, its public answers, plus the asker's own there, plus the
        asker's own DMs; without a channel (the terminal), the user's own channel-less queries. As simple
        selects merged in Python, each walks its own index backwards and stops after ``offset + limit``
        ids on both databases, where one OR would leave the planner to sort every match.
        """
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
        if offset < 0:
            raise ValueError("offset must be >= 0")

        mine = user is None or user == scope.user
        branches: list[list[ColumnElement[bool]]] = []
        if scope.channel is None:
            if mine:
                # The user's own channel-less queries (the terminal's); channel_id rides at the end of the
                # index, so the index still serves them in id order.
                branches.append(
                    [QueryRow.user_id == scope.user, QueryRow.source == scope.platform, QueryRow.channel_id.is_(None)]
                )
        else:
            # Workspace ids are the platform's own (unique per platform): no platform test in these branches,
            # so each stays one index range.
            here = [QueryRow.team_id == scope.workspace, QueryRow.channel_id == scope.channel]
            if user is None:
                branches.append([*here, QueryRow.public.is_(True)])
            else:  # someone's queries here: theirs that the channel saw (all of them, when it is the asker)
                by_user = [*here, QueryRow.user_id == user]
                branches.append(by_user if user == scope.user else [*by_user, QueryRow.public.is_(True)])
            if scope.user is not None and mine:
                if user is None:  # the asker's own here, answered privately or not
                    branches.append([*here, QueryRow.user_id == scope.user])
                branches.append(
                    [
                        QueryRow.team_id == scope.workspace,
                        QueryRow.user_id == scope.user,
                        QueryRow.is_dm.is_(True),
                    ]
                )
        needle = (model or "").strip().lower()
        if needle:
            for where in branches:
                where.append(QueryRow.model_lc.contains(needle, autoescape=True))
        return [
            select(QueryRow.id).where(*where).order_by(QueryRow.id.desc()).limit(offset + limit) for where in branches
        ]

    def own_queries(self, *, platform: str, workspace: str | None, user: str, limit: int = 20) -> list[QueryRecord]:
        """One user's own queries in their workspace, every channel, newest first.

        For a page only that user sees (a chat's home tab): it is their own typing, so the channel rule
        of ``history`` (which protects other people's queries) does not narrow it.
        """
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
        # ix_queries_user serves (user_id, source) in id order; the workspace test filters that walk.
        stmt = (
            select(QueryRow.id)
            .where(QueryRow.user_id == user, QueryRow.source == platform, QueryRow.team_id == workspace)
            .order_by(QueryRow.id.desc())
            .limit(limit)
        )
        return self._read(lambda conn: self._rows_by_id(conn, list(conn.execute(stmt).scalars())))

    def count(self) -> int:
        """How many queries are stored (all scopes)."""
        return self._read(lambda conn: conn.execute(select(func.count()).select_from(QueryRow)).scalar_one())

    @staticmethod
    def visible(rec: QueryRecord, scope: Conversation) -> bool:
        """May ``scope``'s user see ``rec`` from there? Only if they could see it in the chat itself.

        The answers posted in a channel are its members'; everything else (ephemeral answers, errors,
        answers the bot could not post, anything in a DM between people) only its asker's, who sees
        their own from the channel they asked in and their DMs from anywhere in the workspace.
        """
        asked = rec.conversation
        if asked.platform != scope.platform:
            return False
        own = scope.user is not None and asked.user == scope.user
        if scope.channel is None:
            return own and asked.channel is None
        if asked.workspace != scope.workspace:
            return False
        if asked.channel == scope.channel:
            return rec.public or own
        return own and asked.private

    # -- Hub cache --------------------------------------------------------------------------------

    def hub_cache(self) -> DbHubCache:
        """The persistent Hub cache, backed by the ``hub_cache`` table."""
        return DbHubCache(self)


from store.hub_cache import DbHubCache  # noqa: E402  (it needs Store's write helper; no cycle at import)
