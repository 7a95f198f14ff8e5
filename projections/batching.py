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

Append-only rows go out with ``COPY`` on PostgreSQL (~10x cheaper a row than an ``INSERT``, even
pipelined). A read model names such tables in ``append_only``: rows there are only ever added by
plain ``INSERT ... VALUES`` (no ``ON CONFLICT``), never deleted, and an ``UPDATE`` names one row by
its key, a row that existed when the update was queued. The rows of such a table can then wait for
the end of the batch and go before every other queued write: an update of one of them still comes
after it, and no earlier update can match it. A read that names the table (or any queued write to
it) sends them first, so a read still sees every earlier write.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from itertools import groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.sql.elements import TextClause

_WRITES = ("INSERT", "UPDATE", "DELETE")
Params = Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
_TARGET = re.compile(r"\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(\w+)", re.IGNORECASE)
_PLAIN_INSERT = re.compile(r"\s*INSERT\s+INTO\s+(\w+)\s*\(([^()]*)\)\s*VALUES\s*\(([^()]*)\)\s*$",
                           re.IGNORECASE)
_LITERALS = {"NULL": None, "TRUE": True, "FALSE": False}
_PARAM, _LITERAL = True, False


def _is_write(statement: Any) -> bool:
    return isinstance(statement, TextClause) and statement.text.lstrip()[:6].upper() in _WRITES


class CopyPlan:
    """How one plain ``INSERT INTO t (columns) VALUES (:a, NULL, 'open', ...)`` becomes COPY rows."""

    def __init__(self, table: str, columns: tuple[str, ...], values: tuple[tuple[bool, Any], ...]) -> None:
        self.table, self.columns, self.values = table, columns, values
        names = [v for is_param, v in values if is_param]
        self._params = itemgetter(*names) if names else None  # the parameters' values as a tuple, in C
        self._single = len(names) == 1  # itemgetter of one name gives the value, not a tuple
        self._literals = [(i, v) for i, (is_param, v) in enumerate(values) if not is_param]

    @classmethod
    def of(cls, statement: TextClause, tables: Iterable[str]) -> CopyPlan | None:
        """The plan for ``statement``, or None when it is not a plain insert into one of ``tables``."""
        found = _PLAIN_INSERT.match(statement.text)
        if found is None or found[1] not in tables:
            return None
        columns = tuple(c.strip() for c in found[2].split(","))
        values = []
        for item in (v.strip() for v in found[3].split(",")):
            if item.startswith(":") and item[1:].isidentifier():
                values.append((_PARAM, item[1:]))
            elif item.upper() in _LITERALS:
                values.append((_LITERAL, _LITERALS[item.upper()]))
            elif item.lstrip("-").isdigit():
                values.append((_LITERAL, int(item)))
            elif len(item) > 1 and item[0] == item[-1] == "'" and "'" not in item[1:-1]:
                values.append((_LITERAL, item[1:-1]))
            else:
                return None
        return cls(found[1], columns, tuple(values)) if len(values) == len(columns) else None

    def rows(self, params: Params) -> list[tuple[Any, ...]]:
        get, many = self._params, _as_list(params)
        if get is None:
            found = [()] * len(many)
        elif self._single:
            found = [(get(p),) for p in many]
        else:
            found = [get(p) for p in many]
        if not self._literals:
            return found
        rows = []
        for values in found:
            row = list(values)
            for index, literal in self._literals:  # in column order, so each lands at its index
                row.insert(index, literal)
            rows.append(tuple(row))
        return rows


class QueuedWrites:
    """A :class:`~sqlalchemy.Connection` for read models whose writes are sent in batches.

    ``execute`` of a write returns None (read models never look at a write's result); anything
    else is delegated to the real connection after the queue is flushed.
    """

    def __init__(self, conn: Connection, append_only: Iterable[str] = ()) -> None:
        self._conn = conn
        self.dialect = conn.dialect  # asked per event by some read models: no flush for it
        self._queue: list[tuple[TextClause, Params]] = []
        self._pipeline = self.dialect.name == "postgresql"
        self._append_only = frozenset(append_only) if self._pipeline else frozenset()
        self._compiled: dict[int, tuple[TextClause, str]] = {}
        # statement -> (statement, queued?, its COPY plan, the tables it names)
        self._kinds: dict[int, tuple[Any, bool, CopyPlan | None, frozenset[str]]] = {}
        self._waiting: dict[int, tuple[TextClause, CopyPlan, list[Mapping[str, Any]]]] = {}
        self._queued_targets: set[str] = set()

    def execute(self, statement: Any, parameters: Params = None) -> Any:
        kind = self._kinds.get(id(statement))
        if kind is None or kind[0] is not statement:
            kind = self._kinds[id(statement)] = self._classify(statement)
        _, queued, plan, names = kind
        if plan is not None:  # an append-only row: waits for the end of the batch
            waiting = self._waiting.get(id(statement))
            if waiting is None:
                waiting = self._waiting[id(statement)] = (statement, plan, [])
            waiting[2].extend(_as_list(parameters))
            return None
        if queued:
            self._queue.append((statement, parameters))
            self._queued_targets |= names
            return None
        self.flush_queue(names)
        return self._conn.execute(statement, parameters)

    def get_transaction(self) -> Any:
        """The transaction the writes belong to (the Merkle follower asks per event): no flush."""
        return self._conn.get_transaction()

    def __getattr__(self, name: str) -> Any:
        self.flush()
        return getattr(self._conn, name)

    def flush(self) -> None:
        """Send everything: the waiting append-only rows first (COPY), then the queue in order."""
        self._copy_waiting()
        self.flush_queue()

    def flush_queue(self, reading: Iterable[str] = ()) -> None:
        """Send the queue, and before it the waiting rows of the append-only tables it writes or
        ``reading`` names (as pipelined INSERTs: one round trip with the queue, cheaper mid-batch
        than a COPY each)."""
        tables = self._queued_targets.union(reading) if self._waiting else ()
        due = [key for key, (_, plan, _) in self._waiting.items() if plan.table in tables]
        if not self._queue and not due:
            return
        first = [(statement, many) for statement, _, many in map(self._waiting.pop, due)]
        queue, self._queue, self._queued_targets = first + self._queue, [], set()
        if self._pipeline:
            self._send_pipelined(queue)
        else:
            for statement, group in groupby(queue, key=lambda item: item[0]):
                params = [p for _, many in group for p in _as_list(many)]
                self._conn.execute(statement, params or None)

    def _classify(self, statement: Any) -> tuple[Any, bool, CopyPlan | None, frozenset[str]]:
        if not _is_write(statement):  # a read: the append-only tables it names (all, if not text)
            if isinstance(statement, TextClause):
                return statement, False, None, frozenset(re.findall(r"\w+", statement.text)) & self._append_only
            return statement, False, None, self._append_only
        plan = CopyPlan.of(statement, self._append_only) if self._append_only else None
        target = _TARGET.match(statement.text)
        return statement, True, plan, frozenset([target[1]] if target else self._append_only)

    def _copy_waiting(self) -> None:
        """COPY every waiting append-only row, one COPY per table and column list."""
        if not self._waiting:
            return
        waiting, self._waiting = self._waiting, {}
        driver = self._conn.connection.driver_connection  # psycopg.Connection, inside our transaction
        with driver.cursor() as cursor:
            for _, plan, many in waiting.values():
                with cursor.copy(f"COPY {plan.table} ({', '.join(plan.columns)}) FROM STDIN") as copy:
                    for row in plan.rows(many):
                        copy.write_row(row)

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
