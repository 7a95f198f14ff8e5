"""What an attacker with write access to the database does: tests use it to prove detection.

Each event-table helper bypasses the append-only protection first (drops/disables the
triggers), as a database owner could, then edits the event table directly. A read model
(:func:`edit_read_model`) has no such guard: a DBA edits it with plain SQL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import psycopg

from ledger.store.database import Database


@contextmanager
def owner_connection(database: Database):
    if database.kind == "sqlite":
        conn = sqlite3.connect(database.path)
        conn.execute("DROP TRIGGER IF EXISTS stored_events_no_update")
        conn.execute("DROP TRIGGER IF EXISTS stored_events_no_delete")
        try:
            yield conn
            conn.commit()
        finally:
            conn.close()
    else:
        with psycopg.connect(database.psycopg_conninfo(), autocommit=True) as conn:
            conn.execute("ALTER TABLE ledger_events DISABLE TRIGGER ALL")
            try:
                yield conn
            finally:
                for trigger in ("ledger_events_no_change", "ledger_events_no_truncate"):
                    conn.execute(f"ALTER TABLE ledger_events ENABLE ALWAYS TRIGGER {trigger}")


def _key(database: Database, stream: UUID) -> Any:
    return stream.hex if database.kind == "sqlite" else stream


def _mark(database: Database) -> str:
    return "?" if database.kind == "sqlite" else "%s"


def read_state(database: Database, stream: UUID, seq: int) -> bytes:
    m = _mark(database)
    with owner_connection(database) as conn:
        row = conn.execute(
            f"SELECT state FROM {database.events_table} WHERE originator_id={m} AND originator_version={m}",
            (_key(database, stream), seq),
        ).fetchone()
    return bytes(row[0])


def write_state(database: Database, stream: UUID, seq: int, state: bytes) -> None:
    m = _mark(database)
    with owner_connection(database) as conn:
        conn.execute(
            f"UPDATE {database.events_table} SET state={m} WHERE originator_id={m} AND originator_version={m}",
            (state, _key(database, stream), seq),
        )


def delete_event(database: Database, stream: UUID, seq: int) -> None:
    m = _mark(database)
    with owner_connection(database) as conn:
        conn.execute(
            f"DELETE FROM {database.events_table} WHERE originator_id={m} AND originator_version={m}",
            (_key(database, stream), seq),
        )


def swap_states(database: Database, stream: UUID, seqs: Sequence[int]) -> None:
    a, b = seqs
    state_a, state_b = read_state(database, stream, a), read_state(database, stream, b)
    write_state(database, stream, a, state_b)
    write_state(database, stream, b, state_a)


def edit_read_model(database: Database, statement: str, params: Sequence[Any] = ()) -> int:
    """Run one ``UPDATE`` / ``INSERT`` / ``DELETE`` on a read-model table (placeholders ``?``);
    returns how many rows it changed."""
    if database.kind == "sqlite":
        conn = sqlite3.connect(database.path)
        try:
            changed = conn.execute(statement, params).rowcount
            conn.commit()
            return changed
        finally:
            conn.close()
    with psycopg.connect(database.psycopg_conninfo(), autocommit=True) as conn:
        return conn.execute(statement.replace("?", "%s"), params).rowcount
