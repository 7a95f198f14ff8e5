"""Read the event table directly with SQL: no library, no running server.

This is how ``ledger verify`` and independent tools see the store: rows of
(stream, seq, position, topic, state bytes), where state is the JCS JSON of
``{envelope, hash, seal, key_id}``.
"""

from __future__ import annotations

import hashlib
import queue
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any
from uuid import UUID

from ..envelope import parse
from .database import Database
from .records import KEY_EVENT_TOPIC, SealedEvent

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


def select(
    database: Database, conn: Any, sql: str, params: Sequence[Any] = (), name: str = "", *, binary: bool = False
) -> Iterator[Any]:
    """Rows of ``sql`` (``%s`` placeholders on both stores); ``name``: streamed server-side on PostgreSQL;
    ``binary``: PostgreSQL sends the values in binary (``bytea`` as its bytes, not as hex text)."""
    if database.kind == "sqlite":
        yield from conn.execute(sql.replace("%s", "?"), params)
        return
    with conn.cursor(name=name or None, binary=binary) as cur:
        if name:
            cur.itersize = 5000
        cur.execute(sql, params)
        yield from cur


def _bounds(database: Database, partitions: range) -> tuple[Any, Any]:
    lo = f"{partitions.start:02x}"
    hi = f"{partitions.stop:02x}" if partitions.stop < PARTITIONS else None
    if database.kind == "sqlite":
        return lo, hi
    pad = "000000-0000-0000-0000-000000000000"
    return UUID(lo + pad), UUID(hi + pad) if hi else None


def partition_rows(database: Database, partition: int, conn: Any) -> Iterator[tuple[str, int, bytes]]:
    """Rows of one partition ordered by (stream, seq), streamed with constant memory."""
    return partitions_rows(database, range(partition, partition + 1), conn)


def partitions_rows(database: Database, partitions: range, conn: Any) -> Iterator[tuple[str, int, bytes]]:
    """Rows of a run of consecutive partitions ordered by (stream, seq), streamed with constant
    memory: one query for the run (a query per partition cost a round trip or three each)."""
    if partitions.step != 1 or not 0 <= partitions.start < partitions.stop <= PARTITIONS:
        raise ValueError(f"not a run of partitions: {partitions}")
    table = database.events_table
    lo, hi = _bounds(database, partitions)
    mark = "?" if database.kind == "sqlite" else "%s"
    where = f"originator_id >= {mark}" + (f" AND originator_id < {mark}" if hi is not None else "")
    params = (lo, hi) if hi is not None else (lo,)
    # PostgreSQL writes the stream id's text itself (in C, as str(UUID) would in Python, ~1 us a row)
    stream_text = "originator_id" if database.kind == "sqlite" else "originator_id::text"
    sql = (
        f"SELECT {stream_text}, originator_version, state FROM {table} "  # noqa: S608
        f"WHERE {where} ORDER BY originator_id, originator_version"
    )
    if database.kind == "sqlite":
        for stream, seq, state in conn.execute(sql, params):
            yield str(UUID(stream)), seq, bytes(state)
    else:  # binary results: bytea as it is stored, no hex text on either side
        with conn.cursor(name=f"verify_{partitions.start}_{partitions.stop}", binary=True) as cur:
            cur.execute(sql, params)
            for page in prefetched_pages(cur, PAGE_ROWS):
                yield from page


PAGE_ROWS = 1000  # a worker holds up to ~4 pages (queued, in hand, the driver's): bounded memory


def prefetched_pages(cur: Any, size: int) -> Iterator[list[Any]]:
    """Pages of ``size`` rows of an executed (server-side) cursor, the next page fetched by a
    thread while the caller works on the current one (the driver releases the GIL while it
    waits). At most two pages wait; the thread ends with the iteration, however it ends."""
    pages: queue.Queue[Any] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def fetch() -> None:
        try:
            while not stop.is_set():
                page = cur.fetchmany(size)
                pages.put(page)
                if not page:
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the reading thread, raised there
            pages.put(exc)

    reader = threading.Thread(target=fetch, name="rawstore-prefetch", daemon=True)
    reader.start()
    try:
        while True:
            page = pages.get()
            if isinstance(page, BaseException):
                raise page
            if not page:
                return
            yield page
    finally:
        stop.set()
        while reader.is_alive():  # unblock a waiting put, then let it see ``stop``
            with suppress(queue.Empty):
                pages.get(timeout=0.05)
        reader.join()


def key_event_envelopes(database: Database, conn: Any) -> list[dict[str, Any]]:
    """Envelopes of every key lifecycle event (device keys, users' e-signature keys)."""
    mark = "?" if database.kind == "sqlite" else "%s"
    sql = f"SELECT state FROM {database.events_table} WHERE topic = {mark}"  # noqa: S608
    rows = conn.execute(sql, (KEY_EVENT_TOPIC,)).fetchall()
    envelopes = []
    for (state,) in rows:
        try:
            envelopes.append(parse(state)["envelope"])
        except (ValueError, KeyError, TypeError):
            continue  # a damaged key event is reported by the main pass over its stream
    return envelopes


def count_events(database: Database, conn: Any) -> int:
    return conn.execute(f"SELECT COUNT(*) FROM {database.events_table}").fetchone()[0]  # noqa: S608


def log_position(kind: str) -> str:
    """The column that holds an event's position in the global log (commit order), for a
    database ``kind`` (``sqlite``, or ``postgres`` / SQLAlchemy's ``postgresql``)."""
    return "rowid" if kind == "sqlite" else "notification_id"


def sealed_event(state: bytes) -> SealedEvent | None:
    """The sealed record a row's ``state`` holds, or None when it is not one (damage is
    reported by ``ledger verify``'s pass over the streams)."""
    try:
        record = parse(state)
        return SealedEvent(record["envelope"], record["hash"], record["seal"], record["key_id"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


_HEAD = b'{"envelope":'
_TAIL = re.compile(rb',"hash":"([0-9a-f]{64})","key_id":"([0-9a-f]{1,64})","seal":"([A-Za-z0-9+/_=-]{1,256})"\}')


def hashed_record(state: bytes) -> tuple[dict[str, Any], str, str, str] | None:
    """``(envelope, hash, key_id, seal)`` of a stored record whose envelope bytes hash to its
    stored hash, read without re-serialising the envelope; None for any other row.

    Contract: the store writes a record as ``{"envelope":<JCS bytes of the envelope>,"hash":"…",
    "key_id":"…","seal":"…"}``, splicing in the bytes it hashed. When ``state`` has exactly that
    layout, the envelope's bytes are the slice between the two, and SHA-256 of the slice equal to
    the stored hash proves the slice is the hashed text; the envelope is parsed from that slice
    alone (nothing outside it can change its meaning). A row of any other layout, or whose slice
    does not hash to the stored hash, gives None: the caller then parses the whole record and
    re-serialises the envelope (the general path), which judges it the same way. A non-canonical
    slice that hashes to a rewritten stored hash is no weaker a forgery than a canonical one: the
    seal, the next event's ``prev`` and the Merkle log's leaf still disagree with that hash."""
    if not state.startswith(_HEAD):
        return None
    at = state.rfind(b',"hash":"')
    tail = _TAIL.fullmatch(state, at) if at > len(_HEAD) else None
    if tail is None:
        return None
    view = memoryview(state)[len(_HEAD):at]
    stored_hash = tail.group(1).decode()
    if hashlib.sha256(view).hexdigest() != stored_hash:
        return None
    try:
        envelope = parse(view)
    except ValueError:
        return None
    if not isinstance(envelope, dict):
        return None
    return envelope, stored_hash, tail.group(2).decode(), tail.group(3).decode()


def proven_event(state: bytes) -> tuple[SealedEvent | None, bool]:
    """``(event, proven)``: the sealed record ``state`` holds (None when it is not one, as
    :func:`sealed_event`), and whether its stored bytes proved its hash (:func:`hashed_record`)."""
    hashed = hashed_record(state)
    if hashed is None:
        return sealed_event(state), False
    envelope, stored_hash, key_id, seal = hashed
    try:
        return SealedEvent(envelope, stored_hash, seal, key_id), True
    except (ValueError, KeyError, TypeError, AttributeError):  # hashed, but no envelope (no stream or seq)
        return None, False


class RawLog:
    """The global log up to position ``stop``, read with SQL, for a projection runner."""

    def __init__(self, database: Database, conn: Any, stop: int) -> None:
        self.database, self.conn, self.stop = database, conn, stop

    def read_log(self, *, after: int = 0, limit: int = 500) -> list[tuple[int, SealedEvent]]:
        pos, mark = log_position(self.database.kind), "?" if self.database.kind == "sqlite" else "%s"
        sql = (f"SELECT {pos}, state FROM {self.database.events_table} "  # noqa: S608
               f"WHERE {pos} > {mark} AND {pos} <= {mark} ORDER BY {pos} LIMIT {mark}")
        found: list[tuple[int, SealedEvent]] = []
        while not found:
            rows = self.conn.execute(sql, (after, self.stop, limit)).fetchall()
            if not rows:
                break
            found = [(p, e) for p, state in rows if (e := sealed_event(state)) is not None]
            after = rows[-1][0]
        return found

    def last_position(self) -> int:
        return self.stop
