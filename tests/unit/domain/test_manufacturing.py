from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from ledger.domain.case import decide_hold
from ledger.domain.conditions import decide_assess_excursion, decide_record_temperatures
from ledger.domain.custody import decide_handover
from ledger.domain.identifiers import issue_unit_label, patient_pseudonym
from ledger.domain.labelling import decide_collect
from ledger.domain.manufacturing import (
    DerivedOutput,
    decide_derive,
    decide_dispose,
    decide_quarantine,
    decide_record_qc,
    decide_release,
    decide_release_from_quarantine,
)
from ledger.errors import InvalidEvent, RuleViolation

from .conftest import MRN, OTHER_MRN, SECRET, Ledger

SPEC = {"min_celsius": -196, "max_celsius": -150, "qc_required": ["sterility", "viability"]}


def collected_bag(led: Ledger, case, mrn=MRN):
    bag = led.label(case, "apheresis_bag", spec={"min_celsius": 2, "max_celsius": 8}, actor="op")
    led.run(decide_collect, led.case(case), led.unit(bag), patient_ref=patient_pseudonym(
        SECRET, mrn), material="leukapheresis", collection_site="H", actor="nurse")
    return bag


def derive(led: Ledger, case, inputs, n=1, kind="final_product_bag", spec=SPEC, **kw):
    outs = [uuid4() for _ in range(n)]
    led.run(decide_derive, led.case(case), [led.unit(i) for i in inputs],
            [DerivedOutput(o, kind, issue_unit_label(led.rng), spec=spec) for o in outs],
            process="manufacture", actor=kw.pop("actor", "op"), **kw)
    return outs


def code_of(led: Ledger, decide, *args, **kwargs) -> str:
    with pytest.raises(RuleViolation) as err:
        led.run(decide, *args, **kwargs)
    return err.value.code


def test_derivation_rules(ledger: Ledger) -> None:
    led = ledger
    case, other = led.enrol(), led.enrol(mrn=OTHER_MRN)
    bag, foreign = collected_bag(led, case), collected_bag(led, other, OTHER_MRN)
    empty = led.label(case, "apheresis_bag", actor="op")

    def refused(inputs, **kw) -> str:
        with pytest.raises(RuleViolation) as err:
            derive(led, case, inputs, **kw)
        return err.value.code

    assert refused([bag, foreign]) == "COI_MISMATCH"  # pooling two patients: recorded on both
    assert led.types(case)[-1] == led.types(other)[-1] == "OperationRefused"
    assert refused([empty]) == "NOT_COLLECTED"
    assert refused([bag], actor="someone") == "NOT_CUSTODIAN"
    led.run(decide_quarantine, led.unit(bag), "check label", actor="qa")
    assert refused([bag]) == "UNIT_QUARANTINED"
    led.run(decide_release_from_quarantine, led.unit(bag), "label fine", actor="qa")
    with pytest.raises(InvalidEvent):
        derive(led, case, [bag], n=0)
    outs = derive(led, case, [bag], n=2, batch="B1")
    assert {led.unit(o).parents for o in outs} == {(bag,)} and led.unit(bag).consumed
    assert led.unit(bag).derived_into == tuple(outs)
    assert refused([bag]) == "UNIT_CONSUMED"
    sample_source = collected_bag(led, case)
    derive(led, case, [sample_source], kind="sample", spec=None, consumed=False)
    assert not led.unit(sample_source).consumed
    led.run(decide_handover, led.unit(sample_source), "kim", actor="op")
    assert refused([sample_source]) == "TRANSFER_PENDING"


def test_derivation_refuses_expired_or_rejected_material(staffed: Ledger) -> None:
    led = staffed
    case = led.enrol()
    bag = collected_bag(led, case)
    led.tick(hours=1)
    led.run(decide_record_temperatures, led.unit(bag), logger="L", readings=[
        {"t": led.now - timedelta(minutes=3 - i), "celsius": c} for i, c in enumerate([5, 30, 5])
    ], actor="op")
    (x,) = led.unit(bag).excursions
    derive(led, case, [collected_bag(led, case)])  # unassessed excursions do not stop manufacturing
    led.run(decide_assess_excursion, led.unit(bag), x.id, "discard", "30 °C: not viable",
            esign=led.sign("qa.quinn", "assessed"), signer=led.user("qa.quinn"),
            actor="qa.quinn")
    with pytest.raises(RuleViolation) as err:
        derive(led, case, [bag])
    assert err.value.code == "EXCURSION_REJECTED"
    short = led.label(case, "apheresis_bag", spec={"expiry": led.now + timedelta(hours=1)},
                      actor="op")
    led.run(decide_collect, led.case(case), led.unit(short),
            patient_ref=patient_pseudonym(SECRET, MRN), material="x", collection_site="H",
            actor="n")
    led.tick(hours=2)
    with pytest.raises(RuleViolation) as err:
        derive(led, case, [short])
    assert err.value.code == "UNIT_EXPIRED"


@pytest.fixture
def lot(staffed: Ledger):
    led = staffed
    case = led.enrol()
    bag = collected_bag(led, case)
    (dose,) = derive(led, case, [bag])
    return led, case, bag, dose


def release(led: Ledger, case, bag, dose, signer="qa.quinn", meaning="released"):
    return led.run(decide_release, led.unit(dose), case=led.case(case), ancestors=[led.unit(bag)],
                   review=led.signed_review(dose), esign=led.sign(signer, meaning) if meaning else None,
                   signer=led.user(signer),
                   actor=signer)


def refused_release(*args, **kwargs) -> str:
    with pytest.raises(RuleViolation) as err:
        release(*args, **kwargs)
    return err.value.code


def qc(led: Ledger, unit, test, result):
    led.run(decide_record_qc, led.unit(unit), test=test, result=result, actor="lab")


def test_release_needs_passing_qc(lot) -> None:
    led, case, bag, dose = lot
    assert refused_release(led, case, bag, dose) == "QC_MISSING"
    qc(led, dose, "sterility", "pass")
    assert refused_release(led, case, bag, dose) == "QC_MISSING"
    qc(led, dose, "viability", "fail")
    assert refused_release(led, case, bag, dose) == "QC_FAILED"
    led.tick(minutes=5)
    qc(led, dose, "viability", "pass")  # the latest result of each test counts
    qc(led, bag, "endotoxin", "fail")  # ... across the whole lineage
    assert refused_release(led, case, bag, dose) == "QC_FAILED"
    led.tick(minutes=5)
    qc(led, bag, "endotoxin", "pass")
    with pytest.raises(ValueError):  # the service must pass every ancestor
        decide_release(led.unit(dose), case=led.case(case), ancestors=[], review=led.review(dose), esign=None,
                       signer=None, actor="qa.quinn", now=led.now)
    # a passing retest clears a failed result, but it stays open until QA dispositions it
    assert refused_release(led, case, bag, dose) == "EXCEPTION_OPEN"
    led.disposition(dose, "qc_failed")
    assert refused_release(led, case, bag, dose, meaning=None) == "ESIGNATURE_REQUIRED"
    assert refused_release(led, case, bag, dose, signer="courier.kim") == "SIGNER_NOT_AUTHORISED"
    (event,) = release(led, case, bag, dose)
    assert event["data"]["qc_tests"] == ["endotoxin", "sterility", "viability"]
    assert refused_release(led, case, bag, dose) == "ALREADY_RELEASED"


def test_a_product_without_required_tests_needs_some_qc(staffed: Ledger) -> None:
    led = staffed
    case = led.enrol()
    bag = collected_bag(led, case)
    (dose,) = derive(led, case, [bag], spec={})
    assert refused_release(led, case, bag, dose) == "QC_MISSING"
    qc(led, bag, "sterility", "pass")
    release(led, case, bag, dose)


def test_release_state_refusals(lot) -> None:
    led, case, bag, dose = lot
    for test in ("sterility", "viability"):
        qc(led, dose, test, "pass")
    assert refused_release(led, case, bag, bag) == "UNIT_CONSUMED"
    sample = derive(led, case, [dose], kind="sample", spec=None, consumed=False)[0]
    with pytest.raises(RuleViolation) as err:
        led.run(decide_release, led.unit(sample), case=led.case(case),
                ancestors=[led.unit(bag), led.unit(dose)], review=led.review(sample), esign=None, signer=None,
                actor="q")
    assert err.value.code == "NOT_RELEASABLE"
    led.run(decide_quarantine, led.unit(dose), "deviation DEV-12", actor="qa")
    assert code_of(led, decide_quarantine, led.unit(dose), "x", actor="qa") == "ALREADY_QUARANTINED"
    assert refused_release(led, case, bag, dose) == "UNIT_QUARANTINED"
    led.run(decide_release_from_quarantine, led.unit(dose), "closed", actor="qa")
    assert code_of(led, decide_release_from_quarantine, led.unit(dose), "x",
                   actor="qa") == "NOT_QUARANTINED"
    led.run(decide_hold, led.case(case), "insurance", actor="c")
    assert refused_release(led, case, bag, dose) == "CASE_ON_HOLD"


def test_release_refuses_expired_and_disposed(staffed: Ledger) -> None:
    led = staffed
    case = led.enrol()
    bag = collected_bag(led, case)
    short, gone = derive(led, case, [bag], n=2, spec={
        "expiry": led.now + timedelta(days=1)})
    qc(led, bag, "sterility", "pass")
    led.run(decide_dispose, led.unit(gone), "bag leaked", actor="op")
    assert refused_release(led, case, bag, gone) == "UNIT_DISPOSED"
    led.tick(days=2)
    assert refused_release(led, case, bag, short) == "UNIT_EXPIRED"


def test_release_waits_for_every_excursion_in_the_lineage(lot) -> None:
    led, case, bag, dose = lot
    for test in ("sterility", "viability"):
        qc(led, dose, test, "pass")
    led.tick(hours=1)
    led.run(decide_record_temperatures, led.unit(bag), logger="L", readings=[
        {"t": led.now - timedelta(minutes=3 - i), "celsius": c} for i, c in enumerate([5, 9, 5])
    ], actor="op")
    (x,) = led.unit(bag).excursions
    assert refused_release(led, case, bag, dose) == "EXCURSION_UNASSESSED"
    led.run(decide_assess_excursion, led.unit(bag), x.id, "discard", "too warm",
            esign=led.sign("qa.quinn", "assessed"), signer=led.user("qa.quinn"),
            actor="qa.quinn")
    assert refused_release(led, case, bag, dose) == "EXCURSION_REJECTED"


def test_qc_with_a_sample_of_another_patient_is_recorded(lot) -> None:
    led, case, bag, dose = lot
    other = led.enrol(mrn=OTHER_MRN)
    foreign = collected_bag(led, other, OTHER_MRN)
    with pytest.raises(RuleViolation) as err:
        led.run(decide_record_qc, led.unit(dose), test="sterility", result="pass",
                sample=led.unit(foreign), actor="lab")
    assert err.value.code == "COI_MISMATCH"
    assert led.types(case)[-1] == led.types(other)[-1] == "OperationRefused"
    led.run(decide_dispose, led.unit(dose), "dropped", actor="op")
    assert code_of(led, decide_record_qc, led.unit(dose), test="t", result="pass",
                   actor="lab") == "UNIT_DISPOSED"
