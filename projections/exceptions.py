"""Review by exception: what QA must look at before release, each linked to its events.

Kinds (``exception_id`` = ``<kind>:<event_id>`` of the opening event, so rebuilds agree):

==========================  ==============================  =================================
kind                        opened by                       resolved by
==========================  ==============================  =================================
excursion_unassessed        ExcursionDetected               ExcursionAssessed
excursion_discarded         ExcursionAssessed ``discard``   UnitDisposed
scan_<verdict>              UnitScanned not ``match``       a later matching scan, same purpose
operation_refused           OperationRefused                (stays open)
event_corrected             EventCorrected                  (stays open)
qc_failed                   QCResultRecorded ``fail``       a later pass of the same test
quarantine                  UnitQuarantined                 release from quarantine, disposal
access_denied_burst         AccessDenied, attempt >= 3      UserAuthenticated, UserUnlocked
account_locked              UserLocked                      UserUnlocked
overdue_handoff             CustodyTransferred              CustodyAcknowledged / Declined
overdue_delivery            ShipmentDispatched              ShipmentDelivered
==========================  ==============================  =================================

The last two are candidates: :func:`exceptions` lists them only when late at ``now`` (still
open after the limit) or when they were closed late; the limits are query arguments. A
container's handover and shipment open one exception, on the container.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from .common import ReadModel, dumps, from_micros, loads, micros, rows, sql, utc_text, when

BURST = 3
HANDOVER_LIMIT = timedelta(hours=2)
DELIVERY_SLA = timedelta(hours=48)
MAX_LIST = 1000


class ExceptionsProjection(ReadModel):
    name = "exceptions"
    tables = ("review_exceptions",)

    def _open(self, conn: Connection, position: int, env: Mapping[str, Any], kind: str,
              match_key: str, detail: str, *, subject: str | None = None) -> None:
        own = self.directory.lookup(conn, env["stream"])
        unit = env["stream"] if own and own[1] == "unit" else env["data"].get("unit")
        conn.execute(sql(
            "INSERT INTO review_exceptions (exception_id, kind, status, coi, unit_id, subject, "
            "match_key, opened_at, opened_position, event_ids, detail, resolved_at, "
            "resolved_event_id, duration_s) VALUES (:id, :kind, 'open', :coi, :unit, :subject, "
            ":key, :at, :p, :events, :detail, NULL, NULL, NULL)"),
            {"id": f"{kind}:{env['event_id']}", "kind": kind, "coi": own[0] if own else None,
             "unit": unit if isinstance(unit, str) else None, "subject": subject,
             "key": match_key, "at": when(env), "p": position,
             "events": dumps([env["event_id"]]), "detail": detail})

    def _resolve(self, conn: Connection, env: Mapping[str, Any], match_key: str) -> int:
        found = rows(conn.execute(sql(
            "SELECT exception_id, opened_at, event_ids FROM review_exceptions "
            "WHERE match_key = :k AND status = 'open'"), {"k": match_key}))
        at = when(env)
        for row in found:
            conn.execute(sql(
                "UPDATE review_exceptions SET status = 'resolved', resolved_at = :at, "
                "resolved_event_id = :e, duration_s = :d, event_ids = :events "
                "WHERE exception_id = :id"),
                {"at": at, "e": env["event_id"],
                 "d": (micros(at) - micros(row["opened_at"])) // 1_000_000,
                 "events": dumps([*loads(row["event_ids"]), env["event_id"]]),
                 "id": row["exception_id"]})
        return len(found)

    def on_ExcursionDetected(self, conn: Connection, p: int, env: Mapping[str, Any]) -> None:
        d = env["data"]
        self._open(conn, p, env, "excursion_unassessed", f"excursion:{d['excursion_id']}",
                   f"{d['min_celsius']}..{d['max_celsius']} °C for {d['duration_s']} s "
                   f"(limits {d.get('limit_min')}..{d.get('limit_max')}) from {d['start']}")

    def on_ExcursionAssessed(self, conn: Connection, p: int, env: Mapping[str, Any]) -> None:
        d = env["data"]
        self._resolve(conn, env, f"excursion:{d['excursion_id']}")
        if d["decision"] == "discard":
            self._open(conn, p, env, "excursion_discarded", f"discard:{env['stream']}",
                       f"excursion {d['excursion_id']} assessed discard: {d['rationale']}")

    def on_UnitDisposed(self, conn: Connection, p: int, env: Mapping[str, Any]) -> None:
        self._resolve(conn, env, f"discard:{env['stream']}")
        self._resolve(conn, env, f"quarantine:{env['stream']}")

    def on_UnitScanned(self, conn: Connection, p: int, env: Mapping[str, Any]) -> None:
        d = env["data"]
        key = f"scan:{env['stream']}:{d['purpose']}"
        if d["verdict"] == "match":
            self._resolve(conn, env, key)
        else:
            self._open(conn, p, env, f"scan_{d['verdict']}", key,
                       f"{d['purpose']} scan: {d['verdict']}" + (f": {d['reason']}"
                                                                 if d.get("reason") else ""))

    def on_OperationRefused(self, conn: Connection, p: int, env: Mapping[str, Any]) -> None:
        d = env["data"]
        self._open(conn, p, env, "operation_refused", f"refused:{env['event_id']}",
                   f"{d['step']} refused, {d['code']}: {d['detail']}")

    def on_EventCorrected(self, conn: Connection, p: int, env: Mapping[str, Any]) -> None:
        d = env["data"]
        fields = ", ".join(c["field"] for c in d["changes"])
        self._open(conn, p, env, "event_corrected", f"corrected:{env['event_id']}",
                   f"{d['corrected_type']} {d['corrected_event_id']} corrected ({fields}): "
                   f"{d['reason']}")

    def on_QCResultRecorded(self, conn: Connection, p: int, env: Mapping[str, Any]) -> None:
        d = env["data"]
        key = f"qc:{env['stream']}:{d['test']}"
        if d["result"] == "pass":
            self._resolve(conn, env, key)
        else:
            self._open(conn, p, env, "qc_failed", key, f"QC {d['test']} failed")

    def on_UnitQuarantined(self, conn: Connection, p: int, env: Mapping[str, Any]) -> None:
        self._open(conn, p, env, "quarantine", f"quarantine:{env['stream']}",
                   env["data"]["reason"])

    def on_UnitReleasedFromQuarantine(self, conn: Connection, p: int,
                                      env: Mapping[str, Any]) -> None:
        self._resolve(conn, env, f"quarantine:{env['stream']}")

    def on_AccessDenied(self, conn: Connection, p: int, env: Mapping[str, Any]) -> None:
        d = env["data"]
        if d["attempt"] < BURST:
            return
        key = f"access:{d['user']}"
        row = conn.execute(sql("SELECT exception_id, event_ids FROM review_exceptions "
                                "WHERE match_key = :k AND status = 'open'"), {"k": key}).first()
        if row is None:
            self._open(conn, p, env, "access_denied_burst", key,
                       f"{d['attempt']} consecutive failed sign-ins of {d['user']}",
                       subject=d["user"])
        else:
            conn.execute(sql("UPDATE review_exceptions SET event_ids = :e, detail = :d "
                              "WHERE exception_id = :id"),
                         {"e": dumps([*loads(row[1]), env["event_id"]]), "id": row[0],
                          "d": f"{d['attempt']} consecutive failed sign-ins of {d['user']}"})

    def on_UserAuthenticated(self, conn: Connection, p: int, env: Mapping[str, Any]) -> None:
        self._resolve(conn, env, f"access:{env['data']['user']}")

    def on_UserLocked(self, conn: Connection, p: int, env: Mapping[str, Any]) -> None:
        d = env["data"]
        self._open(conn, p, env, "account_locked", f"lock:{d['user']}",
                   f"{d['user']} locked: {d['reason']}", subject=d["user"])

    def on_UserUnlocked(self, conn: Connection, p: int, env: Mapping[str, Any]) -> None:
        self._resolve(conn, env, f"access:{env['data']['user']}")
        self._resolve(conn, env, f"lock:{env['data']['user']}")

    def on_CustodyTransferred(self, conn: Connection, p: int, env: Mapping[str, Any]) -> None:
        d = env["data"]
        if d.get("via_container") is None:
            self._open(conn, p, env, "overdue_handoff", f"handoff:{env['stream']}",
                       f"handover {d['from_party']} -> {d['to_party']} not acknowledged",
                       subject=d["to_party"])

    def on_CustodyAcknowledged(self, conn: Connection, p: int, env: Mapping[str, Any]) -> None:
        if env["data"].get("via_container") is None:
            self._resolve(conn, env, f"handoff:{env['stream']}")

    on_CustodyDeclined = on_CustodyAcknowledged

    def on_ShipmentDispatched(self, conn: Connection, p: int, env: Mapping[str, Any]) -> None:
        d = env["data"]
        if d.get("via_container") is None:
            self._open(conn, p, env, "overdue_delivery", f"shipment:{env['stream']}",
                       f"{d['carrier']} {d['tracking']} {d['from_site']} -> {d['to_site']} "
                       "not delivered", subject=d["tracking"])

    def on_ShipmentDelivered(self, conn: Connection, p: int, env: Mapping[str, Any]) -> None:
        if env["data"].get("via_container") is None:
            self._resolve(conn, env, f"shipment:{env['stream']}")


TIMED = """(kind NOT IN ('overdue_handoff', 'overdue_delivery')
 OR (kind = 'overdue_handoff' AND ((status = 'open' AND opened_at < :hc)
                                   OR (status = 'resolved' AND duration_s > :hs)))
 OR (kind = 'overdue_delivery' AND ((status = 'open' AND opened_at < :dc)
                                    OR (status = 'resolved' AND duration_s > :ds))))"""


def exceptions(conn: Connection, *, coi: str | None = None, status: str = "open",
               now: datetime | str, handover_limit: timedelta = HANDOVER_LIMIT,
               delivery_sla: timedelta = DELIVERY_SLA, limit: int = MAX_LIST
               ) -> list[dict[str, Any]]:
    """Exceptions in log order; ``status`` is ``open``, ``resolved`` or ``all``. Each::

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
