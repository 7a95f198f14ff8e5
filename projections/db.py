"""SQLAlchemy engines for the read side (same database as the event store)."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event

from ledger.store.database import Database


def make_engine(database: Database, *, pool_size: int = 5, schema: str | None = None) -> Engine:
    """The read side's engine; ``schema`` (PostgreSQL): the one unqualified names resolve to
    (a rebuild's scratch set, :mod:`projections.rebuild`), instead of ``public``."""
    if database.kind == "sqlite":
        engine = create_engine(
            database.sqlalchemy_url(), connect_args={"timeout": 30, "check_same_thread": False}
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    # No pre-ping (see Database.eventsourcing_env): SQLAlchemy drops the whole pool on the first
    # disconnect error, so after a PostgreSQL restart one request gets a 503 and the next a fresh
    # connection.
    # JIT off: every read-side query is a short indexed lookup, for which JIT compilation (when
    # stale statistics make a plan look expensive) cost more than the query (12 of 21 ms, B4).
    options = "-c jit=off" + (f" -c search_path={schema}" if schema else "")
    return create_engine(database.sqlalchemy_url(), pool_size=pool_size, max_overflow=pool_size,
                         connect_args={"options": options})
