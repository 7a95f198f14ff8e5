"""``ledger verify --read-models``: every read-model row compared with what the sealed events make of it.

The API, the CSV exports and the portal serve the read models (cases, genealogy, custody,
conditions, audit trail, exceptions, identifiers and their stream directory), tables that anyone
with write rights on the database can edit without touching a sealed event. This check replays
the event log, with the same projector code the service runs, into a scratch SQLite database made
by the same migrations, up to the position the stored read models say they have applied, then
merges each stored table with its rebuilt twin by primary key and names every row that differs:
table, key, column, stored and expected value; a row the events do not make is "unexpected", a
row they make that is not stored is "missing".

The stored side is read in one snapshot (a read transaction on SQLite, ``REPEATABLE READ`` on
PostgreSQL), so a follower applying new events meanwhile cannot cause a difference. Cost: one
replay of the log up to that position (the cost of ``ledger projections rebuild``, into a
temporary file) and one ordered scan of each read-model table; memory stays constant.

Rows written by an older projector version also differ (a read model is what the current code
makes of the log): ``ledger projections rebuild`` brings them back in line.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.store import migrations
from ledger.store.database import Database
from ledger.store.rawstore import RawLog, connect

from .db import make_engine
from .read_models import GROUP_NAME, ProjectionGroup, read_models
from .runner import ProjectionRunner
from .webhook_outbox import NAME as WEBHOOK_FOLLOWER

MAX_PER_TABLE = 20  # detailed differences per table; then one line with the count


@dataclass(frozen=True)
class RowDifference:
    table: str
    key: str  # "position=12" / "unit_id=..., idx=3"
    column: str | None  # None: the whole row is missing or unexpected
    stored: Any = None
    expected: Any = None
    reason: str = "differs"  # differs | missing | unexpected | ... and N more

    def line(self) -> str:
        where = f"read model {self.table} [{self.key}]"
        if self.reason == "differs":
            return f"{where} {self.column}: stored {self.stored!r}, expected {self.expected!r}"
        if self.reason == "missing":
            return f"{where}: missing (the events make this row, it is not stored)"
        if self.reason == "unexpected":
            return f"{where}: unexpected (no event makes this row)"
        return f"read model {self.table}: {self.reason}"


@dataclass
class ReadModelReport:
    position: int = 0  # the log position the stored read models have applied
    tables: int = 0
    rows: int = 0  # stored rows compared
    differing: int = 0  # every difference, also those past MAX_PER_TABLE
    differences: list[RowDifference] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.differing


NOT_REBUILT = {"stream_directory": f"WHERE owner <> '{WEBHOOK_FOLLOWER}'"}
"""Rows of shared tables that followers beside the read models keep (the webhook outbox's own
stream directory): not rebuilt here, so not compared."""


def read_model_tables() -> list[str]:
    """Every table the service's read models own, and their shared stream directory."""
    return [table for model in read_models() for table in getattr(model, "tables", ())] + ["stream_directory"]


def verify_read_models(database: Database, *, on_events: Callable[[int], None] | None = None,
                       workdir: Path | None = None) -> ReadModelReport:
    """Rebuild the read models from the log into a scratch database and compare every row."""
    with connect(database) as stored, tempfile.TemporaryDirectory(dir=workdir) as scratch_dir:
        sqlite = database.kind == "sqlite"
        if sqlite:
            stored.execute("BEGIN")  # one snapshot for the position and every table
        else:
            import psycopg

            stored.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        position = _tracked(stored, sqlite)
        scratch = Database.from_url(f"sqlite:///{Path(scratch_dir) / 'expected.sqlite'}")
        migrations.upgrade(scratch)
        engine = make_engine(scratch)
        try:
            runner = ProjectionRunner(RawLog(database, stored, position), engine,
                                      [ProjectionGroup(read_models())], batch_size=1000)
            runner.catch_up(on_events)
        finally:
            engine.dispose()
        report = ReadModelReport(position=position)
        expected = sqlite3.connect(str(scratch.path))
        try:
            for table in read_model_tables():
                report.tables += 1
                report.differences.extend(_compare_table(table, stored, expected, sqlite, report))
        finally:
            expected.close()
        return report


def _tracked(conn: Any, sqlite: bool) -> int:
    mark = "?" if sqlite else "%s"
    row = conn.execute(f"SELECT position FROM projection_tracking WHERE name = {mark}",  # noqa: S608
                       (GROUP_NAME,)).fetchone()
    return int(row[0]) if row else 0


def _columns(expected: sqlite3.Connection, table: str) -> tuple[list[str], list[str], set[str]]:
    """All columns, the primary key's columns (in key order) and the text columns of ``table``."""
    info = expected.execute(f"PRAGMA table_info({table})").fetchall()  # cid, name, type, notnull, dflt, pk
    columns = [c[1] for c in info]
    key = [c[1] for c in sorted((c for c in info if c[5]), key=lambda c: c[5])]
    text = {c[1] for c in info if "CHAR" in c[2].upper() or "TEXT" in c[2].upper()}
    return columns, key, text


def _ordered(conn: Any, table: str, columns: Sequence[str], key: Sequence[str], text: set[str],
             sqlite: bool, where: str = "") -> Iterator[tuple]:
    """Rows of ``table`` ordered by primary key in code-point order on either database (PostgreSQL's
    "C" collation = UTF-8 byte order = SQLite's BINARY = Python's ``str`` order)."""
    order = ", ".join(f'{k} COLLATE "C"' if k in text and not sqlite else k for k in key)
    sql = f"SELECT {', '.join(columns)} FROM {table} {where} ORDER BY {order}"  # noqa: S608 - fixed names
    if sqlite:
        yield from conn.execute(sql)
        return
    with conn.cursor(name=f"verify_rm_{table}") as cur:
        cur.itersize = 2000
        cur.execute(sql)
        yield from cur


def _compare_table(table: str, stored: Any, expected: sqlite3.Connection, sqlite: bool,
                   report: ReadModelReport) -> list[RowDifference]:
    columns, key, text = _columns(expected, table)
    at = [columns.index(k) for k in key]
    found: list[RowDifference] = []
    count = 0

    def add(diff: RowDifference) -> None:
        nonlocal count
        count += 1
        if count <= MAX_PER_TABLE:
            found.append(diff)

    def name(row: tuple) -> str:
        return ", ".join(f"{k}={row[i]}" for k, i in zip(key, at, strict=True))

    mine = _ordered(stored, table, columns, key, text, sqlite, NOT_REBUILT.get(table, ""))
    theirs = _ordered(expected, table, columns, key, text, True)
    left, right = next(mine, None), next(theirs, None)
    while left is not None or right is not None:
        lkey = tuple(left[i] for i in at) if left is not None else None
        rkey = tuple(right[i] for i in at) if right is not None else None
        if right is None or (left is not None and lkey < rkey):
            add(RowDifference(table, name(left), None, reason="unexpected"))
            report.rows += 1
            left = next(mine, None)
        elif left is None or rkey < lkey:
            add(RowDifference(table, name(right), None, reason="missing"))
            right = next(theirs, None)
        else:
            for column, have, want in zip(columns, left, right, strict=True):
                if have != want:
                    add(RowDifference(table, name(left), column, have, want))
            report.rows += 1
            left, right = next(mine, None), next(theirs, None)
    report.differing += count
    if count > MAX_PER_TABLE:
        found.append(RowDifference(table, "", None, reason=f"... and {count - MAX_PER_TABLE} more differences"))
    return found
