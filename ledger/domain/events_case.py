"""Event data of case streams (one per patient therapy, or per allogeneic donor).

No field may carry a patient's name, birth date or MRN: patients and donors appear only as
``patient_ref`` / ``donor_ref`` pseudonyms (see ``identifiers.patient_pseudonym``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, Field, JsonValue

from ..datatypes import EventData, Identifier, Text, UtcTime
from ..timefmt import format_utc
from .identifiers import coi_field, label_field
from .spec import OBSERVE, UNSIGNED, EventSpec, NotExported, Signature, given

CoiId = Annotated[str, AfterValidator(coi_field)]
LabelId = Annotated[str, AfterValidator(label_field)]
PatientRef = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Reason = Annotated[str, Field(min_length=1, max_length=2000)]
Code = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{1,63}$")]
TherapyKind = Literal["autologous", "allogeneic"]
Position = Annotated[int, Field(ge=1)]


class CaseEnrolled(EventData):
    coi: CoiId
    kind: TherapyKind
    product: Name
    treating_site: Identifier
    patient_ref: PatientRef
    collection_site: Identifier | None = None
    protocol: Identifier | None = None


class DonorRegistered(EventData):
    """Opens a donor case: its COI labels the donor's material and every dose made from it."""

    coi: CoiId
    donor_ref: PatientRef
    product: Name
    collection_site: Identifier
    din: Identifier | None = None


class CaseOnHold(EventData):
    reason: Reason


class CaseResumed(EventData):
    reason: Reason


class CaseCancelled(EventData):
    reason: Reason


class ProductAllocated(EventData):
    """A donor-derived dose is allocated to a patient case (on both the case and unit streams)."""

    unit: UUID
    label: LabelId
    donor_coi: CoiId
    patient_case: UUID
    patient_coi: CoiId


class AttemptedIds(EventData):
    """What a refused attempt named or scanned: identifiers and pseudonyms only."""

    coi: CoiId | None = None
    unit: UUID | None = None
    label: LabelId | None = None
    patient_ref: PatientRef | None = None
    case: UUID | None = None


class OperationRefused(EventData):
    code: Code
    step: Identifier
    detail: Text
    attempted: AttemptedIds = AttemptedIds()


class FieldChange(EventData):
    field: Identifier
    old: JsonValue = None
    new: JsonValue = None


class EventCorrected(EventData):
    """Names the corrected event, why, and each field's old and new value; never edits it."""

    corrected_event_id: UUID
    corrected_type: Identifier
    reason: Reason
    changes: Annotated[list[FieldChange], Field(min_length=1, max_length=50)]


class CorrectionApproved(EventData):
    """QA approves a pending correction of GMP-critical facts (``EventSpec.critical``): from now
    on it takes effect. E-signed ``approved`` by someone other than the corrector; it repeats
    what it approves, so the signature covers the changes themselves."""

    correction_event_id: UUID
    corrected_event_id: UUID
    corrected_type: Identifier
    changes: Annotated[list[FieldChange], Field(min_length=1, max_length=50)]
    comment: Reason | None = None


class CorrectionRejected(EventData):
    """QA rejects a pending correction: it never takes effect. E-signed ``reviewed``."""

    correction_event_id: UUID
    corrected_event_id: UUID
    corrected_type: Identifier
    reason: Reason
class RecordedEvent(EventData):
    type: Identifier
    stream: UUID


class Backfilled(EventData):
    """The events just before it, in the same transaction, were recorded well after they happened
    (``occurred_at`` beyond ``LEDGER_BACKFILL_HOURS``): by a permitted actor, with a reason."""

    reason: Reason
    occurred_at: UtcTime
    events: Annotated[list[RecordedEvent], Field(min_length=1, max_length=1000)]


class AuditTrailReviewed(EventData):
    """QA reviewed the case's audit trail up to a global log position (EU GMP Annex 11 §9,
    21 CFR 11.10(e)); e-signed with meaning ``reviewed``."""

    coi: CoiId
    case: UUID
    through_position: Position
    comment: Reason | None = None


CASE_EVENTS: dict[str, type[EventData]] = {
    m.__name__: m
    for m in (CaseEnrolled, DonorRegistered, CaseOnHold, CaseResumed, CaseCancelled,
              ProductAllocated, OperationRefused, EventCorrected, CorrectionApproved, CorrectionRejected,
              Backfilled, AuditTrailReviewed)
}

CASE_SPECS: tuple[EventSpec[Any], ...] = (
    EventSpec(CaseEnrolled, ("operator", "clinician", "integrator"),
              lambda d: f"case {d.coi} enrolled ({d.kind}, {d.product}, treating site {d.treating_site})",
              OBSERVE, sites=lambda d: given(d.treating_site, d.collection_site), critical="all",
              signature=Signature.optional("authored")),
    EventSpec(DonorRegistered, ("operator", "integrator"),
              lambda d: f"donor case {d.coi} registered ({d.product})", OBSERVE,
              sites=lambda d: given(d.collection_site), critical="all", signature=Signature.optional("authored")),
    EventSpec(CaseOnHold, ("qa", "clinician", "operator"), lambda d: "case put on hold", OBSERVE,
              signature=Signature.optional("authored", "approved")),
    EventSpec(CaseResumed, ("qa", "clinician", "operator"), lambda d: "case resumed", OBSERVE,
              signature=Signature.optional("authored", "approved")),
    EventSpec(CaseCancelled, ("qa", "clinician"), lambda d: "case cancelled", OBSERVE,
              signature=Signature.optional("authored", "approved")),
    EventSpec(ProductAllocated, ("operator", "qa", "integrator"),
              lambda d: f"unit {d.label} of donor {d.donor_coi} allocated to {d.patient_coi}", OBSERVE,
              critical="all", signature=Signature.optional("authored", "approved")),
    EventSpec(OperationRefused, (), lambda d: f"{d.step} refused: {d.code}", OBSERVE, correctable=False,
              signature=UNSIGNED),
    EventSpec(EventCorrected, ("qa", "operator", "clinician", "courier", "integrator"),
              lambda d: f"{d.corrected_type} {d.corrected_event_id} corrected: "
                        + "; ".join(f"{c.field}: {c.old!r} -> {c.new!r}" for c in d.changes), OBSERVE,
              correctable=False, signature=Signature.optional("authored")),
    EventSpec(Backfilled, (),
              lambda d: f"the {len(d.events)} event(s) before were recorded late (backfill), having occurred "
                        f"at {format_utc(d.occurred_at)}: {d.reason}",
              NotExported("the ledger's own record of a late recording, not a supply-chain event"),
              correctable=False, signature=UNSIGNED),
    EventSpec(AuditTrailReviewed, ("qa",),
              lambda d: f"audit trail reviewed through position {d.through_position}"
                        + (f": {d.comment}" if d.comment else ""),
              NotExported("a review of the ledger's own record, not a supply-chain event"),
              critical=("coi", "case", "through_position"), signature=Signature.required("reviewed")),
    EventSpec(CorrectionApproved, ("qa",),
              lambda d: f"correction {d.correction_event_id} of {d.corrected_type} {d.corrected_event_id} approved: "
                        + "; ".join(f"{c.field}: {c.old!r} -> {c.new!r}" for c in d.changes),
              NotExported("a review of the ledger's own record, not a supply-chain event"),
              correctable=False, signature=Signature.required("approved")),
    EventSpec(CorrectionRejected, ("qa",),
              lambda d: f"correction {d.correction_event_id} of {d.corrected_type} {d.corrected_event_id} "
                        f"rejected: {d.reason}",
              NotExported("a review of the ledger's own record, not a supply-chain event"),
              correctable=False, signature=Signature.required("reviewed")),
)
