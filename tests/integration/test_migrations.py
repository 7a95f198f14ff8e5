"""Readiness depends on knowing exactly which migrations are pending."""

from __future__ import annotations

import pytest

from ledger.store import migrations
from ledger.store.database import Database


@pytest.fixture
def empty_sqlite(tmp_path) -> Database:
    return Database.from_url(f"sqlite:///{tmp_path}/fresh.sqlite")


@pytest.mark.req("URS-A11-10")
def test_pending_counts_only_what_is_not_applied(empty_sqlite):
    everything = migrations.pending(empty_sqlite)
    assert "0001" in everything and "0100" in everything
    migrations.upgrade(empty_sqlite, "0003")
    partial = migrations.pending(empty_sqlite)
    assert {"0001", "0002", "0003"}.isdisjoint(partial)
    assert len(partial) == len(everything) - 3
    migrations.upgrade(empty_sqlite)
    assert migrations.pending(empty_sqlite) == []


@pytest.mark.req("URS-A11-10")
def test_a_migrated_postgres_database_has_nothing_pending(pg_database):
    assert migrations.pending(pg_database) == []


def test_migrations_are_found_from_any_working_directory(monkeypatch, tmp_path):
    """An installed checkout finds alembic/ next to the package, not only in the current directory."""
    from pathlib import Path

    monkeypatch.delenv("LEDGER_ALEMBIC_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert migrations.script_location() == Path(__file__).resolve().parents[2] / "alembic"


def test_audit_rows_written_before_0008_get_the_hash_of_their_event(database, sealing_key):
    """0008 adds ``event_hash`` to the audit trail and fills it from the event at each row's position."""
    import uuid

    from sqlalchemy import inspect, text

    from alembic import command
    from ledger.store.application import Draft, Ledger
    from projections.db import make_engine
    from projections.read_models import all_projections
    from projections.runner import ProjectionRunner
    from tests.support import core_catalogue

    ledger = Ledger(database, sealing_key, core_catalogue(), pool_size=1)
    engine = make_engine(database)
    try:
        for i in range(3):
            ledger.append([Draft("NoteAdded", uuid.uuid4(), {"text": f"n{i}"}, actor="a")])
        ProjectionRunner(ledger, engine, all_projections()).catch_up()
        logged = {p: e.hash for p, e in ledger.read_log(after=0, limit=10)}
        engine.dispose()
        command.downgrade(migrations._config(database), "0008-1")  # as the rows were before 0008
        with engine.connect() as conn:
            assert "event_hash" not in {c["name"] for c in inspect(conn).get_columns("audit_trail")}
        engine.dispose()
        migrations.upgrade(database, "0008")  # later revisions may empty the read models for a rebuild
        with engine.connect() as conn:
            stored = dict(conn.execute(text("SELECT position, event_hash FROM audit_trail")).all())
        assert stored == logged and len(stored) == 3
        engine.dispose()
        migrations.upgrade(database)
        assert migrations.pending(database) == []
    finally:
        engine.dispose()
        ledger.close()
