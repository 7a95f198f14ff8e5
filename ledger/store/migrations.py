"""Run the alembic migrations programmatically (``ledger db upgrade``)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, pool

from alembic import command

from .database import Database


def script_location() -> Path:
    candidates = [
        os.environ.get("LEDGER_ALEMBIC_DIR"),
        Path(__file__).resolve().parents[2] / "alembic",
        Path.cwd() / "alembic",
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "env.py").exists():
            return Path(candidate)
    raise FileNotFoundError("alembic/ migrations not found: set LEDGER_ALEMBIC_DIR")


def _config(database: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    config.attributes["database_url"] = database.url
    return config


def upgrade(database: Database, revision: str = "heads") -> None:
    if database.kind == "sqlite" and database.path is not None:
        database.path.parent.mkdir(parents=True, exist_ok=True)
        _use_wal(database.path)
    command.upgrade(_config(database), revision)


def _use_wal(path: Path) -> None:
    """Write-ahead logging is a property of the SQLite file: set it once, here, before any
    concurrent connection exists (switching later needs an exclusive lock)."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()


def pending(database: Database, engine: Engine | None = None) -> list[str]:
    """Revisions not yet applied (empty when the schema is current). ``engine``: an existing
    pool to ask through (the service's readiness probe), else a short-lived connection."""
    script = ScriptDirectory.from_config(_config(database))
    own = engine is None
    engine = engine or create_engine(database.sqlalchemy_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    finally:
        if own:
            engine.dispose()
    applied: set[str] = set()
    for head in current:  # every ancestor of an applied head is applied too
        applied |= {rev.revision for rev in script.iterate_revisions(head, "base")}
    return [rev.revision for rev in script.walk_revisions() if rev.revision not in applied]
