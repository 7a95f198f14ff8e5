from __future__ import annotations

import json
from uuid import uuid4

import pytest

from ledger.domain.base import RecordedRefusal
from ledger.domain.case import (
    CaseState,
    decide_allocate,
    decide_cancel,
    decide_enrol,
    decide_hold,
    decide_register_donor,
    decide_resume,
)
from ledger.domain.identifiers import patient_pseudonym
from ledger.domain.manufacturing import decide_quarantine
from ledger.errors import RuleViolation

from .conftest import MRN, SECRET, Ledger


def refused(led: Ledger, decide, *args, **kwargs) -> str:
    with pytest.raises(RuleViolation) as err:
        led.run(decide, *args, **kwargs)
    return err.value.code


def test_enrolment_keeps_only_the_pseudonym(ledger: Ledger) -> None:
    case_id = uuid4()
    (event,) = decide_enrol(CaseState(), case_id=case_id, kind="autologous", product="cel-T",
                            treating_site="HOSP-1", site_secret=SECRET, mrn=MRN, actor="c",
                            now=ledger.now)
    assert event.stream == case_id and event.type == "CaseEnrolled"
    assert event.data["patient_ref"] == patient_pseudonym(SECRET, MRN)
    assert MRN not in json.dumps(event.data)
    assert set(event.data) == {"coi", "kind", "product", "treating_site", "patient_ref",
                               "collection_site", "protocol"}


def test_case_lifecycle(ledger: Ledger) -> None:
    led = ledger
    case = led.enrol()
    assert led.case(case).status == "active" and led.case(case).version == 1
    assert refused(led, decide_enrol, led.case(case), case_id=case, kind="autologous",
                   product="p", treating_site="H", site_secret=SECRET, mrn=MRN,
                   actor="c") == "CASE_EXISTS"
    assert refused(led, decide_resume, led.case(case), "why", actor="c") == "CASE_NOT_ON_HOLD"
    assert refused(led, decide_hold, led.case(case), "", actor="c") == "REASON_REQUIRED"
    led.run(decide_hold, led.case(case), "patient infection", actor="c")
    assert refused(led, decide_hold, led.case(case), "again", actor="c") == "CASE_ON_HOLD"
    with pytest.raises(RuleViolation) as err:
        led.label(case, "sample")
    assert err.value.code == "CASE_ON_HOLD"
    led.run(decide_resume, led.case(case), "cleared", actor="c")
    led.label(case, "sample")
    led.run(decide_cancel, led.case(case), "withdrew consent", actor="c")
    assert refused(led, decide_cancel, led.case(case), "again", actor="c") == "CASE_CANCELLED"
    assert refused(led, decide_hold, CaseState(), "x", actor="c") == "CASE_NOT_FOUND"


def test_explicit_coi_is_validated(ledger: Ledger) -> None:
    from ledger.errors import InvalidEvent

    with pytest.raises(InvalidEvent) as err:
        decide_enrol(CaseState(), case_id=uuid4(), kind="autologous", product="p",
                     treating_site="H", site_secret=SECRET, mrn=MRN, coi="COI-ABCD-2345-0",
                     actor="c", now=ledger.now)
    assert err.value.code == "INVALID_COI"


@pytest.fixture
def allo(ledger: Ledger):
    led = ledger
    donor = uuid4()
    led.run(decide_register_donor, CaseState(), case_id=donor, product="allo-T",
            collection_site="DC", site_secret=SECRET, donor_id="D-1", rng=led.rng, actor="c")
    dose = led.label(donor, "final_product_bag")
    patient = led.enrol("allogeneic", "MRN-P")
    return led, donor, dose, patient


def test_allocation_rules(allo) -> None:
    led, donor, dose, patient = allo
    auto = led.enrol("autologous", "MRN-Q")
    sample = led.label(donor, "sample")
    other_donor = uuid4()
    led.run(decide_register_donor, CaseState(), case_id=other_donor, product="allo-T",
            collection_site="DC", site_secret=SECRET, donor_id="D-2", rng=led.rng, actor="c")

    def code(p, d, u):
        return refused(led, decide_allocate, led.case(p), led.case(d), led.unit(u), actor="ph")

    assert code(auto, donor, dose) == "NOT_ALLOGENEIC"
    assert code(patient, patient, dose) == "NOT_A_DONOR_CASE"
    assert code(patient, donor, sample) == "NOT_ALLOCATABLE"
    assert code(patient, other_donor, dose) == "COI_MISMATCH"
    assert led.types(patient)[-1] == "OperationRefused"
    led.run(decide_quarantine, led.unit(dose), "label smudged", actor="qa")
    assert code(patient, donor, dose) == "UNIT_QUARANTINED"


def test_allocation_lands_on_both_streams(allo) -> None:
    led, donor, dose, patient = allo
    events = led.run(decide_allocate, led.case(patient), led.case(donor), led.unit(dose),
                     actor="ph")
    assert {e["stream"] for e in events} == {str(patient), str(dose)}
    assert led.case(patient).allocated_units == (dose,)
    assert led.unit(dose).allocated_to == patient
    second = led.enrol("allogeneic", "MRN-R")
    with pytest.raises(RuleViolation) as err:
        decide_allocate(led.case(second), led.case(donor), led.unit(dose), actor="ph",
                        now=led.now)
    assert err.value.code == "ALREADY_ALLOCATED" and not isinstance(err.value, RecordedRefusal)
