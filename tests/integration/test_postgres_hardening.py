"""21 CFR 11.10(c): the application role can append and read, never change or remove."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from ledger.store.application import Draft, Ledger
from ledger.store.database import Database
from tests.support import core_catalogue

pytestmark = pytest.mark.postgres


@pytest.fixture
def app_role_url(pg_database):
    """A login role that is a member of ledger_app and nothing else."""
    login = f"ledger_app_login_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_database.psycopg_conninfo(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {login} LOGIN IN ROLE ledger_app")
    url = pg_database.url.replace("postgresql://postgres@", f"postgresql://{login}@")
    yield Database.from_url(url)
    with psycopg.connect(pg_database.psycopg_conninfo(), autocommit=True) as conn:
        conn.execute(f"DROP OWNED BY {login}")
        conn.execute(f"DROP ROLE {login}")


def test_the_app_role_appends_and_reads(app_role_url, sealing_key):
    app = Ledger(app_role_url, sealing_key, core_catalogue(), pool_size=2)
    try:
        stream = uuid.uuid4()
        app.append([Draft("NoteAdded", stream, {"text": "as ledger_app"}, actor="a")])
        app.append([Draft("NoteAdded", stream, {"text": "again"}, actor="a")])
        assert [e.envelope["seq"] for e in app.read_stream(stream)] == [1, 2]
    finally:
        app.close()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_events SET topic = 'x'",
        "DELETE FROM ledger_events",
        "TRUNCATE ledger_events",
        "UPDATE ledger_idempotency SET result = 'x'",
        "DELETE FROM ledger_idempotency",
    ],
)
@pytest.mark.req("URS-P11-10c")
def test_the_app_role_cannot_change_or_remove(app_role_url, sealing_key, statement):
    app = Ledger(app_role_url, sealing_key, core_catalogue(), pool_size=1)
    app.append([Draft("NoteAdded", uuid.uuid4(), {"text": "keep me"}, actor="a")])
    app.close()
    with psycopg.connect(app_role_url.psycopg_conninfo(), autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)
        assert conn.execute("SELECT count(*) FROM ledger_events").fetchone()[0] == 1


@pytest.mark.parametrize(
    "statement",
    ["UPDATE ledger_events SET topic = 'x'", "DELETE FROM ledger_events", "TRUNCATE ledger_events"],
)
@pytest.mark.req("URS-P11-10c")
def test_triggers_refuse_changes_even_by_the_owner_and_in_replica_mode(pg_database, sealing_key, statement):
    app = Ledger(pg_database, sealing_key, core_catalogue(), pool_size=1)
    app.append([Draft("NoteAdded", uuid.uuid4(), {"text": "keep me"}, actor="a")])
    app.close()
    with psycopg.connect(pg_database.psycopg_conninfo(), autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            conn.execute(statement)
        assert conn.execute("SELECT count(*) FROM ledger_events").fetchone()[0] == 1
