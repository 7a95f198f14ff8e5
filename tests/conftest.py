"""Fixtures: every integration test runs on SQLite AND on PostgreSQL.

PostgreSQL tests never skip silently: if the server cannot be reached the test fails,
unless LEDGER_TEST_SKIP_POSTGRES=1 is set explicitly (never in CI).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from ledger.store import migrations
from ledger.store.application import Ledger
from ledger.store.database import Database
from tests.support import core_catalogue, fixed_key

PG_ADMIN_URL = os.environ.get("LEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _admin_conninfo() -> str:
    return Database.from_url(PG_ADMIN_URL).psycopg_conninfo()


def _pg_url(dbname: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{dbname}"


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A database with every migration applied, copied for each test."""
    name = f"ledger_tpl_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(_admin_conninfo(), autocommit=True)
    except psycopg.OperationalError as exc:
        if os.environ.get("LEDGER_TEST_SKIP_POSTGRES") == "1" and not os.environ.get("CI"):
            pytest.skip(f"PostgreSQL unreachable and LEDGER_TEST_SKIP_POSTGRES=1: {exc}")
        pytest.fail(f"PostgreSQL is required for these tests and is unreachable: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    migrations.upgrade(Database.from_url(_pg_url(name)))
    yield name
    # A fresh connection: a drill may have restarted the server since the session began.
    with psycopg.connect(_admin_conninfo(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_database(request) -> Iterator[Database]:
    template = request.getfixturevalue("pg_template")
    name = f"ledger_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_admin_conninfo(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield Database.from_url(_pg_url(name))
    with psycopg.connect(_admin_conninfo(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_database(tmp_path) -> Database:
    database = Database.from_url(f"sqlite:///{tmp_path}/ledger.sqlite")
    migrations.upgrade(database)
    return database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request) -> Database:
    return request.getfixturevalue(f"{'pg' if request.param == 'postgres' else 'sqlite'}_database")


@pytest.fixture
def sealing_key():
    return fixed_key()


@pytest.fixture
def ledger(database, sealing_key) -> Iterator[Ledger]:
    app = Ledger(database, sealing_key, core_catalogue(), pool_size=4)
    yield app
    app.close()
