"""Bedside infusion: the last COI check, needle side.

The wristband's pseudonym must be the case's patient, the COI printed on the bag must be
the unit's, and the unit must belong to the case (its COI for autologous therapy, an
allocation for allogeneic). Any mismatch is recorded on the case stream before the
refusal is answered. Then the unit must be released and usable, and the clinician signs.
"""

from __future__ import annotations

from datetime import datetime

from .base import NewEvent, new_event, refusal, require_aware
from .case import CaseState, recorded_refusal, require_case
from .esign import Manifestation, require_esign
from .events_quality import ProductInfused
from .identifiers import is_pseudonym, validate_coi
from .labelling import belongs_to
from .unit import UnitState, require_not_packed, require_settled, require_unit, require_usable
from .users import UserState
from .witness import NO_WITNESS, WitnessPolicy


def decide_infuse(case: CaseState, unit: UnitState, *, wristband_patient_ref: str, bag_coi: str,
                  esign: Manifestation | None, signer: UserState | None,
                  infused_at: datetime | None = None, witness: WitnessPolicy = NO_WITNESS,
                  actor: str, now: datetime) -> list[NewEvent]:
    """Record the infusion of ``unit`` into ``case``'s patient (on the unit's stream).

    ``wristband_patient_ref``: pseudonym computed by the service from the wristband's MRN
    with the treating site's secret (``patient_pseudonym``); ``bag_coi``: the COI read
    from the bag's label. When ``witness`` names infusion, the record says by when a second
    person must witness the bedside check (``witness_due``).
    """
    require_aware(now)
    require_case(case)
    require_unit(unit)
    bag = validate_coi(bag_coi)
    scanned_ref = wristband_patient_ref if is_pseudonym(wristband_patient_ref) else None

    def mismatch(detail: str) -> Exception:
        return recorded_refusal(case, "COI_MISMATCH", ProductInfused.__name__, detail, coi=bag,
                                unit=unit.stream, label=unit.label, patient_ref=scanned_ref)

    if case.role != "patient":
        raise mismatch(f"case {case.coi} is a donor case")
    if wristband_patient_ref != case.patient_ref:
        raise mismatch(f"the wristband is not the patient of case {case.coi}")
    if bag != unit.coi:
        raise mismatch(f"the bag's label reads {bag}, the unit {unit.label} carries {unit.coi}")
    if not belongs_to(unit, case):
        raise mismatch(f"unit {unit.label} ({unit.coi}) is not for case {case.coi}")
    require_usable(unit)
    if unit.quarantined:
        raise refusal("UNIT_QUARANTINED", f"{unit.label} is quarantined")
    if not unit.released:
        raise refusal("INFUSION_BEFORE_RELEASE", f"{unit.label} has not been released by QA")
    if unit.expired(now):
        raise refusal("UNIT_EXPIRED", f"{unit.label} expired at {unit.expiry_text}")
    require_not_packed(unit)
    require_settled(unit)
    require_esign(ProductInfused.__name__, esign, signer, actor=actor)
    return [new_event(unit.stream, ProductInfused, case=case.stream,  # type: ignore[arg-type]
                      coi=case.coi, patient_ref=case.patient_ref, label=unit.label,
                      bag_coi=bag, infused_at=infused_at, witness_due=witness.due("infusion", now))]
