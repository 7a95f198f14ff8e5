"""The Case aggregate: one stream per patient therapy (or per allogeneic donor).

Commands take the states they decide on and return :class:`NewEvent` values; the service
appends them with the versions of those states. The MRN (or donor id) is taken only to
compute the pseudonym and is dropped: it never reaches an event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from ..datatypes import EventData
from ..errors import InvalidEvent
from .base import (
    Envelope,
    NewEvent,
    RecordedRefusal,
    new_event,
    refusal,
    require_aware,
    require_reason,
)
from .esign import Manifestation, require_esign
from .events_case import (
    AttemptedIds,
    AuditTrailReviewed,
    CaseCancelled,
    CaseEnrolled,
    CaseOnHold,
    CaseResumed,
    DonorRegistered,
    OperationRefused,
    ProductAllocated,
)
from .folding import fold
from .identifiers import RandomSource, issue_coi, patient_pseudonym, validate_coi
from .unit import UnitState, require_unit
from .users import UserState

CaseStatus = Literal["none", "active", "on_hold", "cancelled"]


@dataclass(frozen=True)
class Review:
    """The last review of the case's audit trail: the log position it reached, by whom, when."""

    through_position: int
    by: str
    at: str


@dataclass(frozen=True)
class CaseState:
    stream: UUID | None = None
    version: int = 0
    role: Literal["patient", "donor"] | None = None
    coi: str | None = None
    kind: str | None = None
    product: str | None = None
    site: str | None = None
    patient_ref: str | None = None  # the donor_ref for a donor case
    status: CaseStatus = "none"
    hold_reason: str | None = None
    allocated_units: tuple[UUID, ...] = ()
    refusals: int = 0
    last_review: Review | None = None


def _evolve(s: CaseState, event: EventData, env: Envelope) -> CaseState:
    match event:
        case CaseEnrolled():
            return replace(s, role="patient", coi=event.coi, kind=event.kind, product=event.product,
                           site=event.treating_site, patient_ref=event.patient_ref, status="active")
        case DonorRegistered():
            return replace(s, role="donor", coi=event.coi, kind="allogeneic", product=event.product,
                           site=event.collection_site, patient_ref=event.donor_ref, status="active")
        case CaseOnHold(reason=reason):
            return replace(s, status="on_hold", hold_reason=reason)
        case CaseResumed():
            return replace(s, status="active", hold_reason=None)
        case CaseCancelled():
            return replace(s, status="cancelled")
        case ProductAllocated(unit=unit):
            if s.role != "patient" or unit in s.allocated_units:
                return s
            return replace(s, allocated_units=(*s.allocated_units, unit))
        case OperationRefused():
            return replace(s, refusals=s.refusals + 1)
        case AuditTrailReviewed(through_position=position):
            by = (env.get("esign") or {}).get("signer") or env["actor"]
            return replace(s, last_review=Review(position, by, env["recorded_at"]))
    return s


def fold_case(envelopes: Iterable[Envelope]) -> CaseState:
    return fold(CaseState(), _evolve, envelopes)


def require_case(case: CaseState, *, active: bool = True) -> None:
    """Refuse unless the case exists (and, if ``active``, is neither on hold nor cancelled)."""
    if case.status == "none" or case.stream is None:
        raise refusal("CASE_NOT_FOUND", "no case is enrolled in this stream")
    if case.status == "cancelled":
        raise refusal("CASE_CANCELLED", f"case {case.coi} is cancelled")
    if active and case.status == "on_hold":
        raise refusal("CASE_ON_HOLD", f"case {case.coi} is on hold: {case.hold_reason}")


def recorded_refusal(case: CaseState | UUID | Iterable[UUID], code: str, step: str,
                     detail: str, **attempted: Any) -> RecordedRefusal:
    """The error for a refused COI-critical attempt, carrying its ``OperationRefused`` event
    for the case stream (or each of several case streams)."""
    refusal(code, detail)  # only documented codes
    if isinstance(case, CaseState):
        streams: list[UUID] = [case.stream] if case.stream is not None else []
    elif isinstance(case, UUID):
        streams = [case]
    else:
        streams = list(dict.fromkeys(case))
    ids = AttemptedIds(**attempted)
    events = [new_event(s, OperationRefused, code=code, step=step, detail=detail, attempted=ids)
              for s in streams]
    return RecordedRefusal(detail, code=code, events=events)


def decide_enrol(case: CaseState, *, case_id: UUID, kind: str, product: str,
                 treating_site: str, site_secret: bytes, mrn: str,
                 collection_site: str | None = None, protocol: str | None = None,
                 coi: str | None = None, rng: RandomSource | None = None,
                 actor: str, now: datetime) -> list[NewEvent]:
    """Enrol a patient: issues the COI id (unless given) and keeps only the MRN's pseudonym."""
    require_aware(now)
    if case.version:
        raise refusal("CASE_EXISTS", f"stream {case.stream} already holds case {case.coi}")
    patient_ref = patient_pseudonym(site_secret, mrn)
    coi_id = validate_coi(coi) if coi is not None else issue_coi(rng)
    return [new_event(case_id, CaseEnrolled, coi=coi_id, kind=kind, product=product,
                      treating_site=treating_site, patient_ref=patient_ref,
                      collection_site=collection_site, protocol=protocol)]


def decide_register_donor(case: CaseState, *, case_id: UUID, product: str,
                          collection_site: str, site_secret: bytes, donor_id: str,
                          din: str | None = None, coi: str | None = None,
                          rng: RandomSource | None = None, actor: str,
                          now: datetime) -> list[NewEvent]:
    """Open an allogeneic donor case; the donor appears only as ``donor_ref``."""
    require_aware(now)
    if case.version:
        raise refusal("CASE_EXISTS", f"stream {case.stream} already holds case {case.coi}")
    coi_id = validate_coi(coi) if coi is not None else issue_coi(rng)
    return [new_event(case_id, DonorRegistered, coi=coi_id,
                      donor_ref=patient_pseudonym(site_secret, donor_id), product=product,
                      collection_site=collection_site, din=din)]


def decide_hold(case: CaseState, reason: str, *, actor: str, now: datetime) -> list[NewEvent]:
    require_case(case)
    require_reason(reason)
    return [new_event(case.stream, CaseOnHold, reason=reason)]  # type: ignore[arg-type]


def decide_resume(case: CaseState, reason: str, *, actor: str, now: datetime) -> list[NewEvent]:
    require_case(case, active=False)
    if case.status != "on_hold":
        raise refusal("CASE_NOT_ON_HOLD", f"case {case.coi} is not on hold")
    require_reason(reason)
    return [new_event(case.stream, CaseResumed, reason=reason)]  # type: ignore[arg-type]


def decide_cancel(case: CaseState, reason: str, *, actor: str, now: datetime) -> list[NewEvent]:
    require_case(case, active=False)
    require_reason(reason)
    return [new_event(case.stream, CaseCancelled, reason=reason)]  # type: ignore[arg-type]


def decide_allocate(patient: CaseState, donor: CaseState, unit: UnitState, *, actor: str,
                    now: datetime) -> list[NewEvent]:
    """Allocate one donor-derived dose to an allogeneic patient case.

    Appends ``ProductAllocated`` on the patient case stream and on the unit stream.
    """
    require_case(patient)
    require_case(donor)
    if patient.role != "patient" or patient.kind != "allogeneic":
        raise refusal("NOT_ALLOGENEIC", f"case {patient.coi} is not an allogeneic patient case")
    if donor.role != "donor":
        raise refusal("NOT_A_DONOR_CASE", f"case {donor.coi} is not a donor case")
    require_unit(unit)
    if unit.kind != "final_product_bag":
        raise refusal("NOT_ALLOCATABLE", f"a {unit.kind} cannot be allocated to a patient")
    if unit.coi != donor.coi:
        raise recorded_refusal(patient, "COI_MISMATCH", ProductAllocated.__name__,
                               f"unit {unit.label} carries {unit.coi}, not donor {donor.coi}",
                               coi=unit.coi, unit=unit.stream, label=unit.label)
    if unit.allocated_to is not None:
        raise refusal("ALREADY_ALLOCATED", f"unit {unit.label} is allocated to another case")
    if unit.quarantined:
        raise refusal("UNIT_QUARANTINED", f"unit {unit.label} is quarantined")
    fields = dict(unit=unit.stream, label=unit.label, donor_coi=donor.coi,
                  patient_case=patient.stream, patient_coi=patient.coi)
    return [new_event(patient.stream, ProductAllocated, **fields),  # type: ignore[arg-type]
            new_event(unit.stream, ProductAllocated, **fields)]


def decide_review_audit_trail(case: CaseState, *, through_position: int, last_position: int,
                              comment: str | None, esign: Manifestation | None, signer: UserState | None,
                              actor: str, now: datetime) -> list[NewEvent]:
    """QA's signed review of the case's audit trail up to ``through_position``, which the
    ledger must have reached (``last_position``). A cancelled or held case can be reviewed."""
    require_aware(now)
    if case.status == "none" or case.stream is None:
        raise refusal("CASE_NOT_FOUND", "no case is enrolled in this stream")
    if not 1 <= through_position <= last_position:
        raise InvalidEvent(f"position {through_position} is not in the ledger (1..{last_position})",
                           code="INVALID_DATA")
    require_esign(AuditTrailReviewed.__name__, esign, signer, actor=actor)
    return [new_event(case.stream, AuditTrailReviewed, coi=case.coi, case=case.stream,
                      through_position=through_position, comment=comment)]
