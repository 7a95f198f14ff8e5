"""The scratch set a rebuild fills, and the one transaction that swaps it in for the live tables.

A rebuild never empties a table the service reads: it fills empty twins of the read-model
tables (with their own ``stream_directory`` and ``projection_tracking``) while the live ones keep
answering, then swaps them in at once.

* PostgreSQL: the twins live in the schema ``rebuild_next`` (``CREATE TABLE ... (LIKE public.t
  INCLUDING ALL EXCLUDING INDEXES)``, the live table's keys and indexes under their own names, the
  indexes that only serve reads built after the replay, and the live table's grants); the rebuild's
  connections put that schema first in their ``search_path``, so the read models' unqualified SQL
  lands there. The swap drops each live table and moves its twin into ``public`` (``ALTER TABLE
  ... SET SCHEMA``) in one transaction: a reader sees the old tables or the new ones, never a mix
  (it waits for the swap's locks, a few milliseconds, while it commits).
* SQLite: the twins live in a scratch file beside the database (same ``CREATE`` statements, read
  from ``sqlite_master``); the swap copies them over the live tables in one transaction. WAL
  readers keep the old snapshot until it commits.

Only read-model rows move. ``stream_directory`` is shared with other followers (the webhook
outbox keeps rows there as ``owner='webhooks'``): only the read models' owners' rows are replaced.
The event store, alert timers, the webhook outbox and the Merkle log are never touched.

Events appended during the rebuild are not lost: the swap first takes the live tracking row (the
follower's own lock, so the service's follower waits), lets ``finish`` catch the scratch set up to
the head of the log, then moves the tables and sets the live position to the scratch set's; the
follower then carries on from there.
"""

from __future__ import annotations

import fcntl
import random
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine

from ledger.store.database import Database

from .db import make_engine

SCHEMA = "rebuild_next"
SHARED = ("stream_directory", "projection_tracking")  # the scratch set's own copies
SWAP_ATTEMPTS = 40
SWAP_LOCK_TIMEOUT = "200ms"
"""The swap takes every live table at once, one after another: a reader that holds one of them
and then asks for one the swap already holds would deadlock with it, and PostgreSQL breaks a
deadlock only after ``deadlock_timeout`` (1 s), failing whichever side checks first (a reader's
request, in CI). So the swap waits at most this long for its locks, gives them all back and tries
again (up to SWAP_ATTEMPTS times, backing off): a reader waits a fraction of a second, never fails."""
LOCK_KEY = 0x7265_6275_696C_64  # PostgreSQL advisory lock of a running rebuild ("rebuild")


class RebuildRunning(Exception):
    """Another rebuild holds the scratch set."""


class ScratchSet(Protocol):
    def exclusive(self) -> AbstractContextManager[None]:
        """Held for a whole rebuild: a second one is refused (RebuildRunning), not interleaved."""

    def create(self) -> None:
        """Empty twins of the tables (any leftover of an interrupted rebuild is dropped), without
        the indexes that only serve reads (no unique key, no constraint): see :meth:`index`."""

    def index(self) -> None:
        """Build the indexes :meth:`create` left out (once, after the bulk of the replay: one
        sorted build each is cheaper than keeping them up to date row by row)."""

    def engine(self) -> Engine:
        """An engine whose unqualified table names are the twins."""

    def swap(self, tracking: str, owners: Sequence[str], finish: Callable[[], int]) -> int:
        """Lock the live tracking row ``tracking``, call ``finish`` (it brings the twins to the head
        of the log and returns their position), swap, and return that position."""

    def discard(self) -> None:
        """Remove the twins (after a swap, or a failed rebuild)."""


def scratch_set(database: Database, tables: Sequence[str]) -> ScratchSet:
    if database.kind == "sqlite":
        return SqliteScratch(database, tables)
    return PostgresScratch(database, tables)


class PostgresScratch:
    def __init__(self, database: Database, tables: Sequence[str]) -> None:
        self.database, self.tables = database, list(tables)
        self._deferred: list[str] = []  # CREATE INDEX statements of the twins, for index()

    def _connect(self):  # noqa: ANN202 - psycopg is imported lazily, as in ledger.store
        import psycopg

        return psycopg.connect(self.database.psycopg_conninfo())

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._connect() as conn:
            conn.autocommit = True
            if not conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()[0]:
                raise RebuildRunning("another rebuild of the read models is running")
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))

    def create(self) -> None:
        with self._connect() as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
            conn.execute(f"CREATE SCHEMA {SCHEMA}")
            self._deferred = []
            for table in [*self.tables, *SHARED]:
                conn.execute(f"CREATE TABLE {SCHEMA}.{table} (LIKE public.{table} INCLUDING ALL EXCLUDING INDEXES)")
                grants = conn.execute(
                    "SELECT a.privilege_type, CASE WHEN a.grantee = 0 THEN 'PUBLIC' "
                    "ELSE quote_ident(r.rolname) END FROM pg_class c CROSS JOIN aclexplode(c.relacl) a "
                    "LEFT JOIN pg_roles r ON r.oid = a.grantee "
                    "WHERE c.oid = %s::regclass AND a.grantee <> c.relowner", (f"public.{table}",)).fetchall()
                for privilege, grantee in grants:  # SET SCHEMA keeps them; default privileges do not apply
                    conn.execute(f"GRANT {privilege} ON {SCHEMA}.{table} TO {grantee}")
                self._twin_indexes(conn, table)

    def _twin_indexes(self, conn, table: str) -> None:  # noqa: ANN001 - a psycopg connection
        """The live table's keys and indexes under their own names (``LIKE ... INCLUDING INDEXES``
        would name them anew, and a migration that drops one by name would then fail): keys and
        unique indexes now, the others in :meth:`index`."""
        live = f"public.{table}"
        for name, definition in conn.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
                "AND contype IN ('p', 'u', 'x') ORDER BY conname", (live,)).fetchall():
            conn.execute(f'ALTER TABLE {SCHEMA}.{table} ADD CONSTRAINT "{name}" {definition}')
        for unique, definition in conn.execute(
                "SELECT x.indisunique, pg_get_indexdef(x.indexrelid) FROM pg_index x WHERE x.indrelid = %s::regclass "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid) ORDER BY 2",
                (live,)).fetchall():
            on_live = f" ON {live} "
            if on_live not in definition:
                raise RuntimeError(f"unexpected index definition of {live}: {definition}")
            twin = definition.replace(on_live, f" ON {SCHEMA}.{table} ", 1)
            if unique:
                conn.execute(twin)
            else:
                self._deferred.append(twin)

    def index(self) -> None:
        with self._connect() as conn:
            for definition in self._deferred:
                conn.execute(definition)
        self._deferred = []

    def engine(self) -> Engine:
        return make_engine(self.database, pool_size=2, schema=SCHEMA)

    def analyze(self) -> None:
        """Planner statistics for the twins, before they serve (see ProjectionRunner.rebuild)."""
        with self._connect() as conn:
            conn.autocommit = True
            for table in self.tables:
                conn.execute(f"ANALYZE {SCHEMA}.{table}")

    def swap(self, tracking: str, owners: Sequence[str], finish: Callable[[], int]) -> int:
        import psycopg

        self.analyze()
        for attempt in range(SWAP_ATTEMPTS):
            try:
                return self._swap_once(tracking, owners, finish)
            except (psycopg.errors.DeadlockDetected, psycopg.errors.LockNotAvailable):
                if attempt == SWAP_ATTEMPTS - 1:
                    raise
                time.sleep(min(0.5, 0.02 * (attempt + 1)) * (0.5 + random.random()))  # noqa: S311 - jitter
        raise AssertionError("unreachable")

    def _swap_once(self, tracking: str, owners: Sequence[str], finish: Callable[[], int]) -> int:
        with self._connect() as conn:  # one transaction: committed on leaving the block
            locked = conn.execute("SELECT position FROM public.projection_tracking WHERE name = %s FOR UPDATE",
                                  (tracking,)).fetchone()
            if locked is None:
                conn.execute("INSERT INTO public.projection_tracking (name, position) VALUES (%s, 0)", (tracking,))
            position = finish()
            conn.execute(f"SET LOCAL lock_timeout = '{SWAP_LOCK_TIMEOUT}'")
            conn.execute(f"LOCK TABLE {', '.join(f'public.{t}' for t in self.tables)} IN ACCESS EXCLUSIVE MODE")
            conn.execute("SET LOCAL lock_timeout = 0")
            for table in self.tables:
                conn.execute(f"DROP TABLE public.{table}")
                conn.execute(f"ALTER TABLE {SCHEMA}.{table} SET SCHEMA public")
            conn.execute("DELETE FROM public.stream_directory WHERE owner = ANY(%s)", (list(owners),))
            conn.execute(f"INSERT INTO public.stream_directory SELECT * FROM {SCHEMA}.stream_directory "
                         "WHERE owner = %s", (tracking,))
            conn.execute("UPDATE public.projection_tracking SET position = %s WHERE name = %s", (position, tracking))
            conn.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
        return position

    def discard(self) -> None:
        with self._connect() as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


class SqliteScratch:
    def __init__(self, database: Database, tables: Sequence[str]) -> None:
        assert database.path is not None
        self.database, self.tables = database, list(tables)
        self.path = database.path.with_name(f"{database.path.name}.{SCHEMA}")
        self._deferred: list[str] = []  # CREATE INDEX statements, for index()

    def _remove(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with open(f"{self.path}.lock", "w") as lock:  # released by the OS if this process dies
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RebuildRunning("another rebuild of the read models is running") from None
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
                Path(lock.name).unlink(missing_ok=True)

    def create(self) -> None:
        self._remove()
        live = sqlite3.connect(str(self.database.path))
        try:
            names = [*self.tables, *SHARED]
            marks = ", ".join("?" * len(names))
            statements = [r[0] for r in live.execute(
                f"SELECT sql FROM sqlite_master WHERE tbl_name IN ({marks}) AND sql IS NOT NULL "  # noqa: S608
                "ORDER BY type = 'index', name", names)]
        finally:
            live.close()
        self._deferred = [s for s in statements if s.upper().startswith("CREATE INDEX")]
        self._run([s for s in statements if s not in self._deferred], wal=True)

    def index(self) -> None:
        self._run(self._deferred)
        self._deferred = []

    def _run(self, statements: Sequence[str], *, wal: bool = False) -> None:
        scratch = sqlite3.connect(str(self.path))
        try:
            if wal:
                scratch.execute("PRAGMA journal_mode=WAL")
            for statement in statements:
                scratch.execute(statement)
            scratch.commit()
        finally:
            scratch.close()

    def engine(self) -> Engine:
        return make_engine(Database.from_url(f"sqlite:///{self.path}"))

    def swap(self, tracking: str, owners: Sequence[str], finish: Callable[[], int]) -> int:
        live = sqlite3.connect(str(self.database.path), timeout=30, isolation_level=None)
        try:
            live.execute("ATTACH DATABASE ? AS scratch", (str(self.path),))  # not possible inside a transaction
            live.execute("BEGIN")
            # The live follower's own lock: the write lock on the live file only (the scratch file
            # stays free for ``finish``, which writes it through another connection).
            if not live.execute("UPDATE main.projection_tracking SET position = position WHERE name = ?",
                                (tracking,)).rowcount:
                live.execute("INSERT INTO main.projection_tracking (name, position) VALUES (?, 0)", (tracking,))
            position = finish()
            for table in self.tables:
                live.execute(f"DELETE FROM main.{table}")  # noqa: S608 - fixed names
                live.execute(f"INSERT INTO main.{table} SELECT * FROM scratch.{table}")  # noqa: S608
            marks = ", ".join("?" * len(owners))
            live.execute(f"DELETE FROM main.stream_directory WHERE owner IN ({marks})", list(owners))  # noqa: S608
            live.execute("INSERT INTO main.stream_directory SELECT * FROM scratch.stream_directory WHERE owner = ?",
                         (tracking,))
            live.execute("UPDATE main.projection_tracking SET position = ? WHERE name = ?", (position, tracking))
            live.execute("COMMIT")
            live.execute("ANALYZE main")
            live.execute("DETACH DATABASE scratch")
        except BaseException:
            if live.in_transaction:
                live.execute("ROLLBACK")
            raise
        finally:
            live.close()
        return position

    def discard(self) -> None:
        self._remove()
