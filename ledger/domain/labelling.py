"""Unit commands at the start of the chain: labelling, collection, scan-to-verify.

Collection and labelling under a case are COI-critical: a wristband or parent unit that
does not belong to the case is refused and the attempt recorded on the case stream.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from .base import NewEvent, new_event, refusal, require_aware
from .case import CaseState, recorded_refusal, require_case
from .events_unit import (
    COLLECTABLE_KINDS,
    RELEASABLE_KINDS,
    MaterialCollected,
    UnitLabelled,
    UnitScanned,
    UnitSpec,
)
from .identifiers import is_pseudonym, validate_coi, validate_unit_label
from .unit import UnitState, require_usable
from .witness import NO_WITNESS, WitnessPolicy


def decide_label_unit(case: CaseState, *, unit_id: UUID, kind: str, label: str,
                      spec: UnitSpec | Mapping[str, Any] | None = None,
                      identifiers: Mapping[str, str] | None = None,
                      parents: Sequence[UnitState] = (), custodian: str | None = None,
                      product: str | None = None, volume_ml: float | None = None,
                      witness: WitnessPolicy = NO_WITNESS, actor: str, now: datetime) -> list[NewEvent]:
    """Label a new unit under ``case`` (``unit_id`` must be a new stream: the service appends
    at version 0). ``label`` comes from ``issue_unit_label()``; the label's uniqueness across
    units is the service's unique index. Custody starts with ``custodian`` (default: actor).
    When ``witness`` names labelling, the label records when its second person is due."""
    require_aware(now)
    require_case(case)
    label = validate_unit_label(label)
    for parent in parents:
        require_usable(parent)
        if parent.coi != case.coi:
            raise recorded_refusal(case, "COI_MISMATCH", UnitLabelled.__name__,
                                   f"parent {parent.label} carries {parent.coi}, not {case.coi}",
                                   coi=parent.coi, unit=parent.stream, label=parent.label)
    return [new_event(unit_id, UnitLabelled, kind=kind, coi=case.coi, case=case.stream,
                      label=label, custodian=custodian or actor,
                      identifiers=dict(identifiers or {}), parents=[p.stream for p in parents],
                      spec=spec if spec is not None else UnitSpec(), product=product,
                      volume_ml=volume_ml, witness_due=witness.due("labelling", now))]


def decide_collect(case: CaseState, unit: UnitState, *, patient_ref: str, material: str,
                   collection_site: str, volume_ml: float | None = None,
                   started_at: datetime | None = None, ended_at: datetime | None = None,
                   actor: str, now: datetime) -> list[NewEvent]:
    """Record collection into ``unit``; ``patient_ref`` is the pseudonym of the wristband
    scanned at the chair (the donor_ref for a donor case)."""
    require_aware(now)
    require_case(case)
    require_usable(unit)
    if unit.coi != case.coi:
        raise recorded_refusal(case, "COI_MISMATCH", MaterialCollected.__name__,
                               f"unit {unit.label} carries {unit.coi}, not {case.coi}",
                               coi=unit.coi, unit=unit.stream, label=unit.label)
    if patient_ref != case.patient_ref:
        raise recorded_refusal(case, "COI_MISMATCH", MaterialCollected.__name__,
                               "the wristband scanned is not this case's patient",
                               patient_ref=patient_ref if is_pseudonym(patient_ref) else None,
                               unit=unit.stream)
    if unit.kind not in COLLECTABLE_KINDS:
        raise refusal("NOT_COLLECTABLE", f"material is not collected into a {unit.kind}")
    if unit.collected:
        raise refusal("ALREADY_COLLECTED", f"material was already collected into {unit.label}")
    return [new_event(unit.stream, MaterialCollected,  # type: ignore[arg-type]
                      material=material, collection_site=collection_site,
                      patient_ref=patient_ref, volume_ml=volume_ml, started_at=started_at,
                      ended_at=ended_at)]


def scan_verdict(unit: UnitState, purpose: str, *, now: datetime,
                 expected_case: CaseState | None = None, expected_coi: str | None = None,
                 expected_unit: UUID | None = None) -> tuple[str, str | None]:
    """``(verdict, reason)`` of scanning ``unit`` for ``purpose``.

    ``mismatch`` beats ``expired`` beats ``wrong_step``. A unit matches an expected case (or
    the expected COI of a known case) when it carries the case's COI or, for an allogeneic
    patient, is a donor dose allocated to them.
    """
    if expected_unit is not None and unit.stream != expected_unit:
        return "mismatch", f"{unit.label} is not the unit expected"
    if expected_coi is not None:
        coi = validate_coi(expected_coi)
        if expected_case is not None and expected_case.coi == coi:
            if not belongs_to(unit, expected_case):
                return "mismatch", (f"{unit.label} ({unit.coi}) is not allocated to {coi}"
                                    if _allogeneic_patient(expected_case)
                                    else f"{unit.label} carries {unit.coi}, not {coi}")
        elif unit.coi != coi:
            return "mismatch", f"{unit.label} carries {unit.coi}, not {coi}"
    if expected_case is not None and not belongs_to(unit, expected_case):
        return "mismatch", f"{unit.label} does not belong to case {expected_case.coi}"
    if unit.expired(now):
        return "expired", f"{unit.label} expired at {unit.expiry_text}"
    problem = _wrong_step(unit, purpose)
    if problem:
        return "wrong_step", problem
    return "match", None


def _allogeneic_patient(case: CaseState) -> bool:
    return case.role == "patient" and case.kind == "allogeneic"


def belongs_to(unit: UnitState, case: CaseState) -> bool:
    if _allogeneic_patient(case):
        return unit.stream in case.allocated_units and unit.allocated_to == case.stream
    return unit.coi == case.coi


def decide_scan(unit: UnitState | None, *, purpose: str, scanned: Mapping[str, Any] | None = None,
                parsed: Mapping[str, str] | None = None, case: CaseState | None = None,
                expected_coi: str | None = None, expected_unit: UUID | None = None,
                location: str | None = None, device: str | None = None,
                actor: str, now: datetime) -> list[NewEvent]:
    """Record a scan with its verdict on the unit's stream. A scan that resolves to no unit is
    recorded (verdict ``unknown``) on the expected ``case`` stream, else refused."""
    require_aware(now)
    known = unit is not None and unit.version != 0
    # An unmatched scan keeps no identifiers: what it read may be anything, e.g. an MRN.
    fields: dict[str, Any] = dict(scanned=scanned, parsed=dict(parsed or {}) if known else {}, purpose=purpose,
                                  location=location, device=device,
                                  expected={"coi": expected_coi or (case.coi if case else None),
                                            "unit": expected_unit})
    if not known:
        if case is None or case.stream is None:
            raise refusal("UNKNOWN_IDENTIFIER", "the scan matches no known unit")
        return [new_event(case.stream, UnitScanned, verdict="unknown",
                          reason="no unit has this label", **fields)]
    verdict, reason = scan_verdict(unit, purpose, now=now, expected_case=case,
                                   expected_coi=expected_coi, expected_unit=expected_unit)
    return [new_event(unit.stream, UnitScanned,  # type: ignore[arg-type]
                      verdict=verdict, reason=reason, **fields)]


def _wrong_step(unit: UnitState, purpose: str) -> str | None:
    if unit.disposed and purpose not in ("verify", "disposal"):
        return f"{unit.label} has been disposed of"
    checks: dict[str, tuple[bool, str]] = {
        "collection": (unit.kind in COLLECTABLE_KINDS and not unit.collected,
                       "not a unit awaiting collection"),
        "pack": (unit.container is None and not unit.is_container, "cannot be packed now"),
        "unpack": (unit.container is not None, "not packed"),
        "handover": (unit.container is None and unit.pending is None, "cannot be handed over"),
        "receipt": (unit.pending is not None, "no handover awaits receipt"),
        "dispatch": (unit.shipment is None and unit.container is None, "cannot be dispatched"),
        "delivery": (unit.shipment is not None, "not in transit"),
        "manufacturing": (not unit.consumed and not unit.quarantined, "not available"),
        "release": (unit.kind in RELEASABLE_KINDS and not unit.released, "not releasable"),
        "infusion": (unit.released and not unit.infused and not unit.quarantined,
                     "not released for infusion"),
    }
    ok, problem = checks.get(purpose, (True, ""))
    return None if ok else f"{unit.label}: {problem}"
