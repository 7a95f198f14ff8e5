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
from typing import Any
from uuid import UUID

from sqlalchemy import Connection

from ledger.datatypes import EventData
from ledger.domain.events_quality import ManufacturingStarted, ProductInfused, UnitDisposed, UnitsDerived
from ledger.domain.events_unit import (
    CustodyAcknowledged,
    CustodyDeclined,
    CustodyTransferred,
    PackedInto,
    ShipmentDelivered,
    ShipmentDispatched,
    UnitLabelled,
    UnpackedFrom,
)

from .common import ReadModel, id_text, rows, sql, when

MUTABLE = ("custodian", "location", "container", "intervals", "transfers", "shipments", "ended_at", "ended_by")
UNIT_SET = ", ".join(f"{name} = :{name}" for name in MUTABLE)


class CustodyProjection(ReadModel):
    name = "custody"
    tables = ("custody_units", "custody_intervals", "custody_transfers", "custody_shipments")
    append_only = tables

    def __init__(self) -> None:
        super().__init__()
        self._units: dict[str, dict[str, Any]] = {}
        self._dirty: set[str] = set()  # units whose row changed in this batch
        self._all_units = False  # True: _units holds every row (sole writer), kept across batches

    def sole_writer(self) -> None:
        super().sole_writer()
        self._all_units = True

    def begin_batch(self) -> None:
        """Forget the unit rows kept from the previous batch (another follower may have moved on)."""
        super().begin_batch()
        if not self._all_units:
            self._units = {}
        self._dirty = set()

    def finish_batch(self, conn: Connection) -> None:
        """Each unit row the batch changed is written once, as it stands (not once per event)."""
        if self._dirty:
            conn.execute(sql(f"UPDATE custody_units SET {UNIT_SET} WHERE unit_id = :unit_id"),  # noqa: S608
                         [{k: self._units[u][k] for k in (*MUTABLE, "unit_id")} for u in sorted(self._dirty)])
            self._dirty = set()

    def project(self, conn: Connection, position: int, env: Mapping[str, Any],
                data: EventData | None) -> None:
        stream = env["stream"]
        match data:
            case UnitLabelled():
                self._labelled(conn, position, env, data)
            case CustodyTransferred():
                self._offered(conn, env, data)
            case CustodyAcknowledged(to_party=to_party, location=location):
                unit = self._unit(conn, stream)
                if unit is not None:
                    self._close_transfer(conn, unit, env, "acknowledged")
                    self._close_interval(conn, unit, env)
                    self._open_interval(conn, unit, env, to_party, location or unit["location"],
                                        data.via_container)
            case CustodyDeclined():
                unit = self._unit(conn, stream)
                if unit is not None:
                    self._close_transfer(conn, unit, env, "declined")
            case PackedInto(unit=packed, container=container) if stream == str(packed):
                self._update_unit(conn, stream, container=str(container))
            case UnpackedFrom(unit=unpacked) if stream == str(unpacked):
                self._update_unit(conn, stream, container=None)
            case ShipmentDispatched():
                self._dispatched(conn, env, data)
            case ShipmentDelivered(to_site=to_site, via_container=via):
                self._delivered(conn, env, to_site, via)
        match data:  # the last holder's interval ends with the unit
            case ProductInfused():
                self._end(conn, env, "infused")
            case UnitDisposed():
                self._end(conn, env, "disposed")
            case UnitsDerived(consumed=True) | ManufacturingStarted():
                self._end(conn, env, "consumed")

    def _end(self, conn: Connection, env: Mapping[str, Any], ending: str) -> None:
        unit = self._unit(conn, env["stream"])
        if unit is not None and unit["ended_at"] is None:
            self._close_interval(conn, unit, env)
            self._update_unit(conn, env["stream"], ended_at=when(env), ended_by=ending)

    def _unit(self, conn: Connection, unit_id: str) -> dict[str, Any] | None:
        """The unit's row as it stands in this batch (a copy: handlers read it, never write it)."""
        cached = self._units.get(unit_id)
        if cached is None:
            if self._all_units:
                return None
            found = rows(conn.execute(sql("SELECT * FROM custody_units WHERE unit_id = :u"),
                                      {"u": unit_id}))
            if not found:
                return None
            cached = self._units[unit_id] = found[0]
        return dict(cached)

    def _update_unit(self, conn: Connection, unit_id: str, **fields: Any) -> None:
        cached = self._units.get(unit_id)
        if cached is not None:  # written at the end of the batch
            cached.update(fields)
            self._dirty.add(unit_id)
            return
        assignments = ", ".join(f"{name} = :{name}" for name in sorted(fields))
        conn.execute(sql(f"UPDATE custody_units SET {assignments} WHERE unit_id = :unit_id"),  # noqa: S608
                     {**fields, "unit_id": unit_id})

    def _open_interval(self, conn: Connection, unit: dict[str, Any], env: Mapping[str, Any],
                       holder: str, location: str | None, via: UUID | None) -> None:
        idx = unit["intervals"] + 1
        conn.execute(sql(
            "INSERT INTO custody_intervals (unit_id, idx, holder, location, from_at, to_at, "
            "start_event_id, end_event_id, via_container) VALUES (:u, :i, :h, :l, :f, NULL, :e, "
            "NULL, :v)"), {"u": unit["unit_id"], "i": idx, "h": holder, "l": location,
                           "f": when(env), "e": env["event_id"],
                           "v": id_text(via)})
        self._update_unit(conn, unit["unit_id"], intervals=idx, custodian=holder, location=location)

    def _close_interval(self, conn: Connection, unit: dict[str, Any],
                        env: Mapping[str, Any]) -> None:
        conn.execute(sql("UPDATE custody_intervals SET to_at = :t, end_event_id = :e "
                          "WHERE unit_id = :u AND idx = :i"),
                     {"t": when(env), "e": env["event_id"], "u": unit["unit_id"],
                      "i": unit["intervals"]})

    def _labelled(self, conn: Connection, position: int, env: Mapping[str, Any], d: UnitLabelled) -> None:
        unit = {"unit_id": env["stream"], "coi": d.coi, "label": d.label, "kind": d.kind,
                "custodian": None, "location": None, "container": None, "intervals": 0,
                "transfers": 0, "shipments": 0, "ended_at": None, "ended_by": None,
                "labelled_position": position}
        conn.execute(sql(
            "INSERT INTO custody_units (unit_id, coi, label, kind, custodian, location, "
            "container, intervals, transfers, shipments, ended_at, ended_by, labelled_position) "
            "VALUES (:unit_id, :coi, :label, :kind, :custodian, :location, :container, "
            ":intervals, :transfers, :shipments, :ended_at, :ended_by, :labelled_position)"), unit)
        self._units[env["stream"]] = dict(unit)
        self._open_interval(conn, unit, env, d.custodian, env.get("site"), None)

    def _offered(self, conn: Connection, env: Mapping[str, Any], d: CustodyTransferred) -> None:
        unit = self._unit(conn, env["stream"])
        if unit is None:
            return
        idx = unit["transfers"] + 1
        conn.execute(sql(
            "INSERT INTO custody_transfers (unit_id, idx, from_party, to_party, location, "
            "offered_at, outcome, closed_at, offer_event_id, close_event_id, via_container) "
            "VALUES (:u, :i, :f, :t, :l, :at, NULL, NULL, :e, NULL, :v)"),
            {"u": unit["unit_id"], "i": idx, "f": d.from_party, "t": d.to_party,
             "l": d.location, "at": when(env), "e": env["event_id"], "v": id_text(d.via_container)})
        self._update_unit(conn, unit["unit_id"], transfers=idx)

    def _close_transfer(self, conn: Connection, unit: dict[str, Any], env: Mapping[str, Any],
                        outcome: str) -> None:
        conn.execute(sql(
            "UPDATE custody_transfers SET outcome = :o, closed_at = :t, close_event_id = :e "
            "WHERE unit_id = :u AND idx = :i AND outcome IS NULL"),
            {"o": outcome, "t": when(env), "e": env["event_id"], "u": unit["unit_id"],
             "i": unit["transfers"]})

    def _dispatched(self, conn: Connection, env: Mapping[str, Any], d: ShipmentDispatched) -> None:
        unit = self._unit(conn, env["stream"])
        if unit is None:
            return
        idx = unit["shipments"] + 1
        conn.execute(sql(
            "INSERT INTO custody_shipments (unit_id, idx, carrier, tracking, from_site, to_site, "
            "dispatched_at, delivered_at, dispatch_event_id, delivery_event_id, via_container) "
            "VALUES (:u, :i, :c, :t, :f, :to, :at, NULL, :e, NULL, :v)"),
            {"u": unit["unit_id"], "i": idx, "c": d.carrier, "t": d.tracking,
             "f": d.from_site, "to": d.to_site, "at": when(env), "e": env["event_id"],
             "v": id_text(d.via_container)})
        self._update_unit(conn, unit["unit_id"], shipments=idx)

    def _delivered(self, conn: Connection, env: Mapping[str, Any], to_site: str, via: UUID | None) -> None:
        unit = self._unit(conn, env["stream"])
        if unit is None:
            return
        conn.execute(sql(
            "UPDATE custody_shipments SET delivered_at = :t, delivery_event_id = :e "
            "WHERE unit_id = :u AND idx = :i AND delivered_at IS NULL"),
            {"t": when(env), "e": env["event_id"], "u": unit["unit_id"], "i": unit["shipments"]})
        if unit["ended_at"] is None and unit["custodian"] is not None:
            self._close_interval(conn, unit, env)
            self._open_interval(conn, unit, env, unit["custodian"], to_site, via)
