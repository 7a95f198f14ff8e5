"""The custody read model: per unit, who held it, where, from when to when.

Custody follows the domain: a ``CustodyTransferred`` is an offer; the holder changes only
when the receiver's ``CustodyAcknowledged`` arrives (``CustodyDeclined`` leaves it with the
sender). A container's moves are repeated on each contained unit's stream (``via_container``),
so every unit's timeline is built from its own stream alone.

* ``custody_intervals``: holder intervals; a new one starts at an acknowledgement and when a
  delivery changes the location. The last one ends when the unit is infused, disposed of
  or consumed by manufacturing.
* ``custody_transfers``: every offer with its outcome; ``custody_shipments``: dispatch/delivery.
* Gaps are judged at query time against ``now`` and the limits given (they are settings,
  not facts of the log): a handover acknowledged later than ``handover_limit`` (a span with
  no confirmed holder), a transfer still pending after it, a shipment delivered after
  ``delivery_sla`` or still undelivered after it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from .common import ReadModel, micros, rows, sql, utc_text, when

HANDOVER_LIMIT = timedelta(hours=2)
DELIVERY_SLA = timedelta(hours=48)
ENDINGS = {"ProductInfused": "infused", "UnitDisposed": "disposed", "UnitsDerived": "consumed",
           "ManufacturingStarted": "consumed"}


class CustodyProjection(ReadModel):
    name = "custody"
    tables = ("custody_units", "custody_intervals", "custody_transfers", "custody_shipments")

    def __init__(self) -> None:
        super().__init__()
        self._units: dict[str, dict[str, Any]] = {}

    def begin_batch(self) -> None:
        """Forget the unit rows kept from the previous batch (another follower may have moved on)."""
        self._units = {}

    def apply(self, conn: Connection, position: int, event: Any) -> None:
        super().apply(conn, position, event)
        env = event.envelope if hasattr(event, "envelope") else event
        ending = ENDINGS.get(env["type"])
        if ending == "consumed" and not env["data"].get("consumed", True):
            ending = None
        if ending is not None:
            unit = self._unit(conn, env["stream"])
            if unit is not None and unit["ended_at"] is None:
                self._close_interval(conn, unit, env)
                self._update_unit(conn, env["stream"], ended_at=when(env), ended_by=ending)

    def _unit(self, conn: Connection, unit_id: str) -> dict[str, Any] | None:
        """The unit's row as it stands in this batch (a copy: handlers read it, never write it)."""
        cached = self._units.get(unit_id)
        if cached is None:
            found = rows(conn.execute(sql("SELECT * FROM custody_units WHERE unit_id = :u"),
                                      {"u": unit_id}))
            if not found:
                return None
            cached = self._units[unit_id] = found[0]
        return dict(cached)

    def _update_unit(self, conn: Connection, unit_id: str, **fields: Any) -> None:
        assignments = ", ".join(f"{name} = :{name}" for name in sorted(fields))
        conn.execute(sql(f"UPDATE custody_units SET {assignments} WHERE unit_id = :unit_id"),  # noqa: S608
                     {**fields, "unit_id": unit_id})
        cached = self._units.get(unit_id)
        if cached is not None:
            cached.update(fields)

    def _open_interval(self, conn: Connection, unit: dict[str, Any], env: Mapping[str, Any],
                       holder: str, location: str | None) -> None:
        idx = unit["intervals"] + 1
        conn.execute(sql(
            "INSERT INTO custody_intervals (unit_id, idx, holder, location, from_at, to_at, "
            "start_event_id, end_event_id, via_container) VALUES (:u, :i, :h, :l, :f, NULL, :e, "
            "NULL, :v)"), {"u": unit["unit_id"], "i": idx, "h": holder, "l": location,
                           "f": when(env), "e": env["event_id"],
                           "v": env["data"].get("via_container")})
        self._update_unit(conn, unit["unit_id"], intervals=idx, custodian=holder, location=location)

    def _close_interval(self, conn: Connection, unit: dict[str, Any],
                        env: Mapping[str, Any]) -> None:
        conn.execute(sql("UPDATE custody_intervals SET to_at = :t, end_event_id = :e "
                          "WHERE unit_id = :u AND idx = :i"),
                     {"t": when(env), "e": env["event_id"], "u": unit["unit_id"],
                      "i": unit["intervals"]})

    def on_UnitLabelled(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        d = env["data"]
        unit = {"unit_id": env["stream"], "coi": d["coi"], "label": d["label"], "kind": d["kind"],
                "custodian": None, "location": None, "container": None, "intervals": 0,
                "transfers": 0, "shipments": 0, "ended_at": None, "ended_by": None,
                "labelled_position": position}
        conn.execute(sql(
            "INSERT INTO custody_units (unit_id, coi, label, kind, custodian, location, "
            "container, intervals, transfers, shipments, ended_at, ended_by, labelled_position) "
            "VALUES (:unit_id, :coi, :label, :kind, :custodian, :location, :container, "
            ":intervals, :transfers, :shipments, :ended_at, :ended_by, :labelled_position)"), unit)
        self._units[env["stream"]] = dict(unit)
        self._open_interval(conn, unit, env, d["custodian"], env.get("site"))

    def on_CustodyTransferred(self, conn: Connection, position: int,
                              env: Mapping[str, Any]) -> None:
        unit = self._unit(conn, env["stream"])
        if unit is None:
            return
        d = env["data"]
        idx = unit["transfers"] + 1
        conn.execute(sql(
            "INSERT INTO custody_transfers (unit_id, idx, from_party, to_party, location, "
            "offered_at, outcome, closed_at, offer_event_id, close_event_id, via_container) "
            "VALUES (:u, :i, :f, :t, :l, :at, NULL, NULL, :e, NULL, :v)"),
            {"u": unit["unit_id"], "i": idx, "f": d["from_party"], "t": d["to_party"],
             "l": d.get("location"), "at": when(env), "e": env["event_id"],
             "v": d.get("via_container")})
        self._update_unit(conn, unit["unit_id"], transfers=idx)

    def _close_transfer(self, conn: Connection, unit: dict[str, Any], env: Mapping[str, Any],
                        outcome: str) -> None:
        conn.execute(sql(
            "UPDATE custody_transfers SET outcome = :o, closed_at = :t, close_event_id = :e "
            "WHERE unit_id = :u AND idx = :i AND outcome IS NULL"),
            {"o": outcome, "t": when(env), "e": env["event_id"], "u": unit["unit_id"],
             "i": unit["transfers"]})

    def on_CustodyAcknowledged(self, conn: Connection, position: int,
                               env: Mapping[str, Any]) -> None:
        unit = self._unit(conn, env["stream"])
        if unit is None:
            return
        self._close_transfer(conn, unit, env, "acknowledged")
        self._close_interval(conn, unit, env)
        self._open_interval(conn, unit, env, env["data"]["to_party"],
                            env["data"].get("location") or unit["location"])

    def on_CustodyDeclined(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        unit = self._unit(conn, env["stream"])
        if unit is not None:
            self._close_transfer(conn, unit, env, "declined")

    def on_PackedInto(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        if env["stream"] == env["data"]["unit"]:
            self._update_unit(conn, env["stream"], container=env["data"]["container"])

    def on_UnpackedFrom(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        if env["stream"] == env["data"]["unit"]:
            self._update_unit(conn, env["stream"], container=None)

    def on_ShipmentDispatched(self, conn: Connection, position: int,
                              env: Mapping[str, Any]) -> None:
        unit = self._unit(conn, env["stream"])
        if unit is None:
            return
        d = env["data"]
        idx = unit["shipments"] + 1
        conn.execute(sql(
            "INSERT INTO custody_shipments (unit_id, idx, carrier, tracking, from_site, to_site, "
            "dispatched_at, delivered_at, dispatch_event_id, delivery_event_id, via_container) "
            "VALUES (:u, :i, :c, :t, :f, :to, :at, NULL, :e, NULL, :v)"),
            {"u": unit["unit_id"], "i": idx, "c": d["carrier"], "t": d["tracking"],
             "f": d["from_site"], "to": d["to_site"], "at": when(env), "e": env["event_id"],
             "v": d.get("via_container")})
        self._update_unit(conn, unit["unit_id"], shipments=idx)

    def on_ShipmentDelivered(self, conn: Connection, position: int,
                             env: Mapping[str, Any]) -> None:
        unit = self._unit(conn, env["stream"])
        if unit is None:
            return
        conn.execute(sql(
            "UPDATE custody_shipments SET delivered_at = :t, delivery_event_id = :e "
            "WHERE unit_id = :u AND idx = :i AND delivered_at IS NULL"),
            {"t": when(env), "e": env["event_id"], "u": unit["unit_id"], "i": unit["shipments"]})
        if unit["ended_at"] is None and unit["custodian"] is not None:
            self._close_interval(conn, unit, env)
            self._open_interval(conn, unit, env, unit["custodian"], env["data"]["to_site"])


def _gap(kind: str, start: str, end: str | None, seconds: float, events: list[str | None],
         **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "from": start, "to": end, "duration_s": int(seconds),
            "event_ids": [e for e in events if e], **extra}


def _seconds(start: str, end: str) -> float:
    return (micros(end) - micros(start)) / 1e6


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
    found = rows(conn.execute(sql(
        "SELECT unit_id, coi, label, kind, custodian, location, container, ended_at, ended_by "
        "FROM custody_units WHERE unit_id = :u"), {"u": unit_id}))
    if not found:
        return None
    out = found[0]
    out["intervals"] = rows(conn.execute(sql(
        "SELECT holder, location, from_at AS \"from\", to_at AS \"to\", via_container, "
        "start_event_id, end_event_id FROM custody_intervals WHERE unit_id = :u ORDER BY idx"),
        {"u": unit_id}))
    out["transfers"] = rows(conn.execute(sql(
        "SELECT from_party, to_party, location, offered_at, outcome, closed_at, offer_event_id, "
        "close_event_id, via_container FROM custody_transfers WHERE unit_id = :u ORDER BY idx"),
        {"u": unit_id}))
    out["shipments"] = rows(conn.execute(sql(
        "SELECT carrier, tracking, from_site, to_site, dispatched_at, delivered_at, "
        "dispatch_event_id, delivery_event_id, via_container FROM custody_shipments "
        "WHERE unit_id = :u ORDER BY idx"), {"u": unit_id}))
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
