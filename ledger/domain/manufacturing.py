"""Manufacturing and quality: derivation (splits, pools), QC, QA release, quarantine, disposal.

Release looks at the unit's whole known lineage: the service passes the states of all its
ancestors (parents, their parents ...). Excursions and QC results recorded on any of them
count: an unassessed excursion anywhere blocks release, and the latest result of each QC
test across the lineage must pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from ..errors import InvalidEvent
from ..streams import unit_stream
from .base import NewEvent, new_event, refusal, require_aware, require_reason
from .case import CaseState, recorded_refusal, require_case
from .esign import Manifestation, require_esign
from .events_quality import (
    ProductReleased,
    QCResultRecorded,
    UnitDisposed,
    UnitQuarantined,
    UnitReleasedFromQuarantine,
    UnitsDerived,
)
from .events_unit import COLLECTABLE_KINDS, RELEASABLE_KINDS, UnitLabelled, UnitSpec
from .identifiers import issue_unit_label, validate_unit_label
from .product_spec import SpecVersion, judge_qc, require_within_spec
from .release import ReleaseReview, require_review
from .unit import (
    UnitState,
    require_custodian,
    require_not_packed,
    require_settled,
    require_unit,
    require_usable,
)
from .users import UserState


@dataclass(frozen=True)
class DerivedOutput:
    """A unit made by manufacturing; labelled with the inputs as parents."""

    unit_id: UUID
    kind: str
    label: str
    spec: UnitSpec | Mapping[str, Any] | None = None
    identifiers: Mapping[str, str] = field(default_factory=dict)
    product: str | None = None
    volume_ml: float | None = None


def labelled_outputs(outputs: Sequence[Mapping[str, Any]], labels: Sequence[str] | None) -> list[DerivedOutput]:
    """Each output {kind, spec?, identifiers?, product?, volume_ml?} with its label (issued here
    unless planned) and the unit id that follows from it."""
    labels = list(labels) if labels is not None else [issue_unit_label() for _ in outputs]
    if len(labels) != len(outputs):
        raise ValueError("one planned label per output")
    return [DerivedOutput(unit_id=unit_stream(label), label=label, **spec)
            for label, spec in zip(labels, outputs, strict=True)]


def require_same_coi(case: CaseState, inputs: Sequence[UnitState], *, step: str) -> None:
    """Material of another COI is never mixed in: refused and recorded on every case involved."""
    strangers = [u for u in inputs if u.coi != case.coi]
    if strangers:
        cases = [case.stream, *(u.case for u in strangers)]
        raise recorded_refusal(cases, "COI_MISMATCH", step,  # type: ignore[arg-type]
                               f"{strangers[0].label} carries {strangers[0].coi}, not {case.coi}",
                               coi=strangers[0].coi, unit=strangers[0].stream, label=strangers[0].label)


def require_inputs(inputs: Sequence[UnitState], *, actor: str, now: datetime) -> None:
    """Material a manufacturing step may consume at ``now`` (within expiry, held by ``actor``)."""
    for unit in inputs:
        require_usable(unit)
        if unit.quarantined:
            raise refusal("UNIT_QUARANTINED", f"{unit.label} is quarantined")
        if unit.expired(now):
            raise refusal("UNIT_EXPIRED", f"{unit.label} expired at {unit.expiry_text}")
        if unit.kind in COLLECTABLE_KINDS and not unit.collected:
            raise refusal("NOT_COLLECTED", f"{unit.label} holds no collected material")
        if any(x.decision == "discard" for x in unit.excursions):
            raise refusal("EXCURSION_REJECTED", f"{unit.label}: an excursion was assessed discard")
        require_not_packed(unit)
        require_custodian(unit, actor)
        require_settled(unit)


def decide_derive(case: CaseState, inputs: Sequence[UnitState], outputs: Sequence[DerivedOutput],
                  *, process: str, batch: str | None = None, consumed: bool = True,
                  actor: str, now: datetime) -> list[NewEvent]:
    """Inputs -> outputs (a split has one input, a pool several; all of ``case``'s COI).

    Appends ``UnitsDerived`` on each input stream and ``UnitLabelled`` on each output stream.
    Mixing material of another COI is refused and recorded on every case involved.
    """
    require_aware(now)
    require_case(case)
    if not inputs or not outputs:
        raise InvalidEvent("a derivation needs inputs and outputs", code="INVALID_DATA")
    require_same_coi(case, inputs, step=UnitsDerived.__name__)
    require_inputs(inputs, actor=actor, now=now)
    labels = [validate_unit_label(o.label) for o in outputs]
    out_ids = [o.unit_id for o in outputs]
    in_ids = [u.stream for u in inputs]
    if len(set(labels)) != len(labels) or len(set(out_ids) | set(in_ids)) != len(out_ids) + len(
            in_ids):
        raise InvalidEvent("outputs must be new units with distinct labels", code="INVALID_DATA")
    derived = [new_event(u, UnitsDerived, inputs=in_ids, outputs=out_ids, process=process,
                         batch=batch, consumed=consumed) for u in in_ids]
    labelled = [new_event(o.unit_id, UnitLabelled, kind=o.kind, coi=case.coi, case=case.stream,
                          label=label, custodian=actor, identifiers=dict(o.identifiers),
                          parents=in_ids, spec=o.spec if o.spec is not None else UnitSpec(),
                          product=o.product, volume_ml=o.volume_ml)
                for o, label in zip(outputs, labels, strict=True)]
    return derived + labelled  # type: ignore[arg-type]


def decide_record_qc(unit: UnitState, *, test: str, result: str, value: Any = None,
                     uom: str | None = None, method: str | None = None,
                     sample: UnitState | None = None, actor: str,
                     now: datetime, spec: SpecVersion | None = None) -> list[NewEvent]:
    """Record a QC result on ``unit`` (the lot or product it stands for); a ``sample`` of
    another COI is refused and recorded. The value is judged against ``spec``, the
    specification version pinned to the unit's lot (``product_spec.judge_qc``)."""
    require_aware(now)
    require_unit(unit)
    if unit.disposed:
        raise refusal("UNIT_DISPOSED", f"{unit.label} has been disposed of")
    if sample is not None and sample.coi != unit.coi:
        raise recorded_refusal([unit.case, sample.case], "COI_MISMATCH",  # type: ignore[list-item]
                               QCResultRecorded.__name__,
                               f"sample {sample.label} carries {sample.coi}, not {unit.coi}",
                               coi=sample.coi, unit=sample.stream, label=sample.label)
    judged = judge_qc(spec, test=test, value=value, uom=uom)
    return [new_event(unit.stream, QCResultRecorded, test=test, result=result,  # type: ignore[arg-type]
                      value=value, uom=judged.uom, method=method,
                      sample=sample.stream if sample else None, spec_version=judged.spec_version,
                      within_limits=judged.within_limits)]


def lineage(unit: UnitState, ancestors: Iterable[UnitState]) -> list[UnitState]:
    """``unit`` and all its ancestors; every parent must be among ``ancestors``."""
    known = {a.stream: a for a in ancestors}
    seen: dict[UUID | None, UnitState] = {unit.stream: unit}
    todo = list(unit.parents)
    while todo:
        parent = todo.pop()
        if parent in seen:
            continue
        if parent not in known:
            raise ValueError(f"the state of ancestor unit {parent} is needed")
        seen[parent] = known[parent]
        todo.extend(known[parent].parents)
    return list(seen.values())


def decide_release(unit: UnitState, *, case: CaseState, ancestors: Iterable[UnitState] = (),
                   review: ReleaseReview, notes: str | None = None, esign: Manifestation | None,
                   signer: UserState | None, actor: str, now: datetime,
                   spec: SpecVersion | None = None) -> list[NewEvent]:
    """QA release of a final product (``released`` e-signature by a qa user); ``spec``: the
    specification version pinned to its lot (its required tests count, its limits hold). After the
    product's own checks, only with a current review sign-off of its family's exceptions
    (``release.require_review``: EXCEPTION_OPEN, PRODUCT_IMPACT, REVIEW_REQUIRED, REVIEW_OUTDATED)."""
    require_aware(now)
    require_usable(unit)
    if case.stream != unit.case:
        raise ValueError("pass the case the unit was labelled under")
    require_case(case)
    if unit.kind not in RELEASABLE_KINDS:
        raise refusal("NOT_RELEASABLE", f"a {unit.kind} is not released")
    if unit.released:
        raise refusal("ALREADY_RELEASED", f"{unit.label} is already released")
    if unit.quarantined:
        raise refusal("UNIT_QUARANTINED", f"{unit.label} is quarantined")
    if unit.expired(now):
        raise refusal("UNIT_EXPIRED", f"{unit.label} expired at {unit.expiry_text}")
    family = lineage(unit, ancestors)
    excursions = [(u, x) for u in family for x in u.excursions]
    for u, x in excursions:
        if x.decision is None:
            raise refusal("EXCURSION_UNASSESSED",
                          f"excursion {x.id} on {u.label} ({x.start}) awaits assessment")
        if x.decision == "discard":
            raise refusal("EXCURSION_REJECTED", f"excursion {x.id} on {u.label}: discard")
    latest: dict[str, Any] = {}
    for result in sorted((r for u in family for r in u.qc), key=lambda r: r.at):
        latest[result.test] = result
    failed = sorted(t for t, r in latest.items() if r.result != "pass")
    if failed:
        raise refusal("QC_FAILED", f"{unit.label}: QC failed: {', '.join(failed)}")
    required = set(unit.spec.qc_required) | (spec.required_tests if spec else set())
    missing = sorted(required - set(latest))
    if missing or not latest:
        raise refusal("QC_MISSING", f"{unit.label}: QC missing: {', '.join(missing) or 'any'}")
    require_within_spec(spec, family, unit.label)  # SPEC_OUT_OF_LIMITS
    require_review(review, label=unit.label)
    require_esign(ProductReleased.__name__, esign, signer, actor=actor)
    return [new_event(unit.stream, ProductReleased, coi=unit.coi,  # type: ignore[arg-type]
                      label=unit.label, qc_tests=sorted(latest),
                      excursions=[x.id for _, x in excursions], notes=notes)]


def decide_quarantine(unit: UnitState, reason: str, *, actor: str,
                      now: datetime) -> list[NewEvent]:
    require_aware(now)
    require_unit(unit)
    if unit.disposed:
        raise refusal("UNIT_DISPOSED", f"{unit.label} has been disposed of")
    if unit.quarantined:
        raise refusal("ALREADY_QUARANTINED", f"{unit.label} is already quarantined")
    require_reason(reason, "a quarantine")
    return [new_event(unit.stream, UnitQuarantined, reason=reason)]  # type: ignore[arg-type]


def decide_release_from_quarantine(unit: UnitState, reason: str, *, actor: str,
                                   now: datetime) -> list[NewEvent]:
    require_aware(now)
    require_unit(unit)
    if unit.disposed:
        raise refusal("UNIT_DISPOSED", f"{unit.label} has been disposed of")
    if not unit.quarantined:
        raise refusal("NOT_QUARANTINED", f"{unit.label} is not quarantined")
    require_reason(reason, "a release from quarantine")
    return [new_event(unit.stream, UnitReleasedFromQuarantine,  # type: ignore[arg-type]
                      reason=reason)]


def decide_dispose(unit: UnitState, reason: str, *, method: str | None = None, actor: str,
                   now: datetime) -> list[NewEvent]:
    """Final: nothing but scans and corrections is accepted on a disposed unit."""
    require_aware(now)
    require_unit(unit)
    if unit.disposed:
        raise refusal("UNIT_DISPOSED", f"{unit.label} has already been disposed of")
    require_not_packed(unit)
    if unit.contents:
        raise refusal("CONTAINER_NOT_EMPTY", f"{unit.label} still holds {len(unit.contents)}")
    require_settled(unit)
    require_reason(reason, "a disposal")
    return [new_event(unit.stream, UnitDisposed, reason=reason,  # type: ignore[arg-type]
                      method=method)]
