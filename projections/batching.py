"""Send a batch's read-model writes together instead of one round trip each.

Applying an event costs ~8 statements, and almost all of them are writes whose result nobody
reads (profile of a rebuild: ~80 % of the time waiting for PostgreSQL to answer them one by
one). :class:`QueuedWrites` stands in for the tracking transaction's connection while a batch
is applied: ``INSERT``/``UPDATE``/``DELETE`` are queued, and every other statement (a read)
first sends the queue, so a read always sees every earlier write of the batch, in order.
On PostgreSQL the queue goes out in psycopg's pipeline mode (one round trip for the lot);
on SQLite, runs of the same statement go out as one ``executemany``.

The queue lives inside the runner's transaction: a failure at flush time rolls the whole
batch back with its tracking position, exactly as a failure at the statement would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import groupby
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql.elements import TextClause

_WRITES = ("INSERT", "UPDATE", "DELETE")
Params = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None


def _is_write(statement: Any) -> bool:
    return isinstance(statement, TextClause) and statement.text.lstrip()[:6].upper() in _WRITES


class QueuedWrites:
    """A :class:`~sqlalchemy.Connection` for read models whose writes are sent in batches.

    ``execute`` of a write returns None (read models never look at a write's result); anything
    else is delegated to the real connection after the queue is flushed.
    """

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.dialect = conn.dialect  # asked per event by some read models: no flush for it
        self._queue: list[tuple[TextClause, Params]] = []
        self._pipeline = self.dialect.name == "postgresql"
        self._compiled: dict[int, tuple[TextClause, str]] = {}
        self._writes: dict[int, tuple[Any, bool]] = {}  # statement -> whether it is queued

    def execute(self, statement: Any, parameters: Params = None) -> Any:
        write = self._writes.get(id(statement))
        if write is None or write[0] is not statement:
            write = self._writes[id(statement)] = (statement, _is_write(statement))
        if write[1]:
            self._queue.append((statement, parameters))
            return None
        self.flush()
        return self._conn.execute(statement, parameters)

    def __getattr__(self, name: str) -> Any:
        self.flush()
        return getattr(self._conn, name)

    def flush(self) -> None:
        if not self._queue:
            return
        queue, self._queue = self._queue, []
        if self._pipeline:
            self._send_pipelined(queue)
        else:
            for statement, group in groupby(queue, key=lambda item: item[0]):
                params = [p for _, many in group for p in _as_list(many)]
                self._conn.execute(statement, params or None)

    def _send_pipelined(self, queue: list[tuple[TextClause, Params]]) -> None:
        driver = self._conn.connection.driver_connection  # psycopg.Connection, inside our transaction
        with driver.pipeline(), driver.cursor() as cursor:
            for statement, params in queue:
                query = self._driver_sql(statement)
                if isinstance(params, Mapping) or params is None:
                    cursor.execute(query, params)
                else:
                    cursor.executemany(query, params)

    def _driver_sql(self, statement: TextClause) -> str:
        """The statement as psycopg takes it (``:name`` -> ``%(name)s``, ``%`` escaped), once."""
        hit = self._compiled.get(id(statement))
        if hit is None or hit[0] is not statement:
            hit = (statement, str(statement.compile(dialect=self.dialect)))
            self._compiled[id(statement)] = hit
        return hit[1]


def _as_list(params: Params) -> list[Mapping[str, Any]]:
    if params is None:
        return [{}]
    return [params] if isinstance(params, Mapping) else list(params)
