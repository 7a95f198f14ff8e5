"""Queries of the review-by-exception read model (see ``projections.exceptions``): the list QA
reviews, with the timed kinds (overdue handover, overdue delivery) judged at ``now``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from .common import from_micros, loads, micros, rows, sql, utc_text
from .custody_query import DELIVERY_SLA, HANDOVER_LIMIT
from .scope_query import EVERYTHING, ReadScope

MAX_LIST = 1000

TIMED = """(kind NOT IN ('overdue_handoff', 'overdue_delivery')
 OR (kind = 'overdue_handoff' AND ((cleared = FALSE AND opened_at < :hc)
                                   OR (cleared = TRUE AND duration_s > :hs)))
 OR (kind = 'overdue_delivery' AND ((cleared = FALSE AND opened_at < :dc)
                                    OR (cleared = TRUE AND duration_s > :ds))))"""
STATES = ("open", "dispositioned", "all")
SEVERITIES = ("coi_critical", "gmp", "informational")
COLUMNS = ("exception_id, kind, severity, state, cleared, classification, deviation_id, dispositioned_event_id, "
           "coi, unit_id, subject, opened_at, opened_hash, event_ids, detail, resolved_at, resolved_event_id, "
           "duration_s")


def exceptions(conn: Connection, *, coi: str | None = None, state: str = "open", severity: str | None = None,
               now: datetime | str, handover_limit: timedelta = HANDOVER_LIMIT,
               delivery_sla: timedelta = DELIVERY_SLA, limit: int = MAX_LIST,
               scope: ReadScope = EVERYTHING) -> list[dict[str, Any]]:
    """Exceptions in ``scope``, in log order; ``state`` is ``open`` (not yet dispositioned by QA),
    ``dispositioned`` or ``all``; ``severity`` one of ``SEVERITIES`` or None for all. Each::

        {exception_id, kind, severity, state, cleared, classification, deviation_id,
         dispositioned_event_id, coi, unit_id, subject, opened_at, opened_hash, event_ids: [...],
         detail, resolved_at, resolved_event_id, duration_s, age_s}

    ``resolved_*`` and ``duration_s`` tell when a later event cleared it (``cleared``), which
    does not close it; ``age_s``: seconds from opening to ``now`` while open, else None.
    """
    if state not in STATES:
        raise ValueError("state is open, dispositioned or all")
    if severity is not None and severity not in SEVERITIES:
        raise ValueError("severity is coi_critical, gmp or informational")
    moment = micros(utc_text(now))
    params: dict[str, Any] = {
        "hc": _before(moment, handover_limit), "dc": _before(moment, delivery_sla),
        "hs": handover_limit.total_seconds(),
        "ds": delivery_sla.total_seconds(), "n": max(1, min(limit, MAX_LIST)),
        "now": utc_text(now)}
    where = [TIMED, "opened_at <= :now"]
    if coi is not None:
        where.append("coi = :coi")
        params["coi"] = coi
    if state != "all":
        where.append("state = :state")
        params["state"] = state
    if severity is not None:
        where.append("severity = :severity")
        params["severity"] = severity
    if not scope.everything:
        condition, more = scope.rows("coi", "unit_id")
        where.append(condition)
        params.update(more)
    found = rows(conn.execute(sql(
        f"SELECT {COLUMNS} FROM review_exceptions "  # noqa: S608 - fixed column names
        f"WHERE {' AND '.join(where)} ORDER BY opened_position, exception_id LIMIT :n"), params))
    for row in found:
        row["event_ids"] = loads(row["event_ids"])
        row["cleared"] = bool(row["cleared"])
        row["age_s"] = ((moment - micros(row["opened_at"])) // 1_000_000
                        if row["state"] == "open" else None)
    return found


def stream_of_event(conn: Connection, event_id: str) -> str | None:
    """The stream an event was appended to (from the audit trail), None for an unknown id."""
    row = conn.execute(sql("SELECT stream FROM audit_trail WHERE event_id = :e"), {"e": event_id}).first()
    return None if row is None else str(row[0])


def _before(moment_us: int, span: timedelta) -> str:
    return from_micros(moment_us - span // timedelta(microseconds=1))
