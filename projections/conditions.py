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

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from .common import ReadModel, dumps, micros, sql, when


def compact(readings: list[Mapping[str, Any]]) -> tuple[list[list[Any]], dict[str, Any]]:
    """``[[t_us, celsius] ...]`` and the aggregates of one upload (readings in time order)."""
    points = [[micros(r["t"]), float(r["celsius"])] for r in readings]
    temps = [c for _, c in points]
    return points, {"first_us": points[0][0], "last_us": points[-1][0], "n": len(points),
                    "min_celsius": min(temps), "max_celsius": max(temps)}


class ConditionsProjection(ReadModel):
    name = "conditions"
    tables = ("condition_units", "condition_packing", "condition_uploads", "excursions")

    def on_UnitLabelled(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        d = env["data"]
        spec = d.get("spec") or {}
        conn.execute(sql(
            "INSERT INTO condition_units (unit_id, coi, label, kind, min_celsius, max_celsius) "
            "VALUES (:u, :coi, :label, :kind, :lo, :hi)"),
            {"u": env["stream"], "coi": d["coi"], "label": d["label"], "kind": d["kind"],
             "lo": spec.get("min_celsius"), "hi": spec.get("max_celsius")})

    def on_PackedInto(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        d = env["data"]
        if env["stream"] != d["unit"]:
            return
        conn.execute(sql(
            "INSERT INTO condition_packing (unit_id, container_id, from_us, to_us, "
            "packed_event_id, unpacked_event_id) VALUES (:u, :c, :f, NULL, :e, NULL)"),
            {"u": d["unit"], "c": d["container"], "f": micros(when(env)), "e": env["event_id"]})

    def on_UnpackedFrom(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        d = env["data"]
        if env["stream"] != d["unit"]:
            return
        conn.execute(sql(
            "UPDATE condition_packing SET to_us = :t, unpacked_event_id = :e "
            "WHERE unit_id = :u AND container_id = :c AND to_us IS NULL"),
            {"t": micros(when(env)), "e": env["event_id"], "u": d["unit"], "c": d["container"]})

    def on_TemperatureRecorded(self, conn: Connection, position: int,
                               env: Mapping[str, Any]) -> None:
        d = env["data"]
        points, agg = compact(d["readings"])
        conn.execute(sql(
            "INSERT INTO condition_uploads (event_id, unit_id, logger, position, first_us, "
            "last_us, n, min_celsius, max_celsius, readings) VALUES (:e, :u, :logger, :p, "
            ":first_us, :last_us, :n, :min_celsius, :max_celsius, :readings)"),
            {"e": env["event_id"], "u": env["stream"], "logger": d["logger"], "p": position,
             "readings": dumps(points), **agg})

    def on_ExcursionDetected(self, conn: Connection, position: int,
                             env: Mapping[str, Any]) -> None:
        d = env["data"]
        known = conn.execute(sql("SELECT 1 FROM excursions WHERE excursion_id = :x"),
                             {"x": d["excursion_id"]}).first()
        if known is not None:
            return
        conn.execute(sql(
            "INSERT INTO excursions (excursion_id, unit_id, coi, source, logger, start_at, "
            "end_at, duration_s, min_celsius, max_celsius, limit_min, limit_max, readings, "
            "ongoing, detected_event_id, position) VALUES (:x, :u, :coi, :source, :logger, "
            ":start, :end, :duration, :lo, :hi, :limit_min, :limit_max, :n, :ongoing, :e, :p)"),
            {"x": d["excursion_id"], "u": env["stream"],
             "coi": self.directory.coi(conn, env["stream"]), "source": d["source"],
             "logger": d["logger"], "start": d["start"], "end": d["end"],
             "duration": d["duration_s"], "lo": d["min_celsius"], "hi": d["max_celsius"],
             "limit_min": d.get("limit_min"), "limit_max": d.get("limit_max"),
             "n": d["readings"], "ongoing": 1 if d.get("ongoing") else 0,
             "e": env["event_id"], "p": position})

    def on_ExcursionAssessed(self, conn: Connection, position: int,
                             env: Mapping[str, Any]) -> None:
        d = env["data"]
        esign = env.get("esign") or {}
        conn.execute(sql(
            "UPDATE excursions SET decision = :d, rationale = :r, assessed_by = :by, "
            "assessor_name = :name, assessed_at = :at, assessed_event_id = :e "
            "WHERE excursion_id = :x AND unit_id = :u AND decision IS NULL"),
            {"d": d["decision"], "r": d["rationale"], "by": esign.get("signer") or env["actor"],
             "name": esign.get("printed_name"), "at": esign.get("signed_at") or when(env),
             "e": env["event_id"], "x": d["excursion_id"], "u": env["stream"]})

    def on_EventCorrected(self, conn: Connection, position: int, env: Mapping[str, Any]) -> None:
        d = env["data"]
        new = {c["field"]: c["new"] for c in d["changes"]}
        target = d["corrected_event_id"]
        if d["corrected_type"] == "ExcursionAssessed":
            for field in ("decision", "rationale"):
                if field in new:
                    conn.execute(sql(f"UPDATE excursions SET {field} = :v "
                                      "WHERE assessed_event_id = :e"), {"v": new[field], "e": target})
        elif d["corrected_type"] == "TemperatureRecorded":
            if "logger" in new:
                conn.execute(sql("UPDATE condition_uploads SET logger = :v WHERE event_id = :e"),
                             {"v": new["logger"], "e": target})
            if "readings" in new:
                points, agg = compact(new["readings"])
                conn.execute(sql(
                    "UPDATE condition_uploads SET first_us = :first_us, last_us = :last_us, "
                    "n = :n, min_celsius = :min_celsius, max_celsius = :max_celsius, "
                    "readings = :readings WHERE event_id = :e"),
                    {"readings": dumps(points), "e": target, **agg})
        elif d["corrected_type"] == "UnitLabelled" and "spec" in new:
            spec = new["spec"] or {}
            conn.execute(sql("UPDATE condition_units SET min_celsius = :lo, max_celsius = :hi "
                              "WHERE unit_id = :u"),
                         {"lo": spec.get("min_celsius"), "hi": spec.get("max_celsius"),
                          "u": env["stream"]})
