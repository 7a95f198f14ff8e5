"""The review-queue read model: per-case facts for QA's cross-case work queue and the search keys
that are not printed on a label.

* ``queue_cases``: one row per case stream (patient or donor case), with the times the queue's
  stage and figures need (each the time the step happened, ``occurred_at`` else ``recorded_at``):
  ``collected_at`` (first collection into a unit of the case), ``manufactured_at`` (the first final
  product labelled: the end of manufacturing), ``released_at`` (first release of a unit of the
  case), ``infused_at`` (first infusion into this patient), ``signed_off_at`` (the latest
  ``ReviewSignedOff`` on the case stream before the first release, as the release summary's figures
  count it), ``signoff_position`` (the latest one, whenever) and
  ``review_changed_position`` (the latest disposition or acknowledgement of an exception of the
  case: a sign-off older than it is outdated). An allogeneic patient's ``manufactured_at``,
  ``released_at`` and ``signed_off_at`` are those of the first dose allocated to them (its making,
  its release, its donor case's sign-off), as the release summary counts them.
* ``queue_products``: each final product of a case (a ``final_product_bag``, or a releasable
  unit derived from parents: a lot's fill or a split), its expiry and whether it was released,
  infused or disposed: the queue's due date is the earliest expiry of those not yet released.
* ``search_keys``: values people search for that are not scanned from labels: ``lot`` (a lot
  started by ``ManufacturingStarted``, a ``UnitsDerived`` batch) and ``tracking`` (a carrier's
  tracking number, ``ShipmentDispatched``, on every unit that travelled, so the bag inside a
  shipper is found too). Label identifiers (ledger label, DIN, GS1, EPC, printed lot) stay in
  ``unit_identifiers`` (``projections.identifiers``).

The review events (``ReviewSignedOff``, ``ExceptionDispositioned``, ``InformationalAcknowledged``)
are matched by their type (``env["type"]``): only that they happened, and when, matters here.
Queries: ``projections.review_queue_query`` and ``projections.search_query``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from ledger.datatypes import EventData
from ledger.domain.corrections import takes_effect
from ledger.domain.events_case import (
    CaseEnrolled,
    CorrectionApproved,
    DonorRegistered,
    EventCorrected,
    ProductAllocated,
)
from ledger.domain.events_quality import (
    ManufacturingStarted,
    ProductInfused,
    ProductReleased,
    UnitDisposed,
    UnitsDerived,
)
from ledger.domain.events_release import ReviewSignedOff
from ledger.domain.events_review import ExceptionDispositioned, InformationalAcknowledged
from ledger.domain.events_unit import RELEASABLE_KINDS, MaterialCollected, ShipmentDispatched, UnitLabelled

from .common import ReadModel, sql, utc_text, when

SIGN_OFF = ReviewSignedOff.__name__
REVIEW_CHANGES = frozenset({ExceptionDispositioned.__name__, InformationalAcknowledged.__name__})
FIRST_ONLY = ("collected_at", "manufactured_at", "released_at", "infused_at")


def is_final_product(kind: str, parents: list[Any]) -> bool:
    """A final product: a final product bag, or a releasable unit (cryobag) derived from parents."""
    return kind == "final_product_bag" or (kind in RELEASABLE_KINDS and bool(parents))


class ReviewQueueProjection(ReadModel):
    name = "review_queue"
    tables = ("queue_cases", "queue_products", "search_keys")
    append_only = ("queue_cases", "queue_products")  # plain inserts, updated by key after

    def __init__(self) -> None:
        super().__init__()
        self._keys = self.insert_once("search_keys", ("scheme", "value", "unit_id", "coi", "event_id"),
                                      ("scheme", "value", "unit_id"))

    def _case_of(self, conn: Connection, stream: str) -> tuple[str | None, str | None]:
        """``(case_id, coi)`` of a case or unit stream, else ``(None, None)``."""
        found = self.directory.lookup(conn, stream)
        if found is None:
            return None, None
        coi, role, case_id = found
        return (stream if role == "case" else case_id), coi

    def _first(self, conn: Connection, case_id: str | None, column: str, at: str) -> None:
        if case_id is not None and column in FIRST_ONLY:
            conn.execute(sql(f"UPDATE queue_cases SET {column} = :at "  # noqa: S608 - fixed names
                             f"WHERE case_id = :c AND ({column} IS NULL OR {column} > :at)"),
                         {"at": at, "c": case_id})

    def _key(self, conn: Connection, env: Mapping[str, Any], scheme: str, value: str) -> None:
        case_id, coi = self._case_of(conn, env["stream"])
        if coi is None:
            return
        self._keys.insert(conn, {"scheme": scheme, "value": value, "unit_id": env["stream"], "coi": coi,
                                 "event_id": env["event_id"]})

    def _allocated(self, conn: Connection, patient: str, dose: str) -> None:
        """An allogeneic patient's figures count from the dose given: when it was made and released,
        and its donor case's sign-off before that release (as the release summary counts them)."""
        found = conn.execute(sql(
            "SELECT p.labelled_at, p.released_at, d.signed_off_at FROM queue_products p "
            "LEFT JOIN queue_cases d ON d.case_id = p.case_id WHERE p.unit_id = :u"), {"u": dose}).first()
        if found is None:
            return
        made, released, signed = found
        conn.execute(sql(
            "UPDATE queue_cases SET manufactured_at = COALESCE(manufactured_at, :m), "
            "released_at = COALESCE(released_at, :r), signed_off_at = COALESCE(signed_off_at, :s) "
            "WHERE case_id = :c"), {"m": made, "r": released, "s": signed, "c": patient})

    def project(self, conn: Connection, position: int, env: Mapping[str, Any],
                data: EventData | None) -> None:
        stream, at = env["stream"], utc_text(when(env))
        match data:
            case CaseEnrolled(coi=coi) | DonorRegistered(coi=coi):
                conn.execute(sql("INSERT INTO queue_cases (case_id, coi) VALUES (:c, :coi)"),
                             {"c": stream, "coi": coi})
            case UnitLabelled(kind=kind, coi=coi, case=case, parents=parents, spec=spec) if is_final_product(
                    kind, parents):
                conn.execute(sql(
                    "INSERT INTO queue_products (unit_id, case_id, coi, expiry, labelled_at, released_at, infused, "
                    "disposed, position) VALUES (:u, :c, :coi, :x, :at, NULL, 0, 0, :p)"),
                    {"u": stream, "c": str(case), "coi": coi, "x": utc_text(spec.expiry) if spec.expiry else None,
                     "at": at, "p": position})
                self._first(conn, str(case), "manufactured_at", at)
            case MaterialCollected():
                self._first(conn, self._case_of(conn, stream)[0], "collected_at", at)
            case ProductReleased():
                self._first(conn, self._case_of(conn, stream)[0], "released_at", at)
                conn.execute(sql("UPDATE queue_products SET released_at = :at WHERE unit_id = :u "
                                 "AND released_at IS NULL"), {"at": at, "u": stream})
            case ProductInfused(case=case, infused_at=infused_at):
                self._first(conn, str(case), "infused_at", utc_text(infused_at) if infused_at else at)
                conn.execute(sql("UPDATE queue_products SET infused = 1 WHERE unit_id = :u"), {"u": stream})
            case ProductAllocated(unit=unit, patient_case=patient_case) if stream == str(patient_case):
                self._allocated(conn, stream, str(unit))
            case UnitDisposed():
                conn.execute(sql("UPDATE queue_products SET disposed = 1 WHERE unit_id = :u"), {"u": stream})
            case ManufacturingStarted(lot=lot, inputs=inputs) if not any(stream == str(i) for i in inputs):
                self._key(conn, env, "lot", lot)
            case UnitsDerived(batch=batch) if batch:
                self._key(conn, env, "lot", batch)
            case ShipmentDispatched(tracking=tracking):
                self._key(conn, env, "tracking", tracking)
            case EventCorrected(corrected_type=corrected, changes=changes) | CorrectionApproved(
                    corrected_type=corrected, changes=changes) if (corrected == UnitLabelled.__name__
                                                                   and takes_effect(data)):
                for change in changes:
                    if change.field == "spec" and isinstance(change.new, Mapping):
                        expiry = change.new.get("expiry")
                        conn.execute(sql("UPDATE queue_products SET expiry = :x WHERE unit_id = :u"),
                                     {"x": utc_text(expiry) if expiry else None, "u": stream})
            case _ if env["type"] == SIGN_OFF:
                conn.execute(sql("UPDATE queue_cases SET signoff_position = :p, signed_off_at = CASE WHEN "
                                 "released_at IS NULL THEN :at ELSE signed_off_at END WHERE case_id = :c"),
                             {"at": at, "p": position, "c": stream})
            case _ if env["type"] in REVIEW_CHANGES:
                conn.execute(sql("UPDATE queue_cases SET review_changed_position = :p WHERE case_id = :c"),
                             {"p": position, "c": stream})
