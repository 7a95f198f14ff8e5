"""Read the event table directly with SQL: no library, no running server.

This is how ``ledger verify`` and independent tools see the store: rows of
(stream, seq, position, topic, state bytes), where state is the JCS JSON of
``{envelope, hash, seal, key_id}``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from .database import Database
from .records import KEY_EVENT_TOPIC

PARTITIONS = 256  # streams are split by the first byte of their UUID


class StoreUnreadable(Exception):
    """The event table cannot be opened or read."""


@contextmanager
def connect(database: Database) -> Iterator[Any]:
    """A read-only connection to the event store; driver errors become StoreUnreadable."""
    import psycopg

    if database.kind == "sqlite" and (database.path is None or not database.path.exists()):
        raise StoreUnreadable(f"no ledger database at {database.path}")
    try:
        if database.kind == "sqlite":
            conn = sqlite3.connect(f"file:{database.path}?mode=ro", uri=True)
            try:
                yield conn
            finally:
                conn.close()
        else:
            # Not autocommit: server-side cursors stream rows inside one read-only transaction.
            with psycopg.connect(database.psycopg_conninfo()) as conn:
                conn.read_only = True
                yield conn
    except (sqlite3.Error, psycopg.Error) as exc:
        raise StoreUnreadable(f"cannot read the event store: {exc}") from exc


@contextmanager
def snapshot(database: Database) -> Iterator[Any]:
    """A read-only connection whose every read sees one snapshot of the store."""
    with connect(database) as conn:
        if database.kind == "sqlite":
            conn.execute("BEGIN")
        else:
            import psycopg

            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        yield conn


def select(database: Database, conn: Any, sql: str, params: Sequence[Any] = (), name: str = "") -> Iterator[Any]:
    """Rows of ``sql`` (``%s`` placeholders on both stores); ``name``: streamed server-side on PostgreSQL."""
    if database.kind == "sqlite":
        yield from conn.execute(sql.replace("%s", "?"), params)
        return
    with conn.cursor(name=name or None) as cur:
        if name:
            cur.itersize = 5000
        cur.execute(sql, params)
        yield from cur


def _bounds(database: Database, partition: int) -> tuple[Any, Any]:
    lo = f"{partition:02x}"
    hi = f"{partition + 1:02x}" if partition + 1 < PARTITIONS else None
    if database.kind == "sqlite":
        return lo, hi
    pad = "000000-0000-0000-0000-000000000000"
    return UUID(lo + pad), UUID(hi + pad) if hi else None


def partition_rows(database: Database, partition: int, conn: Any) -> Iterator[tuple[str, int, bytes]]:
    """Rows of one partition ordered by (stream, seq), streamed with constant memory."""
    table = database.events_table
    lo, hi = _bounds(database, partition)
    mark = "?" if database.kind == "sqlite" else "%s"
    where = f"originator_id >= {mark}" + (f" AND originator_id < {mark}" if hi is not None else "")
    params = (lo, hi) if hi is not None else (lo,)
    sql = (
        f"SELECT originator_id, originator_version, state FROM {table} "  # noqa: S608
        f"WHERE {where} ORDER BY originator_id, originator_version"
    )
    if database.kind == "sqlite":
        for stream, seq, state in conn.execute(sql, params):
            yield str(UUID(stream)), seq, bytes(state)
    else:
        with conn.cursor(name=f"verify_{partition}") as cur:
            cur.itersize = 2000
            cur.execute(sql, params)
            for stream, seq, state in cur:
                yield str(stream), seq, bytes(state)


def key_event_envelopes(database: Database, conn: Any) -> list[dict[str, Any]]:
    """Envelopes of every key lifecycle event (device keys, users' e-signature keys)."""
    mark = "?" if database.kind == "sqlite" else "%s"
    sql = f"SELECT state FROM {database.events_table} WHERE topic = {mark}"  # noqa: S608
    rows = conn.execute(sql, (KEY_EVENT_TOPIC,)).fetchall()
    envelopes = []
    for (state,) in rows:
        try:
            envelopes.append(json.loads(bytes(state))["envelope"])
        except (ValueError, KeyError, TypeError):
            continue  # a damaged key event is reported by the main pass over its stream
    return envelopes


def count_events(database: Database, conn: Any) -> int:
    return conn.execute(f"SELECT COUNT(*) FROM {database.events_table}").fetchone()[0]  # noqa: S608
