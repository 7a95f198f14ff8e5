"""The conditions read model: temperature uploads, packing intervals and excursions.

Storage is chosen for millions of readings: one ``condition_uploads`` row per logger upload
(``TemperatureRecorded``) with its readings as compact JSON ``[[t_us, celsius], ...]`` and
precomputed count/min/max/first/last, so a rebuild writes one row per upload, not one per
reading. Inheritance (readings of a container apply to what was packed in it at the time)
is resolved at query time from ``condition_packing`` intervals (see ``conditions_query``).

Excursions are the domain's own ``ExcursionDetected`` records (already resolved per unit,
including inherited readings) with the ``ExcursionAssessed`` decision, its assessor (the
e-signature manifestation: printed name, time, meaning) and rationale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection

from ledger.datatypes import EventData
from ledger.domain.corrections import takes_effect
from ledger.domain.events_case import CorrectionApproved, EventCorrected
from ledger.domain.events_quality import ExcursionAssessed, ExcursionDetected, Reading, TemperatureRecorded
from ledger.domain.events_unit import PackedInto, UnitLabelled, UnpackedFrom
from ledger.timefmt import format_utc

from .common import ReadModel, dumps, micros, sql, when


def compact(readings: Sequence[Reading]) -> tuple[list[list[Any]], dict[str, Any]]:
    """``[[t_us, celsius] ...]`` and the aggregates of one upload (readings in time order)."""
    points = [[micros(r.t), r.celsius] for r in readings]
    temps = [c for _, c in points]
    return points, {"first_us": points[0][0], "last_us": points[-1][0], "n": len(points),
                    "min_celsius": min(temps), "max_celsius": max(temps)}


class ConditionsProjection(ReadModel):
    name = "conditions"
    tables = ("condition_units", "condition_packing", "condition_uploads", "excursions")
    append_only = ("condition_uploads", "condition_units")  # not condition_packing: its close matches "to_us IS NULL"

    def __init__(self) -> None:
        super().__init__()
        self._excursions: set[str] | None = None  # None: read the table to know an excursion

    def sole_writer(self) -> None:
        super().sole_writer()
        self._excursions = set()

    def project(self, conn: Connection, position: int, env: Mapping[str, Any],
                data: EventData | None) -> None:
        stream = env["stream"]
        match data:
            case UnitLabelled(coi=coi, label=label, kind=kind, spec=spec):
                conn.execute(sql(
                    "INSERT INTO condition_units (unit_id, coi, label, kind, min_celsius, max_celsius) "
                    "VALUES (:u, :coi, :label, :kind, :lo, :hi)"),
                    {"u": stream, "coi": coi, "label": label, "kind": kind,
                     "lo": spec.min_celsius, "hi": spec.max_celsius})
            case PackedInto(unit=unit, container=container) if stream == str(unit):
                conn.execute(sql(
                    "INSERT INTO condition_packing (unit_id, container_id, from_us, to_us, "
                    "packed_event_id, unpacked_event_id) VALUES (:u, :c, :f, NULL, :e, NULL)"),
                    {"u": stream, "c": str(container), "f": micros(when(env)), "e": env["event_id"]})
            case UnpackedFrom(unit=unit, container=container) if stream == str(unit):
                conn.execute(sql(
                    "UPDATE condition_packing SET to_us = :t, unpacked_event_id = :e "
                    "WHERE unit_id = :u AND container_id = :c AND to_us IS NULL"),
                    {"t": micros(when(env)), "e": env["event_id"], "u": stream, "c": str(container)})
            case TemperatureRecorded(logger=logger, readings=readings):
                points, agg = compact(readings)
                conn.execute(sql(
                    "INSERT INTO condition_uploads (event_id, unit_id, logger, position, first_us, "
                    "last_us, n, min_celsius, max_celsius, readings) VALUES (:e, :u, :logger, :p, "
                    ":first_us, :last_us, :n, :min_celsius, :max_celsius, :readings)"),
                    {"e": env["event_id"], "u": stream, "logger": logger, "p": position,
                     "readings": dumps(points), **agg})
            case ExcursionDetected():
                self._detected(conn, position, env, data)
            case ExcursionAssessed(decision=decision, rationale=rationale, excursion_id=excursion):
                esign = env.get("esign") or {}
                conn.execute(sql(
                    "UPDATE excursions SET decision = :d, rationale = :r, assessed_by = :by, "
                    "assessor_name = :name, assessed_at = :at, assessed_event_id = :e "
                    "WHERE excursion_id = :x AND unit_id = :u AND decision IS NULL"),
                    {"d": decision, "r": rationale, "by": esign.get("signer") or env["actor"],
                     "name": esign.get("printed_name"), "at": esign.get("signed_at") or when(env),
                     "e": env["event_id"], "x": str(excursion), "u": stream})
            case EventCorrected() | CorrectionApproved() if takes_effect(data):
                self._corrected(conn, env, data)

    def _detected(self, conn: Connection, position: int, env: Mapping[str, Any], d: ExcursionDetected) -> None:
        excursion = str(d.excursion_id)
        if self._excursions is not None:
            if excursion in self._excursions:
                return
            self._excursions.add(excursion)
        elif conn.execute(sql("SELECT 1 FROM excursions WHERE excursion_id = :x"),
                          {"x": excursion}).first() is not None:
            return
        conn.execute(sql(
            "INSERT INTO excursions (excursion_id, unit_id, coi, source, logger, start_at, "
            "end_at, duration_s, min_celsius, max_celsius, limit_min, limit_max, readings, "
            "ongoing, detected_event_id, position) VALUES (:x, :u, :coi, :source, :logger, "
            ":start, :end, :duration, :lo, :hi, :limit_min, :limit_max, :n, :ongoing, :e, :p)"),
            {"x": excursion, "u": env["stream"],
             "coi": self.directory.coi(conn, env["stream"]), "source": str(d.source),
             "logger": d.logger, "start": format_utc(d.start), "end": format_utc(d.end),
             "duration": d.duration_s, "lo": d.min_celsius, "hi": d.max_celsius,
             "limit_min": d.limit_min, "limit_max": d.limit_max,
             "n": d.readings, "ongoing": 1 if d.ongoing else 0,
             "e": env["event_id"], "p": position})

    def _corrected(self, conn: Connection, env: Mapping[str, Any], d: EventCorrected | CorrectionApproved) -> None:
        new = {c.field: c.new for c in d.changes}
        target = str(d.corrected_event_id)
        if d.corrected_type == ExcursionAssessed.__name__:
            for field in ("decision", "rationale"):
                if field in new:
                    conn.execute(sql(f"UPDATE excursions SET {field} = :v "
                                      "WHERE assessed_event_id = :e"), {"v": new[field], "e": target})
        elif d.corrected_type == TemperatureRecorded.__name__:
            if "logger" in new:
                conn.execute(sql("UPDATE condition_uploads SET logger = :v WHERE event_id = :e"),
                             {"v": new["logger"], "e": target})
            if "readings" in new:
                points, agg = compact([Reading.model_validate(r) for r in new["readings"]])
                conn.execute(sql(
                    "UPDATE condition_uploads SET first_us = :first_us, last_us = :last_us, "
                    "n = :n, min_celsius = :min_celsius, max_celsius = :max_celsius, "
                    "readings = :readings WHERE event_id = :e"),
                    {"readings": dumps(points), "e": target, **agg})
        elif d.corrected_type == UnitLabelled.__name__ and "spec" in new:
            spec = new["spec"] or {}
            conn.execute(sql("UPDATE condition_units SET min_celsius = :lo, max_celsius = :hi "
                              "WHERE unit_id = :u"),
                         {"lo": spec.get("min_celsius"), "hi": spec.get("max_celsius"),
                          "u": env["stream"]})
