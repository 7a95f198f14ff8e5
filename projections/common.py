"""Shared pieces of the read models: envelope access, times, cursors, the stream directory, the
base class that hands each read model an event as its envelope and its typed data.

Every read model here is deterministic: it writes only values taken from the events it is
given (never the wall clock, never random ids), so a rebuild from zero gives identical rows.
Times are stored as the envelope's fixed text form (``YYYY-MM-DDTHH:MM:SS.ffffffZ``), which
sorts lexicographically in time order on SQLite and PostgreSQL alike.

Patients never reach a read model: :func:`scrub` drops ``patient_ref`` / ``donor_ref`` from
any data kept, and no table has such a column.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, TextClause, text

from ledger.datatypes import EventData
from ledger.domain.catalogue import typed
from ledger.domain.events_case import CaseEnrolled, DonorRegistered
from ledger.domain.events_quality import ManufacturingStarted
from ledger.domain.events_unit import UnitLabelled
from ledger.errors import InvalidEvent
from ledger.store.records import SealedEvent
from ledger.timefmt import format_utc, parse_utc

PSEUDONYM_FIELDS = frozenset({"patient_ref", "donor_ref"})
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class InvalidCursor(InvalidEvent):
    code = "INVALID_CURSOR"
    status = 400


@functools.lru_cache(maxsize=1024)
def sql(statement: str) -> TextClause:
    """``text(statement)``, parsed once: building a ``text()`` costs more than running it."""
    return text(statement)


def env_of(event: SealedEvent | Mapping[str, Any]) -> Mapping[str, Any]:
    return event.envelope if isinstance(event, SealedEvent) else event


def when(env: Mapping[str, Any]) -> str:
    """When it happened (the device's ``occurred_at`` if given, else ``recorded_at``)."""
    return env.get("occurred_at") or env["recorded_at"]


def number(value: float | None) -> str:
    """A stored number as the event's JSON text gives it: ``8`` for 8.0 (JCS), ``9.25``."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def utc_text(value: datetime | str) -> str:
    """The fixed text form of a time given as an aware datetime or RFC 3339 text."""
    return format_utc(value) if isinstance(value, datetime) else format_utc(parse_utc(value))


def micros(value: datetime | str) -> int:
    """Microseconds since the epoch of an aware time or RFC 3339 text (exact, for reading arithmetic)."""
    return ((value if isinstance(value, datetime) else parse_utc(value)) - EPOCH) // timedelta(microseconds=1)


def from_micros(value: int) -> str:
    return format_utc(EPOCH + timedelta(microseconds=value))


def dumps(value: Any) -> str:
    """Canonical JSON text (sorted keys, compact) so rebuilt rows compare byte for byte."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def loads(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def scrub(value: Any) -> Any:
    """``value`` without any patient or donor pseudonym, at any depth."""
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items() if k not in PSEUDONYM_FIELDS}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"p:{position}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The position after which the next page starts (0 without a cursor)."""
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, number = raw.partition(":")
        position = int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursor("the cursor is not one this service issued") from None
    if kind != "p" or position < 0:
        raise InvalidCursor("the cursor is not one this service issued")
    return position


def delete_all(conn: Connection, tables: Iterable[str]) -> None:
    for table in tables:
        conn.execute(sql(f"DELETE FROM {table}"))  # noqa: S608 - fixed table names


DirectoryEntry = tuple[str | None, str, str | None]
"""``(coi, role, case_id)`` of a stream (``StreamDirectory.lookup``)."""


class StreamDirectory:
    """Which COI (and which unit or case) a stream belongs to, for one projection.

    Rows live in ``stream_directory`` keyed by ``(owner, stream)`` so each projection keeps
    its own copy and stays self-contained (it never reads another projection's tables while
    applying, whatever their positions). A bounded in-memory cache answers repeated lookups;
    its entries are immutable facts of the log (identity fields cannot be corrected), so a
    rolled-back batch cannot make them wrong.
    """

    def __init__(self, owner: str, cache_size: int = 200_000) -> None:
        self.owner = owner
        self.cache_size = cache_size
        self._cache: OrderedDict[str, tuple[str | None, str, str | None]] = OrderedDict()
        self._complete = False  # True: the cache holds every row, a miss is an unknown stream

    def sole_writer(self) -> None:
        """Keep every row in memory and answer misses without a read: only for the sole writer
        of rows that start empty (a rebuild's scratch set), where every row is one it added."""
        self._complete, self.cache_size = True, float("inf")

    @property
    def append_only(self) -> tuple[str, ...]:
        """``stream_directory`` when this owner's rows are only ever added by plain inserts."""
        return ("stream_directory",) if self._complete else ()

    def add(self, conn: Connection, stream: str, coi: str | None, role: str,
            case_id: str | None = None) -> None:
        """``role``: ``case`` or ``unit``; ``case_id`` is a unit's case stream.

        Always written (a rolled-back batch may have left a cache entry without its row);
        ``ON CONFLICT DO NOTHING`` works on SQLite >= 3.24 and PostgreSQL. The sole writer knows
        every row: a new one is a plain insert (sent with ``COPY``, see ``append_only``)."""
        if self._complete:
            if stream not in self._cache:
                conn.execute(sql(
                    "INSERT INTO stream_directory (owner, stream, coi, role, case_id) VALUES (:o, :s, :c, :r, :k)"),
                    {"o": self.owner, "s": stream, "c": coi, "r": role, "k": case_id})
                self._remember(stream, (coi, role, case_id))
            return
        conn.execute(sql(
            "INSERT INTO stream_directory (owner, stream, coi, role, case_id) "
            "VALUES (:o, :s, :c, :r, :k) ON CONFLICT (owner, stream) DO NOTHING"),
            {"o": self.owner, "s": stream, "c": coi, "r": role, "k": case_id})
        self._remember(stream, (coi, role, case_id))

    def lookup(self, conn: Connection, stream: str) -> DirectoryEntry | None:
        """``(coi, role, case_id)`` of ``stream``, or None for a registry or unknown stream."""
        hit = self._recall(stream)
        if hit is not None or self._complete:
            return hit
        row = conn.execute(sql(
            "SELECT coi, role, case_id FROM stream_directory WHERE owner = :o AND stream = :s"),
            {"o": self.owner, "s": stream}).first()
        if row is None:
            return None
        found = (row[0], row[1], row[2])
        self._remember(stream, found)
        return found

    def coi(self, conn: Connection, stream: str) -> str | None:
        found = self.lookup(conn, stream)
        return found[0] if found else None

    def reset(self, conn: Connection) -> None:
        conn.execute(sql("DELETE FROM stream_directory WHERE owner = :o"), {"o": self.owner})
        self._cache.clear()

    def _recall(self, stream: str) -> tuple[str | None, str, str | None] | None:
        hit = self._cache.get(stream)
        if hit is not None:
            self._cache.move_to_end(stream)
        return hit

    def _remember(self, stream: str, value: tuple[str | None, str, str | None]) -> None:
        self._cache[stream] = value
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)


def register_streams(directory: StreamDirectory, conn: Connection, env: Mapping[str, Any],
                     data: EventData | None) -> None:
    """Record the streams that enrolment, labelling and the start of a lot create."""
    match data:
        case CaseEnrolled(coi=coi) | DonorRegistered(coi=coi):
            directory.add(conn, env["stream"], coi, "case")
        case UnitLabelled(coi=coi, case=case):
            directory.add(conn, env["stream"], coi, "unit", str(case))
        case ManufacturingStarted(coi=coi, case=case, inputs=inputs) if not is_in(env["stream"], inputs):
            directory.add(conn, env["stream"], coi, "unit", str(case))  # the lot


def id_text(value: UUID | None) -> str | None:
    """A typed id as the envelope's text (None stays None)."""
    return None if value is None else str(value)


def is_in(stream: str, streams: Iterable[UUID]) -> bool:
    """Whether the stream id ``stream`` (text, as in an envelope) is one of ``streams``."""
    return any(stream == str(s) for s in streams)


def rows(result: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in result]


class InsertOnce:
    """A row added once per key: ``INSERT ... ON CONFLICT (key) DO NOTHING``, sent once per key and
    batch. The sole writer of a table that starts empty (a rebuild's share) knows every key it
    wrote, so it sends a plain insert of each new key instead: the table is then append-only
    (sent with ``COPY``, :mod:`projections.batching`) and a known key costs nothing. Its memory is
    only right for a rebuild, which a failed batch ends (nothing retries a batch there)."""

    def __init__(self, table: str, columns: tuple[str, ...], key: tuple[str, ...]) -> None:
        names, params = ", ".join(columns), ", ".join(f":{c}" for c in columns)
        self.table, self._key = table, key
        self._plain = sql(f"INSERT INTO {table} ({names}) VALUES ({params})")
        self._upsert = sql(f"INSERT INTO {table} ({names}) VALUES ({params}) "
                           f"ON CONFLICT ({', '.join(key)}) DO NOTHING")
        self._written: set[tuple[Any, ...]] = set()  # this batch's keys (the sole writer's: all)
        self._sole = False

    def sole_writer(self) -> None:
        self._sole = True

    @property
    def append_only(self) -> tuple[str, ...]:
        return (self.table,) if self._sole else ()

    def begin_batch(self) -> None:
        if not self._sole:
            self._written = set()

    def insert(self, conn: Connection, *rows: Mapping[str, Any]) -> None:
        """Add each row (its values by column name) whose key was not added before."""
        new = []
        for row in rows:
            key = tuple(row[c] for c in self._key)
            if key not in self._written:
                self._written.add(key)
                new.append(row)
        if new:
            conn.execute(self._plain if self._sole else self._upsert, new)


class ReadModel:
    """Base of the read models: :meth:`project` gets each event as its envelope and its typed data.

    ``tables`` are the tables the projection owns (emptied by ``reset``); every projection
    keeps its own :class:`StreamDirectory` of case and unit streams. Run in a
    :class:`~projections.registry.ProjectionGroup`, the group converts each event once for all
    its members; run alone, :meth:`apply` converts it.
    """

    name = "read_model"
    tables: tuple[str, ...] = ()
    append_only: tuple[str, ...] = ()
    """Tables whose rows are only added, never deleted, and updated by key after they were added
    (sent with ``COPY``: :mod:`projections.batching`)."""

    def __init__(self) -> None:
        self.directory = StreamDirectory(self.name)
        self.registers = True  # False when a group shares one directory and registers for all
        self._once: list[InsertOnce] = []

    def insert_once(self, table: str, columns: tuple[str, ...], key: tuple[str, ...]) -> InsertOnce:
        """This read model's rows of ``table`` added once per ``key`` (:class:`InsertOnce`)."""
        once = InsertOnce(table, columns, key)
        self._once.append(once)
        return once

    def append_only_tables(self) -> tuple[str, ...]:
        """``append_only`` and, for the sole writer, the tables its :class:`InsertOnce` fill."""
        return (*self.append_only, *(t for once in self._once for t in once.append_only))

    def begin_batch(self) -> None:
        for once in self._once:
            once.begin_batch()

    def share(self, directory: StreamDirectory) -> None:
        """Use ``directory`` (kept by a group that applies in lockstep) instead of its own."""
        self.directory, self.registers = directory, False

    def apply(self, conn: Connection, position: int, event: SealedEvent) -> None:
        env = env_of(event)
        data = typed(env["type"], env["data"])
        if self.registers:
            register_streams(self.directory, conn, env, data)
        self.project_sealed(conn, position, event, data)

    def project_sealed(self, conn: Connection, position: int, event: SealedEvent | Mapping[str, Any],
                       data: EventData | None) -> None:
        """Apply one sealed event; a read model that keeps the event's hash overrides this."""
        self.project(conn, position, env_of(event), data)

    def sole_writer(self) -> None:
        """This instance alone fills its tables, which start empty (a rebuild's scratch set): it
        may answer its own lookups from what it wrote, in memory, instead of reading them back."""
        if self.registers:
            self.directory.sole_writer()
        for once in self._once:
            once.sole_writer()

    def project(self, conn: Connection, position: int, env: Mapping[str, Any],
                data: EventData | None) -> None:
        """Apply one event: ``env`` for its stream, seq, times, actor, site and event id; ``data``
        its typed data (None for a type this code does not know). A ``match`` on ``data``."""

    def reset(self, conn: Connection) -> None:
        delete_all(conn, self.tables)
        if self.registers:
            self.directory.reset(conn)
