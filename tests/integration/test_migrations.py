"""Readiness depends on knowing exactly which migrations are pending."""

from __future__ import annotations

import pytest

from ledger.store import migrations
from ledger.store.database import Database


@pytest.fixture
def empty_sqlite(tmp_path) -> Database:
    return Database.from_url(f"sqlite:///{tmp_path}/fresh.sqlite")


def test_pending_counts_only_what_is_not_applied(empty_sqlite):
    everything = migrations.pending(empty_sqlite)
    assert "0001" in everything and "0100" in everything
    migrations.upgrade(empty_sqlite, "0003")
    partial = migrations.pending(empty_sqlite)
    assert {"0001", "0002", "0003"}.isdisjoint(partial)
    assert len(partial) == len(everything) - 3
    migrations.upgrade(empty_sqlite)
    assert migrations.pending(empty_sqlite) == []


def test_a_migrated_postgres_database_has_nothing_pending(pg_database):
    assert migrations.pending(pg_database) == []


def test_migrations_are_found_from_any_working_directory(monkeypatch, tmp_path):
    """An installed checkout finds alembic/ next to the package, not only in the current directory."""
    from pathlib import Path

    monkeypatch.delenv("LEDGER_ALEMBIC_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert migrations.script_location() == Path(__file__).resolve().parents[2] / "alembic"
