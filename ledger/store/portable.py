"""A portable copy of the event store, the same for SQLite and PostgreSQL (backup, restore, migrate).

A copy is a sequence of records read in ONE snapshot of the source: a ``header``, every event
in commit order with its exact stored bytes, the signed checkpoints, the idempotency claims,
the credentials and access tokens, the EPCIS captures, then an ``end`` record with the counts.
Read models and the Merkle tables are not copied: they are rebuilt from the events.

On disk (``ledger backup``) each record is one line of JSON (UTF-8)::

    {"record": "header", "format": "coi-ledger-backup", "version": 1, "created_at": ...,
     "source": "sqlite" | "postgres", "events": N, "checkpoint": {tree_size, root, issued_at, key_id, note} | null}
    {"record": "event", "position": P, "stream": UUID, "seq": S, "topic": T, "state": "<the stored JCS text>"}
    {"record": "checkpoint" | "claim" | "credential" | "token" | "epcis_capture" | "epcis_event", <every column>}
    {"record": "end", "counts": {"event": N, ...}}

``state`` is the stored bytes as text (they are UTF-8 JSON); a row that is not UTF-8 is kept as
``state_b64`` instead, so every byte survives. ``checkpoint`` in the header is the newest signed
checkpoint of the snapshot: after a restore the copy must reproduce it (see ``ledger restore``).
The credentials hold Argon2id hashes and wrapped keys, the tokens SHA-256 digests: a backup file
is as sensitive as the database and is kept like it.

:func:`load` writes a copy into an EMPTY store (the schema migrated) in one transaction, keeping
every event's position: a copy that is damaged, truncated or refused leaves nothing behind.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from uuid import UUID

from ..timefmt import format_utc, utc_now
from .database import Database
from .rawstore import StoreUnreadable, select, snapshot

FORMAT, VERSION = "coi-ledger-backup", 1
BATCH = 500

# record kind -> (table, ordered by): copied with every column the table has (the target's schema
# is migrated by the same code, so a column a later migration adds is copied without a change here)
TABLES: dict[str, tuple[str, str]] = {
    "checkpoint": ("checkpoints", "tree_size"),
    "claim": ("ledger_idempotency", "scope"),
    "credential": ("credentials", "user_id"),
    "token": ("access_tokens", "token_digest"),
    # EPCIS captures are records beside the log, not a projection (alembic 0006)
    "epcis_capture": ("epcis_captures", "scope_id"),
    "epcis_event": ("epcis_event_map", "scope_id, idx, ledger_event_id"),
}
_CHECKPOINT = ("tree_size", "root", "issued_at", "key_id", "note")


class CopyError(Exception):
    """A copy cannot be read or loaded; the message says where and why."""


class TargetRefused(CopyError):
    """The target store cannot take a copy: it holds data already, or its schema is not migrated."""


@dataclass
class Loaded:
    header: dict[str, Any]
    counts: dict[str, int] = field(default_factory=dict)


def _position_column(database: Database) -> str:
    return "rowid" if database.kind == "sqlite" else "notification_id"


def _has_table(database: Database, conn: Any, table: str) -> bool:
    if database.kind == "sqlite":
        sql = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = %s"
        return next(select(database, conn, sql, (table,)))[0] == 1
    return next(select(database, conn, "SELECT to_regclass(%s) IS NOT NULL", (table,)))[0]


# -- reading a store --------------------------------------------------------------------------


def read_store(database: Database) -> Iterator[dict[str, Any]]:
    """Every record of ``database`` (header first, end last), from one snapshot."""
    with snapshot(database) as conn:
        table, pos = database.events_table, _position_column(database)
        events = next(select(database, conn, f"SELECT COUNT(*) FROM {table}"))[0]  # noqa: S608
        checkpoint = None
        if _has_table(database, conn, "checkpoints"):
            columns = _CHECKPOINT
            row = next(select(database, conn, f"SELECT {', '.join(columns)} FROM checkpoints "  # noqa: S608
                              "WHERE tree_size <= %s ORDER BY tree_size DESC LIMIT 1", (events,)), None)
            checkpoint = _row(columns, row) if row else None
        yield {"record": "header", "format": FORMAT, "version": VERSION, "created_at": format_utc(utc_now()),
               "source": database.kind, "events": events, "checkpoint": checkpoint}
        counts = {"event": 0}
        sql = f"SELECT {pos}, originator_id, originator_version, topic, state FROM {table} ORDER BY {pos}"  # noqa: S608
        for position, stream, seq, topic, state in select(database, conn, sql, name="copy_events"):
            counts["event"] += 1
            yield {"record": "event", "position": int(position), "stream": str(UUID(str(stream))),
                   "seq": int(seq), "topic": topic, **_state_field(bytes(state))}
        for kind, (name, order) in TABLES.items():
            counts[kind] = 0
            if not _has_table(database, conn, name):
                continue
            columns = _columns(database, conn, name)
            sql = f"SELECT {', '.join(columns)} FROM {name} ORDER BY {order}"  # noqa: S608
            for row in select(database, conn, sql, name=f"copy_{kind}"):
                counts[kind] += 1
                yield {"record": kind, **_row(columns, row)}
        yield {"record": "end", "counts": counts}


def _columns(database: Database, conn: Any, table: str) -> tuple[str, ...]:
    if database.kind == "sqlite":
        return tuple(r[1] for r in conn.execute(f"PRAGMA table_info({table})"))
    sql = ("SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
           "AND table_name = %s ORDER BY ordinal_position")
    return tuple(r[0] for r in select(database, conn, sql, (table,)))


def _row(columns: tuple[str, ...], row: Any) -> dict[str, Any]:
    return {c: (int(v) if c == "tree_size" else v) for c, v in zip(columns, row, strict=True)}


def _state_field(state: bytes) -> dict[str, str]:
    try:
        return {"state": state.decode("utf-8")}
    except UnicodeDecodeError:
        return {"state_b64": base64.b64encode(state).decode("ascii")}


def _state_bytes(record: dict[str, Any]) -> bytes:
    if "state" in record:
        return str(record["state"]).encode("utf-8")
    return base64.b64decode(record["state_b64"], validate=True)


# -- the file ---------------------------------------------------------------------------------


def write_file(path: Path, records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Write ``records`` as JSON lines (atomically: a temporary file, then renamed); the end record."""
    tmp = path.with_name(path.name + ".tmp")
    end: dict[str, Any] = {}
    with tmp.open("w", encoding="utf-8", newline="\n") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
            end = record
    tmp.replace(path)
    return end


def read_file(stream: TextIO) -> Iterator[dict[str, Any]]:
    """The records of a backup file; :class:`CopyError` names the line that cannot be read."""
    for number, line in enumerate(stream, start=1):
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise CopyError(f"line {number} is not JSON ({exc}): the backup is damaged") from None
        if not isinstance(record, dict) or "record" not in record:
            raise CopyError(f"line {number} is not a backup record")
        if number == 1 and (record.get("record"), record.get("format"), record.get("version")) != (
                "header", FORMAT, VERSION):
            raise CopyError(f"not a {FORMAT} version {VERSION} file")
        yield record


# -- loading a store --------------------------------------------------------------------------


def load(target: Database, records: Iterable[dict[str, Any]]) -> Loaded:
    """Load a copy into ``target`` (schema migrated, no data) in one transaction; see the module docstring."""
    if target.kind == "sqlite":
        if target.path is None or not target.path.exists():
            raise CopyError(f"no migrated database at {target.path}")
        conn: Any = sqlite3.connect(target.path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
    else:
        import psycopg

        try:
            conn = psycopg.connect(target.psycopg_conninfo())
        except psycopg.Error as exc:
            raise CopyError(f"cannot open the target database: {exc}") from None
    try:
        _refuse_non_empty(target, conn)
        loaded = _load(target, conn, iter(records))
        conn.execute("COMMIT") if target.kind == "sqlite" else conn.commit()
        return loaded
    except BaseException:
        conn.execute("ROLLBACK") if target.kind == "sqlite" else conn.rollback()
        raise
    finally:
        conn.close()


def _refuse_non_empty(target: Database, conn: Any) -> None:
    tables = [target.events_table] + [name for name, _ in TABLES.values()]
    for table in tables:
        if not _has_table(target, conn, table):
            raise TargetRefused(f"the target has no table {table}: migrate its schema first")
        count = next(select(target, conn, f"SELECT COUNT(*) FROM {table}"))[0]  # noqa: S608
        if count:
            raise TargetRefused(f"the target database is not empty ({count} rows in {table}): "
                                 "a copy is only loaded into an empty database")


def _load(target: Database, conn: Any, records: Iterator[dict[str, Any]]) -> Loaded:
    header = next(records, None)
    if header is None or header.get("record") != "header":
        raise CopyError("the copy has no header")
    loaded, pending = Loaded(header), _Pending(target, conn)
    last_position = 0
    for record in records:
        kind = record["record"]
        if kind == "end":
            pending.flush()
            _check_end(record, loaded)
            _advance_positions(target, conn, last_position)
            return loaded
        try:
            if kind == "event":
                position = record["position"]
                if not isinstance(position, int) or position <= last_position:
                    raise CopyError(f"event positions must rise: {position!r} after {last_position}")
                last_position = position
                stream = UUID(record["stream"])
                row = (position, stream.hex if target.kind == "sqlite" else stream, int(record["seq"]),
                       record["topic"], _state_bytes(record))
            elif kind in TABLES:
                row = tuple((k, v) for k, v in record.items() if k != "record")
            else:
                raise CopyError(f"unknown record kind {kind!r}")
        except (KeyError, ValueError, TypeError) as exc:
            raise CopyError(f"a {kind} record is malformed ({exc!r}): the backup is damaged") from None
        loaded.counts[kind] = loaded.counts.get(kind, 0) + 1
        pending.add(kind, row)
    raise CopyError("the copy ends without its end record: it is truncated")


def _check_end(end: dict[str, Any], loaded: Loaded) -> None:
    expected = {k: v for k, v in (end.get("counts") or {}).items() if v}
    if expected != loaded.counts:
        raise CopyError(f"the copy says it holds {expected}, but it holds {loaded.counts}")
    if loaded.header.get("events") != loaded.counts.get("event", 0):
        raise CopyError(f"the header announces {loaded.header.get('events')} events, "
                        f"the copy holds {loaded.counts.get('event', 0)}")


def _advance_positions(target: Database, conn: Any, last: int) -> None:
    """PostgreSQL: the next event is numbered after the copied ones (SQLite's rowid follows by itself)."""
    if target.kind == "postgres" and last:
        conn.execute("SELECT setval(pg_get_serial_sequence(%s, 'notification_id'), %s)",
                     (target.events_table, last))


class _Pending:
    """Rows queued per table (and column set) and inserted in batches."""

    def __init__(self, target: Database, conn: Any) -> None:
        self.target, self.conn = target, conn
        self.mark = "?" if target.kind == "sqlite" else "%s"
        self.rows: dict[tuple[str, tuple[str, ...]], list[tuple]] = {}
        self.known: dict[str, set[str]] = {}  # the target's columns: nothing else reaches the SQL

    def add(self, kind: str, row: tuple) -> None:
        if kind == "event":
            columns: tuple[str, ...] = (_position_column(self.target), "originator_id", "originator_version",
                                        "topic", "state")
            values = row
        else:
            columns, values = tuple(k for k, _ in row), tuple(v for _, v in row)
            if kind not in self.known:
                self.known[kind] = set(_columns(self.target, self.conn, TABLES[kind][0]))
            unknown = set(columns) - self.known[kind]
            if unknown:
                raise CopyError(f"a {kind} record names columns the target does not have: {sorted(unknown)}")
        queue = self.rows.setdefault((kind, columns), [])
        queue.append(values)
        if len(queue) >= BATCH:
            self.flush()

    def flush(self) -> None:
        for (kind, columns), queue in sorted(self.rows.items(), key=lambda item: item[0][0] != "event"):
            table = self.target.events_table if kind == "event" else TABLES[kind][0]
            sql = (f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - names from this module
                   f"VALUES ({', '.join([self.mark] * len(columns))})")
            if self.target.kind == "sqlite":
                self.conn.executemany(sql, queue)
            else:
                with self.conn.cursor() as cur:
                    cur.executemany(sql, queue)
        self.rows.clear()


__all__ = ["FORMAT", "VERSION", "CopyError", "Loaded", "StoreUnreadable", "TargetRefused", "load",
           "read_file", "read_store", "write_file"]
