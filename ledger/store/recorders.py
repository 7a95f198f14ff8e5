"""The library's recorders, extended for the ledger.

* Idempotency claims are inserted in the SAME transaction as the events they answer for
  (the library's ``_insert_events`` hook, as its process recorders do for tracking), so a
  claim exists if and only if its events were committed.
* PostgreSQL: writers are serialised with a transaction-level advisory lock instead of the
  library's ``LOCK TABLE ... EXCLUSIVE``, which would need UPDATE/DELETE/TRUNCATE rights that
  the hardened application role must not have. Serialising writers keeps commit order equal
  to notification-id order, which is what followers of the global log rely on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.sql import SQL, Identifier, Literal

from .notices import CHANNEL, NoticeRow

IDEMPOTENCY_TABLE = "ledger_idempotency"
# Any constant works as long as every writer of this database uses the same one.
WRITER_LOCK_KEY = 0x4C45444745520001


@dataclass(frozen=True)
class ClaimRow:
    scope: str
    request_digest: str
    result: dict[str, Any]
    created_at: str

    def params(self) -> tuple[str, str, str, str]:
        return (self.scope, self.request_digest, json.dumps(self.result), self.created_at)


def _claim_rows(kwargs: dict[str, Any]) -> list[ClaimRow]:
    return [row for row in kwargs.get("claims") or () if isinstance(row, ClaimRow)]


def _notices(kwargs: dict[str, Any]) -> list[str]:
    return sorted({row.notice for row in kwargs.get("claims") or () if isinstance(row, NoticeRow)})


class LedgerSQLiteRecorder(SQLiteApplicationRecorder):
    # Notices (ledger/store/notices.py) need no statement here: SQLite is one process, and the
    # ledger tells that process's subscribers itself once the append committed.
    def _insert_events(self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any):
        ids = super()._insert_events(c, stored_events, **kwargs)
        claims = _claim_rows(kwargs)
        if claims:
            c.executemany(
                f"INSERT INTO {IDEMPOTENCY_TABLE} (scope, request_digest, result, created_at) "
                "VALUES (?, ?, ?, ?)",
                [claim.params() for claim in claims],
            )
        return ids

    def find_claim(self, scope: str) -> tuple[str, dict[str, Any]] | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT request_digest, result FROM {IDEMPOTENCY_TABLE} WHERE scope = ?", (scope,)
            )
            row = c.fetchone()
        return (row["request_digest"], json.loads(row["result"])) if row else None

    def positions(self, keys: Sequence[tuple[UUID, int]]) -> dict[tuple[UUID, int], int]:
        found: dict[tuple[UUID, int], int] = {}
        with self.datastore.transaction(commit=False) as c:
            for stream, seq in keys:
                c.execute(
                    f"SELECT rowid FROM {self.events_table_name} "
                    "WHERE originator_id = ? AND originator_version = ?",
                    (stream.hex, seq),
                )
                row = c.fetchone()
                if row:
                    found[(stream, seq)] = row[0]
        return found


class LedgerPostgresRecorder(PostgresApplicationRecorder):
    def __init__(self, datastore: Any, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        # Rendered once: a composed statement is rendered again on every execution (~7 % of a
        # single-event append's Python time went to rendering these and the NOTIFY below).
        self.lock_table_statements = [
            SQL("SET LOCAL lock_timeout = '{0}s'").format(self.datastore.lock_timeout).as_bytes(None),
            SQL("SELECT pg_advisory_xact_lock({0})").format(Literal(WRITER_LOCK_KEY)).as_bytes(None),
        ]
        self._notify_statement = SQL("NOTIFY {0}").format(Identifier(self.channel_name)).as_bytes(None)
        # The library sends an array of its composite type, which psycopg dumps as text (bytea
        # hex-escaped field by field); four parallel arrays carry the same rows, in the same order,
        # for the same RETURNING. `%b`, not `%s`: for a list psycopg's automatic choice is its text
        # dumper, which escapes every byte of every state (~8 ms of CPU for 100 events).
        insert_events = SQL(
            "INSERT INTO {0}.{1} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[]) "
            "RETURNING notification_id"
        ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name))
        self._insert_columns_statement = insert_events.as_bytes(None)
        self._insert_claims_and_columns_statement = SQL(
            "WITH claims AS (INSERT INTO {0}.{1} (scope, request_digest, result, created_at) "
            "SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[])) {2}"
        ).format(Identifier(self.datastore.schema), Identifier(IDEMPOTENCY_TABLE), insert_events).as_bytes(None)
        self._notices_statement = SQL("SELECT pg_notify({0}, n) FROM unnest(%b::text[]) AS n").format(
            Literal(CHANNEL)).as_bytes(None)

    def _notify_channel(self, curs: Any) -> None:
        curs.execute(self._notify_statement)

    def _insert_stored_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        # The events' insert is the LAST statement, and carries the claims in the same statement.
        # In pipeline mode psycopg raises a statement's error at whichever later call reads it;
        # a statement queued after the insert could read the duplicate key's error early, and
        # the library (which keeps that error until the pipeline exits) would then meet the
        # queued statements' "pipeline aborted" first: an OperationalError, retried as an
        # outage, where a library retry of a committed write must reconcile.
        self._lock_table(curs)
        self._notify_channel(curs)
        notices = _notices(kwargs)
        if notices:  # delivered to every listening process when (and only if) this commits
            curs.execute(self._notices_statement, (notices,))
        columns = ([e.originator_id for e in stored_events], [e.originator_version for e in stored_events],
                   [e.topic for e in stored_events], [e.state for e in stored_events])
        claims = [claim.params() for claim in _claim_rows(kwargs)]
        if claims:
            curs.execute(self._insert_claims_and_columns_statement,
                         (*(list(field) for field in zip(*claims, strict=True)), *columns), binary=True)
        else:
            curs.execute(self._insert_columns_statement, columns, binary=True)

    def find_claim(self, scope: str) -> tuple[str, dict[str, Any]] | None:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT request_digest, result FROM {0}.{1} WHERE scope = %s").format(
                    Identifier(self.datastore.schema), Identifier(IDEMPOTENCY_TABLE)
                ),
                (scope,),
            )
            row = curs.fetchone()
        return (row["request_digest"], json.loads(row["result"])) if row else None

    def positions(self, keys: Sequence[tuple[UUID, int]]) -> dict[tuple[UUID, int], int]:
        found: dict[tuple[UUID, int], int] = {}
        statement = SQL(
            "SELECT notification_id FROM {0}.{1} WHERE originator_id = %s AND originator_version = %s"
        ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name))
        with self.datastore.transaction(commit=False) as curs:
            for stream, seq in keys:
                curs.execute(statement, (stream, seq))
                row = curs.fetchone()
                if row:
                    found[(stream, seq)] = row["notification_id"]
        return found
