"""The portable copy (ledger/store/portable.py) on SQLite and PostgreSQL: exact bytes and
positions across stores, all or nothing, and nothing from a copy reaches SQL but values."""

from __future__ import annotations

import uuid

import pytest

from ledger.store import migrations
from ledger.store.application import Draft
from ledger.store.database import Database
from ledger.store.portable import CopyError, TargetRefused, load, read_store
from ledger.store.rawstore import connect, select


def rows(database: Database) -> list[tuple]:
    pos = "rowid" if database.kind == "sqlite" else "notification_id"
    with connect(database) as conn:
        sql = f"SELECT {pos}, originator_version, topic, state FROM {database.events_table} ORDER BY {pos}"  # noqa: S608
        return [(p, v, t, bytes(s)) for p, v, t, s in select(database, conn, sql)]


@pytest.fixture
def target(tmp_path) -> Database:
    database = Database.from_url(f"sqlite:///{tmp_path}/target.sqlite")
    migrations.upgrade(database)
    return database


@pytest.mark.req("URS-A11-4-8", "URS-ALCOA-ORIG")
def test_a_copy_keeps_every_byte_and_position_and_refuses_a_used_target(ledger, database, target):
    stream = uuid.uuid4()
    for i in range(3):
        ledger.append([Draft("NoteAdded", stream, {"text": f"n{i} é"}, actor="a")])
    loaded = load(target, read_store(database))
    assert loaded.counts["event"] == 3 and loaded.header["source"] == database.kind
    assert rows(target) == rows(database)
    with pytest.raises(TargetRefused):
        load(target, read_store(database))


@pytest.mark.req("URS-A11-7-2")
def test_a_damaged_copy_loads_nothing_and_column_names_are_checked(ledger, database, target):
    ledger.append([Draft("NoteAdded", uuid.uuid4(), {"text": "n"}, actor="a")])
    records = list(read_store(database))
    forged = [*records[:-1], {"record": "credential", "user_id": "u", "x) VALUES (1); --": "y"}, records[-1]]
    with pytest.raises(CopyError, match="columns the target does not have"):
        load(target, forged)
    with pytest.raises(CopyError, match="truncated"):
        load(target, records[:-1])
    assert rows(target) == []
