"""The ``cases`` read model: one row per case stream, for ``GET /v1/cases`` and ``/v1/cases/{coi}``.

``kind`` is ``autologous`` / ``allogeneic`` for patient cases and ``donor`` for allogeneic
donor cases. ``status`` is THE case status: every view (REST case summary and list, genealogy
case nodes, portal, dossier) shows this column. It is ``cancelled``, else ``on_hold``, else
the furthest milestone reached: ``enrolled`` < ``collected`` < ``in_manufacturing`` <
``released`` < ``allocated`` < ``infused`` (a donor case reaches ``allocated``/``infused`` when
one of its doses is allocated to / infused into a patient). ``units`` counts the units labelled
for the case, and for an allogeneic recipient the donor units allocated to them. The patient
(``patient_ref``) and donor (``donor_ref``) pseudonyms are never stored here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from ledger.datatypes import EventData
from ledger.domain.corrections import takes_effect
from ledger.domain.events_case import (
    CaseCancelled,
    CaseEnrolled,
    CaseOnHold,
    CaseResumed,
    CorrectionApproved,
    DonorRegistered,
    EventCorrected,
    ProductAllocated,
)
from ledger.domain.events_quality import ManufacturingStarted, ProductInfused, ProductReleased, UnitsDerived
from ledger.domain.events_unit import MaterialCollected, UnitLabelled

from .common import ReadModel, sql, when

MILESTONES = ("enrolled", "collected", "in_manufacturing", "released", "allocated", "infused")
STATUSES = (*MILESTONES, "on_hold", "cancelled")
CORRECTABLE = {"kind", "product", "treating_site", "collection_site", "protocol"}
ENROLMENTS = (CaseEnrolled.__name__, DonorRegistered.__name__)


def _status(milestone: str, held: int, cancelled: int) -> str:
    return "cancelled" if cancelled else "on_hold" if held else milestone


class CasesProjection(ReadModel):
    name = "cases"
    tables = ("cases",)
    append_only = tables

    def __init__(self) -> None:
        super().__init__()
        self._states: dict[str, dict[str, Any]] = {}  # case -> milestone/held/cancelled, this batch
        self._touched: dict[str, dict[str, Any]] = {}  # case -> its last event in this batch
        self._changed: dict[str, dict[str, Any]] = {}  # case -> its status columns, changed in this batch
        self._all_cases = False  # True: _states holds every case (sole writer), kept across batches

    def sole_writer(self) -> None:
        super().sole_writer()
        self._all_cases = True

    def begin_batch(self) -> None:
        super().begin_batch()
        if not self._all_cases:
            self._states = {}
        self._touched, self._changed = {}, {}

    def finish_batch(self, conn: Connection) -> None:
        """Each case touched by the batch gets its status and last event once (not once per event)."""
        if self._changed:
            conn.execute(sql(
                "UPDATE cases SET milestone = :milestone, held = :held, cancelled = :cancelled, "
                "status = :status, hold_reason = :hold_reason WHERE case_id = :c"), list(self._changed.values()))
            self._changed = {}
        if self._touched:
            conn.execute(sql("UPDATE cases SET last_event_at = :t, last_position = :p WHERE case_id = :c"),
                         list(self._touched.values()))
            self._touched = {}

    def _touch(self, case_id: str, env: Mapping[str, Any], position: int) -> None:
        self._touched[case_id] = {"t": env["recorded_at"], "p": position, "c": case_id}

    def project(self, conn: Connection, position: int, env: Mapping[str, Any],
                data: EventData | None) -> None:
        match data:
            case CaseEnrolled():
                self._enrol(conn, position, env, coi=data.coi, kind=data.kind, product=data.product,
                            site=data.treating_site, collection=data.collection_site,
                            protocol=data.protocol)
            case DonorRegistered():
                self._enrol(conn, position, env, coi=data.coi, kind="donor", product=data.product,
                            site=None, collection=data.collection_site, protocol=None)
            case CaseOnHold(reason=reason):
                self._flags(conn, env["stream"], held=1, hold_reason=reason)
            case CaseResumed():
                self._flags(conn, env["stream"], held=0)
            case CaseCancelled():
                self._flags(conn, env["stream"], cancelled=1)
            case UnitLabelled(case=case):
                conn.execute(sql("UPDATE cases SET units = units + 1 WHERE case_id = :c"), {"c": str(case)})
            case MaterialCollected():
                self._milestone(conn, env, "collected")
            case UnitsDerived() | ManufacturingStarted():
                self._milestone(conn, env, "in_manufacturing")
            case ProductReleased():
                self._milestone(conn, env, "released")
            case ProductAllocated(patient_case=patient_case) if env["stream"] == str(patient_case):
                self._flags(conn, env["stream"], milestone="allocated")
                conn.execute(sql("UPDATE cases SET units = units + 1 WHERE case_id = :c"), {"c": env["stream"]})
            case ProductAllocated():  # the dose's own stream: its donor case
                self._milestone(conn, env, "allocated")
            case ProductInfused(case=case):
                self._infused(conn, position, env, str(case))
            case EventCorrected(corrected_type=corrected, changes=changes) | CorrectionApproved(
                    corrected_type=corrected, changes=changes) if corrected in ENROLMENTS and takes_effect(data):
                for change in changes:
                    field = change.field
                    if field in CORRECTABLE and (field != "kind" or corrected == CaseEnrolled.__name__):
                        conn.execute(sql(f"UPDATE cases SET {field} = :v WHERE case_id = :c"),
                                     {"v": change.new, "c": env["stream"]})
        case_id = self._case_of(conn, env)
        if case_id is not None:
            self._touch(case_id, env, position)

    def _case_of(self, conn: Connection, env: Mapping[str, Any]) -> str | None:
        found = self.directory.lookup(conn, env["stream"])
        if found is None:
            return None
        _, role, case_id = found
        return env["stream"] if role == "case" else case_id

    def _enrol(self, conn: Connection, position: int, env: Mapping[str, Any], **case: str | None) -> None:
        conn.execute(sql(
            "INSERT INTO cases (case_id, coi, kind, product, treating_site, collection_site, "
            "protocol, milestone, held, cancelled, status, hold_reason, enrolled_at, "
            "enrolled_position, event_id, units, last_event_at, last_position) VALUES "
            "(:case_id, :coi, :kind, :product, :site, :collection, :protocol, 'enrolled', 0, 0, "
            "'enrolled', NULL, :at, :p, :event_id, 0, :recorded, :p)"),
            {"case_id": env["stream"], **case, "at": when(env), "p": position, "event_id": env["event_id"],
             "recorded": env["recorded_at"]})
        self._states[env["stream"]] = {"milestone": "enrolled", "held": 0, "cancelled": 0}

    def _flags(self, conn: Connection, case_id: str, **changes: Any) -> None:
        state = self._states.get(case_id)
        if state is None:
            if self._all_cases:
                return
            row = conn.execute(sql("SELECT milestone, held, cancelled FROM cases WHERE case_id = :c"),
                               {"c": case_id}).first()
            if row is None:
                return
            state = {"milestone": row[0], "held": row[1], "cancelled": row[2]}
        state = dict(state)
        if "milestone" in changes and MILESTONES.index(changes["milestone"]) <= MILESTONES.index(
                state["milestone"]):
            changes.pop("milestone")
        state.update(changes)
        hold_reason = changes.pop("hold_reason", None)
        self._states[case_id] = {k: state[k] for k in ("milestone", "held", "cancelled")}
        self._changed[case_id] = {  # as the row must end the batch
            **self._states[case_id], "status": _status(state["milestone"], state["held"], state["cancelled"]),
            "hold_reason": hold_reason if state["held"] else None, "c": case_id}

    def _milestone(self, conn: Connection, env: Mapping[str, Any], milestone: str) -> None:
        case_id = self._case_of(conn, env)
        if case_id is not None:
            self._flags(conn, case_id, milestone=milestone)

    def _infused(self, conn: Connection, position: int, env: Mapping[str, Any], patient: str) -> None:
        self._flags(conn, patient, milestone="infused")
        self._touch(patient, env, position)
        source = self._case_of(conn, env)
        if source is not None and source != patient:  # a donor dose: the donor case too
            self._flags(conn, source, milestone="infused")
