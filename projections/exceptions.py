"""Review by exception: the read model of ``ledger.domain.exceptions`` (its kinds, severities and
rules are defined there, once), one row per exception, linked to its events.

``state`` is ``open`` until QA dispositions it; ``cleared`` (with ``resolved_at``,
``resolved_event_id``, ``duration_s``) says a later event cleared the condition, which does not
close it. ``status`` is the clearing status (``open`` / ``resolved``) kept for the timed
candidates' query. ``exceptions_query.exceptions`` lists the timed kinds only when late at
``now`` or cleared late; ``due_at`` is a candidate's own deadline (``witness_missing``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from ledger.datatypes import EventData
from ledger.domain.exceptions import Cleared, Dispositioned, Raised, effects
from ledger.envelope import envelope_hash
from ledger.store.records import SealedEvent

from .common import ReadModel, dumps, loads, micros, rows, sql, utc_text, when


class OpenExceptions:
    """The review exceptions still open (uncleared or undispositioned), by match key and by id: the
    projection's lookups answered from memory. Exact only for the sole writer of a table it saw
    empty (a rebuild's scratch set); a row leaves once it is both cleared and dispositioned."""

    def __init__(self) -> None:
        self.by_key: dict[str, list[dict[str, Any]]] = {}
        self.by_id: dict[str, dict[str, Any]] = {}

    def add(self, row: dict[str, Any]) -> None:
        self.by_key.setdefault(row["match_key"], []).append(row)
        self.by_id[row["exception_id"]] = row

    def matching(self, key: str, *, uncleared: bool = False, undispositioned: bool = False) -> list[dict[str, Any]]:
        return [r for r in self.by_key.get(key, ()) if (not uncleared or r["status"] == "open")
                and (not undispositioned or r["state"] == "open")]

    def settle(self, row: dict[str, Any]) -> None:
        if row["status"] != "open" and row["state"] != "open":
            self.by_id.pop(row["exception_id"], None)
            left = [r for r in self.by_key.get(row["match_key"], ()) if r is not row]
            if left:
                self.by_key[row["match_key"]] = left
            else:
                self.by_key.pop(row["match_key"], None)


class ExceptionsProjection(ReadModel):
    name = "exceptions"
    tables = ("review_exceptions",)
    append_only = tables

    def __init__(self) -> None:
        super().__init__()
        self._open_rows: OpenExceptions | None = None  # None: every lookup reads the table

    def sole_writer(self) -> None:
        """Answer lookups from memory: saves a read (a round trip) per custody acknowledgement."""
        super().sole_writer()
        self._open_rows = OpenExceptions()

    def project_sealed(self, conn: Connection, position: int, event: SealedEvent | Mapping[str, Any],
                       data: EventData | None) -> None:
        if isinstance(event, SealedEvent):
            self._project(conn, position, event.envelope, data, event.hash)
        else:
            self.project(conn, position, event, data)

    def project(self, conn: Connection, p: int, env: Mapping[str, Any], data: EventData | None) -> None:
        self._project(conn, p, env, data, None)

    def _project(self, conn: Connection, p: int, env: Mapping[str, Any], data: EventData | None,
                 event_hash: str | None) -> None:
        for effect in effects(env, data):
            match effect:
                case Raised(merge=True) if self._merge(conn, env, effect):
                    pass
                case Raised():
                    self._open(conn, p, env, effect, event_hash or envelope_hash(env))
                case Cleared(match_key=key):
                    self._clear(conn, env, key)
                case Dispositioned():
                    self._disposition(conn, env, effect)

    def _open(self, conn: Connection, position: int, env: Mapping[str, Any], raised: Raised,
              event_hash: str) -> None:
        own = self.directory.lookup(conn, env["stream"])
        unit = env["stream"] if own and own[1] == "unit" else env["data"].get("unit")
        conn.execute(sql(
            "INSERT INTO review_exceptions (exception_id, kind, status, coi, unit_id, subject, "
            "match_key, opened_at, opened_position, event_ids, detail, resolved_at, "
            "resolved_event_id, duration_s, severity, state, cleared, classification, deviation_id, "
            "dispositioned_event_id, opened_hash, due_at) VALUES (:id, :kind, 'open', :coi, :unit, :subject, "
            ":key, :at, :p, :events, :detail, NULL, NULL, NULL, :severity, 'open', FALSE, NULL, NULL, "
            "NULL, :hash, :due)"),
            {"id": f"{raised.kind}:{env['event_id']}", "kind": raised.kind, "coi": own[0] if own else None,
             "unit": unit if isinstance(unit, str) else None, "subject": raised.subject,
             "key": raised.match_key, "at": when(env), "p": position,
             "events": dumps([env["event_id"]]), "detail": raised.detail, "severity": raised.severity,
             "hash": event_hash, "due": utc_text(raised.due_at) if raised.due_at is not None else None})
        if self._open_rows is not None:
            self._open_rows.add({"exception_id": f"{raised.kind}:{env['event_id']}", "match_key": raised.match_key,
                                 "opened_at": when(env), "event_ids": dumps([env["event_id"]]),
                                 "status": "open", "state": "open"})

    def _merge(self, conn: Connection, env: Mapping[str, Any], raised: Raised) -> bool:
        """Join the open, uncleared exception with the same key (a burst); False if none."""
        if self._open_rows is not None:
            kept = self._open_rows.matching(raised.match_key, uncleared=True, undispositioned=True)
            row = (kept[0]["exception_id"], kept[0]["event_ids"]) if kept else None
        else:
            row = conn.execute(sql("SELECT exception_id, event_ids FROM review_exceptions "
                                   "WHERE match_key = :k AND status = 'open' AND state = 'open'"),
                               {"k": raised.match_key}).first()
        if row is None:
            return False
        events = dumps([*loads(row[1]), env["event_id"]])
        conn.execute(sql("UPDATE review_exceptions SET event_ids = :e, detail = :d WHERE exception_id = :id"),
                     {"e": events, "id": row[0], "d": raised.detail})
        if self._open_rows is not None:
            kept[0]["event_ids"] = events
        return True

    def _clear(self, conn: Connection, env: Mapping[str, Any], match_key: str) -> None:
        if self._open_rows is not None:
            found = self._open_rows.matching(match_key, uncleared=True)
        else:
            found = rows(conn.execute(sql(
                "SELECT exception_id, opened_at, event_ids FROM review_exceptions "
                "WHERE match_key = :k AND status = 'open'"), {"k": match_key}))
        at = when(env)
        for row in found:
            events = dumps([*loads(row["event_ids"]), env["event_id"]])
            conn.execute(sql(
                "UPDATE review_exceptions SET status = 'resolved', cleared = TRUE, resolved_at = :at, "
                "resolved_event_id = :e, duration_s = :d, event_ids = :events "
                "WHERE exception_id = :id"),
                {"at": at, "e": env["event_id"],
                 "d": (micros(at) - micros(row["opened_at"])) // 1_000_000,
                 "events": events, "id": row["exception_id"]})
            if self._open_rows is not None:
                row.update(status="resolved", event_ids=events)
                self._open_rows.settle(row)

    def _disposition(self, conn: Connection, env: Mapping[str, Any], effect: Dispositioned) -> None:
        if self._open_rows is not None:
            if effect.match_key is not None:
                self._clear(conn, env, effect.match_key)
                found = self._open_rows.matching(effect.match_key, undispositioned=True)
            else:
                found = [row for exception_id in effect.exception_ids
                         if (row := self._open_rows.by_id.get(exception_id)) is not None and row["state"] == "open"]
        elif effect.match_key is not None:
            self._clear(conn, env, effect.match_key)
            found = rows(conn.execute(sql(
                "SELECT exception_id, event_ids FROM review_exceptions WHERE match_key = :k AND state = 'open'"),
                {"k": effect.match_key}))
        else:
            found = [row for exception_id in effect.exception_ids for row in rows(conn.execute(sql(
                "SELECT exception_id, event_ids FROM review_exceptions WHERE exception_id = :id AND state = 'open'"),
                {"id": exception_id}))]
        for row in found:
            events = loads(row["event_ids"])
            if events[-1] != env["event_id"]:
                events.append(env["event_id"])
            conn.execute(sql(
                "UPDATE review_exceptions SET state = 'dispositioned', classification = :c, deviation_id = :d, "
                "dispositioned_event_id = :e, event_ids = :events WHERE exception_id = :id"),
                {"c": effect.classification, "d": effect.deviation_id, "e": env["event_id"],
                 "events": dumps(events), "id": row["exception_id"]})
            if self._open_rows is not None:
                row.update(state="dispositioned", event_ids=dumps(events))
                self._open_rows.settle(row)
