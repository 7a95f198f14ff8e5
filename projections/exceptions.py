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
correction_pending          EventCorrected of GMP-critical  CorrectionApproved, CorrectionRejected
                            fields (``EventSpec.critical``)
qc_failed                   QCResultRecorded ``fail``       a later pass of the same test
quarantine                  UnitQuarantined                 release from quarantine, disposal
access_denied_burst         AccessDenied, attempt >= 3      UserAuthenticated, UserUnlocked
account_locked              UserLocked                      UserUnlocked
overdue_handoff             CustodyTransferred              CustodyAcknowledged / Declined
overdue_delivery            ShipmentDispatched              ShipmentDelivered
==========================  ==============================  =================================

The last two are candidates: ``exceptions_query.exceptions`` lists them only when late at ``now`` (still
open after the limit) or when they were closed late; the limits are query arguments. A
container's handover and shipment open one exception, on the container.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from ledger.datatypes import EventData
from ledger.domain.corrections import takes_effect
from ledger.domain.events_case import CorrectionApproved, CorrectionRejected, EventCorrected, OperationRefused
from ledger.domain.events_quality import (
    ExcursionAssessed,
    ExcursionDetected,
    QCResultRecorded,
    UnitDisposed,
    UnitQuarantined,
    UnitReleasedFromQuarantine,
)
from ledger.domain.events_registry import AccessDenied, UserAuthenticated, UserLocked, UserUnlocked
from ledger.domain.events_unit import (
    CustodyAcknowledged,
    CustodyDeclined,
    CustodyTransferred,
    ShipmentDelivered,
    ShipmentDispatched,
    UnitScanned,
)
from ledger.timefmt import format_utc

from .common import ReadModel, dumps, loads, micros, number, rows, sql, when

BURST = 3


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

    def project(self, conn: Connection, p: int, env: Mapping[str, Any], data: EventData | None) -> None:
        stream = env["stream"]
        match data:
            case ExcursionDetected(excursion_id=excursion):
                self._open(conn, p, env, "excursion_unassessed", f"excursion:{excursion}",
                           f"{number(data.min_celsius)}..{number(data.max_celsius)} °C for "
                           f"{data.duration_s} s (limits {number(data.limit_min)}..{number(data.limit_max)}) "
                           f"from {format_utc(data.start)}")
            case ExcursionAssessed(excursion_id=excursion, decision=decision, rationale=rationale):
                self._resolve(conn, env, f"excursion:{excursion}")
                if decision == "discard":
                    self._open(conn, p, env, "excursion_discarded", f"discard:{stream}",
                               f"excursion {excursion} assessed discard: {rationale}")
            case UnitDisposed():
                self._resolve(conn, env, f"discard:{stream}")
                self._resolve(conn, env, f"quarantine:{stream}")
            case UnitScanned(purpose=purpose, verdict="match"):
                self._resolve(conn, env, f"scan:{stream}:{purpose}")
            case UnitScanned(purpose=purpose, verdict=verdict, reason=reason):
                self._open(conn, p, env, f"scan_{verdict}", f"scan:{stream}:{purpose}",
                           f"{purpose} scan: {verdict}" + (f": {reason}" if reason else ""))
            case OperationRefused(step=step, code=code, detail=detail):
                self._open(conn, p, env, "operation_refused", f"refused:{env['event_id']}",
                           f"{step} refused, {code}: {detail}")
            case EventCorrected(corrected_type=corrected, corrected_event_id=target, reason=reason):
                fields = ", ".join(c.field for c in data.changes)
                if takes_effect(data):
                    self._open(conn, p, env, "event_corrected", f"corrected:{env['event_id']}",
                               f"{corrected} {target} corrected ({fields}): {reason}")
                else:
                    self._open(conn, p, env, "correction_pending", f"correction:{env['event_id']}",
                               f"{corrected} {target} correction ({fields}) awaits QA approval: {reason}")
            case CorrectionApproved(correction_event_id=correction) | CorrectionRejected(
                    correction_event_id=correction):
                self._resolve(conn, env, f"correction:{correction}")
            case QCResultRecorded(test=test, result="pass"):
                self._resolve(conn, env, f"qc:{stream}:{test}")
            case QCResultRecorded(test=test):
                self._open(conn, p, env, "qc_failed", f"qc:{stream}:{test}", f"QC {test} failed")
            case UnitQuarantined(reason=reason):
                self._open(conn, p, env, "quarantine", f"quarantine:{stream}", reason)
            case UnitReleasedFromQuarantine():
                self._resolve(conn, env, f"quarantine:{stream}")
            case AccessDenied(user=user, attempt=attempt) if attempt >= BURST:
                self._denied(conn, p, env, user, attempt)
            case UserAuthenticated(user=user):
                self._resolve(conn, env, f"access:{user}")
            case UserLocked(user=user, reason=reason):
                self._open(conn, p, env, "account_locked", f"lock:{user}", f"{user} locked: {reason}",
                           subject=user)
            case UserUnlocked(user=user):
                self._resolve(conn, env, f"access:{user}")
                self._resolve(conn, env, f"lock:{user}")
            case CustodyTransferred(via_container=None, from_party=sender, to_party=receiver):
                self._open(conn, p, env, "overdue_handoff", f"handoff:{stream}",
                           f"handover {sender} -> {receiver} not acknowledged", subject=receiver)
            case CustodyAcknowledged(via_container=None) | CustodyDeclined(via_container=None):
                self._resolve(conn, env, f"handoff:{stream}")
            case ShipmentDispatched(via_container=None):
                self._open(conn, p, env, "overdue_delivery", f"shipment:{stream}",
                           f"{data.carrier} {data.tracking} {data.from_site} -> {data.to_site} "
                           "not delivered", subject=data.tracking)
            case ShipmentDelivered(via_container=None):
                self._resolve(conn, env, f"shipment:{stream}")

    def _denied(self, conn: Connection, p: int, env: Mapping[str, Any], user: str, attempt: int) -> None:
        key = f"access:{user}"
        text = f"{attempt} consecutive failed sign-ins of {user}"
        row = conn.execute(sql("SELECT exception_id, event_ids FROM review_exceptions "
                                "WHERE match_key = :k AND status = 'open'"), {"k": key}).first()
        if row is None:
            self._open(conn, p, env, "access_denied_burst", key, text, subject=user)
        else:
            conn.execute(sql("UPDATE review_exceptions SET event_ids = :e, detail = :d "
                              "WHERE exception_id = :id"),
                         {"e": dumps([*loads(row[1]), env["event_id"]]), "id": row[0], "d": text})
