"""Queries of the custody read model (see ``projections.custody``): a unit's timeline and its gaps,
judged at query time against ``now`` and the limits given (settings, not facts of the log)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from ledger.domain.exceptions import TIMED

from .common import micros, sql, utc_text

HANDOVER_LIMIT = TIMED["overdue_handoff"]  # a handover offered and not taken for longer is a custody gap
DELIVERY_SLA = TIMED["overdue_delivery"]  # a shipment not delivered within this is overdue


def _gap(kind: str, start: str, end: str | None, seconds: float, events: list[str | None],
         **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "from": start, "to": end, "duration_s": int(seconds),
            "event_ids": [e for e in events if e], **extra}


def _seconds(start: str, end: str) -> float:
    return (micros(end) - micros(start)) / 1e6


# One query for the whole timeline (one round trip instead of four): the unit's row and its
# intervals, transfers and shipments, in that order, each branch's columns in these orders (all
# text, so the union's columns agree on both SQLite and PostgreSQL).
_UNIT = ("unit_id", "coi", "label", "kind", "custodian", "location", "container", "ended_at", "ended_by")
_INTERVAL = ("holder", "location", "from", "to", "via_container", "start_event_id", "end_event_id")
_TRANSFER = ("from_party", "to_party", "location", "offered_at", "outcome", "closed_at", "offer_event_id",
             "close_event_id", "via_container")
_SHIPMENT = ("carrier", "tracking", "from_site", "to_site", "dispatched_at", "delivered_at", "dispatch_event_id",
             "delivery_event_id", "via_container")
_TIMELINE = sql(
    "SELECT 0 AS part, 0 AS idx, unit_id AS c1, coi AS c2, label AS c3, kind AS c4, custodian AS c5, "
    "location AS c6, container AS c7, ended_at AS c8, ended_by AS c9 FROM custody_units WHERE unit_id = :u "
    "UNION ALL SELECT 1, idx, holder, location, from_at, to_at, via_container, start_event_id, end_event_id, "
    "NULL, NULL FROM custody_intervals WHERE unit_id = :u "
    "UNION ALL SELECT 2, idx, from_party, to_party, location, offered_at, outcome, closed_at, offer_event_id, "
    "close_event_id, via_container FROM custody_transfers WHERE unit_id = :u "
    "UNION ALL SELECT 3, idx, carrier, tracking, from_site, to_site, dispatched_at, delivered_at, "
    "dispatch_event_id, delivery_event_id, via_container FROM custody_shipments WHERE unit_id = :u "
    "ORDER BY part, idx")


def custody_timeline(conn: Connection, unit_id: str, *, now: datetime | str | None = None,
                     handover_limit: timedelta = HANDOVER_LIMIT,
                     delivery_sla: timedelta = DELIVERY_SLA) -> dict[str, Any] | None:
    """The unit's custody, or None for an unknown unit::

        {unit_id, coi, label, kind, custodian, location, container, ended_at, ended_by,
         intervals: [{holder, location, from, to, via_container, start_event_id, end_event_id}],
         transfers: [{from_party, to_party, location, offered_at, outcome, closed_at,
                      offer_event_id, close_event_id, via_container}],
         shipments: [{carrier, tracking, from_site, to_site, dispatched_at, delivered_at,
                      dispatch_event_id, delivery_event_id, via_container}],
         pending_transfer: {...one of transfers...} | None,
         gaps: [{kind, from, to, duration_s, event_ids, party?}]}

    Gap kinds: ``handover_gap``, ``pending_transfer_overdue``, ``late_delivery``,
    ``delivery_overdue`` (the open-ended ones only when ``now`` is given).
    """
    unit_id = str(unit_id)
    parts: list[list[tuple[Any, ...]]] = [[], [], [], []]
    for part, _idx, *values in conn.execute(_TIMELINE, {"u": unit_id}):
        parts[part].append(tuple(values))
    if not parts[0]:
        return None
    out = dict(zip(_UNIT, parts[0][0], strict=False))
    out["intervals"] = [dict(zip(_INTERVAL, r, strict=False)) for r in parts[1]]
    out["transfers"] = [dict(zip(_TRANSFER, r, strict=False)) for r in parts[2]]
    out["shipments"] = [dict(zip(_SHIPMENT, r, strict=False)) for r in parts[3]]
    pending = [t for t in out["transfers"] if t["outcome"] is None]
    out["pending_transfer"] = pending[-1] if pending else None
    now_text = utc_text(now) if now is not None else None
    limit, sla = handover_limit.total_seconds(), delivery_sla.total_seconds()
    gaps = []
    for t in out["transfers"]:
        events = [t["offer_event_id"], t["close_event_id"]]
        if t["outcome"] == "acknowledged" and _seconds(t["offered_at"], t["closed_at"]) > limit:
            gaps.append(_gap("handover_gap", t["offered_at"], t["closed_at"],
                             _seconds(t["offered_at"], t["closed_at"]), events,
                             party=t["to_party"]))
        elif t["outcome"] is None and now_text and _seconds(t["offered_at"], now_text) > limit:
            gaps.append(_gap("pending_transfer_overdue", t["offered_at"], None,
                             _seconds(t["offered_at"], now_text), events, party=t["to_party"]))
    for s in out["shipments"]:
        events = [s["dispatch_event_id"], s["delivery_event_id"]]
        if s["delivered_at"] and _seconds(s["dispatched_at"], s["delivered_at"]) > sla:
            gaps.append(_gap("late_delivery", s["dispatched_at"], s["delivered_at"],
                             _seconds(s["dispatched_at"], s["delivered_at"]), events,
                             tracking=s["tracking"]))
        elif not s["delivered_at"] and now_text and _seconds(s["dispatched_at"], now_text) > sla:
            gaps.append(_gap("delivery_overdue", s["dispatched_at"], None,
                             _seconds(s["dispatched_at"], now_text), events,
                             tracking=s["tracking"]))
    out["gaps"] = sorted(gaps, key=lambda g: (g["from"], g["kind"]))
    return out


def units_of_case(conn: Connection, coi: str) -> list[str]:
    """The ids of the units labelled for the case ``coi``."""
    return [row[0] for row in conn.execute(sql(
        "SELECT unit_id FROM custody_units WHERE coi = :c ORDER BY labelled_position"), {"c": coi})]
