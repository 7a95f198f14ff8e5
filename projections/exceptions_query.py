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
 OR (kind = 'overdue_handoff' AND ((status = 'open' AND opened_at < :hc)
                                   OR (status = 'resolved' AND duration_s > :hs)))
 OR (kind = 'overdue_delivery' AND ((status = 'open' AND opened_at < :dc)
                                    OR (status = 'resolved' AND duration_s > :ds))))"""


def exceptions(conn: Connection, *, coi: str | None = None, status: str = "open",
               now: datetime | str, handover_limit: timedelta = HANDOVER_LIMIT,
               delivery_sla: timedelta = DELIVERY_SLA, limit: int = MAX_LIST,
               scope: ReadScope = EVERYTHING) -> list[dict[str, Any]]:
    """Exceptions in ``scope``, in log order; ``status`` is ``open``, ``resolved`` or ``all``. Each::

        {exception_id, kind, status, coi, unit_id, subject, opened_at, event_ids: [...],
         detail, resolved_at, resolved_event_id, duration_s, age_s}

    ``age_s``: seconds from opening to ``now`` for an open exception, else None.
    """
    if status not in ("open", "resolved", "all"):
        raise ValueError("status is open, resolved or all")
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
    if status != "all":
        where.append("status = :status")
        params["status"] = status
    if not scope.everything:
        condition, more = scope.rows("coi", "unit_id")
        where.append(condition)
        params.update(more)
    found = rows(conn.execute(sql(
        "SELECT exception_id, kind, status, coi, unit_id, subject, opened_at, event_ids, detail, "
        "resolved_at, resolved_event_id, duration_s FROM review_exceptions "
        f"WHERE {' AND '.join(where)} ORDER BY opened_position, exception_id LIMIT :n"), params))
    for row in found:
        row["event_ids"] = loads(row["event_ids"])
        row["age_s"] = ((moment - micros(row["opened_at"])) // 1_000_000
                        if row["status"] == "open" else None)
    return found


def _before(moment_us: int, span: timedelta) -> str:
    return from_micros(moment_us - span // timedelta(microseconds=1))
