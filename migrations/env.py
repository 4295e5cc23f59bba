"""Alembic environment: run by ``store.migrate`` with a live connection, or offline with a URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, pool

import bot.slack_install  # noqa: F401  (the Slack OAuth tables join Base.metadata: the migration check covers them)
from store.models import Base

config = context.config
target_metadata = Base.metadata

# Postgres: replicas that start together must not run the same migration twice.
_PG_LOCK_KEY = 0x7672616D  # "vram"


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite cannot ALTER most things: batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )


def _run(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit SQL for a URL instead of running it (``alembic upgrade --sql``)."""
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("migrations need a database URL: the store passes it, or set sqlalchemy.url")
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
